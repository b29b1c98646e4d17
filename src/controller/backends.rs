//! Backend resolution (pure): the pods and nodes a LoadBalancer selects, to the EC2
//! instances to register.
//!
//! - A pod counts while it is scheduled (`spec.nodeName`), not terminating (no
//!   `deletionTimestamp`) and ready (its `Ready` condition is True and every container
//!   status is ready).
//! - A node gives its instance through `spec.providerID` = `aws:///<zone>/<instance-id>`.
//!   A node without one is reported, never guessed (a node name is not an instance id).
//! - `nodeSelector` selects Ready nodes directly; an empty selector selects none.
//! - `instanceIds` are registered as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use kube::ResourceExt;

use crate::crd::condition::Status;
use crate::crd::Backends;

/// One instance to register, and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Backend {
    pub zone: Option<String>,
    /// The node backed by this instance, when it came from a node.
    pub node: Option<String>,
}

/// The outcome of resolving a LoadBalancer's backends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Resolved {
    /// Instance id → what is known about it.
    pub instances: BTreeMap<String, Backend>,
    /// Selected nodes (directly or through a counted pod) without an AWS providerID.
    pub nodes_without_instance: BTreeSet<String>,
    /// Nodes that counted pods run on but that the node cache does not know (yet).
    pub unknown_nodes: BTreeSet<String>,
    /// Whether the spec selects anything at all (a selector or static ids).
    pub selects_anything: bool,
    /// Instances from pods or nodes left out because they lack the tags the
    /// LoadBalancerClass requires (reason `InstanceNotAllowed`), with the message.
    pub not_allowed: Option<(BTreeSet<String>, String)>,
}

impl Resolved {
    /// Static instances with their zones, as a spec's `instanceIds` resolve (tests).
    #[cfg(test)]
    pub fn of_instances(ids: &[(&str, Option<&str>)]) -> Resolved {
        Resolved {
            instances: ids.iter().map(|(id, zone)| (id.to_string(), Backend { zone: zone.map(String::from), node: None })).collect(),
            selects_anything: !ids.is_empty(),
            ..Default::default()
        }
    }

    /// The zones of the instances whose zone is known.
    pub fn zones(&self) -> BTreeSet<String> {
        self.instances.values().filter_map(|b| b.zone.clone()).collect()
    }

    /// Instance ids.
    pub fn instance_ids(&self) -> BTreeSet<String> {
        self.instances.keys().cloned().collect()
    }
}

/// A label selector that cannot be parsed (an unknown operator, `In` without values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct SelectorError {
    pub field: &'static str,
    pub message: String,
}

/// Parses `aws:///<zone>/<instance-id>` (also `aws://<zone>/<instance-id>`) into
/// (zone, instance id). Anything else (Fargate, other clouds, empty) is `None`.
pub fn parse_provider_id(provider_id: &str) -> Option<(String, String)> {
    let rest = provider_id.strip_prefix("aws://")?.trim_start_matches('/');
    let mut parts = rest.split('/');
    let (zone, id) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || zone.is_empty() || !is_instance_id(id) {
        return None;
    }
    Some((zone.to_string(), id.to_string()))
}

fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The condition type of the operator's readiness gate (the gates module sets it on pods).
pub const IN_SERVICE: &str = "elb.operator.dev/in-service";

/// Whether a pod opted in.
pub fn has_gate(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).is_some_and(|g| g.iter().any(|g| g.condition_type == IN_SERVICE))
}

/// Whether a pod counts as a backend: scheduled, not terminating, and ready, or ready but
/// for the operator's own readiness gate ([`IN_SERVICE`]), which can only turn True once
/// the pod is registered.
pub fn pod_counts(pod: &Pod) -> bool {
    let scheduled = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    if !scheduled || pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Some(status) = &pod.status else { return false };
    let ready_condition = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && Status::of(&c.status) == Status::True);
    let containers_ready = status.container_statuses.as_ref().is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready));
    let condition = |type_: &str| status.conditions.iter().flatten().any(|c| c.type_ == type_ && Status::of(&c.status) == Status::True);
    let only_our_gate_missing = has_gate(pod)
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.readiness_gates.as_ref())
            .into_iter()
            .flatten()
            .filter(|g| g.condition_type != IN_SERVICE)
            .all(|g| condition(&g.condition_type));
    containers_ready && (ready_condition || only_our_gate_missing)
}

/// Drops from a cached pod what backends and readiness gates never read: containers,
/// volumes, annotations, owner references, addresses, container states. Kept: name,
/// namespace, uid, labels, deletion, `nodeName`, `readinessGates`, the conditions and each
/// container's readiness. A pod is most of the operator's memory at fleet size (about 7 KB
/// each untrimmed).
pub fn trim_pod(pod: &mut Pod) {
    pod.metadata.annotations = None;
    pod.metadata.owner_references = None;
    pod.metadata.managed_fields = None;
    if let Some(spec) = pod.spec.take() {
        pod.spec = Some(PodSpec { node_name: spec.node_name, readiness_gates: spec.readiness_gates, ..Default::default() });
    }
    if let Some(status) = pod.status.take() {
        let ready = |c: ContainerStatus| ContainerStatus { name: c.name, ready: c.ready, ..Default::default() };
        pod.status = Some(PodStatus {
            conditions: status.conditions,
            container_statuses: status.container_statuses.map(|cs| cs.into_iter().map(ready).collect()),
            ..Default::default()
        });
    }
}

/// Whether a node is Ready.
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && Status::of(&c.status) == Status::True))
}

/// A pod selector: the empty selector selects every pod (Kubernetes semantics).
pub fn pod_selector(sel: &LabelSelector) -> Result<Selector, SelectorError> {
    Selector::try_from(sel.clone()).map_err(|e| SelectorError { field: "spec.backends.podSelector", message: e.to_string() })
}

/// A node selector: `None` when empty, because an empty node selector selects no node.
pub fn node_selector(sel: &LabelSelector) -> Result<Option<Selector>, SelectorError> {
    let s = Selector::try_from(sel.clone()).map_err(|e| SelectorError { field: "spec.backends.nodeSelector", message: e.to_string() })?;
    Ok((!s.selects_all()).then_some(s))
}

/// Resolves `backends` for a LoadBalancer in `namespace` against the cached pods and nodes.
pub fn resolve(backends: Option<&Backends>, namespace: &str, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) -> Result<Resolved, SelectorError> {
    let nodes_by_name: BTreeMap<String, &Arc<Node>> = nodes.iter().map(|n| (n.name_any(), n)).collect();
    resolve_among(backends, namespace, pods, |name| nodes_by_name.get(name).map(|n| Arc::clone(n)), nodes)
}

/// [`resolve`] over candidates: `pods` and `nodes` need only include every pod and node the
/// selectors could select (others are checked and left out, as in [`resolve`]); `node`
/// finds a pod's node by name. The caches' indexes give both
/// ([`crate::controller::cache::Stores::resolve_backends`]).
pub fn resolve_among(
    backends: Option<&Backends>,
    namespace: &str,
    pods: &[Arc<Pod>],
    node: impl Fn(&str) -> Option<Arc<Node>>,
    nodes: &[Arc<Node>],
) -> Result<Resolved, SelectorError> {
    let mut out = Resolved::default();
    let Some(backends) = backends else { return Ok(out) };

    let add_node = |out: &mut Resolved, node: &Node| {
        let name = node.name_any();
        match node.spec.as_ref().and_then(|s| s.provider_id.as_deref()).and_then(parse_provider_id) {
            Some((zone, id)) => {
                out.instances.insert(id, Backend { zone: Some(zone), node: Some(name) });
            }
            None => {
                out.nodes_without_instance.insert(name);
            }
        }
    };

    if let Some(sel) = &backends.pod_selector {
        out.selects_anything = true;
        let selector = pod_selector(sel)?;
        for pod in pods {
            if pod.namespace().as_deref() != Some(namespace) || !selector.matches(pod.labels()) || !pod_counts(pod) {
                continue;
            }
            let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
            match node(&node_name) {
                Some(node) => add_node(&mut out, &node),
                None => {
                    out.unknown_nodes.insert(node_name);
                }
            }
        }
    }
    if let Some(sel) = &backends.node_selector {
        if let Some(selector) = node_selector(sel)? {
            out.selects_anything = true;
            for node in nodes {
                if selector.matches(node.labels()) && node_ready(node) && node.metadata.deletion_timestamp.is_none() {
                    add_node(&mut out, node);
                }
            }
        }
    }
    // AWS registers a group's instances; the spec selects them all the same (Ready waits
    // for one InService).
    out.selects_anything |= !backends.auto_scaling_groups.is_empty();
    for id in &backends.instance_ids {
        out.selects_anything = true;
        out.instances.entry(id.clone()).or_default();
    }
    Ok(out)
}

/// Whether a LoadBalancer's backends could select this pod (used to map pod events to
/// LoadBalancers; readiness is not checked, a pod becoming unready must trigger too).
pub fn selects_pod(backends: Option<&Backends>, namespace: &str, pod: &Pod) -> bool {
    let Some(sel) = backends.and_then(|b| b.pod_selector.as_ref()) else { return false };
    pod.namespace().as_deref() == Some(namespace) && pod_selector(sel).is_ok_and(|s| s.matches(pod.labels()))
}

/// Whether a LoadBalancer's node selector selects this node.
pub fn selects_node(backends: Option<&Backends>, node: &Node) -> bool {
    let Some(sel) = backends.and_then(|b| b.node_selector.as_ref()) else { return false };
    matches!(node_selector(sel), Ok(Some(s)) if s.matches(node.labels()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, PodCondition};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta, Time};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn pod(name: &str, ns: &str, app: &str, node: Option<&str>, ready: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                labels: Some(labels(&[("app", app)])),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: node.map(String::from), ..Default::default() }),
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                container_statuses: Some(vec![ContainerStatus { name: "c".into(), ready, ..Default::default() }]),
                ..Default::default()
            }),
        })
    }

    fn node(name: &str, provider_id: Option<&str>, node_labels: &[(&str, &str)]) -> Arc<Node> {
        Arc::new(Node {
            metadata: ObjectMeta { name: Some(name.into()), labels: Some(labels(node_labels)), ..Default::default() },
            spec: Some(NodeSpec { provider_id: provider_id.map(String::from), ..Default::default() }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]),
                ..Default::default()
            }),
        })
    }

    fn select_app(app: &str) -> LabelSelector {
        LabelSelector { match_labels: Some(labels(&[("app", app)])), ..Default::default() }
    }

    fn nodes() -> Vec<Arc<Node>> {
        vec![
            node("n1", Some("aws:///us-east-1a/i-0aaa"), &[("role", "edge")]),
            node("n2", Some("aws:///us-east-1b/i-0bbb"), &[("role", "worker")]),
            node("n3", None, &[("role", "edge")]),
            node("n4", Some("kind://docker/kind/n4"), &[]),
        ]
    }

    #[test]
    fn provider_ids() {
        let cases = [
            ("aws:///us-east-1a/i-0abc123", Some(("us-east-1a", "i-0abc123"))),
            ("aws://us-east-1a/i-0abc123", Some(("us-east-1a", "i-0abc123"))),
            ("aws:///us-east-1a/fargate-ip-10-0-0-1", None),
            ("aws:///us-east-1a/abc/fargate-ip-10-0-0-1", None),
            ("aws:////i-0abc", None),
            ("gce://project/zone/name", None),
            ("", None),
            ("aws:///us-east-1a/i-", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_provider_id(input), want.map(|(z, i)| (z.to_string(), i.to_string())), "{input}");
        }
    }

    #[test]
    fn pod_counting_rules() {
        assert!(pod_counts(&pod("p", "ns", "web", Some("n1"), true)));
        assert!(!pod_counts(&pod("p", "ns", "web", None, true)), "unscheduled");
        assert!(!pod_counts(&pod("p", "ns", "web", Some("n1"), false)), "not ready");
        let mut terminating = (*pod("p", "ns", "web", Some("n1"), true)).clone();
        terminating.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(!pod_counts(&terminating), "terminating");
        let mut one_container_unready = (*pod("p", "ns", "web", Some("n1"), true)).clone();
        one_container_unready.status.as_mut().unwrap().container_statuses.as_mut().unwrap().push(ContainerStatus {
            name: "sidecar".into(),
            ready: false,
            ..Default::default()
        });
        assert!(!pod_counts(&one_container_unready), "a container is not ready");
        let mut no_status = (*pod("p", "ns", "web", Some("n1"), true)).clone();
        no_status.status = None;
        assert!(!pod_counts(&no_status));
    }

    /// A trimmed pod counts (or not) exactly as the full one, keeps the gate, and is smaller.
    #[test]
    fn a_trimmed_pod_decides_as_the_full_one() {
        let full: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {"app": "web"}, "annotations": {"a": "x".repeat(500)},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u"}]},
            "spec": {"nodeName": "n1", "readinessGates": [{"conditionType": IN_SERVICE}],
                     "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A", "value": "b"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "Ready", "status": "False"}, {"type": "ContainersReady", "status": "True"}],
                       "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "sha256:x",
                                              "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}
        }))
        .unwrap();
        let mut trimmed = full.clone();
        trim_pod(&mut trimmed);
        assert!(pod_counts(&full), "only the gate is missing: counts");
        assert_eq!(pod_counts(&trimmed), pod_counts(&full));
        assert!(has_gate(&trimmed));
        assert!(selects_pod(Some(&Backends { pod_selector: Some(select_app("web")), ..Default::default() }), "ns", &trimmed));
        let size = |p: &Pod| serde_json::to_string(p).unwrap().len();
        assert!(size(&trimmed) * 2 < size(&full), "{} of {} bytes kept", size(&trimmed), size(&full));
        let mut unready = full.clone();
        unready.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].ready = false;
        trim_pod(&mut unready);
        assert!(!pod_counts(&unready));
    }

    #[test]
    fn pods_resolve_to_their_nodes_instances() {
        let pods = vec![
            pod("a", "ns", "web", Some("n1"), true),
            pod("b", "ns", "web", Some("n1"), true),    // same node: one instance
            pod("c", "ns", "web", Some("n2"), false),   // not ready
            pod("d", "other", "web", Some("n2"), true), // other namespace
            pod("e", "ns", "db", Some("n2"), true),     // not selected
            pod("f", "ns", "web", Some("n3"), true),    // node without AWS providerID
            pod("g", "ns", "web", Some("n9"), true),    // node not in cache
        ];
        let b = Backends { pod_selector: Some(select_app("web")), ..Default::default() };
        let r = resolve(Some(&b), "ns", &pods, &nodes()).unwrap();
        assert_eq!(r.instance_ids(), ["i-0aaa".to_string()].into());
        assert_eq!(r.instances["i-0aaa"], Backend { zone: Some("us-east-1a".into()), node: Some("n1".into()) });
        assert_eq!(r.nodes_without_instance, ["n3".to_string()].into());
        assert_eq!(r.unknown_nodes, ["n9".to_string()].into());
        assert_eq!(r.zones(), ["us-east-1a".to_string()].into());
        assert!(r.selects_anything);
    }

    #[test]
    fn node_selector_selects_ready_nodes_and_empty_selects_none() {
        let b = Backends {
            node_selector: Some(LabelSelector { match_labels: Some(labels(&[("role", "edge")])), ..Default::default() }),
            ..Default::default()
        };
        let r = resolve(Some(&b), "ns", &[], &nodes()).unwrap();
        assert_eq!(r.instance_ids(), ["i-0aaa".to_string()].into());
        assert_eq!(r.nodes_without_instance, ["n3".to_string()].into());

        let empty = Backends { node_selector: Some(LabelSelector::default()), ..Default::default() };
        let r = resolve(Some(&empty), "ns", &[], &nodes()).unwrap();
        assert!(r.instances.is_empty());
        assert!(!r.selects_anything);

        let mut not_ready = (*nodes()[1]).clone();
        not_ready.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
        let worker = Backends {
            node_selector: Some(LabelSelector { match_labels: Some(labels(&[("role", "worker")])), ..Default::default() }),
            ..Default::default()
        };
        assert!(resolve(Some(&worker), "ns", &[], &[Arc::new(not_ready)]).unwrap().instances.is_empty());
    }

    #[test]
    fn match_expressions_and_invalid_selectors() {
        let b = Backends {
            node_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "role".into(),
                    operator: "In".into(),
                    values: Some(vec!["worker".into()]),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(resolve(Some(&b), "ns", &[], &nodes()).unwrap().instance_ids(), ["i-0bbb".to_string()].into());
        let bad = Backends {
            pod_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement { key: "x".into(), operator: "Near".into(), values: None }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = resolve(Some(&bad), "ns", &[], &nodes()).unwrap_err();
        assert_eq!(err.field, "spec.backends.podSelector");
    }

    #[test]
    fn static_ids_and_union() {
        let pods = vec![pod("a", "ns", "web", Some("n2"), true)];
        let b = Backends {
            pod_selector: Some(select_app("web")),
            instance_ids: vec!["i-0static".into(), "i-0bbb".into()],
            ..Default::default()
        };
        let r = resolve(Some(&b), "ns", &pods, &nodes()).unwrap();
        assert_eq!(r.instance_ids(), ["i-0bbb".to_string(), "i-0static".to_string()].into());
        // The static id keeps the zone learnt from the node.
        assert_eq!(r.instances["i-0bbb"].zone.as_deref(), Some("us-east-1b"));
        assert_eq!(r.instances["i-0static"], Backend::default());
        assert_eq!(r.zones(), ["us-east-1b".to_string()].into());
    }

    #[test]
    fn no_backends_selects_nothing() {
        let r = resolve(None, "ns", &[], &nodes()).unwrap();
        assert_eq!(r, Resolved::default());
    }

    #[test]
    fn event_mapping_predicates() {
        let b = Backends { pod_selector: Some(select_app("web")), ..Default::default() };
        assert!(selects_pod(Some(&b), "ns", &pod("a", "ns", "web", None, false)));
        assert!(!selects_pod(Some(&b), "other", &pod("a", "ns", "web", None, false)));
        assert!(!selects_pod(None, "ns", &pod("a", "ns", "web", None, false)));
        let nb = Backends {
            node_selector: Some(LabelSelector { match_labels: Some(labels(&[("role", "edge")])), ..Default::default() }),
            ..Default::default()
        };
        assert!(selects_node(Some(&nb), &nodes()[0]));
        assert!(!selects_node(Some(&nb), &nodes()[1]));
        let empty = Backends { node_selector: Some(LabelSelector::default()), ..Default::default() };
        assert!(!selects_node(Some(&empty), &nodes()[0]));
    }
}
