//! Webhook callbacks of `vylux serve`, received by a recording HTTP server on 127.0.0.1.
//!
//! Each behaviour runs on local folders and on `s3s-fs`. The tests run `video:cover` jobs and need
//! the fixtures folder; without it they print a notice and pass.

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
#[macro_use]
mod server_support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use server_support::{fixture, Backend, ReceivedWebhook, Server, TestEnv, WebhookReceiver, WEBHOOK_SECRET};
use vylux_common::webhook::verify_webhook;
use vylux_common::Secret;

const VIDEO_FIXTURE: &str = "h264-aac-640x360-25fps-5s.mp4";
const AUDIO_FIXTURE: &str = "audio-aac-lc-48k-stereo.m4a";
const JOB_TIMEOUT: Duration = Duration::from_secs(60);
/// Maximum wait for deliveries. The sender polls once a second and the first retry waits 1 s and
/// the second 2 s, so a delivery on its third attempt arrives within about 6 s.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time to keep watching for unexpected extra deliveries: longer than two sender polls.
const QUIET_PERIOD: Duration = Duration::from_millis(2500);

both_backends!(outcomes_are_delivered_once);
both_backends!(redirects_are_retried_not_followed);

/// Checks how a delivery was sent: a signed JSON POST from the Vylux user agent.
fn assert_signed_post(delivery: &ReceivedWebhook) {
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    assert_eq!(delivery.header("user-agent"), Some("Vylux-Webhook/1.0"));
    let signature = delivery.header("x-signature").expect("an X-Signature header");
    let secret = Secret::new(WEBHOOK_SECRET.as_bytes());
    assert!(
        verify_webhook(&secret, &delivery.body, signature),
        "X-Signature {signature} does not verify over the body"
    );

    // The check above can fail: another secret or one changed byte does not verify.
    let other = Secret::new(b"webhook-other-secret-0000000000000000000000000000000000000000000000".as_slice());
    assert!(!verify_webhook(&other, &delivery.body, signature));
    let mut changed = delivery.body.to_vec();
    changed[0] ^= 0x01;
    assert!(!verify_webhook(&secret, &changed, signature));
}

async fn create_cover_job(server: &Server, hash: &str, source: &str, callback_url: &str) -> String {
    let request = json!({"type": "video:cover", "hash": hash, "source": source, "callback_url": callback_url});
    let (status, body) = server.post_json("/api/jobs", &request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().expect("a job id").to_owned()
}

async fn outcomes_are_delivered_once(backend: Backend) {
    let (Some(video), Some(audio)) = (fixture(VIDEO_FIXTURE), fixture(AUDIO_FIXTURE)) else { return };
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", &video).await;
    env.put_source("uploads/voice.m4a", &audio).await;
    let receiver = WebhookReceiver::start().await;
    let server = env.start(&[]).await;

    let completed_id = create_cover_job(&server, "hook1", "uploads/clip.mp4", &receiver.url("/hooks/done")).await;
    let failed_id = create_cover_job(&server, "hook2", "uploads/voice.m4a", &receiver.url("/hooks/failed")).await;
    let completed = server.wait_for_status(&completed_id, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(completed["status"], "completed", "{completed}");
    let failed = server.wait_for_status(&failed_id, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    receiver.wait_until(DELIVERY_TIMEOUT, "two deliveries", |received| received.len() >= 2).await;
    tokio::time::sleep(QUIET_PERIOD).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "expected exactly one delivery per job: {received:#?}");

    let done =
        received.iter().find(|delivery| delivery.path == "/hooks/done").expect("a delivery for the completed job");
    assert_signed_post(done);
    assert_eq!(
        done.json(),
        json!({
            "job_id": completed_id,
            "type": "video:cover",
            "hash": "hook1",
            "status": "completed",
            "results": completed["results"],
        })
    );

    let fail =
        received.iter().find(|delivery| delivery.path == "/hooks/failed").expect("a delivery for the failed job");
    assert_signed_post(fail);
    assert_eq!(
        fail.json(),
        json!({
            "job_id": failed_id,
            "type": "video:cover",
            "hash": "hook2",
            "status": "failed",
            "error": failed["error"],
        })
    );

    for id in [&completed_id, &failed_id] {
        let job = wait_for_callback_status(&server, id, "sent").await;
        assert_eq!(job["callback_status"], "sent", "{job}");
    }

    let logs = server.logs().join("\n");
    assert!(!logs.contains(WEBHOOK_SECRET), "the webhook secret appears in the logs");
}

async fn redirects_are_retried_not_followed(backend: Backend) {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", &video).await;
    let receiver = WebhookReceiver::start().await;
    // The first attempt gets a server error, the second a redirect, the third succeeds.
    receiver.script(&[503, 302]);
    let server = env.start(&[]).await;

    let id = create_cover_job(&server, "hook3", "uploads/clip.mp4", &receiver.url("/hooks/moved")).await;
    let job = server.wait_for_status(&id, &["completed", "failed"], JOB_TIMEOUT).await;
    assert_eq!(job["status"], "completed", "{job}");

    receiver.wait_until(DELIVERY_TIMEOUT, "three attempts", |received| received.len() >= 3).await;
    tokio::time::sleep(QUIET_PERIOD).await;
    let received = receiver.received();
    let statuses: Vec<u16> = received.iter().map(|delivery| delivery.response_status).collect();
    assert_eq!(statuses, [503, 302, 200], "{received:#?}");
    assert!(
        received.iter().all(|delivery| delivery.path == "/hooks/moved"),
        "the redirect was followed: {received:#?}"
    );
    for delivery in &received {
        assert_signed_post(delivery);
        assert_eq!(delivery.body, received[0].body, "a retry changed the body");
    }

    let job = wait_for_callback_status(&server, &id, "sent").await;
    assert_eq!(job["callback_status"], "sent", "{job}");
}

/// Polls a job until its `callback_status` is `expected`, or returns it as it is after 10 s.
async fn wait_for_callback_status(server: &Server, id: &str, expected: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let job = server.job(id).await;
        if job["callback_status"] == expected || std::time::Instant::now() > deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
