//! `strideguard sync` and `strideguard device ...`: sync with the linked account, list and
//! revoke its devices.

use std::cell::RefCell;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::cancel::Cancel;
use strideguard_core::sync::{SyncError, SyncEvent, SyncSummary, account};

use crate::output::{OutputArgs, print_json, table};

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// The account's devices, this one marked.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Revoke a device (by id or a unique prefix of 4+ characters): its sessions end now.
    Revoke {
        /// The device id from `device list`.
        id: String,
    },
}

/// `sync --json`: the summary with the account it synced.
#[derive(Serialize)]
struct SyncJson<'a> {
    server: &'a str,
    username: &'a str,
    #[serde(flatten)]
    summary: &'a SyncSummary,
}

pub fn sync(store: &mut Store, a: &SyncArgs) -> Result<()> {
    let account = store.sync_account()?.ok_or(SyncError::NotLinked)?;
    let bar = (!a.out.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let (mut up, mut down) = (0, 0);
    let access = RefCell::new(&mut *store);
    let result = account::sync_now(
        &access,
        &mut |e| {
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
        },
        &Cancel::new(),
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = result.with_context(|| format!("sync with {} failed", account.server))?;
    if a.out.json {
        return print_json(&SyncJson {
            server: &account.server,
            username: &account.username,
            summary: &summary,
        });
    }
    println!("Synced with {} as '{}':", account.server, account.username);
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

pub fn device(store: &mut Store, cmd: DeviceCommand) -> Result<()> {
    let access = RefCell::new(&mut *store);
    match cmd {
        DeviceCommand::List { out } => {
            let devices = account::devices(&access)?;
            if out.json {
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
            let d = account::revoke_device(&access, &id)?;
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
