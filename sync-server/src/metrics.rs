//! Counters for `/metrics` in the Prometheus text format, kept in memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::Totals;

/// (method, route, status) -> (count, total seconds).
type RequestCounts = BTreeMap<(String, String, u16), (u64, f64)>;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<RequestCounts>,
    pub records_accepted: AtomicU64,
    pub records_served: AtomicU64,
    pub conflicts: AtomicU64,
    pub login_failures: AtomicU64,
    pub accounts_deleted: AtomicU64,
    limited: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let e = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    /// A request refused for breaking `limit`.
    pub fn limited(&self, limit: &'static str) {
        *self
            .limited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(limit)
            .or_default() += 1;
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self, totals: Totals) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP strideguard_http_requests_total HTTP requests by route and status.\n# TYPE strideguard_http_requests_total counter"
        );
        let reqs = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((method, route, status), (n, _)) in reqs.iter() {
            let _ = writeln!(
                out,
                "strideguard_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP strideguard_http_request_seconds_sum Time spent answering, by route.\n# TYPE strideguard_http_request_seconds_sum counter"
        );
        let mut by_route: BTreeMap<(&str, &str), f64> = BTreeMap::new();
        for ((method, route, _), (_, s)) in reqs.iter() {
            *by_route.entry((method, route)).or_default() += s;
        }
        for ((method, route), s) in by_route {
            let _ = writeln!(
                out,
                "strideguard_http_request_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {s:.6}"
            );
        }
        drop(reqs);
        for (name, help, v) in [
            (
                "strideguard_records_accepted_total",
                "Records stored from uploads.",
                &self.records_accepted,
            ),
            (
                "strideguard_records_served_total",
                "Records sent to devices.",
                &self.records_served,
            ),
            (
                "strideguard_conflicts_total",
                "Uploads answered 409 because another device wrote first.",
                &self.conflicts,
            ),
            (
                "strideguard_login_failures_total",
                "Logins refused for a wrong username or passphrase.",
                &self.login_failures,
            ),
            (
                "strideguard_accounts_deleted_total",
                "Accounts deleted by their owner, with every record, device and session.",
                &self.accounts_deleted,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP strideguard_limited_total Requests refused for breaking a limit.\n# TYPE strideguard_limited_total counter"
        );
        for (limit, n) in self
            .limited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "strideguard_limited_total{{limit=\"{limit}\"}} {n}");
        }
        for (name, help, v) in [
            ("strideguard_users", "Accounts.", totals.users),
            ("strideguard_devices", "Devices registered.", totals.devices),
            ("strideguard_records", "Records stored.", totals.records),
            (
                "strideguard_stored_bytes",
                "Bytes of sealed records stored.",
                totals.bytes,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
