//! The account flows every app shares: register, log in, log out, change the passphrase,
//! delete the account, list and revoke devices, and sync with the linked account. The
//! passphrase is used here and dropped; only the auth key (which the server hashes again) and
//! the wrapped data key leave the device.
//!
//! Each flow borrows the store through [`StoreAccess`] only to read or write the linked account:
//! key derivation (PBKDF2, a large share of a second) and the network happen without it.

use super::engine::{SyncError, SyncEvent, SyncSummary, TransportError, sync};
use super::http::HttpClient;
use super::wire::{DeleteAccountRequest, Device, LoginRequest, PutKeysRequest, RegisterRequest};
use crate::cancel::Cancel;
use crate::crypto::{DataKey, KdfParams, MasterKey, normalize_username};
use crate::ranges::{KDF_ITERATIONS, MIN_PASSPHRASE_CHARS};
use crate::store::{StoreAccess, SyncAccount};

fn linked(
    store: &impl StoreAccess,
    client: &HttpClient,
    username: &str,
    session: super::wire::SessionResponse,
    key: &DataKey,
    kdf: KdfParams,
) -> Result<SyncAccount, SyncError> {
    let account = SyncAccount {
        server: client.base_url().to_string(),
        username: normalize_username(username),
        device_id: session.device_id,
        token: session.token,
        data_key: key.to_bytes(),
        kdf_iterations: kdf.iterations,
    };
    store.with_store(|s| s.set_sync_account(&account))?;
    Ok(account)
}

fn refuse_if_linked(store: &impl StoreAccess) -> Result<(), SyncError> {
    if let Some(a) = store.with_store(|s| s.sync_account())? {
        return Err(SyncError::AlreadyLinked {
            username: a.username,
            server: a.server,
        });
    }
    Ok(())
}

fn the_account(store: &impl StoreAccess) -> Result<SyncAccount, SyncError> {
    store
        .with_store(|s| s.sync_account())?
        .ok_or(SyncError::NotLinked)
}

fn check_username(username: &str) -> Result<String, SyncError> {
    let name = normalize_username(username);
    match strideguard_proto::account::username_problem(&name) {
        None => Ok(name),
        Some(why) => Err(SyncError::InvalidInput {
            field: "username",
            reason: why.to_string(),
        }),
    }
}

fn check_passphrase(field: &'static str, passphrase: &str) -> Result<(), SyncError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(SyncError::InvalidInput {
            field,
            reason: format!(
                "the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters (a few words is best)"
            ),
        });
    }
    Ok(())
}

fn check_kdf(kdf: KdfParams) -> Result<(), SyncError> {
    KDF_ITERATIONS
        .check(kdf.iterations)
        .map_err(|e| SyncError::InvalidInput {
            field: "kdf_iterations",
            reason: e.to_string(),
        })?;
    Ok(())
}

fn check_device_name(name: &str) -> Result<(), SyncError> {
    strideguard_proto::account::device_name(name)
        .map(|_| ())
        .map_err(|why| SyncError::InvalidInput {
            field: "device_name",
            reason: why.into(),
        })
}

/// A client for `server`, or an input error naming the address.
pub fn client(server: &str) -> Result<HttpClient, SyncError> {
    HttpClient::new(server).map_err(|e| match e {
        TransportError::InvalidUrl(_) => SyncError::InvalidInput {
            field: "server",
            reason: e.to_string(),
        },
        other => other.into(),
    })
}

/// Creates the account with a new random data key and links this database to it.
pub fn register(
    store: &impl StoreAccess,
    client: &HttpClient,
    username: &str,
    passphrase: &str,
    kdf: KdfParams,
    device_name: &str,
) -> Result<SyncAccount, SyncError> {
    let name = check_username(username)?;
    check_passphrase("passphrase", passphrase)?;
    check_kdf(kdf)?;
    check_device_name(device_name)?;
    refuse_if_linked(store)?;
    // The server's own minimum, before a second of key derivation is spent on too few.
    let least = client.limits()?.min_kdf_iterations;
    if kdf.iterations < least {
        return Err(SyncError::InvalidInput {
            field: "kdf_iterations",
            reason: format!(
                "this server asks for at least {least} KDF iterations, not {}",
                kdf.iterations
            ),
        });
    }
    let master = MasterKey::derive(passphrase, &name, kdf)?;
    let auth = master.auth_key();
    let key = DataKey::generate()?;
    client
        .register(&RegisterRequest {
            username: name.clone(),
            auth_key: auth.0.to_vec(),
            kdf,
            wrapped_key: key.wrap(&master.wrap_key())?,
        })
        .map_err(|e| match e {
            TransportError::Rejected { status: 409, .. } => SyncError::UsernameTaken(name.clone()),
            other => other.into(),
        })?;
    let session = client.login(&LoginRequest {
        username: name.clone(),
        auth_key: auth.0.to_vec(),
        device_name: device_name.trim().to_string(),
    })?;
    linked(store, client, &name, session, &key, kdf)
}

/// Logs this database in to an existing account: a new device of it.
pub fn login(
    store: &impl StoreAccess,
    client: &HttpClient,
    username: &str,
    passphrase: &str,
    device_name: &str,
) -> Result<SyncAccount, SyncError> {
    let name = check_username(username)?;
    check_device_name(device_name)?;
    refuse_if_linked(store)?;
    let kdf = client.kdf(&name)?;
    let master = MasterKey::derive(passphrase, &name, kdf)?;
    let session = client
        .login(&LoginRequest {
            username: name.clone(),
            auth_key: master.auth_key().0.to_vec(),
            device_name: device_name.trim().to_string(),
        })
        .map_err(|e| match e {
            TransportError::Unauthorized(_) => SyncError::WrongPassphrase(name.clone()),
            other => other.into(),
        })?;
    let keys = client.keys(&session.token)?;
    let key = DataKey::unwrap(&keys.wrapped_key, &master.wrap_key())?;
    linked(store, client, &name, session, &key, kdf)
}

/// Ends the session on the server (when it can be reached) and unlinks this database. Local
/// data stays. Returns whether the server was told.
pub fn logout(store: &impl StoreAccess) -> Result<bool, SyncError> {
    let account = the_account(store)?;
    let told = HttpClient::new(&account.server)?
        .with_retries(1, std::time::Duration::from_millis(200))
        .logout(&account.token)
        .is_ok();
    store.with_store(|s| s.clear_sync_account())?;
    Ok(told)
}

/// Changes the passphrase: the data key is re-wrapped under the new one; no record changes.
/// `new_kdf` defaults to the account's current parameters as the server holds them (another
/// device may have raised them). With `sign_out_others` every other session of the account
/// ends (its devices log in again with the new passphrase); this device stays signed in.
pub fn change_passphrase(
    store: &impl StoreAccess,
    old_passphrase: &str,
    new_passphrase: &str,
    new_kdf: Option<KdfParams>,
    sign_out_others: bool,
) -> Result<(), SyncError> {
    let account = the_account(store)?;
    check_passphrase("new_passphrase", new_passphrase)?;
    if let Some(k) = new_kdf {
        check_kdf(k)?;
    }
    let client = HttpClient::new(&account.server)?;
    let keys = client.keys(&account.token)?;
    let new_kdf = new_kdf.unwrap_or(keys.kdf);
    let old = MasterKey::derive(old_passphrase, &account.username, keys.kdf)?;
    let key = DataKey::unwrap(&keys.wrapped_key, &old.wrap_key())?;
    let new = MasterKey::derive(new_passphrase, &account.username, new_kdf)?;
    client
        .put_keys(
            &account.token,
            &PutKeysRequest {
                old_auth_key: old.auth_key().0.to_vec(),
                new_auth_key: new.auth_key().0.to_vec(),
                kdf: new_kdf,
                wrapped_key: key.wrap(&new.wrap_key())?,
                sign_out_others,
            },
        )
        .map_err(|e| match e {
            TransportError::Unauthorized(_) => SyncError::WrongPassphrase(account.username.clone()),
            other => other.into(),
        })?;
    let username = account.username.clone();
    store.with_store(|s| {
        // Only if this database still syncs as that account.
        match s.sync_account()? {
            Some(a) if a.username == username => s.set_sync_account(&SyncAccount {
                kdf_iterations: new_kdf.iterations,
                ..a
            }),
            _ => Ok(()),
        }
    })?;
    Ok(())
}

/// Deletes the account on the server for good: every record, device and session. The
/// passphrase is checked here first (a wrong one never reaches the server), then proves
/// itself to the server. This database is unlinked and keeps its data.
pub fn delete_account(store: &impl StoreAccess, passphrase: &str) -> Result<(), SyncError> {
    let account = the_account(store)?;
    let client = HttpClient::new(&account.server)?;
    let keys = client.keys(&account.token)?;
    let master = MasterKey::derive(passphrase, &account.username, keys.kdf)?;
    DataKey::unwrap(&keys.wrapped_key, &master.wrap_key())?;
    client
        .delete_account(
            &account.token,
            &DeleteAccountRequest {
                auth_key: master.auth_key().0.to_vec(),
            },
        )
        .map_err(|e| match e {
            TransportError::Unauthorized(_) => SyncError::WrongPassphrase(account.username.clone()),
            other => other.into(),
        })?;
    store.with_store(|s| s.clear_sync_account())?;
    Ok(())
}

/// The account's devices, this one marked `current`.
pub fn devices(store: &impl StoreAccess) -> Result<Vec<Device>, SyncError> {
    let account = the_account(store)?;
    Ok(HttpClient::new(&account.server)?.devices(&account.token)?)
}

/// Revokes a device of the account by its id or a unique prefix of 4 or more characters (a
/// lost phone): its sessions end at once. Returns the device revoked.
pub fn revoke_device(store: &impl StoreAccess, key: &str) -> Result<Device, SyncError> {
    let account = the_account(store)?;
    let client = HttpClient::new(&account.server)?;
    let wanted = key.trim().to_lowercase();
    let devices = client.devices(&account.token)?;
    let matches: Vec<&Device> = devices
        .iter()
        .filter(|d| d.id == wanted || (wanted.len() >= 4 && d.id.starts_with(&wanted)))
        .collect();
    let device = match matches.as_slice() {
        [d] => (*d).clone(),
        [] => return Err(SyncError::NoSuchDevice(key.to_string())),
        many => {
            return Err(SyncError::AmbiguousDevice {
                key: key.to_string(),
                candidates: many.iter().map(|d| d.id.clone()).collect(),
            });
        }
    };
    client.revoke_device(&account.token, &device.id)?;
    Ok(device)
}

/// Syncs with the linked account, until done or cancelled (a cancel also stops the retries of
/// a request that failed).
pub fn sync_now(
    store: &impl StoreAccess,
    on_event: &mut dyn FnMut(SyncEvent),
    cancel: &Cancel,
) -> Result<SyncSummary, SyncError> {
    let account = the_account(store)?;
    let mut transport = HttpClient::new(&account.server)?
        .with_cancel(cancel.clone())
        .transport(&account.token);
    sync(
        store,
        &DataKey::from_bytes(account.data_key),
        &mut transport,
        on_event,
        cancel,
    )
}
