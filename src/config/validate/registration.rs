//! Validation of the `registration:` block: the registration API's bearer token (from an
//! environment variable or a file, never inline) and the per-store cap.

use super::{Fields, Validator};
use crate::config::schema::{
    DEFAULT_MAX_INTENTS_PER_STORE, MAX_INTENTS_PER_STORE_LIMIT, MIN_TOKEN_CHARS, REGISTRATION_KEYS,
    RegistrationConfig,
};
use crate::config::secret::Secret;
use crate::config::yaml::{Value, child};

const INLINE_TOKEN_MESSAGE: &str = "an inline token is not allowed in the config file (its \
     value is not shown); use token_env (an environment variable) or token_file (a file path)";

impl Validator<'_> {
    /// `None` inside when the block is absent (the API is off); `None` outside on a problem.
    pub(super) fn registration(&mut self, f: &Fields) -> Option<Option<RegistrationConfig>> {
        let Some(node) = f.get("registration") else {
            return Some(None);
        };
        let path = f.path("registration");
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!(
                    "expected a mapping with token_env or token_file, got {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut inline = false;
        let f = self.fields(&path, entries, REGISTRATION_KEYS, &mut |v, key| {
            let is_token = key == "token";
            if is_token {
                v.problem(child(&path, key), INLINE_TOKEN_MESSAGE);
                inline = true;
            }
            is_token
        });
        let keys = ("token_env", "token_file");
        let token = self.one_secret(&f, keys, "the registration API's bearer token", inline);
        let token = token.and_then(|t| self.token(&f, t));
        let max = self.max_intents_per_store(&f);
        Some(Some(RegistrationConfig {
            token: token?,
            max_intents_per_store: max?,
        }))
    }

    /// A token a client can send in an `Authorization` header, and hard to guess.
    fn token(&mut self, f: &Fields, token: Secret) -> Option<Secret> {
        let text = token.expose();
        let problem = if !text.bytes().all(|b| b.is_ascii_graphic()) {
            "the token must be printable ASCII without spaces (it is sent in an Authorization \
             header); its value is not shown"
        } else if text.len() < MIN_TOKEN_CHARS {
            "the token is too short (at least 16 characters; e.g. `openssl rand -hex 32`); its \
             value is not shown"
        } else {
            return Some(token);
        };
        self.problem(&f.path, problem);
        None
    }

    fn max_intents_per_store(&mut self, f: &Fields) -> Option<usize> {
        let (default, max) = (DEFAULT_MAX_INTENTS_PER_STORE, MAX_INTENTS_PER_STORE_LIMIT);
        self.count(f, "max_intents_per_store", default, max)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    const TOKEN: &str = "reg-token-0123456789abcdef";

    fn parse(registration: &str) -> Result<Config, ConfigError> {
        let yaml = format!(
            "stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n{registration}"
        );
        let env = |name: &str| match name {
            "S" => Some("secret".to_owned()),
            "TOKEN" => Some(format!(" {TOKEN}\n")),
            "SHORT" => Some("abc".to_owned()),
            _ => None,
        };
        Config::parse(&yaml, Path::new("."), &env)
    }

    fn problems(registration: &str) -> Vec<String> {
        let err = parse(registration).unwrap_err();
        err.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_block_is_optional_and_has_a_default_cap() {
        assert_eq!(parse("").unwrap().registration, None);
        let config = parse("registration:\n  token_env: TOKEN\n").unwrap();
        let registration = config.registration.unwrap();
        assert_eq!(registration.token.expose(), TOKEN, "trimmed");
        assert_eq!(registration.max_intents_per_store, 200_000);
        let config = parse("registration:\n  token_env: TOKEN\n  max_intents_per_store: 5\n");
        assert_eq!(
            config.unwrap().registration.unwrap().max_intents_per_store,
            5
        );
    }

    #[test]
    fn an_inline_token_is_refused_without_its_value() {
        let got = problems("registration:\n  token: hunter2-hunter2-hunter2\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("registration.token: an inline token is not allowed"));
        assert!(!got[0].contains("hunter2"), "{got:?}");
    }

    #[test]
    fn exactly_one_token_source_a_usable_token_and_a_bounded_cap() {
        for (block, want) in [
            (
                "registration:\n  max_intents_per_store: 5\n",
                "registration: set exactly one of token_env or token_file (the registration API's bearer token)",
            ),
            (
                "registration:\n  token_env: TOKEN\n  token_file: t\n",
                "registration: set exactly one of token_env or token_file, not both",
            ),
            (
                "registration:\n  token_env: MISSING\n",
                "registration.token_env: environment variable MISSING is not set",
            ),
            (
                "registration:\n  token_env: SHORT\n",
                "registration: the token is too short (at least 16 characters; e.g. `openssl rand -hex 32`); its value is not shown",
            ),
            (
                "registration:\n  token_env: TOKEN\n  max_intents_per_store: 0\n",
                "registration.max_intents_per_store: expected an integer ≥ 1 (at most 10000000), got 0",
            ),
            (
                "registration:\n  token_file: st_pasted_token\n",
                "registration.token_file: token_file must be the path of a file that holds the secret, not the secret itself: the value starts with st_ like an AllScale key or secret, so it is not shown",
            ),
            (
                "registration: yes\n",
                "registration: expected a mapping with token_env or token_file, got \"yes\"",
            ),
        ] {
            assert_eq!(problems(block), [want], "{block}");
        }
    }

    #[test]
    fn a_token_file_is_read_and_debug_hides_the_token() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        let yaml = format!(
            "registration:\n  token_file: {}\n",
            dir.path().join("token").display()
        );
        let config = parse(&yaml).unwrap();
        assert_eq!(config.registration.as_ref().unwrap().token.expose(), TOKEN);
        assert!(!format!("{config:?}").contains(TOKEN));
    }
}
