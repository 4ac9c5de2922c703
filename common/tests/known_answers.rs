//! Known-answer vectors from the Vylux contract, all with the secret `test-secret`.
//!
//! Each vector was computed independently with Python's `hmac` and `hashlib`, so these tests pin the
//! exact bytes that Vylux backends produce. The same tests run natively and under wasm.

use vylux_common::image::{processing_hash, ImageOptions, ImageSource};
use vylux_common::jobs::parse_legacy_request;
use vylux_common::layout::image_cache_key;
use vylux_common::signing::{SignedTarget, UrlSigner};
use vylux_common::token::TokenKeys;
use vylux_common::webhook::{sign_webhook, verify_webhook};
use vylux_common::{MediaHash, ObjectKey, Secret};

const SECRET: &str = "test-secret";

fn signer() -> UrlSigner {
    UrlSigner::new(Secret::new(SECRET))
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn thumb_signature() {
    let key = ObjectKey::parse("videos/mo/movie-2026-04-01/cover.jpg").unwrap();
    let signature = "dfb9e47bb277855ab2658793a00f43b38697296bba5cc53f6517795cbd8dd3b5";
    assert_eq!(signer().sign_thumb(&key), signature);
    assert_eq!(
        signer().thumb_path(&key),
        format!("/thumb/{signature}/videos%2Fmo%2Fmovie-2026-04-01%2Fcover.jpg")
    );

    let escaped = format!("/thumb/{signature}/videos%2Fmo%2Fmovie-2026-04-01%2Fcover.jpg");
    let unescaped = format!("/thumb/{signature}/videos/mo/movie-2026-04-01/cover.jpg");
    for path in [escaped, unescaped] {
        let verified = signer().verify_path(&path).unwrap();
        assert_eq!(verified.target(), &SignedTarget::Thumb(key.clone()));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn img_signature() {
    let options = ImageOptions::parse("w300_h200_q80").unwrap();
    let webp = ImageSource::parse("photos%2Fcat.jpg.webp").unwrap();
    let signature = "0af21a4184ebc222718ef94ca72769fa5a2a74cc77029f4eabb145de5292641c";
    assert_eq!(signer().sign_img(&options, &webp), signature);
    assert_eq!(
        signer().img_path(&options, &webp),
        format!("/img/{signature}/w300_h200_q80/photos%2Fcat.jpg.webp")
    );
    assert!(signer().verify_path(&format!("/img/{signature}/q80_h200_w300/photos%2Fcat.jpg.webp")).is_ok());

    let jpg_signature = "ceae953f9756eb3676ac8e59cd5cb758cca1b73eb21a3318b6bbfd7ef37dd0a2";
    for extension in ["jpg", "jpeg", "JPEG"] {
        let source = ImageSource::parse(&format!("photos%2Fcat.jpg.{extension}")).unwrap();
        assert_eq!(signer().sign_img(&options, &source), jpg_signature, "extension {extension}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn img_cache_key() {
    let options = ImageOptions::parse("w300_h200_q80").unwrap();
    let source = ImageSource::parse("photos/cat.jpg.webp").unwrap();
    let hash = processing_hash(&source, &options);
    assert_eq!(hash, "92ae984ce94df24f9df3f6fccc8cba0bf9c04b3a09b5b6f0cb83ab3bd0b8d775");
    assert_eq!(
        image_cache_key(&hash, source.format).as_str(),
        "cache/92ae984ce94df24f9df3f6fccc8cba0bf9c04b3a09b5b6f0cb83ab3bd0b8d775.webp"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn original_signatures() {
    let cat = ObjectKey::parse("photos/cat.jpg").unwrap();
    assert_eq!(signer().sign_original(&cat), "7a2ada753bf658f01ba7b59e138ff46b69203b6e5a0ad759a36afeaa98886761");
    assert_eq!(
        signer().original_path(&cat),
        "/original/7a2ada753bf658f01ba7b59e138ff46b69203b6e5a0ad759a36afeaa98886761/photos%2Fcat.jpg"
    );
    let sample = ObjectKey::parse("uploads/sample.mp4").unwrap();
    assert_eq!(signer().sign_original(&sample), "8e5e70bae624fe34d9f03020e57de7a5cca692936ce39a2715f35b05aceafc69");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn key_token_two_part() {
    let keys = TokenKeys::new(Secret::new(SECRET), []);
    let hash = MediaHash::parse("movie-2026-04-01").unwrap();
    let token = "eyJoYXNoIjoibW92aWUtMjAyNi0wNC0wMSIsImV4cCI6NDEwMjQ0NDgwMH0.rEzlYsQGJZFSVkY1H_aK_qN_wZGE-9kWPWQZv3Q7lrU";
    assert_eq!(keys.mint_two_part(&hash, 4_102_444_800), token);

    let now = 1_775_000_000;
    let verified = keys.verify_authorization(Some(&format!("Bearer {token}")), "movie-2026-04-01", now).unwrap();
    assert_eq!(verified.hash(), "movie-2026-04-01");
    assert_eq!(verified.expires_at(), 4_102_444_800);
    // The expiry second itself is still valid.
    assert!(keys.verify(token, "movie-2026-04-01", 4_102_444_800).is_ok());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn webhook_signature() {
    let body = br#"{"job_id":"25b0dd17-9ef4-4512-baa4-5d80d2a55b41","type":"video:cover","hash":"movie-2026-04-01","status":"completed","results":{"key":"videos/mo/movie-2026-04-01/cover.jpg","format":"jpg","size":48213}}"#;
    let header = "sha256=6680ce0677b2fd510588c59d7a1f98fe06ae2b7ebec913fc1b3542378148938e";
    let secret = Secret::new(SECRET);
    assert_eq!(sign_webhook(&secret, body), header);
    assert!(verify_webhook(&secret, body, header));

    let mut altered = body.to_vec();
    altered.push(b' ');
    assert!(!verify_webhook(&secret, &altered, header));
    assert!(!verify_webhook(&secret, body, &header.to_uppercase()));
    assert!(!verify_webhook(&secret, body, header.trim_start_matches("sha256=")));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn idempotency_fingerprint() {
    let body = br#"{"type":"video:transcode","hash":"movie-2026-04-01","source":"uploads/sample.mp4","options":{"encrypt":true}}"#;
    let spec = parse_legacy_request(body).unwrap();
    assert_eq!(spec.fingerprint(), "e4cff56f73ed2c8f6d06e6cfcc06ae0d6004c0a2aa57129e55fea33f11a6385b");

    let with_callback = br#"{"type":"video:transcode","hash":"movie-2026-04-01","source":"uploads/sample.mp4","options":{"encrypt":true},"callback_url":"https://app.example/hook"}"#;
    assert_eq!(parse_legacy_request(with_callback).unwrap().fingerprint(), spec.fingerprint());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn jwt_round_trip_and_rotation() {
    let old = Secret::new("0123456789abcdef0123456789abcdef-old");
    let new = Secret::new("0123456789abcdef0123456789abcdef-new");
    let hash = MediaHash::parse("movie-2026-04-01").unwrap();
    let now = 1_800_000_000;

    let before_rotation = TokenKeys::new(old.clone(), []);
    let token = before_rotation.mint(&hash, now, 300).unwrap();
    assert_eq!(token.split('.').count(), 3);

    let during_rotation = TokenKeys::new(new.clone(), [old]);
    assert!(during_rotation.verify(&token, "movie-2026-04-01", now + 10).is_ok());
    let fresh = during_rotation.mint(&hash, now, 300).unwrap();
    assert!(during_rotation.verify(&fresh, "movie-2026-04-01", now + 10).is_ok());

    let after_rotation = TokenKeys::new(new, []);
    assert!(after_rotation.verify(&token, "movie-2026-04-01", now + 10).is_err());
    assert!(after_rotation.verify(&fresh, "movie-2026-04-01", now + 10).is_ok());
}
