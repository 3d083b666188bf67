//! `flowc compile`: the compiled program in the review format.

use std::path::Path;

use crate::project::{Loaded, load};

use super::{DIAGNOSTICS, OK, USAGE, out, plural, report};

pub(super) fn run(path: &Path) -> u8 {
    let Loaded { name, shown, result } = match load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    match result {
        Ok((program, warnings)) => {
            report(&name, &shown, &warnings);
            // The review format, with each instruction's source line (literal secrets masked).
            match serde_json::to_string_pretty(&crate::compile::review(&program, &shown)) {
                Ok(json) => match out::emit(&(json + "\n")) {
                    Ok(()) => OK,
                    Err(status) => status,
                },
                Err(e) => {
                    eprintln!("flowc: cannot print the program: {e}");
                    USAGE
                }
            }
        }
        Err(diags) => {
            report(&name, &shown, &diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("flowc: {} not compiled: {}", name, plural(errors, "error"));
            DIAGNOSTICS
        }
    }
}
