//! Validation of a store's `intent_sources`: the file patterns and the HTTP list (its URL,
//! refresh interval and bearer token, which is never inline).

use std::path::{Component, Path, PathBuf};

use super::store::redact_userinfo;
use super::{Fields, Validator};
use crate::config::paths::resolve;
use crate::config::schema::{
    DEFAULT_REFRESH_INTERVAL, HTTP_SOURCE_KEYS, HttpSource, INTENT_SOURCES_KEYS, IntentSources,
    MAX_DURATION, MIN_REFRESH_INTERVAL,
};
use crate::config::secret::Secret;
use crate::config::yaml::{Node, Value, child, index, quote};

const INLINE_TOKEN_MESSAGE: &str = "inline bearer tokens are not allowed in the config file; \
     use bearer_token_file (a file path) or bearer_token_env (an environment variable) \
     instead (the value is not shown)";

/// The wildcards of a file pattern (only in its last element).
const WILDCARDS: [char; 2] = ['*', '?'];

impl Validator<'_> {
    pub(super) fn intent_sources(&mut self, f: &Fields) -> Option<IntentSources> {
        let Some(node) = f.get("intent_sources") else {
            return Some(IntentSources::default());
        };
        let path = f.path("intent_sources");
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!(
                    "expected a mapping with files and/or http, got {}",
                    node.describe()
                ),
            );
            return None;
        };
        let f = self.fields(&path, entries, INTENT_SOURCES_KEYS, &mut |_, _| false);
        let files = self.source_files(&f);
        let http = match f.get("http") {
            None => Some(None),
            Some(node) => self.http_source(&f.path("http"), node).map(Some),
        };
        Some(IntentSources {
            files: files?,
            http: http?,
        })
    }

    fn source_files(&mut self, f: &Fields) -> Option<Vec<PathBuf>> {
        let path = f.path("files");
        let items = match f.get("files") {
            None => return Some(Vec::new()),
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(other) => {
                self.problem(
                    path,
                    format!(
                        "expected a list of file paths or patterns, got {}",
                        other.describe()
                    ),
                );
                return None;
            }
        };
        let mut files = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&path, i);
            match self.path_value(&item_path, item) {
                Some(pattern) => match check_pattern(&pattern) {
                    Ok(()) => files.push(resolve(self.base_dir, &pattern)),
                    Err(why) => {
                        self.problem(item_path, why);
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(files)
    }

    fn http_source(&mut self, path: &str, node: &Node) -> Option<HttpSource> {
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!("expected a mapping with url, got {}", node.describe()),
            );
            return None;
        };
        let mut inline_token = false;
        let f = self.fields(path, entries, HTTP_SOURCE_KEYS, &mut |v, key| {
            if key == "bearer_token" {
                v.problem(child(path, key), INLINE_TOKEN_MESSAGE);
                inline_token = true;
                true
            } else {
                false
            }
        });
        let url = self.source_url(&f);
        let refresh_interval = self.refresh_interval(&f);
        let bearer_token = self.bearer_token(&f);
        if inline_token {
            return None;
        }
        Some(HttpSource {
            url: url?,
            refresh_interval: refresh_interval?,
            bearer_token: bearer_token?,
        })
    }

    fn source_url(&mut self, f: &Fields) -> Option<url::Url> {
        let path = f.path("url");
        let Some(node) = f.get("url") else {
            self.problem(
                path,
                "required key is missing (the http(s) URL of the list)",
            );
            return None;
        };
        let credentials = "must not contain credentials; use bearer_token_file or bearer_token_env";
        self.http_url(&path, node, credentials)
    }

    /// An http(s) URL (see [`parse_source_url`]); `credentials` says what to do instead
    /// of user info in it.
    pub(super) fn http_url(
        &mut self,
        path: &str,
        node: &Node,
        credentials: &'static str,
    ) -> Option<url::Url> {
        let text = self.text(path, node, "an http(s) URL")?;
        let text = text.trim();
        match parse_source_url(text, credentials) {
            Ok(url) => Some(url),
            Err(why) => {
                let shown = quote(&redact_userinfo(text));
                self.problem(path, format!("{shown} {why}"));
                None
            }
        }
    }

    fn refresh_interval(&mut self, f: &Fields) -> Option<std::time::Duration> {
        let interval = self.bounded_duration(
            f,
            "refresh_interval",
            DEFAULT_REFRESH_INTERVAL,
            (MAX_DURATION, "10 years"),
        )?;
        if interval < MIN_REFRESH_INTERVAL {
            self.problem(
                f.path("refresh_interval"),
                format!(
                    "must be at least 1s, got {}",
                    humantime::format_duration(interval)
                ),
            );
            return None;
        }
        Some(interval)
    }

    /// At most one of `bearer_token_file` and `bearer_token_env`; none is fine.
    fn bearer_token(&mut self, f: &Fields) -> Option<Option<Secret>> {
        let env = f.get("bearer_token_env");
        let file = f.get("bearer_token_file");
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    &f.path,
                    "set at most one of bearer_token_file or bearer_token_env, not both",
                );
                None
            }
            (None, None) => Some(None),
            (Some(node), None) => {
                let path = f.path("bearer_token_env");
                let name = self.text(&path, node, "the name of an environment variable")?;
                let secret = crate::config::secrets::from_env("bearer_token_env", &name, self.env);
                self.ok_or_problem(&path, secret).map(Some)
            }
            (None, Some(node)) => {
                let path = f.path("bearer_token_file");
                let file = self.path_value(&path, node)?;
                let secret =
                    crate::config::secrets::from_file("bearer_token_file", &file, self.base_dir);
                self.ok_or_problem(&path, secret).map(Some)
            }
        }
    }
}

/// A file pattern: wildcards (`*`, `?`) only in the last element, which must be a name.
fn check_pattern(pattern: &Path) -> Result<(), String> {
    let shown = quote(&pattern.to_string_lossy());
    let Some(Component::Normal(_)) = pattern.components().next_back() else {
        return Err(format!("{shown} must end in a file name or pattern"));
    };
    let parent = pattern.parent().unwrap_or(Path::new(""));
    if parent.to_string_lossy().contains(WILDCARDS) {
        return Err(format!(
            "{shown}: wildcards (* and ?) are allowed in the last path element only"
        ));
    }
    Ok(())
}

/// An http(s) URL with a host, no user info (refused with `credentials`) and no
/// fragment; a query is kept.
fn parse_source_url(text: &str, credentials: &'static str) -> Result<url::Url, &'static str> {
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err("must be an http:// or https:// URL");
    }
    let url = url::Url::parse(text).map_err(|_| "is not a valid URL")?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(credentials);
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...)");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_only_in_the_last_element() {
        assert!(check_pattern(Path::new("/etc/a/*.json")).is_ok());
        assert!(check_pattern(Path::new("intents.d/a?.json")).is_ok());
        assert!(check_pattern(Path::new("list.json")).is_ok());
        let err = check_pattern(Path::new("/etc/*/a.json")).unwrap_err();
        assert!(err.contains("last path element"), "{err}");
        assert!(check_pattern(Path::new("/etc/a/..")).is_err());
        assert!(check_pattern(Path::new("/")).is_err());
    }

    #[test]
    fn source_urls_are_http_without_credentials() {
        assert!(parse_source_url("https://b.internal/list?x=1", "no credentials").is_ok());
        assert!(parse_source_url("ftp://b/list", "no credentials").is_err());
        assert!(parse_source_url("https://u:p@b/list", "no credentials").is_err());
        assert!(parse_source_url("https://b/list#f", "no credentials").is_err());
        assert!(parse_source_url("http://", "no credentials").is_err());
    }
}
