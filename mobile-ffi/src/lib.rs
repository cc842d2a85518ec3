//! Strideguard's core for iOS, Android and watch apps, through uniffi (proc-macros, library
//! mode). A thin layer, like mozilla/application-services' components: each exported method is
//! one call into `strideguard-core`, and this crate only turns core's types into records and
//! enums that Kotlin, Swift and Python understand, and its errors into [`StrideguardError`].
//!
//! - [`Strideguard`] ([`app`]): one object per database. Reads go through their own
//!   connections and local writes take the writer for a moment; sync, import and account calls
//!   are async and borrow the database only per step, so no call waits for the network.
//! - [`import`], [`pain`], [`sync`], [`report`]: the rest of its methods and their records.
//! - [`live`]: `LiveSession` (coach plus recording, saved as a run) and `CadenceCoach`, with
//!   cues to a `CueListener`; [`sensors`]: GATT parsers and the footpod bridge for apps that
//!   talk to a sensor themselves.
//! - [`listeners`]: the foreign callbacks; one that throws is counted, never a panic.
//! - [`records`]: runs, shoes, the profile.

uniffi::setup_scaffolding!("strideguard");

pub mod app;
pub mod error;
pub mod export;
pub mod import;
pub mod listeners;
pub mod live;
pub mod pain;
pub mod records;
pub mod report;
pub mod sensors;
pub mod sync;

pub use app::Strideguard;
pub use error::StrideguardError;
pub use live::{CadenceCoach, LiveSession};

/// The library's version.
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Declares a uniffi enum that mirrors one of core's, with conversions both ways, so a new
/// variant in core fails to compile here instead of being mapped wrongly.
macro_rules! mirror_enum {
    ($(#[$m:meta])* $name:ident = $core:path { $($(#[$vm:meta])* $v:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                use $core as C;
                match v { $(C::$v => $name::$v),+ }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                use $core as C;
                match v { $($name::$v => C::$v),+ }
            }
        }
    };
}
pub(crate) use mirror_enum;
