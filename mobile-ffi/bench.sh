#!/usr/bin/env bash
# The bindings' per-call overhead from Python and from Kotlin (release build), each against a
# baseline measured in the same run. Needs what the tests need (see ../.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
mobile-ffi/bindings.sh --release >/dev/null
target="${CARGO_TARGET_DIR:-target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --release -p strideguard-cli -- demo --dir "$work/demo" --end 2026-11-25 >/dev/null
db="$work/demo/strideguard.db"
# A small benchmark process would hand its heap back to the system after every report (glibc's
# trimming: over a second of system time in 200 reports), which an app's long-lived process
# does not; keep the heap, in all three measurements alike.
export MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=67108864
native=$(cargo bench -q -p strideguard-ffi --bench report_native -- "$db" 2026-11-25 | tee /dev/stderr | tail -1)
PYTHONPATH="$target/bindings/python" python3 mobile-ffi/bench/overhead.py "$db" 2026-11-25 "$native"
kotlin="${STRIDEGUARD_KOTLIN_HOME:-$target/tools/kotlin-compiler/package}"
cp="/usr/share/java/jna.jar:$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
"$kotlin/bin/kotlinc" -nowarn "$target/bindings/kotlin-jvm/org/strideguard/strideguard.kt" \
  mobile-ffi/bench/Overhead.kt -cp "$cp" -d "$work/bench.jar" 2>/dev/null
java -Djna.library.path="$target/bindings/python" \
  -cp "$work/bench.jar:$cp:$kotlin/lib/kotlin-stdlib.jar" OverheadKt "$db" 2026-11-25 "$native"
