//! The controllers' caches: one reflector per kind (LoadBalancer, HealthCheck, Pod, Node,
//! LoadBalancerClass, Namespace).
//! Each watch runs once; its events are fanned out to the controllers that need them, and
//! reconcilers read the stores, never the API.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::core::error_boundary::{DeserializeGuard, InvalidObject};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::warn;

use super::backends::{self, Resolved, SelectorError};
use super::index::Indexes;
use crate::crd::{Backends, HealthCheck, LoadBalancer, LoadBalancerClass};

/// The reflector caches the reconcilers read from.
#[derive(Clone)]
pub struct Stores {
    pub loadbalancers: Store<LoadBalancer>,
    pub healthchecks: Store<HealthCheck>,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    /// The LoadBalancerClasses (cluster-scoped): the tenancy rules.
    pub classes: Store<LoadBalancerClass>,
    /// The watched namespaces, trimmed to their metadata: the labels a class's
    /// namespaceSelector reads.
    pub namespaces: Store<Namespace>,
    /// One flag per cache, set when its first full list is in.
    pub synced: Vec<watch::Receiver<bool>>,
    /// Pods, nodes and LoadBalancers' podSelectors by namespace and label, written by the
    /// same watches as the stores ([`reflect_with`]).
    pub indexes: Arc<Indexes>,
}

impl Stores {
    /// The LoadBalancerClasses in the cluster.
    pub fn classes(&self) -> Vec<LoadBalancerClass> {
        self.classes.state().iter().map(|c| (**c).clone()).collect()
    }

    /// The labels of `namespace` (none when it is not in the cache).
    pub fn namespace_labels(&self, namespace: &str) -> std::collections::BTreeMap<String, String> {
        self.namespaces
            .get(&kube::runtime::reflector::ObjectRef::new(namespace))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default()
    }

    /// [`backends::resolve`] over the pods and nodes the index says the selectors could
    /// select, rather than over every cached one: the same answer, at a cost that does not
    /// grow with unrelated pods.
    pub fn resolve_backends(&self, spec: Option<&Backends>, namespace: &str) -> Result<Resolved, SelectorError> {
        let pods = spec.and_then(|b| b.pod_selector.as_ref()).map(|s| self.selectable_pods(namespace, s)).unwrap_or_default();
        let nodes = spec.and_then(|b| b.node_selector.as_ref()).map(|s| self.selectable_nodes(s)).unwrap_or_default();
        backends::resolve_among(spec, namespace, &pods, |name| self.nodes.get(&ObjectRef::new(name)), &nodes)
    }

    /// The cached pods of `namespace` a podSelector could select (its `matchLabels` narrow
    /// them); the selector itself is not run.
    pub fn selectable_pods(&self, namespace: &str, selector: &LabelSelector) -> Vec<Arc<Pod>> {
        let names = Indexes::read(&self.indexes.pods, |i| i.candidates(namespace, selector.match_labels.as_ref()));
        names.iter().filter_map(|name| self.pods.get(&ObjectRef::new(name).within(namespace))).collect()
    }

    /// The cached nodes a nodeSelector could select; every node for one without
    /// `matchLabels`.
    pub fn selectable_nodes(&self, selector: &LabelSelector) -> Vec<Arc<Node>> {
        match selector.match_labels.as_ref().filter(|m| !m.is_empty()) {
            Some(match_labels) => {
                let names = Indexes::read(&self.indexes.nodes, |i| i.candidates("", Some(match_labels)));
                names.iter().filter_map(|name| self.nodes.get(&ObjectRef::new(name))).collect()
            }
            None => self.nodes.state(),
        }
    }

    /// The cached pods that run on `node`.
    pub fn pods_on_node(&self, node: &str) -> Vec<Arc<Pod>> {
        let keys = Indexes::read(&self.indexes.pods, |i| i.on_node(node));
        keys.iter().filter_map(|(ns, name)| self.pods.get(&ObjectRef::new(name).within(ns))).collect()
    }

    /// The cached LoadBalancers whose podSelector matches `pod` ([`backends::selects_pod`]),
    /// looking only at those of its namespace that the index says could.
    pub fn loadbalancers_selecting(&self, pod: &Pod) -> Vec<Arc<LoadBalancer>> {
        let Some(namespace) = pod.metadata.namespace.as_deref() else { return Vec::new() };
        let no_labels = std::collections::BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
        let names = Indexes::read(&self.indexes.loadbalancers, |i| i.candidates(namespace, labels));
        names
            .iter()
            .filter_map(|name| self.loadbalancers.get(&ObjectRef::new(name).within(namespace)))
            .filter(|lb| backends::selects_pod(lb.spec.backends.as_ref(), namespace, pod))
            .collect()
    }

    /// The labels `pod` had before the relabels its latest events brought (taken: each
    /// relabel is answered once, by the mapping of its own event).
    pub fn take_relabelled(&self, pod: &Pod) -> Vec<std::collections::BTreeMap<String, String>> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        Indexes::write(&self.indexes.pods, |i| i.take_relabelled(namespace, &pod.name_any()))
    }

    /// Waits (bounded) until every cache holds a full list: a reconcile that read an empty
    /// pod cache would deregister every instance.
    ///
    /// Uses the operator's own flags rather than `Store::wait_until_ready`: that future keeps
    /// only the waker of its last poller, so a second waiter could starve kube's Controller,
    /// which waits on it for its main store.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let all = async {
            for flag in &self.synced {
                if flag.clone().wait_for(|synced| *synced).await.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(limit, all).await.unwrap_or(false)
    }
}

/// A Namespace as the cache keeps it: its metadata (the labels are what is read).
pub fn trim_namespace(ns: &mut Namespace) {
    ns.spec = None;
    ns.status = None;
    ns.metadata.annotations = None;
}

/// One watch of `api` into a store, with its objects (deleted ones included) fanned out to
/// `outputs` receivers, and a flag set once the first full list is in the store. The
/// returned future drives the watch; it runs until aborted (watch errors are retried with
/// kube's default backoff).
pub fn reflect<K>(
    api: Api<DeserializeGuard<K>>,
    wc: watcher::Config,
    outputs: usize,
    trim: fn(&mut K),
    on_invalid: impl Fn(InvalidObject) + Send + 'static,
) -> (Store<K>, watch::Receiver<bool>, BoxFuture<'static, ()>, Vec<mpsc::UnboundedReceiver<K>>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    reflect_with(api, wc, outputs, trim, on_invalid, |_| {})
}

/// [`reflect`], with `observe` given every event the store has applied (trimmed, decoded),
/// before its object goes to the outputs: an index kept there is in step with the store
/// when the triggers read it.
pub fn reflect_with<K>(
    api: Api<DeserializeGuard<K>>,
    wc: watcher::Config,
    outputs: usize,
    trim: fn(&mut K),
    on_invalid: impl Fn(InvalidObject) + Send + 'static,
    observe: impl Fn(&watcher::Event<K>) + Send + 'static,
) -> (Store<K>, watch::Receiver<bool>, BoxFuture<'static, ()>, Vec<mpsc::UnboundedReceiver<K>>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..outputs).map(|_| mpsc::unbounded()).unzip();
    // One object that does not decode must not stop the watch of its whole kind: it is
    // reported and left out; the others flow on.
    let stream = watcher(api, wc)
        .default_backoff()
        .filter_map(move |event| futures::future::ready(valid(event, &on_invalid)))
        .modify(move |obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            trim(obj);
        })
        .reflect(writer);
    let (synced_tx, synced) = watch::channel(false);
    let driver = async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            // The reflector has applied the event to the store before yielding it.
            if let Ok(event) = &item {
                observe(event);
            }
            match item {
                Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                    for tx in &senders {
                        let _ = tx.unbounded_send(obj.clone());
                    }
                }
                Ok(watcher::Event::Delete(mut obj)) => {
                    // Marked as deleted so that a predicate filter downstream (nodes) sees a
                    // change even when the object's last state carried no deletionTimestamp.
                    if obj.meta().deletion_timestamp.is_none() {
                        obj.meta_mut().deletion_timestamp =
                            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
                    }
                    for tx in &senders {
                        let _ = tx.unbounded_send(obj.clone());
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    synced_tx.send_replace(true);
                }
                Ok(watcher::Event::Init) => {}
                Err(e) => warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying"),
            }
        }
    }
    .boxed();
    (reader, synced, driver, receivers)
}

/// The event with its object decoded, or `None` (after `on_invalid`) when it did not decode.
fn valid<K>(
    event: Result<watcher::Event<DeserializeGuard<K>>, watcher::Error>,
    on_invalid: &impl Fn(InvalidObject),
) -> Option<Result<watcher::Event<K>, watcher::Error>> {
    let decode = |guard: DeserializeGuard<K>| guard.0.map_err(on_invalid).ok();
    Some(event.map(|e| match e {
        watcher::Event::Apply(g) => decode(g).map(watcher::Event::Apply),
        watcher::Event::InitApply(g) => decode(g).map(watcher::Event::InitApply),
        watcher::Event::Delete(g) => decode(g).map(watcher::Event::Delete),
        watcher::Event::Init => Some(watcher::Event::Init),
        watcher::Event::InitDone => Some(watcher::Event::InitDone),
    }))
    .and_then(|r| r.transpose())
}

#[cfg(test)]
pub(crate) mod tests {
    //! A random cluster, built by watch events applied to the stores and their indexes alike,
    //! to compare the indexed answers with the scans over every object.
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{ContainerStatus, NodeCondition, NodeSpec, NodeStatus, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta, Time};
    use kube::ResourceExt;
    use proptest::prelude::*;

    use super::*;
    use crate::controller::index::Indexes;
    use crate::crd::{InstanceStatus, LoadBalancerStatus};

    const KEYS: [&str; 3] = ["app", "tier", "role"];
    const VALUES: [&str; 4] = ["web", "api", "front", "edge"];
    const NAMESPACES: [&str; 2] = ["a", "b"];

    fn labels(pairs: &[(usize, usize)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (KEYS[*k].to_string(), VALUES[*v].to_string())).collect()
    }

    pub(crate) fn pod_strategy() -> impl Strategy<Value = Pod> + Clone {
        let pairs = prop::collection::vec((0..KEYS.len(), 0..VALUES.len()), 0..3);
        (0..12usize, 0..NAMESPACES.len(), pairs, prop::option::of(0..5usize), any::<bool>(), prop::bool::weighted(0.1)).prop_map(
            |(i, ns, pairs, node, ready, terminating)| Pod {
                metadata: ObjectMeta {
                    name: Some(format!("p{i}")),
                    namespace: Some(NAMESPACES[ns].into()),
                    labels: Some(labels(&pairs)),
                    deletion_timestamp: terminating.then_some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
                    ..Default::default()
                },
                spec: Some(PodSpec { node_name: node.map(|n| format!("n{n}")), ..Default::default() }),
                status: Some(PodStatus {
                    conditions: Some(vec![PodCondition {
                        type_: "Ready".into(),
                        status: if ready { "True" } else { "False" }.into(),
                        ..Default::default()
                    }]),
                    container_statuses: Some(vec![ContainerStatus { name: "c".into(), ready, ..Default::default() }]),
                    ..Default::default()
                }),
            },
        )
    }

    /// Nodes n0..n3 (a pod on n4 runs on a node the cache does not know).
    fn node_strategy() -> impl Strategy<Value = Node> + Clone {
        let pairs = prop::collection::vec((0..KEYS.len(), 0..VALUES.len()), 0..3);
        (0..4usize, pairs, any::<bool>(), any::<bool>()).prop_map(|(i, pairs, aws, ready)| Node {
            metadata: ObjectMeta { name: Some(format!("n{i}")), labels: Some(labels(&pairs)), ..Default::default() },
            spec: Some(NodeSpec { provider_id: aws.then(|| format!("aws:///zone-{i}/i-0{i}")), ..Default::default() }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    fn selector_strategy() -> impl Strategy<Value = LabelSelector> + Clone {
        let pairs = prop::collection::vec((0..KEYS.len(), 0..VALUES.len()), 0..3);
        // "Near" is no operator: an invalid selector must fail (or select nothing) alike.
        let expressions = prop::collection::vec((0..KEYS.len(), 0..5usize, prop::collection::vec(0..VALUES.len(), 0..3)), 0..2);
        (pairs, expressions).prop_map(|(pairs, expressions)| LabelSelector {
            match_labels: (!pairs.is_empty()).then(|| labels(&pairs)),
            match_expressions: (!expressions.is_empty()).then(|| {
                expressions
                    .into_iter()
                    .map(|(k, op, values)| LabelSelectorRequirement {
                        key: KEYS[k].into(),
                        operator: ["In", "NotIn", "Exists", "DoesNotExist", "Near"][op].into(),
                        values: (!values.is_empty()).then(|| values.iter().map(|v| VALUES[*v].to_string()).collect()),
                    })
                    .collect()
            }),
        })
    }

    pub(crate) fn lb_strategy() -> impl Strategy<Value = LoadBalancer> + Clone {
        let backends = (
            prop::option::of(selector_strategy()),
            prop::option::weighted(0.3, selector_strategy()),
            prop::bool::weighted(0.2),
            prop::option::weighted(0.2, 0..5usize),
        );
        (0..8usize, 0..NAMESPACES.len(), prop::option::weighted(0.9, backends)).prop_map(|(i, ns, backends)| {
            let mut lb = LoadBalancer::new(&format!("lb{i}"), serde_json::from_value(serde_json::json!({"listeners": []})).unwrap());
            lb.metadata.namespace = Some(NAMESPACES[ns].into());
            if let Some((pod_selector, node_selector, static_id, registered_on)) = backends {
                lb.spec.backends = Some(Backends {
                    pod_selector,
                    node_selector,
                    instance_ids: if static_id { vec!["i-0static".into()] } else { vec![] },
                    ..Default::default()
                });
                lb.status = registered_on.map(|n| LoadBalancerStatus {
                    instances: vec![InstanceStatus { instance_id: format!("i-0{n}"), node: Some(format!("n{n}")), ..Default::default() }],
                    ..Default::default()
                });
            }
            lb
        })
    }

    /// A watch's history: applies and deletes (`false`), then maybe a re-list of what is in
    /// it, then more of both.
    pub(crate) fn history<K: Debug + Clone>(object: impl Strategy<Value = K> + Clone) -> impl Strategy<Value = Vec<watcher::Event<K>>> {
        let ops = prop::collection::vec((object.clone(), prop::bool::weighted(0.8)), 0..24);
        let relist = prop::option::of(prop::collection::vec(object, 0..12));
        (ops.clone(), relist, ops).prop_map(|(before, relist, after)| {
            let event = |(obj, apply): (K, bool)| if apply { watcher::Event::Apply(obj) } else { watcher::Event::Delete(obj) };
            let mut events: Vec<watcher::Event<K>> = before.into_iter().map(event).collect();
            if let Some(objects) = relist {
                events.push(watcher::Event::Init);
                events.extend(objects.into_iter().map(watcher::Event::InitApply));
                events.push(watcher::Event::InitDone);
            }
            events.extend(after.into_iter().map(event));
            events
        })
    }

    /// Stores and indexes fed the same histories, as the watches feed them.
    pub(crate) fn world(pods: &[watcher::Event<Pod>], nodes: &[watcher::Event<Node>], lbs: &[watcher::Event<LoadBalancer>]) -> Stores {
        let indexes = Arc::new(Indexes::default());
        let (pod_store, mut pod_writer) = reflector::store();
        let (node_store, mut node_writer) = reflector::store();
        let (lb_store, mut lb_writer) = reflector::store();
        for e in pods {
            pod_writer.apply_watcher_event(e);
            Indexes::observe(&indexes.pods, e);
        }
        for e in nodes {
            node_writer.apply_watcher_event(e);
            Indexes::observe(&indexes.nodes, e);
        }
        for e in lbs {
            lb_writer.apply_watcher_event(e);
            Indexes::observe(&indexes.loadbalancers, e);
        }
        Stores {
            loadbalancers: lb_store,
            healthchecks: reflector::store().0,
            pods: pod_store,
            nodes: node_store,
            classes: reflector::store().0,
            namespaces: reflector::store().0,
            synced: vec![],
            indexes,
        }
    }

    /// The watch histories of the pods, the nodes and the LoadBalancers.
    pub(crate) type Histories = (Vec<watcher::Event<Pod>>, Vec<watcher::Event<Node>>, Vec<watcher::Event<LoadBalancer>>);

    pub(crate) fn histories() -> impl Strategy<Value = Histories> {
        (history(pod_strategy()), history(node_strategy()), history(lb_strategy()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Every LoadBalancer's backends resolve through the indexes exactly as by scanning
        /// every cached pod and node, whatever the history of relabels, moves, deletes and
        /// re-lists that built the caches.
        #[test]
        fn indexed_resolution_equals_the_scan((pods, nodes, lbs) in histories()) {
            let stores = world(&pods, &nodes, &lbs);
            let (all_pods, all_nodes) = (stores.pods.state(), stores.nodes.state());
            for lb in stores.loadbalancers.state() {
                let ns = lb.namespace().unwrap_or_default();
                let scanned = backends::resolve(lb.spec.backends.as_ref(), &ns, &all_pods, &all_nodes);
                prop_assert_eq!(stores.resolve_backends(lb.spec.backends.as_ref(), &ns), scanned, "{}", lb.name_any());
            }
            // The index holds what the store holds, no more.
            prop_assert_eq!(Indexes::read(&stores.indexes.pods, |i| i.len()), all_pods.len());
            prop_assert_eq!(Indexes::read(&stores.indexes.nodes, |i| i.len()), all_nodes.len());
        }
    }

    /// A case the random worlds reach only by chance: a pod relabelled into a selector, then
    /// one relabelled out, then a re-list that drops a pod.
    #[test]
    fn relabels_and_relists_reach_resolution() {
        let pod = |name: &str, app: &str| {
            let mut p = Pod {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some("a".into()),
                    labels: Some([("app".to_string(), app.to_string())].into()),
                    ..Default::default()
                },
                spec: Some(PodSpec { node_name: Some(format!("n-{name}")), ..Default::default() }),
                status: None,
            };
            p.status = Some(PodStatus {
                conditions: Some(vec![PodCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]),
                container_statuses: Some(vec![ContainerStatus { name: "c".into(), ready: true, ..Default::default() }]),
                ..Default::default()
            });
            p
        };
        let web = Backends {
            pod_selector: Some(LabelSelector { match_labels: Some([("app".to_string(), "web".to_string())].into()), ..Default::default() }),
            ..Default::default()
        };
        let unknown = |stores: &Stores| stores.resolve_backends(Some(&web), "a").unwrap().unknown_nodes.into_iter().collect::<Vec<_>>();
        let mut events = vec![watcher::Event::Apply(pod("x", "api")), watcher::Event::Apply(pod("y", "web"))];
        assert_eq!(unknown(&world(&events, &[], &[])), ["n-y"]);
        events.push(watcher::Event::Apply(pod("x", "web")));
        events.push(watcher::Event::Apply(pod("y", "api")));
        assert_eq!(unknown(&world(&events, &[], &[])), ["n-x"]);
        events.extend([watcher::Event::Init, watcher::Event::InitApply(pod("y", "web")), watcher::Event::InitDone]);
        assert_eq!(unknown(&world(&events, &[], &[])), ["n-y"]);
    }
}
