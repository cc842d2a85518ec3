//! `serve`, `account`, `sync` and `device`: the sync commands, over `strideguard_core::sync`.

use std::io::IsTerminal;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::crypto::KdfParams;
use strideguard_core::sync::account;
use strideguard_core::sync::http::HttpClient;
use strideguard_core::sync::{SyncEvent, SyncSummary};

use crate::args::{AccountArgs, AccountCommand, DeviceCommand};
use crate::output::{print_json, table};

pub fn serve(args: &strideguard_server::ServeArgs) -> Result<()> {
    strideguard_server::init_logging();
    strideguard_server::run(args)
}

/// The passphrase from `env`, or asked without echo on a terminal (twice when `confirm`).
fn passphrase(env: &str, prompt: &str, confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var(env) {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: set {env} or run on a terminal to be asked");
    }
    let mut p = dialoguer::Password::new().with_prompt(prompt);
    if confirm {
        p = p.with_confirmation("Repeat it", "The two did not match");
    }
    Ok(p.interact()?)
}

fn device_name(a: &AccountArgs) -> String {
    a.device_name.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "computer".to_string())
    })
}

pub fn account(store: &mut Store, cmd: AccountCommand) -> Result<()> {
    match cmd {
        AccountCommand::Register {
            account,
            kdf_iterations,
        } => {
            let client = HttpClient::new(&account.server)?;
            let pass = passphrase("STRIDEGUARD_PASSPHRASE", "New passphrase", true)?;
            eprintln!("Deriving keys from the passphrase ({kdf_iterations} PBKDF2 rounds)...");
            let linked = account::register(
                store,
                &client,
                &account.user,
                &pass,
                KdfParams {
                    iterations: kdf_iterations,
                },
                &device_name(&account),
            )?;
            println!(
                "Registered '{}' on {}; this database is device {}.",
                linked.username, linked.server, linked.device_id
            );
            println!("Run `strideguard sync` to upload your history (encrypted on this computer).");
        }
        AccountCommand::Login { account } => {
            let client = HttpClient::new(&account.server)?;
            let pass = passphrase("STRIDEGUARD_PASSPHRASE", "Passphrase", false)?;
            let linked =
                account::login(store, &client, &account.user, &pass, &device_name(&account))?;
            println!(
                "Logged in as '{}' on {}; this database is device {}.",
                linked.username, linked.server, linked.device_id
            );
            println!("Run `strideguard sync` to download and merge your history.");
        }
        AccountCommand::Logout => {
            let a = store
                .sync_account()?
                .ok_or_else(|| anyhow!("this database is not logged in to any account"))?;
            let told = account::logout(store)?;
            if told {
                println!("Logged out of '{}' on {}.", a.username, a.server);
            } else {
                println!(
                    "Unlinked this database from '{}'; the server could not be reached, so the \
                     session ends when it expires (or revoke this device from another one).",
                    a.username
                );
            }
            println!("Your data stays in this database.");
        }
        AccountCommand::Passwd { kdf_iterations } => {
            let a = store
                .sync_account()?
                .ok_or_else(|| anyhow!("this database is not logged in to any account"))?;
            let old = passphrase("STRIDEGUARD_PASSPHRASE", "Current passphrase", false)?;
            let new = passphrase("STRIDEGUARD_NEW_PASSPHRASE", "New passphrase", true)?;
            let kdf = KdfParams {
                iterations: kdf_iterations.unwrap_or(a.kdf_iterations),
            };
            account::change_passphrase(store, &old, &new, kdf)?;
            println!(
                "Passphrase changed for '{}'. Other devices stay logged in; new logins need the new one.",
                a.username
            );
        }
        AccountCommand::Status { json } => {
            #[derive(Serialize)]
            struct Status {
                linked: bool,
                server: Option<String>,
                username: Option<String>,
                device_id: Option<String>,
                pending_changes: usize,
            }
            let a = store.sync_account()?;
            store.sync_fold()?;
            let s = Status {
                linked: a.is_some(),
                server: a.as_ref().map(|a| a.server.clone()),
                username: a.as_ref().map(|a| a.username.clone()),
                device_id: a.as_ref().map(|a| a.device_id.clone()),
                pending_changes: store.sync_dirty_count()?,
            };
            if json {
                return print_json(&s);
            }
            match a {
                Some(a) => println!(
                    "Syncing as '{}' with {} (device {}); {} change(s) to upload.",
                    a.username, a.server, a.device_id, s.pending_changes
                ),
                None => println!(
                    "Not linked to an account. `strideguard account register` or `login` links it."
                ),
            }
        }
    }
    Ok(())
}

/// `sync --json`: the summary with the account it synced.
#[derive(Serialize)]
struct SyncJson<'a> {
    server: &'a str,
    username: &'a str,
    #[serde(flatten)]
    summary: &'a SyncSummary,
}

pub fn sync(store: &mut Store, json: bool) -> Result<()> {
    let a = store.sync_account()?.ok_or_else(|| {
        anyhow!("this database is not linked to an account; run `strideguard account register` or `strideguard account login` first")
    })?;
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let (mut up, mut down) = (0, 0);
    let result = account::sync_now(store, &mut |e| {
        let msg = match e {
            SyncEvent::Folded { changes } => format!("{changes} local change(s) prepared"),
            SyncEvent::Pulled { records, .. } => {
                down += records;
                format!("downloaded {down} record(s)")
            }
            SyncEvent::Pushed { records, remaining } => {
                up += records;
                format!("uploaded {up} record(s), {remaining} to go")
            }
        };
        if let Some(b) = &bar {
            b.set_message(msg);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = result.with_context(|| format!("sync with {} failed", a.server))?;
    if json {
        return print_json(&SyncJson {
            server: &a.server,
            username: &a.username,
            summary: &summary,
        });
    }
    println!("Synced with {} as '{}':", a.server, a.username);
    println!("  uploaded            {}", summary.uploaded);
    println!("  downloaded          {}", summary.downloaded);
    println!("  merged              {}", summary.merged);
    println!("  conflicts resolved  {}", summary.conflicts_resolved);
    if summary.pending > 0 {
        println!(
            "  waiting             {} (they reference records not here yet)",
            summary.pending
        );
    }
    if summary.full_resync {
        println!(
            "  (this device was behind the server's kept history: everything was pulled again)"
        );
    }
    for r in &summary.rejected {
        eprintln!("warning: refused {r}");
    }
    Ok(())
}

pub fn device(store: &Store, cmd: DeviceCommand) -> Result<()> {
    let a = store.sync_account()?.ok_or_else(|| {
        anyhow!("this database is not linked to an account; run `strideguard account login` first")
    })?;
    let client = HttpClient::new(&a.server)?;
    let devices = client.devices(&a.token)?;
    match cmd {
        DeviceCommand::List { json } => {
            if json {
                return print_json(&devices);
            }
            let mut t = table(&["", "id", "name", "added", "last sync", "status"], &[]);
            let day = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            };
            for d in &devices {
                t.add_row(vec![
                    if d.current { "*" } else { "" }.to_string(),
                    d.id.clone(),
                    d.name.clone(),
                    day(d.created_at_ms),
                    d.last_seen_ms.map(day).unwrap_or_else(|| "-".into()),
                    if d.revoked { "revoked" } else { "active" }.to_string(),
                ]);
            }
            println!("{t}");
        }
        DeviceCommand::Revoke { id } => {
            let key = id.trim().to_lowercase();
            let matches: Vec<_> = devices
                .iter()
                .filter(|d| key.len() >= 4 && d.id.starts_with(&key))
                .collect();
            let d = match matches.as_slice() {
                [d] => *d,
                [] => bail!(
                    "no device of this account matches '{id}' (see `strideguard device list`)"
                ),
                many => bail!(
                    "'{id}' matches {} devices: {}; give more of the id",
                    many.len(),
                    many.iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            client.revoke_device(&a.token, &d.id)?;
            if d.current {
                println!(
                    "Revoked this device ('{}'); log in again to sync from here.",
                    d.name
                );
            } else {
                println!("Revoked '{}' ({}); its sessions have ended.", d.name, d.id);
            }
        }
    }
    Ok(())
}
