//! A checkout intent id, validated once where it enters (the config, the state file), so
//! that the rest of the exporter never sees a malformed one.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::clock::UnixTime;

/// 24 hexadecimal characters, kept in lower case (the API's ids are MongoDB object ids).
///
/// Kept inline, not in a `String`: every index of the state (the watch list, the board,
/// the calendar, the dirty set) holds a copy of each watched intent's id, and at 100k
/// intents a heap allocation per copy cost megabytes and an allocation per clone.
#[derive(Clone)]
pub struct IntentId([u8; 24]);

impl IntentId {
    /// `text` as an id, lower-cased, if it is 24 hex characters.
    pub fn parse(text: &str) -> Option<IntentId> {
        let bytes: [u8; 24] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then(|| IntentId(bytes.map(|b| b.to_ascii_lowercase())))
    }

    /// When the intent was created: an ObjectId starts with its creation time, 8 hex
    /// digits of big-endian Unix seconds (no API call needed for the time to outcome).
    pub fn created_at(&self) -> UnixTime {
        let secs = self.0[..8]
            .iter()
            // Only hex digits get in (`parse`): never the 0 fallback.
            .fold(0u64, |acc, b| {
                (acc << 4) | u64::from(char::from(*b).to_digit(16).unwrap_or(0))
            });
        UnixTime::from_secs(secs)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits get in (`parse`), so this is never the empty fallback.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

// Equality, order and hash are those of the text, as `Borrow<str>` requires: maps keyed
// by id are looked up by `&str`.
impl PartialEq for IntentId {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for IntentId {}

impl Ord for IntentId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for IntentId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for IntentId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Borrow<str> for IntentId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for IntentId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IntentId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_as_text!(IntentId, "intent id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_24_hex_characters_are_an_id_kept_in_lower_case() {
        let id = IntentId::parse("65F0A1B2C3D4E5F6A7B8C9D0").unwrap();
        assert_eq!(id.as_str(), "65f0a1b2c3d4e5f6a7b8c9d0");
        for bad in [
            "",
            "65f0",
            "65f0a1b2c3d4e5f6a7b8c9dz",
            "65f0a1b2c3d4e5f6a7b8c9d0a",
            "é5f0a1b2c3d4e5f6a7b8c9d",
        ] {
            assert_eq!(IntentId::parse(bad), None, "{bad}");
        }
    }

    /// The first 8 hex digits are the big-endian Unix seconds of creation.
    #[test]
    fn the_creation_time_is_read_from_the_first_four_bytes() {
        let at = |text: &str| IntentId::parse(text).unwrap().created_at();
        // 0x65f0a1b2 = 1710268850 (2024-03-12T18:40:50Z).
        assert_eq!(
            at("65F0A1B2c3d4e5f6a7b8c9d0"),
            UnixTime::from_secs(1_710_268_850)
        );
        assert_eq!(
            at("ffffffff0000000000000000"),
            UnixTime::from_secs(0xffff_ffff)
        );
        assert_eq!(at("00000001ffffffffffffffff"), UnixTime::from_secs(1));
        assert_eq!(
            at("aaaaaaaaaaaaaaaaaaaaaaaa"),
            UnixTime::from_secs(0xaaaa_aaaa)
        );
    }

    /// Hash, order and equality agree with the text's, so maps keyed by id find `&str`.
    #[test]
    fn maps_keyed_by_id_are_found_by_text() {
        let ids: Vec<IntentId> = ["65f0a1b2c3d4e5f6a7b8c9d1", "65f0a1b2c3d4e5f6a7b8c9d0"]
            .iter()
            .map(|t| IntentId::parse(t).unwrap())
            .collect();
        let hashed: std::collections::HashSet<IntentId> = ids.iter().cloned().collect();
        let ordered: std::collections::BTreeSet<IntentId> = ids.iter().cloned().collect();
        for id in &ids {
            assert!(hashed.contains(id.as_str()) && ordered.contains(id.as_str()));
        }
        let first = ordered.iter().next().unwrap();
        assert_eq!(first.as_str(), "65f0a1b2c3d4e5f6a7b8c9d0");
        assert_eq!(
            format!("{:?}", ids[1]),
            "IntentId(\"65f0a1b2c3d4e5f6a7b8c9d0\")"
        );
        assert_eq!(std::mem::size_of::<IntentId>(), 24);
    }
}
