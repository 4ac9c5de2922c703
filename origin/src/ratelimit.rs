//! Fixed-window rate limits, kept in this process's memory.
//!
//! Vylux keeps its counters in Redis, shared by every server. Here each server process counts on
//! its own.
//! NOTE: with several origin servers behind a load balancer, a client can make up to the limit on
//! each server per window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Counts requests per identity in fixed windows of `window_secs` seconds.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window_secs: u64,
    counters: Mutex<HashMap<[u8; 8], (u64, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window_secs: u64) -> Self {
        Self { limit, window_secs, counters: Mutex::new(HashMap::new()) }
    }

    /// Counts one request for `identity` (an API key, a token or an address, hashed here so the
    /// table never contains secrets). Returns the seconds until the window resets when over the limit.
    pub fn check(&self, identity: &[u8]) -> Result<(), u64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.check_at(identity, now)
    }

    fn check_at(&self, identity: &[u8], now: u64) -> Result<(), u64> {
        let window = now / self.window_secs;
        let digest: [u8; 8] = Sha256::digest(identity)[..8].try_into().expect("a SHA-256 digest has 32 bytes");
        let mut counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Drop counters of past windows so the table stays as small as the set of active clients.
        if counters.len() > 10_000 {
            counters.retain(|_, (counter_window, _)| *counter_window == window);
        }
        let entry = counters.entry(digest).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 > self.limit {
            return Err((window + 1) * self.window_secs - now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_then_reset() {
        let limiter = RateLimiter::new(3, 60);
        for _ in 0..3 {
            assert!(limiter.check_at(b"key", 120).is_ok());
        }
        assert_eq!(limiter.check_at(b"key", 150), Err(30));
        assert!(limiter.check_at(b"other", 150).is_ok());
        assert!(limiter.check_at(b"key", 180).is_ok());
    }
}
