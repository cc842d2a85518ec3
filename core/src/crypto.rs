//! End-to-end encryption of synced records (sync-protocol.md, with ring). The passphrase never
//! leaves the device: it derives a master key (PBKDF2-HMAC-SHA256), from which come the auth key
//! the server checks and the wrap key that protects the account's random data key. Records are
//! sealed with AES-256-GCM under the data key, with associated data binding each ciphertext to
//! its collection, record id and schema version, so a ciphertext moved elsewhere fails to open.
//!
//! Two envelope formats: format 1 (the first release) pads plaintexts to fixed steps (1 KiB,
//! 64 KiB); format 2 pads them with Padmé ([`padme`]), which leaks O(log log n) bits of a size
//! at under 12% overhead, and binds the format into the associated data, so an envelope cannot
//! be passed off as the other format. Both open; only format 2 is written.

use std::num::NonZeroU32;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac, pbkdf2};

pub use strideguard_proto::account::{DEFAULT_ITERATIONS, KdfParams, normalize_username};

/// The first envelope format: fixed padding steps. Still opened; written only by
/// [`DataKey::seal`] (kept so that old records can be made in tests).
pub const ENVELOPE_V1: u8 = 1;
/// The envelope format this build writes: Padmé padding, the format in the associated data.
pub const ENVELOPE_V2: u8 = 2;

/// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
/// with PURBs", PETS 2019): rounds `len` up so that only its top O(log log len) bits remain,
/// an overhead of at most 11.7% (none below 8 bytes). A size then says which of a few
/// hundred buckets a record falls in, not its length.
pub fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2 len)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

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
    seal_with(ENVELOPE_V1, key, aad, plaintext.len(), |out| {
        out.extend_from_slice(plaintext)
    })
}

/// Seals what `write_plaintext` appends, in place in the envelope buffer (version, nonce,
/// ciphertext, tag): one allocation and no copy of the plaintext, which matters for 64 KiB
/// sample chunks.
fn seal_with(
    version: u8,
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
    out.push(version);
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

/// The format byte of an envelope, if it is one of `known`.
fn envelope_version(envelope: &[u8], known: &[u8]) -> Result<u8, CryptoError> {
    match envelope.first() {
        None => Err(CryptoError::Malformed("empty")),
        Some(v) if known.contains(v) => Ok(*v),
        Some(&v) => Err(CryptoError::UnknownEnvelope(v)),
    }
}

/// Opens an envelope in format 1 (a wrapped key's, whose associated data names no format) or
/// in a format of `known`; `None` when the key or the associated data do not match.
fn open_raw(
    key: &[u8; 32],
    aad: &[u8],
    envelope: &[u8],
    known: &[u8],
) -> Result<Option<Vec<u8>>, CryptoError> {
    envelope_version(envelope, known)?;
    let rest = &envelope[1..];
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
        match open_raw(&wrap.0, b"sg1 data key", wrapped, &[ENVELOPE_V1])? {
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

    fn aad(version: u8, collection: &str, record_id: &str, schema_version: u32) -> Vec<u8> {
        let mut aad = match version {
            ENVELOPE_V1 => b"sg1".to_vec(),
            _ => b"sg2".to_vec(),
        };
        for part in [collection.as_bytes(), record_id.as_bytes()] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part);
        }
        aad.extend_from_slice(&schema_version.to_be_bytes());
        aad
    }

    /// Seals a record's payload in envelope format 1, padded up to a multiple of `pad_to`
    /// bytes (1 KiB for records, 64 KiB for sample chunks). Only for making old records.
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
        self.seal_padded(
            ENVELOPE_V1,
            collection,
            record_id,
            schema_version,
            payload,
            framed.div_ceil(step) * step,
        )
    }

    /// Seals a record's payload in envelope format 2: its length, the payload, and zeros up
    /// to the [`padme`] size of the two.
    pub fn seal_v2(
        &self,
        collection: &str,
        record_id: &str,
        schema_version: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let framed = 4 + payload.len();
        self.seal_padded(
            ENVELOPE_V2,
            collection,
            record_id,
            schema_version,
            payload,
            padme(framed),
        )
    }

    fn seal_padded(
        &self,
        version: u8,
        collection: &str,
        record_id: &str,
        schema_version: u32,
        payload: &[u8],
        padded: usize,
    ) -> Result<Vec<u8>, CryptoError> {
        let framed = 4 + payload.len();
        let len = u32::try_from(payload.len()).map_err(|_| CryptoError::Malformed("over 4 GiB"))?;
        seal_with(
            version,
            &self.0,
            &Self::aad(version, collection, record_id, schema_version),
            padded,
            |out| {
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(payload);
                out.resize(out.len() + padded - framed, 0);
            },
        )
    }

    /// Opens a record sealed by [`DataKey::seal_v2`] or [`DataKey::seal`] for this collection,
    /// id and schema version.
    pub fn open(
        &self,
        collection: &str,
        record_id: &str,
        schema_version: u32,
        envelope: &[u8],
    ) -> Result<Opened, CryptoError> {
        let version = envelope_version(envelope, &[ENVELOPE_V1, ENVELOPE_V2])?;
        let plain = open_raw(
            &self.0,
            &Self::aad(version, collection, record_id, schema_version),
            envelope,
            &[version],
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
        Ok(Opened {
            envelope: version,
            plaintext: plain,
        })
    }
}

/// An opened record: its plaintext, and the envelope format it came in (which says how the
/// plaintext is encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub envelope: u8,
    pub plaintext: Vec<u8>,
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
    fn a_wrapped_key_opens_only_in_its_own_format() {
        let master = MasterKey::derive("p", "u", FAST).unwrap();
        let mut wrapped = DataKey::generate()
            .unwrap()
            .wrap(&master.wrap_key())
            .unwrap();
        wrapped[0] = ENVELOPE_V2;
        assert_eq!(
            DataKey::unwrap(&wrapped, &master.wrap_key()).err(),
            Some(CryptoError::UnknownEnvelope(ENVELOPE_V2))
        );
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
            k.open("runs", "id-1", 1, &sealed).unwrap().plaintext,
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
        assert_eq!(
            k.open("c", "i", 1, &big).unwrap().plaintext,
            vec![7; 70_000]
        );
    }

    #[test]
    fn padme_keeps_the_top_bits_within_twelve_percent() {
        // The paper's table: 9 bits of a 1 MB length, say, are rounded away.
        assert_eq!(padme(0), 0);
        assert_eq!(padme(1), 1);
        assert_eq!(padme(7), 7);
        assert_eq!(padme(9), 10);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        assert_eq!(padme(5000), 5120);
        let mut distinct = std::collections::BTreeSet::new();
        for len in 1..200_000usize {
            let p = padme(len);
            assert!(p >= len, "{len}");
            assert!((p - len) as f64 <= len as f64 * 0.12, "{len} -> {p}");
            assert_eq!(padme(p), p, "a padded length is its own bucket");
            distinct.insert(p);
        }
        // 200,000 lengths fall into 221 sizes.
        assert_eq!(distinct.len(), 221);
    }

    #[test]
    fn format_2_pads_with_padme_and_cannot_pass_for_format_1() {
        let k = DataKey::generate().unwrap();
        let overhead = 1 + NONCE_LEN + 16;
        let sealed = k.seal_v2("c", "i", 1, &[7; 5000]).unwrap();
        assert_eq!(sealed[0], ENVELOPE_V2);
        assert_eq!(sealed.len(), padme(5004) + overhead);
        let opened = k.open("c", "i", 1, &sealed).unwrap();
        assert_eq!(opened.envelope, ENVELOPE_V2);
        assert_eq!(opened.plaintext, vec![7; 5000]);
        // The format is bound: relabelled as format 1 it no longer opens.
        let mut relabelled = sealed.clone();
        relabelled[0] = ENVELOPE_V1;
        assert!(matches!(
            k.open("c", "i", 1, &relabelled),
            Err(CryptoError::Tampered { .. })
        ));
        let old = k.seal("c", "i", 1, b"old", 1024).unwrap();
        assert_eq!(k.open("c", "i", 1, &old).unwrap().envelope, ENVELOPE_V1);
        let mut flipped = sealed;
        flipped[40] ^= 0x10;
        assert!(matches!(
            k.open("c", "i", 1, &flipped),
            Err(CryptoError::Tampered { .. })
        ));
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
