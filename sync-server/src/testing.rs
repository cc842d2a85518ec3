//! A throwaway PostgreSQL cluster for the tests and benchmarks, and the choice of backend they
//! run on. Nothing depends on a system service: [`TempPostgres::start`] runs `initdb` and
//! `pg_ctl` (Debian's `postgresql-15` package, or any on `PATH`) in a temporary folder, on a
//! free port of 127.0.0.1, as the `postgres` user when run as root (PostgreSQL refuses root).
//! It is stopped and removed when dropped, and a watchdog removes it within a second of the
//! process ending however it ends, so a crashed test leaves no server behind.
//!
//! The tests take the backend as a parameter: `STRIDEGUARD_TEST_BACKEND=postgres` runs them
//! on PostgreSQL (a fresh database on one cluster per test process), `sharded` on users spread
//! over two such databases by the directory, anything else on SQLite.

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
    /// Users spread over two PostgreSQL databases by the directory ([`crate::ShardedStorage`]).
    Sharded,
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
            "sharded" => Backend::Sharded,
            _ => Backend::Sqlite,
        }
    }

    /// Whether the data is on PostgreSQL (one database or several), which every server
    /// process shares.
    pub fn is_postgres(self) -> bool {
        self != Backend::Sqlite
    }

    /// Two new databases, as `--shard` pairs of names and URLs.
    pub fn shards() -> Vec<(String, String)> {
        ["a", "b"]
            .iter()
            .map(|n| (n.to_string(), shared().create_database()))
            .collect()
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
            Backend::Sharded => Arc::new(
                crate::ShardedStorage::connect(&Backend::shards()).expect("the clusters open"),
            ),
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
            Backend::Sharded => {
                let shards = Backend::shards();
                (
                    Arc::new(crate::ShardedStorage::connect(&shards).expect("the clusters open")),
                    Arc::new(crate::ShardedStorage::connect(&shards).expect("the clusters open")),
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
        // Root then hands the folder to `postgres`.
        let dir = private_dir("strideguard-pg")?;
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

/// A pg_auto_failover formation in a temporary folder: a monitor and two PostgreSQL nodes, a
/// primary and its synchronous standby (Debian's `postgresql-15-auto-failover` package). Each
/// `pg_autoctl` runs in a process group of its own, so a test can kill a node whole, as a
/// machine dies. The monitor is tuned to notice a dead node in seconds rather than the
/// production default's minute. Stopped and removed when dropped, and by a watchdog if the
/// test process dies.
pub struct TempFormation {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub monitor_port: u16,
    pub node_ports: Vec<u16>,
    keepers: std::sync::Mutex<Vec<std::process::Child>>,
}

/// The database the formation's tests use.
pub const FORMATION_DATABASE: &str = "strideguard";

impl TempFormation {
    /// Starts the monitor, then a first node (the primary), then a second (its standby), and
    /// waits until the standby is streaming synchronously and a `strideguard` database exists.
    pub fn start() -> Result<TempFormation, String> {
        let bin = bin_dir()?;
        if !Path::new("/usr/bin/pg_autoctl").exists() && which("pg_autoctl").is_none() {
            return Err(
                "pg_auto_failover is not installed (no pg_autoctl): `apt-get install \
                 postgresql-15-auto-failover`, or run `bash .ci/run`, which installs it"
                    .into(),
            );
        }
        let as_postgres = running_as_root();
        let dir = private_dir("strideguard-paf")?;
        let mut f = TempFormation {
            dir,
            bin,
            as_postgres,
            monitor_port: free_port()?,
            node_ports: Vec::new(),
            keepers: std::sync::Mutex::new(Vec::new()),
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &f.dir.display().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot give the formation's folder to postgres".into());
            }
            // pg_autoctl reaches its nodes through the default socket folder.
            let _ = std::fs::create_dir_all("/var/run/postgresql");
            let _ = Command::new("chown")
                .args(["postgres:postgres", "/var/run/postgresql"])
                .status();
        }
        f.watch();
        let pgctl = f.bin.join("pg_ctl").display().to_string();
        let monitor = f.dir.join("monitor").display().to_string();
        let port = f.monitor_port.to_string();
        f.spawn_keeper(&[
            "create",
            "monitor",
            "--pgdata",
            &monitor,
            "--pgport",
            &port,
            "--pgctl",
            &pgctl,
            "--hostname",
            "127.0.0.1",
            "--auth",
            "trust",
            "--no-ssl",
            "--run",
        ])?;
        f.wait("the monitor", 60, || {
            let mut c = connect(f.monitor_port, "pg_auto_failover")?;
            // One at a time: ALTER SYSTEM refuses to run in a transaction.
            for (name, ms) in [
                ("health_check_period", 1000),
                ("health_check_timeout", 1000),
                ("health_check_max_retries", 1),
                ("health_check_retry_delay", 500),
                ("node_considered_unhealthy_timeout", 2000),
                ("primary_demote_timeout", 2000),
            ] {
                c.batch_execute(&format!("ALTER SYSTEM SET pgautofailover.{name} = {ms}"))
                    .map_err(|e| db_error(&e))?;
            }
            c.batch_execute("SELECT pg_reload_conf()")
                .map_err(|e| db_error(&e))
        })?;
        for (i, want) in [(1, "single"), (2, "secondary")] {
            let port = free_port()?;
            f.node_ports.push(port);
            let data = f.dir.join(format!("node{i}")).display().to_string();
            let monitor_url = format!(
                "postgres://autoctl_node@127.0.0.1:{}/pg_auto_failover?sslmode=disable",
                f.monitor_port
            );
            let port = port.to_string();
            let name = format!("node_{i}");
            f.spawn_keeper(&[
                "create",
                "postgres",
                "--pgdata",
                &data,
                "--pgport",
                &port,
                "--pgctl",
                &pgctl,
                "--hostname",
                "127.0.0.1",
                "--name",
                &name,
                "--auth",
                "trust",
                "--no-ssl",
                "--monitor",
                &monitor_url,
                "--run",
            ])?;
            f.wait(&format!("node {i}"), 120, || {
                let states = f.states()?;
                states
                    .iter()
                    .any(|(n, reported, goal)| *n == name && reported == want && goal == want)
                    .then_some(())
                    .ok_or_else(|| format!("{states:?}"))
            })?;
        }
        f.wait("the primary", 60, || {
            let states = f.states()?;
            states
                .iter()
                .any(|(_, r, g)| r == "primary" && g == "primary")
                .then_some(())
                .ok_or_else(|| format!("{states:?}"))
        })?;
        f.create_database(FORMATION_DATABASE)?;
        Ok(f)
    }

    /// The multi-host connection string a server is given: both nodes, the writable one
    /// wanted.
    pub fn url(&self) -> String {
        self.database_url(FORMATION_DATABASE)
    }

    /// [`TempFormation::url`] for database `db`.
    pub fn database_url(&self, db: &str) -> String {
        let hosts: Vec<String> = self
            .node_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!(
            "postgres://postgres@{}/{db}?target_session_attrs=read-write&connect_timeout=2",
            hosts.join(",")
        )
    }

    /// A new, empty database on the primary (replicated to the standby), and its multi-host
    /// URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let primary = self.primary().ok_or("no primary")?;
        connect(self.node_ports[primary], "postgres")?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| db_error(&e))?;
        Ok(self.database_url(name))
    }

    /// The URL of one node alone.
    pub fn node_url(&self, node: usize) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{FORMATION_DATABASE}",
            self.node_ports[node]
        )
    }

    /// Every node's name, reported and assigned state, as the monitor sees them.
    pub fn states(&self) -> Result<Vec<(String, String, String)>, String> {
        let mut c = connect(self.monitor_port, "pg_auto_failover")?;
        let rows = c
            .query(
                "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node
                 ORDER BY nodeid",
                &[],
            )
            .map_err(|e| db_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// The node that takes writes now, if one does.
    pub fn primary(&self) -> Option<usize> {
        (0..self.node_ports.len()).find(|&i| {
            connect(self.node_ports[i], "postgres")
                .and_then(|mut c| {
                    c.query_one("SELECT NOT pg_is_in_recovery()", &[])
                        .map(|r| r.get::<_, bool>(0))
                        .map_err(|e| e.to_string())
                })
                .unwrap_or(false)
        })
    }

    /// `kill -9` of a node's PostgreSQL (its postmaster) and of its `pg_autoctl`, at once: the
    /// machine is gone, and nothing restarts it.
    pub fn kill_node(&self, node: usize) -> Result<(), String> {
        let pid =
            std::fs::read_to_string(self.dir.join(format!("node{}/postmaster.pid", node + 1)))
                .map_err(|e| format!("node {node} has no postmaster.pid: {e}"))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
        let keeper = self.keepers.lock().unwrap_or_else(|p| p.into_inner())[node + 1].id();
        let killed = Command::new("kill")
            .args(["-9", &pid, "--", &format!("-{keeper}")])
            .status()
            .map_err(|e| e.to_string())?;
        killed
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -9 {pid} -{keeper} failed"))
    }

    /// Runs `pg_autoctl` with `args` in a process group of its own (as `postgres` when root),
    /// its configuration under the formation's folder, its output in a log there.
    fn spawn_keeper(&self, args: &[&str]) -> Result<(), String> {
        use std::os::unix::process::CommandExt;
        let n = self.keepers.lock().unwrap_or_else(|p| p.into_inner()).len();
        let log = std::fs::File::create(self.dir.join(format!("keeper{n}.log")))
            .map_err(|e| e.to_string())?;
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c
        } else {
            Command::new("/usr/bin/env")
        };
        // `env` sets the variables after `runuser`, which may reset some.
        if self.as_postgres {
            cmd.arg("/usr/bin/env");
        }
        cmd.arg(format!(
            "XDG_CONFIG_HOME={}",
            self.dir.join("config").display()
        ))
        .arg(format!(
            "XDG_DATA_HOME={}",
            self.dir.join("share").display()
        ))
        .arg(format!(
            "XDG_RUNTIME_DIR={}",
            self.dir.join("run").display()
        ))
        .arg(format!("PATH={}:/usr/bin:/bin", self.bin.display()))
        .arg("pg_autoctl")
        .args(args)
        .current_dir(&self.dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run pg_autoctl: {e}"))?;
        // For the watchdog: the group to kill if this process dies.
        let _ = std::fs::write(
            self.dir.join(format!("keeper{n}.pgid")),
            child.id().to_string(),
        );
        self.keepers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child);
        Ok(())
    }

    /// Polls `ready` every 200 ms for up to `seconds`, then fails with its last error and the
    /// keepers' logs.
    fn wait(
        &self,
        what: &str,
        seconds: u64,
        mut ready: impl FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let last = match ready() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if std::time::Instant::now() > until {
                let mut logs = String::new();
                for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
                    if e.file_name().to_string_lossy().ends_with(".log") {
                        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                        let tail: Vec<&str> = text.lines().rev().take(15).collect();
                        logs += &format!("\n--- {:?}\n", e.file_name());
                        logs += &tail.into_iter().rev().collect::<Vec<_>>().join("\n");
                    }
                }
                return Err(format!(
                    "{what} is not ready after {seconds} s: {last}{logs}"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// A shell in its own session that kills every keeper's group and its PostgreSQL, then
    /// removes the folder, once this process is gone.
    fn watch(&self) {
        let pgctl = self.bin.join("pg_ctl").display().to_string();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = self.stop_script(&pgctl),
            dir = self.dir.display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Shell that kills the keepers' process groups and stops any PostgreSQL left in the
    /// formation's folder.
    fn stop_script(&self, pgctl: &str) -> String {
        format!(
            "for g in '{dir}'/*.pgid; do [ -f \"$g\" ] && kill -9 -- -$(cat \"$g\") 2>/dev/null; done; \
             for d in '{dir}'/monitor '{dir}'/node*; do [ -f \"$d/postmaster.pid\" ] && \
             {runuser}'{pgctl}' -D \"$d\" -m immediate stop >/dev/null 2>&1; done; true",
            dir = self.dir.display(),
            runuser = if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
        )
    }
}

impl Drop for TempFormation {
    fn drop(&mut self) {
        let pgctl = self.bin.join("pg_ctl").display().to_string();
        for k in self
            .keepers
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .iter_mut()
        {
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{}", k.id())])
                .status();
            let _ = k.wait();
        }
        let _ = Command::new("sh")
            .args(["-c", &self.stop_script(&pgctl)])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection as `postgres` to `db` on a node of 127.0.0.1.
fn connect(port: u16, db: &str) -> Result<::postgres::Client, String> {
    let mut config = ::postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname(db)
        .connect_timeout(std::time::Duration::from_secs(2));
    config
        .connect(::postgres::NoTls)
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))
}

/// An error with PostgreSQL's own message, not just "db error".
fn db_error(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.exists())
}

/// A new folder of the temporary directory with a name no one can guess, made with `mkdir`
/// (which fails on anything already there, a symlink planted by another user included).
fn private_dir(prefix: &str) -> Result<PathBuf, String> {
    let mut random = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| "no system randomness".to_string())?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{suffix}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
