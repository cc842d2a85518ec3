#!/usr/bin/env bash
# Builds the library and generates the Kotlin (org.strideguard), Swift (StrideguardFFI) and
# Python (strideguard) bindings from it, in library mode, under target/bindings/:
#   kotlin/      for Android (android = true: uses Android's classes)
#   kotlin-jvm/  the same API for a desktop JVM (the tests run this one)
#   swift/       StrideguardFFI.swift, the C header and the modulemap for an XCFramework
#   python/      strideguard.py beside a copy of the library
# Usage: mobile-ffi/bindings.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flags=()
if [[ "${1:-}" == "--release" ]]; then profile=release; flags=(--release); fi
cargo build "${flags[@]}" -p strideguard-ffi --lib --bin uniffi-bindgen
target="${CARGO_TARGET_DIR:-target}"
lib="$target/$profile/libstrideguard_ffi.so"
[[ -f "$lib" ]] || lib="$target/$profile/libstrideguard_ffi.dylib"
bindgen="$target/$profile/uniffi-bindgen"
out="$target/bindings"
rm -rf "$out"
mkdir -p "$out"
gen() { "$bindgen" generate "$lib" --no-format --language "$1" --out-dir "$out/$2" "${@:3}"; }
gen kotlin kotlin
gen kotlin kotlin-jvm --config mobile-ffi/uniffi-jvm.toml
gen swift swift
gen python python
# CPython < 3.14 aborts the process if a Rust thread is inside a callback when the interpreter
# finalizes; the guard waits for those callbacks at exit (see the file for why).
cat mobile-ffi/python/exit_guard.py >>"$out/python/strideguard.py"
cp "$lib" "$out/python/"
echo "bindings in $out: $(cd "$out" && find . -type f | sort | tr '\n' ' ')"
