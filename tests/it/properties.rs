//! Property tests: any input to the envelope decoder or the config parsers gives a value
//! or an error, never a panic, and a decoded status always comes from an integer payload.
//! Config input is untrusted text: arbitrary bytes and arbitrary Unicode (not only short
//! ASCII) reach both the config and the web config parser, and every error says where.

use std::path::Path;

use allscale_exporter::api::Envelope;
use allscale_exporter::config::{Config, ConfigError};
use allscale_exporter::web::config::{Problem as WebProblem, WebConfig};
use proptest::prelude::*;

/// JSON-ish text: mostly envelope-shaped, sometimes broken.
fn envelope_like() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        Just("null".to_string()),
        Just("{}".to_string()),
        Just("[1,2]".to_string()),
    ];
    (value.clone(), value, "[a-z_]{0,10}", any::<bool>()).prop_map(
        |(code, payload, extra, close)| {
            let body =
                format!(r#"{{"code":{code},"payload":{payload},"{extra}":1,"request_id":"r""#);
            if close { body + "}" } else { body }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::decode(&bytes).map(|e| e.status_payload());
    }

    /// Any Unicode in a string payload (a multi-byte character across the shown prefix
    /// used to panic the store's poller): an error that quotes a prefix of it, never a panic.
    #[test]
    fn string_payloads_of_any_unicode_are_errors(text in any::<String>(), pad in 0usize..70) {
        let payload = serde_json::to_string(&format!("{}{text}", "x".repeat(pad))).unwrap();
        let body = format!(r#"{{"code":0,"payload":{payload},"request_id":"r"}}"#);
        let envelope = Envelope::decode(body.as_bytes()).unwrap();
        prop_assert!(envelope.status_payload().is_err());
    }

    #[test]
    fn decoded_status_only_from_integer_payloads(text in envelope_like()) {
        if let Ok(envelope) = Envelope::decode(text.as_bytes())
            && let Ok(status) = envelope.status_payload()
        {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(value["payload"].as_i64(), Some(status));
        }
    }

    #[test]
    fn config_parser_never_panics(text in "(stores|intents|name|api_key|poll_interval|[-:\\[\\]{}&*!|>'\" \n]|[a-z0-9]){0,200}") {
        let _ = Config::parse(&text, std::path::Path::new("."), &|_| Some("secret".into()));
    }

    #[test]
    fn config_parser_never_panics_on_yaml_shaped_input(
        interval in "[0-9a-z ]{0,6}",
        id in "[0-9a-fA-Fxz]{0,30}",
        rps in "[-0-9.e]{0,6}",
    ) {
        let text = format!(
            "poll_interval: {interval}\nstores:\n  - name: s\n    api_key: k\n    api_secret_env: X\n    max_requests_per_second: {rps}\n    intents: [{id}]\n"
        );
        let _ = Config::parse(&text, std::path::Path::new("."), &|_| Some("secret".into()));
    }
}

/// Any Unicode text, up to `max` characters: every plane, controls, combining marks.
fn unicode(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// YAML-shaped text whose pieces are arbitrary Unicode: keys, indentation and flow
/// punctuation mixed with any characters, so the parser gets past the first line.
fn yaml_with_unicode() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => any::<char>().prop_map(String::from),
        1 => proptest::sample::select(vec![
            "stores:", "\n  - ", "\n    ", "name: ", "api_key: ", "api_secret_env: ",
            "api_secret_file: ", "intents: [", "]", "order_id: ", "- id: ", "base_url: ",
            "poll_interval: ", "basic_auth_users:", "tls_server_config:", "cert_file: ",
            "client_auth_type: ", ": ", "\"", "'", "&a ", "*a", "<<: ", "{", "}", ", ", "st_",
            "$2y$",
        ])
        .prop_map(str::to_owned),
    ];
    proptest::collection::vec(piece, 0..300).prop_map(|pieces| pieces.concat())
}

/// `s` as a YAML double-quoted scalar: characters YAML may not hold raw (controls,
/// DEL, U+FFFE/U+FFFF) are escaped, every other character stays as it is.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let printable = matches!(c, '\t' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}')
            || matches!(c, '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if printable => out.push(c),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// A well-formed config whose string values are arbitrary Unicode, so that validation,
/// quoting and shortening see every kind of text.
fn config_with_unicode_values() -> impl Strategy<Value = String> {
    (unicode(100), unicode(300), unicode(40), unicode(100), unicode(40)).prop_map(
        |(name, order_id, env, url, key)| {
            let q = |s: &str| yaml_quoted(s);
            format!(
                "poll_interval: {}\nstores:\n  - name: {}\n    base_url: {}\n    api_key: {}\n    \
                 api_secret_env: {}\n    {}: 1\n    intents:\n      - id: {}\n        order_id: {}\n",
                q(&env),
                q(&name),
                q(&url),
                q(&key),
                q(&env),
                q(&key),
                q(&key),
                q(&order_id),
            )
        },
    )
}

fn parse_config(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/allscale"), &|_| Some("secret".into()))
}

/// An error names where: every problem has a YAML path, a syntax error a line.
fn assert_config_error_says_where(error: &ConfigError) -> Result<(), TestCaseError> {
    match error {
        ConfigError::Invalid(problems) => {
            prop_assert!(!problems.is_empty());
            for p in problems {
                prop_assert!(!p.path.is_empty() && !p.message.is_empty(), "{:?}", p);
            }
        }
        ConfigError::Yaml(message) => prop_assert!(message.contains("line "), "{}", message),
        ConfigError::NotUtf8 { line, column } => prop_assert!(*line >= 1 && *column >= 1),
        other => prop_assert!(false, "unexpected error for text: {}", other),
    }
    Ok(())
}

fn parse_web(text: &str) -> Result<WebConfig, WebProblem> {
    WebConfig::parse(text, Path::new("/etc/allscale"))
}

/// A web config error names where: a field, or a line for a syntax error.
fn assert_web_error_says_where(error: &WebProblem) -> Result<(), TestCaseError> {
    match error {
        WebProblem::Invalid { field, .. } => prop_assert!(!field.is_empty()),
        WebProblem::Syntax(message) => prop_assert!(message.contains("line "), "{}", message),
        other => prop_assert!(false, "unexpected error for text: {}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn config_bytes_never_panic_and_errors_say_where(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let parsed = Config::parse_bytes(&bytes, Path::new("/"), &|_| Some("secret".into()));
        if let Err(e) = parsed {
            assert_config_error_says_where(&e)?;
        }
    }

    #[test]
    fn config_unicode_never_panics_and_errors_say_where(
        text in prop_oneof![unicode(2000), yaml_with_unicode()],
    ) {
        if let Err(e) = parse_config(&text) {
            assert_config_error_says_where(&e)?;
        }
    }

    #[test]
    fn config_values_of_any_unicode_are_validated_not_panicked_on(
        text in config_with_unicode_values(),
    ) {
        let error = parse_config(&text).expect_err("a random intent id is never valid");
        assert_config_error_says_where(&error)?;
        prop_assert!(matches!(error, ConfigError::Invalid(_)), "{}", error);
    }

    #[test]
    fn web_config_bytes_and_unicode_never_panic_and_errors_say_where(
        text in prop_oneof![
            unicode(2000),
            yaml_with_unicode(),
            proptest::collection::vec(any::<u8>(), 0..2048)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ],
    ) {
        if let Err(e) = parse_web(&text) {
            assert_web_error_says_where(&e)?;
        }
    }

    #[test]
    fn web_config_values_of_any_unicode_never_panic(
        user in unicode(60),
        hash in unicode(100),
        file in unicode(100),
        mode in unicode(30),
    ) {
        let q = |s: &str| yaml_quoted(s);
        let text = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: {}\n  \
             min_version: {}\nbasic_auth_users:\n  {}: {}\n",
            q(&file), q(&file), q(&mode), q(&mode), q(&user), q(&hash)
        );
        if let Err(e) = parse_web(&text) {
            assert_web_error_says_where(&e)?;
        }
    }
}
