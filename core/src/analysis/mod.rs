//! Pure functions over the runner's history. No IO: callers load runs from the store and pass
//! them in, so the same analysis runs in the CLI, on a phone and in tests.

mod weekly;

pub use weekly::{WeekTotal, weekly_totals};
