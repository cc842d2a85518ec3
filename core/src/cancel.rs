//! Stopping long work from another thread. A sync or an import checks its [`Cancel`] between
//! steps; everything committed before stays, so the next run resumes where this one stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag shared between the work and whoever may stop it. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the work to stop at its next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sets the flag when dropped: tie it to a future, and dropping the future (a cancelled
/// coroutine or task) stops the blocking work behind it.
#[derive(Debug)]
pub struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_a_drop_guard_sets_it() {
        let c = Cancel::new();
        let seen = c.clone();
        assert!(!seen.is_cancelled());
        drop(CancelOnDrop(c));
        assert!(seen.is_cancelled());
    }
}
