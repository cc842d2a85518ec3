//! Strideguard's sync server: stores and orders the encrypted records of each runner's devices
//! without being able to read them (../shared/sync-protocol.md).
//!
//! - [`api`]: the HTTP API on axum, with authentication, limits and metrics.
//! - [`storage`]: the `Storage` trait; [`sqlite`]: its embedded SQLite implementation;
//!   [`postgres`]: PostgreSQL, for several server processes on one database;
//!   [`shards`]: users spread over several PostgreSQL clusters by a directory.
//! - [`testing`]: a throwaway PostgreSQL cluster for the tests and benchmarks.
//! - [`config`]: flags and environment; [`rate`]: rate limits; [`openapi`]: the API document.
//!
//! [`serve`] runs the server until a shutdown signal; [`RunningServer::start`] runs one on its
//! own thread, for tests, benchmarks and the demo.

pub mod api;
pub mod config;
pub mod metrics;
pub mod openapi;
pub mod postgres;
pub mod rate;
pub mod shards;
pub mod sqlite;
pub mod storage;
pub mod testing;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use strideguard_proto::clock::{Clock, SystemClock};

pub use config::{ServeArgs, ServerConfig};
pub use postgres::PostgresStorage;
pub use shards::ShardedStorage;
pub use sqlite::SqliteStorage;
pub use storage::{Storage, StorageError};

/// Everything a server needs besides its socket.
pub fn state(
    storage: Arc<dyn Storage>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Arc<api::AppState> {
    Arc::new(api::AppState {
        pulls: Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_pulls.max(1),
        )),
        storage,
        config,
        clock,
        limiter: rate::RateLimiter::default(),
        metrics: metrics::Metrics::default(),
        kdf_spread: std::sync::Mutex::new(None),
    })
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
/// Tombstones older than the retention are purged at start and hourly.
///
/// Connections are served here rather than by `axum::serve` for the limits it lacks: at most
/// `max_connections` open at once (the rest answered 503 and closed), and a header timeout
/// that also ends idle keep-alive connections. Each limit logs when it acts.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<api::AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge_state = state.clone();
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let s = purge_state.clone();
            let before = s.clock.now_ms() - s.config.tombstone_retention_ms;
            let res = tokio::task::spawn_blocking(move || s.storage.purge_tombstones(before)).await;
            match res {
                Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "old tombstones dropped"),
                Ok(Err(e)) => tracing::warn!(error = %e, "purging tombstones failed"),
                _ => {}
            }
        }
    });
    let app = api::router(state.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(state.config.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_logged = std::time::Instant::now() - std::time::Duration::from_secs(60);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            state.metrics.limited("max_connections");
            if refused_logged.elapsed() >= std::time::Duration::from_secs(10) {
                refused_logged = std::time::Instant::now();
                tracing::warn!(
                    max = state.config.max_connections,
                    "connection limit reached: refusing new connections with 503"
                );
            }
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let mut app = app.clone();
                async move {
                    tower_service::Service::call(&mut app, req.map(axum::body::Body::new)).await
                }
            });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(state.config.header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        let st = state.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                if e.is_timeout() {
                    st.metrics.limited("header_timeout");
                    tracing::info!(%peer, secs = st.config.header_timeout.as_secs(), "closed a connection that sent no request in time");
                } else if !e.is_incomplete_message() {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    // Finish what is in flight, for as long as a body may take.
    let grace = state.config.body_timeout + state.config.header_timeout;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period; closing them");
    }
    purger.abort();
    Ok(())
}

/// The answer for a connection over the limit: a short 503 with a JSON body, then close.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = r#"{"error":"unavailable","message":"the server is at its connection limit; retry shortly","limit":"max_connections"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Logs to stderr (`RUST_LOG` filters; default: the server's info lines), in colour only on a
/// terminal.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "strideguard_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Runs `strideguard serve` with these arguments until ctrl-c or SIGTERM.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    if (args.database_url.is_some() || !args.shards.is_empty()) && args.max_data_bytes.is_some() {
        anyhow::bail!(
            "--max-data-bytes is for the SQLite database; PostgreSQL's size is its own to \
             limit (a full disk there is answered 507 all the same)"
        );
    }
    let (storage, place): (Arc<dyn Storage>, String) = match &args.database_url {
        None if !args.shards.is_empty() => (
            Arc::new(ShardedStorage::connect(&args.shards)?),
            format!(
                "PostgreSQL clusters {}",
                args.shards
                    .iter()
                    .map(|(n, u)| format!("{n}={}", redacted(u)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some(url) => (
            Arc::new(PostgresStorage::connect(url)?),
            format!("PostgreSQL at {}", redacted(url)),
        ),
        None => (
            Arc::new(SqliteStorage::open_with_limit(
                &args.data,
                args.max_data_bytes,
            )?),
            args.data.display().to_string(),
        ),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %place, "strideguard sync server listening");
        eprintln!("strideguard sync server on http://{addr} (data in {place})");
        let st = state(storage, args.config(), Arc::new(SystemClock));
        serve(listener, st, shutdown_signal()).await?;
        Ok(())
    })
}

/// A database URL fit for a log line: the password, if any, left out.
fn redacted(url: &str) -> String {
    match url.parse::<::postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .zip(c.get_ports().iter().chain(std::iter::repeat(&5432)))
                .map(|(h, p)| match h {
                    ::postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
                    #[cfg(unix)]
                    ::postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            format!(
                "{}/{}",
                hosts.join(","),
                c.get_dbname().unwrap_or("(default database)")
            )
        }
        Err(_) => "(an unreadable URL)".into(),
    }
}

/// A server on its own thread and runtime; stops (gracefully) when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Binds `bind` (port 0 picks a free one) and serves `storage`.
    pub fn start(
        bind: SocketAddr,
        storage: Arc<dyn Storage>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<RunningServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(bind))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state(storage, config, clock);
        let thread = std::thread::Builder::new()
            .name(format!("strideguard-server-{addr}"))
            .spawn(move || {
                runtime.block_on(serve(listener, st, async {
                    let _ = rx.await;
                }))
            })?;
        Ok(RunningServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes requests in flight and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
