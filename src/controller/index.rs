//! Indexes beside the caches (pure), so that the cost of a reconcile or of a pod event does
//! not grow with every pod and LoadBalancer of the cluster:
//!
//! - [`ObjectIndex`]: pods (or nodes) by namespace, by label pair and by node name. A
//!   selector's `matchLabels` narrows the candidates to the objects carrying its rarest pair;
//!   a selector with only `matchExpressions` falls back to the namespace's objects.
//! - [`SelectorIndex`]: LoadBalancers by namespace and by one `matchLabels` pair of their
//!   podSelector, so a pod's event looks only at the LoadBalancers that could select it.
//!
//! Both return candidates, a superset of the answer: callers still run the selector on the
//! cached object, so an index a moment behind its store can only cost a look too many, never
//! a wrong answer (and the event that moves the index triggers its own reconcile).
//!
//! They hold names (`Arc<str>`, the label strings shared with their map keys), never copies
//! of objects. [`Synced`] keeps one in step with a reflector's watch events, re-lists
//! included.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::watcher;
use kube::ResourceExt;

use crate::crd::LoadBalancer;

/// A name, shared between the maps that hold it.
pub type Name = Arc<str>;

/// Labels as objects carry them.
pub type LabelMap = BTreeMap<String, String>;

/// What an index needs of an object: where it goes and what it is found by.
pub trait Indexed {
    /// The index's entry for this object, `None` when it is not indexed at all.
    fn entry(&self) -> Option<Entry<'_>>;
    /// Its namespace (`""` for a cluster-scoped object) and name.
    fn key(&self) -> (String, String);
    /// Whether a relabel is remembered for [`ObjectIndex::take_relabelled`]: only for the
    /// kinds whose events are mapped to take it (pods), or it would never be forgotten.
    const RELABELS: bool = false;
}

/// An object as an index sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub labels: &'a BTreeMap<String, String>,
    /// The node a pod runs on.
    pub node: Option<&'a str>,
    /// A LoadBalancer's podSelector `matchLabels` (empty when it has only expressions).
    pub match_labels: Option<&'a BTreeMap<String, String>>,
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl Indexed for Pod {
    const RELABELS: bool = true;
    fn entry(&self) -> Option<Entry<'_>> {
        let node = self.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty());
        Some(Entry { labels: self.metadata.labels.as_ref().unwrap_or(&NO_LABELS), node, match_labels: None })
    }
    fn key(&self) -> (String, String) {
        (self.namespace().unwrap_or_default(), self.name_any())
    }
}

impl Indexed for Node {
    fn entry(&self) -> Option<Entry<'_>> {
        Some(Entry { labels: self.metadata.labels.as_ref().unwrap_or(&NO_LABELS), node: None, match_labels: None })
    }
    fn key(&self) -> (String, String) {
        (String::new(), self.name_any())
    }
}

/// A LoadBalancer is indexed by its podSelector; without one it selects no pod.
impl Indexed for LoadBalancer {
    fn entry(&self) -> Option<Entry<'_>> {
        let selector = self.spec.backends.as_ref()?.pod_selector.as_ref()?;
        Some(Entry { labels: &NO_LABELS, node: None, match_labels: Some(selector.match_labels.as_ref().unwrap_or(&NO_LABELS)) })
    }
    fn key(&self) -> (String, String) {
        (self.namespace().unwrap_or_default(), self.name_any())
    }
}

/// An index that a watch's events keep up to date.
pub trait Index<K>: Default {
    /// Adds `obj`, or moves it when it is already indexed.
    fn upsert(&mut self, obj: &K);
    fn remove(&mut self, obj: &K);
}

/// The `Arc` already stored as a key of `map` for `s`, or a new one.
fn shared<V>(map: &HashMap<Arc<str>, V>, s: &str) -> Arc<str> {
    map.get_key_value(s).map_or_else(|| Arc::from(s), |(k, _)| k.clone())
}

/// A label pair, its strings shared with the keys of the maps that index it.
type Pair = (Arc<str>, Arc<str>);

/// Labels as an entry remembers them, to find its sets again when it moves or goes.
type Labels = Box<[Pair]>;

fn same_labels(stored: &Labels, labels: &BTreeMap<String, String>) -> bool {
    stored.len() == labels.len() && stored.iter().zip(labels).all(|((k, v), (k2, v2))| **k == **k2 && **v == **v2)
}

/// The objects of one namespace: every name, and the names under each label pair.
#[derive(Debug, Default)]
struct Space {
    objects: HashMap<Name, Stored>,
    by_label: HashMap<Arc<str>, HashMap<Arc<str>, HashSet<Name>>>,
}

#[derive(Debug)]
struct Stored {
    labels: Labels,
    node: Option<Name>,
}

/// Pods or nodes by namespace, label pair and node name (see the module's doc).
#[derive(Debug, Default)]
pub struct ObjectIndex {
    namespaces: HashMap<Arc<str>, Space>,
    /// Node name → (namespace, name) of the objects on it.
    by_node: HashMap<Name, HashSet<(Arc<str>, Name)>>,
    /// The labels objects had before a relabel, until the relabel's event is mapped
    /// ([`ObjectIndex::take_relabelled`]): a pod relabelled out of a selector must still reach
    /// the LoadBalancer that selected it, and its event carries only the new labels.
    relabelled: HashMap<(Arc<str>, Name), Vec<LabelMap>>,
}

impl ObjectIndex {
    /// Indexes the object `namespace/name`, replacing what was indexed under that key, and
    /// remembers the labels it had before when they change.
    pub fn insert(&mut self, namespace: &str, name: &str, labels: &BTreeMap<String, String>, node: Option<&str>) {
        self.insert_as(namespace, name, labels, node, true);
    }

    fn insert_as(&mut self, namespace: &str, name: &str, labels: &BTreeMap<String, String>, node: Option<&str>, relabels: bool) {
        if let Some(stored) = self.namespaces.get(namespace).and_then(|s| s.objects.get(name)) {
            // Status updates, the most frequent pod events, move nothing.
            if same_labels(&stored.labels, labels) && stored.node.as_deref() == node {
                return;
            }
            if relabels && !same_labels(&stored.labels, labels) {
                let before = stored.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                self.relabelled.entry((Arc::from(namespace), Arc::from(name))).or_default().push(before);
            }
            self.delete(namespace, name);
        }
        let ns = shared(&self.namespaces, namespace);
        let space = self.namespaces.entry(ns.clone()).or_default();
        let name: Name = Arc::from(name);
        let mut pairs = Vec::with_capacity(labels.len());
        for (k, v) in labels {
            let key = shared(&space.by_label, k);
            let values = space.by_label.entry(key.clone()).or_default();
            let value = shared(values, v);
            values.entry(value.clone()).or_default().insert(name.clone());
            pairs.push((key, value));
        }
        let node = node.map(|n| {
            let n = shared(&self.by_node, n);
            self.by_node.entry(n.clone()).or_default().insert((ns.clone(), name.clone()));
            n
        });
        space.objects.insert(name, Stored { labels: pairs.into(), node });
    }

    /// Forgets the object `namespace/name`; empty sets go with it.
    pub fn delete(&mut self, namespace: &str, name: &str) {
        let Some(space) = self.namespaces.get_mut(namespace) else { return };
        let Some((name, stored)) = space.objects.remove_entry(name) else { return };
        for (k, v) in stored.labels.iter() {
            if let Some(values) = space.by_label.get_mut(k) {
                if let Some(names) = values.get_mut(v) {
                    names.remove(&name);
                    if names.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    space.by_label.remove(k);
                }
            }
        }
        if space.objects.is_empty() {
            self.namespaces.remove(namespace);
        }
        if let Some(node) = stored.node {
            if let Some(on_node) = self.by_node.get_mut(&node) {
                on_node.remove(&(Arc::from(namespace), name));
                if on_node.is_empty() {
                    self.by_node.remove(&node);
                }
            }
        }
    }

    /// The names in `namespace` a selector with these `matchLabels` could select: those
    /// carrying its rarest pair (none when one pair is carried by nothing), or the whole
    /// namespace without `matchLabels`. A superset: the caller still runs the selector.
    pub fn candidates(&self, namespace: &str, match_labels: Option<&BTreeMap<String, String>>) -> Vec<Name> {
        let Some(space) = self.namespaces.get(namespace) else { return Vec::new() };
        let pairs = match_labels.into_iter().flatten();
        let sets: Option<Vec<&HashSet<Name>>> =
            pairs.map(|(k, v)| space.by_label.get(k.as_str()).and_then(|vs| vs.get(v.as_str()))).collect();
        match sets {
            None => Vec::new(),
            Some(sets) => match sets.into_iter().min_by_key(|s| s.len()) {
                Some(rarest) => rarest.iter().cloned().collect(),
                None => space.objects.keys().cloned().collect(),
            },
        }
    }

    /// The labels `namespace/name` had before the relabels indexed since the last call (none
    /// when it was not relabelled), forgotten once taken.
    pub fn take_relabelled(&mut self, namespace: &str, name: &str) -> Vec<BTreeMap<String, String>> {
        self.relabelled.remove(&(Arc::from(namespace), Arc::from(name))).unwrap_or_default()
    }

    /// The (namespace, name) of the objects indexed on `node`.
    pub fn on_node(&self, node: &str) -> Vec<(Name, Name)> {
        self.by_node.get(node).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// How many objects are indexed.
    pub fn len(&self) -> usize {
        self.namespaces.values().map(|s| s.objects.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }
}

impl<K: Indexed> Index<K> for ObjectIndex {
    fn upsert(&mut self, obj: &K) {
        let (ns, name) = obj.key();
        match obj.entry() {
            Some(e) => self.insert_as(&ns, &name, e.labels, e.node, K::RELABELS),
            None => self.delete(&ns, &name),
        }
    }
    fn remove(&mut self, obj: &K) {
        let (ns, name) = obj.key();
        self.delete(&ns, &name);
    }
}

/// Selectors (LoadBalancers' podSelectors) by namespace and by one of their `matchLabels`
/// pairs: a selector can match only objects that carry every pair, so any one pair is
/// enough to find it from an object's labels.
#[derive(Debug, Default)]
pub struct SelectorIndex {
    namespaces: HashMap<Arc<str>, Selectors>,
}

#[derive(Debug, Default)]
struct Selectors {
    /// Name → the pair it is indexed under (`None`: without `matchLabels`, in `wide`).
    anchors: HashMap<Name, Option<Pair>>,
    /// Those without `matchLabels`: candidates for every object of the namespace.
    wide: HashSet<Name>,
    /// Label key → value → the names anchored at that pair.
    by_pair: HashMap<Arc<str>, HashMap<Arc<str>, HashSet<Name>>>,
}

impl SelectorIndex {
    /// Indexes the selector `namespace/name` with these `matchLabels`, replacing what was
    /// indexed under that key.
    pub fn insert(&mut self, namespace: &str, name: &str, match_labels: &BTreeMap<String, String>) {
        // The first pair (in key order) anchors it: a stable choice, so a re-apply moves nothing.
        let anchor = match_labels.iter().next();
        let unchanged = self
            .namespaces
            .get(namespace)
            .and_then(|s| s.anchors.get(name))
            .is_some_and(|a| a.as_ref().map(|(k, v)| (&**k, &**v)) == anchor.map(|(k, v)| (k.as_str(), v.as_str())));
        if unchanged {
            return;
        }
        self.delete(namespace, name);
        let ns = shared(&self.namespaces, namespace);
        let selectors = self.namespaces.entry(ns).or_default();
        let name: Name = Arc::from(name);
        let anchor = anchor.map(|(k, v)| {
            let key = shared(&selectors.by_pair, k);
            let values = selectors.by_pair.entry(key.clone()).or_default();
            let value = shared(values, v);
            values.entry(value.clone()).or_default().insert(name.clone());
            (key, value)
        });
        if anchor.is_none() {
            selectors.wide.insert(name.clone());
        }
        selectors.anchors.insert(name, anchor);
    }

    pub fn delete(&mut self, namespace: &str, name: &str) {
        let Some(selectors) = self.namespaces.get_mut(namespace) else { return };
        let Some(anchor) = selectors.anchors.remove(name) else { return };
        match anchor {
            Some((k, v)) => {
                if let Some(values) = selectors.by_pair.get_mut(&k) {
                    if let Some(names) = values.get_mut(&v) {
                        names.remove(name);
                        if names.is_empty() {
                            values.remove(&v);
                        }
                    }
                    if values.is_empty() {
                        selectors.by_pair.remove(&k);
                    }
                }
            }
            None => {
                selectors.wide.remove(name);
            }
        }
        if selectors.anchors.is_empty() {
            self.namespaces.remove(namespace);
        }
    }

    /// The names of the selectors in `namespace` that could match an object with `labels`.
    /// A superset: the caller still runs each selector.
    pub fn candidates(&self, namespace: &str, labels: &BTreeMap<String, String>) -> Vec<Name> {
        let Some(selectors) = self.namespaces.get(namespace) else { return Vec::new() };
        let mut out: Vec<Name> = selectors.wide.iter().cloned().collect();
        for (k, v) in labels {
            let names = selectors.by_pair.get(k.as_str()).and_then(|values| values.get(v.as_str()));
            out.extend(names.into_iter().flatten().cloned());
        }
        out
    }

    pub fn len(&self) -> usize {
        self.namespaces.values().map(|s| s.anchors.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }
}

impl<K: Indexed> Index<K> for SelectorIndex {
    fn upsert(&mut self, obj: &K) {
        let (ns, name) = obj.key();
        match obj.entry().and_then(|e| e.match_labels) {
            Some(match_labels) => self.insert(&ns, &name, match_labels),
            None => self.delete(&ns, &name),
        }
    }
    fn remove(&mut self, obj: &K) {
        let (ns, name) = obj.key();
        self.delete(&ns, &name);
    }
}

/// An index kept in step with a reflector: applies and deletes go to the live index; a
/// re-list (`Init`, `InitApply`…, `InitDone`) builds a new one that replaces it at
/// `InitDone`, exactly when the reflector's store swaps its own.
#[derive(Debug, Default)]
pub struct Synced<I> {
    live: I,
    relist: Option<I>,
}

impl<I> Synced<I> {
    /// Applies one watch event.
    pub fn observe<K>(&mut self, event: &watcher::Event<K>)
    where
        I: Index<K>,
    {
        match event {
            watcher::Event::Apply(obj) => self.live.upsert(obj),
            watcher::Event::Delete(obj) => self.live.remove(obj),
            watcher::Event::Init => self.relist = Some(I::default()),
            watcher::Event::InitApply(obj) => self.relist.get_or_insert_with(I::default).upsert(obj),
            watcher::Event::InitDone => self.live = self.relist.take().unwrap_or_default(),
        }
    }

    /// The index as the store holds its objects now.
    pub fn live(&self) -> &I {
        &self.live
    }

    pub fn live_mut(&mut self) -> &mut I {
        &mut self.live
    }
}

/// The indexes of the caches, shared between the watches that write them and the
/// reconciles and triggers that read them.
#[derive(Debug, Default)]
pub struct Indexes {
    pub pods: RwLock<Synced<ObjectIndex>>,
    pub nodes: RwLock<Synced<ObjectIndex>>,
    pub loadbalancers: RwLock<Synced<SelectorIndex>>,
}

impl Indexes {
    /// Reads one index; a writer that panicked left it usable (each update is whole or not
    /// begun), so a poisoned lock is read through.
    pub fn read<I, T>(lock: &RwLock<Synced<I>>, f: impl FnOnce(&I) -> T) -> T {
        f(lock.read().unwrap_or_else(|e| e.into_inner()).live())
    }

    /// Changes one index outside of the watch's events.
    pub fn write<I, T>(lock: &RwLock<Synced<I>>, f: impl FnOnce(&mut I) -> T) -> T {
        f(lock.write().unwrap_or_else(|e| e.into_inner()).live_mut())
    }

    /// Applies a watch event to one index.
    pub fn observe<I: Index<K>, K>(lock: &RwLock<Synced<I>>, event: &watcher::Event<K>) {
        lock.write().unwrap_or_else(|e| e.into_inner()).observe(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn pod(ns: &str, name: &str, pairs: &[(&str, &str)], node: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some(ns.into()), labels: Some(labels(pairs)), ..Default::default() },
            spec: Some(PodSpec { node_name: node.map(String::from), ..Default::default() }),
            status: None,
        }
    }

    fn sorted(names: Vec<Name>) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn candidates_are_the_rarest_pairs_objects_or_the_namespace() {
        let mut index = ObjectIndex::default();
        index.insert("a", "web-1", &labels(&[("app", "web"), ("tier", "front")]), Some("n1"));
        index.insert("a", "web-2", &labels(&[("app", "web"), ("tier", "front")]), Some("n2"));
        index.insert("a", "api-1", &labels(&[("app", "api"), ("tier", "front")]), Some("n1"));
        index.insert("b", "web-3", &labels(&[("app", "web")]), Some("n1"));
        assert_eq!(sorted(index.candidates("a", Some(&labels(&[("app", "web")])))), ["web-1", "web-2"]);
        // The rarest pair narrows: `app=api` has one object, `tier=front` three.
        assert_eq!(sorted(index.candidates("a", Some(&labels(&[("tier", "front"), ("app", "api")])))), ["api-1"]);
        // A pair nobody carries: nothing can match.
        assert!(index.candidates("a", Some(&labels(&[("app", "web"), ("tier", "back")]))).is_empty());
        // No matchLabels: the whole namespace, never another's.
        assert_eq!(sorted(index.candidates("a", None)), ["api-1", "web-1", "web-2"]);
        assert_eq!(sorted(index.candidates("a", Some(&BTreeMap::new()))), ["api-1", "web-1", "web-2"]);
        assert!(index.candidates("c", None).is_empty());
        let mut on_n1: Vec<String> = index.on_node("n1").iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
        on_n1.sort();
        assert_eq!(on_n1, ["a/api-1", "a/web-1", "b/web-3"]);
        assert!(index.on_node("n9").is_empty());
    }

    #[test]
    fn a_relabelled_or_moved_object_is_found_only_where_it_is_now() {
        let mut index = ObjectIndex::default();
        index.insert("a", "p", &labels(&[("app", "web")]), None);
        index.insert("a", "p", &labels(&[("app", "api")]), Some("n1"));
        assert!(index.candidates("a", Some(&labels(&[("app", "web")]))).is_empty());
        assert_eq!(sorted(index.candidates("a", Some(&labels(&[("app", "api")])))), ["p"]);
        assert_eq!(index.take_relabelled("a", "p"), [labels(&[("app", "web")])]);
        assert!(index.take_relabelled("a", "p").is_empty(), "taken once");
        index.insert("a", "p", &labels(&[("app", "api")]), Some("n2"));
        assert!(index.take_relabelled("a", "p").is_empty(), "moved to another node, not relabelled");
        assert!(index.on_node("n1").is_empty());
        assert_eq!(index.on_node("n2").len(), 1);
        assert_eq!(index.len(), 1);
        index.delete("a", "p");
        assert!(index.is_empty(), "no empty set is left behind: {index:?}");
        assert!(index.by_node.is_empty());
        index.delete("a", "p");
        index.delete("z", "p");
    }

    /// A re-list replaces the whole set at `InitDone`, not before: objects gone while the
    /// watch was down leave the index then, and reads meanwhile see the old set.
    #[test]
    fn a_relist_replaces_the_index_when_it_is_done() {
        let mut synced = Synced::<ObjectIndex>::default();
        synced.observe(&watcher::Event::Apply(pod("a", "old", &[("app", "web")], Some("n1"))));
        synced.observe(&watcher::Event::Apply(pod("a", "kept", &[("app", "web")], Some("n1"))));
        synced.observe(&watcher::Event::<Pod>::Init);
        synced.observe(&watcher::Event::InitApply(pod("a", "kept", &[("app", "api")], Some("n1"))));
        assert_eq!(sorted(synced.live().candidates("a", None)), ["kept", "old"], "still the old set");
        synced.observe(&watcher::Event::InitApply(pod("a", "new", &[("app", "web")], None)));
        synced.observe(&watcher::Event::<Pod>::InitDone);
        assert_eq!(sorted(synced.live().candidates("a", Some(&labels(&[("app", "web")])))), ["new"]);
        assert_eq!(synced.live().len(), 2);
        synced.observe(&watcher::Event::Delete(pod("a", "kept", &[], None)));
        assert_eq!(sorted(synced.live().candidates("a", None)), ["new"]);
        assert!(synced.live().on_node("n1").is_empty());
    }

    fn lb(ns: &str, name: &str, selector: Option<LabelSelector>) -> LoadBalancer {
        let mut lb = LoadBalancer::new(name, serde_json::from_value(serde_json::json!({"listeners": []})).unwrap());
        lb.metadata.namespace = Some(ns.into());
        lb.spec.backends = selector.map(|s| crate::crd::Backends { pod_selector: Some(s), ..Default::default() });
        lb
    }

    #[test]
    fn selectors_are_found_from_the_labels_they_need() {
        let mut index = Synced::<SelectorIndex>::default();
        let by_labels = |pairs: &[(&str, &str)]| LabelSelector { match_labels: Some(labels(pairs)), ..Default::default() };
        for event in [
            watcher::Event::Apply(lb("a", "web", Some(by_labels(&[("app", "web"), ("tier", "front")])))),
            watcher::Event::Apply(lb("a", "expr", Some(LabelSelector::default()))),
            watcher::Event::Apply(lb("a", "none", None)),
            watcher::Event::Apply(lb("b", "web-b", Some(by_labels(&[("app", "web")])))),
        ] {
            index.observe(&event);
        }
        let live = index.live();
        assert_eq!(sorted(live.candidates("a", &labels(&[("app", "web"), ("tier", "front")]))), ["expr", "web"]);
        assert_eq!(sorted(live.candidates("a", &labels(&[("app", "db")]))), ["expr"]);
        assert_eq!(sorted(live.candidates("b", &labels(&[("app", "web")]))), ["web-b"]);
        assert_eq!(live.len(), 3, "a LoadBalancer without a podSelector is not indexed");
        // Its selector changes: it moves; it goes: it is forgotten.
        index.observe(&watcher::Event::Apply(lb("a", "web", Some(by_labels(&[("app", "db")])))));
        assert_eq!(sorted(index.live().candidates("a", &labels(&[("app", "db")]))), ["expr", "web"]);
        assert_eq!(sorted(index.live().candidates("a", &labels(&[("app", "web")]))), ["expr"]);
        index.observe(&watcher::Event::Apply(lb("a", "web", None)));
        index.observe(&watcher::Event::Delete(lb("a", "expr", None)));
        index.observe(&watcher::Event::Delete(lb("b", "web-b", None)));
        assert!(index.live().is_empty(), "{:?}", index.live());
    }
}
