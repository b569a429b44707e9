//! Sharding: N replicas share one config, each watching the intents whose id hashes to
//! its index. The hash is stable and documented, so any replica (or a script) computes the
//! same split: FNV-1a 64-bit over the id's lowercase ASCII bytes, modulo N.

use std::fmt;
use std::str::FromStr;

use crate::config::{Config, ConfigError, MIN_REQUESTS_PER_SECOND, Problem};

/// Replica `index` of `count` (written `K/N`, 0 ≤ K < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole watch list (no sharding).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether this replica watches `intent_id`.
    pub fn owns(&self, intent_id: &str) -> bool {
        self.owner(intent_id) == self.index
    }

    /// The index of the replica (of `count`) that watches `intent_id`.
    pub fn owner(&self, intent_id: &str) -> u32 {
        if self.count <= 1 {
            return 0;
        }
        let hash = fnv1a64(intent_id.to_ascii_lowercase().as_bytes());
        // Below `count`, so it fits.
        (hash % u64::from(self.count)) as u32
    }

    /// Keeps only this replica's intents in every store, and its share of each store's
    /// API budget: the configured `max_requests_per_second` and `max_concurrency` are the
    /// store's totals, split evenly over the N replicas that share the API key.
    ///
    /// Refuses a split that leaves a replica less than `MIN_REQUESTS_PER_SECOND`: with a
    /// large N the share would be a rate the limiter cannot represent, and the operator
    /// should hear that the budget is too small for that many replicas.
    pub fn filter(&self, mut config: Config) -> Result<Config, ConfigError> {
        if self.count <= 1 {
            return Ok(config);
        }
        if config.state_database.is_some() {
            return Err(ConfigError::Invalid(vec![Problem {
                path: "state_database".into(),
                message: format!(
                    "--shard {self} cannot be used with state_database: replicas sharing one \
                     database are told apart by --replica.name, not split by --shard"
                ),
            }]));
        }
        let n = usize::try_from(self.count).unwrap_or(usize::MAX);
        let mut problems = Vec::new();
        for (i, store) in config.stores.iter_mut().enumerate() {
            store.intents.retain(|intent| self.owns(intent.id.as_str()));
            let total = store.max_requests_per_second;
            store.max_requests_per_second = total / f64::from(self.count);
            store.max_concurrency = store.max_concurrency.div_ceil(n);
            if store.max_requests_per_second < MIN_REQUESTS_PER_SECOND {
                problems.push(self.budget_too_small(i, total));
            }
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn budget_too_small(&self, store: usize, total: f64) -> Problem {
        Problem {
            path: format!("stores[{store}].max_requests_per_second"),
            message: format!(
                "{total} split over {} replicas (--shard {self}) leaves each less than \
                 {MIN_REQUESTS_PER_SECOND} requests per second; raise it or run fewer replicas",
                self.count
            ),
        }
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a shard: expected K/N with 0 <= K < N, e.g. 0/3");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// FNV-1a as a `Hasher`, for maps keyed by intent id: several times faster than SipHash on
/// 24-byte keys, and the keys come from the operator's own config, not from the network.
#[derive(Clone, Copy)]
pub struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        Self(FNV_OFFSET)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `BuildHasher` for maps keyed by intent id.
pub type IdHasher = std::hash::BuildHasherDefault<FnvHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_published_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn hasher_is_fnv1a() {
        use std::hash::Hasher;
        let mut h = FnvHasher::default();
        h.write(b"foo");
        h.write(b"bar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("0/1".parse(), Ok(Shard::ALL));
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
    }

    #[test]
    fn n_shards_cover_every_intent_exactly_once() {
        let ids: Vec<String> = (0..20_000u64)
            .map(|i| format!("{:024x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x65f0))
            .collect();
        for count in 1..=7 {
            let mut owners = vec![0u32; ids.len()];
            let mut sizes = vec![0usize; count as usize];
            for index in 0..count {
                let shard = Shard { index, count };
                for (i, id) in ids.iter().enumerate() {
                    if shard.owns(id) {
                        owners[i] += 1;
                        sizes[index as usize] += 1;
                    }
                }
            }
            assert!(owners.iter().all(|&n| n == 1), "{count} shards");
            let fair = ids.len() / count as usize;
            for size in sizes {
                assert!(
                    size.abs_diff(fair) < fair / 10 + 50,
                    "{count} shards: {size} vs {fair}"
                );
            }
        }
    }

    #[test]
    fn filter_splits_intents_and_budget() {
        let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n    max_requests_per_second: 9\n    max_concurrency: 8\n    intents: [aaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccccccc, dddddddddddddddddddddddd]\n";
        let config = Config::parse(text, std::path::Path::new("."), &|_| Some("s".into())).unwrap();
        let mut total = 0;
        for index in 0..3 {
            let part = Shard { index, count: 3 }.filter(config.clone()).unwrap();
            let store = &part.stores[0];
            assert_eq!(store.max_requests_per_second, 3.0);
            assert_eq!(store.max_concurrency, 3);
            total += store.intents.len();
        }
        assert_eq!(total, 4);
        assert_eq!(Shard::ALL.filter(config.clone()).unwrap(), config);
    }

    #[test]
    fn a_split_below_the_minimum_budget_is_refused() {
        let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n    \
                    max_requests_per_second: 0.002\n";
        let config = Config::parse(text, std::path::Path::new("."), &|_| Some("s".into())).unwrap();
        assert!(Shard { index: 1, count: 2 }.filter(config.clone()).is_ok());
        for count in [3, 1000, u32::MAX] {
            let err = Shard { index: 0, count }
                .filter(config.clone())
                .unwrap_err();
            let problem = &err.problems()[0];
            assert_eq!(problem.path, "stores[0].max_requests_per_second");
            assert!(
                problem
                    .message
                    .contains(&format!("split over {count} replicas")),
                "{problem}"
            );
        }
    }

    #[test]
    fn ownership_ignores_case() {
        let shard = Shard { index: 1, count: 3 };
        let id = "65F0A1B2C3D4E5F6A7B8C9D0";
        assert_eq!(shard.owns(id), shard.owns(&id.to_lowercase()));
    }
}
