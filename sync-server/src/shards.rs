//! Users spread over several PostgreSQL clusters (`strideguard serve --shard NAME=URL ...`):
//! a directory maps each user to one cluster, and every call is routed by user. One cluster
//! then holds a user's whole account (devices, sessions, records): nothing of a user is
//! written to another cluster's tables, and each cluster carries 1/N of the bytes and requests.
//!
//! The directory lives in the first cluster's database, in tables of its own:
//! - `shard_users`: each username, its user number (unique across clusters, given here) and
//!   its cluster. A new user goes to the cluster with the fewest users.
//! - `shard_sessions`: each session's token hash and its cluster, so that a request's bearer
//!   token is routed before its user is known.
//!
//! Neither mapping ever changes, so servers cache the user's cluster in memory. A registration
//! that stops between the directory and the cluster leaves a directory row without its user:
//! the next registration of that name finishes it on the same cluster.
//!
//! Every cluster is marked in its `server_meta` as one directory's, under its name, and joins
//! it empty; a marked cluster is refused by `--database-url`. So every user on a cluster was
//! numbered by the directory, and a number always names the same account everywhere.
//!
//! The first cluster answers two small queries per request besides its own users' (the
//! session's cluster and the shared rate counts): the directory is the part that does not
//! divide by N.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use strideguard_proto::wire::{RecordUpload, RecordsPage};

use crate::PostgresStorage;
use crate::storage::{
    Deleted, DeviceRow, NewDevice, NewKeys, NewUser, PutOutcome, SessionRow, Storage, StorageError,
    Totals, User,
};

/// The directory's tables, in the first cluster's database: created if missing, under an
/// advisory lock, so servers starting together create them once.
const DIRECTORY: &str = "
SELECT pg_advisory_xact_lock(6004320101); -- servers starting together: one at a time
CREATE TABLE IF NOT EXISTS shard_users (
    id       BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    shard    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shard_users_by_shard ON shard_users (shard);
CREATE TABLE IF NOT EXISTS shard_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    shard      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shard_sessions_by_user ON shard_sessions (user_id);
";

/// Makes `shard` cluster `name` of `directory`, or checks that it already is. A cluster is
/// only ever one directory's, under one name, and joins it empty: users the directory did not
/// number could share a number with one of its users and be routed into that account.
fn join(name: &str, shard: &PostgresStorage, directory: &[u8]) -> Result<(), StorageError> {
    let mark = [directory, name.as_bytes()].concat();
    let found: Result<(), String> = shard.with_client(|c| {
        let mut tx = c.transaction()?;
        tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])?;
        let current: Option<Vec<u8>> = tx
            .query_opt("SELECT value FROM server_meta WHERE key = 'shard_of'", &[])?
            .map(|r| r.get(0));
        let verdict = match current {
            Some(m) if m == mark => Ok(()),
            Some(m) if m.starts_with(directory) => Err(format!(
                "cluster '{name}' is cluster '{}' of this directory: keep each --shard's name \
                 with its URL",
                String::from_utf8_lossy(&m[directory.len()..])
            )),
            Some(_) => Err(format!(
                "cluster '{name}' belongs to another directory (another first --shard): keep \
                 the --shard list, first cluster included, as it was"
            )),
            None => {
                let users: i64 = tx.query_one("SELECT count(*) FROM users", &[])?.get(0);
                if users > 0 {
                    Err(format!(
                        "cluster '{name}' already holds {users} users that no directory \
                         numbered: clusters join a directory empty"
                    ))
                } else {
                    tx.execute(
                        "INSERT INTO server_meta (key, value) VALUES ('shard_of', $1)",
                        &[&mark],
                    )?;
                    Ok(())
                }
            }
        };
        tx.commit()?;
        Ok(verdict)
    })?;
    found.map_err(StorageError::Backend)
}

/// Several clusters behind one [`Storage`], routed by user.
pub struct ShardedStorage {
    /// The clusters, by name, in the order configured; the first holds the directory.
    shards: Vec<(String, Arc<PostgresStorage>)>,
    /// User number to cluster index: a mapping that never changes once made.
    placed: Mutex<HashMap<i64, usize>>,
}

impl ShardedStorage {
    /// Connects to every cluster (migrating each) and makes the directory in the first.
    pub fn connect(shards: &[(String, String)]) -> Result<ShardedStorage, StorageError> {
        if shards.is_empty() {
            return Err(StorageError::Backend("no cluster given".into()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (name, url) in shards {
            if name.is_empty() || !seen.insert(name.clone()) {
                return Err(StorageError::Backend(format!(
                    "cluster names must be unique and not empty: '{name}'"
                )));
            }
            out.push((name.clone(), Arc::new(PostgresStorage::connect_any(url)?)));
        }
        // The directory's identity, made once in the first cluster.
        let mut id = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
            .map_err(|_| StorageError::Backend("no system randomness".into()))?;
        let directory: Vec<u8> = out[0].1.with_client(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(DIRECTORY)?;
            tx.execute(
                "INSERT INTO server_meta (key, value) VALUES ('directory', $1)
                 ON CONFLICT (key) DO NOTHING",
                &[&id.as_slice()],
            )?;
            let v = tx
                .query_one("SELECT value FROM server_meta WHERE key = 'directory'", &[])?
                .get(0);
            tx.commit()?;
            Ok(v)
        })?;
        for (name, shard) in &out {
            join(name, shard, &directory)?;
        }
        Ok(ShardedStorage {
            shards: out,
            placed: Mutex::new(HashMap::new()),
        })
    }

    fn directory(&self) -> &PostgresStorage {
        &self.shards[0].1
    }

    fn index_of(&self, name: &str) -> Result<usize, StorageError> {
        self.shards
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                StorageError::Backend(format!(
                    "the directory names cluster '{name}', which this server was not given \
                     (--shard {name}=URL)"
                ))
            })
    }

    /// The cluster of user `id`, from memory or the directory.
    fn shard_of(&self, id: i64) -> Result<Option<&PostgresStorage>, StorageError> {
        if let Some(&i) = self
            .placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(Some(&self.shards[i].1));
        }
        let name: Option<String> = self.directory().with_client(|c| {
            Ok(
                c.query_opt("SELECT shard FROM shard_users WHERE id = $1", &[&id])?
                    .map(|r| r.get(0)),
            )
        })?;
        let Some(name) = name else { return Ok(None) };
        let i = self.index_of(&name)?;
        self.placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, i);
        Ok(Some(&self.shards[i].1))
    }

    /// The cluster of user `id`, who must exist.
    fn user_shard(&self, id: i64) -> Result<&PostgresStorage, StorageError> {
        self.shard_of(id)?
            .ok_or_else(|| StorageError::Backend(format!("user {id} is in no cluster")))
    }

    /// The cluster a session's token was made on.
    fn session_shard(&self, token_hash: &[u8]) -> Result<Option<&PostgresStorage>, StorageError> {
        let name: Option<String> = self.directory().with_client(|c| {
            Ok(c.query_opt(
                "SELECT shard FROM shard_sessions WHERE token_hash = $1",
                &[&token_hash],
            )?
            .map(|r| r.get(0)))
        })?;
        match name {
            Some(n) => Ok(Some(&self.shards[self.index_of(&n)?].1)),
            None => Ok(None),
        }
    }

    /// The cluster with the fewest users.
    fn emptiest(&self, c: &mut postgres::Client) -> Result<String, postgres::Error> {
        let counts: HashMap<String, i64> = c
            .query(
                "SELECT shard, count(*) FROM shard_users GROUP BY shard",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(self
            .shards
            .iter()
            .min_by_key(|(n, _)| counts.get(n).copied().unwrap_or(0))
            .map(|(n, _)| n.clone())
            .expect("at least one cluster"))
    }

    /// How many users each cluster holds, by name (for operators and tests).
    pub fn users_per_shard(&self) -> Result<Vec<(String, u64)>, StorageError> {
        let counts: HashMap<String, i64> = self.directory().with_client(|c| {
            Ok(c.query(
                "SELECT shard, count(*) FROM shard_users GROUP BY shard",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        Ok(self
            .shards
            .iter()
            .map(|(n, _)| (n.clone(), counts.get(n).copied().unwrap_or(0) as u64))
            .collect())
    }
}

impl Storage for ShardedStorage {
    fn create_user(&self, user: &NewUser) -> Result<i64, StorageError> {
        let (id, name): (i64, String) = self.directory().with_client(|c| {
            let shard = self.emptiest(c)?;
            // A name already in the directory keeps its row: finished below if its cluster
            // lacks the user, refused as taken if not.
            let row = c.query_one(
                "INSERT INTO shard_users (username, shard) VALUES ($1, $2)
                 ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
                 RETURNING id, shard",
                &[&user.username, &shard],
            )?;
            Ok((row.get(0), row.get(1)))
        })?;
        let i = self.index_of(&name)?;
        let shard = &self.shards[i].1;
        match shard.insert_user(Some(id), user) {
            Ok(id) => {
                self.placed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, i);
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    fn user(&self, username: &str) -> Result<Option<User>, StorageError> {
        let id: Option<i64> = self.directory().with_client(|c| {
            Ok(c.query_opt(
                "SELECT id FROM shard_users WHERE username = $1",
                &[&username],
            )?
            .map(|r| r.get(0)))
        })?;
        // By number, and the name checked: the number is what every later call is routed by.
        match id {
            Some(id) => match self.shard_of(id)? {
                Some(shard) => Ok(shard.user_by_id(id)?.filter(|u| u.username == username)),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StorageError> {
        match self.shard_of(id)? {
            Some(shard) => shard.user_by_id(id),
            None => Ok(None),
        }
    }

    fn set_keys(&self, user_id: i64, keys: &NewKeys) -> Result<usize, StorageError> {
        self.user_shard(user_id)?.set_keys(user_id, keys)
    }

    fn add_device_session(&self, new: &NewDevice) -> Result<String, StorageError> {
        let i = {
            self.user_shard(new.user_id)?;
            self.placed.lock().unwrap_or_else(|p| p.into_inner())[&new.user_id]
        };
        // The route first: a session is never on a cluster the directory does not name.
        let name = self.shards[i].0.clone();
        self.directory().with_client(|c| {
            c.execute(
                "INSERT INTO shard_sessions (token_hash, user_id, shard) VALUES ($1, $2, $3)
                 ON CONFLICT (token_hash) DO NOTHING",
                &[&new.token_hash, &new.user_id, &name],
            )
        })?;
        self.shards[i].1.add_device_session(new)
    }

    fn devices(&self, user_id: i64) -> Result<Vec<DeviceRow>, StorageError> {
        self.user_shard(user_id)?.devices(user_id)
    }

    fn revoke_device(
        &self,
        user_id: i64,
        device_id: &str,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        self.user_shard(user_id)?
            .revoke_device(user_id, device_id, now_ms)
    }

    /// The session on the cluster the directory names for it, and only if its user lives on
    /// that cluster too.
    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StorageError> {
        let Some(shard) = self.session_shard(token_hash)? else {
            return Ok(None);
        };
        let Some(row) = shard.session(token_hash)? else {
            return Ok(None);
        };
        let home = self.shard_of(row.user_id)?;
        Ok(home.is_some_and(|h| std::ptr::eq(h, shard)).then_some(row))
    }

    fn delete_session(&self, token_hash: &[u8]) -> Result<(), StorageError> {
        if let Some(shard) = self.session_shard(token_hash)? {
            shard.delete_session(token_hash)?;
        }
        self.directory().with_client(|c| {
            c.execute(
                "DELETE FROM shard_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
        })?;
        Ok(())
    }

    fn touch_device(&self, user_id: i64, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        self.user_shard(user_id)?
            .touch_device(user_id, device_id, now_ms)
    }

    fn kdf_iteration_counts(&self) -> Result<Vec<(u32, u64)>, StorageError> {
        let mut all: HashMap<u32, u64> = HashMap::new();
        for (_, s) in &self.shards {
            for (k, n) in s.kdf_iteration_counts()? {
                *all.entry(k).or_default() += n;
            }
        }
        let mut out: Vec<(u32, u64)> = all.into_iter().collect();
        out.sort();
        Ok(out)
    }

    /// The first cluster's: every server of the service uses the same secret.
    fn server_secret(&self) -> Result<Vec<u8>, StorageError> {
        self.directory().server_secret()
    }

    fn put_records(
        &self,
        user_id: i64,
        device_id: &str,
        batch: Vec<RecordUpload>,
        now_ms: i64,
        quota_bytes: u64,
    ) -> Result<PutOutcome, StorageError> {
        self.user_shard(user_id)?
            .put_records(user_id, device_id, batch, now_ms, quota_bytes)
    }

    fn records(
        &self,
        user_id: i64,
        since: i64,
        collection: Option<&str>,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<RecordsPage, StorageError> {
        self.user_shard(user_id)?
            .records(user_id, since, collection, max_records, max_bytes)
    }

    fn purge_tombstones(&self, before_ms: i64) -> Result<usize, StorageError> {
        let mut n = 0;
        for (_, s) in &self.shards {
            n += s.purge_tombstones(before_ms)?;
        }
        Ok(n)
    }

    fn totals(&self) -> Result<Totals, StorageError> {
        let mut t = Totals::default();
        for (_, s) in &self.shards {
            let one = s.totals()?;
            t.users += one.users;
            t.devices += one.devices;
            t.records += one.records;
            t.bytes += one.bytes;
        }
        Ok(t)
    }

    /// Deletes the user on their cluster, then their directory rows: the name is free again.
    fn delete_user(&self, user_id: i64) -> Result<Deleted, StorageError> {
        let shard = self.user_shard(user_id)?;
        // The directory row locked throughout: a registration of the same name waits, then
        // gets a new number, instead of reusing the row being deleted.
        let deleted = self.directory().with_client(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "SELECT 1 FROM shard_users WHERE id = $1 FOR UPDATE",
                &[&user_id],
            )?;
            let deleted = match shard.delete_user(user_id) {
                Ok(d) => d,
                Err(e) => return Ok(Err(e)),
            };
            tx.execute("DELETE FROM shard_sessions WHERE user_id = $1", &[&user_id])?;
            tx.execute("DELETE FROM shard_users WHERE id = $1", &[&user_id])?;
            tx.commit()?;
            Ok(Ok(deleted))
        })??;
        Ok(deleted)
    }

    fn counts_shared(&self) -> bool {
        true
    }

    fn shared_count(&self, key: &str, minute: i64, add: u32) -> Result<Option<u32>, StorageError> {
        self.directory().shared_count(key, minute, add)
    }
}
