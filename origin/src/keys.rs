//! Content keys and their wrapping with key-encryption keys (KEKs).
//!
//! Every encrypted asset gets its own random AES-128 content key. Only the wrapped form is
//! stored: AES-256-GCM under a KEK, with a fresh 12-byte nonce and the KEK version and media hash
//! as additional authenticated data, so a wrapped key cannot be moved to another hash. Several
//! KEKs can be configured at once: the current one (`ENCRYPTION_KEY`, version
//! `ENCRYPTION_KEY_VERSION`, default `v1`) wraps new keys, and previous ones
//! (`ENCRYPTION_PREVIOUS_KEYS="v0:<64 hex>,..."`) still unwrap the keys they wrapped.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Default version label of the current KEK.
pub const DEFAULT_KEK_VERSION: &str = "v1";

/// A plaintext AES-128 content key. It is wiped from memory when dropped and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ContentKeyBytes([u8; 16]);

impl ContentKeyBytes {
    /// Generates a random key from the operating system's generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for ContentKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentKeyBytes(<redacted>)")
    }
}

/// A content key in wrapped form, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub kek_version: String,
}

/// Reason a key could not be wrapped or unwrapped. Carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWrapError {
    #[error("no key-encryption key with version {0:?} is configured")]
    UnknownVersion(String),
    #[error("wrapped content key failed authentication (wrong KEK, hash or corrupted data)")]
    Authentication,
    #[error("reading random bytes failed")]
    Random,
}

/// One key-encryption key with its version label.
pub struct Kek {
    version: String,
    cipher: Aes256Gcm,
}

impl Kek {
    /// Builds a KEK from 64 hex digits.
    pub fn from_hex(version: &str, hex_text: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_text).map_err(|_| "must be 64 hex digits".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!("must be 64 hex digits (32 bytes), got {} digits", hex_text.len()));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| "must be 32 bytes".to_owned())?;
        Ok(Self { version: version.to_owned(), cipher })
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

/// The configured KEKs: the current one first.
pub struct KekSet {
    keks: Vec<Kek>,
}

impl fmt::Debug for KekSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<&str> = self.keks.iter().map(Kek::version).collect();
        f.debug_struct("KekSet").field("versions", &versions).finish()
    }
}

impl KekSet {
    pub fn new(current: Kek, previous: Vec<Kek>) -> Self {
        Self { keks: std::iter::once(current).chain(previous).collect() }
    }

    /// Reads `ENCRYPTION_KEY`, `ENCRYPTION_KEY_VERSION` and `ENCRYPTION_PREVIOUS_KEYS` values,
    /// returning one message per problem. Messages never contain key material.
    pub fn from_config(
        current: Option<&str>,
        version: Option<&str>,
        previous: Option<&str>,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let version = version.unwrap_or(DEFAULT_KEK_VERSION);
        if !valid_version(version) {
            errors.push(format!("ENCRYPTION_KEY_VERSION {version:?} must be 1 to 32 letters, digits, '-' or '_'"));
        }
        let current = match current {
            None => {
                errors.push("ENCRYPTION_KEY is not set".to_owned());
                None
            }
            Some(text) => Kek::from_hex(version, text)
                .map_err(|message| errors.push(format!("ENCRYPTION_KEY {message}")))
                .ok(),
        };
        let mut previous_keks = Vec::new();
        for (index, entry) in previous.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate()
        {
            let position = index + 1;
            let Some((entry_version, hex_text)) = entry.split_once(':') else {
                errors.push(format!("ENCRYPTION_PREVIOUS_KEYS entry {position} must look like VERSION:HEX"));
                continue;
            };
            if !valid_version(entry_version) || entry_version == version {
                errors.push(format!(
                    "ENCRYPTION_PREVIOUS_KEYS entry {position} has version {entry_version:?}, which is invalid or already in use"
                ));
                continue;
            }
            match Kek::from_hex(entry_version, hex_text) {
                Ok(kek) => previous_keks.push(kek),
                Err(message) => errors.push(format!("ENCRYPTION_PREVIOUS_KEYS entry {position} {message}")),
            }
        }
        match current {
            Some(current) if errors.is_empty() => Ok(Self::new(current, previous_keks)),
            _ => Err(errors),
        }
    }

    /// Version of the KEK that wraps new keys.
    pub fn current_version(&self) -> &str {
        self.keks[0].version()
    }

    /// Wraps a content key for `hash` with the current KEK.
    pub fn wrap(&self, hash: &str, key: &ContentKeyBytes) -> Result<WrappedKey, KeyWrapError> {
        let kek = &self.keks[0];
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| KeyWrapError::Random)?;
        let aad = associated_data(kek.version(), hash);
        let ciphertext = kek
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| KeyWrapError::Authentication)?;
        Ok(WrappedKey { ciphertext, nonce: nonce.to_vec(), kek_version: kek.version().to_owned() })
    }

    /// Unwraps a stored key for `hash` with the KEK named by its version.
    pub fn unwrap(&self, hash: &str, wrapped: &WrappedKey) -> Result<ContentKeyBytes, KeyWrapError> {
        let kek = self
            .keks
            .iter()
            .find(|kek| kek.version() == wrapped.kek_version)
            .ok_or_else(|| KeyWrapError::UnknownVersion(wrapped.kek_version.clone()))?;
        if wrapped.nonce.len() != 12 {
            return Err(KeyWrapError::Authentication);
        }
        let aad = associated_data(kek.version(), hash);
        let mut plaintext = kek
            .cipher
            .decrypt(Nonce::from_slice(&wrapped.nonce), Payload { msg: &wrapped.ciphertext, aad: aad.as_bytes() })
            .map_err(|_| KeyWrapError::Authentication)?;
        let result = <[u8; 16]>::try_from(plaintext.as_slice()).map(ContentKeyBytes).map_err(|_| KeyWrapError::Authentication);
        plaintext.zeroize();
        result
    }
}

fn associated_data(version: &str, hash: &str) -> String {
    format!("vylux content key\0{version}\0{hash}")
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 32
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEK_V1: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const KEK_V2: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    #[test]
    fn wrap_round_trip() {
        let keks = KekSet::from_config(Some(KEK_V1), None, None).unwrap();
        let key = ContentKeyBytes::generate().unwrap();
        let wrapped = keks.wrap("movie", &key).unwrap();
        assert_eq!(wrapped.kek_version, "v1");
        assert_eq!(wrapped.ciphertext.len(), 32);
        assert_ne!(&wrapped.ciphertext[..16], key.as_bytes());
        assert_eq!(keks.unwrap("movie", &wrapped).unwrap().as_bytes(), key.as_bytes());
    }

    #[test]
    fn wrapped_key_is_bound_to_hash() {
        let keks = KekSet::from_config(Some(KEK_V1), None, None).unwrap();
        let wrapped = keks.wrap("movie", &ContentKeyBytes::generate().unwrap()).unwrap();
        assert_eq!(keks.unwrap("other", &wrapped).unwrap_err(), KeyWrapError::Authentication);
    }

    #[test]
    fn rotation_keeps_old_keys() {
        let before = KekSet::from_config(Some(KEK_V1), None, None).unwrap();
        let key = ContentKeyBytes::generate().unwrap();
        let wrapped = before.wrap("movie", &key).unwrap();

        let during = KekSet::from_config(Some(KEK_V2), Some("v2"), Some(&format!("v1:{KEK_V1}"))).unwrap();
        assert_eq!(during.unwrap("movie", &wrapped).unwrap().as_bytes(), key.as_bytes());
        assert_eq!(during.wrap("movie", &key).unwrap().kek_version, "v2");

        let after = KekSet::from_config(Some(KEK_V2), Some("v2"), None).unwrap();
        assert_eq!(after.unwrap("movie", &wrapped).unwrap_err(), KeyWrapError::UnknownVersion("v1".to_owned()));
    }

    #[test]
    fn config_errors_hide_key_material() {
        let errors = KekSet::from_config(Some("abcd"), Some("v 1"), Some("v1:zz,broken")).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.iter().all(|message| !message.contains("abcd")));
        assert_eq!(format!("{:?}", ContentKeyBytes::from_bytes([7; 16])), "ContentKeyBytes(<redacted>)");
    }
}
