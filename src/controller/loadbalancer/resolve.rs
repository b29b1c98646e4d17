//! Step 1, resolve: read what a LoadBalancer refers to, from the caches: its HealthCheck,
//! and the pods and nodes its backends select (as EC2 instances). Reads only; nothing is
//! judged here: a missing HealthCheck or a bad selector is [`super::validate`]'s to refuse.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;

use crate::controller::backends::{self, Resolved, SelectorError};
use crate::controller::context::Context;
use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};

/// The objects a LoadBalancer refers to, as the caches hold them.
#[derive(Debug, Clone)]
pub struct Referenced {
    /// `spec.healthCheckRef`: its name, and the HealthCheck when the cache has it.
    pub health_check: Option<(String, Option<Arc<HealthCheck>>)>,
    /// The instances the backends select, or why the selectors cannot be read.
    pub backends: Result<Resolved, SelectorError>,
    /// Every LoadBalancerClass in the cluster, and the labels of the LoadBalancer's
    /// namespace: what the tenancy rules decide from.
    pub classes: Vec<LoadBalancerClass>,
    pub namespace_labels: BTreeMap<String, String>,
}

/// Reads the HealthCheck and the backends `lb` refers to from the caches of `ctx`.
pub fn resolve(lb: &LoadBalancer, ctx: &Context) -> Referenced {
    let ns = lb.namespace().unwrap_or_default();
    let health_check = lb.spec.health_check_ref.as_ref().map(|r| {
        let hc = ctx.stores.healthchecks.get(&ObjectRef::new(&r.name).within(&ns));
        (r.name.clone(), hc)
    });
    let backends = backends::resolve(lb.spec.backends.as_ref(), &ns, &ctx.stores.pods.state(), &ctx.stores.nodes.state());
    Referenced { health_check, backends, classes: ctx.stores.classes(), namespace_labels: ctx.stores.namespace_labels(&ns) }
}
