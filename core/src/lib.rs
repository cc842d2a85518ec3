//! Strideguard's core: everything the apps share, with no IO but the SQLite store.
//!
//! - [`model`]: runs, samples, shoes, profile (SI units).
//! - [`units`]: parsing and formatting what runners type and read.
//! - [`store`]: the SQLite database, its migrations and the local change log.
//! - [`samples`]: the compact encoding of sample streams.
//! - [`hlc`], [`clock`]: hybrid logical clock stamps and injectable wall time.
//! - [`analysis`]: pure functions over the history (weekly totals so far).
//! - [`demo`]: a reproducible synthetic runner for demos and tests.

pub mod analysis;
pub mod clock;
pub mod coach;
pub mod crypto;
pub mod demo;
pub mod export;
pub mod hlc;
pub mod import;
pub mod model;
pub mod plan;
pub mod samples;
pub mod store;
pub mod sync;
pub mod triage;
pub mod units;

pub use model::{CadenceTarget, Profile, Run, RunKind, RunSource, Sample, Shoe, ShoeUsage, Units};
pub use store::{Store, StoreError};
