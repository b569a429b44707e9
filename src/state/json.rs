//! The JSON state file of earlier versions (format 1 and 2): read once, when it is found
//! at `state_file`, and imported into the state database (see [`super::store`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{Saved, SavedStore};
use super::{Counts, DropReason, Dropped, IntentRow, IntentState, Source, Sources};
use crate::api::{Outcome, Status, StatusClass};
use crate::clock::UnixTime;
use crate::config::IntentId;

/// The format this build writes; it reads this one and every earlier one (version 1 had
/// no `added_at`, expiry or drop fields: they read as absent).
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub format_version: u32,
    pub written_at: f64,
    pub stores: BTreeMap<String, StoreRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRecord {
    /// Intents counted per outcome.
    pub terminal_total: BTreeMap<Outcome, u64>,
    pub transitions: Vec<TransitionRecord>,
    /// Request counters by result, as earlier versions wrote them: read, never restored
    /// (see the module doc), and no longer written.
    #[serde(default, skip_serializing)]
    pub api_requests: BTreeMap<String, u64>,
    /// Error counters by code label, likewise.
    #[serde(default, skip_serializing)]
    pub api_errors: BTreeMap<String, u64>,
    pub intents: BTreeMap<IntentId, IntentRecord>,
    /// Final intents removed from the watch list, still remembered.
    #[serde(default)]
    pub retired: BTreeMap<IntentId, IntentRecord>,
    /// Intents that expired (`max_watch_age`).
    #[serde(default)]
    pub expired_total: u64,
    /// Intents dropped from polling, per reason.
    #[serde(default)]
    pub dropped_total: BTreeMap<DropReason, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRecord {
    pub from: StatusClass,
    pub to: StatusClass,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRecord {
    pub status: Option<i64>,
    pub not_found: bool,
    pub status_changed_at: Option<f64>,
    pub last_success_at: Option<f64>,
    /// Set once the terminal outcome was counted; never polled again after that.
    pub terminal_at: Option<f64>,
    /// When it joined the watch list; absent in version 1 (restored as the restore time).
    #[serde(default)]
    pub added_at: Option<f64>,
    /// Set once it expired and was counted; never polled again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<f64>,
    /// Set once it was dropped and counted; never polled again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<DroppedRecord>,
}

/// When and why an intent was dropped, as the file says it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroppedRecord {
    pub reason: DropReason,
    /// Unix seconds.
    pub at: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "state file {path} has format version {found}; this build reads versions 1 to {FORMAT_VERSION}"
    )]
    FutureVersion { path: PathBuf, found: u32 },
}

/// Reads and parses the JSON state file at `path`.
pub fn read(path: &Path) -> Result<StateFile, StateFileError> {
    let bytes = std::fs::read(path).map_err(|source| StateFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<StateFile, StateFileError> {
    let invalid = |reason: String| StateFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    #[derive(Deserialize)]
    struct VersionOnly {
        format_version: u32,
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    if !(1..=FORMAT_VERSION).contains(&version.format_version) {
        return Err(StateFileError::FutureVersion {
            path: path.to_path_buf(),
            found: version.format_version,
        });
    }
    // Label values and intent ids this build does not know are errors of their own.
    serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
}

impl StateFile {
    /// The file's facts as the database keeps them. Every intent of such a file came from
    /// the config; one without `added_at` (version 1) was added `now`, at the import.
    pub fn into_saved(self, now: UnixTime) -> Saved {
        let stores = self
            .stores
            .into_iter()
            .map(|(name, record)| (name, record.into_saved(now)))
            .collect();
        Saved { stores }
    }
}

impl StoreRecord {
    fn into_saved(self, now: UnixTime) -> SavedStore {
        let counts = Counts {
            terminal_total: self.terminal_total,
            transitions: self
                .transitions
                .iter()
                .map(|t| ((t.from, t.to), t.count))
                .collect(),
            expired_total: self.expired_total,
            dropped_total: self.dropped_total,
            webhooks: Default::default(),
            money: Default::default(),
            time_to_outcome: Default::default(),
        };
        let mut config = Sources::default();
        config.insert(Source::Config);
        let watched = self
            .intents
            .into_iter()
            .map(|(id, r)| (id, r.into_intent(config, now)));
        let retired = self
            .retired
            .into_iter()
            .map(|(id, r)| (id, r.into_intent(Sources::default(), now)));
        SavedStore {
            counts,
            intents: watched.chain(retired).collect(),
            ..SavedStore::default()
        }
    }
}

impl IntentRecord {
    fn into_intent(self, sources: Sources, now: UnixTime) -> IntentState {
        let time = |t: Option<f64>| t.map(UnixTime::from_secs_f64);
        IntentState::from_row(IntentRow {
            sources,
            status: self.status.map(Status::from_code),
            not_found: self.not_found,
            status_changed_at: time(self.status_changed_at),
            last_success_at: time(self.last_success_at),
            terminal_at: time(self.terminal_at),
            added_at: time(self.added_at).or(Some(now)),
            expired_at: time(self.expired_at),
            dropped: self.dropped.map(|d| Dropped {
                reason: d.reason,
                at: UnixTime::from_secs_f64(d.at),
            }),
            ..IntentRow::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times are read back exactly as written: serde_json's default float parser can be
    /// one ulp off (seen as a flaky import test); `float_roundtrip` makes it exact.
    #[test]
    fn times_read_back_exactly() {
        let t: f64 = 1_796_188_423.446_923_7;
        let text = format!("{{\"format_version\":2,\"written_at\":{t},\"stores\":{{}}}}");
        let file = parse(Path::new("s"), text.as_bytes()).unwrap();
        assert_eq!(file.written_at.to_bits(), t.to_bits());
    }

    fn sample() -> StateFile {
        let mut intents = BTreeMap::new();
        intents.insert(
            IntentId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
            IntentRecord {
                status: Some(20),
                not_found: false,
                status_changed_at: Some(1.5),
                last_success_at: Some(2.5),
                terminal_at: Some(1.5),
                added_at: Some(1.0),
                expired_at: None,
                dropped: None,
            },
        );
        intents.insert(
            IntentId::parse("bbbbbbbbbbbbbbbbbbbbbbbb").unwrap(),
            IntentRecord {
                status: Some(10),
                not_found: false,
                status_changed_at: Some(1.5),
                last_success_at: Some(2.5),
                terminal_at: None,
                added_at: Some(1.0),
                expired_at: Some(8.0),
                dropped: None,
            },
        );
        intents.insert(
            IntentId::parse("cccccccccccccccccccccccc").unwrap(),
            IntentRecord {
                status: None,
                not_found: true,
                status_changed_at: Some(1.5),
                last_success_at: None,
                terminal_at: None,
                added_at: Some(1.0),
                expired_at: None,
                dropped: Some(DroppedRecord {
                    reason: DropReason::NotFound,
                    at: 9.0,
                }),
            },
        );
        let record = StoreRecord {
            terminal_total: BTreeMap::from([(Outcome::Confirmed, 3)]),
            transitions: vec![TransitionRecord {
                from: StatusClass::OnChain,
                to: StatusClass::Confirmed,
                count: 3,
            }],
            intents,
            expired_total: 1,
            dropped_total: BTreeMap::from([(DropReason::NotFound, 1)]),
            ..StoreRecord::default()
        };
        StateFile {
            format_version: FORMAT_VERSION,
            written_at: 10.0,
            stores: BTreeMap::from([("main".to_string(), record)]),
        }
    }

    #[test]
    fn a_written_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, serde_json::to_vec(&sample()).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap(), sample());
    }

    /// Watched intents of the file came from the config, retired ones from no source;
    /// `added_at` and the given-up marks come along, and one without `added_at` was
    /// added at the import.
    #[test]
    fn the_file_converts_into_what_the_database_keeps() {
        let mut file = sample();
        let store = file.stores.get_mut("main").unwrap();
        let mut old = store.intents["aaaaaaaaaaaaaaaaaaaaaaaa"].clone();
        old.added_at = None;
        store
            .retired
            .insert(IntentId::parse("dddddddddddddddddddddddd").unwrap(), old);
        let saved = file.into_saved(UnixTime::from_secs(99));
        let main = &saved.stores["main"];
        assert_eq!(main.counts.terminal_total[&Outcome::Confirmed], 3);
        assert_eq!(main.counts.expired_total, 1);
        let find = |id: &str| &main.intents.iter().find(|(i, _)| i == &id).unwrap().1;
        assert_eq!(find("aaaaaaaaaaaaaaaaaaaaaaaa").sources.names(), "config");
        assert_eq!(
            find("bbbbbbbbbbbbbbbbbbbbbbbb").phase(),
            &crate::state::Phase::Expired {
                at: UnixTime::from_secs(8)
            }
        );
        assert_eq!(
            find("cccccccccccccccccccccccc").phase(),
            &crate::state::Phase::Dropped {
                reason: DropReason::NotFound,
                at: UnixTime::from_secs(9)
            }
        );
        let retired = find("dddddddddddddddddddddddd");
        assert!(retired.sources.is_empty());
        assert_eq!(retired.added_at(), Some(UnixTime::from_secs(99)));
        assert_eq!(retired.status(), Some(Status::Confirmed));
    }

    /// A version-1 file (as earlier builds wrote it) is read.
    #[test]
    fn version_1_files_are_read() {
        let v1 = r#"{"format_version":1,"written_at":1.0,"stores":{"main":{"terminal_total":{},
            "transitions":[],"intents":{"aaaaaaaaaaaaaaaaaaaaaaaa":{"status":10,"not_found":false,
            "status_changed_at":1.0,"last_success_at":1.0,"terminal_at":null}}}}}"#;
        let file = parse(Path::new("/state.json"), v1.as_bytes()).unwrap();
        let record = &file.stores["main"];
        assert_eq!(record.expired_total, 0);
        assert!(record.intents.values().all(|i| i.added_at.is_none()));
    }

    fn assert_invalid(content: &str, expect: &str) {
        let err = parse(Path::new("/state.json"), content.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
        assert!(err.to_string().contains("/state.json"), "{err}");
    }

    #[test]
    fn corrupt_and_future_files_are_errors() {
        assert_invalid("{\"format_version\": 1, \"stores\": {", "not valid");
        assert_invalid("garbage", "not valid");
        assert_invalid(
            r#"{"format_version": 99, "written_at": 1, "stores": {}}"#,
            "format version 99",
        );
    }

    #[test]
    fn unknown_label_values_are_invalid() {
        let good = serde_json::to_string(&sample()).unwrap();
        let bad = good.replace(r#""confirmed":3"#, r#""confirmed":3,"won":1"#);
        assert_ne!(bad, good);
        assert_invalid(&bad, "unknown outcome");
        let bad = good.replace(r#""from":"on_chain""#, r#""from":"paid""#);
        assert_ne!(bad, good);
        assert_invalid(&bad, "unknown status");
        let bad = good.replace("aaaaaaaaaaaaaaaaaaaaaaaa", "not-an-id");
        assert_invalid(&bad, "unknown intent id");
        let bad = good.replace(r#""reason":"not_found""#, r#""reason":"bored""#);
        assert_ne!(bad, good);
        assert_invalid(&bad, "unknown drop reason");
    }

    proptest::proptest! {
        /// Any bytes, and any Unicode in a well-formed file's strings and numbers: a
        /// state or an error naming the file, never a panic.
        #[test]
        fn any_state_file_bytes_are_a_state_or_an_error(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            text in ".{0,40}",
            number in proptest::num::f64::ANY,
        ) {
            let path = Path::new("/state.json");
            if let Err(e) = parse(path, &bytes) {
                proptest::prop_assert!(e.to_string().contains("/state.json"));
            }
            let shaped = serde_json::json!({
                "format_version": 1,
                "written_at": number,
                "stores": {text.clone(): {
                    "terminal_total": {text.clone(): 1},
                    "transitions": [{"from": text.clone(), "to": "confirmed", "count": 1}],
                    "intents": {text.clone(): {
                        "status": number as i64, "not_found": false,
                        "status_changed_at": number, "last_success_at": null,
                        "terminal_at": number
                    }}
                }}
            });
            let _ = parse(path, shaped.to_string().as_bytes());
        }
    }
}
