//! Playback tokens for `GET /api/key/{hash}`.
//!
//! Two forms are accepted:
//!
//! - a JWT signed with HS256 whose claims carry `hash` and `exp` (and optionally `nbf` and `iat`),
//!   with a `kid` header naming the secret that signed it; and
//! - the Vylux two-part token `base64url(json).base64url(mac)`, where the MAC is HMAC-SHA256 over
//!   the base64url text of the payload.
//!
//! Every other algorithm is rejected. Several secrets can be active at once so that
//! `KEY_TOKEN_SECRET` can be rotated: new tokens are signed with the current one, and tokens signed
//! with a previous one keep working until they expire. A secret's `kid` is derived from the secret
//! itself, so issuers and verifiers never have to agree on key names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use jwt_simple::prelude::{HS256Key, JWTClaims, MACLike, Token, UnixTimeStamp, VerificationOptions};
use jwt_simple::JWTError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::layout::MediaHash;
use crate::secret::Secret;

/// Clock difference tolerated when checking `exp`, `nbf` and `iat`, in seconds.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// Maximum token length accepted, in bytes. Real tokens are under 300 bytes.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Maximum lifetime `mint` gives a token, in seconds (one week).
pub const MAX_TOKEN_TTL_SECS: u64 = 7 * 24 * 3600;

/// Reason a request for a key carries no usable token. The key endpoint returns 401 for
/// [`TokenError::Missing`] and 403 for [`TokenError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    #[error(transparent)]
    Invalid(#[from] InvalidToken),
}

impl TokenError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Missing => 401,
            Self::Invalid(_) => 403,
        }
    }
}

/// Reason a present token was rejected. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm {0:?} is not accepted (only HS256)")]
    UnsupportedAlgorithm(String),
    #[error("token key id is not one of the configured secrets")]
    UnknownKeyId,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token has no exp claim")]
    MissingExpiry,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is for another hash")]
    HashMismatch,
}

/// Reason a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("token lifetime must be between 1 and {MAX_TOKEN_TTL_SECS} seconds, got {0}")]
    InvalidTtl(u64),
    #[error("token secret is too short for HS256 (at least 12 bytes)")]
    WeakSecret,
}

/// A token that passed every check, for the hash it was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    hash: String,
    expires_at: u64,
}

impl VerifiedToken {
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Expiry as Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct PlaybackClaims {
    hash: String,
}

#[derive(Debug, Deserialize)]
struct TwoPartPayload {
    hash: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
}

struct TokenKey {
    kid: String,
    secret: Secret,
    jwt: HS256Key,
}

impl TokenKey {
    fn new(secret: Secret) -> Self {
        let kid = key_id(&secret);
        let jwt = HS256Key::from_bytes(secret.expose()).with_key_id(&kid);
        Self { kid, secret, jwt }
    }
}

/// The configured token secrets: the current one first, then previous ones still accepted.
pub struct TokenKeys {
    keys: Vec<TokenKey>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|key| key.kid.as_str()).collect();
        f.debug_struct("TokenKeys").field("kids", &kids).finish()
    }
}

impl TokenKeys {
    /// Builds the key set. `current` signs new tokens; `previous` secrets only verify.
    pub fn new(current: Secret, previous: impl IntoIterator<Item = Secret>) -> Self {
        let keys = std::iter::once(current).chain(previous).map(TokenKey::new).collect();
        Self { keys }
    }

    /// `kid` of the current secret.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Mints a JWT for `hash` valid from `now` for `ttl_secs` seconds (Unix seconds throughout).
    pub fn mint(&self, hash: &MediaHash, now: u64, ttl_secs: u64) -> Result<String, MintError> {
        if ttl_secs == 0 || ttl_secs > MAX_TOKEN_TTL_SECS {
            return Err(MintError::InvalidTtl(ttl_secs));
        }
        let claims = JWTClaims {
            issued_at: Some(UnixTimeStamp::from_secs(now)),
            expires_at: Some(UnixTimeStamp::from_secs(now + ttl_secs)),
            invalid_before: None,
            issuer: None,
            subject: None,
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: PlaybackClaims { hash: hash.as_str().to_owned() },
        };
        self.keys[0].jwt.authenticate(claims).map_err(|_| MintError::WeakSecret)
    }

    /// Mints a Vylux two-part token, for backends that still expect that form.
    pub fn mint_two_part(&self, hash: &MediaHash, expires_at: u64) -> String {
        // Field order is fixed as Vylux writes it: `hash`, then `exp`.
        let hash_json = serde_json::Value::String(hash.as_str().to_owned()).to_string();
        let payload = format!("{{\"hash\":{hash_json},\"exp\":{expires_at}}}");
        let payload_b64 = URL_SAFE_NO_PAD.encode(payload);
        let mut mac = self.keys[0].secret.mac();
        mac.update(payload_b64.as_bytes());
        let mac_b64 = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload_b64}.{mac_b64}")
    }

    /// Checks an `Authorization` header value for a valid token for `hash` at time `now`.
    ///
    /// A missing header, a scheme other than `Bearer ` (case-sensitive, one space) or an empty token
    /// is [`TokenError::Missing`]; anything wrong with a present token is [`TokenError::Invalid`].
    pub fn verify_authorization(
        &self,
        authorization: Option<&str>,
        hash: &str,
        now: u64,
    ) -> Result<VerifiedToken, TokenError> {
        let token = bearer_token(authorization).ok_or(TokenError::Missing)?;
        Ok(self.verify(token, hash, now)?)
    }

    /// Checks a token for `hash` at time `now` (Unix seconds).
    pub fn verify(&self, token: &str, hash: &str, now: u64) -> Result<VerifiedToken, InvalidToken> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::TooLong);
        }
        let verified = match token.split('.').count() {
            3 => self.verify_jwt(token, now)?,
            2 => self.verify_two_part(token, now)?,
            _ => return Err(InvalidToken::Malformed),
        };
        if verified.hash != hash {
            return Err(InvalidToken::HashMismatch);
        }
        Ok(verified)
    }

    fn verify_jwt(&self, token: &str, now: u64) -> Result<VerifiedToken, InvalidToken> {
        let metadata = Token::decode_metadata(token).map_err(|_| InvalidToken::Malformed)?;
        if metadata.algorithm() != "HS256" {
            return Err(InvalidToken::UnsupportedAlgorithm(printable_prefix(metadata.algorithm())));
        }
        let candidates: Vec<&TokenKey> = match metadata.key_id() {
            Some(kid) => {
                let key = self.keys.iter().find(|key| key.kid == kid).ok_or(InvalidToken::UnknownKeyId)?;
                vec![key]
            }
            None => self.keys.iter().collect(),
        };
        let options = VerificationOptions {
            time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(CLOCK_LEEWAY_SECS)),
            artificial_time: Some(UnixTimeStamp::from_secs(now)),
            max_token_length: Some(MAX_TOKEN_LEN),
            max_header_length: Some(MAX_TOKEN_LEN),
            ..VerificationOptions::default()
        };
        for key in candidates {
            match key.jwt.verify_token::<PlaybackClaims>(token, Some(options.clone())) {
                Ok(claims) => {
                    let expires_at = claims.expires_at.ok_or(InvalidToken::MissingExpiry)?.as_secs();
                    return Ok(VerifiedToken { hash: claims.custom.hash, expires_at });
                }
                Err(error) => match error.downcast_ref::<JWTError>() {
                    Some(JWTError::InvalidAuthenticationTag) => continue,
                    Some(JWTError::TokenHasExpired) => return Err(InvalidToken::Expired),
                    Some(JWTError::TokenNotValidYet | JWTError::ClockDrift) => {
                        return Err(InvalidToken::NotYetValid)
                    }
                    _ => return Err(InvalidToken::Malformed),
                },
            }
        }
        Err(InvalidToken::BadSignature)
    }

    fn verify_two_part(&self, token: &str, now: u64) -> Result<VerifiedToken, InvalidToken> {
        let (payload_b64, mac_b64) = token.split_once('.').ok_or(InvalidToken::Malformed)?;
        let mac_bytes = URL_SAFE_NO_PAD.decode(mac_b64).map_err(|_| InvalidToken::Malformed)?;
        let signed_by_any = self.keys.iter().any(|key| {
            let mut mac = key.secret.mac();
            mac.update(payload_b64.as_bytes());
            mac.verify_slice(&mac_bytes).is_ok()
        });
        if !signed_by_any {
            return Err(InvalidToken::BadSignature);
        }

        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| InvalidToken::Malformed)?;
        let payload: TwoPartPayload = serde_json::from_slice(&payload).map_err(|_| InvalidToken::Malformed)?;
        let now = i64::try_from(now).map_err(|_| InvalidToken::Malformed)?;
        let leeway = CLOCK_LEEWAY_SECS as i64;
        // The expiry second itself is still valid, as in Vylux.
        if now > payload.exp.saturating_add(leeway) {
            return Err(InvalidToken::Expired);
        }
        if let Some(not_before) = payload.nbf {
            if now.saturating_add(leeway) < not_before {
                return Err(InvalidToken::NotYetValid);
            }
        }
        let expires_at = u64::try_from(payload.exp).map_err(|_| InvalidToken::Expired)?;
        Ok(VerifiedToken { hash: payload.hash, expires_at })
    }
}

/// Extracts the token from an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let token = authorization?.strip_prefix("Bearer ")?;
    (!token.is_empty()).then_some(token)
}

/// Derives the `kid` of a secret: the first 16 hex digits of SHA-256 over a fixed label and the
/// secret. It identifies the secret without revealing anything useful about it.
pub fn key_id(secret: &Secret) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"vylux playback token kid\0");
    hasher.update(secret.expose());
    hex::encode(&hasher.finalize()[..8])
}

fn printable_prefix(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(16).collect()
}
