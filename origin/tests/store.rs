//! Job store tests against real SQLite files in temporary directories.

use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;
use vylux_common::jobs::{CallbackStatus, JobOptions, JobSpec, JobStatus, JobType, WebhookPayload};
use vylux_common::{MediaHash, ObjectKey};
use vylux_origin::store::{JobStore, StoreConfig, StoreError};

/// Lease long enough never to expire during a test.
const LONG_LEASE: Duration = Duration::from_secs(600);

/// Lease that expires quickly, and a wait that outlasts it.
const SHORT_LEASE: Duration = Duration::from_millis(50);
const PAST_SHORT_LEASE: Duration = Duration::from_millis(150);

fn hash(text: &str) -> MediaHash {
    MediaHash::parse(text).unwrap()
}

fn cover_spec(hash_text: &str, callback_url: Option<&str>) -> JobSpec {
    let options = JobOptions::from_json(JobType::VideoCover, Some(&json!({"timestamp_sec": 2}))).unwrap();
    JobSpec {
        hash: hash(hash_text),
        source: ObjectKey::parse(&format!("uploads/{hash_text}.mp4")).unwrap(),
        options,
        callback_url: callback_url.map(str::to_owned),
    }
}

fn thumbnail_spec(hash_text: &str) -> JobSpec {
    let value = json!({"outputs": [{"variant": "thumb", "width": 300, "format": "webp"}]});
    JobSpec {
        hash: hash(hash_text),
        source: ObjectKey::parse(&format!("uploads/{hash_text}.jpg")).unwrap(),
        options: JobOptions::from_json(JobType::ImageThumbnail, Some(&value)).unwrap(),
        callback_url: None,
    }
}

async fn open(dir: &TempDir) -> JobStore {
    open_with(dir, StoreConfig::default()).await
}

async fn open_with(dir: &TempDir, config: StoreConfig) -> JobStore {
    JobStore::open_in_data_dir(dir.path(), config).await.unwrap()
}

fn assert_lease_not_held<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::LeaseNotHeld { .. }) => {}
        other => panic!("expected LeaseNotHeld, got {other:?}"),
    }
}

// Opening and restarts.

#[tokio::test]
async fn open_creates_missing_data_dir() {
    let dir = TempDir::new().unwrap();
    let data_dir = dir.path().join("nested").join("data");
    let store = JobStore::open_in_data_dir(&data_dir, StoreConfig::default()).await.unwrap();

    store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();

    assert!(data_dir.join("vylux.db").is_file());
    assert!(data_dir.join("vylux.db-wal").is_file(), "the database runs in WAL mode");
}

#[tokio::test]
async fn open_rejects_other_schemes() {
    let error = JobStore::open("postgres://user:secret@127.0.0.1/vylux", StoreConfig::default()).await.unwrap_err();
    let message = error.to_string();

    assert!(matches!(error, StoreError::UnsupportedDatabase { .. }));
    assert!(message.contains("\"postgres\""), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn jobs_survive_restart() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (created, _) =
        store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    let claimed = store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.set_progress(&claimed.id, "worker-a", 40).await.unwrap();
    store.close().await;

    let reopened = open(&dir).await;
    let job = reopened.get(&created.id).await.unwrap().unwrap();

    assert_eq!(job.status, JobStatus::Processing);
    assert_eq!(job.progress, 40);
    assert_eq!(job.lease_owner.as_deref(), Some("worker-a"));
    assert_eq!(job.attempts, 1);
    assert_eq!(job.spec(), cover_spec("movie-1", Some("http://127.0.0.1:9/hook")));
    assert_eq!(job.fingerprint, created.fingerprint);
    assert_eq!(job.created_at, created.created_at);
    assert_eq!(reopened.list_by_hash(&hash("movie-1")).await.unwrap().len(), 1);

    // The worker that held the lease before the restart can still finish the job.
    let completed = reopened.complete(&job.id, "worker-a", &json!({"key": "k"})).await.unwrap();
    assert_eq!(completed.status, JobStatus::Completed);
}

// Idempotency.

#[tokio::test]
async fn identical_request_reuses_job() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;

    let (first, first_created) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    let (second, second_created) =
        store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/other")), None).await.unwrap();
    let (other, other_created) = store.create_or_reuse(&cover_spec("movie-2", None), None).await.unwrap();

    assert!(first_created);
    assert!(!second_created);
    assert_eq!(second.id, first.id);
    assert_eq!(second.callback_url, None, "the first request's callback stays");
    assert!(other_created);
    assert_ne!(other.id, first.id);
    assert_eq!(first.status, JobStatus::Queued);
    assert_eq!(first.fingerprint, cover_spec("movie-1", None).fingerprint());
    assert_eq!(store.find_active(&first.fingerprint).await.unwrap().map(|job| job.id), Some(first.id));
}

#[tokio::test]
async fn completed_job_is_reused() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.complete(&job.id, "worker-a", &json!({"key": "k"})).await.unwrap();

    let (reused, created) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();

    assert!(!created);
    assert_eq!(reused.id, job.id);
    assert_eq!(reused.status, JobStatus::Completed);
    assert_eq!(reused.results, Some(json!({"key": "k"})));
}

#[tokio::test]
async fn failed_job_is_not_reused() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.fail(&job.id, "worker-a", "decode failed", None, false).await.unwrap();

    assert_eq!(store.find_active(&job.fingerprint).await.unwrap(), None);
    let (retry, created) = store.create_or_reuse(&cover_spec("movie-1", None), Some(&job.id)).await.unwrap();

    assert!(created);
    assert_ne!(retry.id, job.id);
    assert_eq!(retry.retry_of_job_id.as_deref(), Some(job.id.as_str()));
    assert_eq!(retry.status, JobStatus::Queued);
    assert_eq!(store.list_by_hash(&hash("movie-1")).await.unwrap().len(), 2);
}

#[tokio::test]
async fn retry_of_unknown_job_rejected() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;

    let result = store.create_or_reuse(&cover_spec("movie-1", None), Some("no-such-job")).await;

    assert!(matches!(result, Err(StoreError::JobNotFound(ref id)) if id == "no-such-job"), "{result:?}");
    assert!(store.list_by_hash(&hash("movie-1")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_requests_make_one_job() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    // A second pool on the same file behaves like a second origin process.
    let other_process = open(&dir).await;

    let mut tasks = Vec::new();
    for index in 0..16 {
        let store = if index % 2 == 0 { store.clone() } else { other_process.clone() };
        tasks.push(tokio::spawn(async move { store.create_or_reuse(&cover_spec("movie-1", None), None).await }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }

    let created_count = outcomes.iter().filter(|(_, created)| *created).count();
    assert_eq!(created_count, 1);
    let first_id = &outcomes[0].0.id;
    for (job, _) in &outcomes {
        assert_eq!(&job.id, first_id);
    }
    assert_eq!(store.list_by_hash(&hash("movie-1")).await.unwrap().len(), 1);
}

// Claiming and leases.

#[tokio::test]
async fn claim_takes_oldest_job_first() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    assert_eq!(store.claim_next("worker-a", LONG_LEASE).await.unwrap(), None);
    let (first, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    let (second, _) = store.create_or_reuse(&cover_spec("movie-2", None), None).await.unwrap();

    let claimed_first = store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    let claimed_second = store.claim_next("worker-b", LONG_LEASE).await.unwrap().unwrap();

    assert_eq!(claimed_first.id, first.id);
    assert_eq!(claimed_first.status, JobStatus::Processing);
    assert_eq!(claimed_first.attempts, 1);
    assert_eq!(claimed_first.lease_owner.as_deref(), Some("worker-a"));
    assert!(claimed_first.lease_expires_at.unwrap() > claimed_first.updated_at);
    assert_eq!(claimed_second.id, second.id);
    assert_eq!(store.claim_next("worker-c", LONG_LEASE).await.unwrap(), None, "leased jobs are not claimable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_claim_each_job_once() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let other_process = open(&dir).await;
    let mut expected = Vec::new();
    for index in 0..12 {
        let (job, _) = store.create_or_reuse(&cover_spec(&format!("movie-{index}"), None), None).await.unwrap();
        expected.push(job.id);
    }

    let mut workers = Vec::new();
    for worker in 0..6 {
        let store = if worker % 2 == 0 { store.clone() } else { other_process.clone() };
        workers.push(tokio::spawn(async move {
            let worker_id = format!("worker-{worker}");
            let mut claimed = Vec::new();
            while let Some(job) = store.claim_next(&worker_id, LONG_LEASE).await.unwrap() {
                claimed.push(job.id);
            }
            claimed
        }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }

    claimed.sort();
    expected.sort();
    assert_eq!(claimed, expected);
}

#[tokio::test]
async fn claim_filters_by_job_type() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (cover, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    let (thumbnail, _) = store.create_or_reuse(&thumbnail_spec("photo-1"), None).await.unwrap();

    let none = store.claim_next_of_types("worker-a", LONG_LEASE, &[]).await.unwrap();
    let image = store.claim_next_of_types("worker-a", LONG_LEASE, &[JobType::ImageThumbnail]).await.unwrap();
    let video =
        store.claim_next_of_types("worker-b", LONG_LEASE, &[JobType::VideoCover, JobType::VideoFull]).await.unwrap();

    assert_eq!(none, None);
    assert_eq!(image.map(|job| job.id), Some(thumbnail.id));
    assert_eq!(video.map(|job| job.id), Some(cover.id));
}

#[tokio::test]
async fn expired_lease_lets_another_worker_claim() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", SHORT_LEASE).await.unwrap().unwrap();
    store.set_progress(&job.id, "worker-a", 30).await.unwrap();

    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let reclaimed = store.claim_next("worker-b", LONG_LEASE).await.unwrap().unwrap();

    assert_eq!(reclaimed.id, job.id);
    assert_eq!(reclaimed.lease_owner.as_deref(), Some("worker-b"));
    assert_eq!(reclaimed.attempts, 2);
    assert_eq!(reclaimed.progress, 0);

    // The first worker comes back: its updates are rejected and change nothing.
    assert_lease_not_held(store.set_progress(&job.id, "worker-a", 90).await);
    assert_lease_not_held(store.complete(&job.id, "worker-a", &json!({"stale": true})).await);
    let current = store.get(&job.id).await.unwrap().unwrap();
    assert_eq!(current.status, JobStatus::Processing);
    assert_eq!(current.progress, 0);
    assert_eq!(current.results, None);

    let completed = store.complete(&job.id, "worker-b", &json!({"key": "k"})).await.unwrap();
    assert_eq!(completed.status, JobStatus::Completed);
    assert_eq!(store.queue_counts().await.unwrap().webhooks_pending, 1);
}

#[tokio::test]
async fn stale_holder_updates_rejected() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.set_progress(&job.id, "worker-a", 25).await.unwrap();
    let before = store.get(&job.id).await.unwrap().unwrap();

    assert_lease_not_held(store.renew_lease(&job.id, "worker-b", LONG_LEASE).await);
    assert_lease_not_held(store.set_progress(&job.id, "worker-b", 50).await);
    assert_lease_not_held(store.complete(&job.id, "worker-b", &json!({})).await);
    assert_lease_not_held(store.fail(&job.id, "worker-b", "boom", None, true).await);
    assert_lease_not_held(store.release(&job.id, "worker-b").await);

    let after = store.get(&job.id).await.unwrap().unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn updates_to_unknown_job_rejected() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;

    let progress = store.set_progress("no-such-job", "worker-a", 10).await;
    let completion = store.complete("no-such-job", "worker-a", &json!({})).await;

    assert!(matches!(progress, Err(StoreError::JobNotFound(ref id)) if id == "no-such-job"), "{progress:?}");
    assert!(matches!(completion, Err(StoreError::JobNotFound(_))), "{completion:?}");
}

#[tokio::test]
async fn progress_above_100_rejected() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();

    let result = store.set_progress(&job.id, "worker-a", 101).await;
    store.set_progress(&job.id, "worker-a", 100).await.unwrap();

    assert!(matches!(result, Err(StoreError::InvalidProgress(101))), "{result:?}");
    assert_eq!(store.get(&job.id).await.unwrap().unwrap().progress, 100);
}

#[tokio::test]
async fn renew_lease_keeps_job_leased() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    let claimed = store.claim_next("worker-a", SHORT_LEASE).await.unwrap().unwrap();

    let expires_at = store.renew_lease(&job.id, "worker-a", LONG_LEASE).await.unwrap();
    tokio::time::sleep(PAST_SHORT_LEASE).await;

    assert!(expires_at > claimed.lease_expires_at.unwrap());
    assert_eq!(store.get(&job.id).await.unwrap().unwrap().lease_expires_at, Some(expires_at));
    assert_eq!(store.claim_next("worker-b", LONG_LEASE).await.unwrap(), None);
}

#[tokio::test]
async fn release_returns_attempt() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.set_progress(&job.id, "worker-a", 60).await.unwrap();

    let released = store.release(&job.id, "worker-a").await.unwrap();
    let reclaimed = store.claim_next("worker-b", LONG_LEASE).await.unwrap().unwrap();

    assert_eq!(released.status, JobStatus::Queued);
    assert_eq!(released.attempts, 0);
    assert_eq!(released.progress, 0);
    assert_eq!(released.lease_owner, None);
    assert_eq!(reclaimed.id, job.id);
    assert_eq!(reclaimed.attempts, 1);
}

// Failures and retries.

#[tokio::test]
async fn retryable_failure_waits_for_backoff() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { retry_base_delay: Duration::from_secs(30), ..StoreConfig::default() };
    let store = open_with(&dir, config).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();

    let failed =
        store.fail(&job.id, "worker-a", "source download timed out", Some(&json!({"partial": 1})), true).await.unwrap();

    assert_eq!(failed.status, JobStatus::Queued);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.error.as_deref(), Some("source download timed out"));
    assert_eq!(failed.results, Some(json!({"partial": 1})));
    assert_eq!(failed.lease_owner, None);
    assert_eq!(failed.next_attempt_at - failed.updated_at, time::Duration::seconds(30));
    assert_eq!(store.claim_next("worker-b", LONG_LEASE).await.unwrap(), None, "not due before the backoff ends");
    assert_eq!(store.queue_counts().await.unwrap().webhooks_pending, 0, "no webhook before the final outcome");
    assert_eq!(store.find_active(&job.fingerprint).await.unwrap().map(|job| job.id), Some(job.id));
}

#[tokio::test]
async fn retries_end_in_final_failure() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig {
        retry_base_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        ..StoreConfig::default()
    };
    let store = open_with(&dir, config).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    assert_eq!(job.max_attempts, 3);

    let mut delays = Vec::new();
    let mut last = job.clone();
    for attempt in 1..=3u32 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let claimed = store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
        assert_eq!(claimed.attempts, attempt);
        assert_eq!(claimed.error, None, "a new attempt clears the error");
        last = store.fail(&job.id, "worker-a", &format!("attempt {attempt} failed"), None, true).await.unwrap();
        if last.status == JobStatus::Queued {
            delays.push(last.next_attempt_at - last.updated_at);
        }
    }

    assert_eq!(delays, vec![time::Duration::milliseconds(1), time::Duration::milliseconds(2)]);
    assert_eq!(last.status, JobStatus::Failed);
    assert_eq!(last.attempts, 3);
    assert_eq!(last.error.as_deref(), Some("attempt 3 failed"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.claim_next("worker-a", LONG_LEASE).await.unwrap(), None);

    let delivery = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();
    let payload: WebhookPayload = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload.status, JobStatus::Failed);
    assert_eq!(payload.error.as_deref(), Some("attempt 3 failed"));
}

#[tokio::test]
async fn permanent_failure_skips_retries() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();

    let failed = store.fail(&job.id, "worker-a", "invalid source", None, false).await.unwrap();

    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.error.as_deref(), Some("invalid source"));
    assert_lease_not_held(store.fail(&job.id, "worker-a", "again", None, false).await);
    assert_eq!(store.queue_counts().await.unwrap().webhooks_pending, 0, "no callback URL, no delivery");
}

#[tokio::test]
async fn expired_final_attempt_fails_job() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { max_attempts: 1, ..StoreConfig::default() };
    let store = open_with(&dir, config).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", SHORT_LEASE).await.unwrap().unwrap();

    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let claimed = store.claim_next("worker-b", LONG_LEASE).await.unwrap();
    let failed = store.get(&job.id).await.unwrap().unwrap();

    assert_eq!(claimed, None);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("worker lease expired during the final attempt"));
    assert_eq!(failed.lease_owner, None);
    assert_lease_not_held(store.complete(&job.id, "worker-a", &json!({})).await);
    let delivery = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();
    assert_eq!(delivery.job_id, job.id);
}

// Webhook outbox.

#[tokio::test]
async fn completion_enqueues_exact_webhook_body() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    let results = json!({"key": "videos/mo/movie-1/cover.jpg", "format": "jpg", "size": 1234});

    let completed = store.complete(&job.id, "worker-a", &results).await.unwrap();
    let delivery = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();

    let expected = format!(
        r#"{{"job_id":"{}","type":"video:cover","hash":"movie-1","status":"completed","results":{{"format":"jpg","key":"videos/mo/movie-1/cover.jpg","size":1234}}}}"#,
        job.id
    );
    assert_eq!(String::from_utf8(delivery.body.clone()).unwrap(), expected);
    assert_eq!(delivery.body, completed.webhook_body());
    assert_eq!(delivery.job_id, job.id);
    assert_eq!(delivery.url, "http://127.0.0.1:9/hook");
    assert_eq!(delivery.attempts, 1);
    assert_eq!(store.claim_webhook(LONG_LEASE).await.unwrap(), None, "a leased delivery is not handed out twice");
    assert_eq!(completed.progress, 100);
    assert_eq!(completed.error, None);
    assert_eq!(completed.callback_status, CallbackStatus::Pending);
}

#[tokio::test]
async fn webhook_delivered_once_per_job() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.complete(&job.id, "worker-a", &json!({"key": "k"})).await.unwrap();

    // A repeated completion, also after a restart, is rejected and adds no delivery.
    assert_lease_not_held(store.complete(&job.id, "worker-a", &json!({"key": "k2"})).await);
    store.close().await;
    let store = open(&dir).await;
    assert_lease_not_held(store.complete(&job.id, "worker-a", &json!({"key": "k3"})).await);
    assert_eq!(store.claim_next("worker-b", LONG_LEASE).await.unwrap(), None);

    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.completed, 1);
    assert_eq!(counts.webhooks_pending, 1);
    let delivery = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();
    let payload: WebhookPayload = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload.results, Some(json!({"key": "k"})));
    assert_eq!(store.get(&job.id).await.unwrap().unwrap().results, Some(json!({"key": "k"})));
}

#[tokio::test]
async fn webhook_outbox_survives_restart() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.complete(&job.id, "worker-a", &json!({"key": "k"})).await.unwrap();

    // A sender claims the delivery and dies before it reports back.
    let first = store.claim_webhook(SHORT_LEASE).await.unwrap().unwrap();
    store.close().await;

    let store = open(&dir).await;
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let second = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.body, first.body);
    assert_eq!(second.attempts, 2);

    store.webhook_sent(&second.id).await.unwrap();
    let job = store.get(&job.id).await.unwrap().unwrap();
    assert_eq!(job.callback_status, CallbackStatus::Sent);
    assert_eq!(store.claim_webhook(LONG_LEASE).await.unwrap(), None);
    let repeated = store.webhook_sent(&second.id).await;
    assert!(matches!(repeated, Err(StoreError::DeliveryNotPending(_))), "{repeated:?}");
    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.webhooks_sent, 1);
    assert_eq!(counts.webhooks_pending, 0);
}

#[tokio::test]
async fn webhook_retry_then_failure() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.fail(&job.id, "worker-a", "invalid source", None, false).await.unwrap();
    let delivery = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();

    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store.webhook_retry(&delivery.id, "HTTP 500", later).await.unwrap();
    assert_eq!(store.claim_webhook(LONG_LEASE).await.unwrap(), None, "not due before next_attempt_at");
    let due = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    store.webhook_retry(&delivery.id, "HTTP 500", due).await.unwrap();
    let retried = store.claim_webhook(LONG_LEASE).await.unwrap().unwrap();
    assert_eq!(retried.id, delivery.id);
    assert_eq!(retried.attempts, 2);
    assert_eq!(store.get(&job.id).await.unwrap().unwrap().callback_status, CallbackStatus::Pending);

    store.webhook_failed(&retried.id, "HTTP 500 after 5 attempts").await.unwrap();

    let job = store.get(&job.id).await.unwrap().unwrap();
    assert_eq!(job.callback_status, CallbackStatus::CallbackFailed);
    assert_eq!(store.claim_webhook(LONG_LEASE).await.unwrap(), None);
    let counts = store.queue_counts().await.unwrap();
    assert_eq!(counts.webhooks_failed, 1);
    assert_eq!(counts.failed, 1);
    let late_retry = store.webhook_retry(&retried.id, "late", due).await;
    assert!(matches!(late_retry, Err(StoreError::DeliveryNotPending(_))), "{late_retry:?}");
}

// API views, deletion and keys.

#[tokio::test]
async fn status_response_uses_second_precision() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();

    let body = serde_json::to_value(job.to_status_response()).unwrap();

    let created_at = body["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), "2026-04-01T08:00:00Z".len(), "{created_at}");
    assert!(created_at.ends_with('Z'), "{created_at}");
    let parsed = time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(parsed.unix_timestamp(), job.created_at.unix_timestamp());
    assert_eq!(body["job_id"], Value::String(job.id.clone()));
    assert_eq!(body["type"], "video:cover");
    assert_eq!(body["hash"], "movie-1");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["callback_status"], "pending");
    assert_eq!(body["progress"], 0);
    assert!(body.get("error").is_none());
    assert!(body.get("results").is_none());
    assert!(body.get("retry_of_job_id").is_none());
}

#[tokio::test]
async fn delete_by_hash_removes_rows() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.create_or_reuse(&thumbnail_spec("movie-1"), None).await.unwrap();
    let (kept, _) = store.create_or_reuse(&cover_spec("movie-2", Some("http://127.0.0.1:9/hook")), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    store.complete(&job.id, "worker-a", &json!({"key": "k"})).await.unwrap();
    store.put_key(&hash("movie-1"), &[1; 32], &[2; 12], "v1").await.unwrap();
    store.put_key(&hash("movie-2"), &[3; 32], &[4; 12], "v1").await.unwrap();

    let deleted = store.delete_by_hash(&hash("movie-1")).await.unwrap();

    assert_eq!(deleted.jobs, 2);
    assert_eq!(deleted.webhook_deliveries, 1);
    assert_eq!(deleted.content_keys, 1);
    assert!(store.list_by_hash(&hash("movie-1")).await.unwrap().is_empty());
    assert_eq!(store.get(&job.id).await.unwrap(), None);
    assert_eq!(store.get_key(&hash("movie-1")).await.unwrap(), None);
    assert_eq!(store.claim_webhook(LONG_LEASE).await.unwrap(), None);
    assert_eq!(store.get(&kept.id).await.unwrap().map(|job| job.id), Some(kept.id.clone()));
    assert!(store.get_key(&hash("movie-2")).await.unwrap().is_some());

    let again = store.delete_by_hash(&hash("movie-1")).await.unwrap();
    assert_eq!(again.jobs, 0);
}

#[tokio::test]
async fn delete_by_hash_stops_worker() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let (job, _) = store.create_or_reuse(&cover_spec("movie-1", None), None).await.unwrap();
    store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();

    store.delete_by_hash(&hash("movie-1")).await.unwrap();
    let progress = store.set_progress(&job.id, "worker-a", 50).await;

    assert!(matches!(progress, Err(StoreError::JobNotFound(ref id)) if *id == job.id), "{progress:?}");
}

#[tokio::test]
async fn content_key_round_trip() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let movie = hash("movie-1");
    assert_eq!(store.get_key(&movie).await.unwrap(), None);

    store.put_key(&movie, &[7; 32], &[8; 12], "v1").await.unwrap();
    let first = store.get_key(&movie).await.unwrap().unwrap();
    store.put_key(&movie, &[9; 32], &[10; 12], "v2").await.unwrap();
    let replaced = store.get_key(&movie).await.unwrap().unwrap();

    assert_eq!(first.wrapped_key, vec![7; 32]);
    assert_eq!(first.nonce, vec![8; 12]);
    assert_eq!(first.kek_version, "v1");
    assert_eq!(replaced.wrapped_key, vec![9; 32]);
    assert_eq!(replaced.nonce, vec![10; 12]);
    assert_eq!(replaced.kek_version, "v2");
    assert!(!format!("{replaced:?}").contains("9, 9"), "Debug shows lengths, not bytes");
    assert!(store.delete_key(&movie).await.unwrap());
    assert!(!store.delete_key(&movie).await.unwrap());
    assert_eq!(store.get_key(&movie).await.unwrap(), None);
}

#[tokio::test]
async fn queue_counts_by_status() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    for name in ["a-1", "a-2", "a-3", "a-4"] {
        store.create_or_reuse(&cover_spec(name, None), None).await.unwrap();
    }
    let processing = store.claim_next("worker-a", LONG_LEASE).await.unwrap().unwrap();
    let failing = store.claim_next("worker-b", LONG_LEASE).await.unwrap().unwrap();
    store.fail(&failing.id, "worker-b", "invalid source", None, false).await.unwrap();
    let completing = store.claim_next("worker-c", LONG_LEASE).await.unwrap().unwrap();
    store.complete(&completing.id, "worker-c", &json!({})).await.unwrap();

    let counts = store.queue_counts().await.unwrap();

    assert_eq!(counts.queued, 1);
    assert_eq!(counts.processing, 1);
    assert_eq!(counts.completed, 1);
    assert_eq!(counts.failed, 1);
    assert_eq!(counts.cancelled, 0);
    assert_eq!(counts.webhooks_pending, 0);
    assert_eq!(store.get(&processing.id).await.unwrap().unwrap().status, JobStatus::Processing);
}

// Compile-time checks.

fn assert_send<T: Send>(_: T) {}

/// Fails to compile if a store future cannot cross threads, which axum handlers and spawned
/// workers require. It is never called.
#[allow(dead_code)]
fn store_futures_are_send(store: JobStore, spec: JobSpec, results: Value) {
    let movie = hash("movie-1");
    assert_send(store.create_or_reuse(&spec, None));
    assert_send(store.find_active("fingerprint"));
    assert_send(store.get("id"));
    assert_send(store.list_by_hash(&movie));
    assert_send(store.delete_by_hash(&movie));
    assert_send(store.queue_counts());
    assert_send(store.claim_next("worker", LONG_LEASE));
    assert_send(store.claim_next_of_types("worker", LONG_LEASE, &[JobType::VideoCover]));
    assert_send(store.renew_lease("id", "worker", LONG_LEASE));
    assert_send(store.set_progress("id", "worker", 1));
    assert_send(store.complete("id", "worker", &results));
    assert_send(store.fail("id", "worker", "error", None, true));
    assert_send(store.release("id", "worker"));
    assert_send(store.claim_webhook(LONG_LEASE));
    assert_send(store.webhook_sent("id"));
    assert_send(store.webhook_retry("id", "error", time::OffsetDateTime::now_utc()));
    assert_send(store.webhook_failed("id", "error"));
    assert_send(store.put_key(&movie, &[], &[], "v1"));
    assert_send(store.get_key(&movie));
    assert_send(store.delete_key(&movie));
    assert_send(store.ping());
}
