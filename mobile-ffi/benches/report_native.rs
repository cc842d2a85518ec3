//! The baseline of the bindings' report overhead, built inside Rust on the same database as the
//! Python and Kotlin benchmarks: core's report from a reading connection, and the exported
//! `Strideguard::report` called from Rust (the same work as from Python or Kotlin, without the
//! crossing). Prints the latter's mean nanoseconds on its last line, for mobile-ffi/bench.sh.
//!
//! `cargo bench -p strideguard-ffi --bench report_native -- DB AS_OF`

use std::sync::Arc;
use std::time::Instant;

fn mean_ns(repeat: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    for _ in 0..repeat {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(repeat)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(db), Some(as_of)) = (args.first(), args.get(1)) else {
        eprintln!("usage: report_native DB AS_OF (YYYY-MM-DD)");
        std::process::exit(2);
    };
    let store =
        strideguard_core::Store::open_read_only(db, Arc::new(strideguard_core::clock::SystemClock))
            .expect("the database opens");
    let day = strideguard_core::units::parse_day(as_of).expect("AS_OF is YYYY-MM-DD");
    let thresholds = store.profile().expect("the profile").thresholds;
    let core = mean_ns(200, || {
        std::hint::black_box(store.report(day, 8, &thresholds).expect("the report"));
    });
    let app = strideguard_ffi::Strideguard::open(db.clone(), None, None).expect("it opens");
    let exported = mean_ns(200, || {
        std::hint::black_box(app.report(Some(as_of.clone()), 8).expect("the report"));
    });
    println!(
        "rust: report(8 weeks) {:.2} ms in core, {:.2} ms through the exported method ({:.2}x)",
        core / 1e6,
        exported / 1e6,
        exported / core
    );
    println!("{exported:.0}");
}
