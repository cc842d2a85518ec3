//! Sync v2 through a real server on 127.0.0.1: devices on the JSON wire (`/v1/records`) and on
//! the frames wire (`/v2/records`) converge through one server; records an old device sealed
//! in the first envelope format stay readable and their writer seals them again; a frames body
//! with a flipped bit, a cut, an oversized frame or a lying count is refused with a clear
//! error and stores nothing; a download cut mid-frame loses nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::TimeZone;
use strideguard_core::cancel::Cancel;
use strideguard_core::crypto::{DataKey, ENVELOPE_V1, ENVELOPE_V2};
use strideguard_core::model::{Run, Sample, Shoe};
use strideguard_core::store::collections::COLLECTIONS;
use strideguard_core::store::{PainEntry, RunEdit, ShoeEdit};
use strideguard_core::sync::account::{login, register};
use strideguard_core::sync::engine::seal_record_v1;
use strideguard_core::sync::http::HttpClient;
use strideguard_core::sync::wire::{RecordUpload, RecordsPage};
use strideguard_core::sync::{PushReply, SyncError, SyncSummary, Transport, TransportError, sync};
use strideguard_core::triage::Answers;
use strideguard_proto::frames;
use strideguard_tests::sync::{Device, FAST, TestServer, access, config, http};
use uuid::Uuid;

const T0: i64 = 1_780_000_000_000;
const PASS: &str = "correct horse battery staple";

fn client(url: &str, wire: u8) -> HttpClient {
    HttpClient::new(url)
        .unwrap()
        .with_wire_version(wire)
        .with_retries(0, Duration::from_millis(10))
}

/// Syncs `dev` over records wire `wire` (through `url`, the server or a proxy in front of it).
fn sync_over(dev: &mut Device, url: &str, wire: u8) -> Result<SyncSummary, SyncError> {
    let account = dev.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = client(url, wire).transport(&account.token);
    sync(
        &access(&mut dev.store),
        &key,
        &mut t,
        &mut |_| {},
        &Cancel::new(),
    )
}

/// Samples that do not compress away: a real watch's noise.
fn samples(n: usize, seed: u64) -> Vec<Sample> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Sample {
                t_s: i as f64,
                hr_bpm: Some(120 + (x % 60) as u8),
                cadence_spm: Some(150.0 + ((x >> 8) % 40) as f64),
                distance_m: Some(i as f64 * 2.9 + ((x >> 16) % 100) as f64 / 100.0),
                altitude_m: Some(30.0 + ((x >> 24) % 500) as f64 / 10.0),
                ..Sample::default()
            }
        })
        .collect()
}

fn run_on(day: u32, notes: &str) -> Run {
    let start = chrono::FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 5, day, 7, 0, 0)
        .unwrap();
    let mut r = Run::new(Uuid::new_v4(), start, 10_000.0, 3_000.0);
    r.notes = Some(notes.to_string());
    r
}

fn new_device(url: &str, user: &str, name: &str) -> Device {
    let mut d = Device::new(T0);
    login(
        &access(&mut d.store),
        &HttpClient::new(url).unwrap(),
        user,
        PASS,
        name,
    )
    .expect("login");
    d
}

/// What a runner sees of a store, for comparing devices.
fn seen(dev: &Device) -> String {
    strideguard_tests::sync::snapshot(&dev.store)
}

/// Requests answered on `route` with `method`, from the server's metrics.
fn served(server: &TestServer, method: &str, route: &str) -> u64 {
    let text = ureq::get(format!("{}/metrics", server.url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let prefix = format!(
        "strideguard_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"200\"}} "
    );
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn devices_on_the_json_wire_and_the_frames_wire_converge_through_one_server() {
    let server = TestServer::start(config());
    let url = server.url();
    let mut a = Device::new(T0);
    let shoe = Shoe::new(Uuid::new_v4(), "Aurora Pegasus QXJ");
    a.store.add_shoe(&shoe).unwrap();
    let first = run_on(1, "tempo along the Elbe");
    a.store.add_run(&first, &samples(5_000, 1)).unwrap();
    register(
        &access(&mut a.store),
        &HttpClient::new(&url).unwrap(),
        "anna",
        PASS,
        FAST,
        "old laptop",
    )
    .unwrap();
    // A on the JSON wire, as a client that predates /v2; B and C on frames.
    sync_over(&mut a, &url, 1).unwrap();
    let mut b = new_device(&url, "anna", "phone");
    let mut c = new_device(&url, "anna", "watch");
    let down = sync_over(&mut b, &url, 2).unwrap();
    assert!(down.rejected.is_empty(), "{:?}", down.rejected);
    assert_eq!(seen(&b), seen(&a));
    sync_over(&mut c, &url, 2).unwrap();

    // Edits on all three, some to the same run.
    a.store
        .edit_run(
            first.id,
            &RunEdit {
                notes: Some(Some("edited on the laptop".into())),
                ..RunEdit::default()
            },
        )
        .unwrap();
    b.store
        .edit_run(
            first.id,
            &RunEdit {
                rpe: Some(Some(6)),
                ..RunEdit::default()
            },
        )
        .unwrap();
    b.store
        .add_run(&run_on(3, "easy with Mia"), &samples(900, 2))
        .unwrap();
    c.store
        .edit_shoe(
            shoe.id,
            &ShoeEdit {
                name: Some("Pegasus (old)".into()),
                ..ShoeEdit::default()
            },
        )
        .unwrap();
    let answers = Answers::from_json(
        r#"{"location": "achilles", "side": "right", "severity": 3, "character": ["stiffness"],
            "timing": ["morning"], "onset": "2026-05-02T07:00:00+01:00", "improving": false,
            "red_flags": {}}"#,
    )
    .unwrap();
    c.store
        .add_pain_entry(&PainEntry {
            id: Uuid::new_v4(),
            logged_at: chrono::Utc.timestamp_millis_opt(T0).unwrap(),
            answers,
        })
        .unwrap();
    for _ in 0..2 {
        sync_over(&mut a, &url, 1).unwrap();
        sync_over(&mut b, &url, 2).unwrap();
        sync_over(&mut c, &url, 2).unwrap();
    }
    assert_eq!(seen(&a), seen(&b));
    assert_eq!(seen(&b), seen(&c));
    let run = b.store.run(first.id).unwrap().unwrap();
    assert_eq!(run.notes.as_deref(), Some("edited on the laptop"));
    assert_eq!(run.rpe, Some(6));
    assert_eq!(b.store.runs().unwrap().len(), 2);
    // Each wire was really used.
    assert!(served(&server, "POST", "/v1/records") > 0);
    assert!(served(&server, "GET", "/v1/records") > 0);
    assert!(served(&server, "POST", "/v2/records") > 0);
    assert!(served(&server, "GET", "/v2/records") > 0);
}

/// The server's copy of every record, as a frames page.
fn server_records(url: &str, token: &str) -> RecordsPage {
    let (status, _, body) =
        frames_request("GET", &format!("{url}/v2/records?since=0"), token, None);
    assert_eq!(status, 200);
    frames::decode_page(&body, 1 << 20).unwrap()
}

#[test]
fn records_an_old_device_sealed_stay_readable_and_their_writer_seals_them_again() {
    let server = TestServer::start(config());
    let url = server.url();
    let mut old = Device::new(T0);
    let shoe = Shoe::new(Uuid::new_v4(), "Trail Hoka");
    old.store.add_shoe(&shoe).unwrap();
    old.store
        .add_run(&run_on(2, "hill repeats"), &samples(3_000, 3))
        .unwrap();
    register(
        &access(&mut old.store),
        &HttpClient::new(&url).unwrap(),
        "ben",
        PASS,
        FAST,
        "old phone",
    )
    .unwrap();
    // Upload as the first release did: JSON plaintexts in envelope format 1, on /v1.
    let account = old.store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    old.store.sync_fold().unwrap();
    let outgoing = old.store.sync_outgoing(1000).unwrap();
    let batch: Vec<RecordUpload> = outgoing
        .iter()
        .map(|r| seal_record_v1(&key, &key.collection_tag(r.collection), r).unwrap())
        .collect();
    let mut t = client(&url, 1).transport(&account.token);
    t.limits().unwrap();
    let PushReply::Accepted(acks) = t.push(&batch).unwrap() else {
        panic!("a conflict on a new account")
    };
    let acked: Vec<_> = outgoing
        .iter()
        .zip(&acks)
        .map(|(r, a)| (r, a.seq))
        .collect();
    old.store.sync_acknowledge(&acked).unwrap();
    assert_eq!(old.store.sync_dirty_count().unwrap(), 0);
    let before = server_records(&url, &account.token);
    assert!(before.records.len() >= 3);
    assert!(before.records.iter().all(|r| r.payload[2] == ENVELOPE_V1));

    // A new device reads them all.
    let mut phone = new_device(&url, "ben", "new phone");
    let down = sync_over(&mut phone, &url, 2).unwrap();
    assert!(down.rejected.is_empty(), "{:?}", down.rejected);
    assert_eq!(seen(&phone), seen(&old));
    // It wrote none of them, so it rewrites none of them.
    assert_eq!(down.uploaded, 0);

    // The old device, updated, seals its own records again on its next sync.
    let up = sync_over(&mut old, &url, 2).unwrap();
    assert_eq!(up.uploaded, before.records.len(), "{up:?}");
    let after = server_records(&url, &account.token);
    assert_eq!(after.records.len(), before.records.len());
    assert!(after.records.iter().all(|r| r.payload[2] == ENVELOPE_V2));
    // Once: the next sync sends nothing.
    assert_eq!(sync_over(&mut old, &url, 2).unwrap().uploaded, 0);
    let again = sync_over(&mut phone, &url, 2).unwrap();
    assert!(again.rejected.is_empty(), "{:?}", again.rejected);
    assert_eq!(seen(&phone), seen(&old));
    let samples_tag = key.collection_tag(COLLECTIONS[3].name());
    let chunk_before = before
        .records
        .iter()
        .find(|r| r.collection == samples_tag)
        .unwrap();
    let chunk_after = after
        .records
        .iter()
        .find(|r| r.id == chunk_before.id)
        .unwrap();
    assert!(
        chunk_after.payload.len() < chunk_before.payload.len(),
        "the sample chunk was {} bytes padded to 64 KiB steps, now {}",
        chunk_before.payload.len(),
        chunk_after.payload.len()
    );
}

/// One raw request with a frames body: (status, content type, body).
fn frames_request(
    method: &str,
    url: &str,
    token: &str,
    body: Option<Vec<u8>>,
) -> (u16, String, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", frames::CONTENT_TYPE)
        .header("authorization", format!("Bearer {token}"))
        .body(body.unwrap_or_default())
        .unwrap();
    let mut resp = agent.run(req).expect("the server answers");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(100 << 20)
        .read_to_vec()
        .unwrap();
    (status, ct, body)
}

fn upload(i: usize, len: usize) -> RecordUpload {
    RecordUpload {
        collection: "ab".repeat(32),
        id: Uuid::new_v4().to_string(),
        if_seq: Some(0),
        deleted: false,
        payload: vec![(i % 251) as u8; len],
    }
}

#[test]
fn bad_frames_bodies_are_refused_with_what_and_where_and_store_nothing() {
    let mut cfg = config();
    cfg.limits.record_payload_bytes = 4096;
    cfg.limits.batch_records = 10;
    let server = TestServer::start(cfg);
    let url = server.url();
    let mut dev = Device::new(T0);
    register(
        &access(&mut dev.store),
        &HttpClient::new(&url).unwrap(),
        "cara",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let token = dev.store.sync_account().unwrap().unwrap().token;
    let post = |body: Vec<u8>| {
        let (status, _, body) =
            frames_request("POST", &format!("{url}/v2/records"), &token, Some(body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, json)
    };
    let good = frames::encode_upload(&[upload(1, 300), upload(2, 400), upload(3, 500)]).unwrap();

    let mut flipped = good.clone();
    flipped[9 + 4 + 60] ^= 0x08;
    let (status, body) = post(flipped);
    assert_eq!(status, 400, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("frame 0") && msg.contains("checksum"), "{msg}");

    let (status, body) = post(good[..good.len() - 100].to_vec());
    assert_eq!(status, 400, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("cut off in frame 2"), "{msg}");

    let big = frames::encode_upload(&[upload(1, 300), upload(2, 5000)]).unwrap();
    let (status, body) = post(big);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["limit"], "record_payload_bytes");
    assert!(
        body["message"].as_str().unwrap().contains("frame 1"),
        "{body}"
    );

    let mut lying = good.clone();
    lying[5..9].copy_from_slice(&4u32.to_be_bytes());
    let (status, body) = post(lying);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("declares 4 frames"),
        "{body}"
    );
    let mut short = good.clone();
    short[5..9].copy_from_slice(&2u32.to_be_bytes());
    let (status, body) = post(short);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("more bytes follow"),
        "{body}"
    );

    let mut many = good.clone();
    many[5..9].copy_from_slice(&1_000_000u32.to_be_bytes());
    let (status, body) = post(many);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["limit"], "batch_records");

    // JSON sent to the frames endpoint is told what to send.
    let (status, body) = http(
        "POST",
        &format!("{url}/v2/records"),
        Some(&token),
        Some(&serde_json::json!({"records": []})),
    );
    assert_eq!(status, 415, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(frames::CONTENT_TYPE)
    );

    // None of it landed; the sound body does.
    assert!(server_records(&url, &token).records.is_empty());
    let (status, body) = post(good);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"].as_array().unwrap().len(), 3);
    assert_eq!(server_records(&url, &token).records.len(), 3);
}

/// A proxy in front of the server that, while `cut` is set, closes each connection once the
/// server has sent `after` bytes on it.
struct CuttingProxy {
    url: String,
    cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start(backend: &str, after: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let backend = backend.trim_start_matches("http://").to_string();
        let cut = Arc::new(AtomicBool::new(true));
        let flag = cut.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { return };
                let Ok(server) = TcpStream::connect(&backend) else {
                    return;
                };
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut s_out);
                });
                let flag = flag.clone();
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let mut sent = 0;
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let n = if flag.load(Ordering::SeqCst) {
                            n.min(after.saturating_sub(sent))
                        } else {
                            n
                        };
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n;
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    let _ = from.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CuttingProxy { url, cut }
    }
}

#[test]
fn a_download_cut_mid_frame_loses_nothing_and_the_next_sync_completes_it() {
    let server = TestServer::start(config());
    let url = server.url();
    let mut a = Device::new(T0);
    for day in 1..=6 {
        a.store
            .add_run(&run_on(day, "intervals"), &samples(4_000, u64::from(day)))
            .unwrap();
    }
    register(
        &access(&mut a.store),
        &HttpClient::new(&url).unwrap(),
        "dora",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    sync_over(&mut a, &url, 2).unwrap();
    let token = a.store.sync_account().unwrap().unwrap().token;
    let page = server_records(&url, &token);
    let page_bytes = frames::encode_page(&page).len();
    assert!(page_bytes > 40_000, "the page is {page_bytes} bytes");

    // The limits answer gets through; the page is cut about halfway.
    let proxy = CuttingProxy::start(&url, 4096 + page_bytes / 2);
    let mut b = new_device(&url, "dora", "phone");
    let err = sync_over(&mut b, &proxy.url, 2).unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::Network(_))),
        "{err}"
    );
    assert_eq!(
        b.store.runs().unwrap().len(),
        0,
        "nothing of the cut page was applied"
    );
    assert_eq!(
        b.store.sync_pull_cursor().unwrap(),
        0,
        "the cursor did not move"
    );

    proxy.cut.store(false, Ordering::SeqCst);
    let done = sync_over(&mut b, &proxy.url, 2).unwrap();
    assert!(done.rejected.is_empty(), "{:?}", done.rejected);
    assert_eq!(seen(&b), seen(&a));
    assert_eq!(b.store.runs().unwrap().len(), 6);
}

/// A front that routes like an older server for `/v2`: it answers 404 there (with
/// `uploads_only`, only to uploads) and passes every other request on to the server, one
/// connection a request.
fn start_front_without_v2(backend: &str, uploads_only: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let backend = backend.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let backend = backend.clone();
            std::thread::spawn(move || {
                // The request head, then its body by Content-Length.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let length = text
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if client.read_exact(&mut body).is_err() {
                    return;
                }
                let path = text.split(' ').nth(1).unwrap_or("");
                if path.starts_with("/v2/") && (!uploads_only || text.starts_with("POST ")) {
                    let msg = br#"{"error":"not_found","message":"no such route"}"#;
                    let _ = write!(
                        client,
                        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        msg.len()
                    );
                    let _ = client.write_all(msg);
                    return;
                }
                let Ok(mut server) = TcpStream::connect(&backend) else {
                    return;
                };
                let head = text.replacen("\r\n", "\r\nconnection: close\r\n", 1);
                let _ = server.write_all(head.as_bytes());
                let _ = server.write_all(&body);
                let _ = std::io::copy(&mut server, &mut client);
            });
        }
    });
    url
}

#[test]
fn a_client_meeting_an_older_server_behind_the_same_address_falls_back_to_json() {
    let server = TestServer::start(config());
    let url = server.url();
    let front = start_front_without_v2(&url, false);
    let mut a = Device::new(T0);
    a.store
        .add_run(&run_on(4, "long run"), &samples(2_000, 9))
        .unwrap();
    register(
        &access(&mut a.store),
        &HttpClient::new(&url).unwrap(),
        "erin",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    // The limits say 2 (they come from the new server); /v2 answers 404 at the front.
    let up = sync_over(&mut a, &front, 2).unwrap();
    assert!(up.uploaded >= 2, "{up:?}");
    let mut b = new_device(&url, "erin", "phone");
    let down = sync_over(&mut b, &front, 2).unwrap();
    assert_eq!(down.downloaded, up.uploaded);
    assert_eq!(seen(&b), seen(&a));
    assert_eq!(served(&server, "POST", "/v2/records"), 0);
    assert!(served(&server, "POST", "/v1/records") > 0);
}

/// The server rolls back to one without `/v2` between a device's download and its upload:
/// the batches the device filled for frames would pass the body limit as JSON's base64, so
/// it fills them again for JSON, and everything arrives.
#[test]
fn an_upload_falling_back_to_json_mid_sync_refills_its_batches_for_json() {
    let mut cfg = config();
    cfg.limits.batch_bytes = 400_000;
    cfg.limits.body_bytes = 400_000;
    let server = TestServer::start(cfg);
    let url = server.url();
    let front = start_front_without_v2(&url, true);
    let mut a = Device::new(T0);
    for day in 1..=30 {
        a.store
            .add_run(&run_on(day, "tempo"), &samples(4_000, u64::from(day)))
            .unwrap();
    }
    register(
        &access(&mut a.store),
        &HttpClient::new(&url).unwrap(),
        "fern",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let up = sync_over(&mut a, &front, 2).unwrap();
    assert!(up.uploaded > 30, "{up:?}");
    assert_eq!(
        served(&server, "GET", "/v2/records"),
        1,
        "the download spoke frames"
    );
    assert_eq!(served(&server, "POST", "/v2/records"), 0);
    assert!(
        served(&server, "POST", "/v1/records") >= 3,
        "several batches went as JSON"
    );
    let mut b = new_device(&url, "fern", "phone");
    let down = sync_over(&mut b, &url, 2).unwrap();
    assert_eq!(down.downloaded, up.uploaded);
    assert_eq!(seen(&b), seen(&a));
}
