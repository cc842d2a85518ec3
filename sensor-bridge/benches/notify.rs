//! Cost per notification of parsing plus coaching, printed against the 7.5 ms minimum BLE
//! connection interval (the fastest a sensor can deliver). Baseline in the same run: parsing
//! alone.
//!
//! `cargo bench -p strideguard-sensor --bench notify`

use std::hint::black_box;
use std::time::Instant;

use strideguard_core::coach::{CadenceCoach, CoachConfig};
use strideguard_sensor::Bridge;
use strideguard_sensor::gatt::parse_rsc;
use strideguard_sensor::simulate::{Scenario, simulate};

const ROUNDS: usize = 200;

fn main() {
    let notifications = simulate(Scenario::LowCadence, 170.0);
    let n = (notifications.len() * ROUNDS) as f64;

    let t = Instant::now();
    for _ in 0..ROUNDS {
        for x in &notifications {
            let _ = black_box(parse_rsc(black_box(&x.bytes)));
        }
    }
    let parse_ns = t.elapsed().as_nanos() as f64 / n;

    let t = Instant::now();
    for _ in 0..ROUNDS {
        let mut bridge = Bridge::new(None);
        let mut coach = CadenceCoach::new(CoachConfig::new(170.0));
        for x in &notifications {
            black_box(coach.tick(x.t_s));
            if let (Some(r), _) = bridge.handle(x) {
                black_box(coach.feed(r));
            }
        }
    }
    let full_ns = t.elapsed().as_nanos() as f64 / n;
    let interval_ns = 7.5e6;
    println!(
        "notify: {} notifications x {ROUNDS} rounds",
        notifications.len()
    );
    println!("parse only:          {parse_ns:>8.1} ns per notification");
    println!(
        "parse + unit + coach:{full_ns:>8.1} ns per notification ({:.1}x parsing alone)",
        full_ns / parse_ns
    );
    println!(
        "against the 7.5 ms minimum connection interval: {:.5}% of it ({:.0}x headroom)",
        full_ns / interval_ns * 100.0,
        interval_ns / full_ns
    );
}
