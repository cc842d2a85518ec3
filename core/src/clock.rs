//! Wall-clock time as a parameter (defined in `strideguard-proto`, which the server shares). The
//! store stamps changes and answers "now" and "today" with it, the coach measures intervals
//! with it; tests hand in a [`ManualClock`] so they never sleep or race midnight.

pub use strideguard_proto::clock::{Clock, ManualClock, SystemClock};
