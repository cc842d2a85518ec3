#!/usr/bin/env bash
# The worst UI-thread stall while a sync runs against a server that answers slowly, from Python
# and from Kotlin (plus cancelling a sync from Kotlin). Builds nothing with cargo: first run
#   mobile-ffi/bindings.sh --release && cargo build --release -p strideguard-cli
# and have the Kotlin compiler in target/tools/kotlin-compiler (see .ci/run), Java and
# /usr/share/java/jna.jar. Then, from anywhere:
#   mobile-ffi/bench/ui_stall/run.sh
# It writes the demo database (strideguard demo --end 2026-11-25), starts the release server
# (target/release/strideguard serve) on a free port and slow_proxy.py in front of it, runs
# ui_stall.py (through the proxy, then once straight to the server as a reference) and
# UiStall.kt (compiled here with kotlinc), then stops everything and prints the proxy's log.
# Settings (environment): LATENCY_MS=300 DOWN_KIBPS=256 UP_KIBPS=256 KDF=100000 PERIOD_MS=16
# BASELINE_S=5, STEP_TIMEOUT=600 (seconds, for each measurement), OUT=dir to keep logs/JSON in.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."
target="${CARGO_TARGET_DIR:-target}"
LATENCY_MS="${LATENCY_MS:-300}" DOWN_KIBPS="${DOWN_KIBPS:-256}" UP_KIBPS="${UP_KIBPS:-256}"
KDF="${KDF:-100000}" PERIOD_MS="${PERIOD_MS:-16}" BASELINE_S="${BASELINE_S:-5}"
STEP_TIMEOUT="${STEP_TIMEOUT:-600}"
cli="$target/release/strideguard"
py="$target/bindings/python"
kotlin="${STRIDEGUARD_KOTLIN_HOME:-$target/tools/kotlin-compiler/package}"
cp="/usr/share/java/jna.jar:$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
for f in "$cli" "$py/strideguard.py" "$target/bindings/kotlin-jvm/org/strideguard/strideguard.kt" \
  "$kotlin/bin/kotlinc" /usr/share/java/jna.jar; do
  [[ -e "$f" ]] || { echo "missing $f: build first (see the header of $0)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/ui-stall.XXXXXX)
out="${OUT:-$work/out}"
mkdir -p "$out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

echo "== demo database"
"$cli" demo --dir "$work/demo" --end 2026-11-25 >"$out/demo.log" 2>&1
db="$work/demo/strideguard.db"
ls -l "$db"

echo "== sync server and slow proxy"
sport=$(free_port)
"$cli" serve --bind "127.0.0.1:$sport" --data "$work/server" >"$out/server.log" 2>&1 &
pids+=($!)
wait_port "$sport"
python3 "$here/slow_proxy.py" --upstream "127.0.0.1:$sport" --port-file "$work/proxy.port" \
  --latency-ms "$LATENCY_MS" --down-kibps "$DOWN_KIBPS" --up-kibps "$UP_KIBPS" \
  --parent $$ --timeout $((4 * STEP_TIMEOUT)) --verbose >"$out/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
for _ in $(seq 100); do [[ -s "$work/proxy.port" ]] && break; sleep 0.1; done
pport=$(cat "$work/proxy.port")
wait_port "$pport"
head -1 "$out/proxy.log"
slow="http://127.0.0.1:$pport"

echo "== python, through the proxy ($slow)"
PYTHONPATH="$py" timeout -k 5 "$STEP_TIMEOUT" python3 "$here/ui_stall.py" "$db" "$slow" \
  --kdf "$KDF" --period-ms "$PERIOD_MS" --baseline-s "$BASELINE_S" --json "$out/python.json"

echo "== python, straight to the server (reference: no added latency, no bandwidth cap)"
PYTHONPATH="$py" timeout -k 5 "$STEP_TIMEOUT" python3 "$here/ui_stall.py" "$db" \
  "http://127.0.0.1:$sport" --kdf "$KDF" --period-ms "$PERIOD_MS" --baseline-s 1 --mixes runs \
  --json "$out/python-direct.json"

echo "== kotlin (compiling)"
"$kotlin/bin/kotlinc" -nowarn "$target/bindings/kotlin-jvm/org/strideguard/strideguard.kt" \
  "$here/UiStall.kt" -cp "$cp" -d "$work/uistall.jar" 2>/dev/null
timeout -k 5 "$STEP_TIMEOUT" java -Djna.library.path="$py" \
  -cp "$work/uistall.jar:$cp:$kotlin/lib/kotlin-stdlib.jar" UiStallKt "$db" "$slow" \
  "$KDF" "$PERIOD_MS" "$BASELINE_S"

echo "== proxy log"
kill "$proxy_pid" 2>/dev/null || true
wait "$proxy_pid" 2>/dev/null || true
cat "$out/proxy.log"
