//! SIGTERM stops `vylux serve` gracefully: a running job either finishes within
//! `WORKER_SHUTDOWN_TIMEOUT` or is released for another worker, and the process exits cleanly.
//! Needs the fixtures folder (a notice is printed and the tests pass without it).

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
mod server_support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use server_support::{fixture, Server, TestEnv};
use vylux_common::jobs::JobStatus;
use vylux_origin::store::{JobStore, StoreConfig};

const VIDEO_FIXTURE: &str = "h264-aac-640x360-25fps-5s.mp4";
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Submits an HLS job, which takes long enough to be caught running, and waits until it runs.
async fn start_running_job(server: &Server) -> String {
    let request = json!({"type": "video:transcode", "hash": "shutdown1", "source": "uploads/clip.mp4"});
    let (status, body) = server.post_json("/api/jobs", &request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["job_id"].as_str().expect("a job id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.job(&id).await["status"] != "processing" {
        assert!(Instant::now() < deadline, "the job never started: {}", server.job(&id).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    id
}

async fn stored_status(env: &TestEnv, id: &str) -> (JobStatus, u32) {
    let store = JobStore::open_in_data_dir(env.data_dir(), StoreConfig::default()).await.expect("open the job store");
    let job = store.get(id).await.expect("read the job").expect("the job exists");
    store.close().await;
    (job.status, job.attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_job_finish() {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let env = TestEnv::local();
    env.put_source("uploads/clip.mp4", &video).await;
    let mut server = env.start(&[("WORKER_CONCURRENCY", "1"), ("WORKER_SHUTDOWN_TIMEOUT", "60s")]).await;
    let id = start_running_job(&server).await;

    let status = server.terminate(EXIT_TIMEOUT).expect("the server did not exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let (job_status, attempts) = stored_status(&env, &id).await;
    assert_eq!(job_status, JobStatus::Completed);
    assert_eq!(attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_job_after_timeout() {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let env = TestEnv::local();
    env.put_source("uploads/clip.mp4", &video).await;
    let mut server = env.start(&[("WORKER_CONCURRENCY", "1"), ("WORKER_SHUTDOWN_TIMEOUT", "0s")]).await;
    let id = start_running_job(&server).await;

    let status = server.terminate(EXIT_TIMEOUT).expect("the server did not exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
    // Released, not failed: the next start takes the job up again at once.
    let (job_status, _) = stored_status(&env, &id).await;
    assert_eq!(job_status, JobStatus::Queued);

    let restarted = env.start(&[("WORKER_CONCURRENCY", "1")]).await;
    let job = restarted.wait_for_status(&id, &["completed"], Duration::from_secs(60)).await;
    assert_eq!(job["progress"], 100, "{job}");
}
