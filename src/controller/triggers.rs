//! Which LoadBalancers a change of another object reaches. The controllers' watches map
//! HealthCheck, Pod, Node, LoadBalancerClass and Namespace events through these functions; they read only the caches.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;

use super::backends;
use super::cache::Stores;
use super::fingerprint::fingerprint;
use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};

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

/// What of a LoadBalancer its own reconcile acts on: its spec (generation), finalizers,
/// deletion, labels and annotations. Its status is the operator's output, so a status write
/// coming back as a watch event triggers nothing: otherwise every health result written
/// would cost a second reconcile in the slots that spec changes need.
pub fn loadbalancer_fingerprint(lb: &LoadBalancer) -> Option<u64> {
    let meta = &lb.metadata;
    Some(fingerprint(&(meta.generation, &meta.finalizers, meta.deletion_timestamp.is_some(), &meta.labels, &meta.annotations)))
}

/// What of a HealthCheck its LoadBalancers act on: its spec, and whether it exists (`present`:
/// in the cache, which a deletion leaves before its event arrives). Its own status writes
/// (`usedBy`, `Ready`) reach no LoadBalancer.
pub fn health_check_fingerprint(hc: &HealthCheck, present: bool) -> Option<u64> {
    Some(fingerprint(&(hc.metadata.generation, present)))
}

/// Which HealthChecks' `usedBy` a LoadBalancer event can change: the one it references
/// now and the one it referenced at its previous event, when the two differ. A deleted
/// LoadBalancer (gone from the cache) references none. Events that change neither, status
/// writes among them, reach no HealthCheck.
#[derive(Default)]
pub struct HealthCheckUsers {
    referenced: Mutex<HashMap<ObjectRef<LoadBalancer>, String>>,
}

impl HealthCheckUsers {
    /// The HealthChecks to recompute after an event of `lb`; `present` tells whether the
    /// LoadBalancer is still in the cache.
    pub fn changed(&self, lb: &LoadBalancer, present: bool) -> Vec<ObjectRef<HealthCheck>> {
        let key = ObjectRef::from_obj(lb);
        let ns = lb.namespace().unwrap_or_default();
        let now = lb.spec.health_check_ref.as_ref().filter(|_| present).map(|r| r.name.clone());
        let mut referenced = self.referenced.lock().unwrap_or_else(|e| e.into_inner());
        let before = match &now {
            Some(name) => referenced.insert(key, name.clone()),
            None => referenced.remove(&key),
        };
        if before == now {
            return Vec::new();
        }
        before.into_iter().chain(now).map(|name| ObjectRef::new(&name).within(&ns)).collect()
    }
}

/// The LoadBalancers a pod event reaches: those whose podSelector matches the pod
/// ([`pod_to_loadbalancers`], through the index: only the LoadBalancers of its namespace
/// that could select it), and those that matched it before a relabel this event brought,
/// so that a pod relabelled out of a selector is deregistered now, not at the next resync.
pub fn pod_to_loadbalancers_indexed(stores: &Stores, pod: &Pod) -> Vec<ObjectRef<LoadBalancer>> {
    let mut out: HashSet<ObjectRef<LoadBalancer>> =
        stores.loadbalancers_selecting(pod).iter().map(|lb| ObjectRef::from_obj(&**lb)).collect();
    for labels in stores.take_relabelled(pod) {
        let before = Pod { metadata: kube::api::ObjectMeta { labels: Some(labels), ..pod.metadata.clone() }, ..Default::default() };
        out.extend(stores.loadbalancers_selecting(&before).iter().map(|lb| ObjectRef::from_obj(&**lb)));
    }
    out.into_iter().collect()
}

/// [`node_to_loadbalancers`] with the pods on the node from the index, and their
/// LoadBalancers through [`pod_to_loadbalancers_indexed`]. The nodeSelectors and the
/// registered instances are still read from every LoadBalancer: one look each per node
/// event, not one per pod.
pub fn node_to_loadbalancers_indexed(stores: &Stores, node: &Node) -> Vec<ObjectRef<LoadBalancer>> {
    let node_name = node.name_any();
    let mut out: HashSet<ObjectRef<LoadBalancer>> = stores
        .loadbalancers
        .state()
        .iter()
        .filter(|lb| {
            backends::selects_node(lb.spec.backends.as_ref(), node)
                || lb.status.as_ref().is_some_and(|s| s.instances.iter().any(|i| i.node.as_deref() == Some(node_name.as_str())))
        })
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect();
    // Not through pod_to_loadbalancers_indexed: a relabel is its pod event's to answer.
    for pod in stores.pods_on_node(&node_name) {
        out.extend(stores.loadbalancers_selecting(&pod).iter().map(|lb| ObjectRef::from_obj(&**lb)));
    }
    out.into_iter().collect()
}

/// The LoadBalancers whose podSelector matches a pod, by looking at every one: the
/// reference [`pod_to_loadbalancers_indexed`] is tested and measured against.
pub fn pod_to_loadbalancers(lbs: &Store<LoadBalancer>, pod: &Pod) -> Vec<ObjectRef<LoadBalancer>> {
    lbs.state()
        .iter()
        .filter(|lb| backends::selects_pod(lb.spec.backends.as_ref(), &lb.namespace().unwrap_or_default(), pod))
        .map(|lb| ObjectRef::from_obj(&**lb))
        .collect()
}

/// The LoadBalancers a node change can affect: those whose nodeSelector matches it, that
/// registered its instance, or that select a pod running on it (by looking at every pod and
/// LoadBalancer: the reference of [`node_to_loadbalancers_indexed`]).
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

/// The LoadBalancers a LoadBalancerClass change may re-evaluate: those that name it, and
/// those that name none (the default-class annotation may have moved to or from it).
pub fn class_to_loadbalancers(lbs: &Store<LoadBalancer>, class: &LoadBalancerClass) -> Vec<ObjectRef<LoadBalancer>> {
    let name = class.name_any();
    lbs.state().iter().filter(|lb| may_use_class(lb, &name)).map(|lb| ObjectRef::from_obj(&**lb)).collect()
}

/// Whether the class `name` may apply to `lb`: named by it, or the default of those that name
/// none.
fn may_use_class(lb: &LoadBalancer, name: &str) -> bool {
    lb.spec.class_name.as_deref().is_none_or(|n| n == name)
}

/// The LoadBalancers of a namespace whose labels changed (a class's namespaceSelector reads
/// them).
pub fn namespace_to_loadbalancers(lbs: &Store<LoadBalancer>, namespace: &Namespace) -> Vec<ObjectRef<LoadBalancer>> {
    let name = namespace.name_any();
    lbs.state().iter().filter(|lb| lb.namespace().as_deref() == Some(name.as_str())).map(|lb| ObjectRef::from_obj(&**lb)).collect()
}

/// What of a Namespace the LoadBalancers depend on: its labels (and its existence).
pub fn namespace_fingerprint(namespace: &Namespace) -> Option<u64> {
    Some(fingerprint(&(namespace.metadata.labels.as_ref(), namespace.metadata.deletion_timestamp.is_some())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::cache::tests::{histories, pod_strategy, world};
    use crate::crd::LoadBalancerSpec;
    use proptest::prelude::*;

    fn sorted(refs: Vec<ObjectRef<LoadBalancer>>) -> Vec<String> {
        let mut names: Vec<String> = refs.into_iter().map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name)).collect();
        names.sort();
        names
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// A pod event (of a cached pod, or of one the cache no longer or never held) and a
        /// node event reach through the indexes exactly the LoadBalancers the scans reach.
        #[test]
        fn indexed_event_mapping_equals_the_scan((pods, nodes, lbs) in histories(), events in prop::collection::vec(pod_strategy(), 0..6)) {
            let stores = world(&pods, &nodes, &lbs);
            for pod in stores.pods.state().iter().map(|p| (**p).clone()).chain(events) {
                let selecting = stores.loadbalancers_selecting(&pod).iter().map(|lb| ObjectRef::from_obj(&**lb)).collect();
                let scanned = sorted(pod_to_loadbalancers(&stores.loadbalancers, &pod));
                prop_assert_eq!(sorted(selecting), scanned.clone(), "{:?}", pod.metadata);
                // The event reaches those, and those that selected the pod before a relabel.
                let reached = sorted(pod_to_loadbalancers_indexed(&stores, &pod));
                prop_assert!(scanned.iter().all(|lb| reached.contains(lb)), "{:?} not all in {:?}", scanned, reached);
            }
            // n4 is never cached: a node event of a node the cache does not hold.
            let unknown = Node { metadata: kube::api::ObjectMeta { name: Some("n4".into()), ..Default::default() }, ..Default::default() };
            for node in stores.nodes.state().iter().map(|n| (**n).clone()).chain([unknown]) {
                prop_assert_eq!(
                    sorted(node_to_loadbalancers_indexed(&stores, &node)),
                    sorted(node_to_loadbalancers(&stores.loadbalancers, &stores.pods, &node)),
                    "{}", node.name_any()
                );
            }
        }
    }

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

    /// A pod relabelled out of a LoadBalancer's selector still reaches it, once: the event
    /// that carries the new labels must deregister it (the scan, reading only those, does not).
    #[test]
    fn a_pod_relabelled_out_of_a_selector_reaches_the_load_balancer_that_selected_it() {
        let mut web = (*lb("a", "web", None)).clone();
        web.spec.backends = Some(crate::crd::Backends {
            pod_selector: Some(serde_json::from_value(serde_json::json!({"matchLabels": {"app": "web"}})).unwrap()),
            ..Default::default()
        });
        let pod = |app: &str| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p", "namespace": "a", "labels": {"app": app}}})).unwrap()
        };
        let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
        let events = [kube::runtime::watcher::Event::Apply(pod("web")), kube::runtime::watcher::Event::Apply(pod("other"))];
        let stores = world(&events, &[], &[kube::runtime::watcher::Event::Apply(web)]);
        assert!(pod_to_loadbalancers(&stores.loadbalancers, &pod("other")).is_empty());
        // A node event does not take the relabel from the pod's own event.
        assert!(node_to_loadbalancers_indexed(&stores, &node).is_empty());
        assert_eq!(sorted(pod_to_loadbalancers_indexed(&stores, &pod("other"))), ["a/web"]);
        assert!(pod_to_loadbalancers_indexed(&stores, &pod("other")).is_empty(), "answered once");
    }

    /// A class change reaches the LoadBalancers naming it and those naming none (the default
    /// may have moved), never those of another class; a namespace's, only its own.
    #[test]
    fn classes_and_namespaces_reach_the_loadbalancers_they_may_govern() {
        let (store, mut writer) = kube::runtime::reflector::store::<LoadBalancer>();
        for (ns, name, class) in [("a", "named", Some("team")), ("a", "other", Some("other")), ("b", "unnamed", None)] {
            let mut lb = (*lb(ns, name, None)).clone();
            lb.spec.class_name = class.map(Into::into);
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(lb));
        }
        let class = LoadBalancerClass::new("team", serde_json::from_value(serde_json::json!({})).unwrap());
        let mut reached: Vec<String> = class_to_loadbalancers(&store, &class).into_iter().map(|r| r.name).collect();
        reached.sort();
        assert_eq!(reached, ["named", "unnamed"]);
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "a", "labels": {"team": "a"}}})).unwrap();
        let mut reached: Vec<String> = namespace_to_loadbalancers(&store, &ns).into_iter().map(|r| r.name).collect();
        reached.sort();
        assert_eq!(reached, ["named", "other"]);
        let relabelled: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "a", "labels": {"team": "b"}}})).unwrap();
        assert_ne!(namespace_fingerprint(&ns), namespace_fingerprint(&relabelled));
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

    fn names(refs: Vec<ObjectRef<HealthCheck>>) -> Vec<String> {
        refs.into_iter().map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name)).collect()
    }

    /// A LoadBalancer's events reach only the HealthChecks whose `usedBy` they change: the
    /// old and the new reference when it moves, the old one when it is dropped or the
    /// LoadBalancer is deleted, and none for a status write.
    #[test]
    fn load_balancer_events_reach_only_the_health_checks_whose_users_changed() {
        let users = HealthCheckUsers::default();
        assert_eq!(names(users.changed(&lb("a", "x", Some("hc1")), true)), ["a/hc1"]);
        // A status write (same reference): nothing.
        let mut written = (*lb("a", "x", Some("hc1"))).clone();
        written.status = Some(Default::default());
        assert!(users.changed(&written, true).is_empty());
        // The reference moves: both.
        assert_eq!(names(users.changed(&lb("a", "x", Some("hc2")), true)), ["a/hc1", "a/hc2"]);
        // Dropped: the old one.
        assert_eq!(names(users.changed(&lb("a", "x", None), true)), ["a/hc2"]);
        assert!(users.changed(&lb("a", "x", None), true).is_empty());
        // Deleted while referencing: the old one, once.
        assert_eq!(names(users.changed(&lb("a", "y", Some("hc1")), true)), ["a/hc1"]);
        assert_eq!(names(users.changed(&lb("a", "y", Some("hc1")), false)), ["a/hc1"]);
        assert!(users.changed(&lb("a", "y", Some("hc1")), false).is_empty());
    }

    #[test]
    fn a_status_write_does_not_change_a_load_balancers_fingerprint() {
        let before = lb("a", "x", Some("hc1"));
        let mut written = (*before).clone();
        written.status = Some(crate::crd::LoadBalancerStatus { dns_name: Some("d".into()), ..Default::default() });
        assert_eq!(loadbalancer_fingerprint(&before), loadbalancer_fingerprint(&written));
        let mut changed = (*before).clone();
        changed.metadata.generation = Some(2);
        assert_ne!(loadbalancer_fingerprint(&before), loadbalancer_fingerprint(&changed));
        let mut finalized = (*before).clone();
        finalized.metadata.finalizers = Some(vec![crate::crd::FINALIZER.into()]);
        assert_ne!(loadbalancer_fingerprint(&before), loadbalancer_fingerprint(&finalized));
    }
}
