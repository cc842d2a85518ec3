#!/usr/bin/env bash
# Schemathesis against the real server binary. The OpenAPI document the server serves is the
# contract: every answer must be one it documents (status, content type, required headers,
# body schema) and none may be a 5xx. Called from .ci/run after the tests.
#
# The server runs on 127.0.0.1 (port 0: the kernel picks a free one, read back from its log)
# with a throw-away data folder and rate limits no run can reach, so the result does not
# depend on timing. The operations that end a session, a device or the account (logout,
# revoke, delete) each run last on an account of their own, so they cannot turn the main run
# into a stream of 401s. The seed and the examples per operation are fixed: the same run each
# time, bounded (well under a minute on two cores), and `timeout` caps it anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
hooks_dir=$(pwd)/.ci

version=4.32.5
seed=20260301
examples=${SCHEMATHESIS_EXAMPLES:-50}
# Set to a folder to keep every request and answer (HAR files) for a look afterwards.
report=()
[ -n "${SCHEMATHESIS_REPORT_DIR:-}" ] && report=(--report har --report-dir "$(realpath -m "$SCHEMATHESIS_REPORT_DIR")")

if ! python3 -c "import sys, schemathesis; sys.exit(schemathesis.__version__ != '$version')" 2>/dev/null; then
  echo "== pip install schemathesis==$version"
  python3 -m pip install --quiet "schemathesis==$version" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "schemathesis==$version"
fi

echo "== cargo build -p strideguard-server"
cargo build --quiet --locked -p strideguard-server
server_bin=target/debug/strideguard-server

# Whatever happens (a failure, ctrl-c, SIGTERM), the run in progress and the server stop and the
# folder goes. Both run in the background and are waited for, so a signal is acted on at once.
work=$(mktemp -d)
server=""
runner=""
cleanup() {
  for pid in $runner $server; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STRIDEGUARD_LOGINS_PER_MINUTE_PER_USER=1000000 \
STRIDEGUARD_LOGINS_PER_MINUTE_PER_IP=1000000 \
STRIDEGUARD_REQUESTS_PER_MINUTE=1000000 \
STRIDEGUARD_MAX_DEVICES=1000000 \
STRIDEGUARD_KDF_LOOKUPS_PER_MINUTE_PER_IP=1000000 \
RUST_LOG=strideguard_server=warn \
  "$server_bin" --bind 127.0.0.1:0 --data "$work/data" 2>"$work/server.log" &
server=$!

base=""
for _ in $(seq 100); do
  base=$(grep -o 'strideguard sync server on http://127\.0\.0\.1:[0-9]*' "$work/server.log" \
    | grep -o 'http://.*' || true)
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; echo "the server did not start"; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/server.log"; echo "the server did not say where it listens"; exit 1; }
echo "== server on $base"

# An account as a client makes one. The client derives auth_key and wraps the data key; the
# server only checks their sizes (32 bytes; 32 to 1024), so random bytes stand in for them.
# Prints the session token, the auth key and the id of a second device of the account.
account() {
  python3 - "$base" "$1" <<'PY'
import base64, json, os, sys, urllib.request

base, name = sys.argv[1], sys.argv[2]

def post(path, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)

auth_key = base64.b64encode(os.urandom(32)).decode()
post("/v1/accounts", {"username": name, "auth_key": auth_key, "kdf": {"iterations": 600000},
                      "wrapped_key": base64.b64encode(os.urandom(60)).decode()})
token = post("/v1/sessions", {"username": name, "auth_key": auth_key,
                              "device_name": "schemathesis"})["token"]
other = post("/v1/devices", {"name": "second device"}, token)["device_id"]
print(token, auth_key, other)
PY
}

# A run's configuration file: no crash cache (it would land in the work tree with the secrets
# of the run, and replay old crashes first, so runs would differ), and the parameters given.
config() {
  printf '[cache]\nenabled = false\n' >"$1"
  if [ $# -gt 1 ]; then printf '[parameters]\n%s\n' "$2" >>"$1"; fi
}

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
# One run: $1 the bearer token, $2 a config file, the rest filters. One worker: with two,
# Hypothesis parses lambda sources on two threads at once, which CPython 3.11 can fail with
# "SystemError: AST constructor recursion depth mismatch" (an error of the tool, not the API).
run() {
  local token=$1 config=$2
  shift 2
  # From the work folder: Hypothesis keeps a cache in the current directory.
  # The hooks teach it the frames media type of /v2/records (bytes as generated).
  (cd "$work" && PYTHONPATH="$hooks_dir" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    exec timeout 240 python3 -m schemathesis.cli --config-file "$config" \
    run "$base/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks "$checks" --continue-on-failure \
    --seed "$seed" --max-examples "$examples" --workers 1 \
    --generation-database none --request-timeout 10 \
    --no-color "${report[@]}" "$@") &
  runner=$!
  local code=0
  wait "$runner" || code=$?
  runner=""
  return "$code"
}

start=$SECONDS
status=0
echo "== schemathesis $version: every operation that keeps the session (seed $seed, $examples examples each)"
creds=$(account schemathesis-main)
read -r token key _ <<<"$creds"
# The real auth key where a passphrase change needs it, so one can succeed (the session stays).
config "$work/main.toml" "\"body.old_auth_key\" = \"$key\""
run "$token" "$work/main.toml" \
  --exclude-operation-id logout --exclude-operation-id revokeDevice \
  --exclude-operation-id deleteAccount || status=1

# Each operation that ends something gets an account of its own and the real values it needs
# (an existing device's id; the account's auth key), so its success answer is checked too. The
# first success ends the device, session or account; what follows checks the answers after it.
for ending in revokeDevice logout deleteAccount; do
  echo "== schemathesis $version: $ending, on an account of its own"
  creds=$(account "schemathesis-${ending,,}")
  read -r token key device <<<"$creds"
  file="$work/$ending.toml"
  case $ending in
    revokeDevice) config "$file" "id = \"$device\"" ;;
    deleteAccount) config "$file" "\"body.auth_key\" = \"$key\"" ;;
    *) config "$file" ;;
  esac
  run "$token" "$file" --include-operation-id "$ending" || status=1
done
echo "== schemathesis took $((SECONDS - start)) s"
exit "$status"
