//! The Vylux origin: server, workers, media pipelines and the `vylux` command line.
//!
//! - [`cli`]: the `vylux` command line (sign, token, keygen, serve).
//! - [`media`]: GStreamer pipelines (probe, cover, preview, HLS ladder, AES-128).
//! - [`storage`]: object storage for the source and media buckets (local folders or S3).

pub mod cli;
pub mod media;
pub mod storage;
