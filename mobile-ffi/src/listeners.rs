//! The callbacks an app implements (cues, sync and import progress, the clock). A callback that
//! throws never panics Rust: the exception comes back as a [`ListenerError`], is counted, and the
//! work goes on; each owner reports its count (`listener_errors`).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use strideguard_core::clock::{Clock, SystemClock};

/// What a callback may throw.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed { reason: e.reason }
    }
}

/// How many callbacks failed, and the last failure.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    count: AtomicI64,
    last: Mutex<Option<String>>,
}

impl Failures {
    /// Counts `result` if it failed.
    pub fn note(&self, result: Result<(), ListenerError>) {
        if let Err(e) = result {
            self.count.fetch_add(1, Ordering::SeqCst);
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }

    pub fn count(&self) -> i64 {
        self.count.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The time, as the app says it is (for tests, replays and "as of" screens). Implemented by the
/// app; milliseconds since the Unix epoch.
#[uniffi::export(with_foreign)]
pub trait WallClock: Send + Sync {
    fn now_ms(&self) -> Result<i64, ListenerError>;
}

/// The app's clock as core's: a clock that throws is answered by the system's.
pub(crate) struct AppClock {
    pub clock: Arc<dyn WallClock>,
    pub failures: Arc<Failures>,
}

impl Clock for AppClock {
    fn now_ms(&self) -> i64 {
        match self.clock.now_ms() {
            Ok(ms) => ms,
            Err(e) => {
                self.failures.note(Err(e));
                SystemClock.now_ms()
            }
        }
    }
}
