//! The `vylux` command line.
//!
//! Secrets are read from the environment only, never from arguments, so they do not end up in shell
//! history or process listings.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use vylux_common::image::{ImageFormat, ImageOptions, ImageSource};
use vylux_common::secret::{MIN_SIGNING_SECRET_LEN, MIN_TOKEN_SECRET_LEN};
use vylux_common::signing::UrlSigner;
use vylux_common::token::TokenKeys;
use vylux_common::{MediaHash, ObjectKey, Secret};

/// Environment variable holding retired `KEY_TOKEN_SECRET` values, comma-separated, whose tokens
/// are still accepted during a rotation.
pub const PREVIOUS_TOKEN_SECRETS_VAR: &str = "KEY_TOKEN_PREVIOUS_SECRETS";

#[derive(Debug, Parser)]
#[command(name = "vylux", version, about = "Media processing and delivery: signed URLs, playback tokens, HLS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a signed /thumb, /original or /img URL (reads HMAC_SECRET).
    #[command(subcommand)]
    Sign(SignCommand),
    /// Mint or check playback tokens for /api/key/{hash} (reads KEY_TOKEN_SECRET).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print fresh random values for every secret variable, in .env form.
    Keygen,
    /// Run the origin server and job workers, configured by environment variables (see README).
    Serve,
    /// Run the example application backend that submits jobs and serves a player page.
    DemoApp,
    /// Measure our pipelines against the ffmpeg command line on the same input.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Run the H.264 HLS ladder through GStreamer and through ffmpeg, and print time, CPU and memory.
    Transcode {
        /// Source video file.
        file: std::path::PathBuf,
        /// x264 speed preset used by both sides.
        #[arg(long, default_value = "fast")]
        preset: String,
        /// Folder that keeps both outputs (vylux/ and ffmpeg/) for comparison; by default they go
        /// to a temporary folder that is removed afterwards.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
        /// Runs of each side, in alternating order; the report shows the medians.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
        runs: u16,
    },
}

#[derive(Debug, Args)]
struct BaseUrl {
    /// Public origin to prefix, such as https://media.example.com; without it only the path is printed.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum SignCommand {
    /// Sign a media-bucket object key for /thumb.
    Thumb {
        /// Object key, unescaped, such as videos/mo/movie-2026-04-01/cover.jpg.
        key: String,
        #[command(flatten)]
        base: BaseUrl,
    },
    /// Sign a source-bucket object key for /original.
    Original {
        /// Object key, unescaped, such as uploads/sample.mp4.
        key: String,
        #[command(flatten)]
        base: BaseUrl,
    },
    /// Sign an /img transformation of a source-bucket image.
    Img {
        /// Options such as w300_h200_q80 (w: width, h: height, q: quality 1-100).
        options: String,
        /// Source object key, unescaped, such as photos/cat.jpg.
        source_key: String,
        /// Output format: webp, avif, jpg, png or gif.
        format: String,
        #[command(flatten)]
        base: BaseUrl,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a JWT (HS256) that unlocks the content key of one media hash.
    Mint {
        /// Media hash the token is for.
        hash: String,
        /// Lifetime in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        ttl: u64,
    },
    /// Check a token for a media hash; exits 0 when valid and 1 when not, saying why.
    Verify {
        /// The token, JWT or Vylux two-part form.
        token: String,
        /// Media hash the token must be for.
        hash: String,
    },
}

/// Runs the command line and maps errors to a message on stderr and exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Sign(command) => sign(command),
        Command::Token(command) => token(command),
        Command::Keygen => {
            print!("{}", keygen()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve => serve(),
        Command::Bench(BenchCommand::Transcode { file, preset, keep, runs }) => {
            if !file.is_file() {
                bail!("video file {} not found", file.display());
            }
            crate::media::init()?;
            let temporary = tempfile::tempdir()?;
            let work_dir = match &keep {
                Some(folder) => {
                    std::fs::create_dir_all(folder)?;
                    folder.as_path()
                }
                None => temporary.path(),
            };
            let config = crate::media::TranscodeConfig { x264_preset: preset, ..crate::media::TranscodeConfig::default() };
            let report = crate::media::bench::bench_transcode(&file, work_dir, &config, usize::from(runs))?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoApp => {
            let config = crate::demo::DemoConfig::from_env()?;
            crate::app::init_logging("info");
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(crate::demo::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the configuration, printing one line per problem, and runs the server until a signal.
fn serve() -> Result<ExitCode> {
    let config = match crate::config::Config::from_env() {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    crate::app::init_logging(&config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(crate::app::serve(config))?;
    Ok(ExitCode::SUCCESS)
}

fn sign(command: SignCommand) -> Result<ExitCode> {
    let signer = UrlSigner::new(secret_from_env("HMAC_SECRET", MIN_SIGNING_SECRET_LEN)?);
    let (path, base) = match command {
        SignCommand::Thumb { key, base } => (signer.thumb_path(&parse_key(&key)?), base),
        SignCommand::Original { key, base } => (signer.original_path(&parse_key(&key)?), base),
        SignCommand::Img { options, source_key, format, base } => {
            let options = ImageOptions::parse_required(&options)?;
            let format: ImageFormat = format.parse()?;
            let source = ImageSource::new(parse_key(&source_key)?, format);
            (signer.img_path(&options, &source), base)
        }
    };
    match base.base_url {
        Some(url) => println!("{}{path}", normalize_base_url(&url)?),
        None => println!("{path}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn token(command: TokenCommand) -> Result<ExitCode> {
    let keys = token_keys_from_env()?;
    let now = unix_now();
    match command {
        TokenCommand::Mint { hash, ttl } => {
            let hash = MediaHash::parse(&hash)?;
            println!("{}", keys.mint(&hash, now, ttl)?);
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Verify { token, hash } => match keys.verify(&token, &hash, now) {
            Ok(verified) => {
                println!("valid: token for hash {:?}, expires at {}", verified.hash(), format_unix(verified.expires_at()));
                Ok(ExitCode::SUCCESS)
            }
            Err(reason) => {
                println!("invalid: {reason}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// Returns one `NAME=value` line per secret variable, with fresh random hex values.
fn keygen() -> Result<String> {
    let mut text = String::new();
    for (name, bytes) in
        [("HMAC_SECRET", 32), ("API_KEY", 32), ("WEBHOOK_SECRET", 32), ("KEY_TOKEN_SECRET", 32), ("ENCRYPTION_KEY", 32)]
    {
        let mut value = vec![0u8; bytes];
        getrandom::fill(&mut value).map_err(|error| anyhow::anyhow!("reading random bytes failed: {error}"))?;
        text.push_str(&format!("{name}={}\n", hex::encode(value)));
    }
    Ok(text)
}

/// Reads a secret variable and checks its length; the error names the variable, never the value.
pub fn secret_from_env(name: &str, min_len: usize) -> Result<Secret> {
    let value = std::env::var(name).ok();
    Ok(Secret::from_config(name, value.as_deref(), min_len)?)
}

/// Reads `KEY_TOKEN_SECRET` and any retired secrets from `KEY_TOKEN_PREVIOUS_SECRETS`.
pub fn token_keys_from_env() -> Result<TokenKeys> {
    let current = secret_from_env("KEY_TOKEN_SECRET", MIN_TOKEN_SECRET_LEN)?;
    let mut previous = Vec::new();
    if let Ok(list) = std::env::var(PREVIOUS_TOKEN_SECRETS_VAR) {
        for (index, value) in list.split(',').map(str::trim).filter(|value| !value.is_empty()).enumerate() {
            let name = format!("{PREVIOUS_TOKEN_SECRETS_VAR} entry {}", index + 1);
            previous.push(Secret::from_config(&name, Some(value), MIN_TOKEN_SECRET_LEN)?);
        }
    }
    Ok(TokenKeys::new(current, previous))
}

fn parse_key(key: &str) -> Result<ObjectKey> {
    ObjectKey::parse(key).with_context(|| format!("invalid object key {key:?}"))
}

/// Checks a base URL (absolute http or https with a host) and strips trailing slashes.
pub fn normalize_base_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        bail!("base URL {url:?} must start with http:// or https://");
    };
    if rest.is_empty() || rest.starts_with('/') {
        bail!("base URL {url:?} must include a host");
    }
    Ok(trimmed.to_owned())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

fn format_unix(seconds: u64) -> String {
    let Ok(seconds) = i64::try_from(seconds) else {
        return seconds.to_string();
    };
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|moment| moment.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}
