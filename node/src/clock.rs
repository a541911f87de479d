//! The local wall clock, in one place (the API, the driver and the ops listener read it).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch by the local clock (0 if the clock is before the epoch).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
