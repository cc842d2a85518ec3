//! `strideguard shoe ...`

use anyhow::Result;
use strideguard_core::Store;
use strideguard_core::model::Shoe;
use strideguard_core::units::format_distance;
use uuid::Uuid;

use crate::args::{ShoeAddArgs, ShoeCommand};
use crate::output::{print_json, shoes_table};

pub fn run(store: &mut Store, cmd: ShoeCommand) -> Result<()> {
    match cmd {
        ShoeCommand::Add(a) => add(store, a),
        ShoeCommand::List { json } => {
            let shoes = store.shoes()?;
            if json {
                return print_json(&shoes);
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
    }
}

fn add(store: &mut Store, a: ShoeAddArgs) -> Result<()> {
    let mut shoe = Shoe::new(Uuid::new_v4(), a.name.trim());
    shoe.brand = a.brand;
    shoe.model = a.model;
    shoe.start_distance_m = a.start_distance;
    shoe.wear_at_m = a.wear_at;
    shoe.replace_at_m = a.replace_at;
    // The first shoe becomes the default: that is what a runner with one pair expects.
    shoe.is_default = a.default || store.default_shoe()?.is_none();
    store.add_shoe(&shoe)?;
    if a.json {
        let added = store.shoes()?.into_iter().find(|s| s.shoe.id == shoe.id);
        return print_json(&added);
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
