//! Config schema, validation and secrets, driven by the fixtures in tests/fixtures/config/.

use std::path::{Path, PathBuf};
use std::time::Duration;

use allscale_exporter::config::*;

const FILE_SECRET: &str = "file-secret-value-123";
const ENV_SECRET: &str = "env-secret-value-456";
const INLINE_SECRET: &str = "SUPER-SECRET-VALUE-DO-NOT-PRINT";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

/// The test environment: ALLSCALE_API_SECRET is set (with whitespace to trim),
/// ALLSCALE_TEST_BLANK_VARIABLE is set but blank, everything else is unset.
fn test_env(name: &str) -> Option<String> {
    match name {
        "ALLSCALE_API_SECRET" => Some(format!("  {ENV_SECRET}\n")),
        "ALLSCALE_TEST_BLANK_VARIABLE" => Some(" \t ".to_owned()),
        _ => None,
    }
}

fn parse_fixture(name: &str) -> Result<Config, ConfigError> {
    let dir = fixture_dir();
    let text = std::fs::read_to_string(dir.join(name)).expect("fixture exists");
    Config::parse(&text, &dir, &test_env)
}

fn good(name: &str) -> Config {
    match parse_fixture(name) {
        Ok(config) => config,
        Err(e) => panic!("{name} should be valid, got: {e}"),
    }
}

fn problems(name: &str) -> Vec<Problem> {
    match parse_fixture(name) {
        Ok(config) => panic!("{name} should be invalid, but parsed: {config:?}"),
        Err(ConfigError::Invalid(problems)) => problems,
        Err(other) => panic!("{name}: expected ConfigError::Invalid, got {other:?}"),
    }
}

/// Asserts that exactly one problem has `path` and that its message contains `needle`.
#[track_caller]
fn assert_problem(problems: &[Problem], path: &str, needle: &str) {
    let at_path: Vec<&Problem> = problems.iter().filter(|p| p.path == path).collect();
    assert!(
        at_path.iter().any(|p| p.message.contains(needle)),
        "no problem at {path:?} containing {needle:?}; problems:\n{}",
        list(problems)
    );
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn store<'c>(config: &'c Config, name: &str) -> &'c StoreConfig {
    config
        .stores
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("store {name} not found"))
}

// ---------------------------------------------------------------------------------------
// Good configs.

#[test]
fn full_config_reads_every_option() {
    let config = good("good_full.yaml");
    assert_eq!(config.poll_interval, Duration::from_secs(90));
    assert_eq!(config.request_timeout, Duration::from_secs(5));
    assert_eq!(config.terminal_retention, Duration::from_secs(2 * 3600));
    assert_eq!(
        config.state_file,
        Some(fixture_dir().join("state/state.json")),
        "a relative state_file is resolved against the config's directory"
    );
    assert_eq!(config.stores.len(), 2);

    let main = &config.stores[0];
    assert_eq!(main.name, "main");
    assert_eq!(main.base_url, "https://sandbox.example.com/api");
    assert_eq!(main.api_key, "st_main_key");
    assert_eq!(main.max_requests_per_second, 2.5);
    assert_eq!(main.max_concurrency, 3);
    assert!(main.verify_response_signature);
    assert_eq!(main.http_version, HttpVersion::Http2);
    assert_eq!(main.max_watch_age, Duration::from_secs(3 * 24 * 3600));
    assert_eq!(main.not_found_ttl, Duration::from_secs(30 * 60));
    assert_eq!(main.per_intent_metrics, PerIntentMetrics::Attention);
    assert_eq!(
        main.attention_after,
        AttentionAfter {
            on_chain: Duration::from_secs(45 * 60),
            manual_review: Duration::from_secs(90 * 60),
            before_payment: Duration::from_secs(2 * 3600),
        },
        "a key left out keeps its default"
    );
}

#[test]
fn short_and_long_intent_forms_and_lowercased_ids() {
    let config = good("good_full.yaml");
    let main = store(&config, "main");
    assert_eq!(
        main.intents,
        vec![
            IntentConfig {
                id: IntentId::parse("65f0a1b2c3d4e5f6a7b8c9d0").unwrap(), // was upper case in the file
                order_id: None,
            },
            IntentConfig {
                id: IntentId::parse("65f0a1b2c3d4e5f6a7b8c9d1").unwrap(),
                order_id: Some("order_123".into()),
            },
            IntentConfig {
                id: IntentId::parse("65f0a1b2c3d4e5f6a7b8c9d2").unwrap(),
                order_id: None,
            },
            IntentConfig {
                id: IntentId::parse("65f0a1b2c3d4e5f6a7b8c9d3").unwrap(),
                order_id: Some("0042".into()), // numeric-looking, kept as written
            },
        ]
    );
    // An all-digit id is read by YAML as a number; the exporter keeps the text.
    let eu = store(&config, "EU shop");
    assert_eq!(eu.intents[0].id, "123456789012345678901234");
    // The same intent may be watched by two stores.
    assert_eq!(eu.intents[1].id, "65f0a1b2c3d4e5f6a7b8c9d0");
}

#[test]
fn defaults_are_applied() {
    let config = good("good_minimal.yaml");
    assert_eq!(config.poll_interval, Duration::from_secs(30));
    assert_eq!(config.request_timeout, Duration::from_secs(10));
    assert_eq!(config.terminal_retention, Duration::from_secs(24 * 3600));
    assert_eq!(config.state_file, None);
    let s = &config.stores[0];
    assert_eq!(s.base_url, DEFAULT_BASE_URL);
    assert_eq!(s.max_requests_per_second, 10.0);
    assert_eq!(s.max_concurrency, 8);
    assert!(!s.verify_response_signature);
    assert_eq!(s.http_version, HttpVersion::Auto);
    assert_eq!(s.max_watch_age, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(s.not_found_ttl, Duration::from_secs(3600));
    assert_eq!(s.per_intent_metrics, PerIntentMetrics::Active);
    assert_eq!(
        s.attention_after,
        AttentionAfter {
            on_chain: Duration::from_secs(30 * 60),
            manual_review: Duration::from_secs(3600),
            before_payment: Duration::from_secs(2 * 3600),
        },
        "the mixin's stuck thresholds"
    );
    assert!(s.intents.is_empty());
}

#[test]
fn secret_from_file_relative_to_config_dir_and_trimmed() {
    let config = good("good_full.yaml");
    assert_eq!(store(&config, "main").api_secret.expose(), FILE_SECRET);
}

#[test]
fn secret_from_env_via_injected_lookup_and_trimmed() {
    let config = good("good_full.yaml");
    assert_eq!(store(&config, "EU shop").api_secret.expose(), ENV_SECRET);

    // The lookup is asked for exactly the configured variable name.
    let asked = std::cell::RefCell::new(Vec::new());
    let env = |name: &str| {
        asked.borrow_mut().push(name.to_owned());
        Some("x".to_owned())
    };
    let text = std::fs::read_to_string(fixture_dir().join("good_minimal.yaml")).unwrap();
    let config = Config::parse(&text, &fixture_dir(), &env).unwrap();
    assert_eq!(config.stores[0].api_secret.expose(), "x");
    assert_eq!(asked.into_inner(), vec!["ALLSCALE_API_SECRET".to_owned()]);
}

#[test]
fn load_resolves_secret_file_against_the_config_files_directory() {
    // load() uses the real environment, so this fixture uses only a file secret.
    let config = Config::load(&fixture_dir().join("good_file_secret.yaml")).unwrap();
    assert_eq!(config.stores[0].api_secret.expose(), FILE_SECRET);
    assert_eq!(config.summary(), "1 store, 1 intent");
}

#[test]
fn load_reports_an_unreadable_file_as_a_read_error() {
    let path = fixture_dir().join("no-such-config.yaml");
    match Config::load(&path) {
        Err(ConfigError::Read { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected ConfigError::Read, got {other:?}"),
    }
}

#[test]
fn debug_and_display_never_show_secrets() {
    let config = good("good_full.yaml");
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains(FILE_SECRET), "file secret leaked: {debug}");
    assert!(!debug.contains(ENV_SECRET), "env secret leaked: {debug}");
    assert!(debug.contains("<redacted>"));
    let secret = &config.stores[0].api_secret;
    assert_eq!(format!("{secret}"), "<redacted>");
}

#[test]
fn summary_counts_stores_and_intents() {
    assert_eq!(good("good_full.yaml").summary(), "2 stores, 6 intents");
    assert_eq!(good("good_minimal.yaml").summary(), "1 store, 0 intents");
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let env = |name: &str| (name == "ALLSCALE_API_SECRET").then(|| "example-secret".to_owned());
    let config = Config::parse(&text, path.parent().unwrap(), &env)
        .unwrap_or_else(|e| panic!("config.example.yaml is invalid: {e}"));
    assert_eq!(config.poll_interval, Duration::from_secs(30));
    assert_eq!(
        config.state_file.as_deref(),
        Some(Path::new("/var/lib/allscale-exporter/state.db"))
    );
    let s = &config.stores[0];
    assert_eq!(s.name, "main");
    assert_eq!(s.base_url, DEFAULT_BASE_URL);
    assert_eq!(s.api_secret.expose(), "example-secret");
    assert_eq!(s.intents.len(), 2);
    assert_eq!(s.intents[1].order_id.as_deref(), Some("order_123"));
}

// ---------------------------------------------------------------------------------------
// Bad configs: each problem with its exact path.

#[test]
fn bad_intent_ids() {
    let p = problems("bad_intent_id.yaml");
    assert_problem(
        &p,
        "stores[1].intents[3]",
        "\"xyz\" is not a 24-hex checkout intent id",
    );
    assert_problem(&p, "stores[1].intents[4].id", "not a 24-hex");
    assert_problem(&p, "stores[1].intents[5]", "not a 24-hex");
    assert_eq!(p.len(), 3, "{}", list(&p));
}

#[test]
fn inline_secret_is_refused_without_echoing_it() {
    let err = parse_fixture("inline_secret.yaml").unwrap_err();
    let p = err.problems();
    assert_problem(
        p,
        "stores[0].api_secret",
        "inline secrets are not allowed in the config file; use api_secret_env (an environment \
         variable) or api_secret_file (a file path) instead",
    );
    // The inline-secret problem is enough: no extra "set exactly one of" noise.
    assert_eq!(p.len(), 1, "{}", list(p));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(INLINE_SECRET), "secret leaked: {shown}");
}

#[test]
fn unknown_keys_at_every_level() {
    let p = problems("unknown_keys.yaml");
    assert_problem(&p, "pol_interval", "unknown key \"pol_interval\"");
    assert_problem(&p, "pol_interval", "did you mean poll_interval?");
    assert_problem(&p, "stores[0].colour", "unknown key \"colour\"");
    assert_problem(
        &p,
        "stores[0].max-concurrency",
        "did you mean max_concurrency?",
    );
    assert_problem(&p, "stores[0].intents[0].order", "unknown key \"order\"");
    assert_problem(&p, "stores[0].intents[0].order", "did you mean order_id?");
    assert_problem(&p, "api_key", "this belongs to a store, under `stores:`");
    assert_eq!(p.len(), 5, "{}", list(&p));
}

#[test]
fn bad_durations() {
    let p = problems("bad_durations.yaml");
    assert_problem(
        &p,
        "poll_interval",
        "\"30 parsecs\" is not a duration (e.g. 30s, 5m, 1h30m): ",
    );
    assert_problem(&p, "request_timeout", "must be greater than 0");
    assert_problem(&p, "terminal_retention", "\"30\" is not a duration");
    assert_problem(&p, "stores[0].max_watch_age", "must be greater than 0");
    assert_problem(
        &p,
        "stores[0].not_found_ttl",
        "\"32d\" is too long (at most 31 days)",
    );
    assert_problem(
        &p,
        "stores[1].max_watch_age",
        "\"400d\" is too long (at most 366 days)",
    );
    assert_problem(&p, "stores[1].not_found_ttl", "\"soon\" is not a duration");
    assert_eq!(p.len(), 7, "{}", list(&p));
}

#[test]
fn bad_per_intent_metrics_and_attention_after() {
    let p = problems("bad_attention.yaml");
    assert_problem(
        &p,
        "stores[0].per_intent_metrics",
        "expected all, active, attention, status_only or none, got \"attentive\"",
    );
    assert_problem(
        &p,
        "stores[0].attention_after.on_chain",
        "must be greater than 0, got \"0s\"",
    );
    assert_problem(
        &p,
        "stores[0].attention_after.manual_review",
        "\"32d\" is too long (at most 31 days)",
    );
    assert_problem(
        &p,
        "stores[0].attention_after.before_payment",
        "\"soon\" is not a duration",
    );
    assert_problem(
        &p,
        "stores[0].attention_after.on_chian",
        "unknown key \"on_chian\" (did you mean on_chain?)",
    );
    assert_problem(
        &p,
        "stores[1].attention_after",
        "expected a mapping (on_chain, manual_review, before_payment), got",
    );
    assert_problem(
        &p,
        "stores[2].attention_after.on_chain",
        "expected a duration (e.g. 30s, 5m, 1h30m), got",
    );
    assert_eq!(p.len(), 7, "{}", list(&p));
}

#[test]
fn duplicate_store_name() {
    let p = problems("duplicate_store.yaml");
    assert_problem(
        &p,
        "stores[2].name",
        "duplicate store name \"main\" (first at stores[0])",
    );
    assert_eq!(p.len(), 1, "{}", list(&p));
}

#[test]
fn duplicate_intent_in_a_store_ignoring_case() {
    let p = problems("duplicate_intent.yaml");
    assert_problem(
        &p,
        "stores[0].intents[4]",
        "duplicate intent 65f0a1b2c3d4e5f6a7b8c9d1 (first at stores[0].intents[1])",
    );
    assert_eq!(p.len(), 1, "{}", list(&p));
}

#[test]
fn env_secret_unset_or_blank() {
    let p = problems("missing_env.yaml");
    assert_problem(
        &p,
        "stores[0].api_secret_env",
        "environment variable ALLSCALE_TEST_UNSET_VARIABLE is not set",
    );
    assert_problem(
        &p,
        "stores[1].api_secret_env",
        "environment variable ALLSCALE_TEST_BLANK_VARIABLE is not set (it is empty)",
    );
    assert_eq!(p.len(), 2, "{}", list(&p));
}

#[test]
fn secret_file_missing_or_empty() {
    let p = problems("bad_secret_file.yaml");
    let missing = fixture_dir().join("secrets/does-not-exist.secret");
    assert_problem(
        &p,
        "stores[0].api_secret_file",
        &format!(
            "cannot read {}: No such file or directory",
            missing.display()
        ),
    );
    let empty = fixture_dir().join("secrets/empty.secret");
    assert_problem(
        &p,
        "stores[1].api_secret_file",
        &format!("{} is empty", empty.display()),
    );
    assert_eq!(p.len(), 2, "{}", list(&p));
}

#[test]
fn exactly_one_secret_source() {
    let p = problems("secret_choice.yaml");
    assert_problem(
        &p,
        "stores[0]",
        "set exactly one of api_secret_env or api_secret_file",
    );
    assert_problem(
        &p,
        "stores[1]",
        "set exactly one of api_secret_env or api_secret_file",
    );
    assert_eq!(p.len(), 2, "{}", list(&p));
}

#[test]
fn base_url_must_be_http_with_a_host_and_no_credentials() {
    let p = problems("bad_base_url.yaml");
    assert_problem(
        &p,
        "stores[0].base_url",
        "\"ftp://x\" must be an http:// or https:// URL",
    );
    assert_problem(&p, "stores[1].base_url", "\"http://\"");
    assert_problem(&p, "stores[2].base_url", "must not contain credentials");
    assert_eq!(p.len(), 3, "{}", list(&p));
    assert!(
        !list(&p).contains("hunter2"),
        "password in URL leaked: {}",
        list(&p)
    );
}

#[test]
fn a_request_budget_too_small_for_the_rate_limiter_is_refused() {
    for rps in ["1e-12", "0.0009", "5e-324", ".nan", "-.inf"] {
        let text = format!(
            "stores:\n  - name: main\n    api_key: k\n    api_secret_env: ALLSCALE_API_SECRET\n    \
             max_requests_per_second: {rps}\n"
        );
        let err = Config::parse(&text, &fixture_dir(), &test_env).unwrap_err();
        assert_problem(
            err.problems(),
            "stores[0].max_requests_per_second",
            "expected a number ≥ 0.001",
        );
    }
    let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: ALLSCALE_API_SECRET\n    \
                max_requests_per_second: 0.001\n";
    let config = Config::parse(text, &fixture_dir(), &test_env).unwrap();
    assert_eq!(config.stores[0].max_requests_per_second, 0.001);
}

#[test]
fn at_least_one_store() {
    let p = problems("no_stores.yaml");
    assert_problem(&p, "stores", "at least one store is required");
    assert_eq!(p.len(), 1, "{}", list(&p));
}

#[test]
fn wrong_types_are_reported_with_what_was_found() {
    let p = problems("wrong_types.yaml");
    assert_problem(&p, "state_file", "expected a file path, got a list");
    assert_problem(
        &p,
        "stores[0].max_concurrency",
        "expected an integer ≥ 1 (at most 1024), got \"many\"",
    );
    assert_problem(
        &p,
        "stores[0].max_requests_per_second",
        "expected a number ≥ 0.001 (one request every 1000 s) and ≤ 10000",
    );
    assert_problem(
        &p,
        "stores[0].verify_response_signature",
        "expected true or false, got \"yes\"",
    );
    assert_problem(
        &p,
        "stores[0].http_version",
        "expected auto, http1 or http2, got \"h2\"",
    );
    assert_problem(&p, "stores[0].intents", "expected a list of intents");
    assert_problem(&p, "stores[1]", "expected a store");
    assert_eq!(p.len(), 7, "{}", list(&p));
}

#[test]
fn store_names_must_be_sane_label_values_and_required_keys_present() {
    let p = problems("bad_names.yaml");
    assert_problem(&p, "stores[0].name", "must not contain control characters");
    assert_problem(&p, "stores[1].name", "is too long");
    assert_problem(&p, "stores[2].name", "required key is missing");
    assert_problem(&p, "stores[2].api_key", "must not be empty");
    assert_eq!(p.len(), 4, "{}", list(&p));
}

#[test]
fn empty_document_is_a_clear_problem() {
    let p = problems("empty.yaml");
    assert_problem(&p, "(root)", "the config is empty");
    // Whitespace-only and an explicit empty document too.
    for text in ["", "   \n", "---\n"] {
        let err = Config::parse(text, Path::new("."), &test_env).unwrap_err();
        assert_problem(err.problems(), "(root)", "the config is empty");
    }
}

#[test]
fn top_level_must_be_a_mapping() {
    let p = problems("not_a_mapping.yaml");
    assert_problem(
        &p,
        "(root)",
        "expected a mapping of settings at the top level, got a list",
    );
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    match parse_fixture("syntax_error.yaml") {
        Err(ConfigError::Yaml(message)) => {
            assert!(message.contains("line 4"), "{message}");
            assert!(message.contains("column"), "{message}");
            assert!(!message.contains('\n'), "one line, no snippet: {message}");
        }
        other => panic!("expected ConfigError::Yaml, got {other:?}"),
    }
}

#[test]
fn duplicate_yaml_keys_are_a_yaml_error() {
    let text = "stores: []\nstores: []\n";
    match Config::parse(text, Path::new("."), &test_env) {
        Err(ConfigError::Yaml(message)) => {
            assert!(message.contains("duplicate mapping key"), "{message}");
            assert!(message.contains("line 2"), "{message}");
        }
        other => panic!("expected ConfigError::Yaml, got {other:?}"),
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = parse_fixture("many_problems.yaml").unwrap_err();
    let p = err.problems();
    let expected: &[(&str, &str)] = &[
        ("poll_interval", "\"soon\" is not a duration"),
        ("colour", "unknown key \"colour\""),
        ("stores[0].api_secret", "inline secrets are not allowed"),
        ("stores[0].base_url", "must be an http:// or https:// URL"),
        ("stores[0].max_concurrency", "expected an integer ≥ 1"),
        (
            "stores[0].intents[1]",
            "\"nope\" is not a 24-hex checkout intent id",
        ),
        (
            "stores[0].intents[2]",
            "duplicate intent 65f0a1b2c3d4e5f6a7b8c9d0 (first at stores[0].intents[0])",
        ),
        (
            "stores[1].name",
            "duplicate store name \"main\" (first at stores[0])",
        ),
        (
            "stores[1].api_secret_env",
            "environment variable ALLSCALE_TEST_UNSET_VARIABLE is not set",
        ),
        ("stores[1].intents[0].oder_id", "did you mean order_id?"),
    ];
    for (path, needle) in expected {
        assert_problem(p, path, needle);
    }
    assert_eq!(p.len(), expected.len(), "{}", list(p));

    // The Display of the error lists every problem, one per line, and no secret.
    let shown = err.to_string();
    assert!(shown.starts_with("config has 10 problem(s):\n"), "{shown}");
    assert!(
        shown.contains("\n  stores[0].intents[1]: \"nope\" is not a 24-hex"),
        "{shown}"
    );
    assert!(!shown.contains(INLINE_SECRET), "{shown}");
}

#[test]
fn secrets_never_appear_in_problems() {
    // A valid secret source next to other problems: the secret was read, but must not
    // show up anywhere in the error.
    let text = "poll_interval: nope\nstores:\n  - name: main\n    api_key: k\n    \
                api_secret_file: secrets/main.secret\n  - name: env\n    api_key: k\n    \
                api_secret_env: ALLSCALE_API_SECRET\n    colour: red\n";
    let err = Config::parse(text, &fixture_dir(), &test_env).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert_eq!(err.problems().len(), 2, "{shown}");
    assert!(!shown.contains(FILE_SECRET), "{shown}");
    assert!(!shown.contains(ENV_SECRET), "{shown}");
}

#[test]
fn a_secret_pasted_as_the_env_var_name_is_not_echoed() {
    let text =
        "stores:\n  - name: main\n    api_key: k\n    api_secret_env: \"sk live/abc+123=\"\n";
    let err = Config::parse(text, Path::new("."), &test_env).unwrap_err();
    assert_problem(
        err.problems(),
        "stores[0].api_secret_env",
        "api_secret_env must name an environment variable (letters, digits and _, not \
         starting with a digit), not hold the secret itself; the value is not shown",
    );
    assert!(!err.to_string().contains("sk live/abc+123="), "{err}");
}

/// An AllScale-style secret pasted into the wrong place.
const PASTED: &str = "st_live_pasted_0123456789";

/// Parses `store_lines` as the rest of a store `main` (name and api_key are set) and
/// asserts the problem at `path` says `needle` and nothing shows `value`.
#[track_caller]
fn assert_not_echoed(store_lines: &str, path: &str, needle: &str, value: &str) {
    let text = format!("stores:\n  - name: main\n    api_key: k\n{store_lines}");
    let err = Config::parse(&text, &fixture_dir(), &|_| Some("set".into())).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(value),
        "{value} echoed for\n{text}\n{shown}"
    );
    match &err {
        ConfigError::Yaml(message) => assert!(message.contains(needle), "{message}"),
        _ => assert_problem(err.problems(), path, needle),
    }
}

#[test]
fn secrets_pasted_into_any_field_are_never_echoed() {
    let env = "    api_secret_env: ALLSCALE_API_SECRET\n";
    let secret_like = "looks like an AllScale key or secret";
    for (lines, path, needle) in [
        (
            format!("    api_secret_env: {PASTED}\n"),
            "stores[0].api_secret_env",
            "api_secret_env must name an environment variable, not hold the secret itself: \
             the value starts with st_",
        ),
        (
            format!("    api_secret_file: {PASTED}\n"),
            "stores[0].api_secret_file",
            "api_secret_file must be the path of a file that holds the secret, not the \
             secret itself",
        ),
        (
            format!("{env}    max_concurrency: {PASTED}\n"),
            "stores[0].max_concurrency",
            secret_like,
        ),
        (
            format!("{env}    http_version: \"{PASTED}\"\n"),
            "stores[0].http_version",
            secret_like,
        ),
        (
            format!("{env}    base_url: {PASTED}\n"),
            "stores[0].base_url",
            secret_like,
        ),
        (
            format!("{env}    intents: [{PASTED}]\n"),
            "stores[0].intents[0]",
            secret_like,
        ),
        (
            format!(
                "{env}    intents: [{{id: 650000000000000000000000, order_id: \"{PASTED}\\u0001\"}}]\n"
            ),
            "stores[0].intents[0].order_id",
            secret_like,
        ),
        (
            format!("{env}    {PASTED}:\n"),
            "stores[0].st_…",
            secret_like,
        ),
        (
            format!("{env}    {PASTED}: 1\n    {PASTED}: 2\n"),
            "",
            secret_like,
        ),
        (format!("{env}  - {PASTED}\n"), "stores[1]", secret_like),
    ] {
        assert_not_echoed(&lines, path, needle, PASTED);
    }
}

#[test]
fn a_secret_file_value_that_is_not_a_plausible_path_is_not_echoed() {
    for value in [
        "q8Zx+Lm4Rt7Wk2Pd9Vb0=",
        "abcdef0123456789abcdef",
        "two words.txt",
    ] {
        assert_not_echoed(
            &format!("    api_secret_file: \"{value}\"\n"),
            "stores[0].api_secret_file",
            "cannot read the api_secret_file (its value is not shown: with no / or ., or with \
             spaces, + or = or a very long name, it looks more like a secret than a path): No \
             such file or directory",
            value,
        );
    }
    // A plausible path is still shown: the operator needs it to fix the mount.
    let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_file: secrets/gone.txt\n";
    let err = Config::parse(text, &fixture_dir(), &test_env).unwrap_err();
    assert!(err.to_string().contains("secrets/gone.txt"), "{err}");
}

#[test]
fn anchors_and_merge_keys_share_store_settings() {
    let text = "\
stores:
  - &common
    name: main
    api_key: st_key
    api_secret_env: ALLSCALE_API_SECRET
    max_concurrency: 2
    intents: []
  - <<: *common
    name: second
    intents:
      - &id 65f0a1b2c3d4e5f6a7b8c9d0
  - <<: *common
    name: third
    intents: [*id]
";
    let config = Config::parse(text, Path::new("."), &test_env).unwrap();
    assert_eq!(config.summary(), "3 stores, 2 intents");
    let third = &config.stores[2];
    assert_eq!(third.name, "third");
    assert_eq!(third.max_concurrency, 2);
    assert_eq!(third.api_secret.expose(), ENV_SECRET);
    assert_eq!(third.intents[0].id, "65f0a1b2c3d4e5f6a7b8c9d0");
}

#[test]
fn null_values_mean_not_set() {
    // `key:` with nothing after it: optional settings take their default, an empty
    // intents list is fine, but required keys are reported.
    let text = "poll_interval:\nstate_file:\nstores:\n  - name: main\n    api_key:\n    \
                api_secret_env: ALLSCALE_API_SECRET\n    intents:\n";
    let err = Config::parse(text, Path::new("."), &test_env).unwrap_err();
    assert_problem(err.problems(), "stores[0].api_key", "must not be empty");
    assert_eq!(err.problems().len(), 1, "{}", list(err.problems()));

    let text = text.replace("api_key:\n", "api_key: k\n");
    let config = Config::parse(&text, Path::new("."), &test_env).unwrap();
    assert_eq!(config.poll_interval, Duration::from_secs(30));
    assert_eq!(config.state_file, None);
    assert!(config.stores[0].intents.is_empty());
}

/// Hostile YAML is refused with a clear error instead of eating memory or stack.
#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    bomb.push_str("stores: []\n");
    let err = Config::parse(&bomb, std::path::Path::new("."), &|_| None).unwrap_err();
    assert!(matches!(err, ConfigError::Yaml(_)), "{err}");

    let deep = format!("stores: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let err = Config::parse(&deep, std::path::Path::new("."), &|_| None).unwrap_err();
    assert!(matches!(err, ConfigError::Yaml(_)), "{err}");
}

#[test]
fn a_config_file_over_the_size_cap_is_refused_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    // A sparse file: no disk is spent, but its length is over the cap.
    file.set_len(allscale_exporter::config::MAX_CONFIG_BYTES + 1)
        .unwrap();
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("huge.yaml"), "{err}");
}

/// `intent_sources` (issue #13): files resolved against the config's directory, the
/// HTTP list with its defaults, and the token read like an API secret.
#[test]
fn intent_sources_are_validated_and_resolved() {
    let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: ALLSCALE_API_SECRET\n    \
                intent_sources:\n      files: [intents.d/*.json, /etc/x/list.json]\n      \
                http:\n        url: https://backend.internal/open?m=1\n        \
                bearer_token_file: secrets/main.secret\n";
    let config = Config::parse(text, &fixture_dir(), &test_env).unwrap();
    let sources = &store(&config, "main").intent_sources;
    assert_eq!(
        sources.files,
        [
            fixture_dir().join("intents.d/*.json"),
            PathBuf::from("/etc/x/list.json")
        ]
    );
    let http = sources.http.as_ref().expect("http");
    assert_eq!(http.refresh_interval, DEFAULT_REFRESH_INTERVAL);
    assert_eq!(http.url.as_str(), "https://backend.internal/open?m=1");
    assert_eq!(http.shown_url(), "https://backend.internal/open");
    assert_eq!(
        http.bearer_token.as_ref().map(Secret::expose),
        Some(FILE_SECRET)
    );
    assert!(
        !format!("{config:?}").contains(FILE_SECRET),
        "Debug shows the token"
    );

    let text = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: ALLSCALE_API_SECRET\n    \
                intent_sources: {}\n";
    let config = Config::parse(text, &fixture_dir(), &test_env).unwrap();
    assert!(store(&config, "main").intent_sources.is_empty());
}

#[test]
fn bad_intent_sources_are_each_a_problem() {
    let text = format!(
        "stores:\n  - name: main\n    api_key: k\n    api_secret_env: ALLSCALE_API_SECRET\n    \
         intent_sources:\n      files: [\"/etc/*/a.json\", \"\"]\n      colour: red\n      \
         http:\n        url: https://user:pw@backend/list\n        refresh_interval: 500ms\n        \
         bearer_token: {INLINE_SECRET}\n  - name: two\n    api_key: k\n    \
         api_secret_env: ALLSCALE_API_SECRET\n    intent_sources:\n      files: x.json\n      \
         http:\n        url: ftp://backend/list\n        bearer_token_env: NOPE_UNSET\n        \
         bearer_token_file: secrets/main.secret\n"
    );
    let err = Config::parse(&text, &fixture_dir(), &test_env).unwrap_err();
    let ConfigError::Invalid(p) = &err else {
        panic!("{err:?}")
    };
    let at = "stores[0].intent_sources";
    assert_problem(p, &format!("{at}.files[0]"), "last path element only");
    assert_problem(p, &format!("{at}.files[1]"), "must not be empty");
    assert_problem(p, &format!("{at}.colour"), "unknown key");
    assert_problem(p, &format!("{at}.http.url"), "must not contain credentials");
    assert_problem(p, &format!("{at}.http.refresh_interval"), "at least 1s");
    assert_problem(
        p,
        &format!("{at}.http.bearer_token"),
        "inline bearer tokens",
    );
    let at = "stores[1].intent_sources";
    assert_problem(p, &format!("{at}.files"), "expected a list");
    assert_problem(p, &format!("{at}.http.url"), "http:// or https://");
    assert_problem(p, &format!("{at}.http"), "at most one of bearer_token_file");
    let shown = err.to_string();
    assert!(
        !shown.contains(INLINE_SECRET) && !shown.contains("pw@"),
        "{shown}"
    );
}
