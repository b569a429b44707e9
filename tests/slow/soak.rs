//! Soak: 50 SIGKILLs of the exporter at random moments while intents finish; at the end
//! every terminal outcome has been counted exactly once.

use crate::common;

use std::time::Duration;

use allscale_exporter::simulator::{Scenario, SimIntent, SimKey, Simulator};
use common::processes::ExporterProcess;
use common::{scrape, wait_for};

const KEY: &str = "st_soak_key";
const SECRET: &str = "st_soak_secret";
const OUTCOMES: [(i64, &str); 6] = [
    (20, "confirmed"),
    (-1, "failed"),
    (-2, "rejected"),
    (-3, "underpaid"),
    (-4, "canceled"),
    (-5, "timeout"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sigkills_still_count_each_outcome_once() {
    // 36 intents, finishing between ~1 s and ~13 s after their first poll.
    let intents: Vec<SimIntent> = (0..36u32)
        .map(|n| SimIntent {
            lifecycle: vec![1, 2, 10, OUTCOMES[n as usize % 6].0],
            step: Duration::from_millis(300 + 100 * u64::from(n)),
            ..SimIntent::new(format!("69000000000000000000{n:04x}"), KEY)
        })
        .collect();
    let ids: Vec<String> = intents.iter().map(|i| i.id.clone()).collect();
    let sim = Simulator::new(Scenario {
        latency: Duration::ZERO,
        sign_responses: false,
        clock_offset_seconds: 0,
        timestamp_window: Duration::from_secs(300),
        keys: vec![SimKey {
            api_key: KEY.into(),
            api_secret: SECRET.into(),
            rate_limit_per_second: None,
        }],
        intents,
        webhook: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.serve(listener, std::future::pending()));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), SECRET).unwrap();
    let mut yaml = format!(
        "poll_interval: 200ms\nstate_file: state.json\nstores:\n  - name: main\n    base_url: {base}\n    api_key: {KEY}\n    api_secret_file: secret\n    max_requests_per_second: 200\n    intents:\n"
    );
    for id in &ids {
        yaml.push_str(&format!("      - {id}\n"));
    }
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml).unwrap();

    for round in 0..50u64 {
        let exporter = ExporterProcess::start(&config, &["--config.check-interval=0s"]);
        // Pseudo-random lifetimes between 100 and 580 ms: some kills land mid-poll, some
        // mid-save.
        let life = 100 + (round * 7919 % 17) * 30;
        tokio::time::sleep(Duration::from_millis(life)).await;
        exporter.kill();
    }
    let exporter = ExporterProcess::start(&config, &[]);
    let m = wait_for(Duration::from_secs(30), "every intent terminal", || async {
        let m = scrape(exporter.addr).await;
        (m.sum("allscale_checkout_intent_terminal_total", &[]) >= 36.0).then_some(m)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let m2 = scrape(exporter.addr).await;
    for (_, outcome) in OUTCOMES {
        assert_eq!(m.outcome(outcome), 6.0, "{outcome} after 50 SIGKILLs");
        assert_eq!(m2.outcome(outcome), 6.0, "{outcome} counted again later");
    }
    exporter.terminate();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}
