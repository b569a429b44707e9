//! "Did you mean ...?": suggestions for unknown keys, a typo or a key at the wrong level.

use super::schema::{INTENT_KEYS, STORE_KEYS, TOP_KEYS};

/// The closest known key, if it is close enough to be a likely typo (or a known key
/// starts with it, like `order` for `order_id`).
pub(super) fn did_you_mean(key: &str, known: &[&str]) -> Option<String> {
    let normalized = key.to_ascii_lowercase().replace('-', "_");
    let close = known
        .iter()
        .map(|k| (edit_distance(&normalized, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned());
    close.or_else(|| {
        let mut prefixed = known
            .iter()
            .filter(|k| normalized.len() >= 4 && k.starts_with(normalized.as_str()));
        match (prefixed.next(), prefixed.next()) {
            (Some(k), None) => Some((*k).to_owned()),
            _ => None,
        }
    })
}

/// A hint for a key that is valid, but at another level of the file.
pub(super) fn misplaced_hint(key: &str, known: &[&str]) -> Option<&'static str> {
    let at = |keys: &[&str]| keys != known && keys.contains(&key);
    if at(TOP_KEYS) {
        Some("this is a top-level setting, not part of a store or intent")
    } else if at(STORE_KEYS) {
        Some("this belongs to a store, under `stores:`")
    } else if at(INTENT_KEYS) {
        Some("this belongs to an intent in the long form, under `intents:` as `- id: ...`")
    } else {
        None
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("colour", "color"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("poll_intervl", "poll_interval"), 1);
    }

    #[test]
    fn suggestions_only_for_close_keys() {
        assert_eq!(
            did_you_mean("pol_interval", TOP_KEYS).as_deref(),
            Some("poll_interval")
        );
        assert_eq!(
            did_you_mean("max-concurrency", STORE_KEYS).as_deref(),
            Some("max_concurrency")
        );
        assert_eq!(did_you_mean("colour", STORE_KEYS), None);
        assert_eq!(
            did_you_mean("order", INTENT_KEYS).as_deref(),
            Some("order_id")
        );
        // Ambiguous prefixes suggest nothing.
        assert_eq!(did_you_mean("api_secret", STORE_KEYS), None);
    }

    #[test]
    fn misplaced_keys_get_a_hint() {
        assert!(
            misplaced_hint("poll_interval", STORE_KEYS)
                .unwrap()
                .contains("top-level")
        );
        assert!(
            misplaced_hint("api_key", TOP_KEYS)
                .unwrap()
                .contains("store")
        );
        assert!(
            misplaced_hint("order_id", STORE_KEYS)
                .unwrap()
                .contains("intent")
        );
        assert_eq!(misplaced_hint("name", STORE_KEYS), None);
        assert_eq!(misplaced_hint("colour", TOP_KEYS), None);
    }
}
