//! `set @contact....`: what a flow changes of its contact.

use serde_json::Value;

use super::{Machine, value};
use crate::ast::ContactTarget;

impl Machine<'_> {
    /// Sets `target` to `v`; the field and its new value, or `None` when nothing changed (no event, as
    /// in RapidPro) or the value was refused (with a warning).
    pub(super) fn set_contact(&mut self, target: &ContactTarget, v: Value) -> Option<(String, Value)> {
        let contact = &mut self.state.contact;
        match target {
            ContactTarget::Name | ContactTarget::Language => {
                let (field, slot) = match target {
                    ContactTarget::Name => ("name", &mut contact.name),
                    _ => ("language", &mut contact.language),
                };
                let text = value::text(&v);
                if *slot == text {
                    return None;
                }
                *slot = text.clone();
                Some((field.to_string(), Value::String(text)))
            }
            ContactTarget::Timezone => {
                let name = value::text(&v).trim().to_string();
                // An empty name goes back to the server's default zone.
                if !name.is_empty()
                    && let Err(e) = crate::dates::zone(&name)
                {
                    self.warn(format!("@contact.timezone is unchanged: {e}"));
                    return None;
                }
                let contact = &mut self.state.contact;
                if contact.timezone == name {
                    return None;
                }
                contact.timezone = name.clone();
                Some(("timezone".to_string(), Value::String(name)))
            }
            ContactTarget::GroupAdd | ContactTarget::GroupRemove => {
                // Group names are compared without case; a contact is in a group once.
                let name = value::text(&v).trim().to_string();
                let at = contact.groups.iter().position(|g| g.to_lowercase() == name.to_lowercase());
                match (target, at) {
                    _ if name.is_empty() => return None,
                    (ContactTarget::GroupAdd, None) => contact.groups.push(name),
                    (ContactTarget::GroupRemove, Some(i)) => {
                        contact.groups.remove(i);
                    }
                    _ => return None,
                }
                let groups = contact.groups.iter().cloned().map(Value::String).collect();
                Some(("groups".to_string(), Value::Array(groups)))
            }
            ContactTarget::Field(key) => {
                if contact.fields.get(key) == Some(&v) || (v.is_null() && !contact.fields.contains_key(key)) {
                    return None;
                }
                if v.is_null() {
                    contact.fields.remove(key);
                } else {
                    contact.fields.insert(key.clone(), v.clone());
                }
                Some((format!("fields.{key}"), v))
            }
        }
    }
}
