//! The `strideguard` binary run on a temporary database, for the CLI's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// A database of its own, a fixed time zone and no user data dir.
pub struct Env {
    _dir: tempfile::TempDir,
    pub db: PathBuf,
    pub home: PathBuf,
    /// `STRIDEGUARD_NOW` for every command, when set.
    pub now: Option<String>,
}

impl Env {
    /// An env over an existing database file.
    pub fn at(db: PathBuf) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Env {
            _dir: dir,
            db,
            home,
            now: None,
        }
    }

    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("runner.db");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Env {
            _dir: dir,
            db,
            home,
            now: None,
        }
    }

    /// Runs the binary on this env's database, with a fixed time zone and no user data dir.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Like [`Env::run`], with extra environment variables.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_strideguard"))
            .env_remove("STRIDEGUARD_PASSPHRASE")
            .env_remove("STRIDEGUARD_NEW_PASSPHRASE")
            .env_remove("STRIDEGUARD_SERVER")
            .env_remove("STRIDEGUARD_USER")
            .envs(vars.iter().copied())
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env_remove("STRIDEGUARD_DB")
            .env("TZ", "UTC")
            .envs(self.now.iter().map(|n| ("STRIDEGUARD_NOW", n.as_str())))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, &[])
    }

    /// Like [`Env::ok`], with extra environment variables.
    pub fn ok_with(&self, args: &[&str], vars: &[(&str, &str)]) -> String {
        let out = self.run_with(args, vars);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    }

    /// Runs a command that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.fails_with(args, &[])
    }

    /// Like [`Env::fails`], with extra environment variables.
    pub fn fails_with(&self, args: &[&str], vars: &[(&str, &str)]) -> String {
        let out = self.run_with(args, vars);
        assert!(!out.status.success(), "{args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    /// The shoe called `name` in `shoe list --json`.
    pub fn shoe(&self, name: &str) -> Value {
        let shoes = self.json(&["shoe", "list", "--json"]);
        shoes
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no shoe {name} in {shoes}"))
            .clone()
    }

    /// The database's visible state: what `run list` and `shoe list` say, and the file bytes.
    pub fn snapshot(&self) -> (Value, Value, Vec<u8>) {
        (
            self.json(&["run", "list", "--json"]),
            self.json(&["shoe", "list", "--json"]),
            std::fs::read(&self.db).unwrap(),
        )
    }
}
