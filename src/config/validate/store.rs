//! Validation of one store: its name, URL, credentials and API budget.

use crate::config::{BaseUrl, BaseUrlError, HttpVersion};
use std::collections::HashMap;

use super::{Fields, Validator};
use crate::config::schema::{
    ATTENTION_AFTER_KEYS, ATTENTION_AFTER_LIMIT, AttentionAfter, DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_REQUESTS_PER_SECOND, DEFAULT_MAX_WATCH_AGE,
    DEFAULT_NOT_FOUND_TTL, HTTP_VERSION_NAMES, MAX_CONCURRENCY_LIMIT,
    MAX_REQUESTS_PER_SECOND_LIMIT, MAX_STORE_NAME_CHARS, MAX_WATCH_AGE_LIMIT,
    MIN_REQUESTS_PER_SECOND, NOT_FOUND_TTL_LIMIT, PerIntentMetrics, STORE_KEYS, StoreConfig,
};
use crate::config::secret::Secret;
use crate::config::secrets;
use crate::config::yaml::{Node, Value, child, quote};

const INLINE_SECRET_MESSAGE: &str = "inline secrets are not allowed in the config file; use \
     api_secret_env (an environment variable) or api_secret_file (a file path) instead";

impl Validator<'_> {
    pub(super) fn store(
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
        let verify_response_signature = self.flag(&f, "verify_response_signature", false);
        let fetch_details = self.flag(&f, "fetch_details", true);
        let http_version = self.choice(&f, "http_version", &HTTP_VERSION_NAMES, HttpVersion::Auto);
        let per_intent_metrics = self.choice(
            &f,
            "per_intent_metrics",
            &PerIntentMetrics::NAMES,
            PerIntentMetrics::Active,
        );
        let attention_after = self.attention_after(&f);
        let max_watch_age = self.bounded_duration(
            &f,
            "max_watch_age",
            DEFAULT_MAX_WATCH_AGE,
            MAX_WATCH_AGE_LIMIT,
        );
        let not_found_ttl = self.bounded_duration(
            &f,
            "not_found_ttl",
            DEFAULT_NOT_FOUND_TTL,
            NOT_FOUND_TTL_LIMIT,
        );
        let intents = self.intents(&f);
        let intent_sources = self.intent_sources(&f);
        let webhook = self.store_webhook(&f);

        Some(StoreConfig {
            name: name?,
            base_url: base_url?,
            api_key: api_key?,
            api_secret: api_secret?,
            max_requests_per_second: max_requests_per_second?,
            max_concurrency: max_concurrency?,
            verify_response_signature: verify_response_signature?,
            fetch_details: fetch_details?,
            http_version: http_version?,
            per_intent_metrics: per_intent_metrics?,
            attention_after: attention_after?,
            max_watch_age: max_watch_age?,
            not_found_ttl: not_found_ttl?,
            intents: intents?,
            intent_sources: intent_sources?,
            webhook: webhook?,
        })
    }

    /// A required, non-empty string field.
    pub(super) fn required_text(&mut self, f: &Fields, key: &str, what: &str) -> Option<String> {
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
        let text = self.text(&path, node, what)?;
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

    fn base_url(&mut self, f: &Fields) -> Option<BaseUrl> {
        let Some(node) = f.get("base_url") else {
            return BaseUrl::parse(DEFAULT_BASE_URL).ok();
        };
        let path = f.path("base_url");
        let text = self.text(&path, node, "an http(s) URL")?;
        let text = text.trim();
        match BaseUrl::parse(text) {
            Ok(url) => Some(url),
            Err(why) => {
                let shown = quote(&redact_userinfo(text));
                let hint = match why {
                    BaseUrlError::Credentials => {
                        "; use api_key and api_secret_env or api_secret_file"
                    }
                    _ => "",
                };
                self.problem(path, format!("{shown} {why}{hint}"));
                None
            }
        }
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
        let keys = ("api_secret_env", "api_secret_file");
        self.one_secret(f, keys, "the store's API secret", inline_secret)
    }

    /// The secret that exactly one of `env_key` (an environment variable) or `file_key` (a
    /// file) names. `reported` says a problem about it was already recorded.
    pub(super) fn one_secret(
        &mut self,
        f: &Fields,
        (env_key, file_key): (&str, &str),
        what: &str,
        reported: bool,
    ) -> Option<Secret> {
        let env = f.values.get(env_key).copied();
        let file = f.values.get(file_key).copied();
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    &f.path,
                    format!("set exactly one of {env_key} or {file_key}, not both"),
                );
                None
            }
            (None, None) => {
                if !reported {
                    self.problem(
                        &f.path,
                        format!("set exactly one of {env_key} or {file_key} ({what})"),
                    );
                }
                None
            }
            (Some(node), None) => {
                let path = f.path(env_key);
                let name = self.text(&path, node, "the name of an environment variable")?;
                let secret = secrets::from_env(env_key, &name, self.env);
                self.ok_or_problem(&path, secret)
            }
            (None, Some(node)) => {
                let path = f.path(file_key);
                let file = self.path_value(&path, node)?;
                let secret = secrets::from_file(file_key, &file, self.base_dir);
                self.ok_or_problem(&path, secret)
            }
        }
    }

    /// The value, or `None` with the message recorded as a problem at `path`.
    pub(super) fn ok_or_problem<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.problem(path, message)).ok()
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

    /// One of `names` at `key` (`default` when absent); a problem naming every choice.
    fn choice<T: Copy>(
        &mut self,
        f: &Fields,
        key: &str,
        names: &[(&str, T)],
        default: T,
    ) -> Option<T> {
        let Some(node) = f.get(key) else {
            return Some(default);
        };
        let text = node.scalar_text();
        let parsed = names
            .iter()
            .find(|(name, _)| text.as_deref() == Some(*name))
            .map(|(_, v)| *v);
        if parsed.is_none() {
            let mut choices: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
            let last = choices.pop().unwrap_or_default();
            let message = format!(
                "expected {} or {last}, got {}",
                choices.join(", "),
                node.describe()
            );
            self.problem(f.path(key), message);
        }
        parsed
    }

    /// `attention_after` (defaults when absent, and for each key left out). Read in every
    /// mode, used by `attention` only.
    fn attention_after(&mut self, f: &Fields) -> Option<AttentionAfter> {
        let default = AttentionAfter::default();
        let Some(f) = self.block(f, "attention_after", ATTENTION_AFTER_KEYS)? else {
            return Some(default);
        };
        let limit = ATTENTION_AFTER_LIMIT;
        let on_chain = self.bounded_duration(&f, "on_chain", default.on_chain, limit);
        let manual_review =
            self.bounded_duration(&f, "manual_review", default.manual_review, limit);
        let before_payment =
            self.bounded_duration(&f, "before_payment", default.before_payment, limit);
        Some(AttentionAfter {
            on_chain: on_chain?,
            manual_review: manual_review?,
            before_payment: before_payment?,
        })
    }

    fn max_concurrency(&mut self, f: &Fields) -> Option<usize> {
        let (default, max) = (DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_LIMIT);
        self.count(f, "max_concurrency", default, max)
    }
}

/// Hides `user:password@` in a URL before it goes into a message. Splits on the URL's
/// ASCII delimiters rather than slicing by index: the text is untrusted.
pub(super) fn redact_userinfo(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("https://u:p@host/x@y"),
            "https://***@host/x@y"
        );
        assert_eq!(redact_userinfo("https://host/a"), "https://host/a");
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }
}
