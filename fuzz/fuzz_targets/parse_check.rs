//! Parse, check and (when clean) compile arbitrary bytes: nothing may panic, and every span must lie
//! inside the input. Run with `cargo +nightly fuzz run parse_check` from the crate root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let (_, diags) = flowc::check_source(src);
    for d in &diags {
        assert!(d.span().end <= src.len());
        let _ = d.render("fuzz.flow", src, false);
    }
    if diags.iter().all(|d| !d.is_error()) {
        let _ = flowc::compile_source(src);
    }
});
