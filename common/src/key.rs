//! Storage object keys: strict percent-decoding, validation and escaping.
//!
//! A key that arrives in a URL is percent-decoded exactly once and then validated before any MAC is
//! computed, so that a key which could climb out of its bucket folder never reaches storage.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Maximum length of an object key in bytes, after decoding. S3 rejects longer keys.
pub const MAX_KEY_LEN: usize = 1024;

/// Characters that [`escape_path_segment`] leaves unescaped: the RFC 3986 unreserved set plus
/// `$&+,:;=@`. This matches Go's `url.PathEscape`, so URLs built here are byte-identical to the
/// ones Vylux backends build.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// Reason an object key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("object key is empty")]
    Empty,
    #[error("object key {0:?} has an invalid percent-escape")]
    InvalidEscape(String),
    #[error("object key {0:?} is not valid UTF-8 after percent-decoding")]
    NotUtf8(String),
    #[error("object key {0:?} is longer than {MAX_KEY_LEN} bytes")]
    TooLong(String),
    #[error("object key {0:?} contains a '.' or '..' segment")]
    DotSegment(String),
    #[error("object key {0:?} contains an empty segment")]
    EmptySegment(String),
    #[error("object key {0:?} contains a backslash")]
    Backslash(String),
    #[error("object key {0:?} contains a control character")]
    ControlCharacter(String),
}

/// A validated storage object key, such as `videos/mo/movie-2026-04-01/cover.jpg`.
///
/// A key is non-empty, at most [`MAX_KEY_LEN`] bytes, made of non-empty `/`-separated segments none
/// of which is `.` or `..`, and free of backslashes and control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates an already-decoded key.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        validate_key(key)?;
        Ok(Self(key.to_owned()))
    }

    /// Decodes a key taken from a URL path and validates it.
    ///
    /// One leading `/` is stripped, then the rest is percent-decoded exactly once with path
    /// semantics: `%2F` becomes `/`, `+` stays `+`, and a `%` not followed by two hex digits is an
    /// error. `%2e%2e` therefore decodes to `..` and is rejected, while `%252e` decodes to the
    /// literal text `%2e`.
    pub fn from_url_path(raw: &str) -> Result<Self, KeyError> {
        let raw = raw.strip_prefix('/').unwrap_or(raw);
        let decoded = percent_decode_strict(raw)?;
        Self::parse(&decoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Escapes the whole key as one URL path segment, so `/` becomes `%2F`.
    pub fn escaped(&self) -> String {
        escape_path_segment(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Returns the text after the last `.` of the last segment, lower-cased, if there is one.
    pub fn extension(&self) -> Option<String> {
        let name = self.0.rsplit('/').next()?;
        let (_, ext) = name.rsplit_once('.')?;
        (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Escapes text as one URL path segment the way Go's `url.PathEscape` does.
pub fn escape_path_segment(text: &str) -> String {
    utf8_percent_encode(text, PATH_SEGMENT).to_string()
}

/// Percent-decodes `raw` once, rejecting malformed escapes and invalid UTF-8.
pub fn percent_decode_strict(raw: &str) -> Result<String, KeyError> {
    let bytes = raw.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let well_formed = bytes.len() >= index + 3
                && bytes[index + 1].is_ascii_hexdigit()
                && bytes[index + 2].is_ascii_hexdigit();
            if !well_formed {
                return Err(KeyError::InvalidEscape(raw.to_owned()));
            }
            index += 3;
        } else {
            index += 1;
        }
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| KeyError::NotUtf8(raw.to_owned()))
}

fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        // Only a prefix goes into the error, so a huge hostile key is not copied into logs.
        let prefix: String = key.chars().take(64).collect();
        return Err(KeyError::TooLong(prefix));
    }
    if key.chars().any(char::is_control) {
        return Err(KeyError::ControlCharacter(key.to_owned()));
    }
    if key.contains('\\') {
        return Err(KeyError::Backslash(key.to_owned()));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment(key.to_owned())),
            "." | ".." => return Err(KeyError::DotSegment(key.to_owned())),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn escape_matches_go_path_escape() {
        assert_eq!(
            escape_path_segment("videos/mo/movie-2026-04-01/cover.jpg"),
            "videos%2Fmo%2Fmovie-2026-04-01%2Fcover.jpg"
        );
        assert_eq!(escape_path_segment("a b+c@d?e#f%g"), "a%20b+c@d%3Fe%23f%25g");
        assert_eq!(escape_path_segment("é"), "%C3%A9");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn from_url_path_decodes_once() {
        let key = ObjectKey::from_url_path("/uploads%2FMy%20Image.png").unwrap();
        assert_eq!(key.as_str(), "uploads/My Image.png");
        let literal = ObjectKey::from_url_path("a/%252e%252e/b").unwrap();
        assert_eq!(literal.as_str(), "a/%2e%2e/b");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn plus_is_not_space() {
        assert_eq!(ObjectKey::from_url_path("a+b.jpg").unwrap().as_str(), "a+b.jpg");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn extension_is_lowercased() {
        let key = ObjectKey::parse("a.b/c.JPG").unwrap();
        assert_eq!(key.extension().as_deref(), Some("jpg"));
        assert_eq!(ObjectKey::parse("a.b/c").unwrap().extension(), None);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn too_long_error_is_truncated() {
        let key = "a".repeat(MAX_KEY_LEN + 1);
        let error = ObjectKey::parse(&key).unwrap_err();
        assert!(error.to_string().len() < 200);
        assert!(ObjectKey::parse(&"a".repeat(MAX_KEY_LEN)).is_ok());
    }
}
