//! A checkout intent id, validated once where it enters (the config, the state file), so
//! that the rest of the exporter never sees a malformed one.

use std::borrow::Borrow;
use std::fmt;

/// 24 hexadecimal characters, kept in lower case (the API's ids are MongoDB object ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntentId(String);

impl IntentId {
    /// `text` as an id, lower-cased, if it is 24 hex characters.
    pub fn parse(text: &str) -> Option<IntentId> {
        let valid = text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| IntentId(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by id are looked up by `&str` (hashing and ordering agree with `str`'s).
impl Borrow<str> for IntentId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for IntentId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
}
