//! Property tests: any input to the envelope decoder or the config parser gives a value
//! or an error, never a panic, and a decoded status always comes from an integer payload.

use allscale_exporter::api::Envelope;
use allscale_exporter::config::Config;
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
