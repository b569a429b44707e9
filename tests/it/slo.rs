//! Issue #25 point 2: the SLO files for teams that run an SLO tool, `deploy/slo/sloth.yml`
//! and `deploy/slo/pyrra.yaml`, hold to those tools' documented formats (neither tool
//! installs here): sloth's `prometheus/v1` spec (`pkg/prometheus/api/v1`) and pyrra's
//! `ServiceLevelObjective` (`kubernetes/api/v1alpha1`, with the checks of its admission
//! webhook). Unknown fields are refused, as both tools' strict decoders do; every query is
//! parsed by promtool; and both describe the same objectives as the mixin's alerts.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Deserialize;

use crate::common::{files, tools};

// --- sloth: prometheus/v1 ----------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothSpec {
    version: String,
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    slos: Vec<SlothSlo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothSlo {
    name: String,
    objective: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SlothSli,
    alerting: SlothAlerting,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothSli {
    raw: Option<SlothRaw>,
    events: Option<SlothEvents>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothRaw {
    #[allow(dead_code)]
    error_ratio_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothEvents {
    error_query: String,
    total_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothAlerting {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    page_alert: Option<SlothAlert>,
    ticket_alert: Option<SlothAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothAlert {
    #[serde(default)]
    disable: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    annotations: BTreeMap<String, String>,
}

// --- pyrra: pyrra.dev/v1alpha1 ServiceLevelObjective ------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PyrraObject {
    api_version: String,
    kind: String,
    metadata: PyrraMetadata,
    spec: PyrraSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PyrraMetadata {
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PyrraSpec {
    #[serde(default)]
    description: String,
    target: String,
    window: String,
    indicator: PyrraIndicator,
    #[serde(default)]
    alerting: PyrraAlerting,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PyrraIndicator {
    ratio: Option<PyrraRatio>,
    latency: Option<PyrraLatency>,
    latency_native: Option<serde_json::Value>,
    #[serde(rename = "bool_gauge")]
    bool_gauge: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PyrraRatio {
    errors: PyrraQuery,
    total: PyrraQuery,
    #[serde(default)]
    grouping: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PyrraLatency {
    success: PyrraQuery,
    total: PyrraQuery,
    #[serde(default)]
    grouping: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PyrraQuery {
    metric: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PyrraAlerting {
    disabled: Option<bool>,
    burnrates: Option<bool>,
    absent: Option<bool>,
    name: Option<String>,
    absent_name: Option<String>,
}

fn sloth() -> SlothSpec {
    let text = files::read("deploy/slo/sloth.yml");
    let mut docs: Vec<SlothSpec> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("deploy/slo/sloth.yml is not a sloth prometheus/v1 spec: {e}"));
    assert_eq!(docs.len(), 1, "sloth.yml: one spec");
    docs.remove(0)
}

fn pyrra() -> Vec<PyrraObject> {
    let text = files::read("deploy/slo/pyrra.yaml");
    serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("deploy/slo/pyrra.yaml is not pyrra objects: {e}"))
}

/// A Prometheus label name.
fn label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Prometheus duration such as `30d` or `1h30m` (model.ParseDuration).
fn duration(s: &str) -> bool {
    let mut rest = s;
    let mut units = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        let Some(unit) = unit else { return false };
        rest = &rest[unit.len()..];
        units += 1;
    }
    units > 0
}

/// `name{matchers}` split, if `metric` is a plain vector selector.
fn vector_selector(metric: &str) -> Option<(&str, &str)> {
    let (name, rest) = metric.split_once('{')?;
    let matchers = rest.strip_suffix('}')?;
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    plain.then_some((name, matchers))
}

/// promtool parses every expression (as recording rules of a throwaway file).
fn promtool_parses(exprs: &[String]) {
    if !tools::available(&["promtool"], "the PromQL of the SLO files") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"record": format!("slo:check_{i}:ratio"), "expr": e}))
        .collect();
    let file = dir.path().join("rules.yml");
    let doc = serde_json::json!({"groups": [{"name": "slo-check", "rules": rules}]});
    std::fs::write(&file, doc.to_string()).expect("write rules");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool refuses a query of the SLO files: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whitespace-free, to compare one query with its copy inside a longer expression.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect()
}

#[test]
fn the_sloth_spec_holds_to_prometheus_v1() {
    let spec = sloth();
    assert_eq!(spec.version, "prometheus/v1");
    assert!(!spec.service.is_empty(), "sloth.yml: a service");
    assert!(spec.labels.keys().all(|k| label_name(k)));
    assert_eq!(spec.slos.len(), 2, "payment success and time to confirm");
    let mut exprs = Vec::new();
    for slo in &spec.slos {
        let name = &slo.name;
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "sloth.yml: SLO name {name:?}"
        );
        assert!(
            slo.objective > 0.0 && slo.objective <= 100.0,
            "{name}: objective {} outside (0, 100]",
            slo.objective
        );
        assert!(!slo.description.is_empty(), "{name}: a description");
        assert!(slo.labels.keys().all(|k| label_name(k)));
        assert!(slo.sli.raw.is_none(), "{name}: one SLI type");
        let events = slo.sli.events.as_ref().expect("an events SLI");
        for q in [&events.error_query, &events.total_query] {
            assert!(
                q.contains("{{.window}}"),
                "{name}: {q} without {{{{.window}}}}"
            );
            exprs.push(q.replace("{{.window}}", "5m"));
        }
        let alerting = &slo.alerting;
        assert!(!alerting.name.is_empty(), "{name}: an alert name");
        assert!(alerting.labels.keys().all(|k| label_name(k)));
        assert!(alerting.annotations.contains_key("runbook_url"));
        for (kind, alert, severity) in [
            ("page", &alerting.page_alert, "critical"),
            ("ticket", &alerting.ticket_alert, "warning"),
        ] {
            let alert = alert
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: a {kind} alert"));
            assert!(!alert.disable, "{name}: the {kind} alert is on");
            assert_eq!(
                alert.labels.get("severity").map(String::as_str),
                Some(severity)
            );
        }
    }
    promtool_parses(&exprs);
}

#[test]
fn the_pyrra_objects_hold_to_service_level_objective_v1alpha1() {
    let objects = pyrra();
    assert_eq!(objects.len(), 2, "payment success and time to confirm");
    let mut exprs = Vec::new();
    for o in &objects {
        let name = &o.metadata.name;
        assert_eq!(o.api_version, "pyrra.dev/v1alpha1");
        assert_eq!(o.kind, "ServiceLevelObjective");
        assert!(!name.is_empty(), "pyrra.yaml: metadata.name");
        assert!(
            o.metadata
                .namespace
                .as_deref()
                .is_some_and(|n| !n.is_empty())
        );
        assert!(o.metadata.labels.keys().all(|k| !k.is_empty()));
        assert!(!o.spec.description.is_empty(), "{name}: a description");
        let target: f64 = o
            .spec
            .target
            .parse()
            .unwrap_or_else(|e| panic!("{name}: target: {e}"));
        assert!(
            (1.0..=100.0).contains(&target),
            "{name}: target {target} is a percentage (0-100, not 0-1)"
        );
        assert!(duration(&o.spec.window), "{name}: window {}", o.spec.window);
        let a = &o.spec.alerting;
        assert!(a.disabled.is_none() && a.burnrates.is_none() && a.absent.is_none());
        assert!(a.name.as_deref().is_some_and(|n| !n.is_empty()) && a.absent_name.is_none());
        let i = &o.spec.indicator;
        assert!(i.latency_native.is_none() && i.bool_gauge.is_none());
        match (&i.ratio, &i.latency) {
            (Some(ratio), None) => {
                assert_ne!(ratio.errors.metric, ratio.total.metric, "{name}");
                for q in [&ratio.errors, &ratio.total] {
                    assert!(vector_selector(&q.metric).is_some(), "{name}: {}", q.metric);
                    exprs.push(format!("rate({}[5m])", q.metric));
                }
                assert_eq!(ratio.grouping, ["store"]);
            }
            (None, Some(latency)) => {
                let (success, matchers) = vector_selector(&latency.success.metric)
                    .unwrap_or_else(|| panic!("{name}: success is a vector selector"));
                assert!(success.ends_with("_bucket"), "{name}: {success}");
                let le = matchers
                    .split(',')
                    .find_map(|m| m.strip_prefix("le=\""))
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("{name}: success without an le matcher"));
                le.parse::<f64>()
                    .unwrap_or_else(|e| panic!("{name}: le {le:?} is not a number: {e}"));
                let (total, _) = vector_selector(&latency.total.metric)
                    .unwrap_or_else(|| panic!("{name}: total is a vector selector"));
                assert!(total.ends_with("_count"), "{name}: {total}");
                assert_eq!(latency.grouping, ["store"]);
                for q in [&latency.success, &latency.total] {
                    exprs.push(format!("rate({}[5m])", q.metric));
                }
            }
            _ => panic!("{name}: exactly one of ratio or latency"),
        }
    }
    promtool_parses(&exprs);
}

/// The mixin's alerts, the sloth spec and the pyrra objects come from one `_config`: the
/// same objectives, the same queries, the same alert names.
#[test]
fn the_slo_files_describe_the_mixin_objectives() {
    let alerts = files::yaml("deploy/prometheus/alerts.yml");
    let rules: Vec<&serde_json::Value> = alerts["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .collect();
    let spec = sloth();
    let objects = pyrra();
    for (slo, object) in spec.slos.iter().zip(&objects) {
        assert_eq!(
            object.metadata.name,
            format!("allscale-checkout-{}", slo.name)
        );
        assert_eq!(object.spec.target.parse::<f64>().ok(), Some(slo.objective));
        assert_eq!(
            object.spec.alerting.name.as_deref(),
            Some(&*slo.alerting.name)
        );
        let events = slo.sli.events.as_ref().expect("events");
        let fast = format!("{}Fast", slo.alerting.name);
        let rule = rules
            .iter()
            .find(|r| r["alert"] == fast.as_str())
            .unwrap_or_else(|| panic!("alerts.yml: no {fast}"));
        let expr = squeeze(rule["expr"].as_str().expect("expr"));
        for q in [&events.error_query, &events.total_query] {
            let one_hour = squeeze(&q.replace("{{.window}}", "1h"));
            assert!(expr.contains(&one_hour), "{fast} does not use {q}");
        }
        let budget = 1.0 - slo.objective / 100.0;
        let page = format!("{:.6}", 14.4 * budget);
        let page = page.trim_end_matches('0');
        assert!(
            expr.contains(&format!(">{page}and")),
            "{fast}: no threshold 14.4 x {budget} in {expr}"
        );
    }
}

/// The format checks above refuse what the tools refuse.
#[test]
fn the_format_checks_catch_mistakes() {
    let unknown = "---\nversion: prometheus/v1\nservice: s\nslos: []\nlabelz: {}\n";
    assert!(serde_saphyr::from_multiple::<SlothSpec>(unknown).is_err());
    let pyrra_typo = "---\napiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata: {name: x}\nspec: {target: '99', window: 4w, indicator: {ratios: {}}}\n";
    assert!(serde_saphyr::from_multiple::<PyrraObject>(pyrra_typo).is_err());
    assert!(duration("30d") && duration("1h30m") && duration("4w"));
    assert!(!duration("30") && !duration("d") && !duration("30 days") && !duration(""));
    assert_eq!(
        vector_selector("a_bucket{le=\"1\"}"),
        Some(("a_bucket", "le=\"1\""))
    );
    assert_eq!(vector_selector("rate(a[5m])"), None);
    assert!(label_name("slo") && !label_name("9x") && !label_name("a-b"));
}
