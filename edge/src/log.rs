//! JSON log lines with per-isolate rate limiting.
//!
//! Each line is one JSON object (`level`, `event`, `message`, `occurrence`), which Workers Logs
//! indexes by field. An event is logged on its 1st, 2nd, 4th, 8th... occurrence in an isolate, so
//! a failing origin or a misconfigured secret cannot flood the log. Messages never contain a
//! secret or a token.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;

thread_local! {
    static OCCURRENCES: RefCell<HashMap<&'static str, u64>> = RefCell::new(HashMap::new());
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Warn,
    Error,
}

/// Counts one occurrence of `event` and returns the new count if this occurrence is to be logged.
fn next_logged_occurrence(event: &'static str) -> Option<u64> {
    OCCURRENCES.with(|counts| {
        let mut counts = counts.borrow_mut();
        let count = counts.entry(event).or_insert(0);
        *count += 1;
        count.is_power_of_two().then_some(*count)
    })
}

/// Formats one log line.
fn format_line(level: Level, event: &str, message: &str, occurrence: u64) -> String {
    let level = match level {
        Level::Debug => "debug",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    serde_json::json!({ "level": level, "event": event, "message": message, "occurrence": occurrence }).to_string()
}

/// Logs `message` under the fixed name `event`, subject to rate limiting.
pub fn log(level: Level, event: &'static str, message: impl Display) {
    let Some(occurrence) = next_logged_occurrence(event) else {
        return;
    };
    let line = format_line(level, event, &message.to_string(), occurrence);
    match level {
        Level::Debug => worker::console_debug!("{line}"),
        Level::Warn => worker::console_warn!("{line}"),
        Level::Error => worker::console_error!("{line}"),
    }
}

pub fn debug(event: &'static str, message: impl Display) {
    log(Level::Debug, event, message);
}

pub fn warn(event: &'static str, message: impl Display) {
    log(Level::Warn, event, message);
}

pub fn error(event: &'static str, message: impl Display) {
    log(Level::Error, event, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_logged_at_powers_of_two() {
        let logged: Vec<u64> = (0..10)
            .filter_map(|_| next_logged_occurrence("test_event"))
            .collect();
        assert_eq!(logged, vec![1, 2, 4, 8]);
    }

    #[test]
    fn line_is_json_object() {
        let line = format_line(
            Level::Error,
            "origin_unreachable",
            "connection \"refused\"",
            4,
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["event"], "origin_unreachable");
        assert_eq!(value["message"], "connection \"refused\"");
        assert_eq!(value["occurrence"], 4);
    }
}
