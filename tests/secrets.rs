//! The API secret never appears in logs (every level, text and JSON), error messages,
//! `/metrics`, the landing page or reload answers; a world-readable secret file is
//! warned about.

mod common;

use std::os::unix::fs::PermissionsExt;
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
