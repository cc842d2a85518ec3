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

/// The numbers behind every rule. Each is a default from domain.md that a runner may change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Week-over-week growth above this is a caution (the "10% rule", a guide rather than a law).
    pub weekly_increase_pct: f64,
    /// The last two weeks above the two before by this much is high risk (Nielsen et al. 2014).
    pub two_week_increase_pct: f64,
    /// Below this weekly distance, growth is judged in absolute steps, not percentages.
    pub small_base_m: f64,
    /// The absolute weekly step allowed on a small base.
    pub small_base_step_m: f64,
    /// A run climbing this many metres per km counts as hill work.
    pub hill_m_per_km: f64,
    /// Consecutive weeks of running that make a base for speed or hill work.
    pub base_weeks: u32,
    /// A run this much longer than the longest of the previous 30 days is a spike.
    pub single_run_spike_pct: f64,
    /// Days of history before the ACWR means anything.
    pub acwr_baseline_days: i64,
    /// A run this far below the speed-matched cadence baseline counts as low cadence.
    pub low_cadence_pct: f64,
    /// Recent runs checked for low cadence: the last this many days.
    pub recent_days: i64,
    /// The cadence baseline comes from easy and long runs in this many weeks before that.
    pub baseline_weeks: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            weekly_increase_pct: 10.0,
            two_week_increase_pct: 30.0,
            small_base_m: 10_000.0,
            small_base_step_m: 2_000.0,
            hill_m_per_km: 20.0,
            base_weeks: 4,
            single_run_spike_pct: 10.0,
            acwr_baseline_days: 21,
            low_cadence_pct: 5.0,
            recent_days: 14,
            baseline_weeks: 12,
        }
    }
}
