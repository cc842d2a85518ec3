//! The account flows every app shares: register, log in, log out, change the passphrase, and
//! sync with the linked account. The passphrase is used here and dropped; only the auth key
//! (which the server hashes again) and the wrapped data key leave the device.

use super::engine::{SyncError, SyncEvent, SyncSummary, TransportError, sync};
use super::http::HttpClient;
use super::wire::{LoginRequest, PutKeysRequest, RegisterRequest};
use crate::crypto::{DataKey, KdfParams, MasterKey, normalize_username};
use crate::store::{Store, SyncAccount};

fn linked(
    store: &mut Store,
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
    store.set_sync_account(&account)?;
    Ok(account)
}

fn refuse_if_linked(store: &Store) -> Result<(), SyncError> {
    if let Some(a) = store.sync_account()? {
        return Err(SyncError::Account(format!(
            "this database already syncs as '{}' with {}; run `strideguard account logout` first",
            a.username, a.server
        )));
    }
    Ok(())
}

/// Creates the account with a new random data key and links this database to it.
pub fn register(
    store: &mut Store,
    client: &HttpClient,
    username: &str,
    passphrase: &str,
    kdf: KdfParams,
    device_name: &str,
) -> Result<SyncAccount, SyncError> {
    refuse_if_linked(store)?;
    if passphrase.chars().count() < 8 {
        return Err(SyncError::Account(
            "the passphrase is too short: use at least 8 characters (a few words is best)".into(),
        ));
    }
    let master = MasterKey::derive(passphrase, username, kdf)?;
    let auth = master.auth_key();
    let key = DataKey::generate()?;
    client.register(&RegisterRequest {
        username: normalize_username(username),
        auth_key: auth.0.to_vec(),
        kdf,
        wrapped_key: key.wrap(&master.wrap_key())?,
    })?;
    let session = client.login(&LoginRequest {
        username: normalize_username(username),
        auth_key: auth.0.to_vec(),
        device_name: device_name.to_string(),
    })?;
    linked(store, client, username, session, &key, kdf)
}

/// Logs this database in to an existing account: a new device of it.
pub fn login(
    store: &mut Store,
    client: &HttpClient,
    username: &str,
    passphrase: &str,
    device_name: &str,
) -> Result<SyncAccount, SyncError> {
    refuse_if_linked(store)?;
    let kdf = client.kdf(&normalize_username(username))?;
    let master = MasterKey::derive(passphrase, username, kdf)?;
    let session = client
        .login(&LoginRequest {
            username: normalize_username(username),
            auth_key: master.auth_key().0.to_vec(),
            device_name: device_name.to_string(),
        })
        .map_err(|e| match e {
            TransportError::Unauthorized(_) => {
                SyncError::WrongPassphrase(normalize_username(username))
            }
            other => other.into(),
        })?;
    let keys = client.keys(&session.token)?;
    let key = DataKey::unwrap(&keys.wrapped_key, &master.wrap_key())?;
    linked(store, client, username, session, &key, kdf)
}

/// Ends the session on the server (when it can be reached) and unlinks this database. Local
/// data stays. Returns whether the server was told.
pub fn logout(store: &mut Store) -> Result<bool, SyncError> {
    let account = store.sync_account()?.ok_or(SyncError::NotLinked)?;
    let told = HttpClient::new(&account.server)?
        .with_retries(1, std::time::Duration::from_millis(200))
        .logout(&account.token)
        .is_ok();
    store.clear_sync_account()?;
    Ok(told)
}

/// Changes the passphrase: the data key is re-wrapped under the new one; no record changes.
pub fn change_passphrase(
    store: &mut Store,
    old_passphrase: &str,
    new_passphrase: &str,
    new_kdf: KdfParams,
) -> Result<(), SyncError> {
    let account = store.sync_account()?.ok_or(SyncError::NotLinked)?;
    if new_passphrase.chars().count() < 8 {
        return Err(SyncError::Account(
            "the new passphrase is too short: use at least 8 characters".into(),
        ));
    }
    let client = HttpClient::new(&account.server)?;
    let keys = client.keys(&account.token)?;
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
            },
        )
        .map_err(|e| match e {
            TransportError::Unauthorized(_) => SyncError::WrongPassphrase(account.username.clone()),
            other => other.into(),
        })?;
    store.set_sync_account(&SyncAccount {
        kdf_iterations: new_kdf.iterations,
        ..account
    })?;
    Ok(())
}

/// Syncs with the linked account.
pub fn sync_now(
    store: &mut Store,
    on_event: &mut dyn FnMut(SyncEvent),
) -> Result<SyncSummary, SyncError> {
    let account = store.sync_account()?.ok_or(SyncError::NotLinked)?;
    let mut transport = HttpClient::new(&account.server)?.transport(&account.token);
    sync(
        store,
        &DataKey::from_bytes(account.data_key),
        &mut transport,
        on_event,
    )
}
