//! Accounts as both sides see them: the key-derivation parameters the server hands out before
//! login, and what a username looks like.

use serde::{Deserialize, Serialize};

/// PBKDF2 iterations for new accounts; stored per account so it can rise later.
pub const DEFAULT_ITERATIONS: u32 = 600_000;

/// The most PBKDF2 iterations an account may use (more would make a login take minutes).
pub const MAX_ITERATIONS: u32 = 100_000_000;

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The longest device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;

/// Key-derivation parameters, public (the server hands them out before login).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub iterations: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            iterations: DEFAULT_ITERATIONS,
        }
    }
}

/// The username as it enters the key salt and the server: trimmed, lower-case and in Unicode
/// NFC, so "Anna ", "anna" and a "josé" typed with a combining accent are each one account.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.trim().to_lowercase().nfc().collect()
}

/// Characters that change how a name reads without showing themselves: bidirectional
/// controls (which can make "anna" display as another name) and zero-width ones (which make
/// two names that look the same).
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Why a (normalised) username is not acceptable, or `None` when it is: 1 to 64 printable
/// characters without '/' (it is a path segment of the API), in the form
/// [`normalize_username`] gives, with no invisible characters ([`is_invisible`]).
pub fn username_problem(normalized: &str) -> Option<&'static str> {
    if normalized.is_empty() {
        Some("the username is empty")
    } else if normalized.chars().count() > MAX_USERNAME_CHARS {
        Some("the username is longer than 64 characters")
    } else if normalized != normalized.trim() || normalized != normalized.to_lowercase() {
        Some("the username must be lower case without spaces around it")
    } else if normalized.chars().any(|c| c.is_control() || c == '/') {
        Some("the username may not hold '/' or control characters")
    } else if normalized.chars().any(is_invisible) {
        Some("the username may not hold invisible characters (zero-width or direction marks)")
    } else if normalize_username(normalized) != normalized {
        Some("the username must be in Unicode NFC form (as the apps send it)")
    } else {
        None
    }
}

/// A device's name as both sides keep it (trimmed), or why it is not acceptable: 1 to 100
/// printable characters. The device list shows it to the runner on every device.
pub fn device_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        Err("the device name must be 1 to 100 printable characters")
    } else {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(normalize_username("  Anna "), "anna");
        assert_eq!(username_problem("anna"), None);
        assert!(username_problem("").is_some());
        assert!(username_problem("a/b").is_some());
        assert!(username_problem("Anna").is_some());
        assert!(username_problem(&"x".repeat(65)).is_some());
        assert_eq!(username_problem(&"x".repeat(64)), None);
    }

    #[test]
    fn one_name_in_any_unicode_spelling_is_one_account_and_invisible_ones_are_refused() {
        let composed = "jos\u{e9}";
        let decomposed = "jose\u{301}";
        assert_ne!(composed, decomposed);
        assert_eq!(normalize_username(decomposed), composed);
        assert_eq!(normalize_username(" JOSE\u{301} "), composed);
        assert_eq!(username_problem(composed), None);
        assert!(username_problem(decomposed).unwrap().contains("NFC"));
        for sneaky in [
            "an\u{200b}na",
            "\u{202e}anna",
            "anna\u{2066}",
            "\u{feff}anna",
            "an\u{200d}na",
        ] {
            let n = normalize_username(sneaky);
            assert!(
                username_problem(&n).unwrap().contains("invisible"),
                "{sneaky:?}"
            );
        }
    }

    #[test]
    fn device_names_are_trimmed_printable_and_bounded() {
        assert_eq!(device_name("  phone "), Ok("phone"));
        assert!(device_name("   ").is_err());
        assert!(device_name("a\nb").is_err());
        assert!(device_name(&"é".repeat(101)).is_err());
        assert!(device_name(&"é".repeat(100)).is_ok());
    }
}
