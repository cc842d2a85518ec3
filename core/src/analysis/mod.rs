//! Pure functions over the runner's history and profile: weekly and rolling totals, session load,
//! ACWR, the "too much, too soon" rules, shoes and cadence (domain.md). No IO: callers load runs
//! from the store and pass them in, so the same analysis runs in the CLI, on a phone and in tests.

pub mod acwr;
pub mod cadence;
pub mod load;
pub mod report;
pub mod warnings;
pub mod weekly;

pub use acwr::{AcwrDay, AcwrZone, acwr_series};
pub use cadence::CadenceReport;
pub use load::{LoadMethod, SessionLoad, session_load};
pub use report::{Report, ReportInput, build_report};
pub use warnings::{Severity, Warning, WarningKind};
pub use weekly::{Totals, WeekTotal, rolling_7_days, weekly_totals};

pub use crate::model::Thresholds;
