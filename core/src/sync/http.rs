//! The HTTP client of the sync API (ureq over rustls): timeouts on every request, retries with
//! exponential backoff when the network or the server fails (never when the server refused),
//! and each answer mapped to a typed error. Every request it retries is safe to repeat: an
//! upload the server already holds is acknowledged again without creating anything.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{Method, Request};

use super::engine::{PushReply, Transport, TransportError};
use strideguard_proto::frames;

use super::wire::{
    ConflictResponse, DeleteAccountRequest, Device, DevicesResponse, ErrorBody, KdfResponse,
    KeysResponse, Limits, LoginRequest, NewDeviceRequest, PostRecordsRequest, PostRecordsResponse,
    PutKeysRequest, RecordUpload, RecordsPage, RegisterRequest, SessionResponse,
};
use crate::crypto::KdfParams;

/// Answers up to this size are read (a records page is at most 10 MB of payload as base64).
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// The newest records wire this build speaks.
pub const WIRE_VERSION: u8 = 2;

/// A connection to one sync server.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    base: String,
    retries: u32,
    first_backoff: Duration,
    /// Stops retrying (and waiting between retries) once set.
    cancel: Option<crate::cancel::Cancel>,
    /// The newest records wire this client may use; the server's limits may say less.
    wire_version: u8,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .finish()
    }
}

/// What a request is for, which decides its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Records, devices, keys: retried through busy answers (429, 5xx but 507) and dropped
    /// connections.
    Data,
    /// Proving a passphrase (register, the KDF look-up, login): a 429 means too many attempts,
    /// so it is said at once (with the server's wait) instead of spending more of them.
    Auth,
}

struct Answer {
    status: u16,
    retry_after_s: Option<u64>,
    body: Vec<u8>,
    /// The body is frames (`/v2/records`), not JSON.
    frames: bool,
}

/// A failed request in words a runner can act on: no socket error numbers.
fn network_error(base: &str, e: &ureq::Error) -> TransportError {
    use std::io::ErrorKind as K;
    let why = match e {
        ureq::Error::HostNotFound => {
            "the server's name was not found (check the address, or the network)".to_string()
        }
        ureq::Error::ConnectionFailed => {
            "the connection failed (is the server running, and the network up?)".to_string()
        }
        ureq::Error::Timeout(_) => "the server did not answer in time".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => {
                "the connection was refused (is the server running?)".to_string()
            }
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                "the connection was cut off".to_string()
            }
            K::TimedOut => "the server did not answer in time".to_string(),
            K::NetworkUnreachable | K::HostUnreachable => "the network is unreachable".to_string(),
            _ => {
                let text = io.to_string();
                match text.find(" (os error") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                }
            }
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            "the secure connection failed (is the certificate valid?)".to_string()
        }
        ureq::Error::BodyExceedsLimit(_) => "the server's answer was too large".to_string(),
        other => other.to_string(),
    };
    TransportError::Network(format!("cannot reach the server at {base}: {why}"))
}

impl HttpClient {
    /// A client for the server at `base_url` (`http://` or `https://`).
    pub fn new(base_url: &str) -> Result<HttpClient, TransportError> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        let host = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .unwrap_or_default();
        if host.is_empty()
            || host.contains(['/', '?', '#', ' '])
            || host.parse::<ureq::http::Uri>().is_err()
        {
            return Err(TransportError::InvalidUrl(base_url.to_string()));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("strideguard/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(HttpClient {
            agent,
            base,
            retries: 4,
            first_backoff: Duration::from_millis(250),
            cancel: None,
            wire_version: WIRE_VERSION,
        })
    }

    /// How many times a failed request is retried, and the first wait (doubling each time).
    pub fn with_retries(mut self, retries: u32, first_backoff: Duration) -> HttpClient {
        self.retries = retries;
        self.first_backoff = first_backoff;
        self
    }

    /// Uses at most records wire `version` (1: JSON on `/v1/records`; 2: frames on
    /// `/v2/records`), as an older client would.
    pub fn with_wire_version(mut self, version: u8) -> HttpClient {
        self.wire_version = version.clamp(1, WIRE_VERSION);
        self
    }

    /// Gives up on retries, and on the wait before one, once `cancel` is set: a cancelled sync
    /// stops after the request in flight instead of after every retry.
    pub fn with_cancel(mut self, cancel: crate::cancel::Cancel) -> HttpClient {
        self.cancel = Some(cancel);
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    /// Sleeps `d`, in slices, stopping early when cancelled.
    fn wait(&self, d: Duration) {
        let until = std::time::Instant::now() + d;
        while !self.cancelled() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        kind: Purpose,
    ) -> Result<Answer, TransportError> {
        self.send_as(method, path, token, body, "application/json", kind)
    }

    /// [`HttpClient::send`] with the body's (and the answer's) media type.
    fn send_as(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        media: &str,
        kind: Purpose,
    ) -> Result<Answer, TransportError> {
        let mut wait = self.first_backoff;
        let mut attempt = 0;
        loop {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", self.base))
                .header("accept", media);
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if body.is_some() {
                req = req.header("content-type", media);
            }
            let req = req
                .body(body.clone().unwrap_or_default())
                .map_err(|e| TransportError::Protocol(e.to_string()))?;
            let outcome = self.agent.run(req).and_then(|mut resp| {
                let status = resp.status().as_u16();
                let frames = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with(frames::CONTENT_TYPE));
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER)
                    .read_to_vec()?;
                Ok((status, retry_after, body, frames))
            });
            let retryable = match &outcome {
                Ok((429, ..)) => kind == Purpose::Data,
                // A full disk needs an operator, not a retry in a few seconds.
                Ok((507, ..)) => false,
                Ok((status, ..)) => *status >= 500,
                Err(_) => true,
            };
            if !retryable || attempt >= self.retries || self.cancelled() {
                return match outcome {
                    Ok((status, retry_after_s, body, frames)) => Ok(Answer {
                        status,
                        retry_after_s,
                        body,
                        frames,
                    }),
                    Err(e) => Err(network_error(&self.base, &e)),
                };
            }
            if let Ok((_, Some(secs), ..)) = &outcome {
                wait = wait.max(Duration::from_secs((*secs).min(30)));
            }
            self.wait(wait);
            if self.cancelled() {
                return Err(TransportError::Cancelled);
            }
            wait = wait.saturating_mul(2).min(Duration::from_secs(30));
            attempt += 1;
        }
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<T, TransportError> {
        self.call_as(Purpose::Data, method, path, token, body)
    }

    fn call_as<T: DeserializeOwned>(
        &self,
        kind: Purpose,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<T, TransportError> {
        let body = body.map(|b| serde_json::to_vec(b).expect("requests serialise"));
        let answer = self.send(method, path, token, body, kind)?;
        if (200..300).contains(&answer.status) {
            parse(&answer.body)
        } else {
            Err(error_of(&answer))
        }
    }

    /// The key-derivation parameters of `username` (public: needed before logging in).
    pub fn kdf(&self, username: &str) -> Result<KdfParams, TransportError> {
        let path = format!("/v1/accounts/{}/kdf", percent_encode(username));
        Ok(self
            .call_as::<KdfResponse>(Purpose::Auth, Method::GET, &path, None, None::<&()>)?
            .kdf)
    }

    pub fn register(&self, req: &RegisterRequest) -> Result<(), TransportError> {
        self.call_as::<serde_json::Value>(
            Purpose::Auth,
            Method::POST,
            "/v1/accounts",
            None,
            Some(req),
        )
        .map(|_| ())
    }

    pub fn login(&self, req: &LoginRequest) -> Result<SessionResponse, TransportError> {
        self.call_as(Purpose::Auth, Method::POST, "/v1/sessions", None, Some(req))
    }

    /// Ends this session on the server.
    pub fn logout(&self, token: &str) -> Result<(), TransportError> {
        self.call::<serde_json::Value>(Method::DELETE, "/v1/sessions", Some(token), None::<&()>)
            .map(|_| ())
    }

    /// Deletes the account for good (every record, device and session); `req` proves the
    /// passphrase.
    pub fn delete_account(
        &self,
        token: &str,
        req: &DeleteAccountRequest,
    ) -> Result<(), TransportError> {
        // ureq sends a body with DELETE only when told to, which `send` cannot say.
        let body = serde_json::to_vec(req).expect("requests serialise");
        let result = self
            .agent
            .delete(format!("{}/v1/accounts", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .force_send_body()
            .send(&body[..]);
        let mut resp = result.map_err(|e| network_error(&self.base, &e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| network_error(&self.base, &e))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(error_of(&Answer {
                status,
                retry_after_s: None,
                body,
                frames: false,
            }))
        }
    }

    pub fn keys(&self, token: &str) -> Result<KeysResponse, TransportError> {
        self.call(Method::GET, "/v1/keys", Some(token), None::<&()>)
    }

    pub fn put_keys(&self, token: &str, req: &PutKeysRequest) -> Result<(), TransportError> {
        self.call::<serde_json::Value>(Method::PUT, "/v1/keys", Some(token), Some(req))
            .map(|_| ())
    }

    pub fn devices(&self, token: &str) -> Result<Vec<Device>, TransportError> {
        Ok(self
            .call::<DevicesResponse>(Method::GET, "/v1/devices", Some(token), None::<&()>)?
            .devices)
    }

    /// Registers another device of the account and returns a session for it.
    pub fn add_device(&self, token: &str, name: &str) -> Result<SessionResponse, TransportError> {
        self.call(
            Method::POST,
            "/v1/devices",
            Some(token),
            Some(&NewDeviceRequest {
                name: name.to_string(),
            }),
        )
    }

    /// Revokes a device: its sessions end at once.
    pub fn revoke_device(&self, token: &str, device_id: &str) -> Result<(), TransportError> {
        let path = format!("/v1/devices/{}", percent_encode(device_id));
        self.call::<serde_json::Value>(Method::DELETE, &path, Some(token), None::<&()>)
            .map(|_| ())
    }

    pub fn limits(&self) -> Result<Limits, TransportError> {
        self.call(Method::GET, "/v1/limits", None, None::<&()>)
    }

    /// The transport the sync engine uses, for this session.
    pub fn transport(&self, token: &str) -> HttpTransport {
        HttpTransport {
            client: self.clone(),
            token: token.to_string(),
            wire_version: 1,
            ahead: None,
        }
    }

    /// One page of records after `since`, over records wire `wire_version`.
    fn pull_page(
        &self,
        token: &str,
        since: i64,
        wire_version: u8,
    ) -> Result<RecordsPage, TransportError> {
        if wire_version < 2 {
            return self.call(
                Method::GET,
                &format!("/v1/records?since={since}"),
                Some(token),
                None::<&()>,
            );
        }
        let answer = self.send_as(
            Method::GET,
            &format!("/v2/records?since={since}"),
            Some(token),
            None,
            frames::CONTENT_TYPE,
            Purpose::Data,
        )?;
        match answer.status {
            // Bounded by the answer's size, not today's upload limit: a record stored under an
            // older, larger limit must still come down.
            200..=299 if answer.frames => frames::decode_page(&answer.body, MAX_ANSWER as usize)
                .map_err(|e| TransportError::Protocol(format!("the records page: {e}"))),
            200..=299 => Err(TransportError::Protocol(
                "the records page is not a frames body".into(),
            )),
            _ => Err(error_of(&answer)),
        }
    }
}

/// A page being fetched while the previous one is applied.
struct Ahead {
    since: i64,
    page: std::thread::JoinHandle<Result<RecordsPage, TransportError>>,
}

/// The engine's [`Transport`] over HTTP, for one session. It speaks the newest records wire
/// both it and the server know (the server says which in its limits), and fetches the next
/// page of a pull while the engine applies the one before.
pub struct HttpTransport {
    client: HttpClient,
    token: String,
    /// Negotiated in [`Transport::limits`]; 1 until then.
    wire_version: u8,
    ahead: Option<Ahead>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.client.base)
            .field("wire_version", &self.wire_version)
            .finish()
    }
}

impl HttpTransport {
    /// The records wire this transport speaks now.
    pub fn wire_version(&self) -> u8 {
        self.wire_version
    }
}

impl Transport for HttpTransport {
    fn limits(&mut self) -> Result<Limits, TransportError> {
        let limits = self.client.limits()?;
        self.wire_version = limits.wire_version.clamp(1, self.client.wire_version);
        Ok(limits)
    }

    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError> {
        if let Some(ahead) = self.ahead.take()
            && ahead.since == since
        {
            return ahead
                .page
                .join()
                .unwrap_or_else(|_| Err(TransportError::Protocol("the page fetch failed".into())));
        }
        let page = self.client.pull_page(&self.token, since, self.wire_version);
        self.fell_back(page, |t| t.client.pull_page(&t.token, since, 1))
    }

    fn prefetch(&mut self, since: i64) {
        let (client, token) = (self.client.clone(), self.token.clone());
        let wire = self.wire_version;
        let page = std::thread::Builder::new()
            .name("strideguard-pull".into())
            .spawn(move || client.pull_page(&token, since, wire));
        // Without a thread the next pull simply fetches in turn.
        self.ahead = page.ok().map(|page| Ahead { since, page });
    }

    fn binary(&self) -> bool {
        self.wire_version >= 2
    }

    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError> {
        let reply = self.push_as(batch, self.wire_version);
        self.fell_back(reply, |t| t.push_as(batch, 1))
    }

    /// The upload goes from a thread of its own while `meanwhile` runs here.
    fn push_while(
        &mut self,
        batch: &[RecordUpload],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<PushReply, TransportError> {
        let (this, wire) = (&*self, self.wire_version);
        let reply = std::thread::scope(|scope| {
            let sending = std::thread::Builder::new()
                .name("strideguard-push".into())
                .spawn_scoped(scope, move || this.push_as(batch, wire));
            meanwhile();
            match sending {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(TransportError::Protocol("the upload thread failed".into()))
                }),
                // Without a thread the upload simply goes after.
                Err(_) => this.push_as(batch, wire),
            }
        });
        self.fell_back(reply, |t| t.push_as(batch, 1))
    }
}

impl HttpTransport {
    /// A `/v2` request the server does not route (404, 405) was answered by an older server
    /// behind the same address (a rolling upgrade): from then on this transport speaks JSON,
    /// starting with `again`.
    fn fell_back<T>(
        &mut self,
        result: Result<T, TransportError>,
        again: impl FnOnce(&mut HttpTransport) -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        match result {
            Err(TransportError::Rejected {
                status: 404 | 405, ..
            }) if self.wire_version >= 2 => {
                self.wire_version = 1;
                self.ahead = None;
                again(self)
            }
            other => other,
        }
    }

    fn push_as(&self, batch: &[RecordUpload], wire: u8) -> Result<PushReply, TransportError> {
        let (path, media, body) = if wire >= 2 {
            let body = frames::encode_upload(batch)
                .map_err(|e| TransportError::Protocol(format!("cannot send the batch: {e}")))?;
            ("/v2/records", frames::CONTENT_TYPE, body)
        } else {
            let body = serde_json::to_vec(&PostRecordsRequest {
                records: batch.to_vec(),
            })
            .expect("records serialise");
            ("/v1/records", "application/json", body)
        };
        let answer = self.client.send_as(
            Method::POST,
            path,
            Some(&self.token),
            Some(body),
            media,
            Purpose::Data,
        )?;
        match answer.status {
            200..=299 => Ok(PushReply::Accepted(
                parse::<PostRecordsResponse>(&answer.body)?.accepted,
            )),
            409 if answer.frames => Ok(PushReply::Conflict(
                frames::decode_conflict(&answer.body, MAX_ANSWER as usize)
                    .map_err(|e| TransportError::Protocol(format!("the conflict answer: {e}")))?,
            )),
            409 => Ok(PushReply::Conflict(
                parse::<ConflictResponse>(&answer.body)?.current,
            )),
            _ => Err(error_of(&answer)),
        }
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, TransportError> {
    serde_json::from_slice(body).map_err(|e| TransportError::Protocol(e.to_string()))
}

fn error_of(answer: &Answer) -> TransportError {
    let body: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
    let (code, message, limit) = match body {
        Some(b) => (b.error, b.message, b.limit),
        None => (
            "unknown".to_string(),
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect(),
            None,
        ),
    };
    match answer.status {
        401 => TransportError::Unauthorized(message),
        410 => TransportError::CursorExpired,
        status => TransportError::Rejected {
            status,
            code,
            limit,
            retry_after_s: answer.retry_after_s,
            message,
        },
    }
}

/// Percent-encodes a path segment.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
