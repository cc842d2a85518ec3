//! A run's samples as CSV, one row a sample, for a spreadsheet or a notebook. Values are in the
//! stored SI units, named in the header; an empty cell is a channel the sample lacks. Numbers are
//! written in full (Rust's shortest round-trip form), so reading the file back gives the stored
//! values exactly.

use std::fmt::Write;

use crate::model::Sample;

/// The header, in the column order of every row.
pub const COLUMNS: [&str; 14] = [
    "t_s",
    "lat_deg",
    "lon_deg",
    "altitude_m",
    "distance_m",
    "speed_mps",
    "hr_bpm",
    "cadence_spm",
    "step_length_m",
    "stance_time_s",
    "stance_balance_left_pct",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "power_w",
];

/// The values of one sample in [`COLUMNS`] order.
pub fn row(s: &Sample) -> [Option<f64>; 14] {
    [
        Some(s.t_s),
        s.lat_deg,
        s.lon_deg,
        s.altitude_m,
        s.distance_m,
        s.speed_mps,
        s.hr_bpm.map(f64::from),
        s.cadence_spm,
        s.stride_m,
        s.stance_time_s,
        s.stance_balance_left_pct,
        s.vertical_oscillation_m,
        s.vertical_ratio_pct,
        s.power_w,
    ]
}

/// Writes the samples as CSV with a header line; a run without samples is the header alone.
pub fn write(samples: &[Sample]) -> Vec<u8> {
    let mut out = String::with_capacity(200 + samples.len() * 90);
    out.push_str(&COLUMNS.join(","));
    out.push('\n');
    for s in samples {
        for (i, v) in row(s).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(v) = v {
                let _ = write!(out, "{v}");
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_exactly_and_gaps_stay_empty() {
        let samples = [
            Sample {
                t_s: 0.0,
                lat_deg: Some(52.520_008_1),
                lon_deg: Some(13.404_954_3),
                hr_bpm: Some(141),
                cadence_spm: Some(171.25),
                power_w: Some(287.5),
                ..Sample::default()
            },
            Sample {
                t_s: 1.5,
                distance_m: Some(3.07),
                stance_time_s: Some(0.2451),
                ..Sample::default()
            },
        ];
        let text = String::from_utf8(write(&samples)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header[0], "t_s");
        assert_eq!(header.len(), 14);
        for (line, s) in lines.zip(&samples) {
            let cells: Vec<Option<f64>> = line
                .split(',')
                .map(|c| (!c.is_empty()).then(|| c.parse().unwrap()))
                .collect();
            assert_eq!(cells, row(s).to_vec(), "{line}");
        }
        assert_eq!(write(&[]), b"t_s,lat_deg,lon_deg,altitude_m,distance_m,speed_mps,hr_bpm,cadence_spm,step_length_m,stance_time_s,stance_balance_left_pct,vertical_oscillation_m,vertical_ratio_pct,power_w\n");
    }
}
