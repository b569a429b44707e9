//! Validation: the walk down the YAML tree that turns it into a [`Config`], recording
//! every problem at its path instead of stopping at the first.
//!
//! Here: the walk itself (known and unknown keys, the top-level settings, the list of
//! stores); [`store`] checks each store, [`intents`] its watch list, [`sources`] its
//! `intent_sources`, [`registration`] the registration API's block, and
//! [`super::secrets`] reads the secrets.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, Problem, ROOT_PATH};
use super::paths::resolve;
use super::schema::{
    Config, DEFAULT_POLL_INTERVAL, DEFAULT_REQUEST_TIMEOUT, DEFAULT_TERMINAL_RETENTION,
    MAX_DURATION, StoreConfig, TOP_KEYS,
};
use super::suggest::{did_you_mean, misplaced_hint};
use super::yaml::{Node, Value, child, index, quote};
use crate::redact::redact_secrets;

mod database;
mod intents;
mod registration;
mod sources;
mod store;
mod webhook;

/// Validates a parsed document (`None` when it is empty): the config, or every problem.
pub(super) fn validate(
    root: Option<&Node>,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut v = Validator {
        problems: Vec::new(),
        base_dir,
        env,
    };
    let config = v.config(root);
    match config {
        Some(config) if v.problems.is_empty() => Ok(config),
        _ => {
            if v.problems.is_empty() {
                // Defensive: a failed walk always records why; never return Ok garbage.
                v.problem(ROOT_PATH, "the config is invalid");
            }
            Err(ConfigError::Invalid(v.problems))
        }
    }
}

struct Validator<'a> {
    problems: Vec<Problem>,
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// The entries of a mapping with known keys, in a lookup table; nulls count as absent.
struct Fields<'n> {
    path: String,
    values: HashMap<&'static str, &'n Node>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.values.get(key).copied().filter(|n| !n.is_null())
    }
    /// Present but null (`key:` with nothing after it).
    fn is_null(&self, key: &str) -> bool {
        self.values.get(key).is_some_and(|n| n.is_null())
    }
    fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }
}

impl Validator<'_> {
    /// Records a problem. The message is scrubbed of secret-looking text as a last line of
    /// defence: each check names what it quotes, but a message must never carry a secret.
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        self.problems.push(Problem {
            path: path.into(),
            message: redact_secrets(&message).into_owned(),
        });
    }

    /// The text of a scalar; otherwise `None`, with "expected {what}, got ..." recorded.
    fn text(&mut self, path: &str, node: &Node, what: &str) -> Option<String> {
        let text = node.scalar_text();
        if text.is_none() {
            self.problem(path, format!("expected {what}, got {}", node.describe()));
        }
        text
    }

    /// Splits a mapping into known fields, reporting unknown and malformed keys.
    /// `special` handles extra keys (returns true when it dealt with the key).
    fn fields<'n>(
        &mut self,
        path: &str,
        entries: &'n [(Node, Node)],
        known: &[&'static str],
        special: &mut dyn FnMut(&mut Self, &str) -> bool,
    ) -> Fields<'n> {
        let mut values: HashMap<&'static str, &'n Node> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (key, value) in entries {
            let Some(name) = key.scalar_text() else {
                self.problem(
                    if path.is_empty() { ROOT_PATH } else { path },
                    format!("keys must be plain names, got {}", key.describe()),
                );
                continue;
            };
            if !seen.insert(name.clone()) {
                self.problem(
                    child(path, &name),
                    format!("duplicate key {}", quote(&name)),
                );
                continue;
            }
            if let Some(k) = known.iter().find(|k| **k == name) {
                values.insert(k, value);
            } else if !special(self, &name) {
                let mut message = format!("unknown key {}", quote(&name));
                if let Some(suggestion) = did_you_mean(&name, known) {
                    message.push_str(&format!(" (did you mean {suggestion}?)"));
                } else if let Some(hint) = misplaced_hint(&name, known) {
                    message.push_str(&format!(" ({hint})"));
                }
                self.problem(child(path, &name), message);
            }
        }
        Fields {
            path: path.to_owned(),
            values,
        }
    }

    fn config(&mut self, root: Option<&Node>) -> Option<Config> {
        let entries = match root.map(|n| &n.value) {
            None | Some(Value::Null) => {
                self.problem(
                    ROOT_PATH,
                    "the config is empty; it needs at least a `stores:` list",
                );
                return None;
            }
            Some(Value::Map(entries)) => entries,
            Some(_) => {
                let got = root.map(Node::describe).unwrap_or_default();
                self.problem(
                    ROOT_PATH,
                    format!("expected a mapping of settings at the top level, got {got}"),
                );
                return None;
            }
        };
        let f = self.fields("", entries, TOP_KEYS, &mut |_, _| false);

        let poll_interval = self.duration(&f, "poll_interval", DEFAULT_POLL_INTERVAL);
        let request_timeout = self.duration(&f, "request_timeout", DEFAULT_REQUEST_TIMEOUT);
        let terminal_retention =
            self.duration(&f, "terminal_retention", DEFAULT_TERMINAL_RETENTION);
        let state_file = match f.get("state_file") {
            None => Some(None),
            Some(node) => self
                .path_value(&f.path("state_file"), node)
                .map(|p| Some(resolve(self.base_dir, &p))),
        };
        let state_database = self.state_database(&f);
        let stores = self.stores(&f);
        let registration = self.registration(&f);
        let webhook = self.webhook(&f);

        Some(Config {
            poll_interval: poll_interval?,
            request_timeout: request_timeout?,
            terminal_retention: terminal_retention?,
            state_file: state_file?,
            state_database: state_database?,
            stores: stores?,
            registration: registration?,
            webhook: webhook?,
        })
    }

    /// An integer from 1 to `max` (`default` when the key is absent).
    fn count(&mut self, f: &Fields, key: &str, default: usize, max: usize) -> Option<usize> {
        let Some(node) = f.get(key) else {
            return Some(default);
        };
        let n = match node.value {
            Value::Int(n) => usize::try_from(n).ok().filter(|n| (1..=max).contains(n)),
            _ => None,
        };
        if n.is_none() {
            self.problem(
                f.path(key),
                format!(
                    "expected an integer ≥ 1 (at most {max}), got {}",
                    node.describe()
                ),
            );
        }
        n
    }

    /// `true` or `false` (`default` when the key is absent).
    fn flag(&mut self, f: &Fields, key: &str, default: bool) -> Option<bool> {
        match f.get(key) {
            None => Some(default),
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Some(*b),
            Some(other) => {
                self.problem(
                    f.path(key),
                    format!("expected true or false, got {}", other.describe()),
                );
                None
            }
        }
    }

    fn duration(&mut self, f: &Fields, key: &str, default: Duration) -> Option<Duration> {
        self.bounded_duration(f, key, default, (MAX_DURATION, "10 years"))
    }

    /// A duration > 0 and at most `max` (shown as its text in the message).
    fn bounded_duration(
        &mut self,
        f: &Fields,
        key: &str,
        default: Duration,
        (max, max_text): (Duration, &str),
    ) -> Option<Duration> {
        let Some(node) = f.get(key) else {
            return Some(default);
        };
        let path = f.path(key);
        let text = self.text(&path, node, "a duration (e.g. 30s, 5m, 1h30m)")?;
        match humantime::parse_duration(text.trim()) {
            Err(e) => {
                self.problem(
                    path,
                    format!(
                        "{} is not a duration (e.g. 30s, 5m, 1h30m): {e}",
                        quote(&text)
                    ),
                );
                None
            }
            Ok(d) if d.is_zero() => {
                self.problem(
                    path,
                    format!("must be greater than 0, got {}", quote(&text)),
                );
                None
            }
            Ok(d) if d > max => {
                self.problem(
                    path,
                    format!("{} is too long (at most {max_text})", quote(&text)),
                );
                None
            }
            Ok(d) => Some(d),
        }
    }

    /// A non-empty string naming a file.
    fn path_value(&mut self, path: &str, node: &Node) -> Option<PathBuf> {
        let text = self.text(path, node, "a file path")?;
        if text.trim().is_empty() {
            self.problem(path, "must not be empty");
            return None;
        }
        if text.contains('\0') {
            self.problem(path, "must not contain a NUL character");
            return None;
        }
        Some(PathBuf::from(text))
    }

    fn stores(&mut self, f: &Fields) -> Option<Vec<StoreConfig>> {
        let path = f.path("stores");
        let items = match f.get("stores").map(|n| (&n.value, n)) {
            None => {
                let message = if f.is_null("stores") {
                    "at least one store is required"
                } else {
                    "at least one store is required (the `stores:` list is missing)"
                };
                self.problem(path, message);
                return None;
            }
            Some((Value::Seq(items), _)) => items,
            Some((_, node)) => {
                self.problem(
                    path,
                    format!("expected a list of stores, got {}", node.describe()),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.problem(path, "at least one store is required");
            return None;
        }
        let mut stores = Vec::with_capacity(items.len());
        let mut ok = true;
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let store = self.store(&index(&path, i), item, i, &mut names);
            match store {
                Some(s) => stores.push(s),
                None => ok = false,
            }
        }
        ok.then_some(stores)
    }
}
