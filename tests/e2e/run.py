#!/usr/bin/env python3
"""End-to-end test of the operator package: the real exporter, its simulator, the real
Prometheus and Alertmanager, the shipped rules and dashboards. Python stdlib only.

    python3 tests/e2e/run.py [--exporter target/debug/allscale-exporter] [--static-only]

`cargo test --test slow e2e::` runs it (tests/slow/e2e.rs). It installs nothing: it needs
`prometheus`, `prometheus-alertmanager`, `promtool` and `amtool` on PATH (Debian packages
`prometheus` and `prometheus-alertmanager`) and `bash`.

Static checks (a few seconds):
  - promtool check config / check rules / test rules on deploy/prometheus/;
  - amtool check-config and the severity routing of deploy/alertmanager/alertmanager.yml;
  - deploy/kubernetes/prometheusrule.yaml is what the generator makes from the rule files,
    and its spec passes promtool check rules;
  - every alert has severity, summary, description and a runbook_url whose anchor is a
    heading of docs/runbook.md;
  - every dashboard: a datasource variable, panels on it, a unit and a description on
    every panel, and no fixed window in any range selector ($__rate_interval, or
    $__range for "in the time range" stats).

The stack (about 80 s, dominated by the 1 minute `for:` of AllScaleExporterDown):
  simulator (tests/e2e/scenario.yaml) <- exporter (poll_interval 1s) <- Prometheus
  (1 s scrapes and evaluations, the shipped alerts.yml and rules.yml unchanged) ->
  Alertmanager (group_wait 1 s) -> a webhook receiver in this script.
  0. the exporter starts first, and Prometheus only once the exporter's /metrics counts
     the rejected outcome: Prometheus's first sample of that counter is 1, so increase()
     never sees it and only the per-intent series can page. The failed and underpaid
     outcomes come after Prometheus's first scrapes, which see their counters at 0;
  1. the failed, underpaid and rejected alerts fire in Prometheus and reach the webhook
     within 30 s of the outcome (the exporter's status-change timestamp), with the intent
     id in the description; meanwhile no exporter-down/absent alert, pending or firing,
     and no firing alert other than those three. Prometheus's first samples of the
     counters were 0 for failed and underpaid (the increase() path) and 1 for rejected
     (the per-intent path);
  2. every rule of the shipped files evaluates without error, and names only metrics the
     exporter exports (from a real scrape) or `up`;
  3. the Dockerfile's HEALTHCHECK command succeeds against the running exporter;
  4. every dashboard query, template variables substituted, succeeds on that
     Prometheus, names only exported metrics, recording rules or Prometheus' own
     per-target series, and every panel gets data; every template variable query
     finds values;
  5. the exporter is stopped: AllScaleExporterDown fires (after its shipped `for: 1m`)
     and reaches the webhook.
All processes listen on 127.0.0.1 and are stopped on exit, whatever happens.
"""
import argparse
import http.server
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
E2E = ROOT / "tests" / "e2e"
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_BASE = "https://github.com/allscale/allscale-exporter/blob/main/docs/runbook.md#"

API_SECRET = "st_e2e_secret_not_a_real_one"  # the scenario's (made-up) test secret
STORE = "e2e"
FAILED_INTENT = "65f0e2e0000000000000f001"
UNDERPAID_INTENT = "65f0e2e0000000000000f002"
REJECTED_INTENT = "65f0e2e0000000000000f007"
TOOLS = ["prometheus", "prometheus-alertmanager", "promtool", "amtool", "bash"]

# Per-target series Prometheus adds itself; dashboards may use them.
PROMETHEUS_SYNTHETIC = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
# Exported only by replicas sharing a state_database (docs/replicas.md), which this test
# does not run: the rules that name them are checked by promtool (alerts_test.yml).
ONLY_WITH_STATE_DATABASE = {
    "allscale_exporter_state_database_up",
    "allscale_exporter_replica_partitions_held",
    "allscale_exporter_replicas_live",
}
# How dashboard-only variables are substituted when queries are run here.
BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
ALLOWED_WINDOWS = re.compile(r"^\$(\{__rate_interval\}|__rate_interval|\{__range\}|__range)$")

START = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ----------------------------------------------------------------------------- helpers
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=3.0):
    """(status, body) of a GET; (None, error) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def get_json(url):
    status, body = http_get(url, timeout=10)
    check(status == 200, f"GET {url}: {status} {body[:500]}")
    return json.loads(body)


def wait_until(what, predicate, timeout, interval=0.25):
    """Poll predicate() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Failure:
            raise
        except Exception as e:  # a transient error while a process starts
            value, last = None, e
        if value:
            return value
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def run(cmd, what, expect_ok=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = (proc.stdout + proc.stderr).strip()
    if expect_ok:
        check(proc.returncode == 0, f"{what} failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return proc.returncode, out


def fill(template, **values):
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    check(not re.search(r"@[A-Z_]+@", body), f"{template.name}: unreplaced placeholder")
    return text


class Processes:
    """Children with their logs; all of them are stopped on exit."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}

    def start(self, name, cmd, env=None):
        logfile = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [str(c) for c in cmd], stdout=logfile, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=self.workdir,
        )
        self.procs[name] = (proc, logfile)
        return proc

    def alive(self, name):
        proc, _ = self.procs[name]
        check(proc.poll() is None, f"{name} exited early with {proc.returncode}:\n{self.tail(name)}")

    def stop(self, name, sig=signal.SIGTERM, timeout=10):
        proc, logfile = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        logfile.close()
        return proc.returncode

    def stop_all(self):
        for name in reversed(list(self.procs)):
            try:
                self.stop(name, timeout=5)
            except Exception as e:  # keep stopping the others
                print(f"stopping {name}: {e}", file=sys.stderr)

    def tail(self, name, lines=40):
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(f"    {line}" for line in text[-lines:])


class Webhook:
    """An Alertmanager webhook receiver: records (arrival time, payload) of every POST."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.received.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def firing(self, alertname):
        """[(arrival, alert)] of firing notifications for alertname."""
        out = []
        with self.lock:
            for at, payload in self.received:
                for alert in payload.get("alerts", []):
                    if alert["labels"].get("alertname") == alertname and alert.get("status") == "firing":
                        out.append((at, alert))
        return out

    def names(self):
        with self.lock:
            return {a["labels"].get("alertname") for _, p in self.received for a in p.get("alerts", [])}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------ PromQL
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan",
}


def metric_names(expr):
    """Metric names a PromQL expression selects (functions, keywords, labels excluded)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    check("__name__" not in s, f"__name__ matchers are not checked, avoid them: {expr}")
    s = re.sub(r"\{[^}]*\}", " ", s)          # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)         # range and subquery windows
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", s):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def exported_metric_names(scrape_text):
    names = set()
    for line in scrape_text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def recording_rule_names():
    return set(re.findall(r"^\s*- record:\s*(\S+)", RULES.read_text(encoding="utf-8"), re.M))


# --------------------------------------------------------------------- static checks
def github_anchors(markdown):
    anchors = set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M):
        slug = m.group(1).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", slug).replace(" ", "-")
        anchors.add(slug)
    anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', markdown))
    return anchors


def check_alert_annotations():
    text = ALERTS.read_text(encoding="utf-8")
    anchors = github_anchors(RUNBOOK.read_text(encoding="utf-8"))
    blocks = re.split(r"^\s*- alert:\s*", text, flags=re.M)[1:]
    check(len(blocks) >= 15, f"only {len(blocks)} alerts in {ALERTS}")
    for block in blocks:
        name = block.split()[0]
        block = re.split(r"^\s*- (?:record|alert):", block, flags=re.M)[0]
        sev = re.search(r"^\s+severity:\s*(\S+)", block, re.M)
        check(sev and sev.group(1) in ("critical", "warning", "info"), f"{name}: severity must be critical, warning or info")
        for key in ("summary", "description", "runbook_url"):
            check(re.search(rf"^\s+{key}:", block, re.M), f"{name}: no {key} annotation")
        url = re.search(r'^\s+runbook_url:\s*"?([^"\s]+)"?', block, re.M).group(1)
        check(url.startswith(RUNBOOK_BASE), f"{name}: runbook_url {url} does not start with {RUNBOOK_BASE}")
        anchor = url[len(RUNBOOK_BASE):]
        check(anchor == name.lower(), f"{name}: runbook anchor should be #{name.lower()}, is #{anchor}")
        check(anchor in anchors, f"{name}: docs/runbook.md has no section #{anchor}")
    return [b.split()[0] for b in blocks]


def check_dashboard_structure(path, dash):
    where = path.name
    check(dash.get("uid") and dash.get("title"), f"{where}: uid and title are required")
    check(dash.get("schemaVersion", 0) >= 36, f"{where}: schemaVersion {dash.get('schemaVersion')} is older than Grafana 9")
    variables = dash.get("templating", {}).get("list", [])
    ds_vars = [v for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    check(ds_vars, f"{where}: no Prometheus datasource variable")
    ds_name = ds_vars[0]["name"]
    ds_refs = {f"${ds_name}", f"${{{ds_name}}}"}
    panels = []
    for p in dash.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))  # collapsed rows keep their panels inside
    ids = [p.get("id") for p in panels]
    check(len(ids) == len(set(ids)), f"{where}: duplicate panel ids")
    n_targets = 0
    for p in panels:
        if p.get("type") == "row":
            continue
        title = f"{where}: panel {p.get('title')!r}"
        check(p.get("description", "").strip(), f"{title} has no description")
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        check(unit, f"{title} has no unit (fieldConfig.defaults.unit)")
        check(p.get("datasource", {}).get("uid") in ds_refs, f"{title}: datasource must be the ${ds_name} variable")
        check(p.get("targets"), f"{title} has no query")
        for t in p["targets"]:
            n_targets += 1
            check(t.get("datasource", {}).get("uid") in ds_refs, f"{title} query {t.get('refId')}: datasource must be ${ds_name}")
            for window in re.findall(r"\[([^\]]*)\]", t["expr"]):
                check(ALLOWED_WINDOWS.match(window.strip()),
                      f"{title} query {t.get('refId')}: fixed window [{window}]; use $__rate_interval "
                      f"(or $__range for a whole-range stat); precompute fixed windows in rules.yml")
    return variables, panels, n_targets


def static_checks(workdir):
    log("static checks: promtool, amtool, generated PrometheusRule, runbook, dashboards")
    run(["promtool", "check", "config", DEPLOY / "prometheus" / "prometheus.yml"], "promtool check config")
    run(["promtool", "check", "rules", ALERTS, RULES], "promtool check rules")
    run(["promtool", "test", "rules", DEPLOY / "prometheus" / "alerts_test.yml"], "promtool test rules")
    am = DEPLOY / "alertmanager" / "alertmanager.yml"
    run(["amtool", "check-config", am], "amtool check-config")
    for labels, want in (
        (["severity=critical", "alertname=AllScaleCheckoutPaymentFailed", "store=main"], "pagerduty,slack"),
        (["severity=warning", "alertname=AllScaleApiRateLimited", "store=main"], "slack"),
        (["severity=info", "alertname=AllScaleCheckoutIntentStuckBeforePayment", "store=main"], "slack"),
    ):
        _, out = run(["amtool", "config", "routes", "test", f"--config.file={am}", *labels], "amtool config routes test")
        got = [line for line in out.splitlines() if not line.startswith("Warning")]
        check(got and got[-1].strip() == want, f"alertmanager.yml routes {labels} to {got}, want {want}")

    gen = DEPLOY / "kubernetes" / "generate-prometheusrule.py"
    run([sys.executable, gen, "--check"], "deploy/kubernetes/prometheusrule.yaml in sync with the rule files")
    spec = (DEPLOY / "kubernetes" / "prometheusrule.yaml").read_text(encoding="utf-8").split("\nspec:\n", 1)[1]
    check(spec.startswith("  groups:\n"), "prometheusrule.yaml: spec must start with groups")
    rules_file = workdir / "prometheusrule-spec.yml"
    rules_file.write_text("\n".join(line[2:] for line in spec.splitlines()) + "\n", encoding="utf-8")
    run(["promtool", "check", "rules", rules_file], "promtool check rules on the PrometheusRule spec")

    alerts = check_alert_annotations()
    dashboards = {}
    for path in DASHBOARDS:
        dash = json.loads(path.read_text(encoding="utf-8"))
        dashboards[path] = (dash, *check_dashboard_structure(path, dash))
    check(len(dashboards) >= 2, "expected two dashboards in dashboards/")
    checkout = json.loads((ROOT / "dashboards" / "allscale-checkout.json").read_text(encoding="utf-8"))
    check(any(v["name"] == "store" for v in checkout["templating"]["list"]), "allscale-checkout.json: no store variable")
    log(f"static checks ok: {len(alerts)} alerts, {len(dashboards)} dashboards with "
        f"{sum(d[3] for d in dashboards.values())} queries")
    return alerts, dashboards


# ---------------------------------------------------------------------------- the stack
class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=10)
        check(status is not None, f"Prometheus did not answer {path}: {body}")
        data = json.loads(body)
        return status, data

    def alerts(self):
        status, data = self.api("alerts")
        check(status == 200 and data["status"] == "success", f"/api/v1/alerts: {data}")
        return data["data"]["alerts"]

    def query(self, expr, at):
        return self.api("query", query=expr, time=f"{at:.3f}")


def substitute(expr, values):
    def rep(m):
        name = m.group(1) or m.group(3) or m.group(4)
        check(name in values, f"undefined template variable ${name} in {expr!r}")
        return values[name]
    return re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]", rep, expr)


def variable_values(prom, variables, at):
    """Template variable -> the value Grafana would substitute with `All` selected."""
    values = dict(BUILTIN_VARIABLES)
    for v in variables:
        name, kind = v["name"], v.get("type")
        if kind == "datasource":
            continue  # only used as a panel datasource, checked in the static checks
        if kind in ("textbox", "constant", "custom"):
            values[name] = str(v.get("current", {}).get("value") or v.get("query"))
            continue
        check(kind == "query", f"variable {name}: unsupported type {kind}")
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
        check(m, f"variable {name}: only label_values(selector, label) is checked, got {query!r}")
        selector = substitute(m.group(1), values)
        status, data = prom.api("series", **{"match[]": selector, "start": f"{at - 60:.3f}", "end": f"{at:.3f}"})
        check(status == 200 and data["status"] == "success", f"variable {name}: {selector}: {data}")
        found = sorted({s[m.group(2)] for s in data["data"] if m.group(2) in s})
        check(found, f"variable {name}: label_values({selector}, {m.group(2)}) found no values")
        if v.get("includeAll") and v.get("allValue"):
            values[name] = v["allValue"]
        elif v.get("includeAll"):
            # As Grafana's Prometheus data source does: regex metacharacters escaped with
            # a backslash, itself escaped inside the PromQL string literal.
            values[name] = "(" + "|".join(re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", x) for x in found) + ")"
        else:
            values[name] = found[0]
    return values


def check_dashboard_queries(prom, dashboards, allowed, at):
    total = 0
    for path, (dash, variables, panels, _) in dashboards.items():
        values = variable_values(prom, variables, at)
        empty_panels = []
        for p in panels:
            if p.get("type") == "row":
                continue
            got_data = False
            for t in p["targets"]:
                expr = substitute(t["expr"], values)
                where = f"{path.name}: panel {p['title']!r} query {t['refId']}"
                unknown = metric_names(expr) - allowed
                check(not unknown, f"{where} names metrics the exporter does not export: {sorted(unknown)}\n  {expr}")
                if t.get("instant"):
                    status, data = prom.query(expr, at)
                else:
                    status, data = prom.api("query_range", query=expr, start=f"{at - 30:.3f}", end=f"{at:.3f}", step="1")
                check(status == 200 and data.get("status") == "success",
                      f"{where} failed on Prometheus: {data.get('errorType')}: {data.get('error')}\n  {expr}")
                got_data = got_data or bool(data["data"]["result"])
                total += 1
            if not got_data:
                empty_panels.append(p["title"])
        check(not empty_panels, f"{path.name}: no data for panel(s) {empty_panels} (a wrong label value or metric?)")
    return total


def terminal_counts(exp):
    """outcome -> allscale_checkout_intent_terminal_total of STORE, from the exporter's /metrics."""
    status, text = http_get(f"{exp}/metrics")
    check(status == 200, f"exporter /metrics: {status}")
    pattern = rf'^allscale_checkout_intent_terminal_total\{{store="{STORE}",outcome="(\w+)"\}} (\S+)$'
    return {m.group(1): float(m.group(2)) for m in re.finditer(pattern, text, re.M)}


def healthcheck_command(port):
    """The Dockerfile's HEALTHCHECK CMD (exec form), aimed at `port`."""
    text = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    m = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", text, re.M)
    check(m, "Dockerfile: no HEALTHCHECK ... CMD [exec form]")
    return [arg.replace("9864", str(port)) for arg in json.loads(m.group(1))]


def stack(exporter_bin, workdir, dashboards):
    procs = Processes(workdir)
    webhook = Webhook()
    try:
        return run_stack(exporter_bin, workdir, dashboards, procs, webhook)
    finally:
        procs.stop_all()
        webhook.close()


def run_stack(exporter_bin, workdir, dashboards, procs, webhook):
    sim_port, exp_port, am_port, prom_port = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, ALLSCALE_E2E_API_SECRET=API_SECRET, NO_COLOR="1")

    (workdir / "exporter.yaml").write_text(fill(E2E / "exporter.yaml", SIM_URL=f"http://127.0.0.1:{sim_port}",
                                                STATE_FILE=str(workdir / "state.db"),
                                                FORWARD_URL=f"http://127.0.0.1:{webhook.port}"))
    (workdir / "alertmanager.yml").write_text(fill(E2E / "alertmanager.yml", WEBHOOK_URL=f"http://127.0.0.1:{webhook.port}/alerts"))
    (workdir / "prometheus.yml").write_text(fill(
        E2E / "prometheus.yml", ALERTS=ALERTS, RULES=RULES, AM_PORT=am_port, EXPORTER_PORT=exp_port))
    run(["promtool", "check", "config", workdir / "prometheus.yml"], "promtool check config (test config)")

    log("starting simulator and Alertmanager")
    procs.start("simulator", [exporter_bin, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario", E2E / "scenario.yaml",
                              f"--webhook.url=http://127.0.0.1:{exp_port}/webhooks/allscale"], env=env)
    procs.start("alertmanager", [
        "prometheus-alertmanager", f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=", "--log.level=warn"])
    wait_until("the simulator", lambda: procs.alive("simulator") or http_get(f"http://127.0.0.1:{sim_port}/-/stats")[0] == 200, 15)
    wait_until("Alertmanager /-/ready", lambda: procs.alive("alertmanager") or http_get(f"http://127.0.0.1:{am_port}/-/ready")[0] == 200, 20)

    # The exporter before Prometheus, which starts once the rejected outcome (~1 s after
    # the exporter's first poll) is counted: the counter's first scrape is already 1, the
    # case where only the per-intent series can page. The failed and underpaid outcomes
    # come ~14 s after the first poll, after Prometheus has scraped their counters at 0
    # (checked after phase 1). Prometheus's first evaluations may run before its first
    # scrape and see no `up`: the exporter-absent alert may be pending for a moment.
    log("starting the exporter, then Prometheus once the rejected outcome is counted")
    procs.start("exporter", [exporter_bin, f"--config.file={workdir / 'exporter.yaml'}",
                             f"--web.listen-address=127.0.0.1:{exp_port}", "--log.level=info"], env=env)
    exp = f"http://127.0.0.1:{exp_port}"
    wait_until("the exporter's /healthz", lambda: procs.alive("exporter") or http_get(f"{exp}/healthz")[0] == 200, 15)
    counts = wait_until("the rejected outcome on the exporter's /metrics",
                        lambda: procs.alive("exporter") or (c := terminal_counts(exp)).get("rejected") and c, 15)
    check(counts["failed"] == 0 and counts["underpaid"] == 0,
          f"failed or underpaid counted before Prometheus started ({counts}): the scenario is too fast")
    log(f"rejected outcome counted before Prometheus started: {counts}")
    procs.start("prometheus", [
        "prometheus", f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}",
        "--rules.alert.resend-delay=1s", "--log.level=warn"])
    prom = Prometheus(prom_port)
    wait_until("Prometheus /-/ready", lambda: procs.alive("prometheus") or http_get(f"{prom.base}/-/ready")[0] == 200, 30)
    wait_until("Prometheus to scrape the exporter",
               lambda: prom.query('up{job="allscale-exporter"} == 1', time.time())[1]["data"]["result"], 15)
    wait_until("the start-up's exporter-down alerts to clear", lambda: not [
        a for a in prom.alerts() if a["labels"]["alertname"] in ("AllScaleExporterDown", "AllScaleExporterAbsent")], 15)
    stack_up = time.monotonic()
    log("stack up")

    # The Dockerfile's healthcheck, against the real exporter (and a closed port).
    code, out = run(healthcheck_command(exp_port), "the Dockerfile HEALTHCHECK against the exporter", expect_ok=False)
    check(code == 0, f"the Dockerfile HEALTHCHECK failed against a healthy exporter (exit {code}): {out}")
    code, _ = run(healthcheck_command(free_port()), "the Dockerfile HEALTHCHECK", expect_ok=False)
    check(code != 0, "the Dockerfile HEALTHCHECK succeeds against a closed port")

    # ---- phase 1: outcomes page, through Alertmanager; nothing else fires --------------
    expected = {
        "AllScaleCheckoutPaymentFailed": FAILED_INTENT,
        "AllScaleCheckoutPaymentUnderpaid": UNDERPAID_INTENT,
        "AllScaleCheckoutPaymentRejected": REJECTED_INTENT,
    }
    outcome_at, fired_at, delivered = {}, {}, {}

    def phase1():
        procs.alive("exporter")
        for a in prom.alerts():
            name = a["labels"]["alertname"]
            check(name not in ("AllScaleExporterDown", "AllScaleExporterAbsent"),
                  f"{name} is {a['state']} while the exporter is up")
            check(a["state"] != "firing" or name in expected, f"unexpected firing alert {name}: {a}")
            if a["state"] == "firing" and name in expected and name not in fired_at:
                check(a["labels"].get("store") == STORE, f"{name} has labels {a['labels']}")
                fired_at[name] = time.time()
                log(f"{name} firing in Prometheus")
        down = [n for n in webhook.names() if n not in expected]
        check(not down, f"the webhook received unexpected alerts {down}")
        status, text = http_get(f"{exp}/metrics")
        check(status == 200, f"exporter /metrics: {status}")
        for name, intent in expected.items():
            m = re.search(rf'allscale_checkout_intent_status_change_timestamp_seconds\{{store="{STORE}",intent_id="{intent}"\}} (\S+)', text)
            status_line = re.search(rf'allscale_checkout_intent_status\{{store="{STORE}",intent_id="{intent}"\}} (\S+)', text)
            if name not in outcome_at and m and status_line and float(status_line.group(1)) < 0:
                outcome_at[name] = float(m.group(1))
                log(f"{intent} reached status {status_line.group(1)} (exporter saw it at {outcome_at[name]:.1f})")
            for at, alert in webhook.firing(name):
                if name not in delivered:
                    delivered[name] = at
                    log(f"{name} delivered to the webhook")
                    check(alert["labels"].get("store") == STORE, f"{name} at the webhook: labels {alert['labels']}")
                    desc = alert["annotations"].get("description", "")
                    check(intent in desc, f"{name}: the description does not name intent {intent}: {desc!r}")
                    check(alert["annotations"].get("runbook_url", "").startswith(RUNBOOK_BASE), f"{name}: runbook_url")
        return len(delivered) == len(expected)

    wait_until("the failed, underpaid and rejected alerts at the webhook", phase1, 45, interval=0.5)
    for name in expected:
        check(name in outcome_at, f"the exporter never showed the outcome of {name}")
        lag = delivered[name] - outcome_at[name]
        log(f"{name}: firing {fired_at.get(name, delivered[name]) - outcome_at[name]:.1f}s, "
            f"at the webhook {lag:.1f}s after the outcome")
        check(lag <= 30, f"{name} reached the webhook {lag:.1f}s after the outcome (limit 30s)")

    # Which path paged: Prometheus's first sample of each outcome counter. 0 for failed and
    # underpaid (increase() saw the outcome; anything else and the page above was luck);
    # 1 for rejected (increase() saw nothing, the per-intent series paged).
    for outcome, want in (("failed", "0"), ("underpaid", "0"), ("rejected", "1")):
        _, data = prom.api("query_range", query=f'allscale_checkout_intent_terminal_total{{outcome="{outcome}"}}',
                           start=f"{time.time() - 120:.3f}", end=f"{time.time():.3f}", step="1")
        first = data["data"]["result"][0]["values"][0][1]
        check(first == want, f"the first scraped {outcome} counter was {first}, not {want}: "
              + ("start-up too slow for the scenario" if want == "0" else "the outcome was not counted before the first scrape"))

    # ---- phase 2: rules, dashboards, against live data ---------------------------------
    scrape = http_get(f"{exp}/metrics")[1]
    exported = exported_metric_names(scrape)
    allowed = exported | recording_rule_names() | PROMETHEUS_SYNTHETIC
    time.sleep(max(0.0, 2 - (time.monotonic() - stack_up)))
    status, data = prom.api("rules")
    check(status == 200, f"/api/v1/rules: {data}")
    n_rules = 0
    for group in data["data"]["groups"]:
        for rule in group["rules"]:
            n_rules += 1
            name = rule["name"]
            check(rule.get("health") == "ok", f"rule {name} is {rule.get('health')}: {rule.get('lastError')}")
            unknown = (metric_names(rule["query"]) - exported - recording_rule_names() - {"up"}
                       - ONLY_WITH_STATE_DATABASE)
            check(not unknown, f"rule {name} names metrics the exporter does not export: {sorted(unknown)}")
    check(n_rules >= 20, f"Prometheus loaded only {n_rules} rules")
    log(f"{n_rules} rules loaded, healthy, naming only exported metrics")

    at = time.time()
    n = check_dashboard_queries(prom, dashboards, allowed, at)
    log(f"{n} dashboard queries ok, every panel has data")

    # ---- phase 3: the exporter stops; ExporterDown fires after its `for: 1m` -----------
    code = procs.stop("exporter")
    stopped = time.time()
    log(f"exporter stopped (exit {code}); waiting for AllScaleExporterDown (for: 1m)")

    def exporter_down():
        states = {a["labels"]["alertname"]: a["state"] for a in prom.alerts()}
        return states.get("AllScaleExporterDown") == "firing"

    wait_until("AllScaleExporterDown to fire", exporter_down, 90, interval=1)
    log(f"AllScaleExporterDown firing {time.time() - stopped:.1f}s after the stop")
    wait_until("AllScaleExporterDown at the webhook", lambda: webhook.firing("AllScaleExporterDown"), 15)
    log(f"AllScaleExporterDown delivered {webhook.firing('AllScaleExporterDown')[0][0] - stopped:.1f}s after the stop")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exporter", default=os.environ.get("ALLSCALE_EXPORTER_BIN", ROOT / "target" / "debug" / "allscale-exporter"))
    parser.add_argument("--static-only", action="store_true", help="only the static checks (no processes)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = parser.parse_args()

    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"missing tools: {' '.join(missing)} (Debian packages prometheus, prometheus-alertmanager)", file=sys.stderr)
        return 2
    exporter = pathlib.Path(args.exporter).resolve()
    if not args.static_only and not os.access(exporter, os.X_OK):
        print(f"no exporter binary at {exporter}: cargo build first", file=sys.stderr)
        return 2

    # SIGTERM/SIGINT unwind through the finally blocks, which stop every child.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="allscale-e2e-"))
    ok = False
    try:
        _, dashboards = static_checks(workdir)
        if not args.static_only:
            stack(str(exporter), workdir, dashboards)
        ok = True
        log("e2e: all checks passed")
        return 0
    except Failure as e:
        print(f"\nE2E FAILED: {e}\n", file=sys.stderr)
        for logfile in sorted(workdir.glob("*.log")):
            text = logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
            print(f"--- {logfile.name} (last {len(text)} lines) ---", file=sys.stderr)
            print("\n".join(f"    {line}" for line in text), file=sys.stderr)
        return 1
    finally:
        if args.keep or not ok:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
