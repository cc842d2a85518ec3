//! The btleplug adapter: scan for heart-rate straps and footpods, connect by name or address,
//! subscribe to heart rate and RSC together, and stream time-stamped notifications. On a
//! disconnect the caller is told once and the session reconnects with backoff, resuming the same
//! stream: samples during the gap are missing, not invented. Everything it delivers goes through
//! the same pure parsers and coach as a replay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use btleplug::api::{Central, CentralEvent, Manager as _, Peripheral as _, ScanFilter};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::notify::Notification;

pub const HEART_RATE_SERVICE: Uuid = Uuid::from_u128(0x0000180d_0000_1000_8000_00805f9b34fb);
pub const RSC_SERVICE: Uuid = Uuid::from_u128(0x00001814_0000_1000_8000_00805f9b34fb);
pub const BATTERY_SERVICE: Uuid = Uuid::from_u128(0x0000180f_0000_1000_8000_00805f9b34fb);
const HEART_RATE_MEASUREMENT: Uuid = Uuid::from_u128(0x00002a37_0000_1000_8000_00805f9b34fb);
const RSC_MEASUREMENT: Uuid = Uuid::from_u128(0x00002a53_0000_1000_8000_00805f9b34fb);
const BATTERY_LEVEL: Uuid = Uuid::from_u128(0x00002a19_0000_1000_8000_00805f9b34fb);
const MANUFACTURER_NAME: Uuid = Uuid::from_u128(0x00002a29_0000_1000_8000_00805f9b34fb);
const MODEL_NUMBER: Uuid = Uuid::from_u128(0x00002a24_0000_1000_8000_00805f9b34fb);

#[derive(Debug, thiserror::Error)]
pub enum BleError {
    #[error("Bluetooth is not available: {0}")]
    Unavailable(String),
    #[error("no Bluetooth adapter found")]
    NoAdapter,
    #[error("no sensor matching '{0}' was found (run `strideguard scan` to list what is in range)")]
    NotFound(String),
    #[error("Bluetooth error: {0}")]
    Ble(#[from] btleplug::Error),
    #[error("gave up reconnecting to {device} after {attempts} attempts")]
    GaveUp { device: String, attempts: u32 },
}

/// A sensor seen in a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub name: Option<String>,
    pub address: String,
    pub rssi: Option<i16>,
    /// `heart_rate`, `running_speed_cadence`, `battery` as advertised.
    pub services: Vec<&'static str>,
}

pub use crate::notify::SessionItem;

async fn adapter() -> Result<Adapter, BleError> {
    let manager = Manager::new()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?;
    manager
        .adapters()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?
        .into_iter()
        .next()
        .ok_or(BleError::NoAdapter)
}

fn service_names(uuids: &[Uuid]) -> Vec<&'static str> {
    let mut v = Vec::new();
    for (u, name) in [
        (HEART_RATE_SERVICE, "heart_rate"),
        (RSC_SERVICE, "running_speed_cadence"),
        (BATTERY_SERVICE, "battery"),
    ] {
        if uuids.contains(&u) {
            v.push(name);
        }
    }
    v
}

async fn describe(p: &Peripheral) -> Result<Device, BleError> {
    let props = p.properties().await?.unwrap_or_default();
    Ok(Device {
        name: props.local_name,
        address: p.address().to_string(),
        rssi: props.rssi,
        services: service_names(&props.services),
    })
}

/// Scans for `duration` for devices offering heart rate or RSC, strongest signal first.
pub async fn scan(duration: Duration) -> Result<Vec<Device>, BleError> {
    let central = adapter().await?;
    central
        .start_scan(ScanFilter {
            services: vec![HEART_RATE_SERVICE, RSC_SERVICE],
        })
        .await?;
    tokio::time::sleep(duration).await;
    let _ = central.stop_scan().await;
    let mut out = Vec::new();
    for p in central.peripherals().await? {
        let d = describe(&p).await?;
        if !d.services.is_empty() {
            out.push(d);
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.rssi.unwrap_or(i16::MIN)));
    Ok(out)
}

fn matches(d: &Device, selector: &str) -> bool {
    d.address.eq_ignore_ascii_case(selector)
        || d.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(selector))
}

async fn find(
    central: &Adapter,
    selector: &str,
    timeout: Duration,
) -> Result<Peripheral, BleError> {
    central
        .start_scan(ScanFilter {
            services: vec![HEART_RATE_SERVICE, RSC_SERVICE],
        })
        .await?;
    let deadline = Instant::now() + timeout;
    loop {
        for p in central.peripherals().await? {
            if matches(&describe(&p).await?, selector) {
                let _ = central.stop_scan().await;
                return Ok(p);
            }
        }
        if Instant::now() > deadline {
            let _ = central.stop_scan().await;
            return Err(BleError::NotFound(selector.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads a characteristic the device offers, if it does and the read works.
async fn read(p: &Peripheral, uuid: Uuid) -> Option<Vec<u8>> {
    let c = p.characteristics().into_iter().find(|c| c.uuid == uuid)?;
    if !c.properties.contains(btleplug::api::CharPropFlags::READ) {
        return None;
    }
    p.read(&c).await.ok()
}

/// Connects and subscribes to every measurement the device offers; returns its notifications.
async fn connect_and_subscribe(
    p: &Peripheral,
) -> Result<
    std::pin::Pin<Box<dyn futures::Stream<Item = btleplug::api::ValueNotification> + Send>>,
    BleError,
> {
    if !p.is_connected().await? {
        p.connect().await?;
    }
    p.discover_services().await?;
    // Take the stream before subscribing, or the first notifications are lost.
    let stream = p.notifications().await?;
    for c in p.characteristics() {
        if [HEART_RATE_MEASUREMENT, RSC_MEASUREMENT, BATTERY_LEVEL].contains(&c.uuid)
            && c.properties.contains(btleplug::api::CharPropFlags::NOTIFY)
        {
            p.subscribe(&c).await?;
        }
    }
    Ok(stream)
}

/// How the session reconnects.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(10),
            attempts: 20,
        }
    }
}

/// Runs a live session with the device matching `selector` (name or address) until `stop` is
/// set or the consumer goes away. Notifications are time-stamped from the start.
pub async fn stream(
    selector: &str,
    tx: mpsc::Sender<SessionItem>,
    stop: Arc<AtomicBool>,
    backoff: Backoff,
) -> Result<(), BleError> {
    let central = adapter().await?;
    let peripheral = find(&central, selector, Duration::from_secs(15)).await?;
    let id = peripheral.id();
    let device = describe(&peripheral).await?;
    let mut events = central.events().await?;
    let started = Instant::now();
    let mut notifications = connect_and_subscribe(&peripheral).await?;
    let text = |b: Option<Vec<u8>>| b.and_then(|b| crate::gatt::parse_text(&b).ok());
    let connected = SessionItem::Connected {
        name: device.name.clone(),
        address: device.address.clone(),
        manufacturer: text(read(&peripheral, MANUFACTURER_NAME).await),
        model: text(read(&peripheral, MODEL_NUMBER).await),
    };
    if tx.send(connected).await.is_err() {
        return Ok(());
    }
    // The battery level once at the start (it may also notify later).
    if let Some(bytes) = read(&peripheral, BATTERY_LEVEL).await {
        let n = Notification {
            t_s: started.elapsed().as_secs_f64(),
            characteristic: crate::gatt::BATTERY_LEVEL,
            bytes,
        };
        if tx.send(SessionItem::Notification(n)).await.is_err() {
            return Ok(());
        }
    }
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        if stop.load(Ordering::SeqCst) {
            let _ = peripheral.disconnect().await;
            return Ok(());
        }
        let disconnected = tokio::select! {
            n = notifications.next() => match n {
                Some(n) => {
                    let characteristic = u16::try_from(n.uuid.as_u128() >> 96 & 0xffff).unwrap_or(0);
                    let item = SessionItem::Notification(Notification {
                        t_s: started.elapsed().as_secs_f64(),
                        characteristic,
                        bytes: n.value,
                    });
                    if tx.send(item).await.is_err() {
                        return Ok(());
                    }
                    false
                }
                None => true,
            },
            e = events.next() => matches!(e, Some(CentralEvent::DeviceDisconnected(ref d)) if *d == id),
            _ = poll.tick() => !peripheral.is_connected().await.unwrap_or(false),
        };
        // A disconnect event queued from before a reconnection is stale: check the link itself.
        if !disconnected || peripheral.is_connected().await.unwrap_or(false) {
            continue;
        }
        if tx
            .send(SessionItem::Disconnected {
                t_s: started.elapsed().as_secs_f64(),
            })
            .await
            .is_err()
        {
            return Ok(());
        }
        let mut delay = backoff.first;
        let mut attempt = 0;
        notifications = loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            attempt += 1;
            if attempt > backoff.attempts {
                return Err(BleError::GaveUp {
                    device: device.name.clone().unwrap_or(device.address.clone()),
                    attempts: backoff.attempts,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(backoff.max);
            if let Ok(s) = connect_and_subscribe(&peripheral).await {
                break s;
            }
        };
        if tx
            .send(SessionItem::Reconnected {
                t_s: started.elapsed().as_secs_f64(),
                attempt,
            })
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}
