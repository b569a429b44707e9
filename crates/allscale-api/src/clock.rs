//! The wall clock, read in one place: unix time for the timestamps on `/metrics` and in
//! the state file, and for request signatures and clock skew.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in seconds, with sub-second precision (0 before 1970).
pub fn unix_now() -> f64 {
    since_epoch().as_secs_f64()
}

/// Unix time in whole seconds (0 before 1970).
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Time since the unix epoch, to the nanosecond (zero before 1970).
pub fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
