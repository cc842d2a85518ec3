//! The bindings for real: `bindings.sh` generates Kotlin, Swift and Python from the built
//! library; the Python tests (pytest) and a Kotlin program on the JVM (kotlinc, JNA) then call
//! every export, errors included, against a sync server on 127.0.0.1; the Swift header is
//! compiled and its functions and checksums checked against the library.
//!
//! Needs python3 with pytest, a JDK, Debian's libjna-java and the npm package kotlin-compiler
//! (`.ci/run` installs them; the Kotlin compiler goes to target/tools/kotlin-compiler, or set
//! STRIDEGUARD_KOTLIN_HOME).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use strideguard_server::ServerConfig;
use strideguard_tests::sync::{TestServer, config};

/// The test server, with login limits wide enough for a suite that registers many accounts
/// from one address in a minute.
fn server_config() -> ServerConfig {
    let mut c = config();
    c.limits.logins_per_minute_per_ip = 10_000;
    c.limits.logins_per_minute_per_user = 1_000;
    c
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace().join(p)
            }
        })
        .unwrap_or_else(|| workspace().join("target"))
}

fn checked(what: &str, out: std::io::Result<Output>) -> String {
    let out = out.unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Generates the bindings once for all tests (they share target/bindings).
fn bindings() -> PathBuf {
    static DONE: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    let lock = DONE.get_or_init(|| Mutex::new(None));
    let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = done.as_ref() {
        return p.clone();
    }
    checked(
        "mobile-ffi/bindings.sh",
        Command::new("bash")
            .arg(workspace().join("mobile-ffi/bindings.sh"))
            .current_dir(workspace())
            .output(),
    );
    let out = target().join("bindings");
    *done = Some(out.clone());
    out
}

fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures")
}

#[test]
fn bindings_sh_generates_kotlin_swift_and_python() {
    let b = bindings();
    for f in [
        "kotlin/org/strideguard/strideguard.kt",
        "kotlin-jvm/org/strideguard/strideguard.kt",
        "swift/StrideguardFFI.swift",
        "swift/StrideguardFFIFFI.h",
        "swift/StrideguardFFIFFI.modulemap",
        "python/strideguard.py",
    ] {
        let text = std::fs::read_to_string(b.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let least = if f.ends_with(".modulemap") { 40 } else { 1000 };
        assert!(text.len() > least, "{f} is too short");
    }
    let kotlin = std::fs::read_to_string(b.join("kotlin/org/strideguard/strideguard.kt")).unwrap();
    assert!(kotlin.contains("package org.strideguard"));
    assert!(
        kotlin.contains("import android.os.Build"),
        "the Android flavour"
    );
    let jvm = std::fs::read_to_string(b.join("kotlin-jvm/org/strideguard/strideguard.kt")).unwrap();
    assert!(
        !jvm.contains("import android."),
        "the JVM flavour has no Android classes"
    );
    let modulemap = std::fs::read_to_string(b.join("swift/StrideguardFFIFFI.modulemap")).unwrap();
    assert!(modulemap.contains("StrideguardFFIFFI"));
}

#[test]
fn python_tests_pass_against_the_library() {
    let b = bindings();
    let server = TestServer::start(server_config());
    let text = checked(
        "pytest",
        Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(workspace().join("mobile-ffi/tests/python"))
            .env("PYTHONPATH", b.join("python"))
            .env("STRIDEGUARD_TEST_SERVER", server.url())
            .env("STRIDEGUARD_FIXTURES", fixtures())
            .env("STRIDEGUARD_SWIFT_DIR", b.join("swift"))
            .output(),
    );
    assert!(text.contains(" passed"), "{text}");
    assert!(!text.contains("skipped"), "{text}");
}

fn kotlin_home() -> PathBuf {
    let home = std::env::var_os("STRIDEGUARD_KOTLIN_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target().join("tools/kotlin-compiler/package"));
    assert!(
        home.join("bin/kotlinc").exists(),
        "no Kotlin compiler at {}: run .ci/run (it unpacks the npm package kotlin-compiler there) \
         or set STRIDEGUARD_KOTLIN_HOME",
        home.display()
    );
    home
}

#[test]
fn kotlin_on_the_jvm_calls_the_library() {
    let b = bindings();
    let home = kotlin_home();
    let jna = PathBuf::from("/usr/share/java/jna.jar");
    assert!(jna.exists(), "JNA missing: apt-get install libjna-java");
    let coroutines = home.join("lib/kotlinx-coroutines-core-jvm.jar");
    let stdlib = home.join("lib/kotlin-stdlib.jar");
    let work = tempfile::tempdir().unwrap();
    let jar = work.path().join("app.jar");
    let cp = format!("{}:{}", jna.display(), coroutines.display());
    checked(
        "kotlinc",
        Command::new(home.join("bin/kotlinc"))
            .arg(b.join("kotlin-jvm/org/strideguard/strideguard.kt"))
            .arg(workspace().join("mobile-ffi/tests/kotlin/Main.kt"))
            .args(["-nowarn", "-cp", &cp, "-d"])
            .arg(&jar)
            .output(),
    );
    let server = TestServer::start(server_config());
    let lib_dir = b.join("python");
    let run_cp = format!(
        "{}:{}:{}:{}",
        jar.display(),
        jna.display(),
        coroutines.display(),
        stdlib.display()
    );
    let text = checked(
        "the Kotlin program",
        Command::new("java")
            .arg(format!("-Djna.library.path={}", lib_dir.display()))
            .args(["-cp", &run_cp, "MainKt"])
            .arg(work.path())
            .arg(server.url())
            .arg(fixtures())
            .output(),
    );
    assert!(text.contains("kotlin: all checks passed"), "{text}");
}

#[test]
fn the_swift_header_compiles_and_names_only_exported_functions() {
    let b = bindings();
    let header = b.join("swift/StrideguardFFIFFI.h");
    checked(
        "gcc on the Swift header",
        Command::new("gcc")
            .args([
                "-fsyntax-only",
                "-x",
                "c",
                "-D_Nullable=",
                "-D_Nonnull=",
                "-D__attribute__(x)=",
            ])
            .arg(&header)
            .output(),
    );
    let exported = checked(
        "nm",
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(b.join("python/libstrideguard_ffi.so"))
            .output(),
    );
    let text = std::fs::read_to_string(&header).unwrap();
    let declared: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let before = l.split('(').next()?;
            let name = before.split_whitespace().last()?;
            (name.starts_with("uniffi_") || name.starts_with("ffi_strideguard"))
                .then_some(name.trim_start_matches('*'))
        })
        .collect();
    assert!(declared.len() > 50, "{} functions", declared.len());
    for f in &declared {
        assert!(
            exported.lines().any(|l| l.ends_with(&format!(" {f}"))),
            "{f} is declared in the header but not exported"
        );
    }
}
