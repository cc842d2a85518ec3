//! Devices syncing through a real server on 127.0.0.1: convergence, merge rules, resuming,
//! what the server can see, isolation between users, tampering, sessions and limits.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;
use strideguard_core::cancel::Cancel;
use strideguard_core::clock::ManualClock;
use strideguard_core::crypto::DataKey;
use strideguard_core::demo::history;
use strideguard_core::model::{Run, Sample, Shoe};
use strideguard_core::store::{PainEntry, RunEdit, ShoeEdit};
use strideguard_core::sync::account::{change_passphrase, login, register, sync_now};
use strideguard_core::sync::http::HttpClient;
use strideguard_core::sync::wire::{RecordUpload, RecordsPage};
use strideguard_core::sync::{PushReply, SyncError, SyncSummary, Transport, TransportError, sync};
use strideguard_core::triage::Answers;
use strideguard_tests::load_demo;
use strideguard_tests::sync::{Device, FAST, TestServer, access, config, http, snapshot};
use uuid::Uuid;

const T0: i64 = 1_780_000_000_000;
const PASS: &str = "correct horse battery staple";

fn client(server: &TestServer) -> HttpClient {
    HttpClient::new(&server.url()).unwrap()
}

fn synced(dev: &mut Device) -> SyncSummary {
    sync_now(&access(&mut dev.store), &mut |_| {}, &Cancel::new()).expect("sync succeeds")
}

fn new_device(server: &TestServer, user: &str, name: &str) -> Device {
    let mut d = Device::new(T0);
    login(&access(&mut d.store), &client(server), user, PASS, name).expect("login");
    d
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            t_s: i as f64,
            hr_bpm: Some(140 + (i % 20) as u8),
            cadence_spm: Some(170.0 + (i % 7) as f64),
            distance_m: Some(i as f64 * 2.9),
            ..Sample::default()
        })
        .collect()
}

fn run_at(day: u32, notes: &str, shoe: Option<Uuid>) -> Run {
    let start = chrono::FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 5, day, 7, 0, 0)
        .unwrap();
    let mut r = Run::new(Uuid::new_v4(), start, 10_000.0, 3_000.0);
    r.notes = Some(notes.to_string());
    r.shoe_id = shoe;
    r
}

/// Device A with two shoes and three runs (one with 5,000 samples: two chunks), registered.
fn first_device(server: &TestServer) -> (Device, Shoe, Vec<Run>) {
    let mut a = Device::new(T0);
    let mut shoe = Shoe::new(Uuid::new_v4(), "Aurora Pegasus QXJ");
    shoe.is_default = true;
    a.store.add_shoe(&shoe).unwrap();
    a.store
        .add_shoe(&Shoe::new(Uuid::new_v4(), "Trail Hoka"))
        .unwrap();
    let runs = vec![
        run_at(1, "tempo along the Elbe ZEBRAFINCH", Some(shoe.id)),
        run_at(3, "easy with Mia", Some(shoe.id)),
        run_at(5, "hill repeats", None),
    ];
    a.store.add_run(&runs[0], &samples(5_000)).unwrap();
    a.store.add_run(&runs[1], &samples(600)).unwrap();
    a.store.add_run(&runs[2], &[]).unwrap();
    register(
        &access(&mut a.store),
        &client(server),
        "Anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    (a, shoe, runs)
}

#[test]
fn three_devices_edit_offline_and_converge() {
    let server = TestServer::start(config());
    let (mut a, shoe, runs) = first_device(&server);
    let first = synced(&mut a);
    assert!(first.uploaded >= 2 + 3 + 3, "{first:?}");
    let mut b = new_device(&server, "anna", "phone");
    let mut c = new_device(&server, "ANNA ", "watch");
    let got = synced(&mut b);
    assert_eq!(got.downloaded, first.uploaded);
    synced(&mut c);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    assert_eq!(snapshot(&a.store), snapshot(&c.store));
    assert_eq!(b.store.samples(runs[0].id).unwrap().len(), 5_000);

    // Offline: a rename on A and a new replacement distance on B (different fields of one
    // shoe); notes on A and RPE on C (different fields of one run); B edits a run that A
    // deletes later; C logs a new run and a pain entry.
    a.clock.set(T0 + 10_000);
    a.store
        .edit_shoe(
            shoe.id,
            &ShoeEdit {
                name: Some("Aurora Pegasus 41 QXJ".into()),
                ..ShoeEdit::default()
            },
        )
        .unwrap();
    a.clock.set(T0 + 15_000);
    a.store
        .edit_run(
            runs[0].id,
            &RunEdit {
                notes: Some(Some("tempo, windy".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    b.clock.set(T0 + 20_000);
    b.store
        .edit_shoe(
            shoe.id,
            &ShoeEdit {
                replace_at_m: Some(900_000.0),
                ..ShoeEdit::default()
            },
        )
        .unwrap();
    b.clock.set(T0 + 30_000);
    b.store
        .edit_run(
            runs[1].id,
            &RunEdit {
                notes: Some(Some("edited before the delete".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    a.clock.set(T0 + 40_000);
    a.store.delete_run(runs[1].id).unwrap();
    c.clock.set(T0 + 50_000);
    c.store
        .edit_run(
            runs[0].id,
            &RunEdit {
                rpe: Some(Some(7)),
                ..RunEdit::default()
            },
        )
        .unwrap();
    let new_run = run_at(7, "long run from C", Some(shoe.id));
    c.store.add_run(&new_run, &samples(100)).unwrap();
    let answers = Answers::from_json(
        r#"{"location": "achilles", "side": "right", "severity": 3, "character": ["stiffness"],
            "timing": ["morning"], "onset": "2026-05-06T07:00:00+01:00", "improving": false,
            "red_flags": {}}"#,
    )
    .unwrap();
    let pain = PainEntry {
        id: Uuid::new_v4(),
        logged_at: Utc.timestamp_millis_opt(T0 + 50_000).unwrap(),
        answers,
    };
    c.store.add_pain_entry(&pain).unwrap();

    synced(&mut b);
    synced(&mut c);
    synced(&mut a);
    synced(&mut b);
    synced(&mut c);
    let want = snapshot(&a.store);
    assert_eq!(want, snapshot(&b.store));
    assert_eq!(want, snapshot(&c.store));

    let s = a.store.shoe(shoe.id).unwrap().unwrap();
    assert_eq!(s.name, "Aurora Pegasus 41 QXJ");
    assert_eq!(s.replace_at_m, 900_000.0);
    assert!(s.is_default);
    assert!(
        a.store.run(runs[1].id).unwrap().is_none(),
        "the later delete wins"
    );
    let r0 = c.store.run(runs[0].id).unwrap().unwrap();
    assert_eq!(r0.notes.as_deref(), Some("tempo, windy"));
    assert_eq!(r0.rpe, Some(7));
    assert_eq!(a.store.samples(new_run.id).unwrap().len(), 100);
    assert_eq!(a.store.pain_entries().unwrap().len(), 1);
    // Shoe distance is derived on each device from the runs, never synced.
    let usage = b.store.shoes().unwrap();
    let pegasus = usage.iter().find(|u| u.shoe.id == shoe.id).unwrap();
    assert_eq!(pegasus.run_count, 2);
    assert_eq!(pegasus.distance_m, 20_000.0);

    // Nothing left to do: a further sync moves nothing.
    let idle = synced(&mut a);
    assert_eq!((idle.uploaded, idle.downloaded), (0, 0), "{idle:?}");
}

#[test]
fn two_devices_choosing_different_default_shoes_agree_on_the_later_choice() {
    let server = TestServer::start(config());
    let (mut a, shoe, _runs) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    let trail = b.store.find_shoe("Trail Hoka").unwrap();
    // A makes nothing new; B chooses the trail shoe as default later than A's choice.
    b.clock.set(T0 + 60_000);
    b.store.set_default_shoe(trail.id).unwrap();
    a.clock.set(T0 + 30_000);
    a.store
        .edit_shoe(
            shoe.id,
            &ShoeEdit {
                brand: Some(Some("Nike".into())),
                ..ShoeEdit::default()
            },
        )
        .unwrap();
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    assert_eq!(a.store.default_shoe().unwrap().unwrap().id, trail.id);
    assert_eq!(
        a.store.shoe(shoe.id).unwrap().unwrap().brand.as_deref(),
        Some("Nike")
    );
}

/// The `Transport` methods a test wrapper passes on unchanged to its `inner` transport, so
/// the engine meets the real one's threaded upload, prefetch and wire.
macro_rules! forward_to_inner {
    (push_while) => {
        fn push_while(
            &mut self,
            batch: &[RecordUpload],
            meanwhile: &mut dyn FnMut(),
        ) -> Result<PushReply, TransportError> {
            self.inner.push_while(batch, meanwhile)
        }
    };
    (binary) => {
        fn binary(&self) -> bool {
            self.inner.binary()
        }
    };
    (prefetch) => {
        fn prefetch(&mut self, since: i64) {
            self.inner.prefetch(since)
        }
    };
    ($($method:ident),+) => {
        $(forward_to_inner!($method);)+
    };
}

/// Delivers each page shuffled with some records twice, and everything again afterwards.
struct Shuffling<T: Transport> {
    inner: T,
    round: u64,
}

impl<T: Transport> Transport for Shuffling<T> {
    fn limits(&mut self) -> Result<strideguard_core::sync::wire::Limits, TransportError> {
        self.inner.limits()
    }
    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError> {
        let mut page = self.inner.pull(since)?;
        self.round += 1;
        let n = page.records.len();
        if n > 1 {
            // A deterministic shuffle: rotate, reverse, then duplicate every third record.
            page.records.rotate_left((self.round as usize * 7) % n);
            page.records.reverse();
            let dups: Vec<_> = page.records.iter().step_by(3).cloned().collect();
            page.records.extend(dups);
        }
        Ok(page)
    }
    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError> {
        self.inner.push(batch)
    }
    forward_to_inner!(push_while, binary, prefetch);
}

#[test]
fn shuffled_and_duplicated_delivery_gives_the_same_state() {
    let server = TestServer::start(config());
    let mut a = Device::new(T0);
    load_demo(
        &mut a.store,
        &history(7, NaiveDate::from_ymd_opt(2026, 5, 10).unwrap()),
    )
    .unwrap();
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    synced(&mut a);

    let mut plain = new_device(&server, "anna", "phone");
    synced(&mut plain);
    let mut shuffled = new_device(&server, "anna", "tablet");
    let account = shuffled.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = Shuffling {
        inner: client(&server).transport(&account.token),
        round: 0,
    };
    let summary = sync(
        &access(&mut shuffled.store),
        &key,
        &mut t,
        &mut |_| {},
        &Cancel::new(),
    )
    .unwrap();
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    assert_eq!(
        summary.pending, 0,
        "runs waiting for their shoe were applied"
    );
    // Everything delivered once more, in another order.
    shuffled.store.reset_sync_pull_cursor().unwrap();
    sync(
        &access(&mut shuffled.store),
        &key,
        &mut t,
        &mut |_| {},
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!(snapshot(&a.store), snapshot(&plain.store));
    assert_eq!(snapshot(&a.store), snapshot(&shuffled.store));
}

/// Forwards uploads, but loses the server's answer to the second one, as a dropped
/// connection would.
struct LosesAnAnswer<T: Transport> {
    inner: T,
    pushes: u32,
}

impl<T: Transport> Transport for LosesAnAnswer<T> {
    fn limits(&mut self) -> Result<strideguard_core::sync::wire::Limits, TransportError> {
        self.inner.limits()
    }
    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError> {
        self.inner.pull(since)
    }
    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError> {
        self.push_while(batch, &mut || {})
    }
    /// The upload goes from the HTTP transport's own thread, while the engine seals the next.
    fn push_while(
        &mut self,
        batch: &[RecordUpload],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<PushReply, TransportError> {
        self.pushes += 1;
        let reply = self.inner.push_while(batch, meanwhile)?;
        if self.pushes == 2 {
            return Err(TransportError::Network("connection reset".into()));
        }
        Ok(reply)
    }
    forward_to_inner!(binary, prefetch);
}

/// Forwards everything; the app cancels while the first pull is on the wire.
struct CancelledInFlight<T: Transport> {
    inner: T,
    cancel: Cancel,
}

impl<T: Transport> Transport for CancelledInFlight<T> {
    fn limits(&mut self) -> Result<strideguard_core::sync::wire::Limits, TransportError> {
        self.inner.limits()
    }
    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError> {
        let page = self.inner.pull(since);
        self.cancel.cancel();
        page
    }
    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError> {
        self.inner.push(batch)
    }
    forward_to_inner!(push_while, binary, prefetch);
}

#[test]
fn a_cancel_during_a_step_keeps_its_work_and_tells_the_app_nothing_more() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    let account = b.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let cancel = Cancel::new();
    let mut t = CancelledInFlight {
        inner: client(&server).transport(&account.token),
        cancel: cancel.clone(),
    };
    let mut events = Vec::new();
    let err = sync(
        &access(&mut b.store),
        &key,
        &mut t,
        &mut |e| events.push(format!("{e:?}")),
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, SyncError::Cancelled), "{err}");
    assert_eq!(
        events.len(),
        1,
        "only the fold before the cancel: {events:?}"
    );
    assert!(events[0].starts_with("Folded"), "{events:?}");
    assert!(
        b.store.run_count().unwrap() > 0,
        "the pulled page was merged and kept"
    );
    let rest = synced(&mut b);
    assert_eq!(
        rest.downloaded, 0,
        "the cursor moved with the kept page: {rest:?}"
    );
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn a_sync_cut_off_mid_batch_resumes_without_duplicates() {
    let mut cfg = config();
    cfg.limits.batch_records = 5;
    let server = TestServer::start(cfg);
    let (mut a, _, _) = first_device(&server);
    for day in 10..20 {
        a.store.add_run(&run_at(day, "more", None), &[]).unwrap();
    }
    let account = a.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = LosesAnAnswer {
        inner: client(&server).transport(&account.token),
        pushes: 0,
    };
    let err = sync(
        &access(&mut a.store),
        &key,
        &mut t,
        &mut |_| {},
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::Network(_))),
        "{err}"
    );
    let after_cut = a.store.sync_dirty_count().unwrap();
    assert!(after_cut > 0);
    let resumed = synced(&mut a);
    // The batch whose answer was lost is on the server: it comes back in the pull, matches,
    // and is not sent again.
    assert_eq!(resumed.uploaded + 5, after_cut, "{resumed:?}");
    assert_eq!(resumed.rejected, Vec::<String>::new());

    // The server holds each record once.
    let (status, page) = http(
        "GET",
        &format!("{}/v1/records?since=0", server.url()),
        Some(&account.token),
        None,
    );
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len());
    // 2 shoes + 13 runs + 3 sample chunks.
    assert_eq!(ids.len(), 2 + 13 + 3);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn the_server_never_sees_notes_shoe_names_or_the_passphrase() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let bytes = server.database_bytes();
    assert!(bytes.len() > 10_000, "the server stored the records");
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for secret in [
        "ZEBRAFINCH",
        "Aurora Pegasus",
        "Trail Hoka",
        "easy with Mia",
        PASS,
        "run_samples",
        "pain_entries",
    ] {
        assert!(
            !contains(secret.as_bytes()),
            "the server database contains {secret:?}"
        );
    }
    assert!(contains(b"anna"), "the check can see what is there");
}

#[test]
fn one_user_can_neither_read_overwrite_nor_delete_anothers_records() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let a_token = a.store.sync_account().unwrap().unwrap().token;
    let mut b = Device::new(T0);
    register(
        &access(&mut b.store),
        &client(&server),
        "bert",
        PASS,
        FAST,
        "phone",
    )
    .unwrap();
    synced(&mut b);
    let b_token = b.store.sync_account().unwrap().unwrap().token;
    let url = server.url();

    let (_, a_page) = http(
        "GET",
        &format!("{url}/v1/records?since=0"),
        Some(&a_token),
        None,
    );
    let a_records = a_page["records"].as_array().unwrap().clone();
    assert!(!a_records.is_empty());
    // Reading: B's pages hold none of A's records, whatever the cursor or collection.
    let (status, b_page) = http(
        "GET",
        &format!("{url}/v1/records?since=0"),
        Some(&b_token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(b_page["records"].as_array().unwrap().len(), 0);
    let tag = a_records[0]["collection"].as_str().unwrap();
    let (_, b_page) = http(
        "GET",
        &format!("{url}/v1/records?since=0&collection={tag}"),
        Some(&b_token),
        None,
    );
    assert_eq!(b_page["records"].as_array().unwrap().len(), 0);

    // Overwriting and deleting: B's writes under A's ids land in B's own space only.
    let target = &a_records[0];
    let forged = json!({"records": [{
        "collection": target["collection"], "id": target["id"], "deleted": true,
        "payload": "AAAA"
    }]});
    let (status, _) = http(
        "POST",
        &format!("{url}/v1/records"),
        Some(&b_token),
        Some(&forged),
    );
    assert_eq!(status, 200);
    let (_, a_again) = http(
        "GET",
        &format!("{url}/v1/records?since=0"),
        Some(&a_token),
        None,
    );
    assert_eq!(a_again["records"].as_array().unwrap(), &a_records);

    // Devices: B cannot list or revoke A's.
    let (_, devices) = http("GET", &format!("{url}/v1/devices"), Some(&a_token), None);
    let a_device = devices["devices"][0]["id"].as_str().unwrap().to_string();
    let (_, b_devices) = http("GET", &format!("{url}/v1/devices"), Some(&b_token), None);
    assert!(
        b_devices["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != a_device.as_str())
    );
    let (status, body) = http(
        "DELETE",
        &format!("{url}/v1/devices/{a_device}"),
        Some(&b_token),
        None,
    );
    assert_eq!(status, 404, "{body}");
    // A still syncs and B's forged record never reaches A.
    let summary = synced(&mut a);
    assert_eq!(summary.downloaded, 0);
    // And B's own device refuses the forged record (it does not open).
    let summary = synced(&mut b);
    assert_eq!(summary.rejected.len(), 1, "{summary:?}");
}

#[test]
fn moved_or_altered_ciphertexts_are_refused_and_the_rest_syncs() {
    let server = TestServer::start(config());
    let (mut a, shoe, runs) = first_device(&server);
    synced(&mut a);
    let account = a.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let url = server.url();
    let (_, page) = http(
        "GET",
        &format!("{url}/v1/records?since=0"),
        Some(&account.token),
        None,
    );
    let records = page["records"].as_array().unwrap().clone();
    let shoe_id = key.record_id("shoes", &shoe.id.to_string());
    let run_id = key.record_id("runs", &runs[2].id.to_string());
    let shoe_rec = records
        .iter()
        .find(|r| r["id"] == shoe_id.as_str())
        .unwrap();
    let run_rec = records.iter().find(|r| r["id"] == run_id.as_str()).unwrap();

    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let enc = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let mut flipped = b64(&run_rec["payload"]);
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let forged = json!({"records": [
        // The shoe's ciphertext under another id of the same collection.
        {"collection": shoe_rec["collection"], "id": Uuid::new_v4().to_string(),
         "deleted": false, "payload": shoe_rec["payload"]},
        // The shoe's ciphertext under the runs' collection.
        {"collection": run_rec["collection"], "id": Uuid::new_v4().to_string(),
         "deleted": false, "payload": shoe_rec["payload"]},
        // The run, with one bit flipped, in place.
        {"collection": run_rec["collection"], "id": run_rec["id"], "if_seq": run_rec["seq"],
         "deleted": false, "payload": enc(&flipped)},
    ]});
    let (status, body) = http(
        "POST",
        &format!("{url}/v1/records"),
        Some(&account.token),
        Some(&forged),
    );
    assert_eq!(status, 200, "{body}");

    let before = snapshot(&a.store);
    let summary = synced(&mut a);
    assert_eq!(summary.rejected.len(), 3, "{:?}", summary.rejected);
    assert_eq!(snapshot(&a.store), before, "nothing changed on the device");

    let mut b = new_device(&server, "anna", "phone");
    let summary = synced(&mut b);
    assert_eq!(summary.rejected.len(), 3, "{:?}", summary.rejected);
    assert!(b.store.shoe(shoe.id).unwrap().is_some());
    assert!(b.store.run(runs[0].id).unwrap().is_some());
    assert!(
        b.store.run(runs[2].id).unwrap().is_none(),
        "the altered run is refused"
    );
}

#[test]
fn a_wrong_passphrase_is_told_and_a_changed_one_takes_over() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let mut b = Device::new(T0);
    let err = login(
        &access(&mut b.store),
        &client(&server),
        "anna",
        "wrong horse",
        "phone",
    )
    .unwrap_err();
    assert!(
        matches!(err, SyncError::WrongPassphrase(ref u) if u == "anna"),
        "{err}"
    );
    assert!(b.store.sync_account().unwrap().is_none());
    let err = login(
        &access(&mut b.store),
        &client(&server),
        "nobody",
        PASS,
        "phone",
    )
    .unwrap_err();
    assert!(matches!(err, SyncError::WrongPassphrase(_)), "{err}");

    let err = change_passphrase(
        &access(&mut a.store),
        "not the old one",
        "a new long passphrase",
        Some(FAST),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Crypto(strideguard_core::crypto::CryptoError::WrongPassphrase)
        ),
        "{err}"
    );
    change_passphrase(
        &access(&mut a.store),
        PASS,
        "a new long passphrase",
        Some(FAST),
        true,
    )
    .unwrap();
    let err = login(
        &access(&mut b.store),
        &client(&server),
        "anna",
        PASS,
        "phone",
    )
    .unwrap_err();
    assert!(matches!(err, SyncError::WrongPassphrase(_)), "{err}");
    login(
        &access(&mut b.store),
        &client(&server),
        "anna",
        "a new long passphrase",
        "phone",
    )
    .unwrap();
    synced(&mut b);
    assert_eq!(
        snapshot(&a.store),
        snapshot(&b.store),
        "the data key did not change"
    );
}

#[test]
fn too_many_login_attempts_are_told_with_the_wait_and_not_retried() {
    let mut cfg = config();
    cfg.limits.logins_per_minute_per_user = 3;
    let server = TestServer::start(cfg);
    let mut a = Device::new(T0);
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let mut b = Device::new(T0);
    let attempt = |b: &mut Device, pass: &str| {
        login(
            &access(&mut b.store),
            &client(&server),
            "anna",
            pass,
            "phone",
        )
        .unwrap_err()
    };
    for _ in 0..3 {
        let err = attempt(&mut b, "wrong horse");
        assert!(matches!(err, SyncError::WrongPassphrase(_)), "{err}");
    }
    // Three failures: a new device, even with the right passphrase, is told to wait, and how
    // long.
    let err = attempt(&mut b, PASS);
    match &err {
        SyncError::Transport(TransportError::Rejected {
            status: 429,
            limit,
            retry_after_s: Some(wait),
            ..
        }) => {
            assert_eq!(limit.as_deref(), Some("logins_per_minute_per_user"));
            assert!((1..=60).contains(wait), "{wait}");
        }
        other => panic!("expected a 429 with its wait, got {other}"),
    }
    assert!(b.store.sync_account().unwrap().is_none());
    // One refused attempt, not a retry loop spending more of them.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let metrics = agent
        .get(format!("{}/metrics", server.url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("route=\"/v1/sessions\"") && l.contains("status=\"429\""))
        .collect();
    assert_eq!(refused.len(), 1, "{metrics}");
    assert!(refused[0].ends_with(" 1"), "{}", refused[0]);
}

#[test]
fn expired_revoked_and_logged_out_sessions_get_401() {
    let clock = Arc::new(ManualClock::new(T0));
    let mut cfg = config();
    cfg.token_ttl_ms = 3_600_000;
    let server = TestServer::with_clock(cfg, clock.clone());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    let b_account = b.store.sync_account().unwrap().unwrap();

    // Revoked from A: B's token stops working at once.
    let a_token = a.store.sync_account().unwrap().unwrap().token;
    client(&server)
        .revoke_device(&a_token, &b_account.device_id)
        .unwrap();
    let err = sync_now(&access(&mut b.store), &mut |_| {}, &Cancel::new()).unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::Unauthorized(_))),
        "{err}"
    );
    let devices = client(&server).devices(&a_token).unwrap();
    assert!(
        devices
            .iter()
            .any(|d| d.id == b_account.device_id && d.revoked)
    );

    // Expired: an hour later A's session is over too.
    clock.advance(3_600_001);
    let err = sync_now(&access(&mut a.store), &mut |_| {}, &Cancel::new()).unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::Unauthorized(_))),
        "{err}"
    );

    // Logged out: the token ends on the server.
    let mut c = new_device(&server, "anna", "tablet");
    let c_token = c.store.sync_account().unwrap().unwrap().token;
    assert!(strideguard_core::sync::account::logout(&access(&mut c.store)).unwrap());
    let (status, body) = http(
        "GET",
        &format!("{}/v1/records", server.url()),
        Some(&c_token),
        None,
    );
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let (status, _) = http("GET", &format!("{}/v1/records", server.url()), None, None);
    assert_eq!(status, 401);
}

#[test]
fn every_limit_answers_413_or_429_naming_the_limit() {
    let mut cfg = config();
    cfg.limits.record_payload_bytes = 2_000;
    cfg.limits.batch_records = 3;
    cfg.limits.batch_bytes = 5_000;
    cfg.limits.body_bytes = 20_000;
    cfg.limits.quota_bytes = 6_000;
    cfg.limits.logins_per_minute_per_user = 4;
    cfg.limits.logins_per_minute_per_ip = 8;
    cfg.limits.requests_per_minute_per_user = 15;
    let server = TestServer::start(cfg);
    let url = server.url();
    let mut a = Device::new(T0);
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let token = a.store.sync_account().unwrap().unwrap().token;
    let tag = "a".repeat(64);
    let rec = |size: usize| {
        use base64::Engine as _;
        json!({"collection": tag, "id": Uuid::new_v4().to_string(), "deleted": false,
               "payload": base64::engine::general_purpose::STANDARD.encode(vec![7u8; size])})
    };
    let post = |body: serde_json::Value| {
        http(
            "POST",
            &format!("{url}/v1/records"),
            Some(&token),
            Some(&body),
        )
    };
    let check = |(status, body): (u16, serde_json::Value), want: u16, limit: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["limit"], limit, "{body}");
        assert!(body["message"].as_str().unwrap().len() > 10);
    };
    check(
        post(json!({"records": [rec(2_001)]})),
        413,
        "record_payload_bytes",
    );
    check(
        post(json!({"records": [rec(10), rec(10), rec(10), rec(10)]})),
        413,
        "batch_records",
    );
    check(
        post(json!({"records": [rec(1_900), rec(1_900), rec(1_900)]})),
        413,
        "batch_bytes",
    );
    let big = serde_json::to_vec(&json!({"records": [], "pad": "x".repeat(30_000)})).unwrap();
    check(
        strideguard_tests::sync::http_bytes(
            "POST",
            &format!("{url}/v1/records"),
            Some(&token),
            Some(big),
        ),
        413,
        "body_bytes",
    );
    assert_eq!(
        post(json!({"records": [rec(1_900), rec(1_900), rec(1_000)]})).0,
        200
    );
    check(post(json!({"records": [rec(1_900)]})), 413, "quota_bytes");
    // Nothing of the refused batches was stored.
    let (_, page) = http("GET", &format!("{url}/v1/records"), Some(&token), None);
    assert_eq!(page["records"].as_array().unwrap().len(), 3);
    // Requests per minute for one user (15, 7 used so far).
    let mut last = (200, json!(null));
    for _ in 0..10 {
        last = http("GET", &format!("{url}/v1/devices"), Some(&token), None);
        if last.0 != 200 {
            break;
        }
    }
    check(last, 429, "requests_per_minute_per_user");

    // Logins: 4 failures a minute for one username (successful ones count none), then the
    // per-IP limit.
    let login = |user: &str| {
        http(
            "POST",
            &format!("{url}/v1/sessions"),
            None,
            Some(
                &json!({"username": user, "auth_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "device_name": "x"}),
            ),
        )
    };
    for _ in 0..4 {
        assert_eq!(login("anna").0, 401);
    }
    check(login("anna"), 429, "logins_per_minute_per_user");
    let mut last = (0, json!(null));
    for i in 0..8 {
        last = login(&format!("other{i}"));
        if last.0 == 429 {
            break;
        }
    }
    check(last, 429, "logins_per_minute_per_ip");
    // The limits are advertised.
    let (_, limits) = http("GET", &format!("{url}/v1/limits"), None, None);
    assert_eq!(limits["batch_records"], 3);
}

#[test]
fn a_new_device_gets_a_whole_demo_history_and_agrees() {
    let server = TestServer::start(config());
    let mut a = Device::new(T0);
    load_demo(
        &mut a.store,
        &history(11, NaiveDate::from_ymd_opt(2026, 5, 10).unwrap()),
    )
    .unwrap();
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let mut events = 0;
    let up = sync_now(&access(&mut a.store), &mut |_| events += 1, &Cancel::new()).unwrap();
    assert!(up.uploaded > 50, "{up:?}");
    assert!(events >= 3);
    let mut b = new_device(&server, "anna", "phone");
    let down = synced(&mut b);
    assert_eq!(down.downloaded, up.uploaded);
    assert_eq!(down.pending, 0);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    let as_of = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
    let t = strideguard_core::analysis::Thresholds::default();
    assert_eq!(
        serde_json::to_value(a.store.report(as_of, 16, &t).unwrap()).unwrap(),
        serde_json::to_value(b.store.report(as_of, 16, &t).unwrap()).unwrap(),
        "both devices give the same report"
    );
}

#[test]
fn an_upload_that_lost_the_race_gets_409_merges_and_retries() {
    let server = TestServer::start(config());
    let (mut a, shoe, runs) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    b.clock.set(T0 + 20_000);
    b.store
        .edit_run(
            runs[0].id,
            &RunEdit {
                rpe: Some(Some(6)),
                ..RunEdit::default()
            },
        )
        .unwrap();
    let account = b.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = client(&server).transport(&account.token);
    let b_store = access(&mut b.store);
    let mut engine = strideguard_core::sync::Engine::new(&b_store, &key, &mut t);
    // B folds and pulls: nothing new yet.
    engine.step().unwrap();
    engine.step().unwrap();
    // Meanwhile A edits the same run's notes and the shoe, and uploads first.
    a.clock.set(T0 + 10_000);
    a.store
        .edit_run(
            runs[0].id,
            &RunEdit {
                notes: Some(Some("from A".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    synced(&mut a);
    let summary = engine.run(&mut |_| {}, &Cancel::new()).unwrap();
    assert_eq!(summary.conflicts_resolved, 1, "{summary:?}");
    assert_eq!(summary.uploaded, 1);
    synced(&mut a);
    let r = a.store.run(runs[0].id).unwrap().unwrap();
    assert_eq!((r.notes.as_deref(), r.rpe), (Some("from A"), Some(6)));
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    assert!(a.store.shoe(shoe.id).unwrap().is_some());
}

#[test]
fn a_new_devices_own_time_zone_never_overrides_the_runners_profile() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    let mut profile = a.store.profile().unwrap();
    profile.time_zone = "Europe/Berlin".into();
    a.store.set_profile(&profile).unwrap();
    synced(&mut a);
    // A phone set up later in New York: its database starts in its own zone.
    let mut b = Device::new(T0 + 3_600_000);
    b.store.set_default_time_zone("America/New_York").unwrap();
    login(
        &access(&mut b.store),
        &client(&server),
        "anna",
        PASS,
        "phone",
    )
    .unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(b.store.profile().unwrap().time_zone, "Europe/Berlin");
    assert_eq!(a.store.profile().unwrap().time_zone, "Europe/Berlin");
    // A choice made on the phone does travel.
    b.clock.set(T0 + 7_200_000);
    let mut p = b.store.profile().unwrap();
    p.time_zone = "America/New_York".into();
    b.store.set_profile(&p).unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(a.store.profile().unwrap().time_zone, "America/New_York");
}

#[test]
fn an_edit_made_after_a_delete_brings_the_whole_run_back_everywhere() {
    let server = TestServer::start(config());
    let (mut a, _, runs) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    a.clock.set(T0 + 10_000);
    a.store.delete_run(runs[2].id).unwrap();
    b.clock.set(T0 + 20_000);
    b.store
        .edit_run(
            runs[2].id,
            &RunEdit {
                notes: Some(Some("kept: I still want this one".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    let back = a
        .store
        .run(runs[2].id)
        .unwrap()
        .expect("the later edit wins");
    assert_eq!(back.notes.as_deref(), Some("kept: I still want this one"));
    assert_eq!(back.distance_m, runs[2].distance_m);
    assert_eq!(back.start, runs[2].start);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    assert_eq!(synced(&mut a).pending, 0);
}

#[test]
fn a_device_behind_the_purged_tombstones_resyncs_fully() {
    let server = TestServer::start(config());
    let client = client(&server);
    let mut a = Device::new(1_000);
    register(&access(&mut a.store), &client, "anna", PASS, FAST, "laptop").unwrap();
    let shoe = Shoe::new(uuid::Uuid::new_v4(), "Clifton");
    a.store.add_shoe(&shoe).unwrap();
    let keep = Shoe::new(uuid::Uuid::new_v4(), "Kept");
    a.store.add_shoe(&keep).unwrap();
    synced(&mut a);
    let mut b = Device::new(1_000);
    login(&access(&mut b.store), &client, "anna", PASS, "phone").unwrap();
    synced(&mut b);
    // A adds and deletes records; B stays offline.
    let run = Run::new(
        uuid::Uuid::new_v4(),
        chrono::DateTime::parse_from_rfc3339("2026-05-01T07:00:00+02:00").unwrap(),
        5_000.0,
        1_500.0,
    );
    a.store.add_run(&run, &[]).unwrap();
    synced(&mut a);
    a.store.delete_run(run.id).unwrap();
    synced(&mut a);
    // The tombstone is older than the retention: the server drops it.
    assert_eq!(server.storage.purge_tombstones(i64::MAX).unwrap(), 1);
    let summary = synced(&mut b);
    assert!(summary.full_resync, "{summary:?}");
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

/// A finite, non-negative f64 with any bit pattern the store accepts: zero, subnormals,
/// everything up to `f64::MAX`.
fn any_non_negative() -> impl proptest::strategy::Strategy<Value = f64> {
    use proptest::num::f64::{NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | ZERO | SUBNORMAL | NORMAL
}

/// Every field a device writes arrives bit for bit on the other: random f64 (through JSON
/// inside the sealed payload), strings of any characters, and the samples' blob, through
/// seal, upload, download and apply.
#[test]
fn sync_carries_every_field_bit_exactly() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let server = TestServer::start(config());
    let mut a = Device::new(T0);
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let b = new_device(&server, "anna", "phone");
    let shoe = Shoe::new(Uuid::new_v4(), "Clifton");
    a.store.add_shoe(&shoe).unwrap();
    let devices = std::cell::RefCell::new((a, b));
    let text = proptest::option::of(any::<String>());
    let fields = (
        (any_non_negative(), 1e-300f64..1e300, any_non_negative()),
        (
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
        ),
        (text.clone(), any::<String>(), text),
        (any_non_negative(), any_non_negative(), 0.0..f64::MAX),
        proptest::collection::vec((any_non_negative(), any_non_negative()), 0..40),
        (
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
            proptest::option::of(any_non_negative()),
        ),
    );
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let day = std::cell::Cell::new(0i64);
    runner
        .run(
            &fields,
            |(
                (distance, duration, moving),
                (gain, loss, cadence),
                (notes, name, brand),
                (start, wear, replace),
                points,
                (power, stance, balance, oscillation, ratio, step),
            )| {
                let (a, b) = &mut *devices.borrow_mut();
                day.set(day.get() + 1);
                let start_at = chrono::DateTime::parse_from_rfc3339("2026-01-01T07:00:00+01:00")
                    .unwrap()
                    + chrono::Duration::days(day.get());
                let mut run = Run::new(Uuid::new_v4(), start_at, distance, duration);
                run.moving_time_s = Some(moving);
                run.elevation_gain_m = gain;
                run.elevation_loss_m = loss;
                run.avg_cadence_spm = cadence;
                run.avg_power_w = power;
                run.avg_stance_time_s = stance;
                run.avg_stance_balance_left_pct = balance;
                run.avg_vertical_oscillation_m = oscillation;
                run.avg_vertical_ratio_pct = ratio;
                run.avg_step_length_m = step;
                run.notes = notes.map(|n| n.chars().take(10_000).collect());
                run.shoe_id = Some(shoe.id);
                let samples: Vec<Sample> = points
                    .iter()
                    .enumerate()
                    .map(|(i, (d, c))| Sample {
                        t_s: i as f64,
                        distance_m: Some(d.min(1e9)),
                        cadence_spm: Some(c.min(400.0)),
                        // Every other sample carries running dynamics and power.
                        power_w: (i % 2 == 0).then(|| c.min(2000.0)),
                        stance_time_s: (i % 2 == 0).then(|| (d % 1.0).abs()),
                        vertical_ratio_pct: (i % 2 == 0).then(|| c.min(30.0)),
                        ..Sample::default()
                    })
                    .collect();
                a.store.add_run(&run, &samples).unwrap();
                let name: String = name.chars().take(100).collect();
                let name = if name.trim().is_empty() {
                    "x".to_string()
                } else {
                    name
                };
                a.store
                    .edit_shoe(
                        shoe.id,
                        &ShoeEdit {
                            name: Some(name),
                            brand: Some(brand.map(|b| b.chars().take(100).collect())),
                            start_distance_m: Some(start),
                            wear_at_m: Some(wear.min(replace)),
                            replace_at_m: Some(if wear == replace {
                                wear.next_up()
                            } else {
                                wear.max(replace)
                            }),
                            ..ShoeEdit::default()
                        },
                    )
                    .unwrap();
                synced(a);
                synced(b);
                let here = a.store.run(run.id).unwrap().expect("the run");
                let there = b.store.run(run.id).unwrap().expect("the run arrived");
                prop_assert_eq!(format!("{here:?}"), format!("{there:?}"));
                for (x, y) in [
                    (here.distance_m, there.distance_m),
                    (here.duration_s, there.duration_s),
                ] {
                    prop_assert_eq!(x.to_bits(), y.to_bits());
                }
                prop_assert_eq!(
                    format!("{:?}", a.store.samples(run.id).unwrap()),
                    format!("{:?}", b.store.samples(run.id).unwrap())
                );
                prop_assert_eq!(snapshot(&a.store), snapshot(&b.store));
                Ok(())
            },
        )
        .unwrap();
}

/// A database that syncs as one account, logs out and links to another uploads its whole
/// history there: what it wrote itself and what it downloaded from the first account.
#[test]
fn switching_accounts_uploads_the_whole_history_to_the_new_one() {
    let server = TestServer::start(config());
    let (mut a, _, runs) = first_device(&server);
    synced(&mut a);
    // B's runs all came down from account "anna"; it adds one of its own.
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    let own = run_at(9, "my own", None);
    b.store.add_run(&own, &samples(10)).unwrap();
    synced(&mut b);
    assert!(strideguard_core::sync::account::logout(&access(&mut b.store)).unwrap());
    assert!(
        b.store.sync_status().unwrap().pending_changes > runs.len(),
        "after logging out everything waits for the next account"
    );
    register(
        &access(&mut b.store),
        &client(&server),
        "bea",
        PASS,
        FAST,
        "phone",
    )
    .unwrap();
    let up = synced(&mut b);
    assert!(up.uploaded > runs.len(), "{up:?}");
    let mut c = new_device(&server, "bea", "tablet");
    synced(&mut c);
    assert_eq!(c.store.runs().unwrap().len(), runs.len() + 1);
    assert_eq!(snapshot(&b.store), snapshot(&c.store));
    assert_eq!(c.store.samples(runs[0].id).unwrap().len(), 5_000);

    // Back to the first account: the server already has those records, nothing is lost and
    // the first pull finds them equal.
    assert!(strideguard_core::sync::account::logout(&access(&mut b.store)).unwrap());
    login(
        &access(&mut b.store),
        &client(&server),
        "anna",
        PASS,
        "phone",
    )
    .unwrap();
    synced(&mut b);
    synced(&mut a);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

/// A server out of disk says so at once: the device is told 507, does not wait through
/// retries, and keeps everything to upload for later.
#[test]
fn a_full_server_is_told_at_once_and_nothing_waiting_is_lost() {
    let server = TestServer::with_storage_limit(
        config(),
        Arc::new(strideguard_core::clock::SystemClock),
        // The demo history takes about 0.5 MB on the server, compressed and sealed.
        Some(384 * 1024),
    );
    let mut a = Device::new(T0);
    load_demo(
        &mut a.store,
        &history(3, NaiveDate::from_ymd_opt(2026, 5, 10).unwrap()),
    )
    .unwrap();
    register(
        &access(&mut a.store),
        &client(&server),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let err = sync_now(&access(&mut a.store), &mut |_| {}, &Cancel::new()).unwrap_err();
    match &err {
        SyncError::Transport(TransportError::Rejected {
            status: 507,
            message,
            ..
        }) => {
            assert!(message.contains("full"), "{message}")
        }
        other => panic!("expected 507, got {other}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "no retries through the Retry-After: {:?}",
        started.elapsed()
    );
    let left = a.store.sync_status().unwrap().pending_changes;
    assert!(left > 0, "what did not fit still waits to upload");
}

// Regressions found by the simulation (tests/simulation.rs); each fails without its fix.

/// Syncs `dev` step by step, running `meanwhile` on its store after `steps` of the engine's
/// steps, as an app does when the runner edits while a sync runs.
fn sync_with_an_edit_after(
    server: &TestServer,
    dev: &mut Device,
    steps: usize,
    meanwhile: impl FnOnce(&mut strideguard_core::Store),
) -> Result<SyncSummary, SyncError> {
    use strideguard_core::store::StoreAccess;
    let account = dev.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = client(server).transport(&account.token);
    let store = access(&mut dev.store);
    let mut engine = strideguard_core::sync::Engine::new(&store, &key, &mut t);
    for _ in 0..steps {
        engine.step().unwrap();
    }
    store.with_store(meanwhile);
    engine.run(&mut |_| {}, &Cancel::new())
}

#[test]
fn an_edit_made_while_a_sync_runs_survives_the_merge_of_that_record() {
    let server = TestServer::start(config());
    let (mut a, _, runs) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    b.clock.set(T0 + 10_000);
    b.store
        .edit_run(
            runs[2].id,
            &RunEdit {
                rpe: Some(Some(4)),
                ..RunEdit::default()
            },
        )
        .unwrap();
    synced(&mut b);
    // A's sync folds, then the runner edits the run's notes, then the pull merges B's RPE:
    // writing the merged run back must not put the old notes over the new ones.
    a.clock.set(T0 + 20_000);
    sync_with_an_edit_after(&server, &mut a, 1, |s| {
        s.edit_run(
            runs[2].id,
            &RunEdit {
                notes: Some(Some("edited during the sync".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    })
    .unwrap();
    synced(&mut a);
    synced(&mut b);
    for dev in [&a, &b] {
        let r = dev.store.run(runs[2].id).unwrap().unwrap();
        assert_eq!(
            (r.notes.as_deref(), r.rpe),
            (Some("edited during the sync"), Some(4))
        );
    }
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn edits_made_just_before_a_delete_come_back_with_the_record() {
    let server = TestServer::start(config());
    let (mut a, _, runs) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    // A edits the run, then deletes it, with no sync in between.
    a.clock.set(T0 + 10_000);
    a.store
        .edit_run(
            runs[2].id,
            &RunEdit {
                notes: Some(Some("last words".into())),
                rpe: Some(Some(9)),
                ..RunEdit::default()
            },
        )
        .unwrap();
    a.clock.set(T0 + 11_000);
    a.store.delete_run(runs[2].id).unwrap();
    // B edits it later: it comes back, with A's edits (they are later than the originals).
    b.clock.set(T0 + 20_000);
    b.store
        .edit_run(
            runs[2].id,
            &RunEdit {
                kind: Some(strideguard_core::RunKind::Hills),
                ..RunEdit::default()
            },
        )
        .unwrap();
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    let back = a
        .store
        .run(runs[2].id)
        .unwrap()
        .expect("the later edit wins");
    assert_eq!(back.notes.as_deref(), Some("last words"));
    assert_eq!(back.rpe, Some(9));
    assert_eq!(back.kind, strideguard_core::RunKind::Hills);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn runs_are_on_their_shoe_again_when_it_comes_back_after_a_delete() {
    let server = TestServer::start(config());
    let (mut a, _, _) = first_device(&server);
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    let trail = b.store.find_shoe("Trail Hoka").unwrap();
    b.clock.set(T0 + 10_000);
    let run = run_at(9, "trail run", Some(trail.id));
    b.store.add_run(&run, &[]).unwrap();
    synced(&mut b);
    // A deletes the shoe without having seen the run: the run arrives on no shoe.
    a.clock.set(T0 + 20_000);
    a.store.delete_shoe(trail.id).unwrap();
    synced(&mut a);
    assert_eq!(a.store.run(run.id).unwrap().unwrap().shoe_id, None);
    // B, which has not seen the delete, renames the shoe later: it comes back, and so does
    // the run on it (its record still names the shoe).
    b.clock.set(T0 + 30_000);
    b.store
        .edit_shoe(
            trail.id,
            &ShoeEdit {
                name: Some("Trail Hoka 2".into()),
                ..ShoeEdit::default()
            },
        )
        .unwrap();
    synced(&mut b);
    synced(&mut a);
    assert!(a.store.shoe(trail.id).unwrap().is_some());
    assert_eq!(
        a.store.run(run.id).unwrap().unwrap().shoe_id,
        Some(trail.id)
    );
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn retiring_or_deleting_the_default_shoe_leaves_none_on_every_device() {
    let server = TestServer::start(config());
    let (mut a, aurora, _) = first_device(&server);
    // B, offline, adds its first shoe, which becomes its default: a later choice than A's.
    let mut b = new_device(&server, "anna", "phone");
    b.clock.set(T0 + 10_000);
    let own = b
        .store
        .add_shoe(&Shoe::new(Uuid::new_v4(), "Phone's first"))
        .unwrap();
    assert!(own.is_default);
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    assert_eq!(a.store.default_shoe().unwrap().unwrap().id, own.id);
    // A retires it: there is no default, and A's earlier choice does not come back anywhere.
    a.clock.set(T0 + 20_000);
    a.store.retire_shoe(own.id).unwrap();
    assert_eq!(a.store.default_shoe().unwrap(), None);
    synced(&mut a);
    synced(&mut b);
    synced(&mut a);
    assert_eq!(b.store.default_shoe().unwrap(), None, "not {}", aurora.name);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    // B chooses the trail shoe and A deletes it: none again, everywhere.
    let trail = b.store.find_shoe("Trail Hoka").unwrap();
    b.clock.set(T0 + 30_000);
    b.store.set_default_shoe(trail.id).unwrap();
    synced(&mut b);
    synced(&mut a);
    a.clock.set(T0 + 40_000);
    a.store.delete_shoe(trail.id).unwrap();
    synced(&mut a);
    synced(&mut b);
    assert_eq!(b.store.default_shoe().unwrap(), None, "not {}", aurora.name);
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}

#[test]
fn a_run_deleted_while_a_sync_runs_does_not_fail_the_sync() {
    let server = TestServer::start(config());
    let (mut a, _, runs) = first_device(&server);
    // Fold and pull, then the runner deletes a run whose samples are waiting to be sent.
    let summary = sync_with_an_edit_after(&server, &mut a, 2, |s| {
        s.delete_run(runs[1].id).unwrap();
    })
    .expect("the sync goes on without the deleted samples");
    assert!(summary.uploaded > 0, "{summary:?}");
    synced(&mut a);
    let mut b = new_device(&server, "anna", "phone");
    synced(&mut b);
    assert!(b.store.run(runs[1].id).unwrap().is_none());
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
    assert_eq!(a.store.sync_dirty_count().unwrap(), 0);
}
