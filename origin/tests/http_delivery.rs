//! Delivery routes of `vylux serve` over HTTP: `/thumb`, `/original` and `/stream`.
//!
//! Each behaviour runs against local bucket folders and against `s3s-fs`. Objects are placed the way
//! a deployment would place them (files under `$DATA_DIR/media`, or uploads through the S3 API), and
//! the server is the real binary. The S3 variants print a notice and pass when `s3s-fs` is missing.

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
#[macro_use]
mod server_support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server_support::{header, json_response, patterned_bytes, raw_request, signer, Backend, Server, TestEnv};
use vylux_common::ObjectKey;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const HASH: &str = "abcdef1234567890";
const THUMB_KEY: &str = "images/ab/abcdef1234567890/thumb.png";
const COVER_KEY: &str = "videos/ab/abcdef1234567890/cover.jpg";
const ORIGINAL_KEY: &str = "uploads/demo/sample image.png";
/// Content of a file placed next to the buckets, which no request may reach.
const SECRET_CONTENT: &str = "#EXTM3U outside-the-buckets";

both_backends!(thumb_serves_media_objects);
both_backends!(thumb_rejects_bad_signatures);
both_backends!(original_serves_source_objects);
both_backends!(stream_serves_hls_objects);
both_backends!(head_requests);
both_backends!(range_requests);
both_backends!(conditional_requests);
both_backends!(traversal_is_rejected);
both_backends!(unusual_objects);

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

/// Bytes of a fixture when the fixtures folder is present, else patterned bytes: delivery does
/// not look inside objects, so the tests need not skip without fixtures.
fn media_bytes(fixture: &str, fallback_len: usize, seed: u32) -> Vec<u8> {
    let folder = server_support::fixtures_dir();
    folder
        .and_then(|folder| std::fs::read(folder.join(fixture)).ok())
        .unwrap_or_else(|| patterned_bytes(fallback_len, seed))
}

/// Starts an environment and a server with the delivery objects in place; `None` when the backend
/// is unavailable.
async fn setup(backend: Backend) -> Option<(TestEnv, Server, Objects)> {
    let env = TestEnv::new(backend)?;
    let objects = Objects {
        thumb: media_bytes("png-rgba-alpha.png", 26_000, 1),
        cover: media_bytes("phone-iphone6s-jpeg-600x800.jpg", 40_000, 2),
        original: media_bytes("png-palette-8bit.png", 9_000, 3),
        playlist: b"#EXTM3U\n#EXT-X-VERSION:7\n\
            #EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nvideo/r360_h264/playlist.m3u8\n"
            .to_vec(),
        segment: patterned_bytes(70_000, 4),
        init: patterned_bytes(1_200, 5),
    };
    env.put_media(THUMB_KEY, &objects.thumb).await;
    env.put_media(COVER_KEY, &objects.cover).await;
    env.put_source(ORIGINAL_KEY, &objects.original).await;
    env.put_media(&format!("videos/ab/{HASH}/master.m3u8"), &objects.playlist).await;
    env.put_media(&format!("videos/ab/{HASH}/video/r360_h264/seg_1.m4s"), &objects.segment).await;
    env.put_media(&format!("videos/ab/{HASH}/video/r360_h264/init.mp4"), &objects.init).await;
    // An object whose extension `/stream` does not serve, to prove the whitelist rejects it.
    env.put_media(&format!("videos/ab/{HASH}/notes.txt"), b"not for streaming").await;
    let server = env.start(&[("MODE", "server")]).await;
    Some((env, server, objects))
}

struct Objects {
    thumb: Vec<u8>,
    cover: Vec<u8>,
    original: Vec<u8>,
    playlist: Vec<u8>,
    segment: Vec<u8>,
    init: Vec<u8>,
}

/// Checks the headers every successful delivery carries.
fn assert_success_headers(response: &reqwest::Response, content_type: &str, length: usize) {
    let url = response.url().path().to_owned();
    assert_eq!(header(response, "content-type"), Some(content_type), "{url}");
    assert_eq!(header(response, "cache-control"), Some(IMMUTABLE), "{url}");
    assert_eq!(header(response, "access-control-allow-origin"), Some("*"), "{url}");
    assert_eq!(header(response, "accept-ranges"), Some("bytes"), "{url}");
    assert_eq!(header(response, "vary"), Some("Accept"), "{url}");
    assert_eq!(header(response, "content-length"), Some(length.to_string().as_str()), "{url}");
    let etag = header(response, "etag").unwrap_or_else(|| panic!("{url}: no ETag"));
    assert!(etag.len() > 2, "{url}: ETag {etag:?} is empty");
    assert!(etag.starts_with('"'), "{url}: ETag {etag:?} is not a strong tag");
    assert!(etag.ends_with('"'), "{url}: ETag {etag:?} is not quoted");
}

/// Checks an error response: status, JSON `{"message": ...}` body, and headers that keep caches away.
async fn assert_error(response: reqwest::Response, status: StatusCode, message: &str) {
    let url = response.url().path().to_owned();
    assert_eq!(response.status(), status, "{url}");
    assert_eq!(header(&response, "cache-control"), Some("no-store"), "{url}");
    assert_eq!(header(&response, "vary"), None, "{url}: an error must not carry Vary");
    assert_eq!(header(&response, "content-type"), Some("application/json"), "{url}");
    let (_, body) = json_response(response).await;
    assert_eq!(body, json!({ "message": message }), "{url}");
}

async fn thumb_serves_media_objects(backend: Backend) {
    let Some((_env, server, objects)) = setup(backend).await else { return };
    let signer = signer();

    // The key escaped as one path segment, as backends build it.
    let escaped = signer.thumb_path(&key(THUMB_KEY));
    assert!(escaped.contains("images%2Fab%2F"), "{escaped}");
    let response = server.get(&escaped).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_success_headers(&response, "image/png", objects.thumb.len());
    assert_eq!(response.bytes().await.unwrap(), objects.thumb);

    // The same signature also verifies for the unescaped spelling of the key.
    let plain = format!("/thumb/{}/{THUMB_KEY}", signer.sign_thumb(&key(THUMB_KEY)));
    let response = server.get(&plain).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), objects.thumb);

    let response = server.get(&signer.thumb_path(&key(COVER_KEY))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_success_headers(&response, "image/jpeg", objects.cover.len());
    assert_eq!(response.bytes().await.unwrap(), objects.cover);
}

async fn thumb_rejects_bad_signatures(backend: Backend) {
    let Some((_env, server, _objects)) = setup(backend).await else { return };
    let signer = signer();

    let response = server.get("/thumb/bad-signature/images%2Fab%2Fabc%2Fthumb.png").await;
    assert_error(response, StatusCode::FORBIDDEN, "invalid signature").await;

    // An /original signature for the same key must not open /thumb, and the other way round.
    let original_signature = signer.sign_original(&key(THUMB_KEY));
    let response = server.get(&format!("/thumb/{original_signature}/{}", key(THUMB_KEY).escaped())).await;
    assert_error(response, StatusCode::FORBIDDEN, "invalid signature").await;
    let thumb_signature = signer.sign_thumb(&key(ORIGINAL_KEY));
    let response = server.get(&format!("/original/{thumb_signature}/{}", key(ORIGINAL_KEY).escaped())).await;
    assert_error(response, StatusCode::FORBIDDEN, "invalid signature").await;

    // A signature moved to another key.
    let moved = format!("/thumb/{}/{}", signer.sign_thumb(&key(THUMB_KEY)), key(COVER_KEY).escaped());
    assert_error(server.get(&moved).await, StatusCode::FORBIDDEN, "invalid signature").await;

    // Signatures are lower-case hex; the upper-case spelling of a valid one is rejected.
    let upper =
        format!("/thumb/{}/{}", signer.sign_thumb(&key(THUMB_KEY)).to_ascii_uppercase(), key(THUMB_KEY).escaped());
    assert_error(server.get(&upper).await, StatusCode::FORBIDDEN, "invalid signature").await;

    // A correctly signed key with no object behind it.
    let missing = signer.thumb_path(&key("images/ab/abcdef1234567890/missing.png"));
    assert_error(server.get(&missing).await, StatusCode::NOT_FOUND, "not found").await;
}

async fn original_serves_source_objects(backend: Backend) {
    let Some((_env, server, objects)) = setup(backend).await else { return };
    let signer = signer();

    let path = signer.original_path(&key(ORIGINAL_KEY));
    assert!(path.ends_with("/uploads%2Fdemo%2Fsample%20image.png"), "{path}");
    let response = server.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_success_headers(&response, "image/png", objects.original.len());
    assert_eq!(response.bytes().await.unwrap(), objects.original);

    // /original reads the source bucket only: a media-bucket key signed for /original is missing.
    let response = server.get(&signer.original_path(&key(THUMB_KEY))).await;
    assert_error(response, StatusCode::NOT_FOUND, "not found").await;

    let response = server.get("/original/bad-signature/uploads%2Fdemo%2Fsample.png").await;
    assert_error(response, StatusCode::FORBIDDEN, "invalid signature").await;
    let response = server.get(&signer.original_path(&key("uploads/demo/missing.png"))).await;
    assert_error(response, StatusCode::NOT_FOUND, "not found").await;
}

async fn stream_serves_hls_objects(backend: Backend) {
    let Some((_env, server, objects)) = setup(backend).await else { return };

    let cases: [(&str, &str, &Vec<u8>); 4] = [
        ("master.m3u8", "application/vnd.apple.mpegurl", &objects.playlist),
        ("video/r360_h264/seg_1.m4s", "video/iso.segment", &objects.segment),
        ("video/r360_h264/init.mp4", "video/mp4", &objects.init),
        ("cover.jpg", "image/jpeg", &objects.cover),
    ];
    for (path, content_type, bytes) in cases {
        let response = server.get(&format!("/stream/{HASH}/{path}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_success_headers(&response, content_type, bytes.len());
        assert_eq!(response.bytes().await.unwrap(), bytes.as_slice(), "{path}");
    }

    let response = server.get(&format!("/stream/{HASH}/notes.txt")).await;
    assert_error(response, StatusCode::BAD_REQUEST, "unsupported file type").await;
    let response = server.get(&format!("/stream/{HASH}/missing.m3u8")).await;
    assert_error(response, StatusCode::NOT_FOUND, "not found").await;
    let response = server.get("/stream/otherhash/master.m3u8").await;
    assert_error(response, StatusCode::NOT_FOUND, "not found").await;

    // `..` must reach the server unnormalized, so this request is written by hand.
    let raw = raw_request(server.port, "GET", &format!("/stream/{HASH}/../secret.m3u8"), &[]);
    assert_eq!(raw.status, 400, "{}", raw.body_text());
    assert_eq!(raw.header("cache-control"), Some("no-store"));
    assert_eq!(serde_json::from_slice::<Value>(&raw.body).unwrap(), json!({"message": "invalid path"}));
}

async fn head_requests(backend: Backend) {
    let Some((_env, server, objects)) = setup(backend).await else { return };
    let signer = signer();

    let cases = [
        (signer.thumb_path(&key(THUMB_KEY)), "image/png", objects.thumb.len()),
        (signer.original_path(&key(ORIGINAL_KEY)), "image/png", objects.original.len()),
        (format!("/stream/{HASH}/video/r360_h264/seg_1.m4s"), "video/iso.segment", objects.segment.len()),
    ];
    for (path, content_type, length) in cases {
        let get = server.get(&path).await;
        let get_etag = header(&get, "etag").map(str::to_owned);
        let response = server.request(Method::HEAD, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_success_headers(&response, content_type, length);
        assert_eq!(header(&response, "etag").map(str::to_owned), get_etag, "{path}: HEAD and GET differ in ETag");
        assert!(response.bytes().await.unwrap().is_empty(), "{path}: HEAD returned a body");
    }

    let response =
        server.request(Method::HEAD, &signer.thumb_path(&key("images/ab/x/missing.png"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert!(response.bytes().await.unwrap().is_empty());
}

async fn range_requests(backend: Backend) {
    let Some((_env, server, objects)) = setup(backend).await else { return };
    let size = objects.segment.len();
    let path = format!("/stream/{HASH}/video/r360_h264/seg_1.m4s");
    let ranged = |range: String| {
        let request = server.request(Method::GET, &path).header("Range", range);
        async move { request.send().await.unwrap() }
    };

    // (Range header, first byte, last byte) of satisfiable single ranges.
    let cases = [
        ("bytes=10-19".to_owned(), 10, 19),
        ("bytes=0-0".to_owned(), 0, 0),
        (format!("bytes={}-", size - 100), size - 100, size - 1),
        ("bytes=-7".to_owned(), size - 7, size - 1),
        (format!("bytes=1000-{}", size + 5000), 1000, size - 1),
    ];
    for (range, first, last) in cases {
        let response = ranged(range.clone()).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let expected_range = format!("bytes {first}-{last}/{size}");
        assert_eq!(header(&response, "content-range"), Some(expected_range.as_str()), "{range}");
        assert_success_headers(&response, "video/iso.segment", last - first + 1);
        assert_eq!(response.bytes().await.unwrap(), &objects.segment[first..=last], "{range}");
    }

    // A range that starts past the end cannot be satisfied.
    let response = ranged(format!("bytes={size}-")).await;
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let unsatisfiable = format!("bytes */{size}");
    assert_eq!(header(&response, "content-range"), Some(unsatisfiable.as_str()));
    assert_eq!(header(&response, "accept-ranges"), Some("bytes"));
    assert_error(response, StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable").await;

    // Headers the server may ignore (several ranges, another unit, nonsense) yield the whole object.
    for range in ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=abc"] {
        let response = ranged(range.to_owned()).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert_eq!(header(&response, "content-range"), None, "{range}");
        assert_eq!(response.bytes().await.unwrap(), objects.segment, "{range}");
    }

    // Ranges work on the signed routes too.
    let thumb = signer().thumb_path(&key(THUMB_KEY));
    let response = server.request(Method::GET, &thumb).header("Range", "bytes=0-7").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap(), &objects.thumb[..8]);
}

async fn conditional_requests(backend: Backend) {
    let Some((env, server, objects)) = setup(backend).await else { return };
    let path = signer().thumb_path(&key(COVER_KEY));

    let first = server.get(&path).await;
    let etag = header(&first, "etag").expect("an ETag").to_owned();
    let again = server.get(&path).await;
    assert_eq!(header(&again, "etag"), Some(etag.as_str()), "the ETag of an unchanged object must be stable");

    for if_none_match in [etag.clone(), format!("\"other\", {etag}"), format!("W/{etag}"), "*".to_owned()] {
        let response = server.request(Method::GET, &path).header("If-None-Match", &if_none_match).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "If-None-Match: {if_none_match}");
        assert_eq!(header(&response, "etag"), Some(etag.as_str()));
        assert_eq!(header(&response, "cache-control"), Some(IMMUTABLE));
        assert!(response.bytes().await.unwrap().is_empty());
    }

    let response =
        server.request(Method::GET, &path).header("If-None-Match", "\"something-else\"").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), objects.cover);

    // Replacing the object changes its ETag, so the old tag no longer matches.
    let mut replaced = objects.cover.clone();
    replaced.extend_from_slice(b"appended");
    env.put_media(COVER_KEY, &replaced).await;
    let response = server.request(Method::GET, &path).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(&response, "etag"), Some(etag.as_str()));
    assert_eq!(response.bytes().await.unwrap(), replaced);
}

async fn traversal_is_rejected(backend: Backend) {
    let Some((env, server, _objects)) = setup(backend).await else { return };
    // A file outside the buckets that a traversal would reach on local storage.
    std::fs::write(env.data_dir().join("secret.m3u8"), SECRET_CONTENT).unwrap();
    let signer = signer();
    let valid_signature = signer.sign_thumb(&key(THUMB_KEY));

    let targets = [
        format!("/stream/{HASH}/../secret.m3u8"),
        format!("/stream/{HASH}/%2e%2e/secret.m3u8"),
        format!("/stream/{HASH}/..%2Fsecret.m3u8"),
        format!("/stream/{HASH}/..%5Csecret.m3u8"),
        format!("/stream/{HASH}/video/..%2F..%2F..%2F..%2Fsecret.m3u8"),
        "/stream/..%2F..%2Fsecret/master.m3u8".to_owned(),
        "/stream/%2e%2e/master.m3u8".to_owned(),
        format!("/thumb/{valid_signature}/..%2F..%2Fvylux.db"),
        format!("/thumb/{valid_signature}/images%2F..%2F..%2Fsecret.m3u8"),
        format!("/thumb/{valid_signature}/%2e%2e%2fsecret.m3u8"),
        format!("/thumb/{valid_signature}/images%5C..%5Csecret.m3u8"),
        format!("/thumb/{valid_signature}/images/../../secret.m3u8"),
        format!("/original/{valid_signature}/..%2Fmedia%2F{}", key(THUMB_KEY).escaped()),
        format!("/original/{valid_signature}/%2e%2e/secret.m3u8"),
        format!("/img/{valid_signature}/w100/..%2F..%2Fsecret.m3u8.webp"),
        "/api/jobs/..%2F..%2Fsecret/retry".to_owned(),
        "/api/media/..%2F..%2Fsecret".to_owned(),
        "/api/jobs/..%2F..%2Fsecret".to_owned(),
        "/api/key/..%2F..%2Fsecret".to_owned(),
    ];
    let with_key = [("X-API-Key", server_support::API_KEY)];
    for target in &targets {
        let method = match target.as_str() {
            media if media.starts_with("/api/media/") => "DELETE",
            retry if retry.ends_with("/retry") => "POST",
            _ => "GET",
        };
        for headers in [&with_key[..], &[][..]] {
            let response = raw_request(server.port, method, target, headers);
            let text = response.body_text();
            assert!((400..500).contains(&response.status), "{method} {target} answered {}: {text}", response.status);
            assert!(!text.contains(SECRET_CONTENT), "{method} {target} served a file outside the buckets");
            assert_eq!(response.header("cache-control"), Some("no-store"), "{method} {target}");
        }
    }

    // A backslash in the raw request line is rejected too (by the server or the HTTP parser).
    let response = raw_request(server.port, "GET", &format!("/stream/{HASH}/..\\secret.m3u8"), &[]);
    assert!((400..500).contains(&response.status), "backslash answered {}", response.status);

    // The server keeps serving afterwards.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(server.get(&format!("/stream/{HASH}/master.m3u8")).await.status(), StatusCode::OK);
}

/// With S3 down, delivery returns 502 (not 404), readiness returns 503 listing the failed checks,
/// and job creation reports the source storage as unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_is_reported() {
    let Some(mut env) = TestEnv::s3() else { return };
    env.put_media(THUMB_KEY, b"thumb bytes").await;
    let server = env.start(&[("MODE", "server")]).await;
    let thumb = signer().thumb_path(&key(THUMB_KEY));
    assert_eq!(server.get(&thumb).await.status(), StatusCode::OK);

    env.stop_s3();

    for path in [thumb.clone(), signer().original_path(&key(ORIGINAL_KEY)), format!("/stream/{HASH}/master.m3u8")] {
        assert_error(server.get(&path).await, StatusCode::BAD_GATEWAY, "storage unavailable").await;
    }

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let (_, body) = json_response(response).await;
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_eq!(body["error"], "readiness checks failed", "{body}");
    let checks = body["checks"].as_array().expect("a list of checks");
    let status_of = |name: &str| {
        let check =
            checks.iter().find(|check| check["name"] == name).unwrap_or_else(|| panic!("no check {name}: {body}"));
        (check["status"].as_str().unwrap().to_owned(), check.get("error").cloned())
    };
    for failed in ["source storage", "media storage"] {
        let (status, error) = status_of(failed);
        assert_eq!(status, "failed", "{body}");
        let error = error.and_then(|error| error.as_str().map(str::to_owned)).unwrap_or_default();
        assert!(!error.is_empty(), "{failed} has no error text: {body}");
        assert!(!error.contains(s3_support::SECRET_KEY), "{failed} error shows the S3 secret: {error}");
    }
    assert_eq!(status_of("database").0, "ok", "{body}");

    let (status, body) = server
        .post_json("/api/jobs", &json!({"type": "video:cover", "hash": "outage1", "source": "uploads/clip.mp4"}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body, json!({"message": "source storage unavailable"}));

    // Media deletion cannot be confirmed, so it asks the caller to retry.
    let response = server.api(Method::DELETE, "/api/media/outage1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let (_, body) = json_response(response).await;
    assert_eq!(body["retryable"], true, "{body}");
    assert_eq!(body["failed_stages"], json!(["media"]), "{body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");

    let logs = server.logs().join("\n");
    assert!(!logs.contains(s3_support::SECRET_KEY), "the S3 secret key appears in the logs");
}

async fn unusual_objects(backend: Backend) {
    let Some((env, server, _objects)) = setup(backend).await else { return };
    let signer = signer();

    // Spaces, '+', '%', non-ASCII letters and a question mark are all part of the key.
    let odd_key = "images/ab/abcdef1234567890/odd name+plus 100% ü?.png";
    let odd_bytes = patterned_bytes(3_000, 6);
    env.put_media(odd_key, &odd_bytes).await;
    let response = server.get(&signer.thumb_path(&key(odd_key))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_success_headers(&response, "image/png", odd_bytes.len());
    assert_eq!(response.bytes().await.unwrap(), odd_bytes);

    // Types come from the extension, in any case, and default to application/octet-stream.
    for (source_key, content_type) in [
        ("uploads/blob.bin", "application/octet-stream"),
        ("uploads/noext", "application/octet-stream"),
        ("uploads/PHOTO.JPG", "image/jpeg"),
    ] {
        env.put_source(source_key, b"some bytes").await;
        let response = server.get(&signer.original_path(&key(source_key))).await;
        assert_eq!(response.status(), StatusCode::OK, "{source_key}");
        assert_eq!(header(&response, "content-type"), Some(content_type), "{source_key}");
    }

    // An empty object: served with length 0, and no byte range of it can be satisfied.
    let empty_path = format!("/stream/{HASH}/empty.m4s");
    env.put_media(&format!("videos/ab/{HASH}/empty.m4s"), b"").await;
    let response = server.get(&empty_path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_success_headers(&response, "video/iso.segment", 0);
    assert!(response.bytes().await.unwrap().is_empty());
    let response = server.request(Method::GET, &empty_path).header("Range", "bytes=0-0").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "content-range"), Some("bytes */0"));

    // A 3 MiB object streams whole and in a range across internal chunk boundaries.
    let large = patterned_bytes(3 * 1024 * 1024 + 17, 7);
    env.put_media(&format!("videos/ab/{HASH}/video/r360_h264/seg_2.m4s"), &large).await;
    let large_path = format!("/stream/{HASH}/video/r360_h264/seg_2.m4s");
    let response = server.get(&large_path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), large);
    let (first, last) = (65_000, 2_100_000);
    let response =
        server.request(Method::GET, &large_path).header("Range", format!("bytes={first}-{last}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap(), &large[first..=last]);

    // A key that names a folder of the local bucket is not an object.
    // NOTE: only checked locally, because s3s-fs 0.14.1 returns 500 InternalError for GetObject on
    // a key that is one of its folders (the server maps that to 502), where S3 returns NoSuchKey.
    if backend == Backend::Local {
        let response = server.get(&signer.thumb_path(&key("images/ab"))).await;
        assert_error(response, StatusCode::NOT_FOUND, "not found").await;
    }

    // Preflight for the delivery routes allows Range.
    let response = server
        .request(Method::OPTIONS, &signer.thumb_path(&key(THUMB_KEY)))
        .header("Origin", "https://player.example.test")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "range")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    let allowed = header(&response, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.split(',').any(|name| name.trim() == "range"), "allowed headers: {allowed:?}");
}
