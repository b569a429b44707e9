//! `allscale-exporter demo`: the simulator and the exporter together on loopback, with a
//! generated config whose intents reach every terminal outcome within 30 seconds, and new
//! intents fed through the registration API as a merchant's backend would.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode, header};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::reload::ReloadOptions;
use crate::server::{Exporter, StartError};
use crate::simulator::{Scenario, SimFailure, SimIntent, SimKey, Simulator, WebhookKind};

/// The demo store's key and (made-up) secret, shared by simulator and exporter.
pub const DEMO_API_KEY: &str = "st_demo_key";
const DEMO_API_SECRET: &str = "st_demo_secret_not_a_real_one";

/// Every demo intent: its lifecycle and step. Ids are derived from the index.
const LIFECYCLES: &[(&[i64], u64)] = &[
    (&[1, 2, 3, 10, 20], 3),
    (&[1, 2, 10, 20], 4),
    (&[1, 2, 3, 10, 20], 5),
    (&[2, 10, 20], 6),
    (&[1, 3, 10, 20], 7),
    (&[1, 2, -1], 4),
    (&[1, 2, 3, 10, -1], 5),
    (&[1, 2, 3, -2], 6),
    (&[1, 2, 3, 10, -3], 4),
    (&[1, 2, 10, -3], 6),
    (&[1, 2, -4], 5),
    (&[1, -4], 8),
    (&[1, 2, -5], 9),
    (&[1, 2, 3, -5], 7),
    (&[1, 2, 3, 10], 3),
    (&[1, 2, 10], 4),
    (&[1, 2, 3, 4], 5),
    (&[1, 2, 3, 5], 6),
    (&[1, 2], 10),
];

/// What the demo intents pay in, in turn (coin, chain, amount, currency, amount in its
/// cents): the money metrics show several coins, chains and currencies.
const COINS: &[(&str, u64, &str, &str, u64)] = &[
    ("USDT", 1, "25.00", "USD", 2500),
    ("USDC", 137, "49.90", "USD", 4990),
    ("ETH", 8453, "0.015", "EUR", 4200),
];

/// Intents the simulator knows beyond the first ones: the demo registers one every
/// [`NEW_INTENT_EVERY`], for about three hours.
const FUTURE_INTENTS: usize = 3600;

/// How often the demo registers one more intent.
pub const NEW_INTENT_EVERY: Duration = Duration::from_secs(3);

/// Registered intents kept; older ones are unregistered again, so the demo also shows
/// removals and its watch list stays small.
const ADDED_KEPT: usize = 40;

fn intent_id(index: usize) -> String {
    format!("65f0d3e0{index:016x}")
}

/// One id the simulator does not know, so the demo shows `not_found` and 50001.
fn missing_intent_id() -> String {
    intent_id(0xdead_beef)
}

/// The simulator scenario of the demo (also served by `simulate` without `--scenario`).
pub fn scenario() -> Scenario {
    let mut intents: Vec<SimIntent> = (0..LIFECYCLES.len() + FUTURE_INTENTS)
        .map(|i| {
            let (lifecycle, step) = LIFECYCLES[i % LIFECYCLES.len()];
            let (coin, chain, amount, currency, cents) = COINS[i % COINS.len()];
            SimIntent {
                lifecycle: lifecycle.to_vec(),
                step: Duration::from_secs(step),
                coin_symbol: Some(coin.to_owned()),
                chain_id: Some(chain),
                amount_coins: Some(amount.to_owned()),
                currency_symbol: Some(currency.to_owned()),
                amount_cents: Some(cents),
                ..SimIntent::new(intent_id(i), DEMO_API_KEY)
            }
        })
        .collect();
    // One confirmation comes in short (25.00 USDT asked): the demo shows the alert's
    // counter and the shortfall of a confirmed intent.
    intents[3].paid_coins = Some("24.50".to_owned());
    // AllScale sends the others a webhook when they confirm: the demo shows
    // confirmations by webhook and by poll side by side.
    for intent in intents.iter_mut().skip(1).step_by(2) {
        intent.webhook = Some(WebhookKind::Off);
    }
    // A flaky one: the first three polls hit an internal error.
    intents[2].fail = Some(SimFailure {
        code: Some(90000),
        http_status: Some(500),
        malformed: None,
        bad_signature: false,
        first: Some(3),
    });
    Scenario {
        latency: Duration::from_millis(20),
        sign_responses: true,
        clock_offset_seconds: 0,
        timestamp_window: crate::simulator::default_timestamp_window(),
        keys: vec![SimKey {
            api_key: DEMO_API_KEY.to_string(),
            api_secret: DEMO_API_SECRET.to_string(),
            rate_limit_per_second: Some(50),
        }],
        intents,
        webhook: None,
    }
}

/// What the demo does at its `added`-th step (from 1): the intent it registers, and the
/// one it unregisters (past [`ADDED_KEPT`]), as indexes of the scenario's intents.
fn step(added: usize) -> (usize, Option<usize>) {
    let first = LIFECYCLES.len();
    let register = first + added - 1;
    (
        register,
        added.checked_sub(ADDED_KEPT + 1).map(|old| first + old),
    )
}

/// The exporter config of the demo, pointing at the simulator: the first intents, the
/// unknown one, and the registration API (its token in `token_file`).
pub fn config_yaml(base_url: &str, secret_file: &Path, token_file: &Path) -> String {
    let mut intents = String::new();
    for i in 0..LIFECYCLES.len() {
        intents.push_str(&format!(
            "      - id: {}\n        order_id: demo-order-{:04}\n",
            intent_id(i),
            i + 1
        ));
    }
    intents.push_str(&format!("      - {}\n", missing_intent_id()));
    format!(
        "# Generated by `allscale-exporter demo`; more intents arrive through the registration API.\n\
         poll_interval: 2s\n\
         request_timeout: 5s\n\
         terminal_retention: 10m\n\
         registration:\n  \
           token_file: {}\n  \
           max_intents_per_store: 1000\n\
         stores:\n  \
           - name: demo\n    \
             base_url: {base_url}\n    \
             api_key: {DEMO_API_KEY}\n    \
             api_secret_file: {}\n    \
             max_requests_per_second: 20\n    \
             max_concurrency: 4\n    \
             verify_response_signature: true\n    \
             intents:\n{intents}",
        token_file.display(),
        secret_file.display()
    )
}

/// Registers one intent every [`NEW_INTENT_EVERY`] (and unregisters the oldest past
/// [`ADDED_KEPT`]) through the exporter's registration API, as a backend would, so the
/// demo's graphs keep moving and the API runs for everyone who tries it.
async fn generate_intents(exporter: SocketAddr, token: String) {
    for added in 1..=FUTURE_INTENTS {
        tokio::time::sleep(NEW_INTENT_EVERY).await;
        let (new, old) = step(added);
        let body = format!(
            r#"{{"store": "demo", "intents": [{{"id": "{}", "order_id": "demo-order-{:04}"}}]}}"#,
            intent_id(new),
            new + 1
        );
        let mut calls = vec![(Method::POST, "/api/v1/intents".to_owned(), body)];
        if let Some(old) = old {
            let path = format!("/api/v1/intents/demo/{}", intent_id(old));
            calls.push((Method::DELETE, path, String::new()));
        }
        for (method, path, body) in calls {
            match call(exporter, &token, method, &path, body).await {
                Ok(status) if status.is_success() => {}
                Ok(status) => {
                    tracing::warn!(%path, %status, "demo: the registration API refused a call")
                }
                Err(e) => {
                    tracing::warn!(%path, error = %e, "demo: cannot call the registration API")
                }
            }
        }
    }
}

/// One HTTP/1.1 request to the exporter's registration API; its answer's status.
async fn call(
    exporter: SocketAddr,
    token: &str,
    method: Method,
    path: &str,
    body: String,
) -> Result<StatusCode, Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(exporter).await?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, exporter.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    Ok(sender.send_request(request).await?.status())
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The address is taken (another demo or exporter) or not ours to bind.
    #[error("cannot listen on {address} (choose another with --web.listen-address)")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo I/O")]
    Io(#[from] std::io::Error),
    #[error("demo config: {0}")]
    Config(#[from] ConfigError),
    #[error("demo exporter: {0}")]
    Start(#[from] StartError),
}

/// The demo's files, in a fresh temporary directory.
struct DemoFiles {
    dir: PathBuf,
    config: PathBuf,
    token: String,
}

/// The demo's directories are named after their process.
const DIR_PREFIX: &str = "allscale-exporter-demo-";

fn write_files(base_url: &str) -> Result<DemoFiles, DemoError> {
    remove_stale_dirs(&std::env::temp_dir());
    let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let secret = dir.join("api_secret");
    write_private(&secret, DEMO_API_SECRET)?;
    let token = hex::encode(rand::random::<[u8; 16]>());
    let token_file = dir.join("registration_token");
    write_private(&token_file, &token)?;
    let config = dir.join("config.yaml");
    std::fs::write(&config, config_yaml(base_url, &secret, &token_file))?;
    Ok(DemoFiles { dir, config, token })
}

/// Removes the directories (with their secret and token) of demos whose process is gone:
/// a demo killed with SIGKILL could not remove its own. Linux only (`/proc`).
fn remove_stale_dirs(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX));
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let gone =
            Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists();
        if gone && std::fs::remove_dir_all(entry.path()).is_ok() {
            tracing::info!(dir = %entry.path().display(), "removed the directory of a demo that is no longer running");
        }
    }
}

/// As the exporter asks of operators: a secret readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Runs the demo until `shutdown` resolves.
pub async fn run(
    exporter_addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let listener = TcpListener::bind(exporter_addr)
        .await
        .map_err(|source| DemoError::Listen {
            address: exporter_addr,
            source,
        })?;
    let webhook_url = format!("http://{}/webhooks/allscale", listener.local_addr()?);
    let sim_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sim_addr = sim_listener.local_addr()?;
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    let scenario = scenario();
    let scenario = scenario
        .clone()
        .with_webhook_url(&webhook_url)
        .unwrap_or(scenario);
    let simulator = tokio::spawn(Simulator::new(scenario).serve(sim_listener, async {
        let _ = sim_stopped.await;
    }));
    let base_url = format!("http://{sim_addr}");
    let files = write_files(&base_url)?;
    let config_path = files.config.clone();
    let config = Config::load(&config_path)?;
    let options = ReloadOptions {
        config_path: Some(files.config.clone()),
        check_interval: Duration::from_secs(30),
        watch_events: true,
        shard: crate::shard::Shard::ALL,
        web_config: None,
        ..ReloadOptions::none()
    };
    let exporter = Exporter::start(config, listener, options).await?;
    let url = format!("http://{}", exporter.local_addr());
    println!("allscale-exporter demo is running (Ctrl-C to stop)");
    println!("  simulator (AllScale API): http://{sim_addr}/v1/checkout_intents/<id>/status");
    println!("  exporter:                 {url}/");
    println!("  metrics:                  {url}/metrics");
    println!("  generated config:         {}", config_path.display());
    println!("Every terminal outcome shows up within 30 s, e.g.:");
    println!("  curl -s {url}/metrics | grep allscale_checkout_intent_terminal_total");
    println!("Half the intents confirm by a signed webhook, the others by a poll:");
    println!("  curl -s {url}/metrics | grep -E 'confirmations_total|webhook_requests_total'");
    println!(
        "A new checkout intent is registered every {} s through the registration API, e.g.:",
        NEW_INTENT_EVERY.as_secs()
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $(cat {})\" {url}/api/v1/intents/demo/{}",
        files.dir.join("registration_token").display(),
        intent_id(0)
    );
    let generator = tokio::spawn(generate_intents(exporter.local_addr(), files.token));
    shutdown.await;
    generator.abort();
    exporter.shutdown().await;
    let _ = stop_sim.send(());
    let _ = simulator.await;
    let _ = std::fs::remove_dir_all(files.dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A demo killed with SIGKILL left its directory (secret and token): the next demo
    /// removes it, and only the directories of processes that are gone.
    #[test]
    fn the_directories_of_dead_demos_are_removed() {
        let temp = tempfile::tempdir().unwrap();
        let dead = temp.path().join(format!("{DIR_PREFIX}4000000000"));
        let alive = temp
            .path()
            .join(format!("{DIR_PREFIX}{}", std::process::id()));
        let other = temp.path().join("allscale-exporter-demo-notapid");
        for dir in [&dead, &alive, &other] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("api_secret"), "s").unwrap();
        }
        remove_stale_dirs(temp.path());
        assert!(!dead.exists(), "a dead process's directory stayed");
        assert!(alive.exists() && other.exists());
    }

    #[test]
    fn each_step_registers_one_and_past_the_window_unregisters_the_oldest() {
        let first = LIFECYCLES.len();
        assert_eq!(step(1), (first, None));
        assert_eq!(step(ADDED_KEPT), (first + ADDED_KEPT - 1, None));
        assert_eq!(step(ADDED_KEPT + 1), (first + ADDED_KEPT, Some(first)));
        assert_eq!(
            step(ADDED_KEPT + 10),
            (first + ADDED_KEPT + 9, Some(first + 9))
        );
    }

    #[test]
    fn every_demo_intent_is_known_to_the_simulator_and_the_config_is_valid() {
        let sc = scenario();
        let known: std::collections::HashSet<_> = sc.intents.iter().map(|i| i.id.clone()).collect();
        for added in 1..=FUTURE_INTENTS {
            assert!(known.contains(&intent_id(step(added).0)));
        }
        assert!(!known.contains(&missing_intent_id()));
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s");
        std::fs::write(&secret, DEMO_API_SECRET).unwrap();
        let token = dir.path().join("t");
        std::fs::write(&token, "0123456789abcdef0123456789abcdef").unwrap();
        let text = config_yaml("http://127.0.0.1:1", &secret, &token);
        let config = Config::parse(&text, dir.path(), &|_| None).unwrap();
        assert_eq!(config.stores[0].intents.len(), LIFECYCLES.len() + 1);
        let registration = config.registration.unwrap();
        assert_eq!(registration.max_intents_per_store, 1000);
    }
}
