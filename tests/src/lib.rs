//! Helpers shared by Strideguard's end-to-end tests (the tests themselves live in `tests/`).

use std::path::PathBuf;

use strideguard_core::Store;
use strideguard_core::demo::DemoHistory;

pub mod exports;

/// A database file in a fresh temporary folder (removed when the guard drops).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("strideguard.db");
    (dir, path)
}

/// Writes a demo history into `store` the way `strideguard demo` does.
pub fn load_demo(
    store: &mut Store,
    history: &DemoHistory,
) -> Result<(), strideguard_core::StoreError> {
    store.set_profile(&history.profile)?;
    for shoe in &history.shoes {
        store.add_shoe(shoe)?;
    }
    for (run, samples) in &history.runs {
        store.add_run(run, samples)?;
    }
    Ok(())
}

/// A private D-Bus with the BlueZ stand-in (`tests/bluez/standin.py`) for tests of the real
/// btleplug code path. Needs Debian's dbus-daemon, python3-dbus and python3-gi.
pub mod bluez {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};

    /// Ends a child process however the test ends.
    pub struct Killed(pub Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    pub fn start_bus(dir: &Path) -> (Killed, String) {
        let socket = dir.join("system_bus_socket");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <busconfig>
      <type>system</type>
      <listen>unix:path={}</listen>
      <auth>EXTERNAL</auth>
      <policy context="default">
        <allow user="*"/>
        <allow own="*"/>
        <allow send_destination="*"/>
        <allow receive_sender="*"/>
      </policy>
    </busconfig>
    "#,
                socket.display()
            ),
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus package) is needed: bash .ci/run installs it");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon said {line:?}");
        (Killed(daemon), line.trim().to_string())
    }

    pub fn start_standin(address: &str, drop_after: u32, total: u32) -> Killed {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bluez/standin.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(format!("--drop-after={drop_after}"))
            .arg(format!("--total={total}"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", address)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 with python3-dbus and python3-gi is needed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the stand-in did not start");
        Killed(child)
    }
}

pub mod sim;

/// A sync server on 127.0.0.1 and devices with their own databases and clocks.
pub mod sync {
    use std::path::Path;
    use std::sync::Arc;

    use strideguard_core::Store;
    use strideguard_core::clock::{Clock, ManualClock, SystemClock};
    use strideguard_core::crypto::KdfParams;
    use strideguard_server::testing::{self, Backend};
    use strideguard_server::{RunningServer, ServerConfig, SqliteStorage, Storage};

    /// Few PBKDF2 iterations, so tests derive keys in microseconds.
    pub const FAST: KdfParams = KdfParams { iterations: 1_000 };

    /// The default configuration, but accepting [`FAST`] key derivation.
    pub fn config() -> ServerConfig {
        let mut c = ServerConfig::default();
        c.limits.min_kdf_iterations = FAST.iterations;
        c
    }

    /// A server on 127.0.0.1 over the backend the tests run on (`STRIDEGUARD_TEST_BACKEND`,
    /// see [`strideguard_server::testing`]).
    pub struct TestServer {
        pub dir: tempfile::TempDir,
        pub server: RunningServer,
        /// The storage it serves, for what a test does behind the API (a purge, say).
        pub storage: Arc<dyn Storage>,
        /// The PostgreSQL database, when on PostgreSQL.
        pub database: Option<String>,
    }

    impl TestServer {
        pub fn start(config: ServerConfig) -> TestServer {
            TestServer::with_clock(config, Arc::new(SystemClock))
        }

        pub fn with_clock(config: ServerConfig, clock: Arc<dyn Clock>) -> TestServer {
            TestServer::with_storage_limit(config, clock, None)
        }

        /// A server whose database may grow to `max_bytes` (`--max-data-bytes`, SQLite's:
        /// with a limit, the server is on SQLite whatever the backend).
        pub fn with_storage_limit(
            config: ServerConfig,
            clock: Arc<dyn Clock>,
            max_bytes: Option<u64>,
        ) -> TestServer {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let (storage, database): (Arc<dyn Storage>, _) = match (Backend::from_env(), max_bytes)
            {
                (Backend::Postgres, None) => {
                    let url = testing::shared().create_database();
                    let st =
                        strideguard_server::PostgresStorage::connect(&url).expect("server storage");
                    (Arc::new(st), Some(url))
                }
                _ => (
                    Arc::new(
                        SqliteStorage::open_with_limit(dir.path(), max_bytes)
                            .expect("server storage"),
                    ),
                    None,
                ),
            };
            let server = RunningServer::start(
                "127.0.0.1:0".parse().expect("an address"),
                storage.clone(),
                config,
                clock,
            )
            .expect("the server starts");
            TestServer {
                dir,
                server,
                storage,
                database,
            }
        }

        pub fn url(&self) -> String {
            self.server.url()
        }

        /// The server's database as it is on disk, as bytes: SQLite's file and its
        /// write-ahead log, or PostgreSQL's files of the database and its write-ahead log.
        pub fn database_bytes(&self) -> Vec<u8> {
            if let Some(url) = &self.database {
                return testing::shared().database_files(url);
            }
            let mut out = Vec::new();
            for name in ["server.db", "server.db-wal"] {
                if let Ok(b) = std::fs::read(self.dir.path().join(name)) {
                    out.extend(b);
                }
            }
            out
        }
    }

    /// A device: its own database and a clock the test moves.
    pub struct Device {
        pub store: Store,
        pub clock: Arc<ManualClock>,
        _dir: tempfile::TempDir,
    }

    impl Device {
        pub fn new(now_ms: i64) -> Device {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let clock = Arc::new(ManualClock::new(now_ms));
            let store = Store::open_with_clock(dir.path().join("strideguard.db"), clock.clone())
                .expect("the device database opens");
            Device {
                store,
                clock,
                _dir: dir,
            }
        }

        pub fn path(&self) -> &Path {
            self.store.path()
        }
    }

    /// The store lent the way the sync and account flows borrow it.
    pub fn access(store: &mut Store) -> std::cell::RefCell<&mut Store> {
        std::cell::RefCell::new(store)
    }

    /// Everything a runner sees, in a canonical text form, to compare devices.
    pub fn snapshot(store: &Store) -> String {
        let mut runs = store.runs().expect("runs");
        runs.sort_by_key(|r| r.id);
        let mut out = String::new();
        for r in &runs {
            let samples = store.samples(r.id).expect("samples");
            out += &format!("run {r:?} samples {}\n", samples.len());
        }
        let mut shoes = store.shoes().expect("shoes");
        shoes.sort_by_key(|s| s.shoe.id);
        for s in &shoes {
            out += &format!("shoe {:?} {:.1}\n", s.shoe, s.distance_m);
        }
        out += &format!("profile {:?}\n", store.profile().expect("profile"));
        for p in store.pain_entries().expect("pain") {
            out += &format!("pain {p:?}\n");
        }
        if let Some(plan) = store.active_plan().expect("plan") {
            out += &format!(
                "plan {plan:?} {:?}\n",
                store.plan_ticks(plan.id).expect("ticks")
            );
        }
        out
    }

    /// One raw HTTP request: (status, JSON body or Null).
    pub fn http(
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        http_bytes(
            method,
            url,
            token,
            body.map(|b| serde_json::to_vec(b).expect("json")),
        )
    }

    /// Like [`http`] with a raw body.
    pub fn http_bytes(
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, serde_json::Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(body.unwrap_or_default()).expect("a request");
        let mut resp = agent.run(req).expect("the server answers");
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(100 << 20)
            .read_to_vec()
            .expect("a body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }
}
