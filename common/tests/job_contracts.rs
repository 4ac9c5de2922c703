//! Decoding of both job-creation contracts, with the exact error messages clients see.

use serde_json::json;
use vylux_common::jobs::{
    parse_legacy_request, parse_video_request, CreateJobResponse, JobOptions, JobStatus, JobStatusResponse, JobType,
    WebhookPayload,
};

fn legacy(body: serde_json::Value) -> Result<vylux_common::jobs::JobSpec, String> {
    parse_legacy_request(body.to_string().as_bytes()).map_err(|error| error.message)
}

fn video(body: serde_json::Value) -> Result<vylux_common::jobs::JobSpec, String> {
    parse_video_request(body.to_string().as_bytes()).map_err(|error| error.message)
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn legacy_validation_messages() {
    let base = json!({"type": "video:cover", "hash": "abc", "source": "uploads/a.mp4"});
    assert!(legacy(base.clone()).is_ok());

    let mut unknown_type = base.clone();
    unknown_type["type"] = json!("video:bogus");
    assert_eq!(legacy(unknown_type).unwrap_err(), "unsupported job type: \"video:bogus\"");

    let mut no_hash = base.clone();
    no_hash["hash"] = json!("");
    assert_eq!(legacy(no_hash).unwrap_err(), "hash is required");

    let mut no_source = base.clone();
    no_source["source"] = json!("");
    assert_eq!(legacy(no_source).unwrap_err(), "source is required");

    let mut ftp = base.clone();
    ftp["callback_url"] = json!("ftp://example.com/hook");
    assert_eq!(legacy(ftp).unwrap_err(), "callback_url must use http:// or https://");

    let mut hostless = base.clone();
    hostless["callback_url"] = json!("https:///callback");
    assert_eq!(legacy(hostless).unwrap_err(), "callback_url must include a host");

    let mut unknown_field = base.clone();
    unknown_field["colour"] = json!("blue");
    assert!(legacy(unknown_field).unwrap_err().starts_with("invalid JSON body: unknown field `colour`"));

    let mut wrong_type = base.clone();
    wrong_type["hash"] = json!(42);
    assert!(legacy(wrong_type).unwrap_err().starts_with("invalid JSON body: invalid type"));

    assert!(parse_legacy_request(b"{not json").unwrap_err().message.starts_with("invalid JSON body"));

    let mut traversal = base;
    traversal["source"] = json!("uploads/../../etc/passwd");
    assert!(legacy(traversal).unwrap_err().starts_with("invalid source: object key"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn legacy_options_are_strict() {
    let flat_full = json!({"type": "video:full", "hash": "abc", "source": "a.mp4", "options": {"timestamp_sec": 1}});
    assert!(legacy(flat_full).unwrap_err().starts_with("invalid options: unknown field `timestamp_sec`"));

    let bad_preview = json!({"type": "video:preview", "hash": "abc", "source": "a.mp4", "options": {"format": "avi"}});
    assert!(legacy(bad_preview).unwrap_err().starts_with("invalid options:"));

    let negative = json!({"type": "video:cover", "hash": "abc", "source": "a.mp4", "options": {"timestamp_sec": -1}});
    assert!(legacy(negative).unwrap_err().contains("timestamp_sec must be a number of seconds between 0 and 86400"));

    let huge = json!({"type": "video:cover", "hash": "abc", "source": "a.mp4", "options": {"timestamp_sec": 1e308}});
    assert!(legacy(huge).unwrap_err().contains("got 100000000"));

    let thumbnail = json!({"type": "image:thumbnail", "hash": "abc", "source": "a.png"});
    let spec = legacy(thumbnail).unwrap();
    assert_eq!(
        spec.options.to_json(),
        json!({"outputs": [{"variant": "thumb", "width": 300, "format": "webp"}]})
    );

    let jpeg = json!({"type": "image:thumbnail", "hash": "abc", "source": "a.png",
        "options": {"outputs": [{"variant": "small", "width": 64, "format": "JPEG"}]}});
    assert_eq!(legacy(jpeg).unwrap().options.to_json()["outputs"][0]["format"], "jpg");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn video_contract_combinations() {
    let source = json!({"hash": "abc", "key": "uploads/a.mp4"});
    let hls_encrypted = video(json!({"source": source,
        "pipeline": {"package": {"hls": {"enabled": true, "encryption": {"enabled": true}}}}}))
    .unwrap();
    assert_eq!(hls_encrypted.job_type(), JobType::VideoTranscode);
    assert_eq!(hls_encrypted.options.to_json(), json!({"encrypt": true}));

    let cover = video(json!({"source": source, "pipeline": {"cover": {"enabled": true, "timestamp_sec": 2.5}}})).unwrap();
    assert_eq!(cover.options, JobOptions::Cover(vylux_common::jobs::CoverOptions { timestamp_sec: Some(2.5) }));

    let full = video(json!({"source": source, "pipeline": {
        "cover": {"enabled": true}, "preview": {"enabled": true, "format": "gif"},
        "package": {"hls": {"enabled": true, "profile": "stream_video_standard"}}}}))
    .unwrap();
    assert_eq!(full.job_type(), JobType::VideoFull);
    assert_eq!(full.options.to_json(), json!({"preview": {"format": "gif"}}));

    let no_pipeline = video(json!({"source": source})).unwrap();
    assert_eq!(no_pipeline.job_type(), JobType::VideoFull);

    let combination = video(json!({"source": source, "pipeline": {
        "cover": {"enabled": true}, "package": {"hls": {"enabled": true}}}}));
    assert_eq!(
        combination.unwrap_err(),
        "supported combinations are cover only, preview only, package.hls only, or cover+preview+package.hls"
    );
    let nothing = video(json!({"source": source, "pipeline": {"cover": {"enabled": false}}}));
    assert_eq!(nothing.unwrap_err(), "no deliverables enabled");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn video_contract_rejections() {
    let source = json!({"hash": "abc", "key": "uploads/a.mp4"});
    let legacy_field = video(json!({"type": "video:full", "source": source}));
    assert!(legacy_field.unwrap_err().starts_with("video create requests must use the /api/video/jobs contract"));

    let transcode = video(json!({"source": source, "pipeline": {"transcode": {}}}));
    assert_eq!(transcode.unwrap_err(), "pipeline.transcode is not part of the public contract; use pipeline.package.hls");

    let waveform = video(json!({"source": source, "pipeline": {"waveform": {"enabled": true}}}));
    assert_eq!(waveform.unwrap_err(), "pipeline.waveform is not supported for video jobs");

    let profile = video(json!({"source": source, "pipeline": {"package": {"hls": {"enabled": true, "profile": "4k"}}}}));
    assert!(profile.unwrap_err().starts_with("unsupported pipeline.package.hls.profile \"4k\""));

    let nested_unknown = video(json!({"source": {"hash": "abc", "key": "a.mp4", "bucket": "x"}}));
    assert!(nested_unknown.unwrap_err().starts_with("invalid JSON body: unknown field `bucket`"));

    let blank_key = video(json!({"source": {"hash": "abc", "key": "  "}}));
    assert_eq!(blank_key.unwrap_err(), "source.key is required");

    let bad_hash = video(json!({"source": {"hash": "../x", "key": "a.mp4"}}));
    assert!(bad_hash.unwrap_err().starts_with("invalid hash \"../x\""));

    let preview_width = video(json!({"source": source, "pipeline": {"preview": {"enabled": true, "width": 5000}}}));
    assert!(preview_width.unwrap_err().contains("preview width must be between 16 and 1920 pixels, got 5000"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn equal_requests_share_a_fingerprint() {
    let legacy_spec = legacy(json!({"type": "video:transcode", "hash": "abc", "source": "uploads/a.mp4",
        "options": {"encrypt": true}}))
    .unwrap();
    let video_spec = video(json!({"source": {"hash": "abc", "key": "uploads/a.mp4"},
        "pipeline": {"package": {"hls": {"enabled": true, "encryption": {"enabled": true}}}}}))
    .unwrap();
    assert_eq!(legacy_spec.fingerprint(), video_spec.fingerprint());

    let zero_timestamp = legacy(json!({"type": "video:cover", "hash": "abc", "source": "a.mp4",
        "options": {"timestamp_sec": 0}}))
    .unwrap();
    let no_timestamp = legacy(json!({"type": "video:cover", "hash": "abc", "source": "a.mp4"})).unwrap();
    assert_eq!(zero_timestamp.fingerprint(), no_timestamp.fingerprint());

    let other_source = legacy(json!({"type": "video:cover", "hash": "abc", "source": "b.mp4"})).unwrap();
    assert_ne!(other_source.fingerprint(), no_timestamp.fingerprint());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn response_types_are_strict() {
    let completed_hit = json!({"job_id": null, "hash": "abc", "status": "completed", "results": {"key": "k"}});
    let decoded: CreateJobResponse = serde_json::from_value(completed_hit.clone()).unwrap();
    assert_eq!(decoded.job_id, None);
    assert_eq!(decoded.status, JobStatus::Completed);
    assert_eq!(serde_json::to_value(&decoded).unwrap(), completed_hit);

    let status = json!({"job_id": "j1", "type": "video:cover", "hash": "abc", "status": "queued",
        "callback_status": "pending", "progress": 0, "created_at": "2026-04-01T08:00:00Z",
        "updated_at": "2026-04-01T08:00:00Z"});
    let decoded: JobStatusResponse = serde_json::from_value(status.clone()).unwrap();
    assert_eq!(serde_json::to_value(&decoded).unwrap(), status);

    let mut extra = status;
    extra["surprise"] = json!(true);
    assert!(serde_json::from_value::<JobStatusResponse>(extra).is_err());

    let webhook = json!({"job_id": "j1", "type": "video:full", "hash": "abc", "status": "failed", "error": "boom"});
    let decoded: WebhookPayload = serde_json::from_value(webhook.clone()).unwrap();
    assert_eq!(serde_json::to_value(&decoded).unwrap(), webhook);
}
