//! Logic shared by the Vylux edge (wasm) and origin (native), with no I/O.
//!
//! - [`key`]: storage object keys: strict percent-decoding, validation, escaping.
//! - [`image`]: `/img` options, output formats and the processed-image cache key.
//! - [`signing`]: HMAC-signed `/thumb`, `/original` and `/img` URLs.
//! - [`token`]: playback tokens for `/api/key/{hash}` (JWT HS256 and the Vylux two-part form).
//! - [`webhook`]: `X-Signature` webhook signatures.
//! - [`layout`]: media hashes and the media-bucket layout, including `/stream` paths.
//! - [`jobs`]: job-creation contracts, canonical jobs, fingerprints, results and webhook payloads.
//! - [`secret`]: configured secrets with length checks and redacted `Debug`.
//!
//! Every MAC and key comparison here runs in constant time.

pub mod image;
pub mod jobs;
pub mod key;
pub mod layout;
pub mod secret;
pub mod signing;
pub mod token;
pub mod webhook;

pub use key::ObjectKey;
pub use layout::MediaHash;
pub use secret::Secret;
