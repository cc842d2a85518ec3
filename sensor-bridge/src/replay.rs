//! Recorded notification streams: one notification a line, `<seconds since start>
//! <characteristic: 2a37|2a53|2a19> <hex bytes>`; lines starting with `#` are comments, and
//! `# device: NAME` names the sensor. `live --record` writes this format and `live --replay`
//! reads it.

use std::fmt::Write;

use crate::notify::Notification;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ReplayError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replay {
    pub device: Option<String>,
    pub notifications: Vec<Notification>,
}

/// Parses a replay file; every problem names its line.
pub fn parse_replay(text: &str) -> Result<Replay, ReplayError> {
    let mut out = Replay::default();
    let mut last_t = f64::NEG_INFINITY;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |reason: String| ReplayError { line, reason };
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(comment) = l.strip_prefix('#') {
            if let Some(name) = comment.trim().strip_prefix("device:") {
                out.device = Some(name.trim().to_string());
            }
            continue;
        }
        let mut parts = l.split_whitespace();
        let t: f64 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                err(format!(
                    "'{l}' does not start with the seconds since the start"
                ))
            })?;
        if t < last_t {
            return Err(err(format!(
                "time {t} goes back (the line before was at {last_t})"
            )));
        }
        last_t = t;
        let ch = parts
            .next()
            .ok_or_else(|| err("no characteristic after the time".into()))?;
        let characteristic = match ch.to_ascii_lowercase().trim_start_matches("0x") {
            "2a37" => 0x2A37,
            "2a53" => 0x2A53,
            "2a19" => 0x2A19,
            other => {
                return Err(err(format!(
                    "unknown characteristic '{other}': use 2a37, 2a53 or 2a19"
                )));
            }
        };
        let hex: String = parts.collect::<Vec<_>>().concat();
        if hex.is_empty() || !hex.len().is_multiple_of(2) {
            return Err(err(format!("'{hex}' is not whole hex bytes")));
        }
        // Hex digits only: slicing other characters could split one, and `from_str_radix`
        // would take a sign.
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(format!("'{hex}' is not hex")));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&hex[j..j + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| err(format!("'{hex}' is not hex")))?;
        out.notifications.push(Notification {
            t_s: t,
            characteristic,
            bytes,
        });
    }
    Ok(out)
}

/// Writes notifications in the replay format.
pub fn format_replay(device: Option<&str>, notifications: &[Notification]) -> String {
    let mut s = String::from(
        "# Strideguard notification recording: <seconds> <characteristic> <hex bytes>\n",
    );
    if let Some(d) = device {
        let _ = writeln!(s, "# device: {d}");
    }
    for n in notifications {
        let hex: Vec<String> = n.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(s, "{:.3} {:04x} {}", n.t_s, n.characteristic, hex.join(" "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_names_the_device() {
        let text = "# a run\n# device: Stryd 1234\n0.0 2a37 06 96\n1.000 2A53 00 00 03 56\n\n2.5 2a19 57\n";
        let r = parse_replay(text).unwrap();
        assert_eq!(r.device.as_deref(), Some("Stryd 1234"));
        assert_eq!(r.notifications.len(), 3);
        assert_eq!(r.notifications[1].characteristic, 0x2A53);
        assert_eq!(r.notifications[1].bytes, [0, 0, 3, 0x56]);
        let back = parse_replay(&format_replay(r.device.as_deref(), &r.notifications)).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, expected) in [
            (
                "0 2a37 06 96\nabc 2a37 06\n",
                "line 2: 'abc 2a37 06' does not start with the seconds",
            ),
            ("1 2a99 00\n", "line 1: unknown characteristic '2a99'"),
            ("1 2a37 0\n", "line 1: '0' is not whole hex bytes"),
            ("1 2a37 zz\n", "line 1: 'zz' is not hex"),
            ("5 2a37 06 90\n4 2a37 06 90\n", "line 2: time 4 goes back"),
            ("1\n", "line 1: no characteristic"),
        ] {
            let e = parse_replay(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e}");
        }
    }
}
