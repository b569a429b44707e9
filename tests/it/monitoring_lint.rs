//! Issue #16: the alert rules and dashboards hold to the rules of the monitoring-mixin
//! linter (`mixtool lint`) and of Grafana's dashboard-linter. Neither installs here, so
//! their documented rules are encoded below, each test named for the rule it enforces
//! (the list, with sources: docs/operations.md#lint-rules-for-the-alerts-and-dashboards).
//! Exceptions to dashboard rules live in `dashboards/.lint`, the linter's own file, each
//! with its reason.

use crate::common;

use std::collections::BTreeSet;

use common::files::{arr, read, s, yaml};
use serde_json::Value;

const DASHBOARDS: [&str; 2] = [
    "dashboards/allscale-checkout.json",
    "dashboards/allscale-exporter-health.json",
];

/// Every alerting rule of the shipped alerts file.
fn alerts() -> Vec<Value> {
    let file = yaml("deploy/prometheus/alerts.yml");
    arr(&file["groups"], "groups")
        .iter()
        .flat_map(|g| arr(&g["rules"], "rules").clone())
        .collect()
}

fn dashboards() -> Vec<Value> {
    DASHBOARDS
        .iter()
        .map(|p| serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect()
}

/// The panels of a dashboard, rows left out.
fn panels(d: &Value) -> Vec<&Value> {
    arr(&d["panels"], "panels")
        .iter()
        .filter(|p| p["type"] != "row")
        .collect()
}

/// `(dashboard title, panel title)` pairs excluded from `rule` by `dashboards/.lint`.
fn excluded(rule: &str) -> BTreeSet<(String, String)> {
    let lint = yaml("dashboards/.lint");
    let Some(rule) = lint["exclusions"].get(rule) else {
        return BTreeSet::new();
    };
    assert!(
        rule["reason"]
            .as_str()
            .is_some_and(|r| !r.trim().is_empty()),
        "dashboards/.lint: an exclusion without a reason: {rule}"
    );
    arr(&rule["entries"], "entries")
        .iter()
        .map(|e| {
            (
                s(e, "dashboard", "entry").into(),
                s(e, "panel", "entry").into(),
            )
        })
        .collect()
}

/// Every PromQL expression of the dashboard's panels, with the panel's title; checked
/// by `check` unless `rule` excludes the panel.
fn each_target(rule: &str, mut check: impl FnMut(&str, &str, &str)) {
    let skip = excluded(rule);
    for d in dashboards() {
        let title = s(&d, "title", "dashboard").to_string();
        for p in panels(&d) {
            let panel = s(p, "title", "panel");
            if skip.contains(&(title.clone(), panel.to_string())) {
                continue;
            }
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    check(&title, panel, expr);
                }
            }
        }
    }
}

/// Every selector `name{...}` of an expression (not inside strings of label values),
/// as `(metric, matchers)`.
fn selectors(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || b"_:".contains(&bytes[i])) {
            i += 1;
        }
        let name = &expr[start..i];
        if i < bytes.len() && bytes[i] == b'{' && !name.is_empty() {
            let end = expr[i..].find('}').map_or(expr.len(), |e| i + e);
            out.push((name.to_string(), expr[i + 1..end].to_string()));
            i = end;
        }
        i += 1;
    }
    out
}

/// The function whose call encloses byte `at` of `expr` (innermost), if any.
fn enclosing_call(expr: &str, at: usize) -> Option<&str> {
    let mut depth = 0;
    for (i, c) in expr[..at].char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                let head = expr[..i].trim_end();
                let name_start = head
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                return Some(&head[name_start..]);
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

// --- mixtool lint: alerts -------------------------------------------------------------

#[test]
fn mixin_alert_name_is_camel_case() {
    for rule in alerts() {
        let name = s(&rule, "alert", "rule");
        let camel = name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        assert!(camel, "{name}: alert names are CamelCase");
    }
}

#[test]
fn mixin_alert_severity_is_critical_warning_or_info() {
    for rule in alerts() {
        let name = s(&rule, "alert", "rule");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning" | "info")),
            "{name}: severity {severity:?}"
        );
    }
}

#[test]
fn mixin_alert_summary_is_plain_with_a_capital_and_a_final_period() {
    for rule in alerts() {
        let name = s(&rule, "alert", "rule");
        let summary = s(&rule["annotations"], "summary", name);
        assert!(
            !summary.contains("{{"),
            "{name}: templated summary {summary:?}"
        );
        assert!(
            summary.starts_with(|c: char| c.is_uppercase()),
            "{name}: summary {summary:?} does not start with a capital"
        );
        assert!(
            summary.ends_with('.'),
            "{name}: summary {summary:?} has no final period"
        );
    }
}

#[test]
fn mixin_alert_description_is_templated() {
    for rule in alerts() {
        let name = s(&rule, "alert", "rule");
        let description = s(&rule["annotations"], "description", name);
        assert!(
            description.contains("{{"),
            "{name}: the description is not templated"
        );
    }
}

#[test]
fn mixin_alert_has_a_runbook_url() {
    for rule in alerts() {
        let name = s(&rule, "alert", "rule");
        let url = s(&rule["annotations"], "runbook_url", name);
        assert!(url.starts_with("https://"), "{name}: runbook_url {url:?}");
    }
}

#[test]
fn mixin_recording_rule_names_are_level_metric_operations() {
    let file = yaml("deploy/prometheus/rules.yml");
    for group in arr(&file["groups"], "groups") {
        for rule in arr(&group["rules"], "rules") {
            let name = s(rule, "record", "recording rule");
            let parts: Vec<&str> = name.split(':').collect();
            assert!(
                parts.len() == 3 && parts.iter().all(|p| !p.is_empty()),
                "{name}: recording rules are named level:metric:operations"
            );
        }
    }
}

// --- dashboard-linter -----------------------------------------------------------------

#[test]
fn dashboard_uid_and_title() {
    for d in dashboards() {
        assert!(
            d["uid"].as_str().is_some_and(|u| !u.is_empty()),
            "a dashboard without uid"
        );
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "a dashboard without title"
        );
    }
}

/// template-datasource-rule, template-job-rule, template-instance-rule.
#[test]
fn dashboard_template_datasource_job_and_instance_rules() {
    for d in dashboards() {
        let title = s(&d, "title", "dashboard");
        let vars = arr(&d["templating"]["list"], "templating");
        let var = |name: &str| vars.iter().find(|v| v["name"] == name);
        let datasource =
            var("datasource").unwrap_or_else(|| panic!("{title}: no datasource variable"));
        assert_eq!(datasource["type"], "datasource", "{title}");
        assert_eq!(datasource["query"], "prometheus", "{title}");
        for name in ["job", "instance"] {
            let v = var(name).unwrap_or_else(|| panic!("{title}: no {name} variable"));
            assert_eq!(v["type"], "query", "{title}: {name}");
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{title}: {name}");
            assert_eq!(v["multi"], true, "{title}: {name} is multi-value");
            assert_eq!(v["includeAll"], true, "{title}: {name} offers All");
        }
    }
}

/// template-label-promql-rule: query variables are `label_values(selector, label)`.
#[test]
fn dashboard_template_label_promql_rule() {
    for d in dashboards() {
        for v in arr(&d["templating"]["list"], "templating") {
            if v["type"] != "query" {
                continue;
            }
            let query = v["query"]["query"]
                .as_str()
                .or(v["query"].as_str())
                .unwrap_or("");
            let ok = query.starts_with("label_values(") && query.ends_with(')');
            assert!(ok, "{}: variable {}: {query:?}", d["title"], v["name"]);
        }
    }
}

/// panel-datasource-rule, panel-title-description-rule, panel-units-rule.
#[test]
fn dashboard_panel_datasource_title_description_and_units_rules() {
    for d in dashboards() {
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{}: a panel without title", d["title"]);
            let description = p["description"].as_str().unwrap_or("");
            assert!(!description.trim().is_empty(), "{title}: no description");
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{title}: datasource"
            );
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(!unit.is_empty(), "{title}: no unit");
        }
    }
}

#[test]
fn dashboard_target_rate_interval_rule() {
    each_target("target-rate-interval-rule", |dashboard, panel, expr| {
        for window in expr.split('[').skip(1).filter_map(|w| w.split(']').next()) {
            assert_eq!(
                window, "$__rate_interval",
                "{dashboard} / {panel}: window [{window}] in {expr}"
            );
        }
    });
}

#[test]
fn dashboard_target_job_and_instance_rules() {
    for (rule, matcher) in [
        ("target-job-rule", "job=~\"$job\""),
        ("target-instance-rule", "instance=~\"$instance\""),
    ] {
        each_target(rule, |dashboard, panel, expr| {
            let found = selectors(expr);
            assert!(
                !found.is_empty(),
                "{dashboard} / {panel}: no selector in {expr}"
            );
            for (metric, matchers) in found {
                assert!(
                    matchers.contains(matcher),
                    "{rule}: {dashboard} / {panel}: {metric} without {matcher}"
                );
            }
        });
    }
}

/// target-counter-agg-rule: a counter is only read through rate(), irate() or increase().
#[test]
fn dashboard_target_counter_agg_rule() {
    each_target("target-counter-agg-rule", |dashboard, panel, expr| {
        for (metric, _) in selectors(expr) {
            let counter = ["_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|s| metric.ends_with(s));
            if !counter {
                continue;
            }
            let at = expr.find(&format!("{metric}{{")).unwrap_or(0);
            let call = enclosing_call(expr, at);
            assert!(
                matches!(call, Some("rate" | "irate" | "increase")),
                "{dashboard} / {panel}: counter {metric} outside rate/increase ({call:?})"
            );
        }
    });
}

/// The checks above catch what they claim to catch.
#[test]
fn the_promql_helpers_find_selectors_and_calls() {
    let expr = r#"sum by (s) (rate(a_total{job=~"$job"}[5m])) / b{x="{"}"#;
    let found = selectors(expr);
    assert_eq!(
        found[0],
        ("a_total".to_string(), "job=~\"$job\"".to_string())
    );
    assert_eq!(found[1].0, "b");
    let at = expr.find("a_total").unwrap();
    assert_eq!(enclosing_call(expr, at), Some("rate"));
    assert_eq!(enclosing_call("sum(x_total)", 4), Some("sum"));
    assert_eq!(enclosing_call("x_total", 0), None);
}
