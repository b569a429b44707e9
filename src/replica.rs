//! `--replica.name`: which replica of a group sharing one state database this process is
//! (issue #24). A replica restarted under the same name continues its own counters, so
//! the name must be stable across restarts (a StatefulSet's or a Deployment's pod name,
//! the host name by default) and unique among the replicas running at once.

pub mod lease;
pub mod owned;

use std::fmt;
use std::str::FromStr;

/// Longest replica name: a DNS name (a pod or host name) fits.
const MAX_CHARS: usize = 253;

/// A replica's name: 1 to 253 letters, digits, `.`, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplicaName(String);

impl ReplicaName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name (Linux: `/proc/sys/kernel/hostname`, else `$HOSTNAME`), the default.
    pub fn of_host() -> Result<ReplicaName, String> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        host.trim().parse().map_err(|e| {
            format!("the host name cannot name this replica ({e}); set --replica.name")
        })
    }
}

/// The host name, or `allscale-exporter` where it cannot name a replica (embedders and
/// tests; the binary asks for `--replica.name` instead).
impl Default for ReplicaName {
    fn default() -> Self {
        Self::of_host().unwrap_or_else(|_| ReplicaName("allscale-exporter".to_owned()))
    }
}

impl FromStr for ReplicaName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if text.is_empty() || text.len() > MAX_CHARS {
            Err(format!("a replica name has 1 to {MAX_CHARS} characters"))
        } else if !text.chars().all(valid) {
            Err("a replica name has only letters, digits, '.', '-' and '_'".to_owned())
        } else {
            Ok(ReplicaName(text.to_owned()))
        }
    }
}

impl fmt::Display for ReplicaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_like() {
        assert_eq!(
            "exporter-0".parse::<ReplicaName>().unwrap().as_str(),
            "exporter-0"
        );
        assert!("a.b_c-1".parse::<ReplicaName>().is_ok());
        for bad in ["", "has space", "ünï", "x/y", &"a".repeat(254)] {
            assert!(bad.parse::<ReplicaName>().is_err(), "{bad:?}");
        }
        assert!(
            ReplicaName::of_host().is_ok(),
            "this host has a usable name"
        );
    }
}
