//! `strideguard shoe ...`: add, list, edit, retire, make default, assign, delete.

use anyhow::Result;
use clap::{Args, Subcommand};
use strideguard_core::Store;
use strideguard_core::model::Shoe;
use strideguard_core::store::ShoeEdit;
use strideguard_core::units::format_distance;
use uuid::Uuid;

use crate::output::{OutputArgs, ShoeJson, print_json, shoes_table};
use crate::values;

#[derive(Debug, Subcommand)]
pub enum ShoeCommand {
    /// Add a pair of shoes (the first becomes the default).
    Add(ShoeAddArgs),
    /// List shoes with their distance (start distance plus assigned runs) and wear state.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Change a shoe's name, brand, model, start distance or wear marks.
    Edit(ShoeEditArgs),
    /// Retire a shoe: it keeps its history, gets no new runs, stops being the default.
    Retire {
        /// Shoe id, id prefix or name.
        shoe: String,
    },
    /// Make a shoe the default for new runs.
    Default {
        /// Shoe id, id prefix or name.
        shoe: String,
    },
    /// Put a run on a shoe.
    Assign {
        /// Run id or unique prefix.
        run_id: String,
        /// Shoe id, id prefix or name.
        shoe: String,
    },
    /// Delete a shoe; its runs stay, on no shoe.
    Delete {
        /// Shoe id, id prefix or name.
        shoe: String,
    },
}

#[derive(Debug, Args)]
pub struct ShoeAddArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub brand: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    /// Distance already on the shoe (bought used, or tracked elsewhere).
    #[arg(long, default_value = "0km", value_parser = values::distance, allow_hyphen_values = true)]
    pub start_distance: f64,
    /// When to check the midsole for wear.
    #[arg(long, default_value = "300mi", value_parser = values::distance, allow_hyphen_values = true)]
    pub wear_at: f64,
    /// When to replace the shoe.
    #[arg(long, default_value = "500mi", value_parser = values::distance, allow_hyphen_values = true)]
    pub replace_at: f64,
    /// Make it the default shoe for new runs.
    #[arg(long)]
    pub default: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ShoeEditArgs {
    /// Shoe id, id prefix or name.
    pub shoe: String,
    #[arg(long)]
    pub name: Option<String>,
    /// The brand (an empty string removes it).
    #[arg(long)]
    pub brand: Option<String>,
    /// The model (an empty string removes it).
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, value_parser = values::distance, allow_hyphen_values = true)]
    pub start_distance: Option<f64>,
    #[arg(long, value_parser = values::distance, allow_hyphen_values = true)]
    pub wear_at: Option<f64>,
    #[arg(long, value_parser = values::distance, allow_hyphen_values = true)]
    pub replace_at: Option<f64>,
    #[command(flatten)]
    pub out: OutputArgs,
}

fn blank_is_none(s: Option<String>) -> Option<Option<String>> {
    s.map(|v| Some(v.trim().to_string()).filter(|v| !v.is_empty()))
}

pub fn run(store: &mut Store, cmd: ShoeCommand) -> Result<()> {
    match cmd {
        ShoeCommand::Add(a) => add(store, a),
        ShoeCommand::List { out } => {
            let shoes = store.shoes()?;
            if out.json {
                let items: Vec<ShoeJson> = shoes.iter().map(ShoeJson::new).collect();
                return print_json(&items);
            }
            if shoes.is_empty() {
                println!(
                    "No shoes yet. Add one with `strideguard shoe add --name \"Pegasus 40\" --default`."
                );
                return Ok(());
            }
            println!("{}", shoes_table(&shoes, store.profile()?.units));
            Ok(())
        }
        ShoeCommand::Edit(a) => {
            let s = store.find_shoe(&a.shoe)?;
            let edit = ShoeEdit {
                name: a.name,
                brand: blank_is_none(a.brand),
                model: blank_is_none(a.model),
                start_distance_m: a.start_distance,
                wear_at_m: a.wear_at,
                replace_at_m: a.replace_at,
            };
            store.edit_shoe(s.id, &edit)?;
            let usage = store.shoe_usage(s.id)?;
            if a.out.json {
                return print_json(&ShoeJson::new(&usage));
            }
            println!("{}", shoes_table(&[usage], store.profile()?.units));
            Ok(())
        }
        ShoeCommand::Retire { shoe } => {
            let s = store.find_shoe(&shoe)?;
            store.retire_shoe(s.id)?;
            println!(
                "Retired {} ({}); its runs keep it in their history.",
                s.name, s.id
            );
            Ok(())
        }
        ShoeCommand::Default { shoe } => {
            let s = store.find_shoe(&shoe)?;
            store.set_default_shoe(s.id)?;
            println!("{} is now the default shoe for new runs.", s.name);
            Ok(())
        }
        ShoeCommand::Assign { run_id, shoe } => {
            let run = store.find_run(&run_id)?;
            let s = store.find_shoe(&shoe)?;
            store.assign_shoe(run.id, Some(s.id))?;
            println!(
                "Run {} ({}) is now on {}.",
                run.id,
                run.start.format("%Y-%m-%d"),
                s.name
            );
            Ok(())
        }
        ShoeCommand::Delete { shoe } => {
            let s = store.find_shoe(&shoe)?;
            let runs = store.shoe_usage(s.id)?.run_count;
            store.delete_shoe(s.id)?;
            println!(
                "Deleted {} ({}); its {runs} run(s) stay, on no shoe.",
                s.name, s.id
            );
            Ok(())
        }
    }
}

fn add(store: &mut Store, a: ShoeAddArgs) -> Result<()> {
    let mut shoe = Shoe::new(Uuid::new_v4(), a.name.trim());
    shoe.brand = a.brand;
    shoe.model = a.model;
    shoe.start_distance_m = a.start_distance;
    shoe.wear_at_m = a.wear_at;
    shoe.replace_at_m = a.replace_at;
    shoe.is_default = a.default;
    let shoe = store.add_shoe(&shoe)?;
    if a.out.json {
        return print_json(&ShoeJson::new(&store.shoe_usage(shoe.id)?));
    }
    let units = store.profile()?.units;
    println!(
        "Added shoe {} ({}), starting at {}{}.",
        shoe.name,
        shoe.id,
        format_distance(shoe.start_distance_m, units),
        if shoe.is_default {
            ", the default for new runs"
        } else {
            ""
        }
    );
    Ok(())
}
