//! A throwaway PostgreSQL cluster for the tests and benchmarks, and the choice of backend they
//! run on. Nothing depends on a system service: [`TempPostgres::start`] runs `initdb` and
//! `pg_ctl` (Debian's `postgresql-15` package, or any on `PATH`) in a temporary folder, on a
//! free port of 127.0.0.1, as the `postgres` user when run as root (PostgreSQL refuses root).
//! It is stopped and removed when dropped, and a watchdog removes it within a second of the
//! process ending however it ends, so a crashed test leaves no server behind.
//!
//! The tests take the backend as a parameter: `STRIDEGUARD_TEST_BACKEND=postgres` runs them
//! on PostgreSQL (a fresh database on one cluster per test process), anything else on SQLite.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::storage::Storage;
use crate::{PostgresStorage, SqliteStorage};

/// Which storage the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `STRIDEGUARD_TEST_BACKEND`: `postgres` (or `postgresql`, `pg`), else SQLite.
    pub fn from_env() -> Backend {
        match std::env::var("STRIDEGUARD_TEST_BACKEND")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "postgres" | "postgresql" | "pg" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// A new, empty storage: SQLite in `dir`, or a database of its own on the process's
    /// cluster.
    pub fn storage(self, dir: &Path) -> Arc<dyn Storage> {
        match self {
            Backend::Sqlite => {
                Arc::new(SqliteStorage::open(dir).expect("the SQLite storage opens"))
            }
            Backend::Postgres => {
                let url = shared().create_database();
                Arc::new(PostgresStorage::connect(&url).expect("the PostgreSQL storage opens"))
            }
        }
    }
}

impl Backend {
    /// Two storages over the same data, as two server processes sharing one database: two
    /// connections pools on one PostgreSQL database, or two SQLite storages on one file.
    pub fn storage_pair(self, dir: &Path) -> (Arc<dyn Storage>, Arc<dyn Storage>) {
        match self {
            Backend::Sqlite => (
                Arc::new(SqliteStorage::open(dir).expect("the SQLite storage opens")),
                Arc::new(SqliteStorage::open(dir).expect("the SQLite storage opens")),
            ),
            Backend::Postgres => {
                let url = shared().create_database();
                (
                    Arc::new(PostgresStorage::connect(&url).expect("the storage opens")),
                    Arc::new(PostgresStorage::connect(&url).expect("the storage opens")),
                )
            }
        }
    }
}

/// One cluster for the whole test process, started on first use.
pub fn shared() -> &'static TempPostgres {
    static SHARED: OnceLock<TempPostgres> = OnceLock::new();
    SHARED.get_or_init(|| TempPostgres::start().unwrap_or_else(|e| panic!("{e}")))
}

/// A PostgreSQL cluster in a temporary folder.
pub struct TempPostgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
    durable: bool,
    databases: AtomicUsize,
}

/// Where the PostgreSQL programs are: the newest of Debian's versions, else `PATH`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .ok_or_else(|| {
            "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): \
             `apt-get install postgresql-15`, or run `bash .ci/run`, which installs it"
                .to_string()
        })
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl TempPostgres {
    /// Starts a cluster: `initdb`, then `pg_ctl start` on a free port, waiting until it takes
    /// connections. Without fsync: a test's cluster is thrown away, and durability is
    /// PostgreSQL's to keep, not the tests' to measure.
    pub fn start() -> Result<TempPostgres, String> {
        TempPostgres::start_with(false)
    }

    /// [`TempPostgres::start`] with every commit flushed to disk, as a real server runs: for
    /// benchmarks.
    pub fn start_durable() -> Result<TempPostgres, String> {
        TempPostgres::start_with(true)
    }

    fn start_with(durable: bool) -> Result<TempPostgres, String> {
        let bin = bin_dir()?;
        let as_postgres = running_as_root();
        // A name no one can guess, made with `mkdir` (which fails on anything already there,
        // a symlink planted by another user included): root then hands it to `postgres`.
        let mut random = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| "no system randomness".to_string())?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dir =
            std::env::temp_dir().join(format!("strideguard-pg-{}-{suffix}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut pg = TempPostgres {
            dir,
            bin,
            port: 0,
            as_postgres,
            durable,
            databases: AtomicUsize::new(0),
        };
        if as_postgres {
            pg.run_as_root(
                "chown",
                &["postgres:postgres", &pg.dir.display().to_string()],
            )?;
        }
        pg.watch();
        let data = pg.data().display().to_string();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let mut last = String::new();
        for _ in 0..3 {
            pg.port = free_port()?;
            pg.durable = durable;
            let options = pg.options();
            let log = pg.dir.join("postgres.log").display().to_string();
            match pg.run(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
            ) {
                Ok(_) => return Ok(pg),
                Err(e) => last = e,
            }
        }
        Err(format!("PostgreSQL did not start: {last}"))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's options: its port, socket folder and loopback, and (unless durable) no
    /// flushing to disk.
    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400{}",
            self.port,
            self.dir.display(),
            if self.durable {
                ""
            } else {
                " -c fsync=off -c full_page_writes=off"
            }
        )
    }

    /// Runs a PostgreSQL program, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
            ))
        }
    }

    fn run_as_root(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let ok = Command::new(program)
            .args(args)
            .status()
            .map_err(|e| format!("cannot run {program}: {e}"))?
            .success();
        ok.then_some(())
            .ok_or_else(|| format!("{program} {args:?} failed"))
    }

    /// A shell in its own session that stops the cluster and removes its folder once this
    /// process is gone: a test that panics, or is killed, leaves nothing running.
    fn watch(&self) {
        let stop = format!(
            "{}'{}' -D '{}' -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data().display()
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             [ -f '{data}/postmaster.pid' ] && {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database, and its URL.
    pub fn create_database(&self) -> String {
        let name = format!("sg_{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let mut admin = ::postgres::Client::connect(&self.url("postgres"), ::postgres::NoTls)
            .expect("the test cluster takes connections");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("a test database");
        self.url(&name)
    }

    /// The files of the database at `url` and the cluster's write-ahead log, as bytes, after
    /// a checkpoint (so everything committed is in them): what an attacker with the disk reads.
    pub fn database_files(&self, url: &str) -> Vec<u8> {
        let mut c = ::postgres::Client::connect(url, ::postgres::NoTls)
            .expect("the test cluster takes connections");
        c.batch_execute("CHECKPOINT").expect("a checkpoint");
        let oid: u32 = c
            .query_one(
                "SELECT oid FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .expect("the database's oid")
            .get(0);
        let mut out = Vec::new();
        for folder in [
            self.data().join("base").join(oid.to_string()),
            self.data().join("pg_wal"),
        ] {
            for e in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                if let Ok(b) = std::fs::read(e.path()) {
                    out.extend(b);
                }
            }
        }
        out
    }

    /// Stops the cluster at once (as a crash would: no checkpoint), keeping its folder, so a
    /// test can start it again with [`TempPostgres::restart`].
    pub fn kill(&self) -> Result<(), String> {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"])
            .map(|_| ())
    }

    /// Starts a cluster stopped by [`TempPostgres::kill`] again, on the same port.
    pub fn restart(&self) -> Result<(), String> {
        let data = self.data().display().to_string();
        let options = self.options();
        let log = self.dir.join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        )
        .map(|_| ())
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
