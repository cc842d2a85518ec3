//! Server configuration, from flags or the environment (`strideguard serve` and the
//! `strideguard-server` binary share these arguments).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use strideguard_proto::wire::Limits;

/// Everything the HTTP layer needs to know besides where to listen and store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub limits: Limits,
    /// How long a login session lasts.
    pub token_ttl_ms: i64,
    /// How long tombstones are kept; devices whose cursor is older resync fully.
    pub tombstone_retention_ms: i64,
    /// How long a connection may take to send a request's headers, and stay idle between
    /// requests: slowloris and forgotten keep-alives are closed after it.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive (408 after it).
    pub body_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed, so file descriptors stay
    /// for the ones being served.
    pub max_connections: usize,
    /// Pulls assembled and sent at once; more wait their turn (each holds a page in memory).
    pub max_concurrent_pulls: usize,
    /// Where the client's address is when a reverse proxy sits in front: the header it sets
    /// (`X-Forwarded-For`'s last entry, or `X-Real-IP`), believed only from `trusted_proxies`.
    pub client_ip_header: Option<String>,
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            token_ttl_ms: 90 * 86_400_000,
            tombstone_retention_ms: 180 * 86_400_000,
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            max_concurrent_pulls: 8,
            client_ip_header: None,
            trusted_proxies: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            ],
        }
    }
}

/// Connections the process can hold open: its file-descriptor limit (read from
/// `/proc/self/limits`; 1024 where that cannot be read) less a margin for the database, the
/// log and the listener.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(1024);
    (soft.saturating_sub(128).clamp(16, 16_384)) as usize
}

/// `serve` arguments. Every limit can be set; the defaults are the protocol's.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STRIDEGUARD_BIND", default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Directory for the server's database (created if missing).
    #[arg(
        long,
        env = "STRIDEGUARD_DATA",
        default_value = "strideguard-server-data"
    )]
    pub data: PathBuf,
    /// A PostgreSQL database to keep the data in instead of SQLite under `--data`: a
    /// `postgres://user:password@host/db` URL or `host=a,b dbname=... target_session_attrs=read-write`
    /// pairs (several hosts: the server follows the primary). Any number of servers may share
    /// one database.
    #[arg(long, env = "STRIDEGUARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Spread users over several PostgreSQL clusters: `--shard NAME=URL`, once per cluster
    /// (URLs as for `--database-url`). The first holds the directory of which user is where;
    /// a new user goes to the cluster with the fewest users. Every server is given the same
    /// list; names, once used, must not change. Instead of `--database-url`.
    #[arg(long = "shard", value_name = "NAME=URL", value_parser = shard, conflicts_with = "database_url")]
    pub shards: Vec<(String, String)>,
    /// Largest sealed record, in bytes.
    #[arg(long, env = "STRIDEGUARD_MAX_RECORD_BYTES", default_value_t = Limits::default().record_payload_bytes)]
    pub max_record_bytes: usize,
    /// Most records in one upload.
    #[arg(long, env = "STRIDEGUARD_MAX_BATCH_RECORDS", default_value_t = Limits::default().batch_records)]
    pub max_batch_records: usize,
    /// Most payload bytes in one upload.
    #[arg(long, env = "STRIDEGUARD_MAX_BATCH_BYTES", default_value_t = Limits::default().batch_bytes)]
    pub max_batch_bytes: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "STRIDEGUARD_MAX_BODY_BYTES", default_value_t = Limits::default().body_bytes)]
    pub max_body_bytes: usize,
    /// Storage each user may use, in bytes.
    #[arg(long, env = "STRIDEGUARD_QUOTA_BYTES", default_value_t = Limits::default().quota_bytes)]
    pub quota_bytes: u64,
    /// Login attempts per minute for one username.
    #[arg(long, env = "STRIDEGUARD_LOGINS_PER_MINUTE_PER_USER", default_value_t = Limits::default().logins_per_minute_per_user)]
    pub logins_per_minute_per_user: u32,
    /// Login and registration attempts per minute from one IP address.
    #[arg(long, env = "STRIDEGUARD_LOGINS_PER_MINUTE_PER_IP", default_value_t = Limits::default().logins_per_minute_per_ip)]
    pub logins_per_minute_per_ip: u32,
    /// Authenticated requests per minute for one user.
    #[arg(long, env = "STRIDEGUARD_REQUESTS_PER_MINUTE", default_value_t = Limits::default().requests_per_minute_per_user)]
    pub requests_per_minute: u32,
    /// Fewest PBKDF2 iterations an account may register with.
    #[arg(long, env = "STRIDEGUARD_MIN_KDF_ITERATIONS", default_value_t = Limits::default().min_kdf_iterations)]
    pub min_kdf_iterations: u32,
    /// Days a login session lasts.
    #[arg(long, env = "STRIDEGUARD_SESSION_DAYS", default_value_t = 90)]
    pub session_days: u32,
    /// Devices (not revoked) one account may have.
    #[arg(long, env = "STRIDEGUARD_MAX_DEVICES", default_value_t = Limits::default().devices_per_account)]
    pub max_devices: usize,
    /// Key-derivation lookups per minute from one IP address.
    #[arg(long, env = "STRIDEGUARD_KDF_LOOKUPS_PER_MINUTE_PER_IP", default_value_t = Limits::default().kdf_lookups_per_minute_per_ip)]
    pub kdf_lookups_per_minute_per_ip: u32,
    /// Seconds a connection may take to send its request headers, or stay idle between
    /// requests, before it is closed.
    #[arg(long, env = "STRIDEGUARD_HEADER_TIMEOUT_SECS", default_value_t = 15)]
    pub header_timeout_secs: u64,
    /// Seconds a request body may take to arrive (answered 408 after).
    #[arg(long, env = "STRIDEGUARD_BODY_TIMEOUT_SECS", default_value_t = 60)]
    pub body_timeout_secs: u64,
    /// Connections open at once (default: the file-descriptor limit less 128); more are
    /// answered 503 and closed.
    #[arg(long, env = "STRIDEGUARD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest the database may grow, in bytes; past it writes are answered 507 (as on a full
    /// disk) while reads go on.
    #[arg(long, env = "STRIDEGUARD_MAX_DATA_BYTES")]
    pub max_data_bytes: Option<u64>,
    /// Behind a reverse proxy: the header holding the client's address (`X-Forwarded-For`,
    /// whose last entry is used, or `X-Real-IP`), for the per-IP limits.
    #[arg(long, env = "STRIDEGUARD_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Addresses of the proxies whose client-address header is believed (repeat the flag, or
    /// separate with commas). Default: 127.0.0.1 and ::1.
    #[arg(long, env = "STRIDEGUARD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<IpAddr>,
}

impl ServeArgs {
    pub fn config(&self) -> ServerConfig {
        let defaults = Limits::default();
        ServerConfig {
            limits: Limits {
                record_payload_bytes: self.max_record_bytes,
                batch_records: self.max_batch_records,
                batch_bytes: self.max_batch_bytes,
                body_bytes: self.max_body_bytes,
                quota_bytes: self.quota_bytes,
                logins_per_minute_per_user: self.logins_per_minute_per_user,
                logins_per_minute_per_ip: self.logins_per_minute_per_ip,
                requests_per_minute_per_user: self.requests_per_minute,
                min_kdf_iterations: self.min_kdf_iterations,
                devices_per_account: self.max_devices,
                kdf_lookups_per_minute_per_ip: self.kdf_lookups_per_minute_per_ip,
                ..defaults
            },
            token_ttl_ms: i64::from(self.session_days) * 86_400_000,
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            max_connections: self
                .max_connections
                .unwrap_or_else(default_max_connections)
                .max(1),
            client_ip_header: self.client_ip_header.clone(),
            trusted_proxies: if self.trusted_proxy.is_empty() {
                ServerConfig::default().trusted_proxies
            } else {
                self.trusted_proxy.clone()
            },
            ..ServerConfig::default()
        }
    }
}

/// `NAME=URL` of `--shard`.
fn shard(v: &str) -> Result<(String, String), String> {
    let (name, url) = v.split_once('=').ok_or_else(|| {
        format!("'{v}' is not NAME=URL (for example a=postgres://db-a/strideguard)")
    })?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "the cluster name '{name}' must be letters, digits, '-' or '_'"
        ));
    }
    if url.is_empty() {
        return Err(format!("cluster '{name}' has no URL"));
    }
    Ok((name.to_string(), url.to_string()))
}
