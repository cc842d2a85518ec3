//! The JSON bodies of the sync HTTP API (sync-protocol.md), shared by the client and the
//! server so the two cannot drift apart. Binary values travel as standard base64.

use serde::{Deserialize, Serialize};

use crate::account::KdfParams;

/// Base64 (standard, padded) for byte fields.
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&STANDARD.encode(bytes))
    }

    /// Takes an owned string: a JSON string with an escape in it (`"\/"`, which some encoders
    /// write for every '/', one of base64's characters) cannot be borrowed from the input.
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(de)?;
        STANDARD
            .decode(s)
            .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub username: String,
    #[serde(with = "b64")]
    pub auth_key: Vec<u8>,
    pub kdf: KdfParams,
    #[serde(with = "b64")]
    pub wrapped_key: Vec<u8>,
}

/// Deleting the account for good: the auth key proves the passphrase, so a stolen session
/// token alone cannot wipe a runner's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    #[serde(with = "b64")]
    pub auth_key: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KdfResponse {
    pub kdf: KdfParams,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[serde(with = "b64")]
    pub auth_key: Vec<u8>,
    /// A name for the device this session belongs to ("Anna's phone").
    pub device_name: String,
}

/// A session: the bearer token and the device it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionResponse {
    pub token: String,
    pub device_id: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysResponse {
    #[serde(with = "b64")]
    pub wrapped_key: Vec<u8>,
    pub kdf: KdfParams,
}

/// A passphrase change: proves the old auth key and installs the new one with the data key
/// re-wrapped. No record is re-encrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutKeysRequest {
    #[serde(with = "b64")]
    pub old_auth_key: Vec<u8>,
    #[serde(with = "b64")]
    pub new_auth_key: Vec<u8>,
    pub kdf: KdfParams,
    #[serde(with = "b64")]
    pub wrapped_key: Vec<u8>,
    /// End every other session of the account (the default): whoever knew the old passphrase
    /// is signed out with it. This device's session stays.
    #[serde(default = "yes")]
    pub sign_out_others: bool,
}

fn yes() -> bool {
    true
}

/// One record in an upload batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordUpload {
    /// The collection tag (an HMAC; the server never learns names).
    pub collection: String,
    pub id: String,
    /// The sequence the writer last saw this record at (0: it expects none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_seq: Option<i64>,
    pub deleted: bool,
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostRecordsRequest {
    pub records: Vec<RecordUpload>,
}

/// A record as the server holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDownload {
    pub collection: String,
    pub id: String,
    pub seq: i64,
    pub deleted: bool,
    pub updated_at_ms: i64,
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ack {
    pub collection: String,
    pub id: String,
    pub seq: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostRecordsResponse {
    pub accepted: Vec<Ack>,
}

/// The 409 answer: the records whose `if_seq` did not match, as the server holds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConflictResponse {
    pub error: String,
    pub message: String,
    pub current: Vec<RecordDownload>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordsPage {
    pub records: Vec<RecordDownload>,
    /// The cursor for the next page: the last sequence in this one.
    pub next: i64,
    pub done: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked: bool,
    /// The device this request came from.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevicesResponse {
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceRequest {
    pub name: String,
}

/// The server's limits, advertised so clients size their batches. A limit an older server
/// does not name reads as its default; `wire_version`, which no older server names, as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub record_payload_bytes: usize,
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub body_bytes: usize,
    pub page_records: usize,
    pub page_bytes: usize,
    pub quota_bytes: u64,
    pub logins_per_minute_per_user: u32,
    pub logins_per_minute_per_ip: u32,
    pub requests_per_minute_per_user: u32,
    pub min_kdf_iterations: u32,
    /// Devices (not revoked) one account may have; a login or pairing past it is refused.
    pub devices_per_account: usize,
    /// Key-derivation lookups (`GET /v1/accounts/{user}/kdf`) per minute from one address.
    pub kdf_lookups_per_minute_per_ip: u32,
    /// The newest records wire the server speaks: 1 is JSON (`/v1/records`), 2 adds the
    /// frames body of `/v2/records`. A server that does not say speaks only 1.
    #[serde(default = "wire_v1")]
    pub wire_version: u8,
}

fn wire_v1() -> u8 {
    1
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            record_payload_bytes: 256 * 1024,
            batch_records: 100,
            batch_bytes: 4 * 1024 * 1024,
            body_bytes: 5 * 1024 * 1024,
            page_records: 1000,
            // A page is held whole while it is sent: small pages keep the server's memory at
            // about one page per pull in flight.
            page_bytes: 1024 * 1024,
            quota_bytes: 1 << 30,
            logins_per_minute_per_user: 10,
            logins_per_minute_per_ip: 30,
            requests_per_minute_per_user: 1200,
            min_kdf_iterations: 100_000,
            devices_per_account: 50,
            kdf_lookups_per_minute_per_ip: 60,
            wire_version: 2,
        }
    }
}

/// Every error answer: a stable code, a sentence, and for a broken limit its name and value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_fields_decode_when_the_json_string_holds_escapes() {
        // "AAAA/w==" with its '/' escaped, as some JSON encoders write it.
        let json = r#"{"auth_key": "AAAA\/w=="}"#;
        let req: DeleteAccountRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.auth_key, [0, 0, 0, 255]);
    }
}
