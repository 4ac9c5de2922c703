//! HLS `METHOD=AES-128` encryption: each media segment is encrypted whole with AES-128-CBC and
//! PKCS#7 padding, under its own random IV that the playlist states.

use std::fmt;

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};

type Aes128CbcEncryptor = cbc::Encryptor<aes::Aes128>;

/// The content key of one package and the URI players fetch it from.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    /// The 16-byte AES-128 key. It is never written to disk or logged.
    pub key: [u8; 16],
    /// Key URI written into `#EXT-X-KEY`, such as `https://media.example.com/api/key/{hash}`.
    pub key_uri: String,
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey").field("key", &"[redacted]").field("key_uri", &self.key_uri).finish()
    }
}

/// Returns a random 16-byte IV from the operating system's generator.
pub(crate) fn random_iv() -> Result<[u8; 16], getrandom::Error> {
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv)?;
    Ok(iv)
}

/// Encrypts `plaintext` with AES-128-CBC and PKCS#7 padding, as HLS `METHOD=AES-128` expects.
pub fn encrypt_segment(key: &[u8; 16], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    Aes128CbcEncryptor::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt, first block.
    const NIST_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const NIST_IV: &str = "000102030405060708090a0b0c0d0e0f";
    const NIST_PLAINTEXT: &str = "6bc1bee22e409f96e93d7e117393172a";
    const NIST_CIPHERTEXT: &str = "7649abac8119b246cee98e9b12e9197d";

    fn array(hex_text: &str) -> [u8; 16] {
        hex::decode(hex_text).unwrap().try_into().unwrap()
    }

    #[test]
    fn matches_nist_vector_and_pads() {
        let ciphertext = encrypt_segment(&array(NIST_KEY), &array(NIST_IV), &hex::decode(NIST_PLAINTEXT).unwrap());
        assert_eq!(hex::encode(&ciphertext[..16]), NIST_CIPHERTEXT);
        assert_eq!(ciphertext.len(), 32, "a full block of PKCS#7 padding follows a whole block");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = ContentKey { key: [0xab; 16], key_uri: "https://example.test/api/key/abc".to_owned() };
        let text = format!("{key:?}");
        assert!(!text.contains("ab, ab") && !text.contains("171"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn ivs_differ() {
        assert_ne!(random_iv().unwrap(), random_iv().unwrap());
    }
}
