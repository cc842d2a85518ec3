//! Bluetooth sensors for the live cadence coach: heart-rate straps (service 0x180D) and
//! footpods (Running Speed and Cadence, 0x1814).
//!
//! - [`gatt`]: characteristic parsers (and encoders), pure.
//! - [`units`]: the footpod's cadence unit (strides of one foot or steps of both feet).
//! - [`notify`]: notifications to coach readings, with bad packets counted.
//! - [`replay`]: recorded notification streams (`live --record` / `live --replay`).
//! - [`simulate`]: a synthetic runner's notifications (`live --simulate`).
//! - [`ble`] (feature `ble`, on by default): the btleplug adapter. Without it the crate is pure,
//!   so the phone bindings can hand an app the parsers and the unit detection for a footpod the
//!   app talks to itself.

#[cfg(feature = "ble")]
pub mod ble;
pub mod gatt;
pub mod notify;
pub mod replay;
pub mod simulate;
pub mod units;

pub use notify::{Bridge, BridgeEvent, Notification, PacketStats, SessionItem};
pub use units::CadenceUnit;
