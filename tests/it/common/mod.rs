//! Shared test fixtures: scrape and parse `/metrics`, wait for conditions, build configs.

pub mod files;
pub mod postgres;
pub mod processes;
pub mod sim;
pub mod statedb;
pub mod tls;
pub mod tools;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use allscale_exporter::config::{BaseUrl, IntentId};
use allscale_exporter::config::{Config, IntentConfig, Secret, StoreConfig};

/// Every terminal outcome label, in contract order.
pub const OUTCOMES: [&str; 6] = [
    "confirmed",
    "failed",
    "rejected",
    "underpaid",
    "canceled",
    "timeout",
];

/// GET `http://addr/path` and return status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

pub async fn scrape(addr: SocketAddr) -> Metrics {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "/metrics answered {status}");
    Metrics::parse(&body)
}

/// A parsed scrape: series (name plus sorted labels) to value.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub text: String,
    pub series: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (head, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line}"));
            let (name, labels) = match head.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (head, BTreeMap::new()),
            };
            series.insert((name.to_string(), labels), value);
        }
        Metrics {
            text: text.to_string(),
            series,
        }
    }

    /// The value of the one series with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.series.get(&(name.to_string(), labels)).copied()
    }

    /// Like `get`, but a missing series fails the test.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in scrape:\n{}", self.text))
    }

    /// `allscale_checkout_intent_status` of an intent of store `main`.
    pub fn status(&self, id: &str) -> Option<f64> {
        self.get(
            "allscale_checkout_intent_status",
            &[("store", "main"), ("intent_id", id)],
        )
    }

    /// `allscale_api_requests_total` of store `main`'s status endpoint for `result`.
    pub fn requests(&self, result: &str) -> f64 {
        self.value(
            "allscale_api_requests_total",
            &[
                ("store", "main"),
                ("endpoint", "status"),
                ("result", result),
            ],
        )
    }

    /// `allscale_checkout_intent_terminal_total` of store `main`.
    pub fn outcome(&self, outcome: &str) -> f64 {
        self.value(
            "allscale_checkout_intent_terminal_total",
            &[("store", "main"), ("outcome", outcome)],
        )
    }

    /// Sum over every series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(if e == 'n' { '\n' } else { e });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').to_string(), value);
        rest = &after[end..];
    }
    out
}

/// Polls `check` every 50 ms until it returns Some; None once `limit` passed (for a
/// caller that says more about the failure than [`wait_for`] can).
pub async fn poll_until<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it returns Some, or fails once `limit` passed.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll_until(limit, check)
        .await
        .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// A one-store config with fast polling, for tests.
pub fn test_config(base_url: &str, key: &str, secret: &str, ids: &[&str]) -> Config {
    Config {
        poll_interval: Duration::from_millis(300),
        request_timeout: Duration::from_secs(3),
        terminal_retention: Duration::from_secs(3600),
        state_file: None,
        state_database: None,
        stores: vec![StoreConfig {
            name: "main".into(),
            base_url: BaseUrl::parse(base_url).expect("a base URL"),
            api_key: key.to_string(),
            api_secret: Secret::new(secret),
            max_requests_per_second: 100.0,
            max_concurrency: 4,
            verify_response_signature: false,
            fetch_details: true,
            http_version: Default::default(),
            per_intent_metrics: Default::default(),
            attention_after: Default::default(),
            max_watch_age: allscale_exporter::config::DEFAULT_MAX_WATCH_AGE,
            not_found_ttl: allscale_exporter::config::DEFAULT_NOT_FOUND_TTL,
            intents: ids
                .iter()
                .map(|id| IntentConfig {
                    id: IntentId::parse(id).expect("a 24-hex id"),
                    order_id: None,
                })
                .collect(),
            intent_sources: Default::default(),
            webhook: Default::default(),
        }],
        registration: None,
        webhook: Default::default(),
    }
}

/// `promtool check metrics` finds nothing in a scrape (checked where promtool is
/// installed; in CI it must be).
pub fn assert_promtool_clean(text: &str) {
    if let Some((code, findings)) = promtool_check_metrics(text) {
        assert_eq!(code, 0, "promtool check metrics exit {code}:\n{findings}");
        assert_eq!(findings.trim(), "", "promtool findings");
    }
}

/// Runs `promtool check metrics` on a scrape when promtool is installed.
/// Returns None when promtool is missing (outside CI: see [`tools::available`]), else
/// its stderr and exit code.
pub fn promtool_check_metrics(text: &str) -> Option<(i32, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if !tools::available(&["promtool"], "the lint of the scrape") {
        return None;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ran");
    let mut findings = String::from_utf8_lossy(&out.stderr).into_owned();
    findings.push_str(&String::from_utf8_lossy(&out.stdout));
    Some((out.status.code().unwrap_or(-1), findings))
}
