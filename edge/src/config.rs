//! Worker configuration: the origin's base URL from `[vars]` and the two secrets.
//!
//! The worker reads its configuration on every request, because Workers exposes `env` only inside
//! a handler. Parsing costs two SHA-256 runs and is far below the cost of any forwarded request.

use url::Url;
use vylux_common::secret::{SecretError, MIN_SIGNING_SECRET_LEN, MIN_TOKEN_SECRET_LEN};
use vylux_common::signing::UrlSigner;
use vylux_common::token::TokenKeys;
use vylux_common::Secret;

/// Variable holding the origin's base URL, such as `https://origin.example.com`.
pub const ORIGIN_URL_VAR: &str = "ORIGIN_URL";

/// Origin used when `ORIGIN_URL` is not set: `vylux serve` on its default port.
pub const DEFAULT_ORIGIN_URL: &str = "http://127.0.0.1:3000";

/// Secret that signs `/thumb`, `/img` and `/original` URLs.
pub const HMAC_SECRET_VAR: &str = "HMAC_SECRET";

/// Secret that signs playback tokens for `/api/key/{hash}`.
pub const KEY_TOKEN_SECRET_VAR: &str = "KEY_TOKEN_SECRET";

/// Optional secret with retired `KEY_TOKEN_SECRET` values, comma-separated, whose tokens are still
/// accepted during a rotation. The origin reads the same variable.
pub const KEY_TOKEN_PREVIOUS_SECRETS_VAR: &str = "KEY_TOKEN_PREVIOUS_SECRETS";

/// Reason the configuration was rejected. Messages name the variable, never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{ORIGIN_URL_VAR} {0:?} is invalid: use an absolute http:// or https:// URL with a host, without credentials, query or fragment")]
    InvalidOriginUrl(String),
}

/// Everything a request handler needs from the environment.
#[derive(Debug)]
pub struct EdgeConfig {
    pub origin: OriginBase,
    pub signer: UrlSigner,
    pub token_keys: TokenKeys,
}

impl EdgeConfig {
    /// Reads and checks every variable through `lookup`, which returns a variable's value or `None`.
    ///
    /// `HMAC_SECRET` needs at least [`MIN_SIGNING_SECRET_LEN`] bytes and `KEY_TOKEN_SECRET` at least
    /// [`MIN_TOKEN_SECRET_LEN`]; a missing `ORIGIN_URL` falls back to [`DEFAULT_ORIGIN_URL`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let origin_text = lookup(ORIGIN_URL_VAR).unwrap_or_else(|| DEFAULT_ORIGIN_URL.to_owned());
        let origin = OriginBase::parse(&origin_text)?;

        let hmac_secret = lookup(HMAC_SECRET_VAR);
        let signer = UrlSigner::new(Secret::from_config(
            HMAC_SECRET_VAR,
            hmac_secret.as_deref(),
            MIN_SIGNING_SECRET_LEN,
        )?);

        let token_secret = lookup(KEY_TOKEN_SECRET_VAR);
        let current = Secret::from_config(
            KEY_TOKEN_SECRET_VAR,
            token_secret.as_deref(),
            MIN_TOKEN_SECRET_LEN,
        )?;
        let previous = previous_token_secrets(lookup(KEY_TOKEN_PREVIOUS_SECRETS_VAR).as_deref())?;

        Ok(Self {
            origin,
            signer,
            token_keys: TokenKeys::new(current, previous),
        })
    }
}

fn previous_token_secrets(list: Option<&str>) -> Result<Vec<Secret>, SecretError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let values = list
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty());
    values
        .enumerate()
        .map(|(index, value)| {
            let name = format!("{KEY_TOKEN_PREVIOUS_SECRETS_VAR} entry {}", index + 1);
            Secret::from_config(&name, Some(value), MIN_TOKEN_SECRET_LEN)
        })
        .collect()
}

/// The origin's base URL without a trailing slash, such as `http://127.0.0.1:3000` or
/// `https://origin.example.com/vylux`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginBase(String);

impl OriginBase {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidOriginUrl(text.to_owned());
        let url = Url::parse(text.trim()).map_err(|_| invalid())?;
        let shape_ok = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| !host.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        if !shape_ok {
            return Err(invalid());
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// Returns the origin URL for a request path (starting with `/`) and an optional raw query.
    pub fn url_for(&self, path: &str, query: Option<&str>) -> String {
        match query {
            Some(query) => format!("{}{path}?{query}", self.0),
            None => format!("{}{path}", self.0),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const HMAC_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const TOKEN_SECRET: &str = "fedcba9876543210fedcba9876543210";

    fn lookup_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn complete_config_loads() {
        let config = EdgeConfig::from_lookup(lookup_from(&[
            (ORIGIN_URL_VAR, "https://origin.example.com/"),
            (HMAC_SECRET_VAR, HMAC_SECRET),
            (KEY_TOKEN_SECRET_VAR, TOKEN_SECRET),
        ]))
        .unwrap();
        assert_eq!(config.origin.as_str(), "https://origin.example.com");
    }

    #[test]
    fn origin_defaults_to_local_server() {
        let config = EdgeConfig::from_lookup(lookup_from(&[
            (HMAC_SECRET_VAR, HMAC_SECRET),
            (KEY_TOKEN_SECRET_VAR, TOKEN_SECRET),
        ]))
        .unwrap();
        assert_eq!(config.origin.as_str(), DEFAULT_ORIGIN_URL);
    }

    #[test]
    fn missing_secret_names_variable() {
        let error =
            EdgeConfig::from_lookup(lookup_from(&[(HMAC_SECRET_VAR, HMAC_SECRET)])).unwrap_err();
        assert_eq!(error.to_string(), "KEY_TOKEN_SECRET is not set");
    }

    #[test]
    fn short_secret_error_hides_value() {
        let short = "tooshort-but-secret";
        let error = EdgeConfig::from_lookup(lookup_from(&[
            (HMAC_SECRET_VAR, short),
            (KEY_TOKEN_SECRET_VAR, TOKEN_SECRET),
        ]))
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains(HMAC_SECRET_VAR), "{message}");
        assert!(!message.contains(short), "{message}");
    }

    #[test]
    fn short_previous_token_secret_rejected() {
        let error = EdgeConfig::from_lookup(lookup_from(&[
            (HMAC_SECRET_VAR, HMAC_SECRET),
            (KEY_TOKEN_SECRET_VAR, TOKEN_SECRET),
            (
                KEY_TOKEN_PREVIOUS_SECRETS_VAR,
                "0123456789abcdef0123456789abcdef, short",
            ),
        ]))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("KEY_TOKEN_PREVIOUS_SECRETS entry 2 is too short"),
            "{error}"
        );
    }

    #[test]
    fn origin_url_shapes() {
        for good in ["http://127.0.0.1:3000", "https://origin.example.com/vylux/"] {
            assert!(OriginBase::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "127.0.0.1:3000",
            "ftp://example.com",
            "http://user:pw@example.com",
            "http://example.com/?a=1",
        ] {
            assert!(OriginBase::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origin_url_keeps_base_path() {
        let base = OriginBase::parse("https://origin.example.com/vylux/").unwrap();
        assert_eq!(
            base.url_for("/api/jobs", Some("limit=5")),
            "https://origin.example.com/vylux/api/jobs?limit=5"
        );
        assert_eq!(
            base.url_for("/healthz", None),
            "https://origin.example.com/vylux/healthz"
        );
    }
}
