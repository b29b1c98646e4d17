//! Which LoadBalancers a change of another object reaches. The controllers' watches map
//! HealthCheck, Pod and Node events through these functions; they read only the caches.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;

use super::backends;
use super::schedule::fingerprint;
use crate::crd::LoadBalancer;

/// The LoadBalancers of `namespace` whose `healthCheckRef` names the HealthCheck `name`.
/// The one answer to "who uses this HealthCheck": it triggers their reconciles and fills
/// the HealthCheck's `usedBy`.
pub fn using_health_check<'a>(
    lbs: &'a [Arc<LoadBalancer>],
    namespace: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'a Arc<LoadBalancer>> + 'a {
    lbs.iter()
        .filter(move |lb| lb.namespace().as_deref() == Some(namespace))
        .filter(move |lb| lb.spec.health_check_ref.as_ref().is_some_and(|r| r.name == name))
}

/// The LoadBalancers a HealthCheck change reaches.
pub fn health_check_to_loadbalancers(lbs: &Store<LoadBalancer>, namespace: &str, name: &str) -> Vec<ObjectRef<LoadBalancer>> {
    using_health_check(&lbs.state(), namespace, name).map(|lb| ObjectRef::from_obj(&**lb)).collect()
}

/// The LoadBalancers whose podSelector matches a pod.
pub fn pod_to_loadbalancers(lbs: &Store<LoadBalancer>, pod: &Pod) -> Vec<ObjectRef<LoadBalancer>> {
    lbs.state()
        .iter()
        .filter(|lb| backends::selects_pod(lb.spec.backends.as_ref(), &lb.namespace().unwrap_or_default(), pod))
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

/// The LoadBalancers a node change can affect: those whose nodeSelector matches it, that
/// registered its instance, or that select a pod running on it.
pub fn node_to_loadbalancers(lbs: &Store<LoadBalancer>, pods: &Store<Pod>, node: &Node) -> Vec<ObjectRef<LoadBalancer>> {
    let node_name = node.name_any();
    let pods_on_node: Vec<Arc<Pod>> =
        pods.state().into_iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name.as_str())).collect();
    lbs.state()
        .iter()
        .filter(|lb| {
            let ns = lb.namespace().unwrap_or_default();
            let backends = lb.spec.backends.as_ref();
            backends::selects_node(backends, node)
                || lb.status.as_ref().is_some_and(|s| s.instances.iter().any(|i| i.node.as_deref() == Some(node_name.as_str())))
                || pods_on_node.iter().any(|p| backends::selects_pod(backends, &ns, p))
        })
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

/// What of a node matters to backends: labels, providerID, readiness, deletion. Node
/// events whose fingerprint did not change (heartbeats, image lists) trigger nothing.
pub fn node_fingerprint(node: &Node) -> Option<u64> {
    Some(fingerprint(&(
        node.metadata.labels.as_ref(),
        node.spec.as_ref().and_then(|s| s.provider_id.as_deref()),
        backends::node_ready(node),
        node.metadata.deletion_timestamp.is_some(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::LoadBalancerSpec;

    fn lb(ns: &str, name: &str, hc: Option<&str>) -> Arc<LoadBalancer> {
        let spec: LoadBalancerSpec = serde_json::from_value(serde_json::json!({
            "listeners": [{"port": 80, "protocol": "HTTP", "instancePort": 8080}],
            "healthCheckRef": hc.map(|n| serde_json::json!({"name": n})),
        }))
        .unwrap();
        let mut lb = LoadBalancer::new(name, spec);
        lb.metadata.namespace = Some(ns.into());
        Arc::new(lb)
    }

    #[test]
    fn health_check_users_are_those_of_its_namespace_that_reference_it() {
        let lbs = vec![
            lb("a", "z-lb", Some("hc")),
            lb("a", "b-lb", Some("hc")),
            lb("a", "c", Some("other")),
            lb("b", "d", Some("hc")),
            lb("a", "e", None),
        ];
        let names: Vec<String> = using_health_check(&lbs, "a", "hc").map(|lb| lb.name_any()).collect();
        assert_eq!(names, ["z-lb", "b-lb"]);
        assert_eq!(using_health_check(&lbs, "c", "hc").count(), 0);
    }
}
