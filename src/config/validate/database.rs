//! Validation of the `state_database:` block: the PostgreSQL URL (no password in it) and
//! the password from a file or an environment variable (never inline); it excludes
//! `state_file`.

use super::{Fields, Validator};
use crate::config::database::{DatabaseUrl, StateDatabase};
use crate::config::paths::resolve;
use crate::config::schema::STATE_DATABASE_KEYS;
use crate::config::yaml::{Value, child};

const INLINE_PASSWORD_MESSAGE: &str = "an inline password is not allowed in the config file \
     (its value is not shown); use password_file (a file path) or password_env (an \
     environment variable)";

impl Validator<'_> {
    /// `None` inside when the block is absent; `None` outside on a problem.
    pub(super) fn state_database(&mut self, f: &Fields) -> Option<Option<Box<StateDatabase>>> {
        let Some(node) = f.get("state_database") else {
            return Some(None);
        };
        let path = f.path("state_database");
        if f.get("state_file").is_some() {
            self.problem(
                &path,
                "state_database and state_file exclude each other: keep the state in one \
                 (remove state_file to use the database)",
            );
            return None;
        }
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!(
                    "expected a mapping with url and password_file or password_env, got {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut inline = false;
        let f = self.fields(&path, entries, STATE_DATABASE_KEYS, &mut |v, key| {
            let is_password = key == "password";
            if is_password {
                v.problem(child(&path, key), INLINE_PASSWORD_MESSAGE);
                inline = true;
            }
            is_password
        });
        let url = self.required_text(&f, "url", "postgres://USER@HOST:PORT/DATABASE");
        let url = url.and_then(|text| {
            let parsed = DatabaseUrl::parse(&text, self.base_dir);
            self.ok_or_problem(&f.path("url"), parsed)
        });
        let keys = ("password_env", "password_file");
        let password = self.one_secret(&f, keys, "the database user's password", inline);
        let import_from = match f.get("import_from") {
            None => Some(None),
            Some(node) => self
                .path_value(&f.path("import_from"), node)
                .map(|p| Some(resolve(self.base_dir, &p))),
        };
        Some(Some(Box::new(StateDatabase {
            url: url?,
            password: password?,
            import_from: import_from?,
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(top: &str) -> Result<Config, ConfigError> {
        let yaml = format!("{top}stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n");
        let env = |name: &str| match name {
            "S" => Some("secret".to_owned()),
            "PGPASS" => Some("db-password-1\n".to_owned()),
            _ => None,
        };
        Config::parse(&yaml, Path::new("."), &env)
    }

    fn problems(top: &str) -> Vec<String> {
        let err = parse(top).unwrap_err();
        err.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_block_gives_the_url_and_the_password() {
        assert_eq!(parse("").unwrap().state_database, None);
        let config = parse(
            "state_database:\n  url: postgres://allscale@db:5432/allscale?sslmode=require\n  \
             password_env: PGPASS\n",
        )
        .unwrap();
        let db = config.state_database.unwrap();
        assert_eq!(db.password.expose(), "db-password-1");
        assert_eq!(db.url.to_string(), "db:5432/allscale");
        assert_eq!(db.import_from, None);
        let config = parse(
            "state_database:\n  url: postgres://a@db/x\n  password_env: PGPASS\n  \
             import_from: state.db\n",
        )
        .unwrap();
        let import = config.state_database.unwrap().import_from;
        assert_eq!(import, Some(std::path::Path::new(".").join("state.db")));
        assert!(!format!("{db:?}").contains("db-password-1"));
    }

    /// Each problem is named at its path; a pasted password is never shown.
    #[test]
    fn problems_are_named_and_a_password_never_shown() {
        for (top, want) in [
            (
                "state_database:\n  url: postgres://a@db/x\n  password: hunter2hunter2\n",
                "state_database.password: an inline password is not allowed",
            ),
            (
                "state_database:\n  url: postgres://a:hunter2hunter2@db/x\n  password_env: PGPASS\n",
                "state_database.url: the URL holds a password (not shown)",
            ),
            (
                "state_file: s.db\nstate_database:\n  url: postgres://a@db/x\n  password_env: PGPASS\n",
                "state_database: state_database and state_file exclude each other",
            ),
            (
                "state_database:\n  url: postgres://a@db/x\n",
                "state_database: set exactly one of password_env or password_file (the database user's password)",
            ),
            (
                "state_database:\n  password_env: PGPASS\n",
                "state_database.url: required key is missing",
            ),
            (
                "state_database:\n  url: postgres://a@db/x\n  password_env: NOPE\n",
                "state_database.password_env: environment variable NOPE is not set",
            ),
            (
                "state_database: postgres://a@db/x\n",
                "state_database: expected a mapping with url and password_file or password_env",
            ),
        ] {
            let got = problems(top);
            assert_eq!(got.len(), 1, "{top}: {got:?}");
            assert!(got[0].starts_with(want), "{top}: {got:?}");
            assert!(!got[0].contains("hunter2"), "{got:?}");
        }
    }
}
