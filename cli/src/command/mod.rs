//! One module per command group, each owning its clap types and its handler.

pub mod account;
pub mod demo;
pub mod export;
pub mod import;
pub mod live;
pub mod pain;
pub mod plan;
pub mod profile;
pub mod report;
pub mod run;
pub mod shoe;
pub mod sync;
pub mod triage;
