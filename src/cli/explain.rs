//! `flowc explain`: a diagnostic code's page, or the list of codes.

use crate::diagnostic::Code;

use super::{OK, USAGE, out};

pub(super) fn run(code: Option<&str>) -> u8 {
    let Some(code) = code else {
        let mut text = String::from("Diagnostic codes (flowc explain CODE shows one):\n\n");
        for c in Code::ALL {
            text += &format!("  {:<42} {:<8} {}\n", c.as_str(), c.severity().as_str(), c.summary());
        }
        return out::emit(&text).map_or_else(|status| status, |()| OK);
    };
    match Code::lookup(code) {
        Some(c) => out::emit(c.page()).map_or_else(|status| status, |()| OK),
        None => {
            let names = Code::ALL.iter().map(|c| c.as_str().rsplit("::").next().unwrap_or(""));
            match crate::diagnostic::did_you_mean(code.rsplit("::").next().unwrap_or(code), names) {
                Some(s) => {
                    eprintln!("flowc: unknown code `{code}`; did you mean `{s}`? (`flowc explain` lists all codes)")
                }
                None => eprintln!("flowc: unknown code `{code}` (`flowc explain` lists all codes)"),
            }
            USAGE
        }
    }
}
