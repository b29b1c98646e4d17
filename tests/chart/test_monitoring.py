"""The chart's operations content: the PrometheusRule and the Grafana dashboard, rendered by
the real Helm engine, and every metric their expressions use checked against a real scrape of
`/metrics` from the operator binary (the shared build) reconciling a LoadBalancer against
moto and the Kubernetes API stand-in.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from test_chart import CHART, NAMESPACE, REPO, one, render

ALERTS = {
    "ElbOperatorThrottled",
    "ElbOperatorLoadBalancersNotReady",
    "ElbOperatorChangePending",
    "ElbOperatorOrphanedLoadBalancers",
    "ElbOperatorNoLeader",
}
ON = {"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}, "serviceMonitor": {"enabled": True}}
# Labels Prometheus attaches from the scrape target, not the exposition.
TARGET_LABELS = {"namespace", "job", "pod", "instance", "service", "container", "endpoint"}


def rules(docs) -> dict[str, dict]:
    rule = one(docs, "PrometheusRule")
    return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}


def dashboard(docs) -> dict:
    cm = one(docs, "ConfigMap", "elb-elb-operator-dashboard")
    return json.loads(cm["data"]["elb-operator.json"])


def dashboard_exprs(d: dict) -> list[str]:
    return [t["expr"] for p in d["panels"] for t in p.get("targets", [])]


# --- rendering ---------------------------------------------------------------------------


def test_off_by_default():
    kinds = {d["kind"] for d in render()}
    assert "PrometheusRule" not in kinds
    assert not [d for d in render() if d["kind"] == "ConfigMap"]


def test_lint_is_strict_clean_with_rule_and_dashboard():
    report = helm.lint(CHART, ON, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_rule_has_the_alerts_for_this_release():
    docs = render(ON)
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == NAMESPACE
    r = rules(docs)
    assert set(r) == ALERTS
    for name, a in r.items():
        # Scoped to this release's series, as the chart's ServiceMonitor labels them.
        assert f'namespace="{NAMESPACE}", job="elb-elb-operator"' in a["expr"], name
        assert a["labels"]["severity"] in {"info", "warning", "critical"}
        assert a["annotations"]["summary"] and a["annotations"]["description"]
    assert "> 300" in r["ElbOperatorChangePending"]["expr"]
    assert r["ElbOperatorLoadBalancersNotReady"]["for"] == "15m"
    assert 'elb_operator_load_balancers_ready{' in r["ElbOperatorLoadBalancersNotReady"]["expr"]
    assert 'state="False"' in r["ElbOperatorLoadBalancersNotReady"]["expr"]
    assert 'outcome="throttled"' in r["ElbOperatorThrottled"]["expr"]
    assert "> 0.1" in r["ElbOperatorThrottled"]["expr"]
    assert "absent(elb_operator_leader" in r["ElbOperatorNoLeader"]["expr"]
    assert "elb_operator_orphaned_load_balancers" in r["ElbOperatorOrphanedLoadBalancers"]["expr"]


def test_with_shards_the_no_leader_alert_wants_every_shard_held():
    r = rules(render({**ON, "shards": 4, "replicaCount": 3}))
    expr = r["ElbOperatorNoLeader"]["expr"]
    assert expr.startswith(f'sum(elb_operator_shards_held{{namespace="{NAMESPACE}", job="elb-elb-operator"}}) < 4'), expr
    assert "absent(elb_operator_leader" in expr


def test_rule_values():
    docs = render({"prometheusRule": {"enabled": True, "labels": {"release": "prom"}, "alertLabels": {"team": "platform"},
                                      "selector": 'cluster="eu"', "throttledRatio": 0.25,
                                      "disabled": ["ElbOperatorOrphanedLoadBalancers"]}})
    assert one(docs, "PrometheusRule")["metadata"]["labels"]["release"] == "prom"
    r = rules(docs)
    assert set(r) == ALERTS - {"ElbOperatorOrphanedLoadBalancers"}
    assert all(a["labels"]["team"] == "platform" for a in r.values())
    assert all('{cluster="eu"' in a["expr"] and "job=" not in a["expr"] for a in r.values())
    assert "> 0.25" in r["ElbOperatorThrottled"]["expr"]


@pytest.mark.parametrize("bad", [
    {"prometheusRule": {"disabled": ["NoSuchAlert"]}},
    {"prometheusRule": {"throttledRatio": 0}},
    {"prometheusRule": {"severity": "page"}},
    {"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}},
])
def test_schema_refuses_invalid_monitoring_values(bad):
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(chart.merge_values(bad))


def test_dashboard_configmap_for_the_grafana_sidecar():
    docs = render(ON)
    cm = one(docs, "ConfigMap", "elb-elb-operator-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    d = dashboard(docs)
    assert d["uid"] == "elb-operator"
    titles = {p["title"] for p in d["panels"]}
    for want in ["ELB calls by action", "Throttled calls by action", "Reconcile latency (p50, p99)",
                 "Budget use: describe calls", "Budget use: mutating calls", "Health staleness and pending changes",
                 "Instances by state", "LoadBalancers by Ready"]:
        assert want in titles
    exprs = "\n".join(dashboard_exprs(d))
    assert "elb_operator_elb_budget_configured_rate" in exprs and "rate(elb_operator_elb_calls_total" in exprs
    # Every panel queries the selected data source, namespace and job.
    for p in d["panels"]:
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}"
            assert 'namespace=~"$namespace", job=~"$job"' in t["expr"], t["expr"]
    cm = one(render({"grafanaDashboard": {"enabled": True, "namespace": "monitoring", "labels": {"dash": "x"}}}), "ConfigMap")
    assert cm["metadata"]["namespace"] == "monitoring" and cm["metadata"]["labels"]["dash"] == "x"


def test_the_chart_default_image_is_the_released_one():
    """The release workflow pushes ghcr.io/<owner>/elb-operator:<appVersion>; the chart's
    default image is that one."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    text = json.dumps(workflow)
    assert "ghcr.io/${{ needs.meta.outputs.owner }}/elb-operator" in text
    with helm.Chart.load(CHART) as chart:
        app_version = chart.metadata["appVersion"]
        repo = chart.values["image"]["repository"]
        assert chart.metadata["home"] == "https://github.com/elb-operator/elb-operator"
    assert repo == "ghcr.io/elb-operator/elb-operator"
    image = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{repo}:{app_version}"


# --- against a real scrape -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what: str, check, limit: float = 60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def binaries() -> Path:
    """The shared build's binaries: built as `cargo test --workspace` builds them (a no-op after
    it; a plain `cargo build --bin` would resolve other features and compile a second time)."""
    subprocess.run(["cargo", "test", "--workspace", "--no-run", "-q"], cwd=REPO, check=True, capture_output=True)
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                                     check=True, capture_output=True, text=True).stdout)
    triple = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    return Path(meta["target_directory"]) / triple / "debug"


# One LoadBalancer that converges, and one whose ELB name is taken by an ELB the operator does
# not own (a Conflict: a failed reconcile), so the failure counters have samples too.
MANIFEST = """
apiVersion: elb.operator.dev/v1alpha1
kind: HealthCheck
metadata: {name: hc, namespace: default}
spec: {target: "HTTP:8080/health"}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: scraped, namespace: default}
spec:
  availabilityZones: [us-east-1a]
  listeners: [{port: 80, instancePort: 8080, protocol: HTTP}]
  healthCheckRef: {name: hc}
  backends: {instanceIds: [%s]}
---
apiVersion: elb.operator.dev/v1alpha1
kind: LoadBalancer
metadata: {name: taken, namespace: default}
spec:
  loadBalancerName: not-ours
  availabilityZones: [us-east-1a]
  listeners: [{port: 80, instancePort: 8080, protocol: HTTP}]
  backends: {instanceIds: []}
"""

# Families the operator registers (src/telemetry.rs) whose producers are not wired yet, so a
# real scrape cannot show them: prometheus-client leaves a family with no sample out of the
# exposition, HELP and TYPE lines included. Each entry is checked against the registration in
# the source instead, and must leave this list once the scrape shows it.
NOT_YET_PRODUCED = {
    "elb_operator_orphaned_load_balancers": "gauge",
}


@pytest.fixture(scope="module")
def scrape() -> str:
    import boto3

    bins = binaries()
    venv = REPO / ".venv" / "bin"
    procs = []
    with tempfile.TemporaryDirectory(prefix="elb-scrape-") as tmp:
        tmp = Path(tmp)
        logs = []

        def start(name, cmd, env=None):
            log = open(tmp / f"{name}.log", "w")
            logs.append(tmp / f"{name}.log")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))

        try:
            moto_port = free_port()
            start("moto", [str(venv / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
            moto = f"http://127.0.0.1:{moto_port}"
            wait("moto", lambda: urllib.request.urlopen(f"{moto}/moto-api/"))
            kubeconfig = tmp / "kubeconfig"
            start("standin", [str(bins / "kube-standin"), "--port", str(free_port()), "--kubeconfig", str(kubeconfig)])
            kubectl = ["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "cache")]
            wait("the stand-in", lambda: subprocess.run(kubectl + ["get", "--raw", "/version"], capture_output=True).returncode == 0)
            subprocess.run(kubectl + ["apply", "-f", str(REPO / "crds")], check=True, capture_output=True)
            ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                    Placement={"AvailabilityZone": "us-east-1a"})["Instances"][0]["InstanceId"]
            elb = boto3.client("elb", region_name="us-east-1", endpoint_url=moto,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            elb.create_load_balancer(LoadBalancerName="not-ours", AvailabilityZones=["us-east-1a"],
                                     Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}])
            subprocess.run(kubectl + ["apply", "-f", "-"], input=MANIFEST % iid, text=True, check=True, capture_output=True)
            port = free_port()
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "KUBECONFIG": str(kubeconfig),
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": moto,
                   "AWS_EC2_METADATA_DISABLED": "true", "POD_NAME": "scrape-test"}
            start("operator", [str(bins / "elb-operator"), "run", "--region=us-east-1", "--cluster-name=scrape",
                               "--health-poll-interval=1s", "--log-format=text", f"--http-bind=127.0.0.1:{port}"], env)
            subprocess.run(kubectl + ["wait", "--for=condition=Ready", "loadbalancer/scraped", "--timeout=90s"],
                           check=True, capture_output=True)

            def metrics() -> str:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()

            # Instance health arrives with the first health poll after Ready.
            wait("instance health in /metrics", lambda: 'elb_operator_instances{state="InService"} 1' in metrics(), 30)
            wait("the conflict in /metrics", lambda: 'error="conflict"' in metrics(), 30)
            yield metrics()
        except BaseException:
            for log in logs:
                print(f"==== {log.name} ====\n{log.read_text()[-4000:]}")
            raise
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""], "unknown": [""]}


def registered_in_source() -> dict[str, str]:
    """Names of the families registered in src/telemetry.rs."""
    src = (REPO / "src" / "telemetry.rs").read_text()
    return {f"elb_operator_{m}": "" for m in re.findall(r'register\(\s*"(\w+)"', src)}


def exposition(text: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(series name -> family type, series name -> label names seen in samples); families in
    NOT_YET_PRODUCED count when src/telemetry.rs registers them."""
    types: dict[str, str] = {}
    registered = registered_in_source()
    for family, kind in NOT_YET_PRODUCED.items():
        if family in registered:
            types[family] = kind
    for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
        family, kind = m.groups()
        for suffix in SUFFIXES.get(kind, [""]):
            types[family + suffix] = kind
    labels: dict[str, set[str]] = {}
    for m in re.finditer(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? ", text, re.M):
        name, body = m.groups()
        labels.setdefault(name, set()).update(re.findall(r'(\w+)="', body or ""))
    return types, labels


def used_metrics(expr: str) -> list[str]:
    return re.findall(r"\belb_operator_\w+", expr)


def check_expr(expr: str, types: dict, labels: dict) -> list[str]:
    problems = []
    names = used_metrics(expr)
    assert names, expr
    for name in names:
        if name not in types:
            problems.append(f"{name} is not exported (in {expr})")
    # Label names in matchers and by (...) must be labels of the series, where samples show them.
    known = set().union(*(labels.get(n, set()) for n in names)) | TARGET_LABELS | {"le"}
    sampled = all(labels.get(n) for n in names)
    for name, body in re.findall(r"\b(elb_operator_\w+)\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body):
            if labels.get(name) and label not in labels[name] | TARGET_LABELS:
                problems.append(f"{name} has no label {label} (in {expr})")
    if sampled:
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            for label in [x.strip() for x in group.split(",") if x.strip()]:
                if label not in known:
                    problems.append(f"by ({label}): no such label on {names} (in {expr})")
    return problems


def test_families_not_yet_produced_are_still_absent_from_the_scrape(scrape):
    """When a producer lands, its family shows up in the scrape: take it off NOT_YET_PRODUCED
    so its names and labels are checked against the real exposition."""
    present = {f for f in NOT_YET_PRODUCED if re.search(rf"^# TYPE {f} ", scrape, re.M)}
    assert present == set(), f"now in the scrape, remove from NOT_YET_PRODUCED: {present}"
    assert set(NOT_YET_PRODUCED) <= set(registered_in_source())


def test_the_scrape_is_the_operators(scrape):
    types, labels = exposition(scrape)
    assert types["elb_operator_reconcile_runs_total"] == "counter"
    assert 'action="CreateLoadBalancer"' in scrape
    assert "action" in labels["elb_operator_elb_calls_total"] and "outcome" in labels["elb_operator_elb_calls_total"]


def test_every_alert_expression_uses_exported_metrics(scrape):
    types, labels = exposition(scrape)
    problems = []
    for values in (ON, {**ON, "shards": 4, "replicaCount": 3}):
        for name, a in rules(render(values)).items():
            problems += check_expr(a["expr"], types, labels)
    assert problems == []


def test_every_dashboard_query_uses_exported_metrics(scrape):
    types, labels = exposition(scrape)
    d = dashboard(render(ON))
    problems = []
    for expr in dashboard_exprs(d):
        problems += check_expr(expr, types, labels)
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            problems += check_expr(v["query"]["query"], types, labels)
    assert problems == []


def test_the_check_catches_a_wrong_name(scrape):
    types, labels = exposition(scrape)
    assert check_expr("rate(elb_operator_elb_calls[5m])", types, labels)  # counter without _total
    assert check_expr('sum by (verb) (rate(elb_operator_elb_calls_total[5m]))', types, labels)
    assert check_expr('elb_operator_leader_total', types, labels)
    assert not check_expr('sum by (action) (rate(elb_operator_elb_calls_total{outcome="throttled"}[5m]))', types, labels)


def test_the_leading_operator_reports_leader_1(scrape):
    """ElbOperatorNoLeader relies on it."""
    assert re.search(r"^elb_operator_leader 1$", scrape, re.M), re.findall(r"^elb_operator_leader .*$", scrape, re.M)
