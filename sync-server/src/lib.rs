//! Strideguard's sync server: stores and orders the encrypted records of each runner's devices
//! without being able to read them (../shared/sync-protocol.md).
//!
//! - [`api`]: the HTTP API on axum, with authentication, limits and metrics.
//! - [`storage`]: the `Storage` trait; [`sqlite`]: its embedded SQLite implementation.
//! - [`config`]: flags and environment; [`rate`]: rate limits; [`openapi`]: the API document.
//!
//! [`serve`] runs the server until a shutdown signal; [`RunningServer::start`] runs one on its
//! own thread, for tests, benchmarks and the demo.

pub mod api;
pub mod config;
pub mod metrics;
pub mod openapi;
pub mod rate;
pub mod sqlite;
pub mod storage;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use strideguard_proto::clock::{Clock, SystemClock};

pub use config::{ServeArgs, ServerConfig};
pub use sqlite::SqliteStorage;
pub use storage::{Storage, StorageError};

/// Everything a server needs besides its socket.
pub fn state(
    storage: Arc<dyn Storage>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Arc<api::AppState> {
    Arc::new(api::AppState {
        storage,
        config,
        clock,
        limiter: rate::RateLimiter::default(),
        metrics: metrics::Metrics::default(),
    })
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
/// Tombstones older than the retention are purged at start and hourly.
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
    let app = api::router(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    purger.abort();
    result
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
    let storage = Arc::new(SqliteStorage::open(&args.data)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %args.data.display(), "strideguard sync server listening");
        eprintln!(
            "strideguard sync server on http://{addr} (data in {})",
            args.data.display()
        );
        let st = state(storage, args.config(), Arc::new(SystemClock));
        serve(listener, st, shutdown_signal()).await?;
        Ok(())
    })
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
