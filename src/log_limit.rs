//! Log lines that a client outside the process can cause (a refused webhook, a wrong
//! token, a connection turned away) are written at most once a minute per kind, with how
//! many occurrences the line stands for: one client must not be able to fill the disk
//! through the log. The counters still count every occurrence.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use crate::lock;

/// Kinds kept apart; past this many, new kinds share one line (`other`), so the memory
/// a client can make this take is bounded too.
const MAX_KINDS: usize = 256;

/// One kind's last line and what happened since.
struct Kind {
    logged: Instant,
    held_back: u64,
}

/// See the module docs.
pub struct LogLimit {
    every: Duration,
    kinds: Mutex<HashMap<String, Kind>>,
}

impl LogLimit {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(n)` when a line of `kind` may be written at `now`, standing for `n`
    /// occurrences (this one and those held back since the last line); `None` when this
    /// one is held back.
    pub fn allow(&self, kind: &str, now: Instant) -> Option<u64> {
        let mut kinds = lock(&self.kinds);
        let kind = if kinds.contains_key(kind) || kinds.len() < MAX_KINDS {
            kind
        } else {
            "other"
        };
        match kinds.get_mut(kind) {
            Some(k) if now.saturating_duration_since(k.logged) < self.every => {
                k.held_back += 1;
                None
            }
            Some(k) => {
                let stands_for = k.held_back + 1;
                k.logged = now;
                k.held_back = 0;
                Some(stands_for)
            }
            None => {
                let first = Kind {
                    logged: now,
                    held_back: 0,
                };
                kinds.insert(kind.to_owned(), first);
                Some(1)
            }
        }
    }
}

/// The process's limiter for lines a request can cause (one a minute per kind), asked
/// now: `Some(count)` when a line of `kind` may be written.
pub fn outside(kind: &str) -> Option<u64> {
    static OUTSIDE: LazyLock<LogLimit> = LazyLock::new(|| LogLimit::new(Duration::from_secs(60)));
    OUTSIDE.allow(kind, Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_minute_per_kind_standing_for_those_held_back() {
        let limit = LogLimit::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(limit.allow("webhook/main/bad_signature", at(0)), Some(1));
        for s in 1..60 {
            assert_eq!(limit.allow("webhook/main/bad_signature", at(s)), None);
        }
        assert_eq!(
            limit.allow("webhook/unknown/unknown_key", at(30)),
            Some(1),
            "kinds apart"
        );
        assert_eq!(limit.allow("webhook/main/bad_signature", at(60)), Some(60));
        assert_eq!(limit.allow("webhook/main/bad_signature", at(61)), None);
        assert_eq!(limit.allow("webhook/main/bad_signature", at(500)), Some(2));
    }

    #[test]
    fn kinds_past_the_bound_share_one_line() {
        let limit = LogLimit::new(Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..MAX_KINDS {
            assert_eq!(limit.allow(&format!("k{i}"), now), Some(1));
        }
        assert_eq!(limit.allow("one more", now), Some(1));
        assert_eq!(limit.allow("and another", now), None, "shares `other`");
        assert_eq!(lock(&limit.kinds).len(), MAX_KINDS + 1);
    }
}
