//! Sync and the account, async: key derivation and the network run on a blocking thread and
//! borrow the database only per step, so the app's other calls never wait for them. Sync and
//! import stop at their next step when cancelled: through a [`Cancellation`] handed in, through
//! `cancel_sync`, or by cancelling the Kotlin coroutine or Python task awaiting them.

use std::sync::Arc;

use strideguard_core::cancel::{Cancel, CancelOnDrop};
use strideguard_core::crypto::KdfParams;
use strideguard_core::store::SyncAccount;
use strideguard_core::sync::{self as core, SyncEvent, account, wire};

use crate::app::Strideguard;
use crate::error::StrideguardError;
use crate::listeners::{Failures, ListenerError};

/// A handle to stop a sync or an import: hand it to the call, call `cancel()` from anywhere.
/// One per call (Swift tasks, unlike Kotlin coroutines, do not cancel the work they await).
#[derive(Debug, Default, uniffi::Object)]
pub struct Cancellation {
    pub(crate) token: Cancel,
}

#[uniffi::export]
impl Cancellation {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Cancellation::default())
    }

    /// Stops the work at its next step; what was done is kept.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The work of one async call in flight: cancelled if its future is dropped before the end,
/// and known to `cancel_sync` meanwhile.
struct InFlight {
    app: Option<Arc<Strideguard>>,
    token: Cancel,
    guard: Option<CancelOnDrop>,
}

impl InFlight {
    fn finished(mut self) {
        if let Some(g) = self.guard.take() {
            g.disarm();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(app) = &self.app {
            let mut running = app.running.lock().unwrap_or_else(|p| p.into_inner());
            // This call's entry only: the same handle may be in flight on another call.
            if let Some(i) = running.iter().position(|c| c.same(&self.token)) {
                running.remove(i);
            }
        }
    }
}

/// Runs `f` on a blocking thread. With `op`, the work is cancellable (the app's handle, or
/// `cancel_sync`); dropping the returned future always cancels it.
pub(crate) async fn background<T, F>(
    op: Option<(Arc<Strideguard>, Option<Arc<Cancellation>>)>,
    f: F,
) -> Result<T, StrideguardError>
where
    T: Send + 'static,
    F: FnOnce(&Cancel) -> Result<T, StrideguardError> + Send + 'static,
{
    let (app, handle) = op.map_or((None, None), |(a, h)| (Some(a), h));
    let token = handle.map(|h| h.token.clone()).unwrap_or_default();
    if let Some(app) = &app {
        app.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(token.clone());
    }
    let flight = InFlight {
        app,
        token: token.clone(),
        guard: Some(CancelOnDrop::new(token.clone())),
    };
    let result = tokio::task::spawn_blocking(move || f(&token)).await;
    flight.finished();
    result.map_err(|e| StrideguardError::internal(format!("the background task failed: {e}")))?
}

/// The account this database syncs with.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Account {
    pub server: String,
    pub username: String,
    pub device_id: String,
}

impl From<&SyncAccount> for Account {
    fn from(a: &SyncAccount) -> Self {
        Account {
            server: a.server.clone(),
            username: a.username.clone(),
            device_id: a.device_id.clone(),
        }
    }
}

/// This device's sync, for a status line.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncStatus {
    pub account: Option<Account>,
    /// Records with changes not uploaded yet.
    pub pending_changes: i64,
    /// When the last sync finished, Unix milliseconds.
    pub last_sync_unix_ms: Option<i64>,
}

/// A device of the account.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub created_at_unix_ms: i64,
    /// When it last synced (uploads and downloads both count).
    pub last_seen_unix_ms: Option<i64>,
    pub revoked: bool,
    /// This database's device.
    pub current: bool,
}

impl From<&wire::Device> for Device {
    fn from(d: &wire::Device) -> Self {
        Device {
            id: d.id.clone(),
            name: d.name.clone(),
            created_at_unix_ms: d.created_at_ms,
            last_seen_unix_ms: d.last_seen_ms,
            revoked: d.revoked,
            current: d.current,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncSummary {
    pub uploaded: i64,
    pub downloaded: i64,
    /// Downloaded records that changed this device's data.
    pub merged: i64,
    /// Uploads another device wrote first: merged and sent again.
    pub conflicts_resolved: i64,
    /// Records refused because they did not open (altered, or moved from elsewhere).
    pub rejected: Vec<String>,
    /// Records waiting for one they reference (applied on a later sync).
    pub pending: i64,
    /// This device was behind the server's kept history: everything was pulled again.
    pub full_resync: bool,
    /// How many times the listener threw.
    pub listener_errors: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStage {
    /// Local changes folded into records to upload.
    Preparing,
    Downloading,
    Uploading,
}

/// Progress of a sync, after each step.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncProgress {
    pub stage: SyncStage,
    /// Records (or local changes) in this step.
    pub records: i64,
    pub downloaded_so_far: i64,
    pub uploaded_so_far: i64,
    /// Records still to upload, once uploading.
    pub remaining_uploads: Option<i64>,
}

/// Implemented by the app: told after each step of a sync (on a background thread).
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress) -> Result<(), ListenerError>;
}

fn client(server: &str) -> Result<core::http::HttpClient, StrideguardError> {
    Ok(account::client(server)?)
}

#[uniffi::export(async_runtime = "tokio")]
impl Strideguard {
    /// The linked sync account, if any.
    pub fn account(&self) -> Result<Option<Account>, StrideguardError> {
        self.read(|s| Ok(s.sync_account()?.as_ref().map(Into::into)))
    }

    /// Which account, how many changes wait to upload, when the last sync finished.
    pub fn sync_status(&self) -> Result<SyncStatus, StrideguardError> {
        self.read(|s| {
            let st = s.sync_status()?;
            Ok(SyncStatus {
                account: s.sync_account()?.as_ref().map(Into::into),
                pending_changes: st.pending_changes as i64,
                last_sync_unix_ms: st.last_sync_ms,
            })
        })
    }

    /// Creates a sync account and links this database to it (its history uploads on the next
    /// sync). `kdf_iterations` defaults to 600,000. Register, login and the account calls are
    /// not cancellable: cancelling the coroutine stops waiting, and the call still finishes.
    #[uniffi::method(default(kdf_iterations = None))]
    pub async fn register(
        self: Arc<Self>,
        server: String,
        username: String,
        passphrase: String,
        device_name: String,
        kdf_iterations: Option<i64>,
    ) -> Result<Account, StrideguardError> {
        background(None, move |_| {
            let _gate = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            let kdf = match kdf_iterations {
                None => KdfParams::default(),
                Some(n) => KdfParams {
                    iterations: u32::try_from(n).map_err(|_| {
                        StrideguardError::invalid(
                            "kdf_iterations",
                            format!("KDF iterations: {n} is out of range"),
                        )
                    })?,
                },
            };
            let c = client(&server)?;
            let a =
                account::register(self.writer(), &c, &username, &passphrase, kdf, &device_name)?;
            Ok((&a).into())
        })
        .await
    }

    /// Links this database to an existing account, as a new device of it.
    pub async fn login(
        self: Arc<Self>,
        server: String,
        username: String,
        passphrase: String,
        device_name: String,
    ) -> Result<Account, StrideguardError> {
        background(None, move |_| {
            let _gate = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            let c = client(&server)?;
            let a = account::login(self.writer(), &c, &username, &passphrase, &device_name)?;
            Ok((&a).into())
        })
        .await
    }

    /// Uploads this device's changes and merges the others'. `listener` hears after each step;
    /// `cancel`, `cancel_sync` or cancelling the coroutine or task stops it at the next step
    /// (throwing `Cancelled`); everything done before stays, and the next sync resumes.
    #[uniffi::method(default(listener = None, cancel = None))]
    pub async fn sync_now(
        self: Arc<Self>,
        listener: Option<Arc<dyn SyncListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<SyncSummary, StrideguardError> {
        let me = self.clone();
        background(Some((self, cancel)), move |token: &Cancel| {
            let _gate = me.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            let failures = Failures::default();
            let (mut down, mut up) = (0i64, 0i64);
            let summary = account::sync_now(
                me.writer(),
                &mut |e| {
                    let Some(l) = &listener else { return };
                    let (stage, records, remaining) = match e {
                        SyncEvent::Folded { changes } => {
                            (SyncStage::Preparing, changes as i64, None)
                        }
                        SyncEvent::Pulled { records, .. } => {
                            down += records as i64;
                            (SyncStage::Downloading, records as i64, None)
                        }
                        SyncEvent::Pushed { records, remaining } => {
                            up += records as i64;
                            (SyncStage::Uploading, records as i64, Some(remaining as i64))
                        }
                    };
                    failures.note(l.on_progress(SyncProgress {
                        stage,
                        records,
                        downloaded_so_far: down,
                        uploaded_so_far: up,
                        remaining_uploads: remaining,
                    }));
                },
                token,
            )?;
            Ok(SyncSummary {
                uploaded: summary.uploaded as i64,
                downloaded: summary.downloaded as i64,
                merged: summary.merged as i64,
                conflicts_resolved: summary.conflicts_resolved as i64,
                rejected: summary.rejected,
                pending: summary.pending as i64,
                full_resync: summary.full_resync,
                listener_errors: failures.count(),
            })
        })
        .await
    }

    /// Stops every sync and file import running on this object at its next step.
    pub fn cancel_sync(&self) {
        for c in self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            c.cancel();
        }
    }

    /// Ends this device's session and unlinks the database; the data stays. Returns whether
    /// the server was told (it may be unreachable).
    pub async fn logout(self: Arc<Self>) -> Result<bool, StrideguardError> {
        background(None, move |_| {
            let _gate = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            Ok(account::logout(self.writer())?)
        })
        .await
    }

    /// Changes the passphrase: the data key is re-wrapped, no record changes.
    /// `kdf_iterations` defaults to the account's current setting. With `sign_out_others`
    /// (the default) every other device's session ends and it logs in again with the new
    /// passphrase; this one stays signed in.
    #[uniffi::method(default(kdf_iterations = None, sign_out_others = true))]
    pub async fn change_passphrase(
        self: Arc<Self>,
        old_passphrase: String,
        new_passphrase: String,
        kdf_iterations: Option<i64>,
        sign_out_others: bool,
    ) -> Result<(), StrideguardError> {
        background(None, move |_| {
            let _gate = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            let kdf = kdf_iterations
                .map(|n| {
                    u32::try_from(n)
                        .map(|iterations| KdfParams { iterations })
                        .map_err(|_| {
                            StrideguardError::invalid(
                                "kdf_iterations",
                                format!("KDF iterations: {n} is out of range"),
                            )
                        })
                })
                .transpose()?;
            Ok(account::change_passphrase(
                self.writer(),
                &old_passphrase,
                &new_passphrase,
                kdf,
                sign_out_others,
            )?)
        })
        .await
    }

    /// Deletes the account on the server for good: every record, device and session. The
    /// passphrase must be the account's. This database is unlinked and keeps its data.
    pub async fn delete_account(
        self: Arc<Self>,
        passphrase: String,
    ) -> Result<(), StrideguardError> {
        background(None, move |_| {
            let _gate = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
            Ok(account::delete_account(self.writer(), &passphrase)?)
        })
        .await
    }

    /// The account's devices, this one marked `current`.
    pub async fn devices(self: Arc<Self>) -> Result<Vec<Device>, StrideguardError> {
        background(None, move |_| {
            Ok(account::devices(self.writer())?
                .iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Revokes a device (by id or a unique prefix of 4+ characters): its sessions end at once.
    pub async fn revoke_device(
        self: Arc<Self>,
        device_id: String,
    ) -> Result<Device, StrideguardError> {
        background(None, move |_| {
            Ok((&account::revoke_device(self.writer(), &device_id)?).into())
        })
        .await
    }
}
