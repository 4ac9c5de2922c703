//! Webhook signatures: `X-Signature: sha256=<hex>` over the exact body bytes.

use crate::secret::{verify_hex_mac, Secret};

/// Name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

const SCHEME_PREFIX: &str = "sha256=";

/// Returns the `X-Signature` header value for `body`, signed with `WEBHOOK_SECRET`.
pub fn sign_webhook(secret: &Secret, body: &[u8]) -> String {
    format!("{SCHEME_PREFIX}{}", secret.hmac_hex(body))
}

/// Checks an `X-Signature` header value against the exact body bytes in constant time.
///
/// The value must be `sha256=` followed by 64 lower-case hex digits.
pub fn verify_webhook(secret: &Secret, body: &[u8], header: &str) -> bool {
    match header.strip_prefix(SCHEME_PREFIX) {
        Some(signature) => verify_hex_mac(secret, body, signature),
        None => false,
    }
}
