//! Helpers for untrusted text: never slice a `str` at a byte index that may fall inside
//! a character (that panics).

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character
/// boundary.
pub fn prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let end = (0..=max_bytes)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_stops_before_a_split_character() {
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("abc", 2), "ab");
        assert_eq!(prefix("aé", 2), "a", "é is two bytes");
        assert_eq!(prefix("€", 2), "");
        assert_eq!(prefix("", 0), "");
    }

    proptest::proptest! {
        #[test]
        fn prefix_is_a_prefix_within_the_limit(text in ".*", max in 0usize..64) {
            let p = prefix(&text, max);
            proptest::prop_assert!(p.len() <= max && text.starts_with(p));
            proptest::prop_assert!(p.len() == text.len() || p.len() + 4 > max);
        }
    }
}
