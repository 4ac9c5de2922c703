//! The Vylux origin: server, workers, media pipelines and the `vylux` command line.
//!
//! - [`cli`]: the `vylux` command line (sign, token, keygen, serve).
//! - [`app`]: `vylux serve`, which wires everything below together.
//! - [`config`]: configuration from environment variables.
//! - [`server`]: the HTTP routes.
//! - [`worker`]: job workers, the pipeline seam and the webhook sender.
//! - [`media`]: GStreamer pipelines (probe, cover, preview, HLS ladder, AES-128).
//! - [`storage`]: object storage for the source and media buckets (local folders or S3).
//! - [`store`]: the durable job store, queue, webhook outbox and wrapped keys (SQLite).
//! - [`keys`]: content keys and their wrapping with key-encryption keys.
//! - [`demo`]: `vylux demo-app`, an example application backend that uses Vylux over HTTP.
//! - [`metrics`], [`ratelimit`]: Prometheus metrics and in-process rate limits.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod keys;
pub mod media;
pub mod metrics;
pub mod ratelimit;
pub mod server;
pub mod storage;
pub mod store;
pub mod worker;
