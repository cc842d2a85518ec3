//! The encryption of synced records: AES-256-GCM through `DataKey::seal`/`open` on 64 KiB
//! records (a sample chunk), in MB/s, against `openssl speed -evp aes-256-gcm` measured in the
//! same run when openssl is installed.
//!
//! Run: `cargo bench -p strideguard-core --bench crypto`.

use std::time::Instant;

use strideguard_core::crypto::DataKey;

fn main() {
    let key = DataKey::generate().unwrap();
    let payload = vec![42u8; 64 * 1024 - 4];
    let n = 2_000;
    let start = Instant::now();
    let mut sealed = Vec::new();
    for i in 0..n {
        sealed = key
            .seal("run_samples", &i.to_string(), 1, &payload, 65_536)
            .unwrap();
    }
    let seal_mbs = (n * 65_536) as f64 / start.elapsed().as_secs_f64() / 1e6;
    let start = Instant::now();
    for _ in 0..n {
        key.open("run_samples", &(n - 1).to_string(), 1, &sealed)
            .unwrap();
    }
    let open_mbs = (n * 65_536) as f64 / start.elapsed().as_secs_f64() / 1e6;
    println!("AEAD AES-256-GCM, 64 KiB records: seal {seal_mbs:.0} MB/s, open {open_mbs:.0} MB/s");
    let openssl = std::process::Command::new("openssl")
        .args([
            "speed",
            "-elapsed",
            "-seconds",
            "2",
            "-bytes",
            "65536",
            "-evp",
            "aes-256-gcm",
        ])
        .output();
    match openssl {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            // The last line: "AES-256-GCM  <rate>k", the rate in thousands of bytes per second.
            let rate = text
                .lines()
                .rev()
                .find_map(|l| {
                    l.to_lowercase()
                        .starts_with("aes-256-gcm")
                        .then(|| l.split_whitespace().last().map(str::to_string))
                        .flatten()
                })
                .and_then(|v| v.trim_end_matches('k').parse::<f64>().ok());
            match rate {
                Some(k) => {
                    let mbs = k * 1000.0 / 1e6;
                    println!(
                        "  openssl speed -evp aes-256-gcm (64 KiB): {mbs:.0} MB/s; seal is {:.2}x, open {:.2}x of it",
                        seal_mbs / mbs,
                        open_mbs / mbs
                    );
                }
                None => println!("  openssl speed printed no AES-256-GCM rate"),
            }
        }
        _ => println!("  (openssl not installed: no baseline for AEAD)"),
    }
}
