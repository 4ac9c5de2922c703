//! A table of hostile inputs, each of which must be rejected for its stated reason.
//!
//! The table covers path traversal in many spellings, signatures moved between endpoints, truncated
//! and upper-case signatures, tokens with other algorithms, tampered claims and expired tokens. The
//! same tests run natively and under wasm.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use vylux_common::image::{ImageError, ImageOptions, ImageSource};
use vylux_common::key::KeyError;
use vylux_common::layout::{resolve_stream_path, LayoutError};
use vylux_common::signing::{SignedPathError, UrlSigner};
use vylux_common::token::{InvalidToken, TokenError, TokenKeys, MAX_TOKEN_LEN};
use vylux_common::{MediaHash, ObjectKey, Secret};

const HMAC_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const TOKEN_SECRET: &str = "00112233445566778899aabbccddeeff";
const HASH: &str = "movie-2026-04-01";
const NOW: u64 = 1_800_000_000;

/// What a hostile input must be rejected with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    BadSignature,
    MalformedPath,
    DotSegment,
    EmptySegment,
    Backslash,
    ControlCharacter,
    InvalidEscape,
    NotUtf8,
    KeyTooLong,
    UnsupportedFormat,
    BadOptions,
    MissingToken,
    TokenMalformed,
    TokenTooLong,
    UnsupportedAlgorithm,
    UnknownKeyId,
    TokenBadSignature,
    MissingExpiry,
    Expired,
    NotYetValid,
    HashMismatch,
    InvalidStreamPath,
    UnsupportedFileType,
    InvalidHash,
}

enum Input {
    /// A request path for `/thumb`, `/original` or `/img`.
    SignedPath(String),
    /// An `Authorization` header value for a key request for [`HASH`], checked at [`NOW`].
    Authorization(Option<String>),
    /// The tail of a `/stream/` URL.
    StreamPath(String),
}

struct Case {
    description: &'static str,
    input: Input,
    reason: Reason,
}

fn signer() -> UrlSigner {
    UrlSigner::new(Secret::new(HMAC_SECRET))
}

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

fn token_keys() -> TokenKeys {
    TokenKeys::new(Secret::new(TOKEN_SECRET), [])
}

fn bearer(token: &str) -> Input {
    Input::Authorization(Some(format!("Bearer {token}")))
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// Builds a JWT with an arbitrary header and payload, signed with HMAC-SHA256 over `header.payload`.
fn forged_hs256(header: &str, payload: &str, secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn claims(hash: &str, issued_at: u64, expires_at: Option<u64>) -> JWTClaims<serde_json::Value> {
    JWTClaims {
        issued_at: Some(UnixTimeStamp::from_secs(issued_at)),
        expires_at: expires_at.map(UnixTimeStamp::from_secs),
        invalid_before: None,
        issuer: None,
        subject: None,
        audiences: None,
        jwt_id: None,
        nonce: None,
        custom: serde_json::json!({ "hash": hash }),
    }
}

fn replace_payload(token: &str, payload: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

fn cases() -> Vec<Case> {
    let cover = key("videos/mo/movie-2026-04-01/cover.jpg");
    let thumb_sig = signer().sign_thumb(&cover);
    let original_sig = signer().sign_original(&cover);
    let options = ImageOptions::parse("w300_h200_q80").unwrap();
    let source = ImageSource::parse("photos%2Fcat.jpg.webp").unwrap();
    let img_sig = signer().sign_img(&options, &source);
    let escaped = cover.escaped();

    let keys = token_keys();
    let hash = MediaHash::parse(HASH).unwrap();
    let valid_jwt = keys.mint(&hash, NOW, 300).unwrap();
    let expired_jwt = keys.mint(&hash, NOW - 3600, 300).unwrap();
    let future_jwt = keys.mint(&hash, NOW + 3600, 300).unwrap();
    let other_hash_jwt = keys.mint(&MediaHash::parse("other-movie").unwrap(), NOW, 300).unwrap();
    let kid = keys.current_kid().to_owned();

    let hs384 = HS384Key::from_bytes(TOKEN_SECRET.as_bytes()).authenticate(claims(HASH, NOW, Some(NOW + 300))).unwrap();
    let hs512 = HS512Key::from_bytes(TOKEN_SECRET.as_bytes()).authenticate(claims(HASH, NOW, Some(NOW + 300))).unwrap();
    let payload = format!(r#"{{"hash":"{HASH}","exp":{}}}"#, NOW + 300);
    let alg_none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&payload));
    let alg_rs256 = format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"RS256","typ":"JWT"}"#), b64(&payload));
    let alg_es256 = format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"ES256","typ":"JWT"}"#), b64(&payload));
    let alg_lower = forged_hs256(r#"{"alg":"hs256","typ":"JWT"}"#, &payload, TOKEN_SECRET);
    let unknown_kid = forged_hs256(r#"{"alg":"HS256","kid":"not-a-configured-kid"}"#, &payload, TOKEN_SECRET);
    let wrong_secret = forged_hs256(r#"{"alg":"HS256"}"#, &payload, "another-secret-of-sufficient-length");
    let no_exp = forged_hs256(r#"{"alg":"HS256"}"#, &format!(r#"{{"hash":"{HASH}"}}"#), TOKEN_SECRET);
    let no_hash = forged_hs256(r#"{"alg":"HS256"}"#, &format!(r#"{{"exp":{}}}"#, NOW + 300), TOKEN_SECRET);
    let not_before =
        forged_hs256(r#"{"alg":"HS256"}"#, &format!(r#"{{"hash":"{HASH}","exp":{},"nbf":{}}}"#, NOW + 7200, NOW + 3600), TOKEN_SECRET);
    let tampered_hash = replace_payload(&valid_jwt, &format!(r#"{{"hash":"other-movie","exp":{}}}"#, NOW + 300));
    let tampered_exp = replace_payload(&valid_jwt, &format!(r#"{{"hash":"{HASH}","exp":{}}}"#, NOW + 999_999));
    let kid_swapped = {
        let parts: Vec<&str> = valid_jwt.split('.').collect();
        format!("{}.{}.{}", b64(&format!(r#"{{"alg":"HS384","kid":"{kid}"}}"#)), parts[1], parts[2])
    };

    let two_part = keys.mint_two_part(&hash, NOW + 300);
    let two_part_expired = keys.mint_two_part(&hash, NOW - 3600);
    let two_part_tampered = {
        let (_, mac) = two_part.split_once('.').unwrap();
        format!("{}.{mac}", b64(&format!(r#"{{"hash":"{HASH}","exp":{}}}"#, NOW + 999_999)))
    };

    let long_key = "a/".repeat(600) + "x.jpg";
    let signed = |sig: &str, tail: &str| Input::SignedPath(format!("/thumb/{sig}/{tail}"));

    vec![
        // Path traversal and malformed keys, all rejected before any MAC is computed.
        Case { description: "dot-dot segment", input: signed(&thumb_sig, "videos/../../etc/passwd"), reason: Reason::DotSegment },
        Case { description: "encoded dot-dot", input: signed(&thumb_sig, "%2e%2e%2fetc%2fpasswd"), reason: Reason::DotSegment },
        Case { description: "upper-case encoded dot-dot", input: signed(&thumb_sig, "videos%2F%2E%2E%2Fsecret"), reason: Reason::DotSegment },
        Case { description: "mixed encoded dot-dot", input: signed(&thumb_sig, ".%2e/secret.jpg"), reason: Reason::DotSegment },
        Case { description: "single dot segment", input: signed(&thumb_sig, "videos/./cover.jpg"), reason: Reason::DotSegment },
        Case { description: "key that is only dot-dot", input: signed(&thumb_sig, ".."), reason: Reason::DotSegment },
        Case { description: "absolute path after decoding", input: signed(&thumb_sig, "%2Fetc%2Fpasswd"), reason: Reason::EmptySegment },
        Case { description: "two leading slashes", input: signed(&thumb_sig, "//etc/passwd"), reason: Reason::EmptySegment },
        Case { description: "empty middle segment", input: signed(&thumb_sig, "videos//cover.jpg"), reason: Reason::EmptySegment },
        Case { description: "trailing slash", input: signed(&thumb_sig, "videos/mo/"), reason: Reason::EmptySegment },
        Case { description: "encoded backslash traversal", input: signed(&thumb_sig, "..%5c..%5cwindows"), reason: Reason::Backslash },
        Case { description: "raw backslash", input: signed(&thumb_sig, "videos\\cover.jpg"), reason: Reason::Backslash },
        Case { description: "encoded NUL", input: signed(&thumb_sig, "cover.jpg%00.png"), reason: Reason::ControlCharacter },
        Case { description: "encoded newline", input: signed(&thumb_sig, "cover%0a.jpg"), reason: Reason::ControlCharacter },
        Case { description: "encoded DEL", input: signed(&thumb_sig, "cover%7f.jpg"), reason: Reason::ControlCharacter },
        Case { description: "overlong UTF-8 dot-dot", input: signed(&thumb_sig, "%c0%ae%c0%ae/etc"), reason: Reason::NotUtf8 },
        Case { description: "non-hex escape", input: signed(&thumb_sig, "cover%zz.jpg"), reason: Reason::InvalidEscape },
        Case { description: "truncated escape", input: signed(&thumb_sig, "cover.jpg%2"), reason: Reason::InvalidEscape },
        Case { description: "key over the length limit", input: signed(&thumb_sig, &long_key), reason: Reason::KeyTooLong },
        Case { description: "original with traversal", input: Input::SignedPath(format!("/original/{original_sig}/uploads%2F..%2F..%2Fdata")), reason: Reason::DotSegment },
        // Signatures: wrong, moved, truncated, re-cased or missing.
        Case { description: "original signature on thumb", input: signed(&original_sig, &escaped), reason: Reason::BadSignature },
        Case { description: "thumb signature on original", input: Input::SignedPath(format!("/original/{thumb_sig}/{escaped}")), reason: Reason::BadSignature },
        Case { description: "img signature on thumb", input: signed(&img_sig, "photos%2Fcat.jpg"), reason: Reason::BadSignature },
        Case { description: "thumb signature on img", input: Input::SignedPath(format!("/img/{thumb_sig}/w300_h200_q80/{escaped}.webp")), reason: Reason::BadSignature },
        Case { description: "truncated signature", input: signed(&thumb_sig[..63], &escaped), reason: Reason::BadSignature },
        Case { description: "half signature", input: signed(&thumb_sig[..32], &escaped), reason: Reason::BadSignature },
        Case { description: "upper-case signature", input: signed(&thumb_sig.to_uppercase(), &escaped), reason: Reason::BadSignature },
        Case { description: "signature with extra digit", input: signed(&format!("{thumb_sig}0"), &escaped), reason: Reason::BadSignature },
        Case { description: "signature for another key", input: signed(&thumb_sig, "videos%2Fmo%2Fother%2Fcover.jpg"), reason: Reason::BadSignature },
        Case { description: "non-hex signature", input: signed(&"zz".repeat(32), &escaped), reason: Reason::BadSignature },
        Case { description: "missing signature", input: Input::SignedPath(format!("/thumb//{escaped}")), reason: Reason::MalformedPath },
        Case { description: "missing key", input: Input::SignedPath(format!("/thumb/{thumb_sig}/")), reason: Reason::MalformedPath },
        Case { description: "img with changed width", input: Input::SignedPath(format!("/img/{img_sig}/w400_h200_q80/photos%2Fcat.jpg.webp")), reason: Reason::BadSignature },
        Case { description: "img with changed format", input: Input::SignedPath(format!("/img/{img_sig}/w300_h200_q80/photos%2Fcat.jpg.png")), reason: Reason::BadSignature },
        Case { description: "img with dropped quality", input: Input::SignedPath(format!("/img/{img_sig}/w300_h200/photos%2Fcat.jpg.webp")), reason: Reason::BadSignature },
        Case { description: "img unsupported format", input: Input::SignedPath(format!("/img/{img_sig}/w300/photos%2Fcat.jpg.bmp")), reason: Reason::UnsupportedFormat },
        Case { description: "img unknown option", input: Input::SignedPath(format!("/img/{img_sig}/x100/photos%2Fcat.jpg.webp")), reason: Reason::BadOptions },
        Case { description: "img quality out of range", input: Input::SignedPath(format!("/img/{img_sig}/q101/photos%2Fcat.jpg.webp")), reason: Reason::BadOptions },
        Case { description: "img traversal in source", input: Input::SignedPath(format!("/img/{img_sig}/w300/..%2F..%2Fetc%2Fpasswd.webp")), reason: Reason::DotSegment },
        // Tokens.
        Case { description: "no authorization header", input: Input::Authorization(None), reason: Reason::MissingToken },
        Case { description: "lower-case bearer scheme", input: Input::Authorization(Some(format!("bearer {valid_jwt}"))), reason: Reason::MissingToken },
        Case { description: "basic scheme", input: Input::Authorization(Some("Basic dXNlcjpwYXNz".to_owned())), reason: Reason::MissingToken },
        Case { description: "empty bearer token", input: Input::Authorization(Some("Bearer ".to_owned())), reason: Reason::MissingToken },
        Case { description: "alg none", input: bearer(&alg_none), reason: Reason::UnsupportedAlgorithm },
        Case { description: "alg HS384", input: bearer(&hs384), reason: Reason::UnsupportedAlgorithm },
        Case { description: "alg HS512", input: bearer(&hs512), reason: Reason::UnsupportedAlgorithm },
        Case { description: "alg RS256", input: bearer(&alg_rs256), reason: Reason::UnsupportedAlgorithm },
        Case { description: "alg ES256", input: bearer(&alg_es256), reason: Reason::UnsupportedAlgorithm },
        Case { description: "alg in lower case", input: bearer(&alg_lower), reason: Reason::UnsupportedAlgorithm },
        Case { description: "header alg swapped to HS384", input: bearer(&kid_swapped), reason: Reason::UnsupportedAlgorithm },
        Case { description: "unknown kid", input: bearer(&unknown_kid), reason: Reason::UnknownKeyId },
        Case { description: "signed with another secret", input: bearer(&wrong_secret), reason: Reason::TokenBadSignature },
        Case { description: "tampered hash claim", input: bearer(&tampered_hash), reason: Reason::TokenBadSignature },
        Case { description: "tampered exp claim", input: bearer(&tampered_exp), reason: Reason::TokenBadSignature },
        Case { description: "expired JWT", input: bearer(&expired_jwt), reason: Reason::Expired },
        Case { description: "JWT issued in the future", input: bearer(&future_jwt), reason: Reason::NotYetValid },
        Case { description: "JWT with future nbf", input: bearer(&not_before), reason: Reason::NotYetValid },
        Case { description: "JWT without exp", input: bearer(&no_exp), reason: Reason::MissingExpiry },
        Case { description: "JWT without hash", input: bearer(&no_hash), reason: Reason::TokenMalformed },
        Case { description: "JWT for another hash", input: bearer(&other_hash_jwt), reason: Reason::HashMismatch },
        Case { description: "JWT without signature", input: bearer(&format!("{}.", valid_jwt.rsplit_once('.').unwrap().0)), reason: Reason::TokenBadSignature },
        Case { description: "four-part token", input: bearer(&format!("{valid_jwt}.extra")), reason: Reason::TokenMalformed },
        Case { description: "one-part token", input: bearer("justonepart"), reason: Reason::TokenMalformed },
        Case { description: "oversized token", input: bearer(&"a.".repeat(MAX_TOKEN_LEN)), reason: Reason::TokenTooLong },
        Case { description: "two-part token expired", input: bearer(&two_part_expired), reason: Reason::Expired },
        Case { description: "two-part token tampered", input: bearer(&two_part_tampered), reason: Reason::TokenBadSignature },
        Case { description: "two-part token with padding", input: bearer(&format!("{two_part}=")), reason: Reason::TokenMalformed },
        Case { description: "two-part token bad base64", input: bearer("!!!.???"), reason: Reason::TokenMalformed },
        // Stream paths.
        Case { description: "stream dot-dot", input: Input::StreamPath("abcdef1234567890/../secret.m3u8".to_owned()), reason: Reason::InvalidStreamPath },
        Case { description: "stream encoded dot-dot", input: Input::StreamPath("abcdef1234567890/%2e%2e/x.m3u8".to_owned()), reason: Reason::InvalidStreamPath },
        Case { description: "stream dot-dot inside a name", input: Input::StreamPath("abc/video/..m3u8".to_owned()), reason: Reason::InvalidStreamPath },
        Case { description: "stream backslash", input: Input::StreamPath("abc/video%5c..%5cx.m3u8".to_owned()), reason: Reason::InvalidStreamPath },
        Case { description: "stream NUL", input: Input::StreamPath("abc/x.m3u8%00".to_owned()), reason: Reason::InvalidStreamPath },
        Case { description: "stream hash traversal", input: Input::StreamPath("..%2f..%2fetc/x.m3u8".to_owned()), reason: Reason::InvalidHash },
        Case { description: "stream text file", input: Input::StreamPath("abc/notes.txt".to_owned()), reason: Reason::UnsupportedFileType },
        Case { description: "stream key file", input: Input::StreamPath("abc/key.bin".to_owned()), reason: Reason::UnsupportedFileType },
    ]
}

fn reason_of_signed_path(error: &SignedPathError) -> Reason {
    match error {
        SignedPathError::BadSignature => Reason::BadSignature,
        SignedPathError::Malformed(_) => Reason::MalformedPath,
        SignedPathError::Key(key_error) | SignedPathError::Image(ImageError::Source(key_error)) => match key_error {
            KeyError::DotSegment(_) => Reason::DotSegment,
            KeyError::EmptySegment(_) | KeyError::Empty => Reason::EmptySegment,
            KeyError::Backslash(_) => Reason::Backslash,
            KeyError::ControlCharacter(_) => Reason::ControlCharacter,
            KeyError::InvalidEscape(_) => Reason::InvalidEscape,
            KeyError::NotUtf8(_) => Reason::NotUtf8,
            KeyError::TooLong(_) => Reason::KeyTooLong,
            other => panic!("unexpected key error {other:?}"),
        },
        SignedPathError::Image(ImageError::UnsupportedFormat(_) | ImageError::MissingFormat(_)) => Reason::UnsupportedFormat,
        SignedPathError::Image(_) => Reason::BadOptions,
        other => panic!("unexpected error {other:?}"),
    }
}

fn reason_of_token(error: &TokenError) -> Reason {
    match error {
        TokenError::Missing => Reason::MissingToken,
        TokenError::Invalid(invalid) => match invalid {
            InvalidToken::TooLong => Reason::TokenTooLong,
            InvalidToken::Malformed => Reason::TokenMalformed,
            InvalidToken::UnsupportedAlgorithm(_) => Reason::UnsupportedAlgorithm,
            InvalidToken::UnknownKeyId => Reason::UnknownKeyId,
            InvalidToken::BadSignature => Reason::TokenBadSignature,
            InvalidToken::MissingExpiry => Reason::MissingExpiry,
            InvalidToken::Expired => Reason::Expired,
            InvalidToken::NotYetValid => Reason::NotYetValid,
            InvalidToken::HashMismatch => Reason::HashMismatch,
            other => panic!("unexpected token error {other:?}"),
        },
    }
}

fn reason_of_stream(error: &LayoutError) -> Reason {
    match error {
        LayoutError::InvalidPath(_) => Reason::InvalidStreamPath,
        LayoutError::UnsupportedFileType(_) => Reason::UnsupportedFileType,
        LayoutError::InvalidHash(_) | LayoutError::EmptyHash => Reason::InvalidHash,
        other => panic!("unexpected layout error {other:?}"),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_hostile_input_is_rejected() {
    let cases = cases();
    assert!(cases.len() >= 40, "the table must hold at least 40 cases, it has {}", cases.len());
    let keys = token_keys();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = match &case.input {
            Input::SignedPath(path) => signer().verify_path(path).map(|_| ()).map_err(|error| reason_of_signed_path(&error)),
            Input::Authorization(header) => {
                keys.verify_authorization(header.as_deref(), HASH, NOW).map(|_| ()).map_err(|error| reason_of_token(&error))
            }
            Input::StreamPath(path) => resolve_stream_path(path).map(|_| ()).map_err(|error| reason_of_stream(&error)),
        };
        match outcome {
            Err(reason) if reason == case.reason => {}
            Err(reason) => failures.push(format!("{}: rejected as {reason:?}, expected {:?}", case.description, case.reason)),
            Ok(()) => failures.push(format!("{}: accepted, expected {:?}", case.description, case.reason)),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn controls_are_accepted() {
    // The table above is only meaningful if the unmodified inputs pass.
    let cover = key("videos/mo/movie-2026-04-01/cover.jpg");
    assert!(signer().verify_path(&signer().thumb_path(&cover)).is_ok());
    assert!(signer().verify_path(&signer().original_path(&cover)).is_ok());
    let options = ImageOptions::parse("w300_h200_q80").unwrap();
    let source = ImageSource::parse("photos%2Fcat.jpg.webp").unwrap();
    assert!(signer().verify_path(&signer().img_path(&options, &source)).is_ok());

    let keys = token_keys();
    let hash = MediaHash::parse(HASH).unwrap();
    let jwt = keys.mint(&hash, NOW, 300).unwrap();
    assert!(keys.verify_authorization(Some(&format!("Bearer {jwt}")), HASH, NOW).is_ok());
    // Within the clock leeway on both sides.
    assert!(keys.verify(&jwt, HASH, NOW + 300 + 29).is_ok());
    assert!(keys.verify(&keys.mint(&hash, NOW + 20, 300).unwrap(), HASH, NOW).is_ok());
    let two_part = keys.mint_two_part(&hash, NOW + 300);
    assert!(keys.verify_authorization(Some(&format!("Bearer {two_part}")), HASH, NOW).is_ok());

    assert!(resolve_stream_path("abcdef1234567890/video/r720_h264/seg_1.m4s").is_ok());
    // `%252e` decodes once to the literal text `%2e`, which is a harmless file name.
    let literal = ObjectKey::from_url_path("videos/%252e%252e/cover.jpg").unwrap();
    assert_eq!(literal.as_str(), "videos/%2e%2e/cover.jpg");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn errors_never_echo_tokens() {
    let keys = token_keys();
    let hash = MediaHash::parse(HASH).unwrap();
    let expired = keys.mint(&hash, NOW - 3600, 300).unwrap();
    let error = keys.verify(&expired, HASH, NOW).unwrap_err();
    let message = error.to_string();
    assert!(!message.contains(&expired));
    for part in expired.split('.') {
        assert!(!message.contains(part), "message {message:?} contains part of the token");
    }
}
