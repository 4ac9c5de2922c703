//! Runs the real `vylux serve` binary for black-box HTTP tests, plus a webhook receiver.
//!
//! Include it next to the S3 helper:
//!
//! ```ignore
//! #[path = "support/s3.rs"]
//! mod s3_support;
//! #[path = "support/server.rs"]
//! #[macro_use]
//! mod server_support;
//! ```
//!
//! - [`TestEnv`]: a data directory and a storage backend (local folders, or `s3s-fs` with the buckets
//!   `source` and `media`), with helpers that place and inspect objects the way a deployment would.
//! - [`Server`]: one `vylux serve` process on a free port of 127.0.0.1, killed (SIGKILL) when
//!   dropped. Its JSON log lines are collected and printed when a test panics.
//! - [`WebhookReceiver`]: an HTTP server on 127.0.0.1 that records each request's headers and exact
//!   body, and responds with scripted statuses.
//! - `both_backends!`: turns one async test function into a local and an S3 test.
//! - [`raw_request`]: sends a request line byte for byte, because `reqwest` normalizes `..` and
//!   backslashes out of URLs before they leave the client.

#![allow(dead_code, unused_macros)]

/// Defines a module with a `local` and an `s3` test that both run `$behaviour(backend)`.
macro_rules! both_backends {
    ($behaviour:ident) => {
        mod $behaviour {
            use super::server_support::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                super::$behaviour(Backend::Local).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                super::$behaviour(Backend::S3).await;
            }
        }
    };
}

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use vylux_common::{ObjectKey, Secret};
use vylux_origin::storage::s3::S3Store;
use vylux_origin::storage::{ObjectStore, StorageConfig};

use super::s3_support::{self, S3Server};

/// `HMAC_SECRET` of every test server. Each secret is distinctive so that a test can search the
/// logs for it.
pub const HMAC_SECRET: &str = "hmac-test-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
/// `API_KEY` of every test server.
pub const API_KEY: &str = "api-test-key-a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
/// `WEBHOOK_SECRET` of every test server.
pub const WEBHOOK_SECRET: &str = "webhook-test-secret-5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
/// `KEY_TOKEN_SECRET` of every test server.
pub const KEY_TOKEN_SECRET: &str = "token-test-secret-00112233445566778899aabb";
/// `ENCRYPTION_KEY` (the KEK, 64 hex digits) of every test server.
pub const ENCRYPTION_KEY: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";

/// Bucket names used on S3; on local storage they are the folder names under `DATA_DIR`.
pub const SOURCE_BUCKET: &str = "source";
pub const MEDIA_BUCKET: &str = "media";

/// Every variable `vylux serve` reads.
const CONFIG_VARIABLES: &[&str] = &[
    "HOST",
    "PORT",
    "MODE",
    "BASE_URL",
    "LOG_LEVEL",
    "DATA_DIR",
    "DATABASE_URL",
    "HMAC_SECRET",
    "API_KEY",
    "WEBHOOK_SECRET",
    "KEY_TOKEN_SECRET",
    "KEY_TOKEN_PREVIOUS_SECRETS",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEY_VERSION",
    "ENCRYPTION_PREVIOUS_KEYS",
    "WORKER_CONCURRENCY",
    "MAX_FILE_SIZE",
    "LARGE_FILE_THRESHOLD",
    "SHUTDOWN_TIMEOUT",
    "WORKER_SHUTDOWN_TIMEOUT",
    "JOB_LEASE",
    "SOURCE_S3_ENDPOINT",
    "SOURCE_S3_ACCESS_KEY",
    "SOURCE_S3_SECRET_KEY",
    "SOURCE_S3_REGION",
    "SOURCE_BUCKET",
    "MEDIA_S3_ENDPOINT",
    "MEDIA_S3_ACCESS_KEY",
    "MEDIA_S3_SECRET_KEY",
    "MEDIA_S3_REGION",
    "MEDIA_BUCKET",
    "RUST_LOG",
];

/// Time the server may take from spawn to a 200 from `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;
/// Log lines printed when a test panics while a server runs.
const LOG_TAIL_ON_PANIC: usize = 60;

/// Writes a notice that the test harness does not capture, for skipped tests.
pub fn notice(message: &str) {
    let _ = writeln!(std::io::stderr(), "notice: {message}");
}

/// Returns the fixtures folder: `VYLUX_FIXTURES`, else `../shared/fixtures` next to the repository.
pub fn fixtures_dir() -> Option<PathBuf> {
    let folder = match std::env::var_os("VYLUX_FIXTURES") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    folder.is_dir().then_some(folder)
}

/// Reads a fixture file, or prints a notice and returns `None` when it is missing.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let Some(folder) = fixtures_dir() else {
        notice(&format!("fixtures folder not found (set VYLUX_FIXTURES); skipping a test that needs {name}"));
        return None;
    };
    match std::fs::read(folder.join(name)) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            notice(&format!("fixture {name} not readable ({error}); skipping"));
            None
        }
    }
}

/// Returns `len` bytes of a fixed pseudo-random sequence, so range checks see varied content.
pub fn patterned_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

/// Which storage backend a [`TestEnv`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// A data directory, a storage backend and the variables that point a server at them.
///
/// The directory and the S3 server outlive every [`Server`] started from this environment, so a
/// server can be killed and started again on the same state.
pub struct TestEnv {
    pub backend: Backend,
    data_dir: tempfile::TempDir,
    s3: Option<S3Server>,
    source: Arc<dyn ObjectStore>,
    media: Arc<dyn ObjectStore>,
}

impl TestEnv {
    /// Creates an environment whose buckets are the folders `$DATA_DIR/source` and `$DATA_DIR/media`.
    pub fn local() -> Self {
        let data_dir = tempfile::tempdir().expect("create a temporary data directory");
        let open = |folder: &str| {
            vylux_origin::storage::open(&StorageConfig::Local { root: data_dir.path().join(folder) })
                .expect("open a local bucket folder")
        };
        let (source, media) = (open(SOURCE_BUCKET), open(MEDIA_BUCKET));
        Self { backend: Backend::Local, data_dir, s3: None, source, media }
    }

    /// Creates an environment on a fresh `s3s-fs` server with the buckets `source` and `media`, or `None`
    /// (after a notice) when `s3s-fs` is not installed.
    pub fn s3() -> Option<Self> {
        let server = S3Server::start()?;
        server.create_bucket(SOURCE_BUCKET);
        server.create_bucket(MEDIA_BUCKET);
        let open = |bucket: &str| -> Arc<dyn ObjectStore> {
            Arc::new(S3Store::new(&server.config(bucket)).expect("configure the S3 client"))
        };
        let (source, media) = (open(SOURCE_BUCKET), open(MEDIA_BUCKET));
        let data_dir = tempfile::tempdir().expect("create a temporary data directory");
        Some(Self { backend: Backend::S3, data_dir, s3: Some(server), source, media })
    }

    /// Builds the environment for `backend`; `None` when that backend is unavailable here.
    pub fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Local => Some(Self::local()),
            Backend::S3 => Self::s3(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Returns the SQLite file the server keeps its jobs in.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir().join(vylux_origin::store::DATABASE_FILE_NAME)
    }

    /// Returns the variables that configure a server for this environment: data directory, every
    /// secret and, on S3, the endpoint, credentials and bucket of each role.
    pub fn variables(&self) -> Vec<(String, String)> {
        let mut variables: Vec<(String, String)> = [
            ("HOST", "127.0.0.1"),
            ("HMAC_SECRET", HMAC_SECRET),
            ("API_KEY", API_KEY),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("KEY_TOKEN_SECRET", KEY_TOKEN_SECRET),
            ("ENCRYPTION_KEY", ENCRYPTION_KEY),
            ("WORKER_CONCURRENCY", "2"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        variables.push(("DATA_DIR".to_owned(), self.data_dir().display().to_string()));
        if let Some(s3) = &self.s3 {
            for (prefix, bucket) in [("SOURCE", SOURCE_BUCKET), ("MEDIA", MEDIA_BUCKET)] {
                variables.push((format!("{prefix}_S3_ENDPOINT"), s3.endpoint()));
                variables.push((format!("{prefix}_S3_ACCESS_KEY"), s3_support::ACCESS_KEY.to_owned()));
                variables.push((format!("{prefix}_S3_SECRET_KEY"), s3_support::SECRET_KEY.to_owned()));
                variables.push((format!("{prefix}_BUCKET"), bucket.to_owned()));
            }
        }
        variables
    }

    /// Starts a server with this environment's variables, then `extra` (which override them).
    pub async fn start(&self, extra: &[(&str, &str)]) -> Server {
        let mut variables = self.variables();
        for (name, value) in extra {
            variables.retain(|(existing, _)| existing != name);
            variables.push(((*name).to_owned(), (*value).to_owned()));
        }
        Server::start(&variables).await
    }

    /// Stores an object in the media bucket: a file under `$DATA_DIR/media` on local storage, an
    /// upload through the S3 API otherwise.
    pub async fn put_media(&self, key: &str, bytes: &[u8]) {
        self.put(&self.media, MEDIA_BUCKET, key, bytes).await;
    }

    /// Stores an object in the source bucket, as [`TestEnv::put_media`] does for media.
    pub async fn put_source(&self, key: &str, bytes: &[u8]) {
        self.put(&self.source, SOURCE_BUCKET, key, bytes).await;
    }

    async fn put(&self, store: &Arc<dyn ObjectStore>, folder: &str, key: &str, bytes: &[u8]) {
        match self.backend {
            Backend::Local => {
                let path = self.data_dir().join(folder).join(key);
                std::fs::create_dir_all(path.parent().expect("a key has a parent folder")).unwrap();
                std::fs::write(&path, bytes).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
            }
            Backend::S3 => {
                let object_key = ObjectKey::parse(key).expect("a valid test key");
                store
                    .put_bytes(&object_key, Bytes::copy_from_slice(bytes), None)
                    .await
                    .unwrap_or_else(|error| panic!("upload {key}: {error}"));
            }
        }
    }

    /// Returns whether a media-bucket object exists, asking the backend directly.
    pub async fn media_exists(&self, key: &str) -> bool {
        match self.backend {
            Backend::Local => self.data_dir().join(MEDIA_BUCKET).join(key).is_file(),
            Backend::S3 => {
                let object_key = ObjectKey::parse(key).expect("a valid test key");
                self.media.exists(&object_key).await.unwrap_or_else(|error| panic!("head {key}: {error}"))
            }
        }
    }

    /// Stops the S3 server, as an outage would. Does nothing on local storage.
    pub fn stop_s3(&mut self) {
        self.s3.take();
    }
}

/// Returns a `vylux serve` command whose environment lacks every configuration variable, so that
/// the caller's shell cannot change a test.
pub fn serve_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vylux"));
    command.arg("serve");
    for name in CONFIG_VARIABLES {
        command.env_remove(name);
    }
    command
}

/// Signs `/thumb` and `/original` URLs with the test servers' `HMAC_SECRET`.
pub fn signer() -> vylux_common::signing::UrlSigner {
    vylux_common::signing::UrlSigner::new(Secret::new(HMAC_SECRET.as_bytes()))
}

/// A running `vylux serve` process.
pub struct Server {
    child: Child,
    pub port: u16,
    client: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Thread that reads stderr; it ends when the process closes stderr, that is when it exits.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Spawns `vylux serve` with exactly `variables` (plus the inherited environment minus every
    /// configuration variable, see [`serve_command`]) on a free port and waits for `/healthz` to return 200.
    pub async fn start(variables: &[(String, String)]) -> Self {
        for _ in 0..START_ATTEMPTS {
            let port = s3_support::free_port();
            let mut server = Self::spawn(variables, port);
            match server.wait_until_healthy().await {
                Ok(()) => return server,
                Err(reason) if reason.contains("Address already in use") => continue,
                Err(reason) => panic!("vylux serve did not start: {reason}\nstderr:\n{}", server.stderr_text()),
            }
        }
        panic!("vylux serve did not find a free port after {START_ATTEMPTS} attempts");
    }

    fn spawn(variables: &[(String, String)], port: u16) -> Self {
        let mut command = serve_command();
        command.env("PORT", port.to_string());
        for (name, value) in variables {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the vylux binary");
        let (logs, _) = collect_lines(child.stdout.take().expect("piped stdout"));
        let (stderr, stderr_reader) = collect_lines(child.stderr.take().expect("piped stderr"));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client");
        Self { child, port, client, logs, stderr, stderr_reader: Some(stderr_reader) }
    }

    /// Waits until this process has bound its port and `/healthz` returns 200.
    ///
    /// The start-up log line (level info) is checked first, because another test's server may hold
    /// the same port when this process failed to bind it, and that server would pass the health
    /// check. A `LOG_LEVEL` above info therefore makes the start time out.
    async fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return Err(format!("the process exited with {status}: {}", self.stderr_text()));
            }
            let listening = self.logs.lock().unwrap().iter().any(|line| line.contains("\"vylux listening\""));
            if !listening {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            if let Ok(response) = self.client.get(self.url("/healthz")).send().await {
                if response.status() == StatusCode::OK {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("/healthz did not return 200 within {} s", START_TIMEOUT.as_secs()))
    }

    /// Returns `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Starts a request without credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Starts a request with the right `X-API-Key`.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).header("X-API-Key", API_KEY)
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(Method::GET, path).send().await.unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// Posts a JSON body with the API key and returns the status and the decoded JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response =
            self.api(Method::POST, path).json(body).send().await.unwrap_or_else(|error| panic!("POST {path}: {error}"));
        json_response(response).await
    }

    /// `GET /api/jobs/{id}` with the API key; panics unless the status is 200.
    pub async fn job(&self, id: &str) -> Value {
        let response = self.api(Method::GET, &format!("/api/jobs/{id}")).send().await.expect("GET job");
        let (status, body) = json_response(response).await;
        assert_eq!(status, StatusCode::OK, "GET /api/jobs/{id}: {body}");
        body
    }

    /// Polls a job until its status is one of `statuses`, failing after `timeout`.
    pub async fn wait_for_status(&self, id: &str, statuses: &[&str], timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id).await;
            if statuses.iter().any(|status| job["status"] == *status) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not reach {statuses:?} within {timeout:?}: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it to end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM, as a service manager does at shutdown, and waits up to `timeout` for the
    /// process to exit. Returns its status, or `None` if it is still running.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Returns the process status if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Returns every stdout line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Returns the stdout lines that parse as JSON with `"message": "request"`.
    pub fn request_logs(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["message"] == "request")
            .collect()
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let logs = self.logs();
            let tail = &logs[logs.len().saturating_sub(LOG_TAIL_ON_PANIC)..];
            let _ = writeln!(
                std::io::stderr(),
                "--- last {} log lines of vylux on port {} ---\n{}\n--- stderr ---\n{}",
                tail.len(),
                self.port,
                tail.join("\n"),
                self.stderr_text()
            );
        }
    }
}

/// Collects the lines of `stream` on a thread, returning them and the thread's handle.
fn collect_lines(stream: impl Read + Send + 'static) -> (Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    (lines, reader)
}

/// Reads a response's status and JSON body; a body that is not JSON panics with its text.
pub async fn json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("read the response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("status {status}, body is not JSON ({error}): {text:?}"));
    (status, body)
}

/// Returns a header's value as text, or `None` when absent.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().expect("a text header value"))
}

/// A response read by [`raw_request`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `{method} {target} HTTP/1.1` with `headers` exactly as written and reads the response.
///
/// The connection is closed after one response, so the body is everything after the headers
/// (de-chunked when the server chunked it).
pub fn raw_request(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut stream = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).expect("connect to vylux");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(name, value)| name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    RawResponse { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = data.windows(2).position(|window| window == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        body.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    body
}

/// One request the [`WebhookReceiver`] received.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    pub method: String,
    pub path: String,
    pub headers: axum::http::HeaderMap,
    /// The exact body bytes.
    pub body: Bytes,
    /// Status the receiver responded with.
    pub response_status: u16,
}

impl ReceivedWebhook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON webhook body")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<ReceivedWebhook>,
    /// Statuses for the next requests, in order; 200 once empty.
    script: VecDeque<u16>,
}

/// An HTTP server on 127.0.0.1 that records every request and responds as scripted.
///
/// A scripted 3xx response carries `Location: /redirected`, so a sender that follows redirects shows
/// up as a request to that path.
pub struct WebhookReceiver {
    address: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Binds a free port on 127.0.0.1 and serves on the current Tokio runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the receiver");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let handler_state = Arc::clone(&state);
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let state = Arc::clone(&handler_state);
            async move { record(state, request).await }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve webhooks");
        });
        Self { address, state, task }
    }

    /// Returns `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Responds to the next requests with `statuses`, in order, and 200 afterwards.
    pub fn script(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses.iter().copied());
    }

    /// Returns every request received so far.
    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until `predicate` holds for the requests received, failing after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        description: &str,
        predicate: impl Fn(&[ReceivedWebhook]) -> bool,
    ) -> Vec<ReceivedWebhook> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if predicate(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "webhook receiver: {description} not seen within {timeout:?}; got {received:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(state: Arc<Mutex<ReceiverState>>, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;

    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let headers = parts.headers;
    let mut state = state.lock().unwrap();
    let status = state.script.pop_front().unwrap_or(200);
    state.received.push(ReceivedWebhook {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers,
        body,
        response_status: status,
    });
    let code = axum::http::StatusCode::from_u16(status).expect("a valid scripted status");
    if code.is_redirection() {
        (code, [(axum::http::header::LOCATION, "/redirected")]).into_response()
    } else {
        code.into_response()
    }
}
