//! Secrets: reading a store's API secret (or the registration token) from the environment
//! variable its `api_secret_env` (`token_env`) names or the file its `api_secret_file`
//! (`token_file`) names, without ever showing
//! a value that may be the secret itself, and warning when a secret file is readable by
//! every user. (Scrubbing secret-looking text out of messages is [`crate::redact`].)
//!
//! Each reader returns the secret, or the message of the problem with it; the walk in
//! [`super::validate`] records that message at the field's path.

use std::path::Path;

use super::paths::resolve;
use super::read_capped;
use super::secret::Secret;
use crate::redact::looks_like_secret;

/// Largest accepted `api_secret_file`.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

fn pasted_secret_in_env(key: &str) -> String {
    format!(
        "{key} must name an environment variable, not hold the secret itself: the value \
         starts with st_ like an AllScale key or secret, so it is not shown"
    )
}
fn not_an_env_name(key: &str) -> String {
    format!(
        "{key} must name an environment variable (letters, digits and _, not starting with a \
         digit), not hold the secret itself; the value is not shown"
    )
}
fn pasted_secret_in_file(key: &str) -> String {
    format!(
        "{key} must be the path of a file that holds the secret, not the secret itself: the \
         value starts with st_ like an AllScale key or secret, so it is not shown"
    )
}
/// How a secret file that does not look like a path appears in its problems.
fn unshown_secret_file(key: &str) -> String {
    format!(
        "the {key} (its value is not shown: with no / or ., or with spaces, + or = or a very \
         long name, it looks more like a secret than a path)"
    )
}

/// The secret in the environment variable `name` (as written in the config under `key`).
pub(super) fn from_env(
    key: &str,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must name an environment variable".to_owned());
    }
    // Neither is echoed: either may be the secret itself, pasted into the wrong field.
    if looks_like_secret(name) {
        return Err(pasted_secret_in_env(key));
    }
    if !is_env_name(name) {
        return Err(not_an_env_name(key));
    }
    match env(name) {
        None => Err(format!("environment variable {name} is not set")),
        Some(value) if value.trim().is_empty() => Err(format!(
            "environment variable {name} is not set (it is empty)"
        )),
        Some(value) => Ok(Secret::new(value.trim())),
    }
}

/// The secret in `file` (as written in the config under `key`: relative to `base_dir`).
pub(super) fn from_file(key: &str, file: &Path, base_dir: &Path) -> Result<Secret, String> {
    let text = file.to_string_lossy();
    if looks_like_secret(&text) {
        return Err(pasted_secret_in_file(key));
    }
    let file = resolve(base_dir, file);
    let shown = if looks_like_path(&text) {
        file.display().to_string()
    } else {
        unshown_secret_file(key)
    };
    let contents = match read_capped(&file, MAX_SECRET_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(format!(
                "{shown} is larger than {} KiB; it should hold just the secret",
                MAX_SECRET_FILE_BYTES / 1024
            ));
        }
        Err(e) => return Err(format!("cannot read {shown}: {}", io_message(&e))),
    };
    let Ok(text) = String::from_utf8(contents) else {
        return Err(format!("{shown} is not valid UTF-8 text"));
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("{shown} is empty"));
    }
    warn_if_world_readable(key, &file, &shown);
    Ok(Secret::new(secret))
}

/// A secret file any local user can read is worth a warning, not a refusal: the operator
/// may have reasons (a read-only mount that ignores modes), but should know.
fn warn_if_world_readable(key: &str, file: &Path, shown: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o004 != 0
        {
            tracing::warn!(
                path = %shown,
                "{key} is readable by every user on this host; chmod 600 (or 640 for a group) it"
            );
        }
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest file name component that [`looks_like_path`] takes for a name, not a token.
const MAX_NAME_COMPONENT_CHARS: usize = 64;

/// Whether a secret file's value reads like a path rather than a pasted secret, and so
/// may be quoted in a problem: paths almost always have a `/` or `.`, secrets are long
/// tokens, often base64 (`+`, `=`), and never hold spaces.
fn looks_like_path(text: &str) -> bool {
    !looks_like_secret(text)
        && text.contains(['/', '.'])
        && !text.contains(|c: char| c.is_whitespace() || c.is_control() || c == '+' || c == '=')
        && text
            .split('/')
            .all(|part| part.chars().count() <= MAX_NAME_COMPONENT_CHARS)
}

/// `No such file or directory` rather than `No such file or directory (os error 2)`.
fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rsplit_once(" (os error ") {
        Some((message, code)) if code.ends_with(')') => message.to_owned(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_messages_drop_os_error_codes() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_message(&e), "No such file or directory");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("ALLSCALE_API_SECRET"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("sk live"));
        assert!(!is_env_name(""));
    }
}
