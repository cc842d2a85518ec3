//! Server configuration, from flags or the environment (`strideguard serve` and the
//! `strideguard-server` binary share these arguments).

use std::net::SocketAddr;
use std::path::PathBuf;

use strideguard_proto::wire::Limits;

/// Everything the HTTP layer needs to know besides where to listen and store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub limits: Limits,
    /// How long a login session lasts.
    pub token_ttl_ms: i64,
    /// How long tombstones are kept; devices whose cursor is older resync fully.
    pub tombstone_retention_ms: i64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            token_ttl_ms: 90 * 86_400_000,
            tombstone_retention_ms: 180 * 86_400_000,
        }
    }
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
                ..defaults
            },
            token_ttl_ms: i64::from(self.session_days) * 86_400_000,
            ..ServerConfig::default()
        }
    }
}
