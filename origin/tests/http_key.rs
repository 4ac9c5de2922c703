//! The content-key endpoint `GET /api/key/{hash}` of `vylux serve` over HTTP.
//!
//! A known AES-128 key is wrapped with the server's KEK and stored in the job database before the
//! server starts, exactly as an encrypted transcode would leave it. The tests then ask for it with
//! playback tokens, good and bad. Each behaviour runs on local folders and on `s3s-fs`, because the
//! server is configured for one of them even though the key lives in the database.

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
#[macro_use]
mod server_support;

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use server_support::{header, Backend, Server, TestEnv, ENCRYPTION_KEY, KEY_TOKEN_SECRET};
use vylux_common::token::TokenKeys;
use vylux_common::{MediaHash, Secret};
use vylux_origin::keys::{ContentKeyBytes, KekSet};
use vylux_origin::store::{JobStore, StoreConfig};

/// Hash that has a stored content key.
const KEYED_HASH: &str = "movie-2026-04-01";
/// Hash without a content key.
const PLAIN_HASH: &str = "plain-2026-04-01";
const CONTENT_KEY: [u8; 16] =
    [0x3c, 0x91, 0x07, 0xe2, 0x55, 0xaa, 0x10, 0x6f, 0xd4, 0x28, 0xb1, 0x99, 0x0e, 0x7d, 0x42, 0xc8];
/// Requests one token may make per minute.
const KEY_RATE_LIMIT: usize = 120;

both_backends!(key_is_served_to_token_holders);
both_backends!(bad_tokens_are_rejected);
both_backends!(key_requests_are_rate_limited);
both_backends!(media_deletion_removes_key);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hash(text: &str) -> MediaHash {
    MediaHash::parse(text).unwrap()
}

fn token_keys(secret: &str) -> TokenKeys {
    TokenKeys::new(Secret::new(secret.as_bytes()), [])
}

/// Stores the wrapped [`CONTENT_KEY`] for [`KEYED_HASH`] in the environment's database, then
/// starts a server on it.
async fn start_with_key(env: &TestEnv) -> Server {
    let store = JobStore::open_in_data_dir(env.data_dir(), StoreConfig::default()).await.expect("open the job store");
    let keks = KekSet::from_config(Some(ENCRYPTION_KEY), None, None).expect("a valid KEK");
    let wrapped = keks.wrap(KEYED_HASH, &ContentKeyBytes::from_bytes(CONTENT_KEY)).expect("wrap the key");
    store
        .put_key(&hash(KEYED_HASH), &wrapped.ciphertext, &wrapped.nonce, &wrapped.kek_version)
        .await
        .expect("store the key");
    store.close().await;
    env.start(&[("MODE", "server")]).await
}

/// Changes the first character of a token's signature part.
fn tamper_signature(token: &str) -> String {
    let start = token.rfind('.').expect("a token with a signature part") + 1;
    let replacement = if token[start..].starts_with('A') { "B" } else { "A" };
    format!("{}{replacement}{}", &token[..start], &token[start + 1..])
}

async fn get_key(server: &Server, hash: &str, authorization: Option<&str>) -> reqwest::Response {
    let mut request = server.request(Method::GET, &format!("/api/key/{hash}"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// Checks a plain-text error of the key endpoint: status, reason phrase as body, and headers that
/// let a cross-origin player read it while keeping caches away.
async fn assert_plain_error(response: reqwest::Response, status: StatusCode, case: &str) {
    assert_eq!(response.status(), status, "{case}");
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"), "{case}");
    assert_eq!(header(&response, "cache-control"), Some("no-store"), "{case}");
    assert_eq!(header(&response, "content-type"), Some("text/plain; charset=utf-8"), "{case}");
    let expected = status.canonical_reason().unwrap();
    assert_eq!(response.text().await.unwrap(), expected, "{case}");
}

async fn key_is_served_to_token_holders(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let server = start_with_key(&env).await;
    let keys = token_keys(KEY_TOKEN_SECRET);

    let jwt = keys.mint(&hash(KEYED_HASH), now(), 300).expect("mint a JWT");
    let two_part = keys.mint_two_part(&hash(KEYED_HASH), now() + 300);
    for (form, token) in [("JWT", &jwt), ("two-part token", &two_part)] {
        let response = get_key(&server, KEYED_HASH, Some(&format!("Bearer {token}"))).await;
        assert_eq!(response.status(), StatusCode::OK, "{form}");
        assert_eq!(header(&response, "content-type"), Some("application/octet-stream"), "{form}");
        assert_eq!(header(&response, "cache-control"), Some("no-store"), "{form}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"), "{form}");
        assert_eq!(header(&response, "content-length"), Some("16"), "{form}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), CONTENT_KEY, "{form}");
    }

    // A valid token for a hash that has no key.
    let plain = keys.mint(&hash(PLAIN_HASH), now(), 300).unwrap();
    let response = get_key(&server, PLAIN_HASH, Some(&format!("Bearer {plain}"))).await;
    assert_plain_error(response, StatusCode::NOT_FOUND, "hash without a key").await;

    // A browser sends a preflight request before a cross-origin request with Authorization.
    let response = server
        .request(Method::OPTIONS, &format!("/api/key/{KEYED_HASH}"))
        .header("Origin", "https://player.example.test")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "preflight returned {}", response.status());
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    let allowed_headers = header(&response, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(
        allowed_headers.split(',').any(|name| name.trim() == "authorization"),
        "allowed headers: {allowed_headers:?}"
    );
    let allowed_methods = header(&response, "access-control-allow-methods").unwrap_or_default().to_owned();
    assert!(allowed_methods.split(',').any(|name| name.trim() == "GET"), "allowed methods: {allowed_methods:?}");

    // Neither tokens nor key bytes reach the log.
    let logs = server.logs().join("\n");
    for (name, secret) in
        [("JWT", jwt.as_str()), ("two-part token", two_part.as_str()), ("content key", &hex::encode(CONTENT_KEY))]
    {
        assert!(!logs.contains(secret), "the {name} appears in the logs");
    }
    let lines = server.request_logs();
    let line = lines
        .iter()
        .find(|line| line["path"] == format!("/api/key/{KEYED_HASH}"))
        .expect("a log line for the key request");
    assert_eq!(line["authorization"], true, "{line}");
    assert_eq!(line["status"], 200, "{line}");
}

async fn bad_tokens_are_rejected(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let server = start_with_key(&env).await;
    let keys = token_keys(KEY_TOKEN_SECRET);
    let valid = keys.mint(&hash(KEYED_HASH), now(), 300).unwrap();

    let unauthorized = [
        ("no Authorization header", None),
        ("empty Bearer token", Some("Bearer ".to_owned())),
        ("lower-case scheme", Some(format!("bearer {valid}"))),
        ("Basic scheme", Some("Basic dXNlcjpwYXNz".to_owned())),
        ("token without a scheme", Some(valid.clone())),
    ];
    for (case, authorization) in unauthorized {
        let response = get_key(&server, KEYED_HASH, authorization.as_deref()).await;
        assert_plain_error(response, StatusCode::UNAUTHORIZED, case).await;
    }

    let other_secret = token_keys("token-other-secret-ffeeddccbbaa998877665544");
    let forbidden = [
        ("malformed token", "invalid.token".to_owned()),
        ("expired JWT", keys.mint(&hash(KEYED_HASH), now() - 7200, 3600).unwrap()),
        ("expired two-part token", keys.mint_two_part(&hash(KEYED_HASH), now() - 3600)),
        ("JWT for another hash", keys.mint(&hash(PLAIN_HASH), now(), 300).unwrap()),
        ("two-part token for another hash", keys.mint_two_part(&hash(PLAIN_HASH), now() + 300)),
        ("JWT signed with another secret", other_secret.mint(&hash(KEYED_HASH), now(), 300).unwrap()),
        ("two-part token signed with another secret", other_secret.mint_two_part(&hash(KEYED_HASH), now() + 300)),
        ("JWT with a changed signature", tamper_signature(&valid)),
    ];
    for (case, token) in forbidden {
        let response = get_key(&server, KEYED_HASH, Some(&format!("Bearer {token}"))).await;
        assert_plain_error(response, StatusCode::FORBIDDEN, case).await;
    }

    // The API key is not a credential here.
    let response = server
        .request(Method::GET, &format!("/api/key/{KEYED_HASH}"))
        .header("X-API-Key", server_support::API_KEY)
        .send()
        .await
        .unwrap();
    assert_plain_error(response, StatusCode::UNAUTHORIZED, "X-API-Key instead of a token").await;

    // After all rejections the valid token still works.
    let response = get_key(&server, KEYED_HASH, Some(&format!("Bearer {valid}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), CONTENT_KEY);
}

async fn key_requests_are_rate_limited(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let server = start_with_key(&env).await;
    let keys = token_keys(KEY_TOKEN_SECRET);

    // The window is a calendar minute; start early in one so every request shares it.
    let second_of_minute = now() % 60;
    if second_of_minute > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second_of_minute)).await;
    }

    let token = keys.mint(&hash(KEYED_HASH), now(), 300).unwrap();
    let authorization = format!("Bearer {token}");
    for index in 0..KEY_RATE_LIMIT {
        let response = get_key(&server, KEYED_HASH, Some(&authorization)).await;
        assert_eq!(response.status(), StatusCode::OK, "request {} of one token", index + 1);
    }
    let response = get_key(&server, KEYED_HASH, Some(&authorization)).await;
    let retry_after: u64 = header(&response, "retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_plain_error(response, StatusCode::TOO_MANY_REQUESTS, "one request over the limit").await;

    // The limit counts per token, so another token is unaffected.
    let other = keys.mint_two_part(&hash(KEYED_HASH), now() + 300);
    let response = get_key(&server, KEYED_HASH, Some(&format!("Bearer {other}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn media_deletion_removes_key(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let server = start_with_key(&env).await;
    let token = token_keys(KEY_TOKEN_SECRET).mint(&hash(KEYED_HASH), now(), 300).unwrap();
    let authorization = format!("Bearer {token}");
    assert_eq!(get_key(&server, KEYED_HASH, Some(&authorization)).await.status(), StatusCode::OK);

    let response = server
        .request(Method::DELETE, &format!("/api/media/{KEYED_HASH}"))
        .header("X-API-Key", server_support::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let response = get_key(&server, KEYED_HASH, Some(&authorization)).await;
    assert_plain_error(response, StatusCode::NOT_FOUND, "key of deleted media").await;
}
