//! From notifications (bytes from a characteristic at a time) to coach readings: parse, learn the
//! footpod's cadence unit, carry the latest heart rate along, count bad packets.

use serde::Serialize;
use strideguard_core::coach::Reading;

use crate::gatt::{self, BATTERY_LEVEL, GattError, HEART_RATE_MEASUREMENT, RSC_MEASUREMENT};
use crate::units::{CadenceUnit, UnitDetector};

/// One notification: what a sensor sent, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Seconds since the session started.
    pub t_s: f64,
    /// The characteristic's 16-bit UUID (0x2A37, 0x2A53, 0x2A19).
    pub characteristic: u16,
    pub bytes: Vec<u8>,
}

/// What a live session sends to its consumer: from a Bluetooth session, a replay or a
/// simulated runner alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionItem {
    Connected {
        name: Option<String>,
        address: String,
        /// From Device Information (0x180A), when the sensor offers it: for device quirks.
        manufacturer: Option<String>,
        model: Option<String>,
    },
    Notification(Notification),
    /// The sensor went away; the session is reconnecting.
    Disconnected {
        t_s: f64,
    },
    Reconnected {
        t_s: f64,
        attempt: u32,
    },
}

/// Something to tell the runner besides cues.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BridgeEvent {
    /// The footpod's cadence unit became known (or was forced).
    CadenceUnit {
        unit: CadenceUnit,
    },
    BatteryLow {
        percent: u8,
    },
    /// A packet could not be read; it was counted and skipped.
    BadPacket {
        characteristic: u16,
        reason: String,
    },
}

/// Counts of what was read and what was not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PacketStats {
    pub heart_rate: u64,
    pub rsc: u64,
    pub battery: u64,
    pub bad: u64,
    pub ignored: u64,
}

/// Below this battery level the runner is told, once.
const BATTERY_LOW_PCT: u8 = 15;

pub struct Bridge {
    detector: UnitDetector,
    announced_unit: bool,
    hr: Option<u8>,
    battery_warned: bool,
    pub stats: PacketStats,
}

impl Bridge {
    /// `unit`: the runner's override or the unit remembered for this sensor; `None` detects it.
    pub fn new(unit: Option<CadenceUnit>) -> Bridge {
        Bridge {
            detector: UnitDetector::new(unit),
            announced_unit: false,
            hr: None,
            battery_warned: false,
            stats: PacketStats::default(),
        }
    }

    /// The footpod's cadence unit, once known.
    pub fn unit(&self) -> Option<CadenceUnit> {
        self.detector.unit()
    }

    /// Handles one notification: a reading for the coach (footpod packets), and events.
    pub fn handle(&mut self, n: &Notification) -> (Option<Reading>, Vec<BridgeEvent>) {
        let mut events = Vec::new();
        let bad = |e: GattError, events: &mut Vec<BridgeEvent>, stats: &mut PacketStats| {
            stats.bad += 1;
            events.push(BridgeEvent::BadPacket {
                characteristic: n.characteristic,
                reason: e.to_string(),
            });
        };
        match n.characteristic {
            HEART_RATE_MEASUREMENT => match gatt::parse_heart_rate(&n.bytes) {
                Ok(h) => {
                    self.stats.heart_rate += 1;
                    self.hr = u8::try_from(h.bpm).ok();
                }
                Err(e) => bad(e, &mut events, &mut self.stats),
            },
            BATTERY_LEVEL => match gatt::parse_battery(&n.bytes) {
                Ok(p) => {
                    self.stats.battery += 1;
                    if p < BATTERY_LOW_PCT && !self.battery_warned {
                        self.battery_warned = true;
                        events.push(BridgeEvent::BatteryLow { percent: p });
                    }
                }
                Err(e) => bad(e, &mut events, &mut self.stats),
            },
            RSC_MEASUREMENT => match gatt::parse_rsc(&n.bytes) {
                Ok(r) => {
                    self.stats.rsc += 1;
                    let known = self.detector.observe(&r);
                    if let Some(unit) = known
                        && !self.announced_unit
                    {
                        self.announced_unit = true;
                        events.push(BridgeEvent::CadenceUnit { unit });
                    }
                    // Until the unit is known, judge each packet by its range.
                    let unit = known.unwrap_or(if r.cadence_raw < 120 {
                        CadenceUnit::Strides
                    } else {
                        CadenceUnit::Steps
                    });
                    return (
                        Some(Reading {
                            t_s: n.t_s,
                            cadence_spm: Some(unit.to_spm(f64::from(r.cadence_raw))),
                            speed_mps: Some(r.speed_mps),
                            hr_bpm: self.hr,
                        }),
                        events,
                    );
                }
                Err(e) => bad(e, &mut events, &mut self.stats),
            },
            _ => self.stats.ignored += 1,
        }
        (None, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gatt::{Rsc, encode_heart_rate, encode_rsc};

    fn rsc(t: f64, raw: u8) -> Notification {
        Notification {
            t_s: t,
            characteristic: RSC_MEASUREMENT,
            bytes: encode_rsc(&Rsc {
                speed_mps: 3.0,
                cadence_raw: raw,
                stride_m: None,
                total_distance_m: None,
                running: true,
            }),
        }
    }

    #[test]
    fn readings_carry_steps_per_minute_and_the_latest_heart_rate() {
        let mut b = Bridge::new(None);
        let hr = Notification {
            t_s: 0.5,
            characteristic: HEART_RATE_MEASUREMENT,
            bytes: encode_heart_rate(148),
        };
        assert_eq!(b.handle(&hr).0, None);
        let mut announced = Vec::new();
        for i in 0..5 {
            let (r, ev) = b.handle(&rsc(1.0 + i as f64, 85));
            let r = r.unwrap();
            assert_eq!(
                (r.cadence_spm, r.speed_mps, r.hr_bpm),
                (Some(170.0), Some(3.0), Some(148))
            );
            announced.extend(ev);
        }
        assert_eq!(
            announced,
            [BridgeEvent::CadenceUnit {
                unit: CadenceUnit::Strides
            }]
        );
        assert_eq!(b.stats.rsc, 5);
    }

    #[test]
    fn bad_packets_are_counted_and_give_no_reading() {
        let mut b = Bridge::new(Some(CadenceUnit::Steps));
        let cut = Notification {
            t_s: 1.0,
            characteristic: RSC_MEASUREMENT,
            bytes: vec![0x03, 0x00, 0x03],
        };
        let (r, ev) = b.handle(&cut);
        assert_eq!(r, None);
        assert!(
            matches!(&ev[0], BridgeEvent::BadPacket { characteristic: 0x2A53, reason } if reason.contains("too short"))
        );
        assert_eq!(b.stats.bad, 1);
        let low = Notification {
            t_s: 2.0,
            characteristic: BATTERY_LEVEL,
            bytes: vec![9],
        };
        assert_eq!(b.handle(&low).1, [BridgeEvent::BatteryLow { percent: 9 }]);
        assert!(b.handle(&low).1.is_empty(), "told once");
    }
}
