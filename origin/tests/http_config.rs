//! Start-up configuration of `vylux serve`: the smallest valid environment, and invalid ones.

#[path = "support/s3.rs"]
mod s3_support;
#[path = "support/server.rs"]
mod server_support;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use server_support::{
    header, json_response, serve_command, Server, API_KEY, ENCRYPTION_KEY, HMAC_SECRET, KEY_TOKEN_SECRET,
    WEBHOOK_SECRET,
};

/// Maximum time a rejected configuration may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Returns the secrets, which every valid configuration needs.
fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HMAC_SECRET", HMAC_SECRET),
        ("API_KEY", API_KEY),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("KEY_TOKEN_SECRET", KEY_TOKEN_SECRET),
        ("ENCRYPTION_KEY", ENCRYPTION_KEY),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_only_config_is_ready() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut variables: Vec<(String, String)> =
        secrets().into_iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
    variables.push(("HOST".to_owned(), "127.0.0.1".to_owned()));
    variables.push(("DATA_DIR".to_owned(), data_dir.path().display().to_string()));
    let server = Server::start(&variables).await;

    let (status, body) = json_response(server.get("/healthz").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let (_, body) = json_response(response).await;
    assert_eq!(body["status"], "ready", "{body}");
    let checks = body["checks"].as_array().expect("a list of checks");
    let names: Vec<&str> = checks.iter().map(|check| check["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["database", "source storage", "media storage", "gstreamer"], "{body}");
    for check in checks {
        assert_eq!(check, &json!({"name": check["name"], "status": "ok"}), "{body}");
    }

    // Defaults: local buckets and the SQLite file under DATA_DIR, and the listener on HOST.
    for path in ["source", "media", vylux_origin::store::DATABASE_FILE_NAME] {
        assert!(data_dir.path().join(path).exists(), "{path} was not created under DATA_DIR");
    }
    // One JSON log line per request, with credentials reported as present or not.
    // The harness reads the server's stdout on another thread, so the line may land a moment later.
    let mut readiness_lines = Vec::new();
    for _ in 0..50 {
        readiness_lines = server.request_logs().into_iter().filter(|line| line["path"] == "/readyz").collect();
        if !readiness_lines.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(40));
    }
    assert_eq!(readiness_lines.len(), 1, "{readiness_lines:?}");
    assert_eq!(readiness_lines[0]["method"], "GET");
    assert_eq!(readiness_lines[0]["status"], 200);
    assert_eq!(readiness_lines[0]["authorization"], false);

    let logs = server.logs();
    let listening = logs.iter().find(|line| line.contains("\"vylux listening\"")).expect("a start-up log line");
    let expected_address = format!("127.0.0.1:{}", server.port);
    assert!(listening.contains(&expected_address), "{listening}");
    let text = logs.join("\n");
    for (name, value) in secrets() {
        assert!(!text.contains(value), "{name} appears in the logs");
    }
}

/// Runs `vylux serve` with `variables`, which must make it exit, and returns its output.
fn run_rejected(variables: &[(&str, &str)]) -> Output {
    let working_dir = tempfile::tempdir().unwrap();
    let mut command = serve_command();
    command.current_dir(working_dir.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in variables {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn the vylux binary");
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while child.try_wait().expect("poll the child").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vylux serve kept running with an invalid configuration: {variables:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect the output")
}

/// Returns the variable each `  - ` problem line of the error output starts with, sorted.
fn problem_variables(stderr: &str) -> Vec<String> {
    let mut names: Vec<String> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("  - "))
        .map(|problem| problem.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

/// Checks a rejected start: non-zero exit, one message per problem naming each variable in
/// `expected`, and none of `hidden` anywhere in the output.
fn assert_rejected(output: &Output, expected: &[&str], hidden: &[&str]) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}; stderr:\n{stderr}", output.status);
    assert!(stderr.starts_with("invalid configuration:"), "{stderr}");
    let mut expected: Vec<String> = expected.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();
    assert_eq!(problem_variables(&stderr), expected, "{stderr}");
    assert!(!stdout.contains("vylux listening"), "the server started: {stdout}");
    for value in hidden {
        assert!(!stderr.contains(value), "stderr shows a secret value:\n{stderr}");
        assert!(!stdout.contains(value), "stdout shows a secret value:\n{stdout}");
    }
}

#[test]
fn invalid_port_and_short_secret() {
    let short_secret = "tooshort-s3cr3t-value";
    let mut variables = secrets();
    variables.retain(|(name, _)| *name != "HMAC_SECRET");
    variables.extend([("HMAC_SECRET", short_secret), ("PORT", "70000"), ("HOST", "127.0.0.1")]);
    let output = run_rejected(&variables);

    let every_secret: Vec<&str> = secrets().iter().map(|(_, value)| *value).chain([short_secret]).collect();
    assert_rejected(&output, &["PORT", "HMAC_SECRET"], &every_secret);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("70000"), "the message does not show the rejected port: {stderr}");
}

#[test]
fn every_problem_is_reported() {
    let short_api_key = "short-api-key-value";
    let short_kek = "00ff00ff";
    let variables = [
        ("PORT", "0"),
        ("MODE", "sideways"),
        ("BASE_URL", "ftp://media.example.test"),
        ("WORKER_CONCURRENCY", "0"),
        ("MAX_FILE_SIZE", "lots"),
        ("JOB_LEASE", "1s"),
        ("API_KEY", short_api_key),
        ("ENCRYPTION_KEY", short_kek),
        ("SOURCE_S3_ENDPOINT", "http://127.0.0.1:9"),
        ("SOURCE_S3_SECRET_KEY", s3_support::SECRET_KEY),
    ];
    let output = run_rejected(&variables);
    let expected = [
        "PORT",
        "MODE",
        "BASE_URL",
        "WORKER_CONCURRENCY",
        "MAX_FILE_SIZE",
        "JOB_LEASE",
        "HMAC_SECRET",
        "API_KEY",
        "WEBHOOK_SECRET",
        "KEY_TOKEN_SECRET",
        "ENCRYPTION_KEY",
        "SOURCE_S3_ACCESS_KEY",
        "SOURCE_BUCKET",
    ];
    assert_rejected(&output, &expected, &[short_api_key, short_kek, s3_support::SECRET_KEY]);
}
