//! The in-memory state: resource types, objects, field managers, and the event log that
//! watches replay. Every committed change bumps the one global resourceVersion and appends
//! one log entry; nothing else does.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use crate::apply::Managers;
use crate::meta::meta_str;
use crate::resources::{builtins, ResourceType};

/// Watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// ADDED
    Added,
    /// MODIFIED
    Modified,
    /// DELETED
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Store key (group, plural).
    pub store: (String, String),
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for DELETED: the last state, with the deletion's rv).
    pub obj: Value,
    /// The object before the change (MODIFIED), for selector transitions.
    pub old: Option<Value>,
}

/// Store key of objects: (group, plural).
pub type StoreKey = (String, String);
/// Object key within a store: (namespace or "", name).
pub type ObjKey = (String, String);

/// How many log entries are kept; older resourceVersions answer 410 Expired.
const LOG_CAPACITY: usize = 20_000;
/// The first resourceVersion; anything older is "too old", as on a long-lived cluster.
const FIRST_RV: u64 = 1000;

/// The whole state.
#[derive(Debug)]
pub struct State {
    /// Last committed resourceVersion.
    pub rv: u64,
    /// Served types by (group, plural).
    pub types: BTreeMap<(String, String), ResourceType>,
    /// Objects by store key, then (namespace, name), in storage form.
    pub objects: HashMap<StoreKey, BTreeMap<ObjKey, Value>>,
    /// Field managers by object uid.
    pub managers: HashMap<String, Managers>,
    /// Recent changes.
    pub log: VecDeque<LogEntry>,
    /// Oldest resourceVersion a watch may start from.
    pub log_start: u64,
}

impl State {
    /// A fresh state with the built-in types and namespaces.
    pub fn new() -> State {
        let mut s = State {
            rv: FIRST_RV,
            types: BTreeMap::new(),
            objects: HashMap::new(),
            managers: HashMap::new(),
            log: VecDeque::new(),
            log_start: FIRST_RV,
        };
        for t in builtins() {
            s.types.insert((t.group.clone(), t.plural.clone()), t);
        }
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = crate::api::new_namespace(ns);
            s.insert(&(String::new(), "namespaces".into()), obj);
        }
        s
    }

    /// The type served at group/plural (any version check is the caller's).
    pub fn type_of(&self, group: &str, plural: &str) -> Option<&ResourceType> {
        self.types.get(&(group.to_string(), plural.to_string()))
    }

    /// One stored object.
    pub fn get(&self, store: &StoreKey, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(store)?.get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a store, in key order, optionally in one namespace.
    pub fn list(&self, store: &StoreKey, ns: Option<&str>) -> Vec<&Value> {
        match self.objects.get(store) {
            None => Vec::new(),
            Some(m) => m.iter().filter(|((n, _), _)| ns.is_none_or(|x| x == n)).map(|(_, v)| v).collect(),
        }
    }

    /// Whether a namespace exists.
    pub fn namespace(&self, ns: &str) -> Option<&Value> {
        self.get(&(String::new(), "namespaces".into()), "", ns)
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn log(&mut self, entry: LogEntry) {
        self.log.push_back(entry);
        while self.log.len() > LOG_CAPACITY {
            if let Some(e) = self.log.pop_front() {
                self.log_start = e.rv;
            }
        }
    }

    fn key_of(obj: &Value) -> ObjKey {
        (meta_str(obj, "namespace").unwrap_or("").to_string(), meta_str(obj, "name").unwrap_or("").to_string())
    }

    /// Stores a new object (ADDED). Returns it with its resourceVersion.
    pub fn insert(&mut self, store: &StoreKey, mut obj: Value) -> Value {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        self.objects.entry(store.clone()).or_default().insert(Self::key_of(&obj), obj.clone());
        self.log(LogEntry { rv, store: store.clone(), kind: EventType::Added, obj: obj.clone(), old: None });
        obj
    }

    /// Replaces a stored object (MODIFIED). Returns it with its new resourceVersion.
    pub fn replace(&mut self, store: &StoreKey, mut obj: Value) -> Value {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let old = self.objects.entry(store.clone()).or_default().insert(Self::key_of(&obj), obj.clone());
        self.log(LogEntry { rv, store: store.clone(), kind: EventType::Modified, obj: obj.clone(), old });
        obj
    }

    /// Removes a stored object (DELETED, carrying the deletion's resourceVersion).
    pub fn remove(&mut self, store: &StoreKey, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self.objects.get_mut(store)?.remove(&(ns.to_string(), name.to_string()))?;
        if let Some(uid) = meta_str(&obj, "uid") {
            let uid = uid.to_string();
            self.managers.remove(&uid);
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        self.log(LogEntry { rv, store: store.clone(), kind: EventType::Deleted, obj: obj.clone(), old: None });
        Some(obj)
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}
