//! Strideguard's core: everything the apps share, with no IO but the SQLite store, the files an
//! import reads and the sync client.
//!
//! - [`model`]: runs, samples, shoes, profile (SI units); [`ranges`]: every accepted range.
//! - [`units`]: parsing and formatting what runners type and read.
//! - [`store`]: the SQLite database, its migrations, the local change log, and the flows the
//!   apps share (import, live sessions, plans, sync state).
//! - [`samples`]: the compact encoding of sample streams.
//! - [`hlc`], [`clock`]: hybrid logical clock stamps and injectable wall time.
//! - [`analysis`]: pure functions over the history; [`html`]: the report as one page.
//! - [`import`], [`export`]: activity files in and out (pure).
//! - [`triage`], [`plan`]: pain triage and exercise plans.
//! - [`coach`], [`live`]: the live cadence coach and a recorded session.
//! - [`crypto`], [`sync`]: end-to-end encryption and the sync engine and client.
//! - [`cancel`]: stopping long work from another thread.
//! - [`demo`]: a reproducible synthetic runner for demos and tests.

pub mod analysis;
pub mod cancel;
pub mod clock;
pub mod coach;
pub mod crypto;
pub mod demo;
pub mod export;
pub mod hlc;
pub mod html;
pub mod import;
pub mod live;
pub mod model;
pub mod plan;
pub mod ranges;
pub mod samples;
pub mod store;
pub mod sync;
pub mod triage;
pub mod units;

pub use model::{
    CadenceTarget, Profile, Run, RunKind, RunSource, Sample, Shoe, ShoeUsage, ShoeWear, Units,
};
pub use store::{Store, StoreError};
