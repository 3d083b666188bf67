//! RapidPro flows brought in (`flowc import rapidpro`): an export (goflow spec 13.x/14.x) becomes one
//! `.flow` text per flow. What flowc cannot express yet is reported, one [`Unsupported`] per construct
//! with its flow and node, and written into the text as a comment, so that the rest imports.
//!
//! The first round covers messages, waits (with timeouts), splits with RapidPro's tests and categories,
//! results, contact fields, name and language, e-mail and webhooks with their Success/Failure split;
//! every node becomes a `step` named after its UUID, and exits become `goto`s.

mod assemble;
mod excellent;
mod export;
mod expression;
mod import;
mod legacy;
mod names;
mod template;
mod validate;

pub use export::{Exported, export};
pub use import::{Imported, Unsupported, import, import_with};
pub use legacy::migrate as migrate_legacy;
