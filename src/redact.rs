//! Keeps secrets pasted into the wrong place out of error messages.
//!
//! Config errors are printed by `check-config`, logged on a failed reload and returned by
//! `POST /-/reload`: if an operator pastes the API secret into the wrong field (or a
//! bcrypt hash into the wrong line of the web config), quoting "the offending value" would
//! copy the secret into logs. Values that look like AllScale credentials (`st_...`) or
//! bcrypt hashes (`$2y$...`) are therefore replaced by a placeholder wherever config
//! text is quoted, including in messages of the YAML parser that we do not format
//! ourselves.

use std::borrow::Cow;

/// What a credential-looking value is shown as: its kind, never its text.
pub(crate) const SECRET_PLACEHOLDER: &str =
    "st_… (not shown: it looks like an AllScale key or secret)";

/// What a bcrypt-hash-looking value is shown as.
pub(crate) const HASH_PLACEHOLDER: &str = "$2…$ (not shown: it looks like a bcrypt hash)";

/// AllScale API keys and secrets start with `st_` (`st_live_...`, `st_test_...`).
const SECRET_PREFIX: &str = "st_";

/// Whether `text` (trimmed) looks like an AllScale key or secret.
pub(crate) fn looks_like_secret(text: &str) -> bool {
    text.trim().starts_with(SECRET_PREFIX)
}

/// Whether `text` (trimmed) looks like a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`).
pub(crate) fn looks_like_bcrypt(text: &str) -> bool {
    bcrypt_prefix_len(text.trim()) > 0
}

/// The length of a bcrypt prefix such as `$2y$` at the start of `s`, or 0.
fn bcrypt_prefix_len(s: &str) -> usize {
    match s.as_bytes() {
        [b'$', b'2', b'a' | b'b' | b'x' | b'y', b'$', ..] => 4,
        _ => 0,
    }
}

/// `text` with every `st_...` token and bcrypt hash replaced by a placeholder.
///
/// A token starts at a word boundary (so `ALLSCALE_TEST_X` is not one) and runs to the
/// next whitespace, non-ASCII character, quote or bracket, which is how parsers quote values (`"..."`,
/// `` `...` ``, `[...]`). Text without either pattern is returned as it is.
pub(crate) fn redact_secrets(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let placeholder = if rest.starts_with(SECRET_PREFIX) && at_word_start(text, i) {
            Some((SECRET_PLACEHOLDER, SECRET_PREFIX.len()))
        } else {
            match bcrypt_prefix_len(rest) {
                0 => None,
                n => Some((HASH_PLACEHOLDER, n)),
            }
        };
        let Some((placeholder, prefix)) = placeholder else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let end = i + prefix + token_len(&rest[prefix..]);
        if end == i + prefix {
            // Just the prefix (e.g. a placeholder already in the text): nothing to hide.
            i = end;
            continue;
        }
        out.push_str(&text[copied..i]);
        out.push_str(placeholder);
        copied = end;
        i = end;
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// Whether the byte at `i` (a char boundary) does not continue a word.
fn at_word_start(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// Bytes up to the first character that cannot be part of a credential: credentials are
/// printable ASCII, and parsers quote with quotes, backticks or brackets.
fn token_len(s: &str) -> usize {
    s.find(|c: char| !c.is_ascii_graphic() || "\"'`,;()[]{}<>".contains(c))
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_credentials_and_hashes() {
        assert!(looks_like_secret(" st_live_abc "));
        assert!(!looks_like_secret("ALLSCALE_API_SECRET"));
        assert!(!looks_like_secret("ST_API_SECRET"));
        assert!(looks_like_bcrypt("$2y$10$abc"));
        assert!(!looks_like_bcrypt("$2z$10$abc"));
        assert!(!looks_like_bcrypt("plain"));
    }

    #[test]
    fn redacts_tokens_wherever_a_parser_quotes_them() {
        for (text, want) in [
            (
                "duplicate mapping key: st_live_x1 at line 3, column 5",
                format!("duplicate mapping key: {SECRET_PLACEHOLDER} at line 3, column 5"),
            ),
            (
                "invalid type: string \"$2y$10$Ab.c/d\", expected a map",
                format!("invalid type: string \"{HASH_PLACEHOLDER}\", expected a map"),
            ),
            (
                "unknown field `st_x`, expected `a`",
                format!("unknown field `{SECRET_PLACEHOLDER}`, expected `a`"),
            ),
            ("/run/st_secret", format!("/run/{SECRET_PLACEHOLDER}")),
        ] {
            assert_eq!(redact_secrets(text), want, "{text}");
        }
    }

    #[test]
    fn leaves_other_text_and_placeholders_alone() {
        for text in [
            "ALLSCALE_TEST_BLANK_VARIABLE is not set",
            "first_st_x",
            "à st",
            "",
            SECRET_PLACEHOLDER,
            HASH_PLACEHOLDER,
        ] {
            assert!(
                matches!(redact_secrets(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    proptest::proptest! {
        /// Any Unicode, with the prefixes mixed in: never a panic (the scan slices only
        /// at character boundaries), and a text without a prefix comes back as it is.
        #[test]
        fn any_text_is_redacted_without_panicking(parts in proptest::collection::vec(
            proptest::prop_oneof![".{0,8}", proptest::strategy::Just("st_".to_string()), proptest::strategy::Just("$2y$".to_string())],
            0..12,
        )) {
            let text = parts.concat();
            let redacted = redact_secrets(&text);
            if !text.contains("st_") && !text.contains("$2") {
                proptest::prop_assert_eq!(redacted.as_ref(), text.as_str());
            }
        }
    }
}
