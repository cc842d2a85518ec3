//! The storage's promises, on the backend the tests run on (`STRIDEGUARD_TEST_BACKEND`: SQLite
//! by default, `postgres` for PostgreSQL), and on two storages sharing one database as two
//! server processes do: numbers assigned in commit order (a pull never skips a record that
//! commits later), batches whole or not at all, the device limit and revocation holding across
//! servers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strideguard_proto::wire::RecordUpload;
use strideguard_server::Storage;
use strideguard_server::storage::{NewDevice, NewUser, PutOutcome, StorageError};
use strideguard_server::testing::Backend;

fn new_user(st: &dyn Storage, name: &str) -> i64 {
    st.create_user(&NewUser {
        username: name.into(),
        auth_salt: vec![1; 16],
        auth_hash: vec![2; 32],
        kdf_iterations: 1000,
        wrapped_key: vec![3; 61],
        now_ms: 0,
    })
    .unwrap()
}

fn device(st: &dyn Storage, user: i64, token: &[u8], max: usize) -> Result<String, StorageError> {
    st.add_device_session(&NewDevice {
        user_id: user,
        name: "phone".into(),
        now_ms: 0,
        created_by: None,
        max_devices: max,
        token_hash: token.to_vec(),
        expires_at_ms: i64::MAX,
    })
}

fn record(id: String, payload: Vec<u8>) -> RecordUpload {
    RecordUpload {
        collection: "c".repeat(64),
        id,
        if_seq: None,
        deleted: false,
        payload,
    }
}

/// Every record after `since`, page by page.
fn pull_all(st: &dyn Storage, user: i64, mut since: i64) -> (Vec<(String, i64)>, i64) {
    let mut out = Vec::new();
    loop {
        let page = st.records(user, since, None, 7, 1 << 20).unwrap();
        out.extend(page.records.iter().map(|r| (r.id.clone(), r.seq)));
        since = page.next;
        if page.done {
            return (out, since);
        }
    }
}

#[test]
fn uploads_from_two_servers_at_once_are_numbered_in_commit_order_and_no_pull_skips_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = Backend::from_env().storage_pair(dir.path());
    let user = new_user(&*a, "anna");
    let dev = device(&*a, user, b"t", 10).unwrap();
    let writing = Arc::new(AtomicBool::new(true));
    // A device pulling all along with its cursor, on the second server.
    let reader = {
        let (b, writing) = (b.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                let still = writing.load(Ordering::SeqCst);
                let (got, next) = pull_all(&*b, user, cursor);
                seen.extend(got);
                cursor = next;
                if !still {
                    return seen;
                }
            }
        })
    };
    // Four writers, two on each server, 40 batches of 5 each.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let st = if w % 2 == 0 { a.clone() } else { b.clone() };
            let dev = dev.clone();
            std::thread::spawn(move || {
                for n in 0..40 {
                    let batch = (0..5)
                        .map(|k| record(format!("w{w}-{n}-{k}"), vec![w as u8; 40]))
                        .collect();
                    match st.put_records(user, &dev, batch, 1, u64::MAX).unwrap() {
                        PutOutcome::Accepted(acks) => assert_eq!(acks.len(), 5),
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    let seen = reader.join().unwrap();
    let (all, _) = pull_all(&*a, user, 0);
    assert_eq!(all.len(), 800);
    let seqs: Vec<i64> = all.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        seqs,
        (1..=800).collect::<Vec<_>>(),
        "numbered 1..800 without a gap"
    );
    let seen: BTreeSet<(String, i64)> = seen.into_iter().collect();
    let all: BTreeSet<(String, i64)> = all.into_iter().collect();
    assert_eq!(
        seen, all,
        "the pulling device saw every record, none skipped"
    );
}

#[test]
fn a_batch_lands_whole_or_not_at_all_and_conflicts_name_the_current_records() {
    let dir = tempfile::tempdir().unwrap();
    let st = Backend::from_env().storage(dir.path());
    let user = new_user(&*st, "ben");
    let dev = device(&*st, user, b"t", 10).unwrap();
    let first = vec![
        record("x".into(), vec![1; 10]),
        record("y".into(), vec![2; 10]),
    ];
    let PutOutcome::Accepted(acks) = st.put_records(user, &dev, first, 1, u64::MAX).unwrap() else {
        panic!()
    };
    let x_seq = acks[0].seq;
    // A stale `if_seq` on one record: nothing of the batch lands.
    let mut stale = record("x".into(), vec![9; 10]);
    stale.if_seq = Some(x_seq + 100);
    let batch = vec![record("z".into(), vec![3; 10]), stale];
    match st.put_records(user, &dev, batch, 2, u64::MAX).unwrap() {
        PutOutcome::Conflict(current) => {
            assert_eq!(current.len(), 1);
            assert_eq!((current[0].id.as_str(), current[0].seq), ("x", x_seq));
            assert_eq!(current[0].payload, vec![1; 10]);
        }
        other => panic!("{other:?}"),
    }
    let (all, _) = pull_all(&*st, user, 0);
    assert_eq!(all.len(), 2, "z did not land: {all:?}");
    // Over the quota: refused whole, the usage unchanged.
    let used = st.user_by_id(user).unwrap().unwrap().used_bytes;
    let big = vec![
        record("q".into(), vec![0; 100]),
        record("r".into(), vec![0; 100]),
    ];
    match st.put_records(user, &dev, big, 3, used + 150).unwrap() {
        PutOutcome::OverQuota { used: u, quota } => assert_eq!((u, quota), (used, used + 150)),
        other => panic!("{other:?}"),
    }
    assert_eq!(st.user_by_id(user).unwrap().unwrap().used_bytes, used);
    // A tombstone past the retention is purged, and a cursor before it has expired.
    let mut gone = record("y".into(), Vec::new());
    gone.deleted = true;
    st.put_records(user, &dev, vec![gone], 5, u64::MAX).unwrap();
    assert_eq!(st.purge_tombstones(10).unwrap(), 1);
    assert!(matches!(
        st.records(user, 1, None, 10, 1 << 20),
        Err(StorageError::CursorExpired { .. })
    ));
    assert_eq!(
        st.user_by_id(user).unwrap().unwrap().used_bytes,
        10,
        "x's bytes only"
    );
}

#[test]
fn the_device_limit_and_a_revocation_hold_across_servers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = Backend::from_env().storage_pair(dir.path());
    let user = new_user(&*a, "cleo");
    // Ten logins at once over two servers, three devices allowed: three get in.
    let logins: Vec<_> = (0..10u8)
        .map(|i| {
            let st = if i % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || device(&*st, user, &[i; 8], 3))
        })
        .collect();
    let results: Vec<_> = logins.into_iter().map(|t| t.join().unwrap()).collect();
    let ok: Vec<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 3, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StorageError::DeviceLimit { max: 3 })))
    );
    // Revoked on one server: the other no longer finds its session.
    let (i, _) = results.iter().enumerate().find(|(_, r)| r.is_ok()).unwrap();
    let token = [i as u8; 8];
    assert!(b.session(&token).unwrap().is_some());
    assert!(a.revoke_device(user, ok[0], 5).unwrap());
    assert!(b.session(&token).unwrap().is_none());
    let listed = b.devices(user).unwrap();
    assert_eq!(listed.iter().filter(|d| d.revoked).count(), 1);
    // A device revoked on one server cannot pair a new one through the other, even with a
    // request let in before the revocation.
    let late = b.add_device_session(&NewDevice {
        user_id: user,
        name: "paired late".into(),
        now_ms: 6,
        created_by: Some(ok[0].clone()),
        max_devices: 10,
        token_hash: vec![42; 8],
        expires_at_ms: i64::MAX,
    });
    assert!(
        matches!(late, Err(StorageError::CreatorRevoked)),
        "{late:?}"
    );
    // Both servers share one secret (tokens and fake KDF answers agree across them).
    assert_eq!(a.server_secret().unwrap(), b.server_secret().unwrap());
}

/// PostgreSQL restarting under a server: while it is down a call answers unavailable (the API's
/// 503 with Retry-After), nothing half-done; once it is back the very next call works (the
/// pool drops every connection to the server that went away instead of failing on each in
/// turn), and what was committed before is all there.
#[test]
fn a_database_restart_answers_unavailable_then_the_next_call_works() {
    use strideguard_server::PostgresStorage;
    use strideguard_server::testing::TempPostgres;
    let pg = TempPostgres::start().unwrap_or_else(|e| panic!("{e}"));
    let url = pg.create_database();
    let st = Arc::new(PostgresStorage::connect(&url).unwrap());
    let user = new_user(&*st, "anna");
    // Fill the pool with several open connections, as a busy server has.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let st = st.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let r = record(format!("r{t}-{i}"), vec![t as u8; 40]);
                    st.put_records(user, "dev", vec![r], 0, u64::MAX).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());

    pg.kill().unwrap();
    match st.put_records(
        user,
        "dev",
        vec![record("lost".into(), vec![9; 40])],
        0,
        u64::MAX,
    ) {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("a call with the database down: {other:?}"),
    }
    pg.restart().unwrap();
    let r = record("after".into(), vec![7; 40]);
    assert!(matches!(
        st.put_records(user, "dev", vec![r], 0, u64::MAX),
        Ok(PutOutcome::Accepted(_))
    ));
    let (ids, _) = pull_all(&*st, user, 0);
    let ids: BTreeSet<String> = ids.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 41, "{ids:?}");
    assert!(ids.contains("after") && !ids.contains("lost"));
}

/// A directory of clusters only takes clusters that join it empty, keeps each under its name,
/// and a cluster of it is refused as a lone database: every user on a cluster was numbered by
/// the directory, so a number can never be routed into someone else's account. A deleted
/// user's name can be registered again.
#[test]
fn clusters_join_a_directory_empty_under_their_names_and_stay_its_own() {
    use strideguard_server::testing::shared;
    use strideguard_server::{PostgresStorage, ShardedStorage};
    let error = |r: Result<ShardedStorage, StorageError>| match r {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    };
    // A database that already has users of its own is refused as a cluster.
    let (old, a, b) = (
        shared().create_database(),
        shared().create_database(),
        shared().create_database(),
    );
    new_user(&PostgresStorage::connect(&old).unwrap(), "bob");
    let shards = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(n, u)| (n.to_string(), u.to_string()))
            .collect()
    };
    let e = error(ShardedStorage::connect(&shards(&[
        ("a", &a),
        ("old", &old),
    ])));
    assert!(e.contains("already holds 1 users"), "{e}");

    let st = ShardedStorage::connect(&shards(&[("a", &a), ("b", &b)])).unwrap();
    let anna = new_user(&st, "anna");
    let yan = new_user(&st, "yan");
    assert_eq!(
        st.users_per_shard().unwrap(),
        vec![("a".to_string(), 1), ("b".to_string(), 1)]
    );
    // Names swapped, the list reordered, or a cluster served alone: all refused.
    let e = error(ShardedStorage::connect(&shards(&[("b", &a), ("a", &b)])));
    assert!(e.contains("keep each --shard's name"), "{e}");
    let e = error(ShardedStorage::connect(&shards(&[("b", &b), ("a", &a)])));
    assert!(e.contains("another directory"), "{e}");
    let e = match PostgresStorage::connect(&b) {
        Ok(_) => panic!("a cluster opened alone"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("--shard"), "{e}");

    // Each name finds its own account; a deleted name registers again.
    assert_eq!(st.user("anna").unwrap().unwrap().id, anna);
    assert_eq!(st.user("yan").unwrap().unwrap().id, yan);
    assert!(matches!(
        st.create_user(&NewUser {
            username: "anna".into(),
            auth_salt: vec![1; 16],
            auth_hash: vec![2; 32],
            kdf_iterations: 1000,
            wrapped_key: vec![3; 61],
            now_ms: 0,
        }),
        Err(StorageError::UserExists)
    ));
    st.delete_user(anna).unwrap();
    assert!(st.user("anna").unwrap().is_none());
    let again = new_user(&st, "anna");
    assert_ne!(again, anna);
    assert_eq!(st.user("anna").unwrap().unwrap().id, again);
    // The same list, opened again (another server), agrees.
    let other = ShardedStorage::connect(&shards(&[("a", &a), ("b", &b)])).unwrap();
    assert_eq!(other.user("anna").unwrap().unwrap().id, again);
}
