//! The YAML config: schema, validation that lists every problem with its path, and secrets.
//!
//! The text is parsed by serde-saphyr into a small generic tree (`yaml::Node`) and
//! then walked by hand, so that validation can report *every* problem, each with its YAML
//! path (`stores[1].intents[3]`), instead of stopping at the first one. Only YAML syntax
//! errors are reported as a single [`ConfigError::Yaml`].
//!
//! Secrets never live in the file: each store names an environment variable
//! (`api_secret_env`) or a file (`api_secret_file`) that holds its API secret. Secret values
//! never appear in a [`Problem`], an error, or `Debug` output; nor does config text that
//! looks like a secret pasted into the wrong place (see `crate::redact`).
//!
//! - `schema`: [`Config`] and its parts, defaults and limits, the keys of each level.
//! - `yaml`: the generic tree and the YAML paths of problems.
//! - `validate`: the walk that checks every field (`validate::intents`: watch lists,
//!   `validate::registration`: the registration API's block, `validate::sources`:
//!   `intent_sources`).
//! - `secrets`: reading `api_secret_env`/`api_secret_file`, `token_env`/`token_file` and
//!   `bearer_token_env`/`bearer_token_file`.
//! - `suggest`: "did you mean ...?" for unknown keys.
//! - `error`: [`ConfigError`] and [`Problem`].
//! - `paths`: where relative paths point (`base_dir`), for start-up, reloads and the
//!   state file alike.

use std::io::Read as _;
use std::path::Path;

mod database;
mod error;
mod intent_id;
mod paths;
mod schema;
mod secret;
mod secrets;
mod suggest;
mod validate;
mod yaml;

pub use crate::api::{BaseUrl, BaseUrlError, HttpVersion};
pub use database::{DatabaseUrl, SslMode, StateDatabase, read_root_cert};
pub use error::{ConfigError, Problem};
pub use intent_id::IntentId;
pub use schema::{
    AttentionAfter, Config, DEFAULT_BASE_URL, DEFAULT_MAX_INTENTS_PER_STORE, DEFAULT_MAX_WATCH_AGE,
    DEFAULT_NOT_FOUND_TTL, DEFAULT_REFRESH_INTERVAL, HttpSource, IntentConfig, IntentSources,
    MAX_CONFIG_BYTES, PerIntentMetrics, RegistrationConfig, StoreConfig, StoreWebhookConfig,
    WebhookConfig,
};
pub use secret::Secret;

pub(crate) use paths::{base_dir, dir_of};
pub(crate) use schema::{MIN_REQUESTS_PER_SECOND, OrderIdProblem};
pub(crate) use yaml::quote;

/// Reads a config file, refusing one over [`MAX_CONFIG_BYTES`] (checked while reading).
pub(crate) fn read_config_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
    match read_capped(path, MAX_CONFIG_BYTES) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl Config {
    /// Reads and validates a config file; relative `api_secret_file` paths are resolved
    /// against the config file's directory; secrets from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse_file_bytes(path, &read_config_bytes(path)?)
    }

    /// Validates `bytes` read from the config file `path`, as start-up and every reload
    /// do: relative paths resolve against [`base_dir`]`(path)`, secrets come from the
    /// process environment. One function for both, so that the same bytes always give the
    /// same config.
    pub(crate) fn parse_file_bytes(path: &Path, bytes: &[u8]) -> Result<Config, ConfigError> {
        Config::parse_bytes(bytes, &base_dir(path), &|name| std::env::var(name).ok())
    }

    /// Validates the bytes of a config file, as read at start and at each reload: bytes
    /// that are not UTF-8 are refused (not replaced) and the error says where.
    pub fn parse_bytes(
        bytes: &[u8],
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(bytes, e.valid_up_to()))?;
        Config::parse(text, base_dir, env)
    }

    /// Validates YAML text. `env` looks up environment variables (injected for tests).
    pub fn parse(
        text: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        validate::validate(yaml::parse_yaml(text)?.as_ref(), base_dir, env)
    }
}

/// The error for bytes that are valid UTF-8 up to `valid_up_to`: the line and column (in
/// characters, from 1) of the first bad byte.
fn not_utf8(bytes: &[u8], valid_up_to: usize) -> ConfigError {
    let valid = bytes
        .get(..valid_up_to)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default();
    let (line, last) = match valid.rsplit_once('\n') {
        Some((before, last)) => (before.matches('\n').count() + 2, last),
        None => (1, valid),
    };
    ConfigError::NotUtf8 {
        line,
        column: last.chars().count() + 1,
    }
}

/// Reads at most `cap` bytes; `Ok(None)` when the file is larger.
pub(crate) fn read_capped(path: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let mut buf = Vec::new();
    file.take(cap + 1).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= cap).then_some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_refused_with_where() {
        let env = |_: &str| None;
        let err = Config::parse_bytes(b"stores:\n  - name: \xc3\xa9\xff\n", Path::new("."), &env);
        assert_eq!(
            err.unwrap_err().to_string(),
            "config is not valid UTF-8 text: the first bad byte is at line 2, column 12"
        );
        let err = Config::parse_bytes(b"\xfe", Path::new("."), &env).unwrap_err();
        assert!(
            matches!(err, ConfigError::NotUtf8 { line: 1, column: 1 }),
            "{err}"
        );
    }
}
