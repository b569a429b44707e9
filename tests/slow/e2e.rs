//! The operator package: deploy files, alert rules and their unit tests, dashboards.
//!
//! - `end_to_end_with_prometheus_and_alertmanager` runs `tests/e2e/run.py`: the real
//!   exporter and simulator, the real Prometheus and Alertmanager with the shipped rules,
//!   a webhook receiver, and every dashboard query (about 80 s; see the script's doc).
//!   Without `python3`, `prometheus`, `prometheus-alertmanager`, `promtool` or `amtool`
//!   it is skipped with a message on the terminal, unless `CI` is set: then it fails
//!   (`common::tools`).
//! - The other tests check the YAML and text files structurally (no Docker daemon,
//!   Kubernetes cluster or Grafana needed): every alert has a firing and a quiet unit
//!   test and a runbook section, the Kubernetes PrometheusRule carries exactly the
//!   shipped rules, the compose stack and the manifests are consistent with each other,
//!   their exporter configs pass `check-config`, the systemd unit is hardened.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common;
use common::files::{arr, read, root, s, yaml};
use common::tools;

const BIN: &str = env!("CARGO_BIN_EXE_allscale-exporter");
const RUNBOOK_BASE: &str =
    "https://github.com/allscale/allscale-exporter/blob/main/docs/runbook.md#";

/// Every document of the multi-document YAML file at `rel`.
fn yaml_docs(rel: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// True when every tool is installed; see [`tools::available`].
fn have_tools(tools: &[&str], what: &str) -> bool {
    tools::available(tools, what)
}

/// `allscale-exporter check-config` on `config` after replacing each of `secret_paths`
/// (the API secret, the registration token) with a real file holding a test value.
fn assert_config_valid(what: &str, config: &str, secret_paths: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config.to_string();
    for (n, secret_path) in secret_paths.iter().enumerate() {
        let secret = dir.path().join(format!("secret{n}"));
        std::fs::write(&secret, "test_secret_0123456789abcdef\n").expect("write secret");
        assert!(
            config.contains(secret_path),
            "{what}: does not read a secret from {secret_path}"
        );
        config = config.replace(secret_path, secret.to_str().expect("utf-8 path"));
    }
    // The state database's directory is the target host's (check-config refuses one it
    // could not create here): a directory of this test's instead.
    let state = dir.path().join("state.db");
    let config = with_state_file(&config, state.to_str().expect("utf-8 path"));
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, config).expect("write config");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&file)
        .output()
        .expect("run check-config");
    assert!(
        out.status.success(),
        "{what}: check-config failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `config` with the value of its `state_file:` line (at any indent) set to `path`.
fn with_state_file(config: &str, path: &str) -> String {
    let lines: Vec<String> = config
        .lines()
        .map(|line| match line.split_once("state_file:") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}state_file: {path}"),
            _ => line.to_owned(),
        })
        .collect();
    lines.join("\n") + "\n"
}

/// The mixin is the one source: the shipped rule files, dashboards and PrometheusRule
/// are what `mixin/generate.py` makes of it (a stale one fails here).
#[test]
fn the_shipped_rules_and_dashboards_are_generated_from_the_mixin() {
    if !have_tools(&["python3", "jsonnet"], "mixin") {
        return;
    }
    let out = Command::new("python3")
        .arg(root().join("mixin/generate.py"))
        .arg("--check")
        .output()
        .expect("python3 mixin/generate.py --check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `_config` overrides reach the rules: a store selector scopes every per-store alert
/// (the exporter's own alerts stay unscoped), a threshold moves, and the result is a
/// valid rule file.
#[test]
fn mixin_config_overrides_scope_and_tune_the_alerts() {
    if !have_tools(&["jsonnet", "promtool"], "mixin") {
        return;
    }
    let rules = mixin_with(
        "{ storeSelector: 'store=~\"eu-.*\"', stuckOnChainSeconds: 3600 }",
        "prometheusAlerts",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.json");
    std::fs::write(&file, rules.to_string()).unwrap();
    let check = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    for rule in arr(&rules["groups"], "groups")
        .iter()
        .flat_map(|g| arr(&g["rules"], "rules"))
    {
        let (name, expr) = (s(rule, "alert", "rule"), s(rule, "expr", "rule"));
        let scoped = expr.contains("allscale_exporter_watched_intents{store=~\"eu-.*\"}");
        assert_eq!(scoped, expr.contains("by (store"), "{name}: {expr}");
        if name == "AllScaleCheckoutIntentStuckOnChain" {
            assert!(
                expr.contains("> 3600") && !expr.contains("> 1800"),
                "{expr}"
            );
            let description = s(&rule["annotations"], "description", name);
            assert!(description.contains("(threshold 1h)"), "{description}");
        }
    }
}

/// `field` of the mixin with `config` merged into its `_config`, as JSON.
fn mixin_with(config: &str, field: &str) -> Value {
    let code = format!("((import 'mixin.libsonnet') + {{ _config+:: {config} }}).{field}");
    let out = Command::new("jsonnet")
        .current_dir(root().join("mixin"))
        .args(["-e", &code])
        .output()
        .expect("jsonnet");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("jsonnet prints JSON")
}

/// `_config` selectors reach the dashboards too: the `job` variable offers only the jobs
/// of `jobSelector`, the `store` variable only the stores of `storeSelector`, and its
/// "All" is those stores (no `.*` that would bring the others back).
#[test]
fn mixin_config_selectors_scope_the_dashboard_variables() {
    if !have_tools(&["jsonnet"], "mixin") {
        return;
    }
    let scoped = mixin_with(
        "{ jobSelector: 'job=\"payments\"', storeSelector: 'store=~\"eu-.*\"' }",
        "grafanaDashboards",
    );
    let default = mixin_with("{}", "grafanaDashboards");
    let dashboards = scoped.as_object().expect("dashboards by file name");
    assert_eq!(dashboards.len(), 2, "{:?}", dashboards.keys());
    for (file, dashboard) in dashboards {
        let variable = |dashboard: &Value, name: &str| -> Value {
            arr(&dashboard["templating"]["list"], file)
                .iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("{file}: no {name} variable"))
                .clone()
        };
        let job = variable(dashboard, "job");
        assert_eq!(
            job["query"]["query"],
            "label_values(allscale_exporter_build_info{job=\"payments\"}, job)",
            "{file}"
        );
        let store = variable(dashboard, "store");
        let query = s(&store["query"], "query", file);
        assert!(
            query.ends_with(",store=~\"eu-.*\"}, store)"),
            "{file}: {query}"
        );
        assert_eq!(store["definition"], query, "{file}");
        assert!(store.get("allValue").is_none(), "{file}: {store}");
        let unscoped = variable(&default[file], "store");
        assert_eq!(unscoped["allValue"], ".*", "{file}");
        assert!(
            !s(&unscoped["query"], "query", file).contains("eu-"),
            "{file}"
        );
    }
}

#[test]
fn end_to_end_with_prometheus_and_alertmanager() {
    let tools = [
        "python3",
        "bash",
        "prometheus",
        "prometheus-alertmanager",
        "promtool",
        "amtool",
    ];
    if !have_tools(&tools, "the end-to-end test (tests/e2e/run.py)") {
        return;
    }
    let started = std::time::Instant::now();
    let out = Command::new("python3")
        .arg(root().join("tests/e2e/run.py"))
        .arg("--exporter")
        .arg(BIN)
        .current_dir(root())
        .output()
        .expect("run python3 tests/e2e/run.py");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "tests/e2e/run.py failed ({}):\n{log}",
        out.status
    );
    println!(
        "{log}\nend-to-end test took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_alert_has_labels_annotations_runbook_and_unit_tests() {
    let alerts = yaml("deploy/prometheus/alerts.yml");
    let runbook = read("docs/runbook.md");
    let headings: BTreeSet<String> = runbook
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_lowercase())
        .collect();

    let mut names = Vec::new();
    for group in arr(&alerts["groups"], "alerts.yml groups") {
        for rule in arr(&group["rules"], "alerts.yml rules") {
            let Some(name) = rule["alert"].as_str() else {
                panic!("alerts.yml holds only alerts (recording rules go to rules.yml): {rule}");
            };
            names.push(name.to_string());
            let severity = s(&rule["labels"], "severity", name);
            assert!(
                ["critical", "warning", "info"].contains(&severity),
                "{name}: severity {severity}"
            );
            for key in ["summary", "description", "runbook_url"] {
                assert!(
                    !s(&rule["annotations"], key, name).trim().is_empty(),
                    "{name}: empty {key}"
                );
            }
            let url = s(&rule["annotations"], "runbook_url", name);
            assert_eq!(
                url,
                format!("{RUNBOOK_BASE}{}", name.to_lowercase()),
                "{name}: runbook_url"
            );
            assert!(
                headings.contains(&name.to_lowercase()),
                "docs/runbook.md has no section {name}"
            );
            let expr = s(rule, "expr", name);
            // The summary is plain (tests/it/monitoring_lint.rs): the description names the store.
            if expr.contains("by (store") {
                let text = s(&rule["annotations"], "description", name);
                assert!(
                    text.contains("$labels.store"),
                    "{name}: the description does not name the store"
                );
            }
        }
    }
    assert!(names.len() >= 15, "only {} alerts", names.len());
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate alert names");

    let tests = yaml("deploy/prometheus/alerts_test.yml");
    let files: Vec<&str> = arr(&tests["rule_files"], "rule_files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        files,
        ["alerts.yml", "rules.yml"],
        "alerts_test.yml must test the shipped files"
    );
    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for test in arr(&tests["tests"], "tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let name = s(case, "alertname", "alert_rule_test").to_string();
            match case["exp_alerts"].as_array() {
                Some(expected) if !expected.is_empty() => {
                    for alert in expected {
                        let labels = &alert["exp_labels"];
                        assert!(
                            labels["severity"].is_string(),
                            "{name}: a firing case without exp_labels.severity"
                        );
                        for key in ["summary", "description", "runbook_url"] {
                            assert!(
                                alert["exp_annotations"][key].is_string(),
                                "{name}: a firing case without exp_annotations.{key}"
                            );
                        }
                    }
                    fires.insert(name);
                }
                _ => {
                    quiet.insert(name);
                }
            }
        }
    }
    for name in &names {
        assert!(
            fires.contains(name),
            "alerts_test.yml: no case where {name} fires"
        );
        assert!(
            quiet.contains(name),
            "alerts_test.yml: no case where {name} must not fire"
        );
    }
    for name in fires.union(&quiet) {
        assert!(
            names.contains(name),
            "alerts_test.yml tests an unknown alert {name}"
        );
    }
}

#[test]
fn prometheusrule_carries_exactly_the_shipped_rules() {
    let rule = yaml("deploy/kubernetes/prometheusrule.yaml");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    let mut groups = arr(
        &yaml("deploy/prometheus/alerts.yml")["groups"],
        "alerts.yml",
    )
    .clone();
    groups.extend(
        arr(&yaml("deploy/prometheus/rules.yml")["groups"], "rules.yml")
            .iter()
            .cloned(),
    );
    assert!(
        rule["spec"]["groups"] == Value::Array(groups),
        "deploy/kubernetes/prometheusrule.yaml is out of date: run python3 deploy/kubernetes/generate-prometheusrule.py"
    );
}

#[test]
fn docker_compose_stack_is_complete_and_consistent() {
    let deploy = root().join("deploy");
    let compose = yaml("deploy/docker-compose.yml");
    let services = compose["services"].as_object().expect("compose services");
    for name in [
        "simulator",
        "allscale-exporter",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(
            services.contains_key(name),
            "docker-compose.yml: no {name} service"
        );
    }
    // Every bind mount comes from the repository: (service, source, target).
    let mut mounts = Vec::new();
    for (name, svc) in services {
        assert!(
            svc["image"].is_string() || svc["build"].is_object(),
            "{name}: no image or build"
        );
        for volume in svc["volumes"].as_array().into_iter().flatten() {
            let spec = volume.as_str().expect("short volume syntax");
            let mut parts = spec.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().expect("volume target"));
            if source.starts_with('.') {
                assert!(
                    deploy.join(source).exists(),
                    "{name}: mounts {source}, which does not exist"
                );
                mounts.push((name.clone(), source.to_string(), target.to_string()));
            }
        }
        for port in svc["ports"].as_array().into_iter().flatten() {
            assert!(
                port.as_str().is_some_and(|p| p.starts_with("127.0.0.1:")),
                "{name}: publish {port} on loopback only"
            );
        }
    }
    let mount = |svc: &str, source: &str| -> String {
        mounts
            .iter()
            .find(|(n, s, _)| n == svc && s == source)
            .unwrap_or_else(|| panic!("{svc} does not mount {source}"))
            .2
            .clone()
    };
    let build = &services["allscale-exporter"]["build"];
    assert!(
        deploy
            .join(s(build, "context", "build"))
            .join(s(build, "dockerfile", "build"))
            .is_file()
    );

    // Simulator: the scenario is valid and mounted where the command reads it.
    let sim_dir = mount("simulator", "./docker/simulator");
    let sim_cmd: Vec<&str> = arr(&services["simulator"]["command"], "simulator command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        sim_cmd.contains(&format!("{sim_dir}/scenario.yaml").as_str()),
        "simulator reads its scenario elsewhere: {sim_cmd:?}"
    );
    let scenario = allscale_exporter::simulator::Scenario::load(
        &deploy.join("docker/simulator/scenario.yaml"),
    )
    .unwrap_or_else(|e| panic!("deploy/docker/simulator/scenario.yaml: {e}"));

    // Exporter: config mounted where the command reads it, secret from the compose secret,
    // the store's key and secret are the simulator's, its intents exist there.
    let exp_dir = mount("allscale-exporter", "./docker/exporter");
    let exp_cmd = services["allscale-exporter"]["command"].to_string();
    assert!(
        exp_cmd.contains(&format!("--config.file={exp_dir}/config.yaml")),
        "exporter command: {exp_cmd}"
    );
    let secret_file = s(
        &compose["secrets"]["allscale_api_secret"],
        "file",
        "compose secret",
    );
    let secret = std::fs::read_to_string(deploy.join(secret_file)).expect("compose secret file");
    let config_text = read("deploy/docker/exporter/config.yaml");
    assert_config_valid(
        "deploy/docker/exporter/config.yaml",
        &config_text,
        &["/run/secrets/allscale_api_secret"],
    );
    let config: Value = serde_saphyr::from_str(&config_text).expect("compose exporter config");
    let store = &config["stores"][0];
    let key = scenario
        .keys
        .iter()
        .find(|k| k.api_key == s(store, "api_key", "store"))
        .expect("the compose store's api_key is a simulator key");
    assert_eq!(
        key.api_secret,
        secret.trim(),
        "the compose secret is not the simulator key's secret"
    );
    let known: BTreeSet<&str> = scenario.intents.iter().map(|i| i.id.as_str()).collect();
    let watched: Vec<&str> = arr(&store["intents"], "intents")
        .iter()
        .map(|i| i.as_str().or_else(|| i["id"].as_str()).expect("intent id"))
        .collect();
    let unknown: Vec<&&str> = watched.iter().filter(|id| !known.contains(**id)).collect();
    assert_eq!(
        unknown.len(),
        1,
        "exactly one watched intent is unknown to the simulator (not_found on purpose): {unknown:?}"
    );
    let sim_url = s(store, "base_url", "store");
    assert!(
        sim_url.starts_with("http://simulator:"),
        "the compose exporter polls {sim_url}"
    );

    // Prometheus: the shipped directory, scraping the exporter service, alerting to the
    // Alertmanager service.
    assert_eq!(mount("prometheus", "./prometheus"), "/etc/prometheus");
    let prom = read("deploy/prometheus/prometheus.yml");
    assert!(
        prom.contains("\"allscale-exporter:9864\""),
        "prometheus.yml does not scrape the compose exporter"
    );
    assert!(
        prom.contains("\"alertmanager:9093\""),
        "prometheus.yml does not alert to the compose Alertmanager"
    );
    assert!(
        prom.contains("job_name: allscale-exporter"),
        "the alerts select job=\"allscale-exporter\""
    );
    assert_eq!(mount("alertmanager", "./alertmanager"), "/etc/alertmanager");

    // Grafana: provisioning mounted, the dashboards provider reads the mounted dashboards,
    // the data source is the compose Prometheus.
    assert_eq!(
        mount("grafana", "./grafana/provisioning"),
        "/etc/grafana/provisioning"
    );
    let dashboards_dir = mount("grafana", "../dashboards");
    let providers = yaml("deploy/grafana/provisioning/dashboards/allscale.yaml");
    assert_eq!(providers["apiVersion"], 1);
    assert_eq!(
        s(&providers["providers"][0]["options"], "path", "provider"),
        dashboards_dir
    );
    let datasources = yaml("deploy/grafana/provisioning/datasources/prometheus.yaml");
    assert_eq!(datasources["apiVersion"], 1);
    let ds = &datasources["datasources"][0];
    assert_eq!(ds["type"], "prometheus");
    assert_eq!(ds["url"], "http://prometheus:9090");
    let home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        .as_str()
        .unwrap_or("");
    assert!(
        home.starts_with(&dashboards_dir),
        "Grafana home dashboard {home} is not a provisioned one"
    );
    let home_file = root()
        .join("dashboards")
        .join(Path::new(home).file_name().expect("file name"));
    assert!(home_file.is_file(), "no {}", home_file.display());
}

#[test]
fn kubernetes_manifests_are_consistent() {
    let dir = root().join("deploy/kubernetes");
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let rel = format!(
                "deploy/kubernetes/{}",
                path.file_name().unwrap().to_string_lossy()
            );
            for doc in yaml_docs(&rel) {
                assert!(
                    doc["apiVersion"].is_string() && doc["kind"].is_string(),
                    "{rel}: apiVersion and kind"
                );
                if doc["kind"] != "Kustomization" {
                    assert!(doc["metadata"]["name"].is_string(), "{rel}: metadata.name");
                }
                docs.push(doc);
            }
        }
    }
    let find = |kind: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes"))
    };
    let (deployment, service, monitor) =
        (find("Deployment"), find("Service"), find("ServiceMonitor"));
    let (configmap, secret, kustomization) =
        (find("ConfigMap"), find("Secret"), find("Kustomization"));
    find("PrometheusRule");

    let spec = &deployment["spec"];
    assert_eq!(
        spec["replicas"], 1,
        "one replica: two would double the API load and the counts"
    );
    assert_eq!(spec["strategy"]["type"], "Recreate");
    let pod = &spec["template"]["spec"];
    let pod_labels = spec["template"]["metadata"]["labels"]
        .as_object()
        .expect("pod labels");
    for (k, v) in spec["selector"]["matchLabels"]
        .as_object()
        .expect("selector")
    {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "the Deployment selector does not match its pods"
        );
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(
        pod["securityContext"]["runAsUser"]
            .as_u64()
            .is_some_and(|u| u > 0),
        "runAsUser must be non-root"
    );
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 9864);
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["port"], port["name"],
            "{probe} port"
        );
    }
    let args = container["args"].to_string();

    // Volumes: the ConfigMap and the Secret, mounted where the config says.
    let volume = |kind: &str| -> (&str, String) {
        let v = arr(&pod["volumes"], "volumes")
            .iter()
            .find(|v| v[kind].is_object())
            .unwrap_or_else(|| panic!("no {kind} volume"));
        let name = s(v, "name", "volume");
        let mount = arr(&container["volumeMounts"], "volumeMounts")
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("volume {name} is not mounted"));
        (name, s(mount, "mountPath", "mount").to_string())
    };
    let (cm_volume, cm_path) = volume("configMap");
    let cm_ref = arr(&pod["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == cm_volume)
        .unwrap();
    assert_eq!(cm_ref["configMap"]["name"], configmap["metadata"]["name"]);
    assert!(
        args.contains(&format!("--config.file={cm_path}/config.yaml")),
        "args {args} vs ConfigMap at {cm_path}"
    );
    let (secret_volume, secret_path) = volume("secret");
    let secret_ref = arr(&pod["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == secret_volume)
        .unwrap();
    assert_eq!(
        secret_ref["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    // Every key of the Secret (the API secret, the registration token) is a file the
    // config reads.
    let secret_files: Vec<String> = secret["stringData"]
        .as_object()
        .expect("stringData")
        .keys()
        .map(|key| format!("{secret_path}/{key}"))
        .collect();
    let secret_files: Vec<&str> = secret_files.iter().map(String::as_str).collect();
    let config = s(&configmap["data"], "config.yaml", "ConfigMap");
    assert_config_valid("the ConfigMap's config.yaml", config, &secret_files);
    assert!(
        arr(&container["volumeMounts"], "volumeMounts")
            .iter()
            .any(|m| m["mountPath"] == "/var/lib/allscale-exporter"),
        "the state_file directory must be a writable volume (read-only root filesystem)"
    );

    // Service and ServiceMonitor: the Service's name is the `job` the alerts select.
    assert_eq!(service["metadata"]["name"], "allscale-exporter");
    for (k, v) in service["spec"]["selector"]
        .as_object()
        .expect("service selector")
    {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "the Service does not select the pods"
        );
    }
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let service_labels = service["metadata"]["labels"]
        .as_object()
        .expect("service labels");
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("monitor selector")
    {
        assert_eq!(
            service_labels.get(k),
            Some(v),
            "the ServiceMonitor does not select the Service"
        );
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");

    // Kustomization: everything but the Secret example.
    let resources: Vec<&str> = arr(&kustomization["resources"], "resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for r in &resources {
        assert!(
            dir.join(r).is_file(),
            "kustomization.yaml lists missing {r}"
        );
    }
    for r in [
        "configmap.yaml",
        "deployment.yaml",
        "pvc.yaml",
        "service.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
    ] {
        assert!(
            resources.contains(&r),
            "kustomization.yaml does not list {r}"
        );
    }
    assert!(
        !resources.contains(&"secret.example.yaml"),
        "the Secret example must not be applied"
    );
    if tools::available(&["kubectl"], "rendering the kustomize trees") {
        // The base, and the sharded overlay beside it (the StatefulSet instead of the
        // Deployment).
        for (overlay, kinds) in [
            (dir.clone(), "Deployment"),
            (root().join("deploy/kubernetes-sharded"), "StatefulSet"),
        ] {
            let out = Command::new("kubectl")
                .arg("kustomize")
                .arg(&overlay)
                .output()
                .expect("kubectl kustomize");
            assert!(
                out.status.success(),
                "kubectl kustomize {}: {}",
                overlay.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let rendered = String::from_utf8_lossy(&out.stdout);
            let workloads: Vec<&str> = rendered
                .lines()
                .filter_map(|l| l.strip_prefix("kind: "))
                .filter(|k| ["Deployment", "StatefulSet"].contains(k))
                .collect();
            assert_eq!(workloads, [kinds], "{}", overlay.display());
        }
    }
}

#[test]
fn systemd_unit_is_hardened_and_reads_its_secret_as_a_credential() {
    let unit = read("deploy/systemd/allscale-exporter.service");
    for line in [
        "ExecStart=/usr/local/bin/allscale-exporter \\",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=api-secret:/etc/allscale-exporter/api-secret",
        "DynamicUser=yes",
        "StateDirectory=allscale-exporter",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "LimitNOFILE=65536",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "the systemd unit lacks `{line}`"
        );
    }
    assert!(
        unit.contains("api_secret_file: /run/credentials/allscale-exporter.service/api-secret"),
        "the unit must document where the config finds the credential"
    );
    if tools::available(&["systemd-analyze"], "systemd-analyze verify") {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("allscale-exporter.service");
        std::fs::write(&copy, unit.replace("/usr/local/bin/allscale-exporter", BIN))
            .expect("write unit");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let findings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("allscale-exporter.service"))
            .collect();
        assert!(
            out.status.success() && findings.is_empty(),
            "systemd-analyze verify:\n{stderr}"
        );
    }
}

#[test]
fn dockerfile_builds_a_small_non_root_image_with_a_healthcheck() {
    let dockerfile = read("deploy/docker/Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: a builder and a runtime stage");
    assert!(
        froms[0].starts_with("FROM rust:${RUST_VERSION}-bookworm AS builder"),
        "{}",
        froms[0]
    );
    assert!(dockerfile.contains("ARG RUST_VERSION=1.95"));
    assert_eq!(
        froms[1], "FROM debian:bookworm-slim",
        "runtime on the builder's Debian release (glibc)"
    );
    let runtime = dockerfile
        .split("FROM debian:bookworm-slim")
        .nth(1)
        .expect("runtime stage");
    let user = runtime
        .lines()
        .find(|l| l.starts_with("USER "))
        .expect("USER in the runtime stage");
    assert!(
        user.trim() == "USER 65532:65532",
        "numeric non-root user: {user}"
    );
    assert!(
        runtime.contains("HEALTHCHECK") && runtime.contains("/healthz"),
        "HEALTHCHECK on /healthz"
    );
    assert!(runtime.contains("EXPOSE 9864"));
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/allscale-exporter\"]"));
    assert!(
        !runtime.contains("apt-get install"),
        "the runtime image installs nothing"
    );
    let ignore = read("deploy/docker/Dockerfile.dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        "the build context must leave out target/"
    );
    assert!(
        !ignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == ".git"),
        ".git is needed for the revision"
    );
}
