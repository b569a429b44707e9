//! The Kubernetes trees as `kubectl kustomize` renders them (what `kubectl apply -k`
//! sends), single replica and sharded: the state database on a persistent volume at the
//! config's `state_file`, memory that holds the configured cap on intents by the
//! measured figures, an Ingress that exposes only the webhook receiver on its own
//! listener, and a NetworkPolicy that keeps the main port (`/metrics`, the registration
//! API) inside the cluster. The files one by one: `e2e::kubernetes_manifests_are_consistent`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::files::{arr, read, root, s};
use crate::common::tools::available as have_tools;

const TREES: [&str; 2] = ["deploy/kubernetes", "deploy/kubernetes-sharded"];

/// docs/performance.md, 100k intents, release build: the largest resident memory at
/// steady state of its measurements ("RSS 158.4 MB"), and the most a scrape adds while
/// the page is rendered (the 44.1 MB page of `per_intent_metrics: all`).
const STEADY_BYTES_PER_100K: u64 = 158_400_000;
const SCRAPE_BYTES_PER_100K: u64 = 44_100_000;

/// `registration.max_intents_per_store` when the config does not set it (contract.md).
const DEFAULT_INTENT_CAP: u64 = 200_000;

/// The rendered tree, or None (skipped) without kubectl outside CI.
fn render(tree: &str) -> Option<Vec<Value>> {
    if !have_tools(&["kubectl"], "the rendered Kubernetes trees") {
        return None;
    }
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(root().join(tree))
        .output()
        .expect("kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize {tree}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    Some(
        serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{tree}: the rendered YAML does not parse: {e}")),
    )
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The one workload of the tree: the Deployment or the sharded StatefulSet.
fn workload<'a>(tree: &str, docs: &'a [Value]) -> &'a Value {
    let mut found = of_kind(docs, "Deployment");
    found.extend(of_kind(docs, "StatefulSet"));
    assert_eq!(found.len(), 1, "{tree}: one Deployment or StatefulSet");
    found[0]
}

fn container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

/// The exporter config, parsed from the tree's one ConfigMap.
fn exporter_config(tree: &str, docs: &[Value]) -> Value {
    let maps = of_kind(docs, "ConfigMap");
    assert_eq!(maps.len(), 1, "{tree}: one ConfigMap");
    let text = s(&maps[0]["data"], "config.yaml", "ConfigMap");
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{tree}: config.yaml: {e}"))
}

/// Bytes in a Kubernetes quantity: `256Mi`, `1Gi`, `200M`, `134217728`.
fn bytes(quantity: &Value, what: &str) -> u64 {
    let q = match quantity {
        Value::Number(n) => return n.as_u64().expect("whole bytes"),
        Value::String(q) => q.as_str(),
        _ => panic!("{what}: no quantity, got {quantity}"),
    };
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (digits, scale) = units
        .iter()
        .find_map(|(suffix, scale)| Some((q.strip_suffix(suffix)?, *scale)))
        .unwrap_or((q, 1));
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {q} is not a whole quantity"));
    n * scale
}

/// The port number a probe, Service or policy names, by name or number, among the
/// container's ports.
fn container_port(container: &Value, port: &Value, what: &str) -> u64 {
    let ports = arr(&container["ports"], "container ports");
    let found = match port {
        Value::String(name) => ports.iter().find(|p| p["name"] == name.as_str()),
        Value::Number(_) => ports.iter().find(|p| p["containerPort"] == *port),
        _ => None,
    };
    found
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("{what}: {port} is not a port of the container"))
}

/// The port of `--flag=HOST:PORT` among the container's args.
fn listen_port(container: &Value, flag: &str) -> u64 {
    arr(&container["args"], "args")
        .iter()
        .filter_map(Value::as_str)
        .find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
        .and_then(|addr| addr.rsplit_once(':')?.1.parse().ok())
        .unwrap_or_else(|| panic!("no {flag}=HOST:PORT in the args"))
}

#[test]
fn the_state_database_is_on_a_persistent_volume_at_the_state_file() {
    for tree in TREES {
        let Some(docs) = render(tree) else { return };
        let workload = workload(tree, &docs);
        let config = exporter_config(tree, &docs);
        let state_file = s(&config, "state_file", "config");
        let dir = Path::new(state_file)
            .parent()
            .expect("state_file's directory");
        let mount = arr(&container(workload)["volumeMounts"], "volumeMounts")
            .iter()
            .find(|m| Path::new(s(m, "mountPath", "mount")) == dir)
            .unwrap_or_else(|| panic!("{tree}: nothing is mounted at {}", dir.display()));
        assert_ne!(
            mount["readOnly"], true,
            "{tree}: the state volume is read-only"
        );
        let name = s(mount, "name", "mount");
        let spec = &workload["spec"];
        let claims = of_kind(&docs, "PersistentVolumeClaim");
        let volume = spec["template"]["spec"]["volumes"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == name));
        match (workload["kind"].as_str(), volume) {
            (Some("Deployment"), Some(volume)) => {
                let claim = s(&volume["persistentVolumeClaim"], "claimName", name);
                let claim = claims
                    .iter()
                    .find(|c| c["metadata"]["name"] == claim)
                    .unwrap_or_else(|| panic!("{tree}: no PersistentVolumeClaim {claim}"));
                assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
                // One writer: the old pod lets go of the volume before the new one starts.
                assert_eq!(spec["replicas"], 1, "{tree}");
                assert_eq!(spec["strategy"]["type"], "Recreate", "{tree}");
            }
            (Some("StatefulSet"), None) => {
                let templates = arr(&spec["volumeClaimTemplates"], "volumeClaimTemplates");
                assert!(
                    templates.iter().any(|t| t["metadata"]["name"] == name),
                    "{tree}: the state volume {name} is no volumeClaimTemplate"
                );
                assert!(
                    claims.is_empty(),
                    "{tree}: a claim no shard mounts (the single replica's?)"
                );
            }
            (kind, volume) => {
                panic!("{tree}: the state volume of the {kind:?} is not persistent: {volume:?}")
            }
        }
    }
}

/// HTTP (and so /healthz) is answered only once the state database is restored, which
/// took 57 s at 100k intents with 10,000 events pending (bench/restart.py): a liveness
/// probe alone would kill that start, and each one after it. A startup probe holds it
/// off for the 10 minutes the manifests' comments promise.
#[test]
fn a_long_restore_is_not_killed_by_the_liveness_probe() {
    for tree in TREES {
        let Some(docs) = render(tree) else { return };
        let container = container(workload(tree, &docs));
        let startup = &container["startupProbe"];
        assert_eq!(
            startup["httpGet"]["path"], "/healthz",
            "{tree}: no startup probe on /healthz"
        );
        let allowed = startup["periodSeconds"].as_u64().unwrap_or(10)
            * startup["failureThreshold"].as_u64().unwrap_or(3);
        assert!(
            allowed >= 600,
            "{tree}: the startup probe gives a restore {allowed} s, not 10 minutes"
        );
    }
}

#[test]
fn memory_holds_the_configured_cap_on_intents_by_the_measured_figures() {
    let performance = read("docs/performance.md");
    for figure in ["RSS 158.4 MB", "| 44.1 MB |"] {
        assert!(
            performance.contains(figure),
            "docs/performance.md no longer says {figure}: update the constants here"
        );
    }
    for tree in TREES {
        let Some(docs) = render(tree) else { return };
        let workload = workload(tree, &docs);
        let config = exporter_config(tree, &docs);
        let cap = config["registration"]["max_intents_per_store"]
            .as_u64()
            .unwrap_or(DEFAULT_INTENT_CAP);
        let replicas = workload["spec"]["replicas"].as_u64().expect("replicas");
        let resources = &container(workload)["resources"];
        let limit = bytes(&resources["limits"]["memory"], "limits.memory");
        let request = bytes(&resources["requests"]["memory"], "requests.memory");
        // The cap counts each replica's own intents: any one may reach it, and must
        // then not be OOM-killed into a restart loop. The request assumes the intents
        // spread over the shards.
        let peak = (STEADY_BYTES_PER_100K + SCRAPE_BYTES_PER_100K) * cap / 100_000;
        assert!(
            limit >= peak,
            "{tree}: limits.memory {limit} bytes < {peak} for {cap} intents (steady + scrape)"
        );
        let steady = STEADY_BYTES_PER_100K * cap / 100_000 / replicas;
        assert!(
            request >= steady,
            "{tree}: requests.memory {request} bytes < {steady}, {cap} intents over {replicas}"
        );
        assert!(request <= limit, "{tree}: request above limit");
    }
}

#[test]
fn the_ingress_exposes_only_the_webhook_receiver_on_its_own_listener() {
    for tree in TREES {
        let Some(docs) = render(tree) else { return };
        let workload = workload(tree, &docs);
        let container = container(workload);
        let config = exporter_config(tree, &docs);
        let path = config["webhook"]["path"]
            .as_str()
            .unwrap_or("/webhooks/allscale");
        let webhook_port = listen_port(container, "--webhook.listen-address");
        assert_ne!(
            webhook_port,
            listen_port(container, "--web.listen-address"),
            "{tree}: the receiver needs a listener of its own"
        );
        let ingresses = of_kind(&docs, "Ingress");
        assert!(!ingresses.is_empty(), "{tree}: no Ingress");
        let mut routes = 0;
        for ingress in ingresses {
            let spec = &ingress["spec"];
            assert!(
                spec["defaultBackend"].is_null(),
                "{tree}: a default backend exposes every path"
            );
            for rule in arr(&spec["rules"], "rules") {
                for route in arr(&rule["http"]["paths"], "paths") {
                    routes += 1;
                    assert_eq!(route["path"], path, "{tree}: only the webhook path");
                    assert_eq!(route["pathType"], "Exact", "{tree}: {path} exactly");
                    let backend = &route["backend"]["service"];
                    let service = of_kind(&docs, "Service")
                        .into_iter()
                        .find(|svc| svc["metadata"]["name"] == backend["name"])
                        .unwrap_or_else(|| panic!("{tree}: no Service {}", backend["name"]));
                    let wanted = &backend["port"];
                    let port = arr(&service["spec"]["ports"], "Service ports")
                        .iter()
                        .find(|p| p["name"] == wanted["name"] || p["port"] == wanted["number"])
                        .unwrap_or_else(|| panic!("{tree}: the Service has no port {wanted}"));
                    assert_eq!(
                        container_port(container, &port["targetPort"], "the Service"),
                        webhook_port,
                        "{tree}: the Ingress must reach the --webhook.listen-address port"
                    );
                }
            }
        }
        assert!(routes > 0, "{tree}: the Ingress routes nothing");
    }
}

#[test]
fn the_network_policy_keeps_the_main_port_inside_the_cluster() {
    for tree in TREES {
        let Some(docs) = render(tree) else { return };
        let workload = workload(tree, &docs);
        let container = container(workload);
        let main_port = listen_port(container, "--web.listen-address");
        let webhook_port = listen_port(container, "--webhook.listen-address");
        let labels = &workload["spec"]["template"]["metadata"]["labels"];
        let policy = of_kind(&docs, "NetworkPolicy")
            .into_iter()
            .find(|p| {
                p["spec"]["podSelector"]["matchLabels"]
                    .as_object()
                    .is_some_and(|m| m.iter().all(|(k, v)| labels[k] == *v))
            })
            .unwrap_or_else(|| panic!("{tree}: no NetworkPolicy selects the exporter's pods"));
        assert!(
            arr(&policy["spec"]["policyTypes"], "policyTypes")
                .iter()
                .any(|t| t == "Ingress"),
            "{tree}: the policy does not restrict ingress"
        );
        // Who may reach each port: every rule names its sources and its ports (a rule
        // without `from` admits everyone, one without `ports` every port).
        let mut main_peers = Vec::new();
        let mut webhook_peers = Vec::new();
        for rule in arr(&policy["spec"]["ingress"], "ingress rules") {
            let peers = arr(&rule["from"], "a rule's from");
            assert!(!peers.is_empty(), "{tree}: a rule admits every source");
            for peer in peers {
                assert!(
                    peer["ipBlock"].is_null(),
                    "{tree}: an ipBlock can admit addresses outside the cluster"
                );
            }
            let ports = arr(&rule["ports"], "a rule's ports");
            assert!(!ports.is_empty(), "{tree}: a rule opens every port");
            for port in ports {
                match container_port(container, &port["port"], "the NetworkPolicy") {
                    p if p == main_port => main_peers.extend(peers),
                    p if p == webhook_port => webhook_peers.extend(peers),
                    p => panic!("{tree}: the policy opens port {p}, neither listener"),
                }
            }
        }
        assert!(
            !main_peers.is_empty() && !webhook_peers.is_empty(),
            "{tree}: both ports must be reachable by someone (Prometheus, the ingress controller)"
        );
        for peer in &main_peers {
            assert!(
                !webhook_peers.contains(peer),
                "{tree}: {peer} reaches the webhook port and also /metrics and the registration API"
            );
        }
    }
}
