//! `strideguard account ...`: register, log in, log out, change the passphrase, delete the
//! account, show the status. The passphrase is read without echo on a terminal, or from
//! STRIDEGUARD_PASSPHRASE in scripts; it never leaves this computer.

use std::cell::RefCell;
use std::io::IsTerminal;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use strideguard_core::Store;
use strideguard_core::crypto::{DEFAULT_ITERATIONS, KdfParams};
use strideguard_core::ranges::KDF_ITERATIONS;
use strideguard_core::sync::account;

use crate::output::{OutputArgs, print_json};
use crate::values;

/// Where the account lives.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The sync server, e.g. https://sync.example.org or http://127.0.0.1:8787.
    #[arg(long, env = "STRIDEGUARD_SERVER", value_name = "URL")]
    pub server: String,
    /// Your username (case and surrounding spaces do not matter).
    #[arg(long, env = "STRIDEGUARD_USER", value_name = "NAME")]
    pub user: String,
    /// What this device is called in `device list`. Default: the computer's host name.
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and link this database to it (its history is uploaded on `sync`).
    Register {
        #[command(flatten)]
        account: AccountArgs,
        /// PBKDF2 iterations for the passphrase (more is slower to guess and to log in).
        #[arg(long, default_value_t = DEFAULT_ITERATIONS, value_parser = values::in_range(KDF_ITERATIONS))]
        kdf_iterations: u32,
    },
    /// Link this database to an existing account, as a new device of it.
    Login {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// End this device's session and unlink the database (your data stays here).
    Logout,
    /// Change the passphrase (old from STRIDEGUARD_PASSPHRASE, new from
    /// STRIDEGUARD_NEW_PASSPHRASE, or asked on a terminal). Records are not re-encrypted.
    Passwd {
        /// PBKDF2 iterations for the new passphrase. Default: as before.
        #[arg(long, value_parser = values::in_range(KDF_ITERATIONS))]
        kdf_iterations: Option<u32>,
        /// End the sessions of every other device of the account (they log in again with the
        /// new passphrase): whoever knew the old one is signed out. `--sign-out-others=false`
        /// keeps them signed in.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
              default_missing_value = "true", value_name = "BOOL")]
        sign_out_others: bool,
    },
    /// Delete the account on the server for good: every record, device and session of it.
    /// Your data stays in this database. Asks for the passphrase (STRIDEGUARD_PASSPHRASE).
    Delete {
        /// Do not ask "are you sure" (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Which account and server this database syncs with, and what waits to upload.
    Status {
        #[command(flatten)]
        out: OutputArgs,
    },
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

pub fn run(store: &mut Store, cmd: AccountCommand) -> Result<()> {
    let access = RefCell::new(&mut *store);
    match cmd {
        AccountCommand::Register {
            account,
            kdf_iterations,
        } => {
            let client = account::client(&account.server)?;
            let pass = passphrase("STRIDEGUARD_PASSPHRASE", "New passphrase", true)?;
            eprintln!("Deriving keys from the passphrase ({kdf_iterations} PBKDF2 rounds)...");
            let linked = account::register(
                &access,
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
            println!(
                "Keep the passphrase safe: it is the only key to your history, and the server cannot reset it."
            );
            println!("Run `strideguard sync` to upload your history (encrypted on this computer).");
        }
        AccountCommand::Login { account } => {
            let client = account::client(&account.server)?;
            let pass = passphrase("STRIDEGUARD_PASSPHRASE", "Passphrase", false)?;
            let linked = account::login(
                &access,
                &client,
                &account.user,
                &pass,
                &device_name(&account),
            )?;
            println!(
                "Logged in as '{}' on {}; this database is device {}.",
                linked.username, linked.server, linked.device_id
            );
            println!("Run `strideguard sync` to download and merge your history.");
        }
        AccountCommand::Logout => {
            let a = access
                .borrow()
                .sync_account()?
                .ok_or(strideguard_core::sync::SyncError::NotLinked)?;
            if account::logout(&access)? {
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
        AccountCommand::Passwd {
            kdf_iterations,
            sign_out_others,
        } => {
            let a = access
                .borrow()
                .sync_account()?
                .ok_or(strideguard_core::sync::SyncError::NotLinked)?;
            let old = passphrase("STRIDEGUARD_PASSPHRASE", "Current passphrase", false)?;
            let new = passphrase("STRIDEGUARD_NEW_PASSPHRASE", "New passphrase", true)?;
            let kdf = kdf_iterations.map(|iterations| KdfParams { iterations });
            account::change_passphrase(&access, &old, &new, kdf, sign_out_others)?;
            if sign_out_others {
                println!(
                    "Passphrase changed for '{}'. Every other device is signed out and logs in again with the new one.",
                    a.username
                );
            } else {
                println!(
                    "Passphrase changed for '{}'. Other devices stay logged in; new logins need the new one.",
                    a.username
                );
            }
        }
        AccountCommand::Delete { yes } => {
            let a = access
                .borrow()
                .sync_account()?
                .ok_or(strideguard_core::sync::SyncError::NotLinked)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "deleting '{}' removes every record of it from {}: add --yes to confirm",
                        a.username,
                        a.server
                    );
                }
                let sure = dialoguer::Confirm::new()
                    .with_prompt(format!(
                        "Delete '{}' and every record of it from {}? Other devices will not sync any more",
                        a.username, a.server
                    ))
                    .default(false)
                    .interact()?;
                if !sure {
                    println!("Nothing deleted.");
                    return Ok(());
                }
            }
            let pass = passphrase("STRIDEGUARD_PASSPHRASE", "Passphrase", false)?;
            account::delete_account(&access, &pass)?;
            println!(
                "Deleted '{}' from {}: every record, device and session. Your data stays in this database.",
                a.username, a.server
            );
        }
        AccountCommand::Status { out } => {
            // Folded first, so the count is of records, as the next sync will upload them.
            access.borrow_mut().sync_fold()?;
            let s = access.borrow().sync_status()?;
            if out.json {
                return print_json(&s);
            }
            let zone = access.borrow().profile()?.zone();
            match (&s.username, &s.server) {
                (Some(user), Some(server)) => println!(
                    "Syncing as '{user}' with {server} (device {}); {} change(s) to upload; last sync {}.",
                    s.device_id.as_deref().unwrap_or("-"),
                    s.pending_changes,
                    s.last_sync_ms
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into())
                ),
                _ => println!(
                    "Not linked to an account. `strideguard account register` or `login` links it."
                ),
            }
        }
    }
    Ok(())
}
