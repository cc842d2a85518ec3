//! What the Strideguard client and the sync server agree on, and nothing else: the JSON bodies
//! of the API ([`wire`]), the binary records body of `/v2` ([`frames`]), the limits the server
//! advertises, the key-derivation parameters and username rules ([`account`]), and wall-clock
//! time as a parameter ([`clock`]).
//!
//! The server depends on this crate and never on `strideguard-core`, so it cannot link the
//! importers, the analysis or the encryption of payloads: it stores ciphertext it cannot open.

pub mod account;
pub mod clock;
pub mod frames;
pub mod wire;

pub use account::{DEFAULT_ITERATIONS, KdfParams, normalize_username};
pub use clock::{Clock, ManualClock, SystemClock};
pub use wire::{ErrorBody, Limits};
