//! GStreamer media pipelines. Every function works on local files and blocks until it is done, so
//! async callers run them through `tokio::task::spawn_blocking`.
//!
//! - [`setup`]: GStreamer initialisation ([`init`]) and the element check ([`missing_elements`]).
//! - [`probe`]: source inspection ([`probe()`]).
//! - [`cover`]: the cover frame as a JPEG ([`extract_cover`]).
//! - [`preview`]: the animated WebP or GIF preview ([`make_preview`]).
//! - [`error`]: [`MediaError`] and its [`ErrorCode`]s.

pub mod cover;
pub mod error;
mod pipeline;
pub mod preview;
pub mod probe;
pub mod setup;

pub use cover::{extract_cover, ImageOutput};
pub use error::{ErrorCode, MediaError};
pub use preview::{make_preview, PreviewOutput};
pub use probe::{probe, Orientation, ProbeInfo};
pub use setup::{init, missing_elements};
