//! Footpods disagree on what "cadence per minute" counts: some send strides of one foot (about
//! 75-95 while running), others steps of both feet (about 150-195). The coach always wants steps
//! of both feet. The unit is detected per device from readings at running speed, can be forced
//! by the runner, and is remembered per sensor by the caller.

use serde::{Deserialize, Serialize};

use crate::gatt::Rsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CadenceUnit {
    /// Strides of one foot per minute: doubled to steps.
    Strides,
    /// Steps of both feet per minute.
    Steps,
}

impl CadenceUnit {
    pub fn to_spm(self, raw: f64) -> f64 {
        match self {
            CadenceUnit::Strides => raw * 2.0,
            CadenceUnit::Steps => raw,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CadenceUnit::Strides => "strides",
            CadenceUnit::Steps => "steps",
        }
    }
}

/// Readings at this speed or above are running, where the two units cannot overlap.
const RUNNING_MPS: f64 = 1.8;
/// Readings needed before deciding.
const NEEDED: usize = 5;

/// Learns a device's cadence unit from its first readings at running speed.
#[derive(Debug, Clone, Default)]
pub struct UnitDetector {
    forced: Option<CadenceUnit>,
    votes_strides: usize,
    votes_steps: usize,
}

impl UnitDetector {
    /// `forced`: the runner's choice, or one remembered for this sensor.
    pub fn new(forced: Option<CadenceUnit>) -> UnitDetector {
        UnitDetector {
            forced,
            ..UnitDetector::default()
        }
    }

    /// The unit, once known.
    pub fn unit(&self) -> Option<CadenceUnit> {
        self.forced.or_else(|| {
            if self.votes_strides + self.votes_steps < NEEDED {
                None
            } else if self.votes_strides > self.votes_steps {
                Some(CadenceUnit::Strides)
            } else {
                Some(CadenceUnit::Steps)
            }
        })
    }

    /// Takes a reading into account and returns the unit once known. Once known it stays: the
    /// first readings decide, and later ones no longer vote (the bridge has announced it).
    pub fn observe(&mut self, r: &Rsc) -> Option<CadenceUnit> {
        if self.unit().is_none() && r.speed_mps >= RUNNING_MPS && r.cadence_raw > 0 {
            let raw = f64::from(r.cadence_raw);
            let vote = match r.stride_m {
                // With a stride length the speed tells: steps/min means speed = raw/2 x stride/60
                // (a stride is two steps); strides/min means speed = raw x stride / 60.
                Some(stride) if stride > 0.0 => {
                    let as_steps = (raw / 2.0 * stride / 60.0 - r.speed_mps).abs();
                    let as_strides = (raw * stride / 60.0 - r.speed_mps).abs();
                    if as_strides < as_steps {
                        CadenceUnit::Strides
                    } else {
                        CadenceUnit::Steps
                    }
                }
                _ if raw < 120.0 => CadenceUnit::Strides,
                _ => CadenceUnit::Steps,
            };
            match vote {
                CadenceUnit::Strides => self.votes_strides += 1,
                CadenceUnit::Steps => self.votes_steps += 1,
            }
        }
        self.unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsc(speed: f64, cadence: u8, stride: Option<f64>) -> Rsc {
        Rsc {
            speed_mps: speed,
            cadence_raw: cadence,
            stride_m: stride,
            total_distance_m: None,
            running: true,
        }
    }

    #[test]
    fn a_one_foot_footpod_and_a_both_feet_strap() {
        let mut pod = UnitDetector::new(None);
        let mut strap = UnitDetector::new(None);
        for i in 0..4 {
            assert_eq!(pod.observe(&rsc(3.0, 84 + i, None)), None, "not yet");
            strap.observe(&rsc(3.0, 168 + i, None));
        }
        assert_eq!(pod.observe(&rsc(3.0, 85, None)), Some(CadenceUnit::Strides));
        assert_eq!(
            strap.observe(&rsc(3.0, 170, None)),
            Some(CadenceUnit::Steps)
        );
        assert_eq!(CadenceUnit::Strides.to_spm(85.0), 170.0);
    }

    #[test]
    fn walking_readings_do_not_vote_and_stride_length_decides() {
        let mut d = UnitDetector::new(None);
        for _ in 0..10 {
            d.observe(&rsc(1.2, 110, None)); // walking: 110 steps or 110 strides?
        }
        assert_eq!(d.unit(), None);
        // 86 per minute with a 2.10 m stride at 3.01 m/s: 86 x 2.10 / 60 = 3.01 -> strides.
        let mut d = UnitDetector::new(None);
        for _ in 0..5 {
            d.observe(&rsc(3.01, 86, Some(2.10)));
        }
        assert_eq!(d.unit(), Some(CadenceUnit::Strides));
        // 172 per minute with a 2.10 m stride at 3.01 m/s -> steps.
        let mut d = UnitDetector::new(None);
        for _ in 0..5 {
            d.observe(&rsc(3.01, 172, Some(2.10)));
        }
        assert_eq!(d.unit(), Some(CadenceUnit::Steps));
    }

    #[test]
    fn a_decided_unit_stays() {
        let mut d = UnitDetector::new(None);
        for _ in 0..5 {
            d.observe(&rsc(3.0, 85, None));
        }
        assert_eq!(d.unit(), Some(CadenceUnit::Strides));
        for _ in 0..10 {
            assert_eq!(d.observe(&rsc(3.0, 170, None)), Some(CadenceUnit::Strides));
        }
    }

    #[test]
    fn the_runners_choice_wins() {
        let mut d = UnitDetector::new(Some(CadenceUnit::Steps));
        assert_eq!(d.unit(), Some(CadenceUnit::Steps));
        for _ in 0..10 {
            d.observe(&rsc(3.0, 85, None));
        }
        assert_eq!(d.unit(), Some(CadenceUnit::Steps));
    }
}
