//! Standard output for a command line that lives in pipes.
//!
//! A reader that leaves early (`flowc log --json | head`) is not an error: output stops quietly and the
//! command ends with the status it would have had, as `rg` and `cat` do. Any other write failure (a full
//! disk) is reported once and turns into exit status 2.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output's reader has gone away; later writes are skipped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when a write failed for another reason: the command ends with status 2 whatever it was doing.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output. `Err(status)` when the write failed for a reason worth reporting
/// (already reported on standard error).
pub(crate) fn emit(text: &str) -> Result<(), u8> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("flowc: cannot write to standard output: {e}");
            Err(super::USAGE)
        }
    }
}

/// Whether standard output has gone away (loops that print many lines stop early).
pub(crate) fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Whether some output was lost to a write failure (not a reader that left).
pub(crate) fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}
