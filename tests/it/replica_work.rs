//! Issue #24, points 1, 2, 3 and 6, with two exporters on one throwaway PostgreSQL: they
//! split a store's intents by the partitions each leases (every intent polled, none by
//! both), each takes half of the store's budget, one that stops hands its part to the
//! other at once (a rolling restart), one paused past its lease loses its part and
//! rejoins, and a killed one's part moves once its leases expire.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use allscale_exporter::config::{RegistrationConfig, Secret};
use allscale_exporter::replica::lease::{LeaseSettings, partition_of};
use allscale_exporter::server::Exporter;
use allscale_exporter::simulator::{SimIntent, Simulator};
use allscale_exporter::{config::Config, reload::ReloadOptions};
use common::processes::ExporterProcess;
use common::sim::{KEY, SECRET, id, intent, scenario};
use common::{Metrics, postgres, scrape, test_config, wait_for};

const INTENTS: u32 = 48;
const TOKEN: &str = "registration-token-0123456789abcdef";

fn held(m: &Metrics) -> Option<f64> {
    m.get("allscale_exporter_replica_partitions_held", &[])
}

async fn start(config: &Config, name: &str) -> Exporter {
    let options = ReloadOptions {
        replica: name.parse().unwrap(),
        lease: LeaseSettings::of(Duration::from_secs(3)),
        ..ReloadOptions::none()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Exporter::start(config.clone(), listener, options)
        .await
        .unwrap()
}

/// Status requests per intent the simulator has answered so far.
fn polls(sim: &Simulator) -> BTreeMap<String, u64> {
    sim.stats().authenticated_by_intent
}

/// Per intent, the status requests the simulator answers within `window` from now.
async fn polls_within(sim: &Simulator, window: Duration) -> Vec<u64> {
    let before = polls(sim);
    tokio::time::sleep(window).await;
    let after = polls(sim);
    (1..=INTENTS)
        .map(|n| {
            let id = id(n);
            after.get(&id).copied().unwrap_or(0) - before.get(&id).copied().unwrap_or(0)
        })
        .collect()
}

/// The simulator's serving task: aborted at the end of a test.
type Serving = tokio::task::JoinHandle<std::io::Result<()>>;

/// A simulator of `intents` serving on 127.0.0.1, and its base URL.
async fn serve(intents: Vec<SimIntent>) -> (Simulator, String, Serving) {
    let sim = Simulator::new(scenario(intents));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    (sim, url, serving)
}

/// [`serve`], and a config of one store at it that watches intents 1 to [`INTENTS`],
/// polled every 500 ms, kept in a fresh database of `server`.
async fn setup(server: &postgres::Server, intents: Vec<SimIntent>) -> (Simulator, Config, Serving) {
    let (sim, url, serving) = serve(intents).await;
    let ids: Vec<String> = (1..=INTENTS).map(id).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut config = test_config(&url, KEY, SECRET, &ids);
    config.poll_interval = Duration::from_millis(500);
    config.state_database = Some(Box::new(server.state_database(&server.database())));
    (sim, config, serving)
}

/// Intents 1 to [`INTENTS`], on chain for the whole test.
fn staying() -> Vec<SimIntent> {
    (1..=INTENTS).map(|n| intent(n, &[2], 3_600_000)).collect()
}

/// Replica a started alone (it takes every partition), then replica b; once they split
/// 128/128: both, with their pages at that moment.
async fn split(config: &Config) -> (Exporter, Exporter, Metrics, Metrics) {
    let a = start(config, "replica-a").await;
    wait_all_held(
        a.local_addr(),
        Duration::from_secs(15),
        "replica a to hold every partition",
    )
    .await;
    let b = start(config, "replica-b").await;
    let (ma, mb) = wait_halves(
        a.local_addr(),
        b.local_addr(),
        Duration::from_secs(15),
        "a fair split",
    )
    .await;
    (a, b, ma, mb)
}

/// Waits (at most `within`) until the replica at `addr` holds every partition.
async fn wait_all_held(addr: SocketAddr, within: Duration, what: &str) {
    wait_for(within, what, || async {
        (held(&scrape(addr).await) == Some(256.0)).then_some(())
    })
    .await;
}

/// Waits (at most `within`) until the replicas at `a` and `b` hold half of the partitions
/// each; their pages.
async fn wait_halves(
    a: SocketAddr,
    b: SocketAddr,
    within: Duration,
    what: &str,
) -> (Metrics, Metrics) {
    wait_for(within, what, || async {
        let (ma, mb) = (scrape(a).await, scrape(b).await);
        (held(&ma) == Some(128.0) && held(&mb) == Some(128.0)).then_some((ma, mb))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_split_the_intents_and_the_budget_and_one_stopping_hands_over() {
    let Some(server) = postgres::server() else {
        return;
    };
    let (sim, mut config, serving) = setup(server, staying()).await;
    config.stores[0].max_requests_per_second = 200.0;
    let (a, b, ma, mb) = split(&config).await;
    for m in [&ma, &mb] {
        assert_eq!(m.get("allscale_exporter_replicas_live", &[]), Some(2.0));
        assert_eq!(m.get("allscale_exporter_state_database_up", &[]), Some(1.0));
        let budget = m.get(
            "allscale_exporter_poll_budget_requests_per_second",
            &[("store", "main")],
        );
        assert_eq!(budget, Some(100.0), "half of the store's budget each");
    }

    // Each exports its own half of the per-intent series and of the aggregates: every
    // intent's status once in the group, and the watched intents add up by store.
    let (ma, mb) = wait_for(Duration::from_secs(10), "every intent polled", || async {
        let (ma, mb) = (scrape(a.local_addr()).await, scrape(b.local_addr()).await);
        let both =
            (1..=INTENTS).all(|n| ma.status(&id(n)).is_some() || mb.status(&id(n)).is_some());
        both.then_some((ma, mb))
    })
    .await;
    for n in 1..=INTENTS {
        let (on_a, on_b) = (ma.status(&id(n)), mb.status(&id(n)));
        assert!(
            on_a.is_none() || on_b.is_none(),
            "intent {n} exported by both"
        );
        let mine = if partition_of(&id(n)).get() < 128 {
            on_a
        } else {
            on_b
        };
        assert_eq!(mine, Some(2.0), "intent {n} by its holder");
    }
    let watched = |m: &Metrics| m.value("allscale_exporter_watched_intents", &[("store", "main")]);
    assert_eq!(watched(&ma) + watched(&mb), f64::from(INTENTS));
    assert!(watched(&ma) > 0.0 && watched(&mb) > 0.0);

    // Each intent is polled about every 500 ms by exactly one of them: about 6 times in
    // 3 s; polled by both it would be about 12.
    let split = polls_within(&sim, Duration::from_secs(3)).await;
    assert!(
        split.iter().all(|&n| (1..=9).contains(&n)),
        "polls per intent in 3 s: {split:?}"
    );

    // A clean stop hands a's leases back: b takes everything at its next round.
    a.shutdown().await;
    wait_for(
        Duration::from_secs(10),
        "replica b to take a's part",
        || async {
            let m = scrape(b.local_addr()).await;
            let all = held(&m) == Some(256.0)
                && m.get("allscale_exporter_replicas_live", &[]) == Some(1.0);
            all.then_some(())
        },
    )
    .await;
    let alone = polls_within(&sim, Duration::from_secs(2)).await;
    assert!(
        alone.iter().all(|&n| (1..=6).contains(&n)),
        "polls per intent in 2 s after the handover: {alone:?}"
    );
    b.shutdown().await;
    serving.abort();
}

/// The config file of a store at the simulator `url` whose state is in `database`.
fn config_file(dir: &std::path::Path, url: &str, database: &str) -> std::path::PathBuf {
    let server = postgres::server().expect("checked by the caller");
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let intents: String = (1..=INTENTS)
        .map(|n| format!("      - {}\n", id(n)))
        .collect();
    let yaml = format!(
        "poll_interval: 500ms\n{}stores:\n  - name: main\n    base_url: {url}\n    \
         api_key: {KEY}\n    api_secret_file: {}\n    max_requests_per_second: 200\n    \
         intents:\n{intents}",
        server.yaml(database, &dir.join("password")),
        secret.display()
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn replica(config: &std::path::Path, name: &str) -> ExporterProcess {
    let name = format!("--replica.name={name}");
    ExporterProcess::start(config, &[&name, "--replica.lease-duration=3s"])
}

/// Issue #24, points 2 and 3, with the real binary: a replica paused (SIGSTOP) past its
/// lease loses its part to the other and, resumed, rejoins for half again; a replica
/// killed (SIGKILL) loses its part within the lease time, and every intent is polled
/// again by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_replica_rejoins_and_a_killed_ones_part_moves_to_the_other() {
    let Some(server) = postgres::server() else {
        return;
    };
    let (sim, url, serving) = serve(staying()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &url, &server.database());
    let a = replica(&config, "replica-a");
    wait_all_held(
        a.addr,
        Duration::from_secs(15),
        "replica a to hold every partition",
    )
    .await;
    let b = replica(&config, "replica-b");
    wait_halves(a.addr, b.addr, Duration::from_secs(30), "a fair split").await;

    // Paused past its lease, b counts as gone: a takes everything.
    b.signal("STOP");
    wait_for(
        Duration::from_secs(30),
        "a to take the paused b's part",
        || async {
            let m = scrape(a.addr).await;
            let all = held(&m) == Some(256.0)
                && m.get("allscale_exporter_replicas_live", &[]) == Some(1.0);
            all.then_some(())
        },
    )
    .await;
    let alone = polls_within(&sim, Duration::from_secs(2)).await;
    assert!(alone.iter().all(|&n| n >= 1), "{alone:?}");
    b.signal("CONT");
    wait_halves(
        a.addr,
        b.addr,
        Duration::from_secs(30),
        "the resumed b to rejoin",
    )
    .await;
    let split = polls_within(&sim, Duration::from_secs(3)).await;
    assert!(
        split.iter().all(|&n| (1..=9).contains(&n)),
        "polls per intent in 3 s after b rejoined: {split:?}"
    );

    // Killed, a never hands its leases back: b takes them once they expire.
    let killed = std::time::Instant::now();
    a.kill();
    wait_all_held(
        b.addr,
        Duration::from_secs(30),
        "b to take the killed a's part",
    )
    .await;
    let took = killed.elapsed();
    let after = polls_within(&sim, Duration::from_secs(2)).await;
    assert!(after.iter().all(|&n| n >= 1), "{after:?}");
    eprintln!("a killed replica's part moved in {took:?} (lease 3 s)");
    serving.abort();
}

/// Issue #24, point 4, for work that moves: an intent that finished at the replica
/// holding it is taken over as finished by the replica that gains its partition (whose
/// memory, loaded at its start, still watched it): it is not polled there, and its
/// outcome stays counted once in the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_counted_before_a_handover_is_not_counted_again_by_the_next_holder() {
    let Some(server) = postgres::server() else {
        return;
    };
    // Confirmed 8 s after the simulator starts, after both replicas loaded it watching.
    let mut intents = staying();
    intents[0] = intent(1, &[2, 20], 8_000);
    let (sim, config, serving) = setup(server, intents).await;
    let (a, b, _, _) = split(&config).await;
    let ma = wait_for(Duration::from_secs(30), "the outcome", || async {
        let (ma, mb) = (scrape(a.local_addr()).await, scrape(b.local_addr()).await);
        (ma.outcome("confirmed") + mb.outcome("confirmed") == 1.0).then_some(ma)
    })
    .await;
    // The replica that counted it stops; the other takes its part.
    let (counter, other) = if ma.outcome("confirmed") == 1.0 {
        (a, b)
    } else {
        (b, a)
    };
    counter.shutdown().await;
    let polled = polls(&sim).get(&id(1)).copied();
    let m = wait_for(
        Duration::from_secs(15),
        "the other to hold everything",
        || async {
            let m = scrape(other.local_addr()).await;
            (held(&m) == Some(256.0)).then_some(m)
        },
    )
    .await;
    assert_eq!(m.status(&id(1)), Some(20.0), "taken over as confirmed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = scrape(other.local_addr()).await;
    assert_eq!(
        m.outcome("confirmed"),
        0.0,
        "counted again after the handover"
    );
    assert_eq!(polls(&sim).get(&id(1)).copied(), polled, "polled again");
    other.shutdown().await;
    serving.abort();
}

/// Issue #24, point 5: an intent registered at one replica whose partition another holds
/// is polled by the holder, which learns of it from the database (within about a
/// second); the replica that answered the registration does not poll it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_at_one_replica_is_polled_by_the_holder_of_its_partition() {
    let Some(server) = postgres::server() else {
        return;
    };
    // After a split, the first replica keeps the lower half of the partitions (the surplus
    // it hands back is the highest): an intent of the upper half is the second one's.
    let registered = (100..)
        .map(id)
        .find(|id| partition_of(id).get() >= 128)
        .unwrap();
    let mut intents = staying();
    intents.push(SimIntent {
        lifecycle: vec![2],
        step: Duration::from_secs(3600),
        ..SimIntent::new(registered.clone(), KEY)
    });
    let (_sim, mut config, serving) = setup(server, intents).await;
    config.registration = Some(RegistrationConfig {
        token: Secret::new(TOKEN),
        max_intents_per_store: 1000,
    });
    let (a, b, _, _) = split(&config).await;
    let answer = reqwest::Client::new()
        .post(format!("http://{}/api/v1/intents", a.local_addr()))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"store": "main", "intents": [registered]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    wait_for(Duration::from_secs(10), "the holder to poll it", || async {
        let m = scrape(b.local_addr()).await;
        (m.status(&registered) == Some(2.0)).then_some(())
    })
    .await;
    assert_eq!(
        scrape(a.local_addr()).await.status(&registered),
        None,
        "polled by the replica that does not hold it"
    );
    a.shutdown().await;
    b.shutdown().await;
    serving.abort();
}

/// Issue #24, point 5, webhooks: AllScale's retry of a webhook one replica answered,
/// landing at once (before the once-a-second look) on another replica, is a duplicate
/// there: the confirmation is counted once in the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_retried_at_another_replica_is_counted_once() {
    use crate::webhooks::{post, signed};

    let Some(server) = postgres::server() else {
        return;
    };
    let (_sim, config, serving) = setup(server, staying()).await;
    let (a, b, _, _) = split(&config).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let first = signed(&id(1), "whk_group_1", "nonce-first", now);
    let retry = signed(&id(1), "whk_group_1", "nonce-retry", now);
    assert_eq!(post(a.local_addr(), &first).await, 200);
    assert_eq!(post(b.local_addr(), &retry).await, 200);
    // After both looks at the group's rows, still one confirmation in the group.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ma, mb) = (scrape(a.local_addr()).await, scrape(b.local_addr()).await);
    assert_eq!(
        ma.outcome("confirmed") + mb.outcome("confirmed"),
        1.0,
        "a: {}, b: {}",
        ma.outcome("confirmed"),
        mb.outcome("confirmed")
    );
    a.shutdown().await;
    b.shutdown().await;
    serving.abort();
}
