//! The custom resources: `LoadBalancer` and `HealthCheck` (group `elb.operator.dev`,
//! version `v1alpha1`). Doc comments on these types become the `kubectl explain` text.

pub mod healthcheck;
pub mod loadbalancer;
pub mod tags;

pub use healthcheck::{HealthCheck, HealthCheckSpec, HealthCheckStatus};
pub use loadbalancer::*;

/// The API group of both resources.
pub const GROUP: &str = "elb.operator.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// The finalizer the LoadBalancer controller puts on the objects whose ELB it manages.
pub const FINALIZER: &str = "elb.operator.dev/cleanup";

/// Condition types written by the controllers.
pub mod condition {
    /// The ELB exists, matches the spec, and at least one registered instance is InService
    /// (or the spec selects no backends at all).
    pub const READY: &str = "Ready";
    /// The last reconcile applied the spec to the ELB without error.
    pub const SYNCED: &str = "Synced";
    /// An ELB with the wanted name exists and is not owned by this resource.
    pub const CONFLICT: &str = "Conflict";
}

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Both CRDs, HealthCheck first (LoadBalancers reference it), as `crds/` holds them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![HealthCheck::crd(), LoadBalancer::crd()]
}

/// The YAML of one CRD, exactly as checked in under `crds/<name>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // Serialising a derived CRD cannot fail: it is plain data without maps keyed by
    // non-strings.
    serde_yaml::to_string(crd).expect("a CRD serialises to YAML")
}

/// Both CRDs as one multi-document YAML stream, for `elb-operator crdgen | kubectl apply -f -`.
pub fn crdgen_yaml() -> String {
    crds()
        .iter()
        .map(|crd| format!("---\n{}", crd_yaml(crd)))
        .collect()
}
