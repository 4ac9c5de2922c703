//! Wrapped content keys, one per media hash.
//!
//! The caller wraps and unwraps keys (AES-GCM under the key-encryption key); the store keeps the
//! wrapped bytes, the nonce and the KEK version only, and never receives a plaintext key.

use std::fmt;

use sqlx::Row;
use time::OffsetDateTime;
use vylux_common::MediaHash;

use super::clock::{from_millis, now_millis};
use super::{JobStore, StoreError};

/// A stored content key, still wrapped.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub hash: MediaHash,
    /// Ciphertext and tag of the wrapped key.
    pub wrapped_key: Vec<u8>,
    pub nonce: Vec<u8>,
    /// Version of the key-encryption key that wrapped it, such as `v1`.
    pub kek_version: String,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ContentKey")
            .field("hash", &self.hash)
            .field("wrapped_key", &format_args!("[{} bytes]", self.wrapped_key.len()))
            .field("nonce", &format_args!("[{} bytes]", self.nonce.len()))
            .field("kek_version", &self.kek_version)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl JobStore {
    /// Stores the wrapped content key of a hash, replacing any earlier key (a new transcode of
    /// the same media gets a new key).
    pub async fn put_key(
        &self,
        hash: &MediaHash,
        wrapped_key: &[u8],
        nonce: &[u8],
        kek_version: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO content_keys (hash, wrapped_key, nonce, kek_version, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (hash) DO UPDATE SET wrapped_key = excluded.wrapped_key, nonce = excluded.nonce, \
                 kek_version = excluded.kek_version, created_at = excluded.created_at",
        )
        .bind(hash.as_str())
        .bind(wrapped_key)
        .bind(nonce)
        .bind(kek_version)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Returns the wrapped content key of a hash, or `None`.
    pub async fn get_key(&self, hash: &MediaHash) -> Result<Option<ContentKey>, StoreError> {
        let row = sqlx::query("SELECT wrapped_key, nonce, kek_version, created_at FROM content_keys WHERE hash = $1")
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created_at: i64 = row.try_get("created_at")?;
        let created_at = from_millis(created_at).ok_or_else(|| StoreError::InvalidRow {
            id: hash.as_str().to_owned(),
            column: "created_at",
            message: format!("timestamp {created_at} ms is out of range"),
        })?;
        Ok(Some(ContentKey {
            hash: hash.clone(),
            wrapped_key: row.try_get("wrapped_key")?,
            nonce: row.try_get("nonce")?,
            kek_version: row.try_get("kek_version")?,
            created_at,
        }))
    }

    /// Deletes the content key of a hash. Returns whether one existed.
    pub async fn delete_key(&self, hash: &MediaHash) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM content_keys WHERE hash = $1")
            .bind(hash.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}
