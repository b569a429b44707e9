//! The YAML config: schema, validation that lists every problem with its path, and secrets.
//!
//! The text is parsed by serde-saphyr into a small generic tree ([`Node`]) and then walked
//! by hand, so that validation can report *every* problem, each with its YAML path
//! (`stores[1].intents[3]`), instead of stopping at the first one. Only YAML syntax errors
//! are reported as a single [`ConfigError::Yaml`].
//!
//! Secrets never live in the file: each store names an environment variable
//! (`api_secret_env`) or a file (`api_secret_file`) that holds its API secret. Secret values
//! never appear in a [`Problem`], an error, or `Debug` output; nor does config text that
//! looks like a secret pasted into the wrong place (see [`crate::redact`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::redact::{SECRET_PLACEHOLDER, looks_like_secret, redact_secrets};

/// Production base URL, the default for `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://openapi.allscale.io";

/// Default `poll_interval`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// Default `request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `terminal_retention`.
pub const DEFAULT_TERMINAL_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Default `max_requests_per_second` of a store.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 10.0;
/// Default `max_concurrency` of a store.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;

/// Longest accepted duration (10 years): keeps `Instant + duration` arithmetic safe.
pub const MAX_DURATION: Duration = Duration::from_secs(315_576_000);
/// Upper bound of `max_requests_per_second`.
pub const MAX_REQUESTS_PER_SECOND_LIMIT: f64 = 10_000.0;
/// Lower bound of `max_requests_per_second` (of each replica's share with `--shard`): one
/// request every 1000 s. Slower is no use for watching checkouts, and a tiny rate (1e-12)
/// would be a request period the rate limiter cannot represent.
pub const MIN_REQUESTS_PER_SECOND: f64 = 0.001;
/// Upper bound of `max_concurrency`.
pub const MAX_CONCURRENCY_LIMIT: usize = 1024;
/// Longest store name (it becomes the `store` label value), in characters.
pub const MAX_STORE_NAME_CHARS: usize = 64;
/// Longest `order_id` (it becomes a label value), in characters.
pub const MAX_ORDER_ID_CHARS: usize = 256;
/// Largest accepted config file: a million long-form intents fit, a runaway file does not.
pub const MAX_CONFIG_BYTES: u64 = 128 * 1024 * 1024;

/// Reads a config file, refusing one over [`MAX_CONFIG_BYTES`] (checked while reading).
pub fn read_config_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
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

/// Largest accepted `api_secret_file`.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A validated config, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub terminal_retention: Duration,
    pub state_file: Option<PathBuf>,
    pub stores: Vec<StoreConfig>,
}

/// One AllScale store: its credentials, its API budget and the intents it watches.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    pub name: String,
    /// Validated http(s) URL without a trailing slash.
    pub base_url: String,
    pub api_key: String,
    pub api_secret: Secret,
    pub max_requests_per_second: f64,
    pub max_concurrency: usize,
    pub verify_response_signature: bool,
    pub http_version: HttpVersion,
    pub intents: Vec<IntentConfig>,
}

/// Which HTTP the API client speaks (`http_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/2 when an `https` server offers it (ALPN), else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only: for proxies or servers with a broken HTTP/2.
    Http1,
    /// HTTP/2 only, also on plain `http` (prior knowledge, "h2c"): every request of the
    /// store multiplexed on one connection.
    Http2,
}

impl HttpVersion {
    const NAMES: [(&str, HttpVersion); 3] = [
        ("auto", HttpVersion::Auto),
        ("http1", HttpVersion::Http1),
        ("http2", HttpVersion::Http2),
    ];

    fn parse(text: &str) -> Option<HttpVersion> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentConfig {
    /// 24 lowercase hex characters.
    pub id: String,
    pub order_id: Option<String>,
}

/// An API secret. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One validation problem: where (a YAML path such as `stores[1].intents[3]`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is larger than {} MiB; refusing to parse it", MAX_CONFIG_BYTES / (1024 * 1024))]
    TooLarge { path: PathBuf },
    #[error(
        "config is not valid UTF-8 text: the first bad byte is at line {line}, column {column}"
    )]
    NotUtf8 { line: usize, column: usize },
    #[error("config is not valid YAML: {0}")]
    Yaml(String),
    #[error("config has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The validation problems, if this is [`ConfigError::Invalid`] (empty otherwise).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

/// The path used for problems about the document as a whole.
pub const ROOT_PATH: &str = "(root)";

impl Config {
    /// Reads and validates a config file; relative `api_secret_file` paths are resolved
    /// against the config file's directory; secrets from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = read_config_bytes(path)?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base_dir = std::path::absolute(&parent).unwrap_or(parent);
        Config::parse_bytes(&bytes, &base_dir, &|name| std::env::var(name).ok())
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
        let root = parse_yaml(text)?;
        let mut v = Validator {
            problems: Vec::new(),
            base_dir,
            env,
        };
        let config = v.config(root.as_ref());
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

    /// One-line summary for `check-config`, e.g. `2 stores, 37 intents`.
    pub fn summary(&self) -> String {
        let stores = self.stores.len();
        let intents = self.intent_count();
        format!(
            "{stores} {}, {intents} {}",
            if stores == 1 { "store" } else { "stores" },
            if intents == 1 { "intent" } else { "intents" }
        )
    }

    /// Number of watched intents across all stores.
    pub fn intent_count(&self) -> usize {
        self.stores.iter().map(|s| s.intents.len()).sum()
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

// ---------------------------------------------------------------------------------------
// The generic YAML tree.

/// A YAML node. Scalars that YAML typed as numbers or booleans keep their source text in
/// `raw`, so that a field that wants a string (an intent id, an order id, a name) gets
/// exactly what was written (`order_id: 0123` is `"0123"`, not `123`).
#[derive(Debug, Clone)]
struct Node {
    value: Value,
    raw: Option<String>,
}

#[derive(Debug, Clone)]
enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// What serde-saphyr produces; turned into [`Node`] with the source text at hand.
enum RawValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<RawValue>, Spanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(i128::from(n)))
    }
    fn visit_u64<E>(self, n: u64) -> Result<RawValue, E> {
        Ok(RawValue::Int(i128::from(n)))
    }
    fn visit_i128<E>(self, n: i128) -> Result<RawValue, E> {
        Ok(RawValue::Int(n))
    }
    fn visit_u128<E>(self, n: u128) -> Result<RawValue, E> {
        Ok(match i128::try_from(n) {
            Ok(n) => RawValue::Int(n),
            Err(_) => RawValue::Float(n as f64),
        })
    }
    fn visit_f64<E>(self, n: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(n))
    }
    fn visit_char<E>(self, c: char) -> Result<RawValue, E> {
        Ok(RawValue::Str(c.to_string()))
    }
    fn visit_str<E>(self, s: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(s))
    }
    fn visit_bytes<E>(self, b: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::Str(String::from_utf8_lossy(b).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawValue::Map(entries))
    }
}

fn to_node(spanned: Spanned<RawValue>, text: &str) -> Node {
    let span = spanned.defined.span();
    let source = || -> Option<String> {
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let s = text.get(start..start.checked_add(len)?)?.trim();
        // A number or boolean is one plain token; anything else means the span is not
        // what we think it is, so fall back to the parsed value.
        let plausible = !s.is_empty()
            && !s.contains(|c: char| {
                c.is_whitespace() || matches!(c, '#' | ':' | ',' | '"' | '[' | ']' | '{' | '}')
            });
        plausible.then(|| s.to_owned())
    };
    match spanned.value {
        RawValue::Null => Node {
            value: Value::Null,
            raw: None,
        },
        RawValue::Bool(b) => Node {
            value: Value::Bool(b),
            raw: source().or_else(|| Some(b.to_string())),
        },
        RawValue::Int(n) => Node {
            value: Value::Int(n),
            raw: source().or_else(|| Some(n.to_string())),
        },
        RawValue::Float(n) => Node {
            value: Value::Float(n),
            raw: source().or_else(|| Some(n.to_string())),
        },
        RawValue::Str(s) => Node {
            value: Value::Str(s),
            raw: None,
        },
        RawValue::Seq(items) => Node {
            value: Value::Seq(items.into_iter().map(|i| to_node(i, text)).collect()),
            raw: None,
        },
        RawValue::Map(entries) => Node {
            value: Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (to_node(k, text), to_node(v, text)))
                    .collect(),
            ),
            raw: None,
        },
    }
}

/// YAML nodes allowed in a config or scenario: about a million long-form intents.
pub const LARGE_YAML_NODES: usize = 8_000_000;

/// A secret file any local user can read is worth a warning, not a refusal: the operator
/// may have reasons (a read-only mount that ignores modes), but should know.
fn warn_if_world_readable(file: &Path, shown: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o004 != 0
        {
            tracing::warn!(
                path = %shown,
                "api_secret_file is readable by every user on this host; chmod 600 (or 640 for a group) it"
            );
        }
    }
}

/// Parses YAML text into a tree; `None` for an empty document.
fn parse_yaml(text: &str) -> Result<Option<Node>, ConfigError> {
    let options = serde_saphyr::options! {
        // No snippets: they would echo source lines, which may hold a secret pasted by
        // mistake, into logs. The message still has the line and column.
        with_snippet: false,
        // `yes`/`no`/`on`/`off` stay strings (the "Norway problem").
        strict_booleans: true,
        // Keep numeric-looking spellings recoverable as text for string fields.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
        leading_zero_numbers_as_strings: true,
        // Watch lists of a million intents must load; anchors, aliases and depth keep
        // their protective defaults.
        budget: serde_saphyr::budget! {
            max_nodes: LARGE_YAML_NODES,
            max_events: 2 * LARGE_YAML_NODES,
            max_total_scalar_bytes: 256 * 1024 * 1024,
            // Anchors in a config share a few settings; an alias bomb is cut off early.
            max_recorded_anchor_events: 10_000,
            max_aliases: 10_000,
        },
    };
    let parsed: Option<Spanned<RawValue>> = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ConfigError::Yaml(yaml_error_message(&e.to_string())))?;
    Ok(parsed.map(|root| to_node(root, text)))
}

/// Drops serde-saphyr's programmer-facing hints from its messages, and any secret-looking
/// text they quote (a duplicate key message names the key, which may be a pasted secret).
fn yaml_error_message(message: &str) -> String {
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    redact_secrets(message.trim()).into_owned()
}

impl Node {
    /// The text of a scalar: strings as they are; numbers and booleans as written.
    fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => self.raw.clone(),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// How to show this value in a "got ..." message (shortened, never multi-line).
    fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                shorten(self.raw.as_deref().unwrap_or("?"))
            }
            Value::Str(s) => quote(s),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// Quotes a user value for a message, shortened to keep messages one readable line; a
/// value that looks like a secret is named, not quoted.
fn quote(s: &str) -> String {
    if looks_like_secret(s) {
        SECRET_PLACEHOLDER.to_owned()
    } else {
        format!("{:?}", shorten_raw(s))
    }
}

fn shorten(s: &str) -> String {
    shorten_raw(s).escape_debug().to_string()
}

fn shorten_raw(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

// ---------------------------------------------------------------------------------------
// Paths.

/// The path of `key` under `parent`; an unknown key that looks like a secret (pasted on a
/// line of its own, it parses as a key) is not spelled out.
fn child(parent: &str, key: &str) -> String {
    let key = if looks_like_secret(key) {
        "st_…"
    } else {
        key
    };
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

// ---------------------------------------------------------------------------------------
// Validation.

const TOP_KEYS: &[&str] = &[
    "poll_interval",
    "request_timeout",
    "terminal_retention",
    "state_file",
    "stores",
];
const STORE_KEYS: &[&str] = &[
    "name",
    "base_url",
    "api_key",
    "api_secret_env",
    "api_secret_file",
    "max_requests_per_second",
    "max_concurrency",
    "verify_response_signature",
    "http_version",
    "intents",
];
const INTENT_KEYS: &[&str] = &["id", "order_id"];

const PASTED_SECRET_IN_ENV: &str = "api_secret_env must name an environment variable, not \
     hold the secret itself: the value starts with st_ like an AllScale key or secret, so it \
     is not shown";
const NOT_AN_ENV_NAME: &str = "api_secret_env must name an environment variable (letters, \
     digits and _, not starting with a digit), not hold the secret itself; the value is not \
     shown";
const PASTED_SECRET_IN_FILE: &str = "api_secret_file must be the path of a file that holds \
     the secret, not the secret itself: the value starts with st_ like an AllScale key or \
     secret, so it is not shown";
/// How an `api_secret_file` that does not look like a path appears in its problems.
const UNSHOWN_SECRET_FILE: &str = "the api_secret_file (its value is not shown: with no / or \
     ., or with spaces, + or = or a very long name, it looks more like a secret than a path)";

const INLINE_SECRET_MESSAGE: &str = "inline secrets are not allowed in the config file; use \
     api_secret_env (an environment variable) or api_secret_file (a file path) instead";

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
                .map(|p| Some(self.resolve(&p))),
        };
        let stores = self.stores(&f);

        Some(Config {
            poll_interval: poll_interval?,
            request_timeout: request_timeout?,
            terminal_retention: terminal_retention?,
            state_file: state_file?,
            stores: stores?,
        })
    }

    fn duration(&mut self, f: &Fields, key: &str, default: Duration) -> Option<Duration> {
        let Some(node) = f.get(key) else {
            return Some(default);
        };
        let path = f.path(key);
        let Some(text) = node.scalar_text() else {
            self.problem(
                path,
                format!(
                    "expected a duration (e.g. 30s, 5m, 1h30m), got {}",
                    node.describe()
                ),
            );
            return None;
        };
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
            Ok(d) if d > MAX_DURATION => {
                self.problem(
                    path,
                    format!("{} is too long (at most 10 years)", quote(&text)),
                );
                None
            }
            Ok(d) => Some(d),
        }
    }

    /// A non-empty string naming a file.
    fn path_value(&mut self, path: &str, node: &Node) -> Option<PathBuf> {
        let Some(text) = node.scalar_text() else {
            self.problem(
                path,
                format!("expected a file path, got {}", node.describe()),
            );
            return None;
        };
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

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
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

    fn store(
        &mut self,
        path: &str,
        node: &Node,
        i: usize,
        names: &mut HashMap<String, usize>,
    ) -> Option<StoreConfig> {
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!(
                    "expected a store (a mapping with name, api_key, ...), got {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut inline_secret = false;
        let f = self.fields(path, entries, STORE_KEYS, &mut |v, key| {
            if key == "api_secret" {
                v.problem(child(path, key), INLINE_SECRET_MESSAGE);
                inline_secret = true;
                true
            } else {
                false
            }
        });

        let name = self.store_name(&f, i, names);
        let base_url = self.base_url(&f);
        let api_key = self.api_key(&f);
        let api_secret = self.secret(&f, inline_secret);
        let max_requests_per_second = self.max_rps(&f);
        let max_concurrency = self.max_concurrency(&f);
        let verify_response_signature = match f.get("verify_response_signature") {
            None => Some(false),
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Some(*b),
            Some(other) => {
                self.problem(
                    f.path("verify_response_signature"),
                    format!("expected true or false, got {}", other.describe()),
                );
                None
            }
        };
        let http_version = self.http_version(&f);
        let intents = self.intents(&f);

        Some(StoreConfig {
            name: name?,
            base_url: base_url?,
            api_key: api_key?,
            api_secret: api_secret?,
            max_requests_per_second: max_requests_per_second?,
            max_concurrency: max_concurrency?,
            verify_response_signature: verify_response_signature?,
            http_version: http_version?,
            intents: intents?,
        })
    }

    /// A required, non-empty string field.
    fn required_text(&mut self, f: &Fields, key: &str, what: &str) -> Option<String> {
        let path = f.path(key);
        let Some(node) = f.get(key) else {
            let message = if f.is_null(key) {
                "must not be empty".to_owned()
            } else {
                format!("required key is missing ({what})")
            };
            self.problem(path, message);
            return None;
        };
        let Some(text) = node.scalar_text() else {
            self.problem(path, format!("expected {what}, got {}", node.describe()));
            return None;
        };
        if text.trim().is_empty() {
            self.problem(path, "must not be empty");
            return None;
        }
        Some(text)
    }

    fn store_name(
        &mut self,
        f: &Fields,
        i: usize,
        names: &mut HashMap<String, usize>,
    ) -> Option<String> {
        let name = self.required_text(f, "name", "a store name")?;
        let path = f.path("name");
        let mut valid = true;
        if name.chars().any(char::is_control) {
            self.problem(
                &path,
                format!("{} must not contain control characters", quote(&name)),
            );
            valid = false;
        }
        if name.chars().count() > MAX_STORE_NAME_CHARS {
            self.problem(
                &path,
                format!(
                    "{} is too long ({} characters, at most {MAX_STORE_NAME_CHARS})",
                    quote(&name),
                    name.chars().count()
                ),
            );
            valid = false;
        }
        if name.trim() != name {
            self.problem(
                &path,
                format!("{} must not start or end with whitespace", quote(&name)),
            );
            valid = false;
        }
        if let Some(first) = names.get(&name) {
            self.problem(
                &path,
                format!(
                    "duplicate store name {} (first at stores[{first}])",
                    quote(&name)
                ),
            );
            valid = false;
        } else {
            names.insert(name.clone(), i);
        }
        valid.then_some(name)
    }

    fn base_url(&mut self, f: &Fields) -> Option<String> {
        let Some(node) = f.get("base_url") else {
            return Some(DEFAULT_BASE_URL.to_owned());
        };
        let path = f.path("base_url");
        let Some(text) = node.scalar_text() else {
            self.problem(
                path,
                format!("expected an http(s) URL, got {}", node.describe()),
            );
            return None;
        };
        let text = text.trim();
        let shown = quote(&redact_userinfo(text));
        let scheme_ok = {
            let lower = text.to_ascii_lowercase();
            lower.starts_with("http://") || lower.starts_with("https://")
        };
        if !scheme_ok {
            self.problem(path, format!("{shown} must be an http:// or https:// URL"));
            return None;
        }
        let url = match reqwest::Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                self.problem(path, format!("{shown} is not a valid URL: {e}"));
                return None;
            }
        };
        if url.host_str().is_none_or(str::is_empty) {
            self.problem(path, format!("{shown} has no host"));
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            self.problem(
                path,
                format!(
                    "{shown} must not contain credentials; use api_key and api_secret_env or api_secret_file"
                ),
            );
            return None;
        }
        if url.query().is_some() || url.fragment().is_some() {
            self.problem(
                path,
                format!("{shown} must not have a query (?...) or fragment (#...)"),
            );
            return None;
        }
        Some(url.as_str().trim_end_matches('/').to_owned())
    }

    fn api_key(&mut self, f: &Fields) -> Option<String> {
        let key = self.required_text(f, "api_key", "the store's API key")?;
        let key = key.trim().to_owned();
        if key.chars().any(char::is_control) {
            self.problem(f.path("api_key"), "must not contain control characters");
            return None;
        }
        Some(key)
    }

    fn secret(&mut self, f: &Fields, inline_secret: bool) -> Option<Secret> {
        let env = f.values.get("api_secret_env").copied();
        let file = f.values.get("api_secret_file").copied();
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    &f.path,
                    "set exactly one of api_secret_env or api_secret_file, not both",
                );
                None
            }
            (None, None) => {
                if !inline_secret {
                    self.problem(
                        &f.path,
                        "set exactly one of api_secret_env or api_secret_file (the store's API secret)",
                    );
                }
                None
            }
            (Some(node), None) => self.secret_from_env(&f.path("api_secret_env"), node),
            (None, Some(node)) => self.secret_from_file(&f.path("api_secret_file"), node),
        }
    }

    fn secret_from_env(&mut self, path: &str, node: &Node) -> Option<Secret> {
        let Some(name) = node.scalar_text() else {
            self.problem(
                path,
                format!(
                    "expected the name of an environment variable, got {}",
                    node.describe()
                ),
            );
            return None;
        };
        let name = name.trim();
        if name.is_empty() {
            self.problem(path, "must name an environment variable");
            return None;
        }
        // Neither is echoed: either may be the secret itself, pasted into the wrong field.
        if looks_like_secret(name) {
            self.problem(path, PASTED_SECRET_IN_ENV);
            return None;
        }
        if !is_env_name(name) {
            self.problem(path, NOT_AN_ENV_NAME);
            return None;
        }
        match (self.env)(name) {
            None => {
                self.problem(path, format!("environment variable {name} is not set"));
                None
            }
            Some(value) if value.trim().is_empty() => {
                self.problem(
                    path,
                    format!("environment variable {name} is not set (it is empty)"),
                );
                None
            }
            Some(value) => Some(Secret::new(value.trim())),
        }
    }

    fn secret_from_file(&mut self, path: &str, node: &Node) -> Option<Secret> {
        let file = self.path_value(path, node)?;
        let text = file.to_string_lossy();
        if looks_like_secret(&text) {
            self.problem(path, PASTED_SECRET_IN_FILE);
            return None;
        }
        let shown = if looks_like_path(&text) {
            self.resolve(&file).display().to_string()
        } else {
            UNSHOWN_SECRET_FILE.to_owned()
        };
        let file = self.resolve(&file);
        let contents = match read_capped(&file, MAX_SECRET_FILE_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.problem(
                    path,
                    format!(
                        "{shown} is larger than {} KiB; it should hold just the API secret",
                        MAX_SECRET_FILE_BYTES / 1024
                    ),
                );
                return None;
            }
            Err(e) => {
                self.problem(path, format!("cannot read {shown}: {}", io_message(&e)));
                return None;
            }
        };
        let Ok(text) = String::from_utf8(contents) else {
            self.problem(path, format!("{shown} is not valid UTF-8 text"));
            return None;
        };
        let secret = text.trim();
        if secret.is_empty() {
            self.problem(path, format!("{shown} is empty"));
            return None;
        }
        warn_if_world_readable(&file, &shown);
        Some(Secret::new(secret))
    }

    fn max_rps(&mut self, f: &Fields) -> Option<f64> {
        let Some(node) = f.get("max_requests_per_second") else {
            return Some(DEFAULT_MAX_REQUESTS_PER_SECOND);
        };
        let n = match node.value {
            Value::Int(n) => n as f64,
            Value::Float(n) => n,
            _ => f64::NAN,
        };
        if (MIN_REQUESTS_PER_SECOND..=MAX_REQUESTS_PER_SECOND_LIMIT).contains(&n) {
            Some(n)
        } else {
            self.problem(
                f.path("max_requests_per_second"),
                format!(
                    "expected a number ≥ {MIN_REQUESTS_PER_SECOND} (one request every 1000 s) and \
                     ≤ {MAX_REQUESTS_PER_SECOND_LIMIT}, fractions allowed (e.g. 0.5), got {}",
                    node.describe()
                ),
            );
            None
        }
    }

    fn http_version(&mut self, f: &Fields) -> Option<HttpVersion> {
        let Some(node) = f.get("http_version") else {
            return Some(HttpVersion::Auto);
        };
        let parsed = node.scalar_text().and_then(|t| HttpVersion::parse(&t));
        if parsed.is_none() {
            self.problem(
                f.path("http_version"),
                format!("expected auto, http1 or http2, got {}", node.describe()),
            );
        }
        parsed
    }

    fn max_concurrency(&mut self, f: &Fields) -> Option<usize> {
        let Some(node) = f.get("max_concurrency") else {
            return Some(DEFAULT_MAX_CONCURRENCY);
        };
        let n = match node.value {
            Value::Int(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_CONCURRENCY_LIMIT).contains(n)),
            _ => None,
        };
        if n.is_none() {
            self.problem(
                f.path("max_concurrency"),
                format!(
                    "expected an integer ≥ 1 (at most {MAX_CONCURRENCY_LIMIT}), got {}",
                    node.describe()
                ),
            );
        }
        n
    }

    fn intents(&mut self, f: &Fields) -> Option<Vec<IntentConfig>> {
        let path = f.path("intents");
        let items = match f.get("intents") {
            None => return Some(Vec::new()),
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(other) => {
                self.problem(
                    path,
                    format!("expected a list of intents, got {}", other.describe()),
                );
                return None;
            }
        };
        let mut intents = Vec::with_capacity(items.len());
        let mut ok = true;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&path, i);
            let Some(intent) = self.intent(&item_path, item) else {
                ok = false;
                continue;
            };
            if let Some(first) = seen.get(&intent.id) {
                self.problem(
                    &item_path,
                    format!(
                        "duplicate intent {} (first at {})",
                        intent.id,
                        index(&path, *first)
                    ),
                );
                ok = false;
                continue;
            }
            seen.insert(intent.id.clone(), i);
            intents.push(intent);
        }
        ok.then_some(intents)
    }

    fn intent(&mut self, path: &str, node: &Node) -> Option<IntentConfig> {
        match &node.value {
            Value::Map(entries) => {
                let f = self.fields(path, entries, INTENT_KEYS, &mut |_, _| false);
                let id = match f.get("id") {
                    Some(id) => self.intent_id(&f.path("id"), id),
                    None => {
                        let message = if f.is_null("id") {
                            "must not be empty; expected a 24-hex checkout intent id"
                        } else {
                            "required key is missing (the 24-hex checkout intent id)"
                        };
                        self.problem(f.path("id"), message);
                        None
                    }
                };
                let order_id = match f.get("order_id") {
                    None => Some(None),
                    Some(o) => self.order_id(&f.path("order_id"), o).map(Some),
                };
                Some(IntentConfig {
                    id: id?,
                    order_id: order_id?,
                })
            }
            Value::Seq(_) | Value::Null => {
                self.problem(
                    path,
                    format!(
                        "expected a 24-hex checkout intent id or a mapping with id (and optional order_id), got {}",
                        node.describe()
                    ),
                );
                None
            }
            _ => Some(IntentConfig {
                id: self.intent_id(path, node)?,
                order_id: None,
            }),
        }
    }

    fn intent_id(&mut self, path: &str, node: &Node) -> Option<String> {
        match node.scalar_text() {
            Some(text) if text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(text.to_ascii_lowercase())
            }
            Some(text) => {
                self.problem(
                    path,
                    format!("{} is not a 24-hex checkout intent id", quote(&text)),
                );
                None
            }
            None => {
                self.problem(
                    path,
                    format!("{} is not a 24-hex checkout intent id", node.describe()),
                );
                None
            }
        }
    }

    fn order_id(&mut self, path: &str, node: &Node) -> Option<String> {
        let Some(text) = node.scalar_text() else {
            self.problem(
                path,
                format!("expected an order id (text), got {}", node.describe()),
            );
            return None;
        };
        if text.trim().is_empty() {
            self.problem(path, "must not be empty (leave order_id out instead)");
            return None;
        }
        if text.chars().any(char::is_control) {
            self.problem(
                path,
                format!("{} must not contain control characters", quote(&text)),
            );
            return None;
        }
        if text.chars().count() > MAX_ORDER_ID_CHARS {
            self.problem(
                path,
                format!(
                    "{} is too long ({} characters, at most {MAX_ORDER_ID_CHARS})",
                    quote(&text),
                    text.chars().count()
                ),
            );
            return None;
        }
        Some(text)
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest file name component that [`looks_like_path`] takes for a name, not a token.
const MAX_NAME_COMPONENT_CHARS: usize = 64;

/// Whether an `api_secret_file` value reads like a path rather than a pasted secret, and so
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

/// Reads at most `cap` bytes; `Ok(None)` when the file is larger.
fn read_capped(path: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
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

/// `No such file or directory` rather than `No such file or directory (os error 2)`.
fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rsplit_once(" (os error ") {
        Some((message, code)) if code.ends_with(')') => message.to_owned(),
        _ => s,
    }
}

/// Hides `user:password@` in a URL before it goes into a message. Splits on the URL's
/// ASCII delimiters rather than slicing by index: the text is untrusted.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_owned(),
    }
}

/// The closest known key, if it is close enough to be a likely typo (or a known key
/// starts with it, like `order` for `order_id`).
fn did_you_mean(key: &str, known: &[&str]) -> Option<String> {
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
fn misplaced_hint(key: &str, known: &[&str]) -> Option<&'static str> {
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

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("https://u:p@host/x@y"),
            "https://***@host/x@y"
        );
        assert_eq!(redact_userinfo("https://host/a"), "https://host/a");
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }

    #[test]
    fn io_messages_drop_os_error_codes() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_message(&e), "No such file or directory");
    }

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

    #[test]
    fn env_names() {
        assert!(is_env_name("ALLSCALE_API_SECRET"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("sk live"));
        assert!(!is_env_name(""));
    }
}
