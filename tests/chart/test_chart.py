"""Tests of the Helm chart with the real Helm engine (PyPI helm-python-sdk).

Run with `.venv/bin/pytest -q tests/chart` (part of `make test`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "elb-operator"
RELEASE = "elb"
NAMESPACE = "elb-system"
SA_NAME = "elb-elb-operator"
# Every Kubernetes API call the operator makes, as printed by `elb-operator rbac-requirements`
# (a Rust test in tests/ops keeps this file in step with the binary).
API_CALLS = json.loads((Path(__file__).parent / "kube_api_calls.json").read_text())
# Resources that are not namespaced, so they always need a ClusterRole.
CLUSTER_SCOPED = {("", "nodes"), ("", "namespaces"), ("elb.operator.dev", "loadbalancerclasses")}

NON_DEFAULT = {
    "clusterName": "prod-eu-1",
    "allowedRoleArns": ["arn:aws:iam::111111111111:role/elb-*", "arn:aws:iam::222222222222:role/elb"],
    "requireClass": True,
    "region": "eu-west-1",
    "elbEndpoint": "https://elasticloadbalancing.eu-west-1.amazonaws.com",
    "reachabilityCheck": {"enabled": False, "ec2Endpoint": "https://ec2.eu-west-1.amazonaws.com"},
    "watchNamespace": "shop",
    "healthPollInterval": "45s",
    "statusRefresh": "0",
    "resyncInterval": "5m",
    "concurrency": 8,
    "elbClient": {"timeoutSeconds": 2.5, "maxAttempts": 5, "describeRate": 2, "describeBurst": 4, "mutateRate": 0.5,
                  "mutateBurst": 2},
    "logging": {"format": "text", "level": "debug,kube=info"},
    "leaderElection": {"enabled": True, "leaseName": "elb-lock", "leaseDuration": "20s"},
    "shutdownTimeout": "25s",
    "terminationGracePeriodSeconds": 40,
    "httpPort": 9100,
    "replicaCount": 2,
    "shards": 4,
    "podAntiAffinity": "required",
    "extraEnv": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
    "image": {"repository": "registry.example.com/elb-operator", "tag": "9.9.9", "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccount": {"create": True, "name": "elb-sa", "irsaRoleArn": "arn:aws:iam::123456789012:role/elb-operator",
                       "annotations": {"team": "platform"}},
    "podAnnotations": {"prometheus.io/scrape": "true"},
    "podLabels": {"tier": "control"},
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {}},
    "priorityClassName": "system-cluster-critical",
    "serviceMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "5s", "labels": {"release": "prom"}},
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    "revisionHistoryLimit": 3,
    "extraVolumes": [{"name": "ca-bundle", "configMap": {"name": "corporate-ca"}}],
    "extraVolumeMounts": [{"name": "ca-bundle", "mountPath": "/etc/ssl/corporate", "readOnly": True}],
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway"}],
}


# Rendering has no cluster to derive a cluster name from, so tests name one unless they
# test its absence.
BASE = {"clusterName": "test-cluster"}


def render(values: dict | None = None) -> list[dict]:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values={**BASE, **(values or {})}, name=RELEASE, namespace=NAMESPACE)
    docs = []
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def notes(values: dict | None = None) -> str:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values={**BASE, **(values or {})}, name=RELEASE, namespace=NAMESPACE)
    return next(v for k, v in out.items() if k.endswith("NOTES.txt"))


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(docs: list[dict]) -> dict:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return pod["containers"][0]


def args(docs: list[dict]) -> list[str]:
    return container(docs)["args"]


# --- lint, schema, metadata -------------------------------------------------------------


@pytest.mark.parametrize("values", [None, NON_DEFAULT, {"leaderElection": {"enabled": False}}], ids=["default", "custom", "no-le"])
def test_lint_is_strict_clean(values):
    report = helm.lint(CHART, {**BASE, **(values or {})}, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


@pytest.mark.parametrize(
    "bad",
    [
        {"logging": {"format": "xml"}},
        {"clusterNmae": "typo"},
        {"concurrency": 0},
        {"healthPollInterval": "soon"},
        {"serviceAccount": {"irsaRoleArn": "not-an-arn"}},
        {"clusterName": "two words"},
        {"elbClient": {"timeoutSeconds": 0}},
        {"elbClient": {"timeoutSeconds": "10s"}},
        {"elbClient": {"maxAttempts": 0}},
        {"elbClient": {"describeRate": -1}},
        {"elbClient": {"describeBurst": 1.5}},
        {"elbClient": {"mutateRate": "0"}},
        {"elbClient": {"mutateBurst": 0}},
        {"elbClient": {"retries": 3}},
        {"requireClass": "yes"},
        {"image": {"repository": "r", "digest": "latest"}},
        {"image": {"repository": "r", "digest": "sha256:abc"}},
        {"revisionHistoryLimit": -1},
        {"extraVolumes": [{"configMap": {"name": "ca"}}]},
        {"extraVolumeMounts": [{"name": "ca"}]},
        {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}]},
        {"resyncInterval": "1m30"},
        {"leaderElection": {"leaseDuration": "1d"}},
        {"globals": {}},
    ],
)
def test_schema_refuses_invalid_values(bad):
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(chart.merge_values(bad))
        chart.validate_schema(chart.merge_values({}))


def test_app_version_follows_cargo():
    cargo = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]
    with helm.Chart.load(CHART) as chart:
        assert chart.metadata["appVersion"] == cargo
        assert chart.metadata["version"] == cargo


def test_chart_crds_are_the_top_level_crds():
    top = REPO / "crds"
    chart_files = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    with helm.Chart.load(CHART) as chart:
        names = sorted(yaml.safe_load(c["data"])["metadata"]["name"] for c in chart.crds)
    assert names == ["healthchecks.elb.operator.dev", "loadbalancerclasses.elb.operator.dev", "loadbalancers.elb.operator.dev"]
    top_files = {p.name: p.read_bytes() for p in top.glob("*.yaml")}
    assert chart_files.keys() == top_files.keys(), "copy crds/*.yaml into charts/elb-operator/crds/"
    for name in top_files:
        assert chart_files[name] == top_files[name], f"charts/elb-operator/crds/{name} differs from crds/{name}; copy it"


# --- Deployment -------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "custom"])
def test_deployment_is_hardened(values):
    docs = render(values)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    c = container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    assert pod["serviceAccountName"] == (SA_NAME if values is None else "elb-sa")


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "custom"])
def test_probes_hit_the_operator_http_port(values):
    docs = render(values)
    c = container(docs)
    port = c["ports"][0]
    assert port["name"] == "http"
    bind = next(a for a in args(docs) if a.startswith("--http-bind="))
    assert bind == f"--http-bind=0.0.0.0:{port['containerPort']}"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["periodSeconds"] > 0 and c[probe]["failureThreshold"] > 0


def test_defaults_log_json_and_elect_a_leader():
    a = args(render())
    assert a[0] == "run"
    assert "--log-format=json" in a
    assert "--leader-election=true" in a
    assert f"--lease-namespace={NAMESPACE}" in a
    assert "--lease-name=elb-elb-operator" in a
    assert not any(x.startswith(("--watch-namespace", "--elb-endpoint", "--ec2-endpoint")) for x in a)
    assert "--reachability-check=true" in a
    assert "--require-class=false" in a
    env = {e["name"]: e for e in container(render())["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


# Each values key and what it must change in the rendered manifests. A new key in values.yaml
# without a row here fails test_every_values_key_is_covered.
def _dep(docs):
    return one(docs, "Deployment")


VALUE_EFFECTS = {
    "clusterName": lambda d: "--cluster-name=prod-eu-1" in args(d),
    "allowedRoleArns": lambda d: "--allowed-role-arns=arn:aws:iam::111111111111:role/elb-*,arn:aws:iam::222222222222:role/elb" in args(d),
    "requireClass": lambda d: "--require-class=true" in args(d),
    "region": lambda d: "--region=eu-west-1" in args(d),
    "elbEndpoint": lambda d: "--elb-endpoint=https://elasticloadbalancing.eu-west-1.amazonaws.com" in args(d),
    "reachabilityCheck": lambda d: {"--reachability-check=false", "--ec2-endpoint=https://ec2.eu-west-1.amazonaws.com"} <= set(args(d)),
    "watchNamespace": lambda d: "--watch-namespace=shop" in args(d),
    "healthPollInterval": lambda d: "--health-poll-interval=45s" in args(d),
    "statusRefresh": lambda d: "--status-refresh=0" in args(d),
    "resyncInterval": lambda d: "--resync-interval=5m" in args(d),
    "concurrency": lambda d: "--concurrency=8" in args(d),
    "elbClient": lambda d: {"--elb-timeout-seconds=2.5", "--elb-max-attempts=5", "--elb-describe-rate=2",
                            "--elb-describe-burst=4", "--elb-mutate-rate=0.5", "--elb-mutate-burst=2"} <= set(args(d)),
    "logging": lambda d: "--log-format=text" in args(d) and "--log-level=debug,kube=info" in args(d),
    "leaderElection": lambda d: "--lease-name=elb-lock" in args(d) and "--lease-duration=20s" in args(d),
    "shutdownTimeout": lambda d: "--shutdown-timeout=25s" in args(d),
    "terminationGracePeriodSeconds": lambda d: _dep(d)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 40,
    "httpPort": lambda d: "--http-bind=0.0.0.0:9100" in args(d) and container(d)["ports"][0]["containerPort"] == 9100,
    "replicaCount": lambda d: _dep(d)["spec"]["replicas"] == 2,
    "shards": lambda d: "--shards=4" in args(d),
    "extraEnv": lambda d: {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"} in container(d)["env"],
    "image": lambda d: container(d)["image"] == "registry.example.com/elb-operator:9.9.9"
    and container(d)["imagePullPolicy"] == "Always",
    "imagePullSecrets": lambda d: _dep(d)["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}],
    "serviceAccount": lambda d: one(d, "ServiceAccount", "elb-sa")["metadata"]["annotations"]
    == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/elb-operator", "team": "platform"},
    "podAnnotations": lambda d: _dep(d)["spec"]["template"]["metadata"]["annotations"] == {"prometheus.io/scrape": "true"},
    "podLabels": lambda d: _dep(d)["spec"]["template"]["metadata"]["labels"]["tier"] == "control",
    "resources": lambda d: container(d)["resources"]["limits"]["memory"] == "512Mi",
    "nodeSelector": lambda d: _dep(d)["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"},
    "tolerations": lambda d: _dep(d)["spec"]["template"]["spec"]["tolerations"][0]["key"] == "dedicated",
    "affinity": lambda d: "nodeAffinity" in _dep(d)["spec"]["template"]["spec"]["affinity"],
    "priorityClassName": lambda d: _dep(d)["spec"]["template"]["spec"]["priorityClassName"] == "system-cluster-critical",
    "serviceMonitor": lambda d: one(d, "ServiceMonitor")["spec"]["endpoints"][0]["interval"] == "15s"
    and one(d, "ServiceMonitor")["metadata"]["labels"]["release"] == "prom",
    "podDisruptionBudget": lambda d: one(d, "PodDisruptionBudget")["spec"]["minAvailable"] == 1,
    "revisionHistoryLimit": lambda d: _dep(d)["spec"]["revisionHistoryLimit"] == 3,
    "extraVolumes": lambda d: {"name": "ca-bundle", "configMap": {"name": "corporate-ca"}} in _dep(d)["spec"]["template"]["spec"]["volumes"],
    "extraVolumeMounts": lambda d: {"name": "ca-bundle", "mountPath": "/etc/ssl/corporate", "readOnly": True}
    in container(d)["volumeMounts"],
    "topologySpreadConstraints": lambda d: _dep(d)["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"]
    == "topology.kubernetes.io/zone",
}
# Keys checked by other tests, with the test that checks them.
COVERED_ELSEWHERE = {
    "nameOverride": "test_name_overrides",
    "fullnameOverride": "test_name_overrides",
    "rbac": "test_rbac_can_be_left_to_the_user",
    "service": "test_service_monitor_needs_the_service",
    "podSecurityContext": "test_deployment_is_hardened",
    "securityContext": "test_deployment_is_hardened",
    "livenessProbe": "test_probes_hit_the_operator_http_port",
    "readinessProbe": "test_probes_hit_the_operator_http_port",
    "prometheusRule": "test_monitoring.py",
    "grafanaDashboard": "test_monitoring.py",
    # It acts only with replicaCount > 1.
    "podAntiAffinity": "test_several_replicas_get_a_pdb_and_spread_over_nodes",
}


def test_every_values_key_is_covered():
    with helm.Chart.load(CHART) as chart:
        keys = set(chart.values)
    assert keys == set(VALUE_EFFECTS) | set(COVERED_ELSEWHERE)


def holds(check, docs) -> bool:
    """Whether a VALUE_EFFECTS check holds; a missing object or key counts as not holding."""
    try:
        return bool(check(docs))
    except (AssertionError, KeyError, StopIteration, IndexError, TypeError):
        return False


@pytest.mark.parametrize("key", sorted(VALUE_EFFECTS))
def test_each_value_reaches_the_manifests(key):
    assert holds(VALUE_EFFECTS[key], render({key: NON_DEFAULT[key]})), f"{key}={NON_DEFAULT[key]!r} did not reach the manifests"
    assert not holds(VALUE_EFFECTS[key], render()), f"{key}: the check also passes with the default values"


# Each elbClient key, alone, sets its own flag (VALUE_EFFECTS checks them only together).
ELB_CLIENT_FLAGS = {
    "timeoutSeconds": "--elb-timeout-seconds",
    "maxAttempts": "--elb-max-attempts",
    "describeRate": "--elb-describe-rate",
    "describeBurst": "--elb-describe-burst",
    "mutateRate": "--elb-mutate-rate",
    "mutateBurst": "--elb-mutate-burst",
}


def test_elb_client_flags_are_all_covered():
    with helm.Chart.load(CHART) as chart:
        assert set(chart.values["elbClient"]) == set(ELB_CLIENT_FLAGS)


@pytest.mark.parametrize("key", sorted(ELB_CLIENT_FLAGS))
def test_each_elb_client_value_sets_its_flag(key):
    flag = ELB_CLIENT_FLAGS[key]
    value = NON_DEFAULT["elbClient"][key]
    default = [a for a in args(render()) if a.startswith(f"{flag}=")]
    if key == "maxAttempts":
        # No default: the binary then honours AWS_MAX_ATTEMPTS, else 3.
        assert default == [], default
    else:
        assert len(default) == 1 and default != [f"{flag}={value}"], default
    a = args(render({"elbClient": {key: value}}))
    assert f"{flag}={value}" in a
    # The other flags keep their defaults.
    others = {x for x in args(render()) if x.startswith("--elb-") and not x.startswith(f"{flag}=")}
    assert others <= set(a)


def test_elb_client_numbers_given_as_strings_render_unchanged():
    # `helm --set elbClient.mutateRate=0.5` passes a string; the schema accepts a positive decimal.
    values = {"elbClient": {"mutateRate": "0.5", "timeoutSeconds": "30"}}
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(values))
    a = args(render(values))
    assert "--elb-mutate-rate=0.5" in a and "--elb-timeout-seconds=30" in a


def test_shards_default_to_one_leader_and_need_leader_election():
    assert "--shards=1" in args(render())
    with pytest.raises(helm.HelmError, match="needs leaderElection"):
        render({"shards": 2, "leaderElection": {"enabled": False}})
    with helm.Chart.load(CHART) as chart, pytest.raises(Exception):
        chart.validate_schema(chart.merge_values({"shards": 0}))


def test_sharded_rbac_names_every_shard_and_member_lease_and_nothing_more():
    gs = grants(render({"shards": 3, "replicaCount": 3}))
    lease = "elb-elb-operator"
    for i in range(3):
        for name in (f"{lease}-shard-{i}", f"{lease}-member-{i}"):
            assert allowed(gs, "coordination.k8s.io", "leases", "get", NAMESPACE, name)
            assert allowed(gs, "coordination.k8s.io", "leases", "update", NAMESPACE, name)
    for name in (lease, f"{lease}-shard-3", f"{lease}-member-3"):
        assert not allowed(gs, "coordination.k8s.io", "leases", "update", NAMESPACE, name), name
    assert allowed(gs, "coordination.k8s.io", "leases", "create", NAMESPACE)


def test_several_replicas_get_a_pdb_and_spread_over_nodes():
    docs = render()
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert "affinity" not in _dep(docs)["spec"]["template"]["spec"], "one replica: nothing to spread"
    docs = render({"replicaCount": 3, "shards": 6})
    pod = _dep(docs)["spec"]["template"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (term,) = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    required = _dep(render({"replicaCount": 2, "podAntiAffinity": "required"}))["spec"]["template"]["spec"]["affinity"]
    assert required["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0] == term["podAffinityTerm"]
    # The user's own affinity is kept, and their podAntiAffinity wins; both can be turned off.
    mine = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}, "nodeAffinity": {}}
    assert _dep(render({"replicaCount": 3, "affinity": mine}))["spec"]["template"]["spec"]["affinity"] == mine
    docs = render({"replicaCount": 3, "podAntiAffinity": "", "podDisruptionBudget": {"enabled": False}})
    assert "affinity" not in _dep(docs)["spec"]["template"]["spec"]
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def test_leader_election_can_be_turned_off():
    docs = render({"leaderElection": {"enabled": False}})
    a = args(docs)
    assert "--leader-election=false" in a
    assert not any(x.startswith("--lease-") for x in a)
    assert not [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("leader-election")]


@pytest.mark.parametrize("values", [{}, {"replicaCount": 3, "shards": 4}])
def test_rollouts_replace_pods_one_by_one_only_under_leader_election(values):
    # With leader election the Leases keep old and new pods from writing at once.
    assert _dep(render(values))["spec"]["strategy"] == {"type": "RollingUpdate"}
    # Without it nothing does: the old pod stops before the new one starts.
    off = _dep(render({**values, "shards": 1, "leaderElection": {"enabled": False}}))
    assert off["spec"]["strategy"] == {"type": "Recreate"}


def test_leases_can_be_listed_to_see_other_shard_counts():
    for values in ({}, {"replicaCount": 3, "shards": 4}):
        gs = grants(render(values))
        assert allowed(gs, "coordination.k8s.io", "leases", "list", NAMESPACE)
        assert not allowed(gs, "coordination.k8s.io", "leases", "list", "elsewhere")


def test_name_overrides():
    docs = render({"fullnameOverride": "elbop"})
    assert one(docs, "Deployment")["metadata"]["name"] == "elbop"
    docs = render({"nameOverride": "lbop"})
    dep = one(docs, "Deployment")
    assert dep["metadata"]["name"] == "elb-lbop"
    assert dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "lbop"


# --- ServiceAccount and IRSA ------------------------------------------------------------


def test_irsa_annotation_only_when_asked():
    sa = one(render(), "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})
    arn = "arn:aws:iam::123456789012:role/elb-operator"
    sa = one(render({"serviceAccount": {"irsaRoleArn": arn}}), "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn
    assert sa["metadata"]["name"] == SA_NAME


def test_existing_service_account():
    docs = render({"serviceAccount": {"create": False, "name": "preexisting"}})
    assert not [d for d in docs if d["kind"] == "ServiceAccount"]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "preexisting"
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "preexisting", "namespace": NAMESPACE}]


# --- RBAC -------------------------------------------------------------------------------


def grants(docs: list[dict], sa: str = SA_NAME) -> list[dict]:
    """Every permission bound to the operator's ServiceAccount: one entry per
    (role kind, namespace, group, resource, verb, resourceNames)."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs if d["kind"] in ("Role", "ClusterRole")}
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if {"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE} not in b["subjects"]:
            continue
        ref = b["roleRef"]
        role_ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles[(ref["kind"], role_ns, ref["name"])]
        # A ClusterRole bound by a RoleBinding grants only in that namespace.
        where = None if b["kind"] == "ClusterRoleBinding" else b["metadata"]["namespace"]
        for rule in role["rules"]:
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        out.append({"namespace": where, "group": g, "resource": r, "verb": v,
                                    "names": rule.get("resourceNames", [])})
    return out


def allowed(gs: list[dict], group: str, resource: str, verb: str, namespace: str | None, name: str | None = None) -> bool:
    for g in gs:
        if (g["group"], g["resource"], g["verb"]) != (group, resource, verb):
            continue
        if g["namespace"] is not None and g["namespace"] != namespace:
            continue
        if g["names"] and (name is None or name not in g["names"]):
            continue
        return True
    return False


RBAC_CASES = {
    "cluster-wide": ({}, None),
    "one-namespace": ({"watchNamespace": "shop"}, "shop"),
    "no-leader-election": ({"leaderElection": {"enabled": False}}, None),
}


@pytest.mark.parametrize("case", sorted(RBAC_CASES))
def test_rbac_allows_every_api_call_and_nothing_else(case):
    values, watched = RBAC_CASES[case]
    docs = render(values)
    gs = grants(docs)
    leader = values.get("leaderElection", {}).get("enabled", True)
    lease_name = "elb-elb-operator"
    needed = set()
    for call in API_CALLS:
        group, resource = call["group"], call["resource"]
        if call["scope"] == "own" and not leader:
            continue
        for verb in call["verbs"]:
            needed.add((group, resource, verb))
            if (group, resource) in CLUSTER_SCOPED:
                ok = allowed(gs, group, resource, verb, None) and all(
                    g["namespace"] is None for g in gs if (g["group"], g["resource"]) == (group, resource))
            elif call["scope"] == "own":
                # The lease lives in the release namespace; create cannot be limited by name.
                name = None if verb == "create" else lease_name
                ok = allowed(gs, group, resource, verb, NAMESPACE, name)
            elif watched is None:
                ok = allowed(gs, group, resource, verb, "any-namespace")
            else:
                ok = allowed(gs, group, resource, verb, watched) and not allowed(gs, group, resource, verb, "elsewhere")
            assert ok, f"{case}: {verb} {group or 'core'}/{resource} is not allowed (or allowed too widely)"
    granted = {(g["group"], g["resource"], g["verb"]) for g in gs}
    assert granted - needed == set(), f"{case}: rules grant calls the operator never makes"
    assert not any("*" in (g["group"], g["resource"], g["verb"]) for g in gs)
    if watched:
        # The one-namespace install needs no cluster-wide rights beyond the cluster-scoped
        # resources (nodes, namespaces, classes).
        cluster_wide = {(g["group"], g["resource"]) for g in gs if g["namespace"] is None}
        assert cluster_wide == CLUSTER_SCOPED


def test_rbac_can_be_left_to_the_user():
    docs = render({"rbac": {"create": False}})
    assert not [d for d in docs if d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]


def test_rbac_follows_a_renamed_service_account():
    docs = render({"serviceAccount": {"name": "elb-sa"}})
    assert grants(docs, "elb-sa") and not grants(docs, SA_NAME)


# --- extras -----------------------------------------------------------------------------


def test_service_monitor_and_pdb_are_optional_and_select_the_operator_pods():
    docs = render()
    assert not [d for d in docs if d["kind"] in ("ServiceMonitor", "PodDisruptionBudget")]
    docs = render({"serviceMonitor": {"enabled": True}, "podDisruptionBudget": {"enabled": True}, "replicaCount": 2})
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    svc = one(docs, "Service")
    sm = one(docs, "ServiceMonitor")
    pdb = one(docs, "PodDisruptionBudget")
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"] == "http"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_service_monitor_needs_the_service():
    assert not [d for d in render({"service": {"enabled": False}}) if d["kind"] == "Service"]
    with pytest.raises(helm.HelmError):
        render({"service": {"enabled": False}, "serviceMonitor": {"enabled": True}})


def test_notes_say_what_to_apply_next():
    text = notes()
    assert "kubectl apply" in text and "kind: LoadBalancer" in text and "kind: HealthCheck" in text
    assert '"test-cluster"' in text and "was derived" not in text
    custom = notes({"clusterName": "prod", "serviceAccount": {"irsaRoleArn": "arn:aws:iam::123456789012:role/x"}})
    assert "irsaRoleArn is empty" not in custom


def test_without_a_cluster_name_and_no_cluster_to_derive_one_the_chart_refuses():
    # Two clusters with one name would delete each other's ELBs: no shared default.
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmError, match="clusterName is required"):
            chart.render(values={}, name=RELEASE, namespace=NAMESPACE)


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "custom"])
def test_manifests_are_well_formed(values):
    for d in render(values):
        assert d["apiVersion"] and d["kind"] and d["metadata"]["name"]
        if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] in (NAMESPACE, "shop"), d["metadata"]
        assert d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


# --- day-two values ---------------------------------------------------------------------


@pytest.mark.parametrize("duration", ["90", "1m30s", "2h45m", "500ms", "1.5h"])
def test_go_style_durations_pass_the_schema(duration):
    # The binary parses Go durations (cli::parse_duration); the schema must not refuse them.
    values = {"resyncInterval": duration, "healthPollInterval": duration, "shutdownTimeout": duration,
              "leaderElection": {"leaseDuration": duration}}
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(values))
    assert f"--resync-interval={duration}" in args(render(values))


def test_image_digest_replaces_the_tag():
    digest = "sha256:" + "0123456789abcdef" * 4
    with helm.Chart.load(CHART) as chart:
        app_version = chart.metadata["appVersion"]
    assert container(render())["image"] == f"ghcr.io/elb-operator/elb-operator:{app_version}"
    image = container(render({"image": {"repository": "registry.example.com/elb", "tag": "9.9.9", "digest": digest}}))["image"]
    assert image == f"registry.example.com/elb@{digest}"


def test_topology_spread_selects_the_operator_pods_unless_told_otherwise():
    zone = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
    own = {"matchLabels": {"team": "x"}}
    docs = render({"topologySpreadConstraints": [zone, {**zone, "topologyKey": "kubernetes.io/hostname", "labelSelector": own}]})
    dep = _dep(docs)
    constraints = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert constraints[0] == {**zone, "labelSelector": {"matchLabels": dep["spec"]["selector"]["matchLabels"]}}
    assert constraints[1]["labelSelector"] == own
    assert "topologySpreadConstraints" not in _dep(render())["spec"]["template"]["spec"]


def test_extra_volumes_keep_the_writable_tmp():
    docs = render({k: NON_DEFAULT[k] for k in ("extraVolumes", "extraVolumeMounts")})
    assert [v["name"] for v in _dep(docs)["spec"]["template"]["spec"]["volumes"]] == ["tmp", "ca-bundle"]
    assert [m["mountPath"] for m in container(docs)["volumeMounts"]] == ["/tmp", "/etc/ssl/corporate"]


def test_the_chart_works_as_a_subchart_with_global_values(tmp_path):
    # An umbrella chart passes `global` to every subchart, and Helm validates each subchart's
    # values, globals included, against its schema (helm/helm#10392).
    parent = tmp_path / "platform"
    (parent / "charts").mkdir(parents=True)
    shutil.copytree(CHART, parent / "charts" / "elb-operator")
    (parent / "Chart.yaml").write_text("apiVersion: v2\nname: platform\nversion: 1.0.0\n")
    values = {"global": {"imageRegistry": "registry.example.com", "team": "platform"},
              "elb-operator": {"clusterName": "prod-eu-1", "region": "eu-west-1"}}
    with helm.Chart.load(parent) as chart:
        out = chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
    docs = [d for path, text in out.items() if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]
    assert {"--cluster-name=prod-eu-1", "--region=eu-west-1"} <= set(args(docs))
    # The schema still refuses what it should, through the parent too.
    with helm.Chart.load(parent) as chart, pytest.raises(helm.HelmError):
        chart.render(values={**values, "elb-operator": {"clusterName": "prod", "clusterNmae": "typo"}}, name=RELEASE,
                     namespace=NAMESPACE)


def test_kube_version_covers_what_the_crds_use():
    # `reason` and `fieldPath` of x-kubernetes-validations are known to API servers from 1.28
    # (kubernetes/kubernetes#118041); an older server would drop or refuse them.
    def rules(node):
        if isinstance(node, dict):
            yield from node.get("x-kubernetes-validations", [])
            for child in node.values():
                yield from rules(child)
        elif isinstance(node, list):
            for child in node:
                yield from rules(child)

    crds = [yaml.safe_load(p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]
    uses_reason_or_field_path = any("reason" in r or "fieldPath" in r for crd in crds for r in rules(crd))
    with helm.Chart.load(CHART) as chart:
        constraint = chart.metadata["kubeVersion"]
    match = re.fullmatch(r">=\s*1\.(\d+)\.\d+(-0)?", constraint)
    assert match, f"kubeVersion {constraint!r}: expected a single lower bound such as >=1.28.0-0"
    assert uses_reason_or_field_path and int(match.group(1)) >= 28, constraint


def test_chart_readme_values_table_is_current():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "chart-readme.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    readme = (CHART / "README.md").read_text()
    with helm.Chart.load(CHART) as chart:
        schema = chart.schema
    for key in schema["properties"]:
        assert f"| `{key}" in readme, f"{key} is missing from the chart README"
