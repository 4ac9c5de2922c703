//! The job API of `vylux serve` over HTTP: authentication, creation, idempotency, status, retry,
//! media deletion, rate limits, rejected input and metrics.
//!
//! Each behaviour runs against local bucket folders and against `s3s-fs`. Tests that run media jobs
//! need the fixtures folder and print a notice and pass without it.

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
#[macro_use]
mod server_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server_support::{
    fixture, header, json_response, patterned_bytes, raw_request, signer, Backend, Server, TestEnv, API_KEY,
};
use vylux_common::ObjectKey;

const VIDEO_FIXTURE: &str = "h264-aac-640x360-25fps-5s.mp4";
const AUDIO_FIXTURE: &str = "audio-aac-lc-48k-stereo.m4a";
/// Maximum time a cover job may take here. One took about 0.2 s on the 5 s fixture on 2 cores.
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

both_backends!(api_key_is_required);
both_backends!(job_lifecycle);
both_backends!(create_rate_limit);
both_backends!(bad_input_is_rejected);
both_backends!(concurrent_creates_share_one_job);
both_backends!(media_deletion_is_scoped);
both_backends!(split_server_and_worker);

fn cover_request(hash: &str, source: &str) -> Value {
    json!({"type": "video:cover", "hash": hash, "source": source})
}

fn video_cover_request(hash: &str, source: &str) -> Value {
    json!({"source": {"hash": hash, "key": source}, "pipeline": {"cover": {"enabled": true}}})
}

/// Checks that `value` is a UUID in its canonical text form and returns it.
fn job_id(value: &Value) -> String {
    let id = value.as_str().unwrap_or_else(|| panic!("job_id is not a string: {value}"));
    let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|error| panic!("job_id {id:?} is not a UUID: {error}"));
    assert_eq!(parsed.hyphenated().to_string(), id, "job_id is not in canonical form");
    id.to_owned()
}

/// Checks a timestamp of the form `2026-04-01T08:00:00Z`.
fn assert_api_time(value: &Value, field: &str) {
    let text = value[field].as_str().unwrap_or_else(|| panic!("{field} is missing: {value}"));
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    assert!(parsed.is_ok(), "{field} {text:?} is not RFC 3339");
    assert_eq!(text.len(), 20, "{field} {text:?} is not UTC to the second");
    assert!(text.ends_with('Z'), "{field} {text:?} is not UTC");
}

async fn api_key_is_required(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let server = env.start(&[("MODE", "server")]).await;
    let body = cover_request("auth1", "uploads/clip.mp4");
    let routes = [
        (Method::POST, "/api/jobs"),
        (Method::POST, "/api/video/jobs"),
        (Method::GET, "/api/jobs/01a242fa-0e54-760b-869e-12ab2f479dd5"),
        (Method::POST, "/api/jobs/01a242fa-0e54-760b-869e-12ab2f479dd5/retry"),
        (Method::DELETE, "/api/media/auth1"),
        (Method::GET, "/api/unknown"),
    ];
    for (method, path) in routes {
        let missing = server.request(method.clone(), path).json(&body).send().await.unwrap();
        assert_eq!(header(&missing, "cache-control"), Some("no-store"), "{method} {path}");
        let (status, message) = json_response(missing).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(message, json!({"message": "missing API key"}), "{method} {path}");

        let wrong_keys = [&API_KEY[..API_KEY.len() - 1], "", "x"];
        for wrong in wrong_keys {
            let response =
                server.request(method.clone(), path).header("X-API-Key", wrong).json(&body).send().await.unwrap();
            let (status, message) = json_response(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with key {wrong:?}");
            assert_eq!(message, json!({"message": "invalid API key"}), "{method} {path}");
        }
    }

    // The key goes in `X-API-Key` only; a Bearer header does not count.
    let response = server
        .request(Method::POST, "/api/jobs")
        .header("Authorization", format!("Bearer {API_KEY}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The log records whether credentials came, never their value.
    let logs = server.logs().join("\n");
    assert!(!logs.contains(&API_KEY[..API_KEY.len() - 1]), "the API key appears in the logs");
    let lines = server.request_logs();
    let line = lines.iter().find(|line| line["path"] == "/api/jobs").expect("a log line for /api/jobs");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["status"], 401);
    assert!(line["authorization"].is_boolean(), "{line}");
}

/// Creates, reuses, inspects, completes, fails, retries and deletes jobs across a restart: the
/// first server has no workers, so jobs stay queued while idempotency is checked, and the second
/// runs them.
async fn job_lifecycle(backend: Backend) {
    let (Some(video), Some(audio)) = (fixture(VIDEO_FIXTURE), fixture(AUDIO_FIXTURE)) else { return };
    let Some(env) = TestEnv::new(backend) else { return };
    let max_file_size = video.len().max(audio.len()) + 1000;
    env.put_source("uploads/clip.mp4", &video).await;
    env.put_source("uploads/voice.m4a", &audio).await;
    env.put_source("uploads/huge.mp4", &patterned_bytes(max_file_size + 1, 9)).await;
    let limit = max_file_size.to_string();
    let server = env.start(&[("MODE", "server"), ("MAX_FILE_SIZE", &limit)]).await;

    // A new job.
    let (status, created) = server.post_json("/api/jobs", &cover_request("clip1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let clip_job = job_id(&created["job_id"]);
    assert_eq!(created, json!({"job_id": clip_job, "hash": "clip1", "status": "queued"}));

    // The same request while the job is active returns it again.
    let (status, again) = server.post_json("/api/jobs", &cover_request("clip1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, json!({"job_id": clip_job, "hash": "clip1", "status": "queued"}));

    // The structured video route maps a cover-only pipeline onto the same internal job.
    let (status, structured) =
        server.post_json("/api/video/jobs", &video_cover_request("clip1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::OK, "{structured}");
    assert_eq!(structured["job_id"], clip_job.as_str());

    // The callback URL is not part of the fingerprint.
    let mut with_callback = cover_request("clip1", "uploads/clip.mp4");
    with_callback["callback_url"] = json!("http://127.0.0.1:9/hook");
    let (status, reused) = server.post_json("/api/jobs", &with_callback).await;
    assert_eq!(status, StatusCode::OK, "{reused}");
    assert_eq!(reused["job_id"], clip_job.as_str());

    // Other options make another job, here through the structured route.
    let mut later = video_cover_request("clip1", "uploads/clip.mp4");
    later["pipeline"]["cover"]["timestamp_sec"] = json!(2.5);
    let (status, later_created) = server.post_json("/api/video/jobs", &later).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{later_created}");
    let later_job = job_id(&later_created["job_id"]);
    assert_ne!(later_job, clip_job);

    // Another hash is another job, and that job's media must survive deleting clip1.
    let (status, other_created) =
        server.post_json("/api/video/jobs", &video_cover_request("clip2", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other_created}");
    let other_job = job_id(&other_created["job_id"]);

    // The status of a queued job.
    let job = server.job(&clip_job).await;
    let mut fields: Vec<&str> = job.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["callback_status", "created_at", "hash", "job_id", "progress", "status", "type", "updated_at"],
        "{job}"
    );
    assert_eq!(job["job_id"], clip_job.as_str());
    assert_eq!(job["type"], "video:cover");
    assert_eq!(job["hash"], "clip1");
    assert_eq!(job["status"], "queued");
    assert_eq!(job["callback_status"], "pending");
    assert_eq!(job["progress"], 0);
    assert_api_time(&job, "created_at");
    assert_api_time(&job, "updated_at");

    let response = server.api(Method::GET, "/api/jobs/00000000-0000-0000-0000-000000000000").send().await.unwrap();
    let (status, body) = json_response(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "job not found"}));

    // Source preflight.
    let (status, body) = server.post_json("/api/jobs", &cover_request("gone1", "uploads/missing.mp4")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"message": "source object not found"}));
    let (status, body) = server.post_json("/api/video/jobs", &video_cover_request("huge1", "uploads/huge.mp4")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, json!({"message": format!("source file exceeds MAX_FILE_SIZE ({max_file_size} bytes)")}));

    // Only failed jobs can be retried.
    let (status, body) = retry(&server, &clip_job).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"message": "only failed jobs can be retried"}));
    let (status, body) = retry(&server, "00000000-0000-0000-0000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "job not found"}));

    // A cover job whose source has no video stream, which fails once workers run.
    let (status, voice) = server.post_json("/api/jobs", &cover_request("voice1", "uploads/voice.m4a")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{voice}");
    let voice_job = job_id(&voice["job_id"]);

    // A server with workers on the same data directory runs the queued jobs.
    drop(server);
    let server = env.start(&[("MODE", "all"), ("MAX_FILE_SIZE", &limit)]).await;

    // Both clip1 jobs write the same cover key, so the checks below wait for both.
    let later = server.wait_for_status(&later_job, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(later["status"], "completed", "{later}");
    let job = server.wait_for_status(&clip_job, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 100);
    assert!(job.get("error").is_none(), "{job}");
    let size = job["results"]["size"].as_u64().unwrap_or_else(|| panic!("no size in {job}"));
    assert!(size > 1000, "a 640x360 JPEG cover of {size} bytes is implausibly small");
    assert_eq!(job["results"], json!({"key": "videos/cl/clip1/cover.jpg", "format": "jpg", "size": size}));

    // The cover is served by /thumb. It is the output of whichever clip1 job finished last.
    let cover_key = ObjectKey::parse("videos/cl/clip1/cover.jpg").unwrap();
    let response = server.get(&signer().thumb_path(&cover_key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("image/jpeg"));
    let cover = response.bytes().await.unwrap();
    let reported_sizes = [size, later["results"]["size"].as_u64().unwrap_or_default()];
    assert!(
        reported_sizes.contains(&(cover.len() as u64)),
        "served {} bytes, results report {reported_sizes:?}",
        cover.len()
    );
    assert_eq!(&cover[..3], [0xFF, 0xD8, 0xFF], "the cover is not a JPEG");

    let other = server.wait_for_status(&other_job, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(other["status"], "completed", "{other}");
    let other_size = other["results"]["size"].as_u64().unwrap_or_default();
    let other_key = ObjectKey::parse("videos/cl/clip2/cover.jpg").unwrap();
    let response = server.get(&signer().thumb_path(&other_key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len() as u64, other_size);

    // A completed hit returns the results with a null job id.
    let (status, hit) = server.post_json("/api/jobs", &cover_request("clip1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::OK, "{hit}");
    assert_eq!(hit, json!({"job_id": null, "hash": "clip1", "status": "completed", "results": job["results"]}));
    let (status, body) = retry(&server, &clip_job).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"message": "only failed jobs can be retried"}));

    // The audio source fails with a stable error code, and a retry creates a linked job.
    let failed = server.wait_for_status(&voice_job, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap_or_else(|| panic!("no error in {failed}"));
    assert!(error.starts_with("no_video_stream:"), "{error}");
    let (status, retried) = retry(&server, &voice_job).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(retried["source_job_id"], voice_job.as_str());
    assert_eq!(retried["strategy"], "retry_job");
    let jobs = retried["jobs"].as_array().expect("a jobs list");
    assert_eq!(jobs.len(), 1, "{retried}");
    let retry_job = job_id(&jobs[0]["job_id"]);
    assert_ne!(retry_job, voice_job);
    assert_eq!(jobs[0]["type"], "video:cover");
    assert_eq!(jobs[0]["retry_of_job_id"], voice_job.as_str());
    let status_of_retry = jobs[0]["status"].as_str().unwrap();
    assert!(["queued", "processing"].contains(&status_of_retry), "{retried}");
    let linked = server.wait_for_status(&retry_job, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(linked["retry_of_job_id"], voice_job.as_str());
    assert_eq!(linked["status"], "failed", "{linked}");

    // Deleting the media removes objects and jobs, and deleting again still succeeds.
    assert!(env.media_exists("videos/cl/clip1/cover.jpg").await);
    let response = server.request(Method::DELETE, "/api/media/clip1").send().await.unwrap();
    let (status, body) = json_response(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "missing API key"}));
    for attempt in 1..=2 {
        let response = server.api(Method::DELETE, "/api/media/clip1").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "delete number {attempt}");
        assert!(response.bytes().await.unwrap().is_empty());
    }
    assert!(!env.media_exists("videos/cl/clip1/cover.jpg").await, "the cover survived the delete");
    for id in [&clip_job, &later_job] {
        let response = server.api(Method::GET, &format!("/api/jobs/{id}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "job {id} survived the delete");
    }
    assert_eq!(server.get(&signer().thumb_path(&cover_key)).await.status(), StatusCode::NOT_FOUND);
    // Other hashes are untouched.
    assert_eq!(server.job(&voice_job).await["status"], "failed");
    assert_eq!(server.job(&other_job).await["status"], "completed");
    assert!(env.media_exists("videos/cl/clip2/cover.jpg").await, "deleting clip1 removed clip2's cover");

    assert_metrics(&server).await;
}

async fn retry(server: &Server, id: &str) -> (StatusCode, Value) {
    let response = server.api(Method::POST, &format!("/api/jobs/{id}/retry")).send().await.unwrap();
    json_response(response).await
}

/// Checks that `/metrics` covers HTTP, queue, storage and worker activity after a job ran.
async fn assert_metrics(server: &Server) {
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = header(&response, "content-type").unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for needle in [
        "vylux_http_requests_total{",
        "vylux_http_request_duration_seconds_bucket{",
        "vylux_queue_tasks{",
        "vylux_storage_operations_total{",
        "vylux_worker_tasks_total{",
        "route=\"/api/jobs\"",
        "route=\"/healthz\"",
        "task_type=\"video:cover\"",
        "result=\"success\"",
        "result=\"error\"",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
}

async fn create_rate_limit(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", b"not decoded: this server runs no workers").await;
    let server = env.start(&[("MODE", "server")]).await;

    // The window is a calendar minute; start early in one so all 31 requests share it.
    let second_of_minute = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    if second_of_minute > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second_of_minute)).await;
    }

    // Creates through both routes, and rejected requests, all count against one bucket.
    for index in 0..30 {
        let response = if index % 3 == 0 {
            server
                .api(Method::POST, "/api/video/jobs")
                .json(&video_cover_request("rate1", "uploads/clip.mp4"))
                .send()
                .await
        } else if index % 3 == 1 {
            server.api(Method::POST, "/api/jobs").json(&cover_request("rate1", "uploads/clip.mp4")).send().await
        } else {
            server.api(Method::POST, "/api/jobs").body("{not json").send().await
        };
        let status = response.unwrap().status();
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "request {} was limited", index + 1);
    }

    let response =
        server.api(Method::POST, "/api/jobs").json(&cover_request("rate2", "uploads/clip.mp4")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&response, "retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let (_, body) = json_response(response).await;
    assert_eq!(body, json!({"message": "Too Many Requests"}));

    // Retries share the bucket; reading jobs does not.
    let response =
        server.api(Method::POST, "/api/jobs/00000000-0000-0000-0000-000000000000/retry").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = server.api(Method::GET, "/api/jobs/00000000-0000-0000-0000-000000000000").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Unauthenticated requests are rejected before they reach the limiter.
    let response = server
        .request(Method::POST, "/api/jobs")
        .json(&cover_request("rate3", "uploads/clip.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn bad_input_is_rejected(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", b"not decoded: this server runs no workers").await;
    let server = env.start(&[("MODE", "server")]).await;

    // (route, body, expected message or message prefix ending in '*'). Every create counts against
    // the limit of 30 per minute, so this list and the creates below stay under 30 together.
    const JOBS: &str = "/api/jobs";
    const VIDEO: &str = "/api/video/jobs";
    const BAD_JSON: &str = "invalid JSON body*";
    // A valid legacy cover request with `changes` applied; a null value removes the field.
    let legacy = |changes: Value| {
        let mut body = cover_request("h1", "uploads/clip.mp4");
        for (field, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => body.as_object_mut().unwrap().remove(field),
                _ => body.as_object_mut().unwrap().insert(field.clone(), value.clone()),
            };
        }
        body.to_string()
    };
    let video = |pipeline: Value| json!({"source": {"hash": "h1", "key": "uploads/clip.mp4"}, "pipeline": pipeline});
    let cases: Vec<(&str, String, &str)> = vec![
        (JOBS, "{\"type\":".to_owned(), BAD_JSON),
        (JOBS, String::new(), BAD_JSON),
        (JOBS, "[]".to_owned(), BAD_JSON),
        (JOBS, "null".to_owned(), BAD_JSON),
        (JOBS, legacy(json!({"extra": 1})), BAD_JSON),
        (JOBS, legacy(json!({"hash": 7})), BAD_JSON),
        (JOBS, legacy(json!({"source": ["uploads/clip.mp4"]})), BAD_JSON),
        (JOBS, legacy(json!({"type": "video:boom"})), "unsupported job type: \"video:boom\""),
        (JOBS, legacy(json!({"hash": null})), "hash is required"),
        (JOBS, legacy(json!({"source": null})), "source is required"),
        (JOBS, legacy(json!({"hash": "../h1"})), "invalid hash*"),
        (JOBS, legacy(json!({"source": "../etc/passwd"})), "invalid source*"),
        (JOBS, legacy(json!({"options": {"timestamp_sec": "2"}})), "invalid options*"),
        (JOBS, legacy(json!({"callback_url": "ftp://example.test/hook"})), "callback_url must use http:// or https://"),
        (JOBS, legacy(json!({"callback_url": "https:///callback"})), "callback_url must include a host"),
        (VIDEO, "{".to_owned(), BAD_JSON),
        (VIDEO, json!({"source": {"hash": "h1", "key": "uploads/clip.mp4", "bucket": "x"}}).to_string(), BAD_JSON),
        (VIDEO, video(json!({"cover": {"enabled": "yes"}})).to_string(), BAD_JSON),
        (
            VIDEO,
            json!({"type": "video:cover", "source": {"hash": "h1", "key": "uploads/clip.mp4"}}).to_string(),
            "video create requests must use the /api/video/jobs contract (source, pipeline, delivery); \
             field \"type\" is not accepted",
        ),
        (
            VIDEO,
            video(json!({"transcode": {}})).to_string(),
            "pipeline.transcode is not part of the public contract; use pipeline.package.hls",
        ),
        (VIDEO, video(json!({"cover": {"enabled": false}})).to_string(), "no deliverables enabled"),
        (
            VIDEO,
            video(json!({"cover": {"enabled": true}, "package": {"hls": {"enabled": true}}})).to_string(),
            "supported combinations are cover only, preview only, package.hls only, or cover+preview+package.hls",
        ),
        (VIDEO, json!({"source": {"hash": "h1"}}).to_string(), "source.key is required"),
    ];
    for (route, body, expected) in &cases {
        let response = server
            .api(Method::POST, route)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "cache-control"), Some("no-store"), "{route} {body}");
        let (status, reply) = json_response(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route} {body}: {reply}");
        let message = reply["message"].as_str().unwrap_or_else(|| panic!("{route} {body}: {reply}"));
        match expected.strip_suffix('*') {
            Some(prefix) => assert!(message.starts_with(prefix), "{route} {body}: message {message:?}"),
            None => assert_eq!(message, *expected, "{route} {body}"),
        }
    }

    // A body over 64 KiB, valid JSON otherwise.
    let padding = "a".repeat(70 * 1024);
    let mut oversized = cover_request("h1", "uploads/clip.mp4");
    oversized["callback_url"] = json!(format!("http://127.0.0.1/{padding}"));
    for route in ["/api/jobs", "/api/video/jobs"] {
        let (status, body) = server.post_json(route, &oversized).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{route}");
        assert_eq!(body, json!({"message": "request body exceeds 65536 bytes"}), "{route}");
    }

    // Unknown routes, inside and outside the API, and a wrong method.
    let response = server.get("/nowhere").await;
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let (status, body) = json_response(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "Not Found"}));
    let (status, body) = json_response(server.api(Method::GET, "/api/nowhere").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "Not Found"}));
    let response = server.api(Method::GET, "/api/jobs").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let response = server.api(Method::PUT, "/api/media/h1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // A hash that is not one path segment is rejected on deletion.
    let response = raw_request(server.port, "DELETE", "/api/media/..%2Fsource", &[("X-API-Key", API_KEY)]);
    assert_eq!(response.status, 400, "{}", response.body_text());
    assert!(response.body_text().contains("invalid hash"), "{}", response.body_text());

    // The server still works after all of that.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    let (status, body) = server.post_json("/api/jobs", &cover_request("fine1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

async fn concurrent_creates_share_one_job(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", b"not decoded: this server runs no workers").await;
    let server = env.start(&[("MODE", "server")]).await;

    // Identical requests at the same moment, half through each route, make exactly one job.
    const CONCURRENT: usize = 12;
    let mut requests = Vec::with_capacity(CONCURRENT);
    for index in 0..CONCURRENT {
        let (route, body) = if index % 2 == 0 {
            ("/api/jobs", cover_request("race1", "uploads/clip.mp4"))
        } else {
            ("/api/video/jobs", video_cover_request("race1", "uploads/clip.mp4"))
        };
        let request = server.api(Method::POST, route).json(&body).send();
        requests.push(tokio::spawn(async move { json_response(request.await.unwrap()).await }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert!(status == StatusCode::ACCEPTED || status == StatusCode::OK, "{status}: {body}");
        if status == StatusCode::ACCEPTED {
            created += 1;
        }
        ids.insert(job_id(&body["job_id"]));
    }
    assert_eq!(created, 1, "{created} requests reported a new job");
    assert_eq!(ids.len(), 1, "identical requests made several jobs: {ids:?}");
}

async fn media_deletion_is_scoped(backend: Backend) {
    let Some(env) = TestEnv::new(backend) else { return };
    let clip1_keys =
        ["videos/cl/clip1/cover.jpg", "videos/cl/clip1/video/r360_h264/seg_1.m4s", "images/cl/clip1/thumb.webp"];
    // Neighbours: a hash that extends "clip1", another hash in the same folder prefix, a short hash.
    let neighbour_keys = [
        "videos/cl/clip10/cover.jpg",
        "images/cl/clip10/thumb.webp",
        "videos/cl/clip2/cover.jpg",
        "videos/cl/cl/cover.jpg",
    ];
    for key in clip1_keys.iter().chain(&neighbour_keys) {
        env.put_media(key, key.as_bytes()).await;
    }
    let server = env.start(&[("MODE", "server")]).await;

    let response = server.api(Method::DELETE, "/api/media/clip1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for key in clip1_keys {
        assert!(!env.media_exists(key).await, "{key} survived the delete");
    }
    for key in neighbour_keys {
        assert!(env.media_exists(key).await, "{key} was deleted with clip1");
    }

    // A hash without any media or jobs is deleted successfully too.
    let response = server.api(Method::DELETE, "/api/media/never-seen").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// Checks that a `MODE=server` process takes the requests and a `MODE=worker` process on the
/// same data directory runs the jobs.
async fn split_server_and_worker(backend: Backend) {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", &video).await;
    let server = env.start(&[("MODE", "server")]).await;
    let worker = env.start(&[("MODE", "worker")]).await;

    // The worker process serves probes and metrics only.
    assert_eq!(worker.get("/healthz").await.status(), StatusCode::OK);
    for path in
        ["/readyz", "/api/jobs/x", &signer().thumb_path(&ObjectKey::parse("videos/cl/clip1/cover.jpg").unwrap())]
    {
        let response = worker.api(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "worker {path}");
    }

    let (status, created) = server.post_json("/api/jobs", &cover_request("split1", "uploads/clip.mp4")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = job_id(&created["job_id"]);
    let job = server.wait_for_status(&id, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}");

    let cover_key = ObjectKey::parse("videos/sp/split1/cover.jpg").unwrap();
    let response = server.get(&signer().thumb_path(&cover_key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len() as u64, job["results"]["size"].as_u64().unwrap());

    // The job ran in the worker process: only its metrics count it.
    let worker_metrics = worker.get("/metrics").await.text().await.unwrap();
    assert!(
        worker_metrics.contains("vylux_worker_tasks_total{result=\"success\",task_type=\"video:cover\"} 1"),
        "{worker_metrics}"
    );
    let server_metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(!server_metrics.contains("task_type=\"video:cover\""), "{server_metrics}");
}

/// Reads the `vylux_transcodes` gauge for `state` from `/metrics`.
async fn transcodes_gauge(server: &Server, state: &str) -> i64 {
    let text = server.get("/metrics").await.text().await.unwrap();
    let prefix = format!("vylux_transcodes{{state=\"{state}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |value| value.trim().parse().expect("a whole number"))
}

/// With `TRANSCODE_CONCURRENCY=1`, two HLS jobs claimed together run their ladders one after the
/// other: the second waits for the slot, and both complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ladders_take_turns_for_one_slot() {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let env = TestEnv::local();
    env.put_source("uploads/clip.mp4", &video).await;
    let server = env.start(&[("WORKER_CONCURRENCY", "2"), ("TRANSCODE_CONCURRENCY", "1")]).await;

    let mut ids = Vec::new();
    for hash in ["slots1", "slots2"] {
        let request = json!({"type": "video:transcode", "hash": hash, "source": "uploads/clip.mp4"});
        let (status, body) = server.post_json("/api/jobs", &request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body["job_id"].as_str().expect("a job id").to_owned());
    }

    let mut max_running = 0;
    let mut waited = false;
    let deadline = tokio::time::Instant::now() + JOB_TIMEOUT;
    loop {
        max_running = max_running.max(transcodes_gauge(&server, "running").await);
        waited |= transcodes_gauge(&server, "waiting").await == 1;
        let mut finished = 0;
        for id in &ids {
            let job = server.job(id).await;
            assert_ne!(job["status"], "failed", "{job}");
            finished += usize::from(job["status"] == "completed");
        }
        if finished == ids.len() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the jobs did not complete in {JOB_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(max_running, 1, "ladders ran beside each other with one slot");
    assert!(waited, "the second ladder never waited for the slot");
    assert_eq!(transcodes_gauge(&server, "running").await, 0);
    assert!(server.logs().iter().any(|line| line.contains("transcode waiting for a free slot")), "no waiting logged");
}
