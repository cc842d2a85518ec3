//! End-to-end encryption of synced records (sync-protocol.md, with ring). The passphrase never
//! leaves the device: it derives a master key (PBKDF2-HMAC-SHA256), from which come the auth key
//! the server checks and the wrap key that protects the account's random data key. Records are
//! sealed with AES-256-GCM under the data key, with associated data binding each ciphertext to
//! its collection, record id and schema version, so a ciphertext moved elsewhere fails to open.
//! Plaintexts are padded to fixed steps before sealing so that sizes leak less.

use std::num::NonZeroU32;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac, pbkdf2};

pub use strideguard_proto::account::{DEFAULT_ITERATIONS, KdfParams, normalize_username};

/// The envelope format this build writes.
const ENVELOPE_V1: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The data key did not unwrap: the passphrase (or username) is not the account's.
    #[error("wrong passphrase: the account's data key could not be unlocked with it")]
    WrongPassphrase,
    #[error(
        "record {record_id} in {collection} failed to open: it was altered, or belongs elsewhere"
    )]
    Tampered {
        collection: String,
        record_id: String,
    },
    #[error("envelope format {0} is not known to this version of Strideguard")]
    UnknownEnvelope(u8),
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    #[error("PBKDF2 iterations must be at least 1")]
    NoIterations,
    #[error("the system random number generator failed")]
    Random,
}

/// Derived from the passphrase; never stored, never sent.
pub struct MasterKey([u8; 32]);

/// What the client proves to the server (the server stores a salted hash of it).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey(pub [u8; 32]);

/// Wraps the account's data key.
pub struct WrapKey([u8; 32]);

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthKey(..)")
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn hkdf32(secret: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(secret);
    let mut out = [0u8; 32];
    prk.expand(&[info], Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

impl MasterKey {
    /// PBKDF2-HMAC-SHA256(passphrase, "strideguard/v1/" + normalized username, iterations).
    pub fn derive(
        passphrase: &str,
        username: &str,
        kdf: KdfParams,
    ) -> Result<MasterKey, CryptoError> {
        let iterations = NonZeroU32::new(kdf.iterations).ok_or(CryptoError::NoIterations)?;
        let salt = format!("strideguard/v1/{}", normalize_username(username));
        let mut out = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt.as_bytes(),
            passphrase.as_bytes(),
            &mut out,
        );
        Ok(MasterKey(out))
    }

    pub fn auth_key(&self) -> AuthKey {
        AuthKey(hkdf32(&self.0, b"strideguard auth v1"))
    }

    pub fn wrap_key(&self) -> WrapKey {
        WrapKey(hkdf32(&self.0, b"strideguard wrap v1"))
    }
}

fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    rng.fill(&mut b).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

fn seal_raw(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_with(key, aad, plaintext.len(), |out| {
        out.extend_from_slice(plaintext)
    })
}

/// Seals what `write_plaintext` appends, in place in the envelope buffer (version, nonce,
/// ciphertext, tag): one allocation and no copy of the plaintext, which matters for 64 KiB
/// sample chunks.
fn seal_with(
    key: &[u8; 32],
    aad: &[u8],
    plaintext_len: usize,
    write_plaintext: impl FnOnce(&mut Vec<u8>),
) -> Result<Vec<u8>, CryptoError> {
    let rng = SystemRandom::new();
    let nonce_bytes: [u8; NONCE_LEN] = random(&rng)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"));
    let header = 1 + NONCE_LEN;
    let mut out = Vec::with_capacity(header + plaintext_len + AES_256_GCM.tag_len());
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&nonce_bytes);
    write_plaintext(&mut out);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut out[header..],
        )
        .map_err(|_| CryptoError::Random)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens an envelope; `None` when the key or the associated data do not match.
fn open_raw(key: &[u8; 32], aad: &[u8], envelope: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
    let (&version, rest) = envelope
        .split_first()
        .ok_or(CryptoError::Malformed("empty"))?;
    if version != ENVELOPE_V1 {
        return Err(CryptoError::UnknownEnvelope(version));
    }
    if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Malformed("shorter than a nonce and a tag"));
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed("nonce"))?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"));
    let mut buf = sealed.to_vec();
    let Ok(plain_len) = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map(|p| p.len())
    else {
        return Ok(None);
    };
    buf.truncate(plain_len);
    Ok(Some(buf))
}

/// The account's random data key: it seals every record and is kept on the server only wrapped.
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A new random key, made by the account's first device.
    pub fn generate() -> Result<DataKey, CryptoError> {
        Ok(DataKey(random(&SystemRandom::new())?))
    }

    /// The data key sealed under the wrap key, for the server to keep.
    pub fn wrap(&self, wrap: &WrapKey) -> Result<Vec<u8>, CryptoError> {
        seal_raw(&wrap.0, b"sg1 data key", &self.0)
    }

    /// Unwraps the data key; failing to is how a wrong passphrase shows.
    pub fn unwrap(wrapped: &[u8], wrap: &WrapKey) -> Result<DataKey, CryptoError> {
        match open_raw(&wrap.0, b"sg1 data key", wrapped)? {
            Some(k) if k.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&k);
                Ok(DataKey(key))
            }
            _ => Err(CryptoError::WrongPassphrase),
        }
    }

    /// The name the server sees for a collection: HMAC-SHA256 under a key derived from the data
    /// key, so names such as `pain_entries` stay private.
    pub fn collection_tag(&self, collection: &str) -> String {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &hkdf32(&self.0, b"strideguard collection tag v1"),
        );
        hmac::sign(&key, collection.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The id the server sees for a record: a UUID (v4 layout) made from an HMAC of the
    /// collection and local id, so ids like `profile` or a plan's day say nothing, yet every
    /// device names the same record the same way.
    pub fn record_id(&self, collection: &str, local_id: &str) -> String {
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &hkdf32(&self.0, b"strideguard record id v1"),
        );
        let mut msg = (collection.len() as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(collection.as_bytes());
        msg.extend_from_slice(local_id.as_bytes());
        let tag = hmac::sign(&key, &msg);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag.as_ref()[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// The raw key, for the device's own database (never sent anywhere).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    fn aad(collection: &str, record_id: &str, schema_version: u32) -> Vec<u8> {
        let mut aad = b"sg1".to_vec();
        for part in [collection.as_bytes(), record_id.as_bytes()] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part);
        }
        aad.extend_from_slice(&schema_version.to_be_bytes());
        aad
    }

    /// Seals a record's payload, padded up to a multiple of `pad_to` bytes (1 KiB for records,
    /// 64 KiB for sample chunks).
    pub fn seal(
        &self,
        collection: &str,
        record_id: &str,
        schema_version: u32,
        payload: &[u8],
        pad_to: usize,
    ) -> Result<Vec<u8>, CryptoError> {
        let framed = 4 + payload.len();
        let step = pad_to.max(1);
        let padded = framed.div_ceil(step) * step;
        seal_with(
            &self.0,
            &Self::aad(collection, record_id, schema_version),
            padded,
            |out| {
                out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                out.extend_from_slice(payload);
                out.resize(out.len() + padded - framed, 0);
            },
        )
    }

    /// Opens a record sealed by [`DataKey::seal`] for this collection, id and schema version.
    pub fn open(
        &self,
        collection: &str,
        record_id: &str,
        schema_version: u32,
        envelope: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let plain = open_raw(
            &self.0,
            &Self::aad(collection, record_id, schema_version),
            envelope,
        )?
        .ok_or_else(|| CryptoError::Tampered {
            collection: collection.to_string(),
            record_id: record_id.to_string(),
        })?;
        let mut plain = plain;
        let len = plain
            .first_chunk::<4>()
            .map(|b| u32::from_be_bytes(*b) as usize)
            .ok_or(CryptoError::Malformed("no length"))?;
        if len > plain.len() - 4 {
            return Err(CryptoError::Malformed("length past the end"));
        }
        plain.truncate(4 + len);
        plain.drain(..4);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams { iterations: 1_000 };

    #[test]
    fn the_passphrase_unlocks_the_data_key_and_a_wrong_one_is_told() {
        let master = MasterKey::derive("correct horse", "Anna ", FAST).unwrap();
        let data = DataKey::generate().unwrap();
        let wrapped = data.wrap(&master.wrap_key()).unwrap();
        // Another device with the same passphrase and the username spelt differently.
        let again = MasterKey::derive("correct horse", "anna", FAST).unwrap();
        let unwrapped = DataKey::unwrap(&wrapped, &again.wrap_key()).unwrap();
        assert_eq!(unwrapped.0, data.0);
        assert_eq!(again.auth_key(), master.auth_key());
        let wrong = MasterKey::derive("wrong horse", "anna", FAST).unwrap();
        assert_eq!(
            DataKey::unwrap(&wrapped, &wrong.wrap_key()).err(),
            Some(CryptoError::WrongPassphrase)
        );
        assert_ne!(wrong.auth_key(), master.auth_key());
        // Other iterations, other keys: the count is part of the account.
        let other =
            MasterKey::derive("correct horse", "anna", KdfParams { iterations: 1_001 }).unwrap();
        assert_ne!(other.auth_key(), master.auth_key());
        assert!(matches!(
            MasterKey::derive("x", "y", KdfParams { iterations: 0 }),
            Err(CryptoError::NoIterations)
        ));
    }

    #[test]
    fn auth_and_wrap_keys_are_different() {
        let m = MasterKey::derive("p", "u", FAST).unwrap();
        assert_ne!(m.auth_key().0, m.wrap_key().0);
    }

    #[test]
    fn records_open_only_where_they_were_sealed() {
        let k = DataKey::generate().unwrap();
        let sealed = k
            .seal("runs", "id-1", 1, b"{\"distance_m\": 10000}", 1024)
            .unwrap();
        assert_eq!(
            k.open("runs", "id-1", 1, &sealed).unwrap(),
            b"{\"distance_m\": 10000}"
        );
        for (c, id, v) in [
            ("shoes", "id-1", 1),
            ("runs", "id-2", 1),
            ("runs", "id-1", 2),
        ] {
            assert!(
                matches!(k.open(c, id, v, &sealed), Err(CryptoError::Tampered { .. })),
                "{c} {id} {v}"
            );
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            k.open("runs", "id-1", 1, &flipped),
            Err(CryptoError::Tampered { .. })
        ));
        let other = DataKey::generate().unwrap();
        assert!(other.open("runs", "id-1", 1, &sealed).is_err());
        let mut future = sealed.clone();
        future[0] = 9;
        assert_eq!(
            k.open("runs", "id-1", 1, &future),
            Err(CryptoError::UnknownEnvelope(9))
        );
        assert!(matches!(
            k.open("runs", "id-1", 1, &sealed[..10]),
            Err(CryptoError::Malformed(_))
        ));
        // Fresh nonces: the same record sealed twice differs.
        assert_ne!(
            k.seal("runs", "id-1", 1, b"x", 1024).unwrap(),
            k.seal("runs", "id-1", 1, b"x", 1024).unwrap()
        );
    }

    #[test]
    fn payloads_are_padded_to_steps() {
        let k = DataKey::generate().unwrap();
        let overhead = 1 + NONCE_LEN + 16;
        assert_eq!(
            k.seal("c", "i", 1, &[7; 10], 1024).unwrap().len(),
            1024 + overhead
        );
        assert_eq!(
            k.seal("c", "i", 1, &[7; 1020], 1024).unwrap().len(),
            1024 + overhead
        );
        assert_eq!(
            k.seal("c", "i", 1, &[7; 1021], 1024).unwrap().len(),
            2048 + overhead
        );
        let big = k.seal("c", "i", 1, &[7; 70_000], 65_536).unwrap();
        assert_eq!(big.len(), 131_072 + overhead);
        assert_eq!(k.open("c", "i", 1, &big).unwrap(), vec![7; 70_000]);
    }

    #[test]
    fn collection_tags_hide_names_and_are_stable_per_account() {
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        let tag = a.collection_tag("pain_entries");
        assert_eq!(tag.len(), 64);
        assert!(!tag.contains("pain"));
        assert_eq!(tag, a.collection_tag("pain_entries"));
        assert_ne!(tag, a.collection_tag("runs"));
        assert_ne!(tag, b.collection_tag("pain_entries"));
    }

    #[test]
    fn record_ids_are_uuids_stable_per_account_and_say_nothing() {
        let a = DataKey::generate().unwrap();
        let id = a.record_id("profile", "profile");
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(id, a.record_id("profile", "profile"));
        assert_ne!(id, a.record_id("profile", "profile2"));
        assert_ne!(id, a.record_id("shoes", "profile"));
        assert_ne!(
            id,
            DataKey::generate().unwrap().record_id("profile", "profile")
        );
    }
}
