//! Server configuration from environment variables.
//!
//! Variable names and defaults follow Vylux, so an existing deployment's environment works
//! unchanged. Without S3 settings both buckets are folders under `DATA_DIR` and job state is a
//! SQLite file there, so nothing else has to run. Loading collects every problem and reports one
//! message per problem, naming the variable and never a secret's value.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use vylux_common::secret::{MIN_SIGNING_SECRET_LEN, MIN_TOKEN_SECRET_LEN};
use vylux_common::token::TokenKeys;
use vylux_common::Secret;

use crate::keys::KekSet;
use crate::storage::BucketConfigs;

/// Default HTTP port.
pub const DEFAULT_PORT: u16 = 3000;
/// Default number of concurrent job workers, as in Vylux.
pub const DEFAULT_WORKER_CONCURRENCY: usize = 10;
/// Memory set aside for one HLS ladder: about twice the 1.05 GiB peak of a 1080p ladder measured
/// with `vylux bench transcode`, which leaves room for the other jobs and the server.
pub const LADDER_MEMORY: u64 = 2 * 1024 * 1024 * 1024;
/// Cores one HLS ladder keeps busy before more ladders at once stop adding throughput; an
/// estimate, since x264 already spreads each rung over every core.
pub const LADDER_CORES: usize = 4;
/// Default largest source accepted, in bytes (50 GiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 50 * 1024 * 1024 * 1024;
/// Default size from which a source counts as large, in bytes (5 GiB).
pub const DEFAULT_LARGE_FILE_THRESHOLD: u64 = 5 * 1024 * 1024 * 1024;
/// Default time the HTTP server waits for open requests at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time workers get to finish their jobs at shutdown before the jobs are released.
pub const DEFAULT_WORKER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(600);
/// Default job lease.
pub const DEFAULT_JOB_LEASE: Duration = Duration::from_secs(60);
/// Shortest job lease accepted; the lease is renewed every third of its length.
pub const MIN_JOB_LEASE: Duration = Duration::from_secs(3);
/// Largest JSON body the job API accepts, in bytes.
pub const MAX_API_BODY_BYTES: usize = 64 * 1024;

/// Roles this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP server and job workers.
    All,
    /// HTTP server only.
    Server,
    /// Job workers and webhook sender only, with `/healthz` and `/metrics` on the same port.
    Worker,
}

impl Mode {
    pub fn runs_server(self) -> bool {
        matches!(self, Self::All | Self::Server)
    }

    pub fn runs_workers(self) -> bool {
        matches!(self, Self::All | Self::Worker)
    }
}

/// The whole configuration of `vylux serve`.
pub struct Config {
    pub port: u16,
    pub mode: Mode,
    /// Public base URL without a trailing slash, used in key URIs. Empty means key URIs are
    /// root-relative (`/api/key/{hash}`), which resolve against the host that served the playlist.
    pub base_url: String,
    pub log_level: String,
    pub data_dir: PathBuf,
    /// `DATABASE_URL`, or the SQLite file `vylux.db` under `data_dir`.
    pub database_url: String,
    pub buckets: BucketConfigs,
    pub hmac_secret: Secret,
    pub api_key: Secret,
    pub webhook_secret: Secret,
    pub token_keys: TokenKeys,
    pub keks: KekSet,
    pub worker_concurrency: usize,
    /// HLS ladders run at once in this process (`TRANSCODE_CONCURRENCY`, default from the
    /// machine's cores and memory, see [`default_transcode_concurrency`]).
    pub transcode_concurrency: usize,
    pub max_file_size: u64,
    pub large_file_threshold: u64,
    pub shutdown_timeout: Duration,
    pub worker_shutdown_timeout: Duration,
    /// How long a claimed job stays leased without renewal (`JOB_LEASE`, default 60 s). A job
    /// whose worker died is taken up again this long after the worker's last renewal.
    pub job_lease: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("mode", &self.mode)
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .field("buckets", &self.buckets)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("transcode_concurrency", &self.transcode_concurrency)
            .finish_non_exhaustive()
    }
}

/// Every configuration problem found, one message each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for message in &self.0 {
            writeln!(f, "  - {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let read = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let mut errors = Vec::new();

        let port = parse_or(&read, "PORT", u64::from(DEFAULT_PORT), &mut errors, |value: u64| {
            (1..=65535).contains(&value).then_some(value).ok_or("must be between 1 and 65535")
        }) as u16;
        let mode = match read("MODE").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("all") => Mode::All,
            Some("server") => Mode::Server,
            Some("worker") => Mode::Worker,
            Some(other) => {
                errors.push(format!("MODE must be all, server or worker, got {other:?}"));
                Mode::All
            }
        };
        let base_url = match read("BASE_URL") {
            None => String::new(),
            Some(url) => normalize_http_url(&url).unwrap_or_else(|message| {
                errors.push(format!("BASE_URL {message}"));
                String::new()
            }),
        };
        let log_level = read("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()).to_ascii_lowercase();
        let data_dir = PathBuf::from(read("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let database_url = read("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join(crate::store::DATABASE_FILE_NAME).display()));

        let buckets = BucketConfigs::from_lookup(&lookup).map_err(|problems| errors.extend(problems)).ok();

        let mut secret = |name: &str, min_len: usize| match Secret::from_config(name, read(name).as_deref(), min_len) {
            Ok(secret) => Some(secret),
            Err(error) => {
                errors.push(error.to_string());
                None
            }
        };
        let hmac_secret = secret("HMAC_SECRET", MIN_SIGNING_SECRET_LEN);
        let api_key = secret("API_KEY", MIN_SIGNING_SECRET_LEN);
        let webhook_secret = secret("WEBHOOK_SECRET", MIN_SIGNING_SECRET_LEN);
        let token_secret = secret("KEY_TOKEN_SECRET", MIN_TOKEN_SECRET_LEN);

        let mut previous_token_secrets = Vec::new();
        if let Some(list) = read(crate::cli::PREVIOUS_TOKEN_SECRETS_VAR) {
            for (index, value) in list.split(',').map(str::trim).filter(|value| !value.is_empty()).enumerate() {
                let name = format!("{} entry {}", crate::cli::PREVIOUS_TOKEN_SECRETS_VAR, index + 1);
                match Secret::from_config(&name, Some(value), MIN_TOKEN_SECRET_LEN) {
                    Ok(secret) => previous_token_secrets.push(secret),
                    Err(error) => errors.push(error.to_string()),
                }
            }
        }

        let keks = match KekSet::from_config(
            read("ENCRYPTION_KEY").as_deref(),
            read("ENCRYPTION_KEY_VERSION").as_deref(),
            read("ENCRYPTION_PREVIOUS_KEYS").as_deref(),
        ) {
            Ok(keks) => Some(keks),
            Err(problems) => {
                errors.extend(problems);
                None
            }
        };

        let worker_concurrency = parse_or(&read, "WORKER_CONCURRENCY", DEFAULT_WORKER_CONCURRENCY, &mut errors, |value| {
            (value >= 1).then_some(value).ok_or("must be at least 1")
        });
        let default_transcodes = default_transcode_concurrency(
            std::thread::available_parallelism().map_or(1, usize::from),
            total_memory(),
        );
        let transcode_concurrency = parse_or(&read, "TRANSCODE_CONCURRENCY", default_transcodes, &mut errors, |value| {
            (value >= 1).then_some(value).ok_or("must be at least 1")
        });
        let max_file_size = parse_or(&read, "MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE, &mut errors, |value| {
            (value >= 1).then_some(value).ok_or("must be at least 1")
        });
        let large_file_threshold =
            parse_or(&read, "LARGE_FILE_THRESHOLD", DEFAULT_LARGE_FILE_THRESHOLD.min(max_file_size), &mut errors, |value| {
                (value >= 1).then_some(value).ok_or("must be at least 1")
            });
        if large_file_threshold > max_file_size {
            errors.push(format!(
                "LARGE_FILE_THRESHOLD ({large_file_threshold}) must not exceed MAX_FILE_SIZE ({max_file_size})"
            ));
        }
        let shutdown_timeout = parse_duration_or(&read, "SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT, &mut errors);
        let worker_shutdown_timeout =
            parse_duration_or(&read, "WORKER_SHUTDOWN_TIMEOUT", DEFAULT_WORKER_SHUTDOWN_TIMEOUT, &mut errors);
        let job_lease = parse_duration_or(&read, "JOB_LEASE", DEFAULT_JOB_LEASE, &mut errors);
        if job_lease < MIN_JOB_LEASE {
            errors.push(format!("JOB_LEASE must be at least {} s, got {job_lease:?}", MIN_JOB_LEASE.as_secs()));
        }

        match (buckets, hmac_secret, api_key, webhook_secret, token_secret, keks) {
            (Some(buckets), Some(hmac_secret), Some(api_key), Some(webhook_secret), Some(token_secret), Some(keks))
                if errors.is_empty() =>
            {
                Ok(Self {
                    port,
                    mode,
                    base_url,
                    log_level,
                    data_dir,
                    database_url,
                    buckets,
                    hmac_secret,
                    api_key,
                    webhook_secret,
                    token_keys: TokenKeys::new(token_secret, previous_token_secrets),
                    keks,
                    worker_concurrency,
                    transcode_concurrency,
                    max_file_size,
                    large_file_threshold,
                    shutdown_timeout,
                    worker_shutdown_timeout,
                    job_lease,
                })
            }
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// Returns the key URI written into playlists and results for `hash`.
    pub fn key_uri(&self, hash: &str) -> String {
        format!("{}/api/key/{hash}", self.base_url)
    }
}

/// Returns how many HLS ladders may run at once by default: one per [`LADDER_CORES`] cores and
/// at most one per [`LADDER_MEMORY`] of memory, but at least one. `memory` is `None` where the
/// total is unknown, and then only the cores count.
pub fn default_transcode_concurrency(cores: usize, memory: Option<u64>) -> usize {
    let by_cores = cores / LADDER_CORES;
    let by_memory = memory.map_or(usize::MAX, |bytes| usize::try_from(bytes / LADDER_MEMORY).unwrap_or(usize::MAX));
    by_cores.min(by_memory).max(1)
}

/// Returns the machine's total memory in bytes from `/proc/meminfo`, or `None` where that file is
/// missing or unreadable.
fn total_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kibibytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kibibytes * 1024)
}

fn parse_or<T, F>(
    read: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    errors: &mut Vec<String>,
    check: F,
) -> T
where
    T: std::str::FromStr + Copy,
    F: Fn(T) -> Result<T, &'static str>,
{
    let Some(text) = read(name) else {
        return default;
    };
    match text.parse::<T>() {
        Ok(value) => check(value).unwrap_or_else(|message| {
            errors.push(format!("{name} {message}, got {text:?}"));
            default
        }),
        Err(_) => {
            errors.push(format!("{name} must be a whole number, got {text:?}"));
            default
        }
    }
}

fn parse_duration_or(
    read: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: Duration,
    errors: &mut Vec<String>,
) -> Duration {
    let Some(text) = read(name) else {
        return default;
    };
    humantime::parse_duration(&text).unwrap_or_else(|_| {
        errors.push(format!("{name} must be a duration such as 30s or 10m, got {text:?}"));
        default
    })
}

/// Checks an absolute http(s) URL with a host and strips trailing slashes.
pub fn normalize_http_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        return Err(format!("must start with http:// or https://, got {url:?}"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("must include a host, got {url:?}"));
    }
    Ok(trimmed.to_owned())
}

/// Returns a configuration for tests: local buckets under `data_dir` and fixed secrets.
#[doc(hidden)]
pub fn test_lookup(data_dir: &std::path::Path) -> impl Fn(&str) -> Option<String> {
    let data_dir = data_dir.display().to_string();
    move |name: &str| {
        let value = match name {
            "DATA_DIR" => data_dir.as_str(),
            "HMAC_SECRET" => "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "API_KEY" => "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "WEBHOOK_SECRET" => "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
            "KEY_TOKEN_SECRET" => "00112233445566778899aabbccddeeff",
            "ENCRYPTION_KEY" => "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            _ => return None,
        };
        Some(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_with_secrets_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_lookup(test_lookup(dir.path())).unwrap();
        assert_eq!(config.port, 3000);
        assert_eq!(config.mode, Mode::All);
        assert_eq!(config.worker_concurrency, 10);
        assert_eq!(config.key_uri("abc"), "/api/key/abc");
    }

    #[test]
    fn one_message_per_problem() {
        let errors = Config::from_lookup(|name| match name {
            "PORT" => Some("70000".to_owned()),
            "MODE" => Some("sideways".to_owned()),
            "HMAC_SECRET" => Some("short".to_owned()),
            "WORKER_CONCURRENCY" => Some("0".to_owned()),
            "TRANSCODE_CONCURRENCY" => Some("none".to_owned()),
            "BASE_URL" => Some("ftp://x".to_owned()),
            _ => None,
        })
        .unwrap_err();
        let text = errors.to_string();
        for name in [
            "PORT",
            "MODE",
            "HMAC_SECRET",
            "API_KEY",
            "WEBHOOK_SECRET",
            "KEY_TOKEN_SECRET",
            "ENCRYPTION_KEY",
            "WORKER_CONCURRENCY",
            "TRANSCODE_CONCURRENCY",
            "BASE_URL",
        ] {
            assert!(text.contains(name), "no message names {name}:\n{text}");
        }
        assert!(!text.contains("short\""), "a secret value leaked:\n{text}");
    }

    #[test]
    fn transcode_concurrency_from_cores_and_memory() {
        const GIB: u64 = 1024 * 1024 * 1024;
        // This project's VM: 2 cores, 24 GiB.
        assert_eq!(default_transcode_concurrency(2, Some(24 * GIB)), 1);
        // 16 cores and plenty of memory: one per 4 cores.
        assert_eq!(default_transcode_concurrency(16, Some(64 * GIB)), 4);
        // 16 cores but 5 GiB: memory limits it to 2.
        assert_eq!(default_transcode_concurrency(16, Some(5 * GIB)), 2);
        // Less than one ladder's worth of memory still runs one.
        assert_eq!(default_transcode_concurrency(8, Some(GIB)), 1);
        // Unknown memory: cores only.
        assert_eq!(default_transcode_concurrency(32, None), 8);
    }

    #[test]
    fn transcode_concurrency_is_configurable() {
        let dir = tempfile::tempdir().unwrap();
        let lookup = test_lookup(dir.path());
        let config = Config::from_lookup(|name| match name {
            "TRANSCODE_CONCURRENCY" => Some("3".to_owned()),
            _ => lookup(name),
        })
        .unwrap();
        assert_eq!(config.transcode_concurrency, 3);

        let errors = Config::from_lookup(|name| match name {
            "TRANSCODE_CONCURRENCY" => Some("0".to_owned()),
            _ => lookup(name),
        })
        .unwrap_err();
        assert!(errors.to_string().contains("TRANSCODE_CONCURRENCY must be at least 1, got \"0\""), "{errors}");
    }

    #[test]
    fn base_url_is_normalized() {
        assert_eq!(normalize_http_url("https://media.example.com/").unwrap(), "https://media.example.com");
        assert!(normalize_http_url("https:///x").is_err());
    }
}
