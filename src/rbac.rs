//! The Kubernetes API calls the operator makes: the source of the chart's RBAC rules
//! (`elb-operator rbac-requirements` prints them; a chart test checks the rules cover them).

use serde::Serialize;

/// Which namespace an RBAC rule must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// The watched namespace (all namespaces, or `--watch-namespace`); cluster-scoped
    /// resources (nodes, namespaces, loadbalancerclasses) always need a ClusterRole.
    Watched,
    /// The operator's own namespace (the lease).
    Own,
}

/// One kind of Kubernetes API call the operator makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiCall {
    /// API group, `""` for core.
    pub group: String,
    /// Resource, with the subresource after a slash (`loadbalancers/status`).
    pub resource: String,
    pub verbs: Vec<String>,
    pub scope: Scope,
}

/// Every Kubernetes API call the controllers make: (apiGroup, resource, verbs).
pub const CONTROLLER_API_CALLS: &[(&str, &str, &[&str])] = &[
    // Reflectors list and watch; the finalizer helper adds/removes the finalizer with a JSON patch.
    ("elb.operator.dev", "loadbalancers", &["list", "watch", "patch"]),
    // Status: a JSON merge patch on the status subresource.
    ("elb.operator.dev", "loadbalancers/status", &["patch"]),
    ("elb.operator.dev", "healthchecks", &["list", "watch"]),
    ("elb.operator.dev", "healthchecks/status", &["patch"]),
    ("", "pods", &["list", "watch"]),
    // The readiness gate elb.operator.dev/in-service: a strategic merge patch of a condition.
    ("", "pods/status", &["patch"]),
    ("", "nodes", &["list", "watch"]),
    // Tenancy: the classes that grant LoadBalancers what they may reach, and the labels of
    // the namespaces a class's namespaceSelector selects. Both are cluster-scoped.
    ("elb.operator.dev", "loadbalancerclasses", &["get", "list", "watch"]),
    ("", "namespaces", &["get", "list", "watch"]),
    // kube's event Recorder creates events and patches repeats into a series.
    ("events.k8s.io", "events", &["create", "patch"]),
    // spec.dns: the DNSEndpoint of ExternalDNS, written with server-side apply (a patch that
    // may create) and deleted when spec.dns goes.
    ("externaldns.k8s.io", "dnsendpoints", &["create", "patch", "delete"]),
];

/// `update` on the `finalizers` subresource of both resources. No request goes there; the
/// permission is what admission checks (OwnerReferencesPermissionEnforcement, on by default
/// on OpenShift) ask of a controller that manages finalizers and owner references of its
/// resources, so the chart grants it as kubebuilder-generated operators do.
pub const FINALIZER_PERMISSIONS: &[(&str, &str, &[&str])] =
    &[("elb.operator.dev", "loadbalancers/finalizers", &["update"]), ("elb.operator.dev", "healthchecks/finalizers", &["update"])];

/// The API calls of the leader elector ([`crate::leader`]); `list` before a take, to see
/// Leases of another shard count.
pub const LEADER_ELECTION_API_CALLS: &[(&str, &str, &[&str])] = &[("coordination.k8s.io", "leases", &["get", "list", "create", "update"])];

/// Every Kubernetes API call the operator makes (the controllers' and the leader
/// elector's), plus [`FINALIZER_PERMISSIONS`]: what the chart's RBAC must grant.
/// The CRD check uses discovery (`/apis/elb.operator.dev/v1alpha1`), which every
/// authenticated client may read, so it needs no rule.
pub fn kube_api_calls() -> Vec<ApiCall> {
    let to_calls = |list: &[(&str, &str, &[&str])], scope| {
        list.iter()
            .map(move |(group, resource, verbs)| ApiCall {
                group: group.to_string(),
                resource: resource.to_string(),
                verbs: verbs.iter().map(|v| v.to_string()).collect(),
                scope,
            })
            .collect::<Vec<_>>()
    };
    let mut calls = to_calls(CONTROLLER_API_CALLS, Scope::Watched);
    calls.extend(to_calls(FINALIZER_PERMISSIONS, Scope::Watched));
    calls.extend(to_calls(LEADER_ELECTION_API_CALLS, Scope::Own));
    calls
}
