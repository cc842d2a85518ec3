//! A synthetic runner wearing a footpod (one-foot strides per minute, like most footpods) and an
//! HR strap, as notification bytes: the whole pipeline (parsers, unit detection, coach) runs on
//! it exactly as on a real sensor. Reproducible: no randomness beyond a fixed-seed generator.

use serde::{Deserialize, Serialize};

use crate::gatt::{HEART_RATE_MEASUREMENT, RSC_MEASUREMENT, Rsc, encode_heart_rate, encode_rsc};
use crate::notify::Notification;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Warm-up, then running close to the target with a slow drift.
    Steady,
    /// Warm-up, then a long stretch well below the target before picking it up again.
    LowCadence,
    /// Steady, with the footpod gone for 40 seconds mid-run.
    Dropout,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::LowCadence => "low-cadence",
            Scenario::Dropout => "dropout",
        }
    }
}

/// The simulated session lasts this long.
pub const DURATION_S: u32 = 15 * 60;
/// The dropout scenario's gap.
pub const DROPOUT: (u32, u32) = (480, 520);

struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One notification from each sensor every second, for `DURATION_S` seconds.
pub fn simulate(scenario: Scenario, target_spm: f64) -> Vec<Notification> {
    let mut rng = Lcg(0x5EED ^ scenario as u64);
    let mut out = Vec::new();
    let mut distance = 0.0;
    for t in 0..DURATION_S {
        let tf = f64::from(t);
        let noise = rng.unit() - 0.5;
        // Warm-up: a slow jog building over 2 minutes.
        let warm = (tf / 120.0).min(1.0);
        let speed = 2.4 + 0.6 * warm + (tf / 90.0).sin() * 0.08 + noise * 0.05;
        let mut spm = 150.0 + (target_spm - 150.0) * warm + (tf / 200.0).sin() * 2.0 + noise * 2.0;
        if scenario == Scenario::LowCadence && (180..600).contains(&t) {
            spm = target_spm - 12.0 + noise * 2.0;
        }
        let hr = 110.0 + 40.0 * warm + tf / 60.0 + noise * 3.0;
        distance += speed;
        out.push(Notification {
            t_s: tf + 0.5,
            characteristic: HEART_RATE_MEASUREMENT,
            bytes: encode_heart_rate(hr.round() as u8),
        });
        if scenario == Scenario::Dropout && (DROPOUT.0..DROPOUT.1).contains(&t) {
            continue;
        }
        out.push(Notification {
            t_s: tf + 1.0,
            characteristic: RSC_MEASUREMENT,
            bytes: encode_rsc(&Rsc {
                speed_mps: speed,
                cadence_raw: (spm / 2.0).round() as u8,
                stride_m: None,
                total_distance_m: Some(distance),
                running: true,
            }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Bridge;
    use strideguard_core::coach::{CadenceCoach, CoachConfig, CueKind};

    fn coach_through(scenario: Scenario) -> Vec<CueKind> {
        let mut bridge = Bridge::new(None);
        let mut coach = CadenceCoach::new(CoachConfig::new(170.0));
        let mut cues = Vec::new();
        for n in simulate(scenario, 170.0) {
            cues.extend(coach.tick(n.t_s));
            if let (Some(r), _) = bridge.handle(&n) {
                cues.extend(coach.feed(r));
            }
        }
        cues.into_iter().map(|c| c.kind).collect()
    }

    #[test]
    fn each_scenario_tells_its_story() {
        let steady = coach_through(Scenario::Steady);
        assert!(!steady.contains(&CueKind::Quicken), "{steady:?}");
        let low = coach_through(Scenario::LowCadence);
        assert!(
            low.iter().filter(|k| **k == CueKind::Quicken).count() >= 5,
            "{low:?}"
        );
        assert!(low.contains(&CueKind::OnTarget), "picked up again: {low:?}");
        let drop = coach_through(Scenario::Dropout);
        assert_eq!(
            drop.iter().filter(|k| **k == CueKind::SensorLost).count(),
            1
        );
        assert_eq!(
            drop.iter().filter(|k| **k == CueKind::SensorBack).count(),
            1
        );
    }

    #[test]
    fn the_same_scenario_gives_the_same_bytes() {
        assert_eq!(
            simulate(Scenario::Steady, 170.0),
            simulate(Scenario::Steady, 170.0)
        );
    }
}
