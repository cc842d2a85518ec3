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

    /// Whether `other` is this flag (a clone of it), not just one in the same state.
    pub fn same(&self, other: &Cancel) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Sets the flag when dropped while armed: hold it in a future, and dropping the future before
/// it finished (a cancelled coroutine or task) stops the blocking work behind it. Disarm it
/// once the work is done.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    pub fn new(cancel: Cancel) -> CancelOnDrop {
        CancelOnDrop(Some(cancel))
    }

    /// The work finished: dropping no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_an_armed_drop_guard_sets_it() {
        let c = Cancel::new();
        let seen = c.clone();
        CancelOnDrop::new(c.clone()).disarm();
        assert!(!seen.is_cancelled(), "disarmed: the work finished");
        drop(CancelOnDrop::new(c));
        assert!(seen.is_cancelled());
    }
}
