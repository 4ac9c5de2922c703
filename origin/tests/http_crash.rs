//! A `vylux serve` process killed with SIGKILL while it runs jobs loses none of them.
//!
//! Ten `video:cover` jobs with callbacks go to a server with one worker and a 3 s job lease. The
//! server is killed while one job runs and others wait, then started again on the same data
//! directory. Every job must complete, and the webhook receiver, which outlives both processes,
//! must get exactly one `completed` delivery per job. Runs on local folders and on `s3s-fs`, and
//! needs the fixtures folder (a notice is printed and the test passes without it).

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
mod server_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use server_support::{fixture, Backend, Server, TestEnv, WebhookReceiver, WEBHOOK_SECRET};
use vylux_common::jobs::JobStatus;
use vylux_common::webhook::verify_webhook;
use vylux_common::Secret;
use vylux_origin::store::{JobRecord, JobStore, StoreConfig};

const VIDEO_FIXTURE: &str = "h264-aac-640x360-25fps-5s.mp4";
const JOB_COUNT: usize = 10;
/// Server settings: one worker, so jobs run one after another, and the shortest lease allowed.
const SETTINGS: [(&str, &str); 2] = [("JOB_LEASE", "3s"), ("WORKER_CONCURRENCY", "1")];
/// Kills attempted before giving up on catching a job while it runs. A cover job runs for about
/// 0.2 s and the status poll takes a few milliseconds, so the first kill almost always lands.
const KILL_ATTEMPTS: usize = 3;
const RUNNING_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for every job to finish after the restart, including the 3 s lease of the killed job.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(90);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time to keep watching for duplicate deliveries: longer than two polls of the webhook sender.
const QUIET_PERIOD: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_no_job_local() {
    crash_loses_no_job(Backend::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_no_job_s3() {
    crash_loses_no_job(Backend::S3).await;
}

async fn crash_loses_no_job(backend: Backend) {
    let Some(video) = fixture(VIDEO_FIXTURE) else { return };
    let Some(env) = TestEnv::new(backend) else { return };
    env.put_source("uploads/clip.mp4", &video).await;
    let receiver = WebhookReceiver::start().await;
    let mut server = env.start(&SETTINGS).await;

    let mut ids = Vec::with_capacity(JOB_COUNT);
    for index in 0..JOB_COUNT {
        let request = json!({
            "type": "video:cover",
            "hash": format!("crash{index}"),
            "source": "uploads/clip.mp4",
            "callback_url": receiver.url("/crash"),
        });
        let (status, body) = server.post_json("/api/jobs", &request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body["job_id"].as_str().expect("a job id").to_owned());
    }

    // Kill while a job runs and others wait. The statuses come from the database once the process
    // is dead, because the API view may be a few milliseconds old at the moment of the kill.
    let mut interrupted = None;
    for attempt in 1..=KILL_ATTEMPTS {
        if !wait_until_running(&server, &ids).await {
            break;
        }
        server.kill();
        let records = read_jobs(&env, &ids).await;
        server = env.start(&SETTINGS).await;

        let running: Vec<&JobRecord> = records.iter().filter(|job| job.status == JobStatus::Processing).collect();
        let waiting = records.iter().filter(|job| job.status == JobStatus::Queued).count();
        if running.len() == 1 && waiting > 0 {
            interrupted = Some(running[0].id.clone());
            break;
        }
        server_support::notice(&format!(
            "kill {attempt} found {} running and {waiting} queued jobs; trying again",
            running.len()
        ));
    }
    let interrupted = interrupted.expect("no kill landed while one job was running and others were queued");

    // Every job completes after the restart, the interrupted one included.
    let deadline = Instant::now() + COMPLETION_TIMEOUT;
    let mut results = HashMap::new();
    for id in &ids {
        let left = deadline.saturating_duration_since(Instant::now());
        let job = server.wait_for_status(id, &["completed", "failed"], left).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["progress"], 100, "{job}");
        results.insert(id.clone(), job["results"].clone());
    }

    // Exactly one signed `completed` delivery per job, across both processes.
    receiver
        .wait_until(DELIVERY_TIMEOUT, "a delivery for every job", |received| {
            ids.iter().all(|id| received.iter().any(|delivery| delivery.json()["job_id"] == id.as_str()))
        })
        .await;
    tokio::time::sleep(QUIET_PERIOD).await;
    let received = receiver.received();
    let secret = Secret::new(WEBHOOK_SECRET.as_bytes());
    let mut deliveries_per_job: HashMap<String, usize> = HashMap::new();
    for delivery in &received {
        let signature = delivery.header("x-signature").expect("an X-Signature header");
        assert!(verify_webhook(&secret, &delivery.body, signature), "a delivery does not verify: {delivery:?}");
        let payload = delivery.json();
        let id = payload["job_id"].as_str().expect("a job id in the payload").to_owned();
        assert_eq!(payload["status"], "completed", "{payload}");
        assert_eq!(payload["results"], results[&id], "{payload}");
        *deliveries_per_job.entry(id).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(
            deliveries_per_job.get(id),
            Some(&1),
            "job {id} was reported {:?} times",
            deliveries_per_job.get(id)
        );
    }
    assert_eq!(deliveries_per_job.len(), JOB_COUNT, "deliveries for unknown jobs: {deliveries_per_job:?}");
    for id in &ids {
        assert_eq!(server.job(id).await["callback_status"], "sent", "job {id}");
    }

    // The interrupted job was taken up again after its lease expired.
    server.kill();
    let records = read_jobs(&env, &ids).await;
    let record = records.iter().find(|job| job.id == interrupted).expect("the interrupted job");
    assert_eq!(record.status, JobStatus::Completed);
    assert!(record.attempts >= 2, "the interrupted job ran {} times", record.attempts);
    assert!(record.lease_owner.is_none(), "a completed job still holds a lease: {record:?}");
}

/// Polls until one job is processing and another is still queued. Returns `false` when every job
/// finished first.
async fn wait_until_running(server: &Server, ids: &[String]) -> bool {
    let deadline = Instant::now() + RUNNING_TIMEOUT;
    while Instant::now() < deadline {
        let mut processing = false;
        let mut queued = false;
        for id in ids {
            match server.job(id).await["status"].as_str() {
                Some("processing") => processing = true,
                Some("queued") => queued = true,
                _ => {}
            }
        }
        if processing && queued {
            return true;
        }
        if !queued && !processing {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no job was processing within {RUNNING_TIMEOUT:?}");
}

/// Reads the jobs from the database while no server runs.
async fn read_jobs(env: &TestEnv, ids: &[String]) -> Vec<JobRecord> {
    let store = JobStore::open_in_data_dir(env.data_dir(), StoreConfig::default()).await.expect("open the job store");
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        records.push(store.get(id).await.expect("read a job").unwrap_or_else(|| panic!("job {id} was lost")));
    }
    store.close().await;
    records
}
