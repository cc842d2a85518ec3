//! The HTML report: one self-contained page (inline CSS, inline SVG charts drawn with plotters'
//! SVG backend, no scripts, no network resources), so it opens anywhere and can be mailed to a
//! coach or physiotherapist. Pure: a report in, a page out. Every mark on the charts (the
//! weekly guide, the ACWR zones, the shoes' marks, the low-cadence cut) is the runner's own
//! number from the report's thresholds and shoes, never a number repeated here.

use std::fmt::Write;

use plotters::prelude::*;

use crate::analysis::{Report, Severity};
use crate::model::ShoeWear;
use crate::units::{format_distance, format_duration};

const W: u32 = 760;
const H: u32 = 320;

type Chart = Result<String, Box<dyn std::error::Error>>;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as one self-contained HTML page.
pub fn page(r: &Report) -> String {
    let u = r.units;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strideguard report {as_of}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 820px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.15em; margin-top: 2em; }}
.warning {{ border-left: 4px solid #e0a000; padding: 0.3em 0.8em; margin: 0.6em 0; background: #fff8e6; }}
.warning.high {{ border-color: #c62828; background: #fdecea; }}
.kind {{ color: #666; font-size: 0.85em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 0.2em 0.8em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
figure {{ margin: 1em 0; }} figcaption {{ color: #555; font-size: 0.9em; }}
.note {{ color: #666; font-size: 0.85em; }}
</style></head><body>
<h1>Strideguard report, {as_of}</h1>
<p>This week ({tw}): {twr} runs, {twd}, {twt}. Last week ({lw}): {lwr} runs, {lwd}, {lwt}.</p>
"#,
        as_of = r.as_of,
        tw = r.this_week.week,
        twr = r.this_week.totals.runs,
        twd = format_distance(r.this_week.totals.distance_m, u),
        twt = format_duration(r.this_week.totals.duration_s),
        lw = r.last_week.week,
        lwr = r.last_week.totals.runs,
        lwd = format_distance(r.last_week.totals.distance_m, u),
        lwt = format_duration(r.last_week.totals.duration_s),
    );
    if let Some(a) = &r.acwr {
        let _ = writeln!(
            h,
            "<p>Acute:chronic load ratio {}: {} (acute {:.0}, chronic {:.0}).</p>",
            a.ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            a.zone.as_str(),
            a.acute,
            a.chronic
        );
    }
    let _ = writeln!(h, "<h2>Warnings</h2>");
    if r.warnings.is_empty() {
        let _ = writeln!(h, "<p>No warnings.</p>");
    }
    for w in &r.warnings {
        let _ = writeln!(
            h,
            r#"<div class="warning{}"><strong>{}</strong> <span class="kind">{}</span><br>{}</div>"#,
            if w.severity == Severity::High {
                " high"
            } else {
                ""
            },
            escape(&w.title),
            w.kind.as_str(),
            escape(&w.explanation)
        );
    }
    let t = &r.thresholds;
    let weekly_caption = format!(
        "Weekly distance; the dash over each bar is the +{}% guide from the week before.",
        t.weekly_increase_pct
    );
    let acwr_caption = format!(
        "Acute:chronic load ratio by day; the green band is {}-{}, the red line {}.",
        t.acwr_sweet_spot_low, t.acwr_sweet_spot_high, t.acwr_danger_above
    );
    let figures: [(&str, &str, Chart); 4] = [
        ("weekly", &weekly_caption, weekly_chart(r)),
        ("acwr", &acwr_caption, acwr_chart(r)),
        (
            "shoes",
            "Distance on each shoe against its wear-check (orange) and replace (red) marks.",
            shoes_chart(r),
        ),
        (
            "cadence",
            "Average cadence of each run (dots) against its target (line).",
            cadence_chart(r),
        ),
    ];
    for (id, caption, svg) in figures {
        let _ = writeln!(
            h,
            "<h2>{}</h2>",
            escape(
                caption
                    .split(';')
                    .next()
                    .unwrap_or(caption)
                    .trim_end_matches('.')
            )
        );
        match svg {
            Ok(svg) => {
                let _ = writeln!(
                    h,
                    r#"<figure id="chart-{id}">{svg}<figcaption>{}</figcaption></figure>"#,
                    escape(caption)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    h,
                    "<p>This chart could not be drawn: {}</p>",
                    escape(&e.to_string())
                );
            }
        }
    }
    let _ = writeln!(
        h,
        r#"<p class="note">Strideguard is not a diagnosis tool. Rules and numbers, as set in your profile: weekly growth above {}% (the 10% guide, Buist et al. 2008), the last two weeks above {}% (Nielsen et al. 2014), ACWR zones {}-{} and above {} (Gabbett 2016; debated, Impellizzeri et al. 2020), cadence +5-10% (Heiderscheit et al. 2011).</p>
</body></html>"#,
        t.weekly_increase_pct,
        t.two_week_increase_pct,
        t.acwr_sweet_spot_low,
        t.acwr_sweet_spot_high,
        t.acwr_danger_above
    );
    h
}

/// The label of a categorical axis (weeks, shoes) drawn on a numeric one: the name at each whole
/// position, nothing between them.
fn category_label(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn weekly_chart(r: &Report) -> Chart {
    let unit = r.units.metres();
    let km: Vec<f64> = r.weeks.iter().map(|w| w.totals.distance_m / unit).collect();
    let max = km.iter().copied().fold(1.0, f64::max) * 1.25;
    let n = km.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..max)?;
        let labels: Vec<String> = r.weeks.iter().map(|w| w.week[5..].to_string()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(16))
            .x_label_formatter(&|x| category_label(&labels, *x))
            .y_desc(r.units.as_str())
            .draw()?;
        chart.draw_series(km.iter().enumerate().map(|(i, v)| {
            let x = i as f64;
            Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, *v)],
                RGBColor(66, 133, 244).filled(),
            )
        }))?;
        let growth = 1.0 + r.thresholds.weekly_increase_pct / 100.0;
        chart.draw_series(km.windows(2).enumerate().map(|(i, w)| {
            let x = (i + 1) as f64;
            let guide = w[0] * growth;
            PathElement::new(
                vec![(x - 0.45, guide), (x + 0.45, guide)],
                RED.stroke_width(2),
            )
        }))?;
        root.present()?;
    }
    Ok(svg)
}

fn acwr_chart(r: &Report) -> Chart {
    let days: Vec<(f64, f64)> = r
        .acwr_series
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.ratio.map(|x| (i as f64, x)))
        .collect();
    let n = r.acwr_series.len().max(2) as f64;
    let t = &r.thresholds;
    let max = days
        .iter()
        .map(|d| d.1)
        .fold(t.acwr_danger_above + 0.5, f64::max)
        * 1.1;
    let dates: Vec<String> = r
        .acwr_series
        .iter()
        .map(|d| d.date.format("%m-%d").to_string())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..(n - 1.0), 0f64..max)?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (0.0, t.acwr_sweet_spot_low),
                (n - 1.0, t.acwr_sweet_spot_high),
            ],
            RGBColor(200, 235, 200).filled(),
        )))?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|x| dates.get(x.round() as usize).cloned().unwrap_or_default())
            .y_desc("acute / chronic")
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, t.acwr_danger_above), (n - 1.0, t.acwr_danger_above)],
            RED.stroke_width(1),
        )))?;
        chart.draw_series(LineSeries::new(days.iter().copied(), BLACK.stroke_width(2)))?;
        root.present()?;
    }
    Ok(svg)
}

fn shoes_chart(r: &Report) -> Chart {
    let unit = r.units.metres();
    let shoes: Vec<_> = r.shoes.iter().collect();
    let n = shoes.len().max(1);
    let max = shoes
        .iter()
        .map(|s| s.usage.distance_m.max(s.usage.shoe.replace_at_m))
        .fold(1.0, f64::max)
        / unit
        * 1.1;
    let names: Vec<String> = shoes.iter().map(|s| s.usage.shoe.name.clone()).collect();
    let mut svg = String::new();
    {
        let height = (80 + 50 * n as u32).max(160);
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(130)
            .build_cartesian_2d(0f64..max, -0.5f64..(n as f64 - 0.5))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| category_label(&names, *y))
            .x_desc(r.units.as_str())
            .draw()?;
        for (i, s) in shoes.iter().enumerate() {
            let y = i as f64;
            let color = match s.status {
                ShoeWear::Replace => RGBColor(198, 40, 40),
                ShoeWear::CheckWear => RGBColor(224, 160, 0),
                ShoeWear::Retired => RGBColor(170, 170, 170),
                ShoeWear::Ok => RGBColor(66, 133, 244),
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.3), (s.usage.distance_m / unit, y + 0.3)],
                color.filled(),
            )))?;
            for (mark, c) in [
                (s.usage.shoe.wear_at_m, RGBColor(224, 160, 0)),
                (s.usage.shoe.replace_at_m, RGBColor(198, 40, 40)),
            ] {
                let x = mark / unit;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, y - 0.42), (x, y + 0.42)],
                    c.stroke_width(3),
                )))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

fn cadence_chart(r: &Report) -> Chart {
    let runs = &r.cadence.runs;
    let first = runs.first().map(|x| x.date).unwrap_or(r.as_of);
    let day = |d: chrono::NaiveDate| (d - first).num_days() as f64;
    let span = runs.last().map(|x| day(x.date)).unwrap_or(0.0).max(1.0);
    let values = runs
        .iter()
        .map(|x| x.avg_cadence_spm)
        .chain(runs.iter().filter_map(|x| x.target_spm));
    // Seeded with the fallback target, so a chart with no runs still has a sensible range.
    let seed = crate::ranges::FALLBACK_TARGET_SPM;
    let (lo, hi) = values.fold((seed, seed), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(span + 0.5), (lo - 5.0)..(hi + 5.0))?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|x| {
                (first + chrono::Days::new(x.max(0.0).round() as u64))
                    .format("%m-%d")
                    .to_string()
            })
            .y_desc("steps/min")
            .draw()?;
        chart.draw_series(LineSeries::new(
            runs.iter()
                .filter_map(|x| x.target_spm.map(|t| (day(x.date), t))),
            RGBColor(46, 125, 50).stroke_width(2),
        ))?;
        chart.draw_series(runs.iter().map(|x| {
            let color = if x
                .below_baseline_pct
                .is_some_and(|p| p >= r.thresholds.low_cadence_pct)
            {
                RGBColor(198, 40, 40)
            } else {
                RGBColor(66, 133, 244)
            };
            Circle::new((day(x.date), x.avg_cadence_spm), 4, color.filled())
        }))?;
        root.present()?;
    }
    Ok(svg)
}
