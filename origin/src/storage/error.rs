//! Storage errors, split by the response the caller should send.

/// Reason a storage operation failed.
///
/// Messages name the key, prefix or bucket involved and never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The object does not exist (HTTP 404).
    #[error("object {key:?} not found")]
    NotFound { key: String },

    /// The requested byte range starts past the end of the object (HTTP 416).
    #[error("range not satisfiable for object {key:?} of {size} bytes")]
    InvalidRange { key: String, size: u64 },

    /// The key or prefix cannot be stored by this backend, such as a local key whose folder is
    /// already a file (HTTP 400 when it came from a request, otherwise a bug).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },

    /// The backend could not be reached or refused the request: network failures, timeouts,
    /// permission errors, server errors and local I/O errors (HTTP 502 or 503).
    #[error("storage {operation} failed for {target:?}: {detail}")]
    Unavailable {
        /// The failed operation, such as `get` or `put`.
        operation: &'static str,
        /// The key, prefix, bucket or folder involved.
        target: String,
        /// The cause, as a chain of messages.
        detail: String,
    },
}

impl StorageError {
    pub(crate) fn not_found(key: impl Into<String>) -> Self {
        Self::NotFound { key: key.into() }
    }

    pub(crate) fn invalid_key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidKey { key: key.into(), reason: reason.into() }
    }

    pub(crate) fn unavailable(operation: &'static str, target: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Unavailable { operation, target: target.into(), detail: detail.into() }
    }

    /// Returns whether the object was missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Returns the HTTP status for a route that serves the object directly.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::InvalidRange { .. } => 416,
            Self::InvalidKey { .. } => 400,
            Self::Unavailable { .. } => 502,
        }
    }
}
