//! The API secret never appears in logs (every level, text and JSON), error messages,
//! `/metrics`, the landing page or reload answers; a world-readable secret file is
//! warned about. A secret pasted into the wrong field of the config is not echoed by
//! `check-config`, the log or `POST /-/reload` either.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::{get, scrape, wait_for};
use serde_json::json;

async fn run_and_collect(log_format: &str) -> (String, Vec<String>) {
    let mock = StrictMock::start(
        &json!({
            "68000000000000000000000a": [1, 20],
            "68000000000000000000000b": {"error_code": 90000, "http_status": 500},
        }),
        true,
    );
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{MOCK_SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("config.yaml");
    let intents = [
        "68000000000000000000000a",
        "68000000000000000000000b",
        "68000000000000000000000c",
    ];
    let good = mock_config_yaml(&mock, &secret, "", &intents).replace(
        "    max_requests",
        "    verify_response_signature: true\n    max_requests",
    );
    std::fs::write(&config, &good).unwrap();
    let level = "--log.level=trace";
    let format = format!("--log.format={log_format}");
    let exporter = ExporterProcess::start(&config, &[level, &format, "--config.check-interval=0s"]);
    wait_for(Duration::from_secs(10), "polling", || async {
        let m = scrape(exporter.addr).await;
        (m.sum("allscale_checkout_intent_terminal_total", &[]) == 1.0).then_some(())
    })
    .await;
    // An invalid reload that pastes the secret inline: refused without echoing it.
    let inline = format!("{good}    api_secret: {MOCK_SECRET}\n");
    std::fs::write(&config, inline).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let reload = client
        .post(format!("http://{}/-/reload", exporter.addr))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /-/reload: {e}\n{}", tail(&exporter.logs())));
    assert_eq!(reload.status().as_u16(), 500);
    let mut pages = vec![reload.text().await.unwrap()];
    pages.push(get(exporter.addr, "/metrics").await.1);
    pages.push(get(exporter.addr, "/").await.1);
    pages.push(get(exporter.addr, "/readyz").await.1);
    let logs_before_stop = exporter.logs();
    exporter.terminate();
    (logs_before_stop, pages)
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_never_appears_in_logs_pages_or_errors() {
    for format in ["text", "json"] {
        let (logs, pages) = run_and_collect(format).await;
        assert!(
            logs.len() > 1000,
            "trace logging produced too little to be a test"
        );
        assert!(
            !logs.contains(MOCK_SECRET),
            "the secret leaked into {format} logs"
        );
        assert!(logs.contains("world-readable") || logs.contains("readable by every user"));
        for page in &pages {
            assert!(!page.contains(MOCK_SECRET), "the secret leaked into a page");
        }
        assert!(
            pages[0].contains("inline secrets are not allowed"),
            "{}",
            pages[0]
        );
    }
}

/// An AllScale-style secret an operator pasted into the wrong place.
const PASTED: &str = "st_live_pasted_0123456789abcdef";
/// A base64 secret (no `st_` prefix) pasted where a file path belongs.
const PASTED_BASE64: &str = "q8Zx+Lm4Rt7Wk2Pd9Vb0=";

/// One way to paste a secret into the wrong place: the lines that replace the store's
/// `api_secret_file: ...` line, the pasted value, and what the message must say instead.
struct Paste {
    what: &'static str,
    lines: String,
    value: &'static str,
    reason: &'static str,
}

fn pastes(secret_line: &str) -> Vec<Paste> {
    let keep = |extra: &str| format!("{secret_line}{extra}");
    vec![
        Paste {
            what: "the secret as api_secret_env",
            lines: format!("    api_secret_env: {PASTED}\n"),
            value: PASTED,
            reason: "not hold the secret itself",
        },
        Paste {
            what: "the secret as api_secret_file",
            lines: format!("    api_secret_file: {PASTED}\n"),
            value: PASTED,
            reason: "not the secret itself",
        },
        Paste {
            what: "a base64 secret as api_secret_file",
            lines: format!("    api_secret_file: \"{PASTED_BASE64}\"\n"),
            value: PASTED_BASE64,
            reason: "looks more like a secret than a path",
        },
        Paste {
            what: "the secret in a field of another type",
            lines: keep(&format!("    max_concurrency: {PASTED}\n")),
            value: PASTED,
            reason: "looks like an AllScale key or secret",
        },
        Paste {
            what: "the secret on a line of its own (an unknown key)",
            lines: keep(&format!("    {PASTED}:\n")),
            value: PASTED,
            reason: "looks like an AllScale key or secret",
        },
        Paste {
            what: "the secret twice (a YAML duplicate-key error)",
            lines: keep(&format!("    {PASTED}: 1\n    {PASTED}: 2\n")),
            value: PASTED,
            reason: "looks like an AllScale key or secret",
        },
    ]
}

/// `check-config PATH`: exit code and everything printed.
fn check_config(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_allscale-exporter"))
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Whether `text` keeps the pasted value out and says why; a description of what is
/// wrong otherwise.
fn judge(paste: &Paste, channel: &str, text: &str) -> Option<String> {
    if text.contains(paste.value) {
        Some(format!("{}: {channel} echoes it:\n{text}", paste.what))
    } else if !text.contains(paste.reason) {
        Some(format!(
            "{}: {channel} does not say {:?}:\n{text}",
            paste.what, paste.reason
        ))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_pasted_into_the_wrong_field_is_never_echoed() {
    let mock = StrictMock::start(&json!({}), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("config.yaml");
    let good = mock_config_yaml(&mock, &secret, "", &[]);
    std::fs::write(&config, &good).unwrap();
    // Only the explicit reloads below: one answer and one log line per paste.
    let args = ["--config.check-interval=0s", "--config.watch=false"];
    let exporter = ExporterProcess::start(&config, &args);
    let client = reqwest::Client::new();
    let secret_line = format!("    api_secret_file: {}\n", secret.display());
    let mut failures = Vec::new();
    for paste in pastes(&secret_line) {
        let bad = good.replace(&secret_line, &paste.lines);
        assert_ne!(bad, good, "{}: the config did not change", paste.what);
        std::fs::write(&config, &bad).unwrap();
        let (code, printed) = check_config(&config);
        assert_eq!(
            code,
            Some(1),
            "{}: check-config accepted it:\n{printed}",
            paste.what
        );
        failures.extend(judge(&paste, "check-config", &printed));
        let reload = client
            .post(format!("http://{}/-/reload", exporter.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(
            reload.status().as_u16(),
            500,
            "{}: reload accepted it",
            paste.what
        );
        failures.extend(judge(
            &paste,
            "POST /-/reload",
            &reload.text().await.unwrap(),
        ));
    }
    // The log reaches the test through a pipe read by another thread: the last reload's
    // line may come after its answer. Wait (bounded) until every reason is in, then judge
    // what is there (a reason still missing is a failure below, not a timeout).
    let all_said = || async {
        let logs = exporter.logs();
        pastes(&secret_line)
            .iter()
            .all(|p| logs.contains(p.reason))
            .then_some(())
    };
    common::poll_until(std::time::Duration::from_secs(10), all_said).await;
    let logs = exporter.logs();
    exporter.terminate();
    for paste in pastes(&secret_line) {
        failures.extend(judge(&paste, "the log", &logs));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
