//! Configured secrets: length checks and redacted output.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Minimum length, in bytes, of `HMAC_SECRET`, `API_KEY` and `WEBHOOK_SECRET`: 64, the length of
/// `openssl rand -hex 32`.
pub const MIN_SIGNING_SECRET_LEN: usize = 64;

/// Minimum length, in bytes, of `KEY_TOKEN_SECRET`: 32, the length of `openssl rand -hex 16`.
pub const MIN_TOKEN_SECRET_LEN: usize = 32;

/// Reason a configured secret was rejected. The message names the variable, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("{name} is not set")]
    Missing { name: String },
    #[error("{name} is too short: it has {len} bytes, at least {min} are required")]
    TooShort { name: String, len: usize, min: usize },
    #[error("{name} contains whitespace or control characters")]
    InvalidCharacters { name: String },
}

/// A secret whose raw bytes key an HMAC. `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps bytes without checking their length. Tests and known-answer vectors use this; configuration
    /// goes through [`Secret::from_config`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Checks the value of the configuration variable `name`: present, printable and at least
    /// `min_len` bytes.
    pub fn from_config(name: &str, value: Option<&str>, min_len: usize) -> Result<Self, SecretError> {
        let value = match value {
            Some(value) if !value.is_empty() => value,
            _ => return Err(SecretError::Missing { name: name.to_owned() }),
        };
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SecretError::InvalidCharacters { name: name.to_owned() });
        }
        if value.len() < min_len {
            return Err(SecretError::TooShort { name: name.to_owned(), len: value.len(), min: min_len });
        }
        Ok(Self(value.as_bytes().to_vec()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC-SHA256 accepts keys of any length")
    }

    /// Returns lower-case hex HMAC-SHA256 of `message`.
    pub fn hmac_hex(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Compares `candidate` with this secret in constant time, as the `X-API-Key` check needs.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.ct_eq(candidate).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// Checks a lower-case hex MAC against `message` in constant time.
///
/// Anything but exactly 64 lower-case hex digits fails, so an upper-case or truncated signature is
/// rejected like a wrong one.
pub(crate) fn verify_hex_mac(secret: &Secret, message: &[u8], signature: &str) -> bool {
    if signature.len() != 64 || !signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return false;
    }
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    let mut mac = secret.mac();
    mac.update(message);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn debug_is_redacted() {
        let secret = Secret::new("super-secret-value");
        assert_eq!(format!("{secret:?}"), "Secret(<18 bytes redacted>)");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn config_checks() {
        let long = "a".repeat(64);
        assert!(Secret::from_config("HMAC_SECRET", Some(&long), MIN_SIGNING_SECRET_LEN).is_ok());
        let error = Secret::from_config("HMAC_SECRET", Some("short-value"), MIN_SIGNING_SECRET_LEN).unwrap_err();
        assert!(error.to_string().contains("HMAC_SECRET"));
        assert!(!error.to_string().contains("short-value"));
        assert!(matches!(
            Secret::from_config("HMAC_SECRET", Some(""), 1),
            Err(SecretError::Missing { .. })
        ));
        assert!(matches!(
            Secret::from_config("HMAC_SECRET", Some("a b"), 1),
            Err(SecretError::InvalidCharacters { .. })
        ));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn api_key_compare() {
        let secret = Secret::new("abc");
        assert!(secret.matches(b"abc"));
        assert!(!secret.matches(b"abd"));
        assert!(!secret.matches(b"ab"));
    }
}
