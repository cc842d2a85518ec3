//! For apps that talk to a heart-rate strap or footpod themselves (CoreBluetooth, Android's
//! BluetoothGatt): the GATT parsers, and the footpod bridge that learns whether the pod counts
//! strides of one foot or steps of both feet and turns notifications into coach readings.
//! The same code as the command line's Bluetooth sessions, without any Bluetooth stack.

use std::sync::Mutex;

use strideguard_sensor::{gatt, notify, units};

use crate::error::StrideguardError;
use crate::live::Reading;
use crate::mirror_enum;

mirror_enum!(
    /// What a footpod's cadence counts.
    CadenceUnit = units::CadenceUnit { Strides, Steps }
);

fn bad(e: gatt::GattError) -> StrideguardError {
    StrideguardError::invalid("bytes", e.to_string())
}

/// A Heart Rate Measurement (0x2A37).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HeartRateMeasurement {
    pub bpm: i32,
    /// Skin contact, when the strap can tell.
    pub contact: Option<bool>,
    pub energy_kilojoules: Option<i32>,
    /// Beat-to-beat intervals, seconds.
    pub rr_intervals_seconds: Vec<f64>,
}

/// An RSC Measurement (0x2A53), cadence as the device sends it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RscMeasurement {
    pub speed_mps: f64,
    /// Strides of one foot or steps of both feet per minute, depending on the device.
    pub cadence_raw: i32,
    pub stride_meters: Option<f64>,
    pub total_distance_meters: Option<f64>,
    /// Running (true) or walking, as the footpod judges it.
    pub running: bool,
}

/// Parses a Heart Rate Measurement; a packet too short for its flags is an `InvalidInput`.
#[uniffi::export]
pub fn parse_heart_rate(bytes: Vec<u8>) -> Result<HeartRateMeasurement, StrideguardError> {
    let h = gatt::parse_heart_rate(&bytes).map_err(bad)?;
    Ok(HeartRateMeasurement {
        bpm: i32::from(h.bpm),
        contact: h.contact,
        energy_kilojoules: h.energy_kj.map(i32::from),
        rr_intervals_seconds: h.rr_s,
    })
}

/// Parses a Running Speed and Cadence Measurement.
#[uniffi::export]
pub fn parse_running_speed_cadence(bytes: Vec<u8>) -> Result<RscMeasurement, StrideguardError> {
    let r = gatt::parse_rsc(&bytes).map_err(bad)?;
    Ok(RscMeasurement {
        speed_mps: r.speed_mps,
        cadence_raw: i32::from(r.cadence_raw),
        stride_meters: r.stride_m,
        total_distance_meters: r.total_distance_m,
        running: r.running,
    })
}

/// Parses a Battery Level (percent).
#[uniffi::export]
pub fn parse_battery_level(bytes: Vec<u8>) -> Result<i32, StrideguardError> {
    Ok(i32::from(gatt::parse_battery(&bytes).map_err(bad)?))
}

/// Something to tell the runner besides cues.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum BridgeEvent {
    /// The footpod's cadence unit became known (or was set).
    CadenceUnitKnown {
        unit: CadenceUnit,
    },
    BatteryLow {
        percent: i32,
    },
    /// A packet could not be read; it was counted and skipped.
    BadPacket {
        characteristic: i32,
        reason: String,
    },
}

impl From<notify::BridgeEvent> for BridgeEvent {
    fn from(e: notify::BridgeEvent) -> Self {
        match e {
            notify::BridgeEvent::CadenceUnit { unit } => {
                BridgeEvent::CadenceUnitKnown { unit: unit.into() }
            }
            notify::BridgeEvent::BatteryLow { percent } => BridgeEvent::BatteryLow {
                percent: i32::from(percent),
            },
            notify::BridgeEvent::BadPacket {
                characteristic,
                reason,
            } => BridgeEvent::BadPacket {
                characteristic: i32::from(characteristic),
                reason,
            },
        }
    }
}

/// What one notification gave: a reading for the coach (footpod packets), and events.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BridgeOutput {
    pub reading: Option<Reading>,
    pub events: Vec<BridgeEvent>,
}

/// Counts of what was read and what was not.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PacketCounts {
    pub heart_rate: i64,
    pub rsc: i64,
    pub battery: i64,
    pub bad: i64,
    pub ignored: i64,
}

/// Notifications from a strap and a footpod to coach readings: feed it what the sensors send
/// (the characteristic's 16-bit UUID, 0x2A37, 0x2A53 or 0x2A19, and the bytes), feed the
/// readings to a `LiveSession`.
#[derive(uniffi::Object)]
pub struct FootpodBridge {
    bridge: Mutex<notify::Bridge>,
}

#[uniffi::export]
impl FootpodBridge {
    /// `unit`: the runner's setting or the one remembered for this pod; `None` detects it.
    #[uniffi::constructor(default(unit = None))]
    pub fn new(unit: Option<CadenceUnit>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(FootpodBridge {
            bridge: Mutex::new(notify::Bridge::new(unit.map(Into::into))),
        })
    }

    pub fn handle(
        &self,
        characteristic: i32,
        bytes: Vec<u8>,
        elapsed_seconds: f64,
    ) -> BridgeOutput {
        let n = notify::Notification {
            t_s: elapsed_seconds,
            characteristic: u16::try_from(characteristic).unwrap_or(0),
            bytes,
        };
        let (reading, events) = self
            .bridge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .handle(&n);
        BridgeOutput {
            reading: reading.map(Into::into),
            events: events.into_iter().map(Into::into).collect(),
        }
    }

    /// The footpod's cadence unit, once known (remember it for the pod).
    pub fn unit(&self) -> Option<CadenceUnit> {
        self.bridge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unit()
            .map(Into::into)
    }

    pub fn counts(&self) -> PacketCounts {
        let s = self.bridge.lock().unwrap_or_else(|p| p.into_inner()).stats;
        PacketCounts {
            heart_rate: s.heart_rate as i64,
            rsc: s.rsc as i64,
            battery: s.battery as i64,
            bad: s.bad as i64,
            ignored: s.ignored as i64,
        }
    }
}
