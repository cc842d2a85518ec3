//! `strideguard demo`: a fresh database with the synthetic runner's 16 weeks, then a tour of
//! what is in it. Later capabilities (report, live coaching, sync) add their part here, so this
//! stays the one command that shows the whole product.

use std::path::PathBuf;

use anyhow::{Context, Result};
use strideguard_core::analysis::weekly_totals;
use strideguard_core::demo::{self, LOW_CADENCE_SPM};
use strideguard_core::units::{format_distance, format_duration};

use crate::args::DemoArgs;
use crate::output::{print_pairs, profile_lines, runs_table, shoes_table, table};
use crate::run_cmd::shoe_names;

pub fn run(a: DemoArgs) -> Result<()> {
    let dir = match a.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create the folder {}", d.display()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("strideguard-demo-")
            .tempdir()
            .context("cannot create a temporary folder")?
            .keep(),
    };
    let path: PathBuf = dir.join("strideguard.db");
    if path.exists() {
        anyhow::bail!(
            "{} already exists; the demo only writes a fresh database (choose another --dir)",
            path.display()
        );
    }
    let end = a.end.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Berlin)
            .date_naive()
    });
    let history = demo::history(a.seed, end);

    let mut store = strideguard_core::Store::open(&path)?;
    store.set_profile(&history.profile)?;
    for shoe in &history.shoes {
        store.add_shoe(shoe)?;
    }
    let mut samples_total = 0;
    for (run, samples) in &history.runs {
        store.add_run(run, samples)?;
        samples_total += samples.len();
    }

    let profile = store.profile()?;
    let units = profile.units;
    let runs = store.runs()?;
    println!(
        "Strideguard demo: a runner's last 16 weeks (seed {}).",
        a.seed
    );
    println!("Database: {}", path.display());
    println!();
    println!("Profile");
    print_pairs(&profile_lines(&profile));

    println!();
    println!("Weekly distance (ISO weeks, {})", profile.time_zone);
    let tz = chrono_tz::Europe::Berlin;
    let weeks = weekly_totals(&runs, tz);
    let mut t = table(
        &["Week", "Runs", "Distance", "Time", "Change"],
        &[1, 2, 3, 4],
    );
    let mut prev: Option<f64> = None;
    for w in &weeks {
        let change = prev
            .filter(|p| *p > 0.0)
            .map(|p| format!("{:+.0}%", (w.distance_m / p - 1.0) * 100.0))
            .unwrap_or_else(|| "-".into());
        t.add_row(vec![
            w.week.clone(),
            w.runs.to_string(),
            format_distance(w.distance_m, units),
            format_duration(w.duration_s),
            change,
        ]);
        prev = Some(w.distance_m);
    }
    println!("{t}");
    if let [.., a, b, c, d] = weeks.as_slice() {
        let before = a.distance_m + b.distance_m;
        let last = c.distance_m + d.distance_m;
        println!(
            "Last two weeks: {} against {} in the two before ({:+.0}%).",
            format_distance(last, units),
            format_distance(before, units),
            (last / before - 1.0) * 100.0
        );
    }

    println!();
    println!("Shoes");
    println!("{}", shoes_table(&store.shoes()?, units));

    println!();
    println!("Most recent runs");
    let recent = &runs[runs.len().saturating_sub(10)..];
    println!(
        "{}",
        runs_table(recent, units, &shoe_names(&store)?, &store.sample_counts()?)
    );
    let with_samples = history.runs.iter().filter(|(_, s)| !s.is_empty()).count();
    let low = history
        .runs
        .iter()
        .filter(|(r, s)| {
            !s.is_empty() && r.avg_cadence_spm.is_some_and(|c| c < LOW_CADENCE_SPM + 4.0)
        })
        .count();
    println!(
        "{} runs in all; {} carry 1 Hz sample streams ({} samples), {} of them at a low cadence (about {:.0} steps/min against about 170 before).",
        runs.len(),
        with_samples,
        samples_total,
        low,
        LOW_CADENCE_SPM
    );
    println!();
    println!("Explore it:");
    println!("  strideguard --db {} run list", path.display());
    println!("  strideguard --db {} shoe list --json", path.display());
    println!(
        "  strideguard --db {} run show {} --samples",
        path.display(),
        &recent[recent.len() - 1].id.to_string()[..8]
    );
    Ok(())
}
