//! Ctrl-C as a request to stop cleanly: a live session ends and is saved, an import stops after
//! the file it is on (what landed stays, and the same command resumes). A second Ctrl-C ends
//! the process at once, as a runner who means it expects.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
    // SAFETY: `signal` is async-signal-safe; the next Ctrl-C gets the default action.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// From now on, the first Ctrl-C is a request to stop, read with [`requested`].
#[allow(unsafe_code)]
pub fn catch() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic and calls `signal`, both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Whether Ctrl-C was pressed since [`catch`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The error of a command stopped by Ctrl-C: the process exits with 130, as shells expect of
/// a program ended by SIGINT.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The exit code of an interrupted command.
pub const EXIT_CODE: u8 = 130;
