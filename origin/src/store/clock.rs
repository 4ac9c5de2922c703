//! Timestamps as stored: BIGINT Unix milliseconds in UTC.

use std::time::Duration;

use time::OffsetDateTime;

/// Returns the current time in Unix milliseconds.
pub(crate) fn now_millis() -> i64 {
    to_millis(OffsetDateTime::now_utc())
}

pub(crate) fn to_millis(time: OffsetDateTime) -> i64 {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX })
}

/// Converts stored milliseconds to a UTC time, or `None` when the value is outside the range that
/// `time` represents (years -9999 to 9999).
pub(crate) fn from_millis(millis: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()
}

/// Returns a duration in whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Returns `now + duration` in milliseconds, saturating instead of overflowing.
pub(crate) fn after(now: i64, duration: Duration) -> i64 {
    now.saturating_add(duration_millis(duration))
}
