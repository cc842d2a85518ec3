"""Per-call overhead of the Python bindings, against baselines measured in the same run:
a trivial call (`version()`) against a plain Python function, and the report against the same
report built natively inside Rust (the `report_native` bench, its nanoseconds passed in).
Usage: overhead.py DB AS_OF NATIVE_NS."""

import sys
import time

import strideguard as sg


def per_call(f, n):
    for _ in range(min(n, 1000)):
        f()
    start = time.perf_counter_ns()
    for _ in range(n):
        f()
    return (time.perf_counter_ns() - start) / n


def plain():
    return "0.1.0"


db, as_of, native = sys.argv[1], sys.argv[2], float(sys.argv[3])
app = sg.Strideguard.open(db)
trivial = per_call(sg.version, 200_000)
baseline = per_call(plain, 200_000)
print(f"python: version() {trivial:8.0f} ns a call; a plain Python call {baseline:.0f} ns "
      f"({trivial / baseline:.1f}x); crossing costs about {trivial - baseline:.0f} ns")
report = per_call(lambda: app.report(as_of, 8), 200)
print(f"python: report(8 weeks, {app.run_count()} runs) {report / 1e6:6.2f} ms a call; "
      f"natively in Rust {native / 1e6:.2f} ms ({report / native:.2f}x)")
