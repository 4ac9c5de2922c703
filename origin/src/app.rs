//! `vylux serve`: wires configuration, storage, the job store, the HTTP server and the workers,
//! and shuts them down in order.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::{router, AppState};
use crate::storage::{self, BucketRole, MeteredStore, StorageMetrics};
use crate::store::{JobStore, StoreConfig};
use crate::worker::{self, MediaRunner, WorkerContext};

/// Address the HTTP listener binds, from `HOST` (default all interfaces) and `PORT`.
fn bind_address(config: &Config) -> Result<SocketAddr> {
    let host = std::env::var("HOST").ok().filter(|host| !host.trim().is_empty()).unwrap_or_else(|| "0.0.0.0".to_owned());
    let ip: std::net::IpAddr = host.trim().parse().with_context(|| format!("HOST must be an IP address, got {host:?}"))?;
    Ok(SocketAddr::new(ip, config.port))
}

/// Runs the server and workers until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<()> {
    let config = Arc::new(config);
    let address = bind_address(&config)?;

    if let Err(error) = tokio::task::spawn_blocking(crate::media::init).await? {
        tracing::warn!(error = %error, "GStreamer is not usable; media jobs will fail until it is fixed");
    }

    let store = JobStore::open(&config.database_url, StoreConfig::default())
        .await
        .with_context(|| "opening the job store failed")?;
    let storage_metrics = StorageMetrics::new();
    let open_bucket = |role: BucketRole| -> Result<Arc<dyn storage::ObjectStore>> {
        let inner = storage::open(config.buckets.get(role)).with_context(|| format!("opening the {role} bucket failed"))?;
        Ok(Arc::new(MeteredStore::new(inner, role, storage_metrics.clone())))
    };
    let source = open_bucket(BucketRole::Source)?;
    let media = open_bucket(BucketRole::Media)?;
    let metrics = Metrics::new();
    let state = AppState::new(config.clone(), store.clone(), source.clone(), media.clone(), metrics.clone(), storage_metrics);

    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    if config.mode.runs_workers() {
        let runner = MediaRunner {
            source,
            media,
            store: store.clone(),
            config: config.clone(),
            scratch_root: config.data_dir.join("tmp"),
            transcodes: Arc::new(worker::TranscodeSlots::new(config.transcode_concurrency, &metrics)),
        };
        let context = WorkerContext {
            store: store.clone(),
            runner: Arc::new(runner),
            metrics: metrics.clone(),
            wakeup: state.wakeup.clone(),
            shutdown: shutdown.clone(),
            shutdown_timeout: config.worker_shutdown_timeout,
            lease: config.job_lease,
        };
        for slot in 0..config.worker_concurrency {
            tasks.spawn(worker::run_worker(context.clone(), worker::worker_id(slot)));
        }
        tasks.spawn(worker::webhooks::run_sender(
            store.clone(),
            config.webhook_secret.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }

    let app = if config.mode.runs_server() {
        router(state)
    } else {
        // A worker-only process still serves liveness and metrics probes.
        crate::server::ops_router(state)
    };
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address} failed"))?;
    tracing::info!(address = %listener.local_addr()?, mode = ?config.mode, workers = config.worker_concurrency, transcodes = config.transcode_concurrency, "vylux listening");

    let server_shutdown = shutdown.clone();
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { server_shutdown.cancelled().await });
    let server = tokio::spawn(async move { server.await });

    wait_for_signal().await;
    tracing::info!("shutdown requested");
    shutdown.cancel();

    if tokio::time::timeout(config.shutdown_timeout, server).await.is_err() {
        tracing::warn!("open HTTP connections did not finish in time");
    }
    // Workers wait for their jobs up to WORKER_SHUTDOWN_TIMEOUT, then release them.
    while tasks.join_next().await.is_some() {}
    store.close().await;
    tracing::info!("vylux stopped");
    Ok(())
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::error!(error = %error, "installing the SIGTERM handler failed");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Sets up JSON logs on stdout at `level` (error, warn, info, debug; unknown values mean info).
pub fn init_logging(level: &str) {
    let level = match level {
        "error" | "warn" | "info" | "debug" | "trace" => level,
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},sqlx=warn,hyper=warn,aws=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}
