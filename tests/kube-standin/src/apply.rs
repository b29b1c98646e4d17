//! Server-side apply and field ownership: which manager owns which fields, conflicts, and
//! removal of fields a manager stops applying. Field paths are lists of segments: `f:name`
//! for object fields, `k:{"name":"a"}` for entries of lists with map keys and `v:"a"` for
//! entries of `x-kubernetes-list-type: set` lists; other lists are atomic (owned as a whole).
//! The pruning follows structured-merge-diff (merge/update.go `prune`, typed/remove.go).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::resources::ResourceType;

/// One field path.
pub type FieldPath = Vec<String>;

/// Ownership of one manager.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    /// Fields owned.
    pub fields: BTreeSet<FieldPath>,
    /// Whether the fields came from an apply (else from an update).
    pub applied: bool,
}

/// Managers of one object: (manager, subresource) → fields.
pub type Managers = BTreeMap<(String, String), Owned>;

/// Which part of an object a request touches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Part {
    /// The main resource (status excluded when the status subresource is on).
    Main { status_separate: bool },
    /// The status subresource.
    Status,
}

fn include_top(key: &str, part: Part) -> bool {
    match part {
        Part::Status => key == "status",
        Part::Main { status_separate } => !(key == "apiVersion" || key == "kind" || (status_separate && key == "status")),
    }
}

/// The leaf field paths set in `obj` (the part a request touches).
pub fn fields_of(rt: &ResourceType, version: &str, obj: &Value, part: Part) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    if let Value::Object(m) = obj {
        for (k, v) in m {
            if !include_top(k, part) {
                continue;
            }
            if k == "metadata" {
                if let Value::Object(md) = v {
                    for mk in ["labels", "annotations"] {
                        if let Some(Value::Object(l)) = md.get(mk) {
                            for lk in l.keys() {
                                out.insert(vec!["f:metadata".into(), format!("f:{mk}"), format!("f:{lk}")]);
                            }
                        }
                    }
                    // finalizers: a set; ownerReferences: a list-map keyed by uid.
                    for mk in ["finalizers", "ownerReferences"] {
                        if let Some(x) = md.get(mk).filter(|x| !x.is_null()) {
                            walk(
                                rt,
                                version,
                                x,
                                &mut vec!["f:metadata".into(), format!("f:{mk}")],
                                &mut vec!["metadata".into(), mk.into()],
                                &mut out,
                            );
                        }
                    }
                }
                continue;
            }
            walk(rt, version, v, &mut vec![format!("f:{k}")], &mut vec![k.clone()], &mut out);
        }
    }
    out
}

fn walk(rt: &ResourceType, version: &str, v: &Value, path: &mut FieldPath, schema_path: &mut Vec<String>, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                path.push(format!("f:{k}"));
                schema_path.push(k.clone());
                walk(rt, version, x, path, schema_path, out);
                path.pop();
                schema_path.pop();
            }
        }
        Value::Array(a) => match rt.list_map_keys(version, schema_path) {
            Some(keys) if a.iter().all(Value::is_object) => {
                // Each element is a member of the set by itself (besides its fields, keys
                // included), as in structured-merge-diff's ToFieldSet: removing that member
                // path removes the whole element. An empty list owns nothing.
                for item in a {
                    path.push(key_segment(&keys, item));
                    out.insert(path.clone());
                    schema_path.push("[]".into());
                    walk(rt, version, item, path, schema_path, out);
                    schema_path.pop();
                    path.pop();
                }
            }
            _ if rt.is_set_list(version, schema_path) && a.iter().all(is_scalar) => {
                // Set elements are owned one by one (`v:` paths), like list-map elements.
                for item in a {
                    path.push(format!("v:{item}"));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

fn key_segment(keys: &[String], item: &Value) -> String {
    let mut m = Map::new();
    for k in keys {
        m.insert(k.clone(), item.get(k).cloned().unwrap_or(Value::Null));
    }
    format!("k:{}", Value::Object(m))
}

fn is_scalar(v: &Value) -> bool {
    !(v.is_object() || v.is_array())
}

fn matches_key(seg: &str, item: &Value) -> bool {
    if let Some(js) = seg.strip_prefix("v:") {
        return serde_json::from_str::<Value>(js).is_ok_and(|v| v == *item);
    }
    let Some(js) = seg.strip_prefix("k:") else {
        return false;
    };
    let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(js) else {
        return false;
    };
    keys.iter().all(|(k, v)| item.get(k).unwrap_or(&Value::Null) == v)
}

/// The value at a field path.
pub fn get_path<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = if let Some(f) = seg.strip_prefix("f:") { cur.get(f)? } else { cur.as_array()?.iter().find(|i| matches_key(seg, i))? };
    }
    Some(cur)
}

/// Removes the value at a field path; prunes objects left empty by the removal.
pub fn remove_path(obj: &mut Value, path: &[String]) {
    fn rec(cur: &mut Value, path: &[String]) -> bool {
        let Some((seg, rest)) = path.split_first() else {
            return false;
        };
        if rest.is_empty() {
            if let Some(f) = seg.strip_prefix("f:") {
                if let Some(m) = cur.as_object_mut() {
                    m.remove(f);
                }
            } else if let Some(a) = cur.as_array_mut() {
                a.retain(|i| !matches_key(seg, i));
            }
        } else {
            let child = if let Some(f) = seg.strip_prefix("f:") {
                cur.get_mut(f)
            } else {
                cur.as_array_mut().and_then(|a| a.iter_mut().find(|i| matches_key(seg, i)))
            };
            if let Some(c) = child {
                if rec(c, rest) {
                    if let Some(f) = seg.strip_prefix("f:") {
                        if let Some(m) = cur.as_object_mut() {
                            m.remove(f);
                        }
                    } else if let Some(a) = cur.as_array_mut() {
                        a.retain(|i| !matches_key(seg, i));
                    }
                }
            }
        }
        // Tell the parent to drop this node if the removal emptied it (metadata excepted).
        matches!(cur, Value::Object(m) if m.is_empty())
    }
    if path.first().map(String::as_str) == Some("f:metadata") && path.len() == 2 {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove(path[1].trim_start_matches("f:"));
        }
        return;
    }
    rec(obj, path);
}

/// Merges an applied configuration into the live object: objects recursively, lists with
/// map keys by key, anything else replaced.
pub fn merge_applied(rt: &ResourceType, version: &str, live: &mut Value, applied: &Value, schema_path: &mut Vec<String>) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                schema_path.push(k.clone());
                match l.get_mut(k) {
                    Some(existing) if !v.is_null() => merge_applied(rt, version, existing, v, schema_path),
                    _ => {
                        l.insert(k.clone(), v.clone());
                    }
                }
                schema_path.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match rt.list_map_keys(version, schema_path) {
            Some(keys) if a.iter().all(Value::is_object) && l.iter().all(Value::is_object) => {
                for item in a {
                    let seg = key_segment(&keys, item);
                    schema_path.push("[]".into());
                    match l.iter_mut().find(|i| matches_key(&seg, i)) {
                        Some(existing) => merge_applied(rt, version, existing, item, schema_path),
                        None => l.push(item.clone()),
                    }
                    schema_path.pop();
                }
            }
            _ if rt.is_set_list(version, schema_path) && a.iter().all(is_scalar) && l.iter().all(is_scalar) => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            _ => *l = a.clone(),
        },
        (l, a) => *l = a.clone(),
    }
}

/// Whether two field paths overlap (one is a prefix of the other).
fn overlaps(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Whether a path names a list element itself (`k:…`) rather than a field. Such member
/// paths never conflict and are not taken over by changes inside the element: conflicts
/// are about values, and an element that exists in both objects is neither added nor
/// modified (structured-merge-diff compares leaves).
fn is_element(p: &[String]) -> bool {
    p.last().is_some_and(|s| s.starts_with("k:") || s.starts_with("v:"))
}

/// A set plus the named fields above its paths (structured-merge-diff's
/// `EnsureNamedFieldsAreMembers`): owning `.spec.a.b` also keeps `.spec.a` and `.spec`.
/// Metadata is left out: its maps are never removed as a whole by an apply.
fn with_named_ancestors(set: &BTreeSet<FieldPath>) -> BTreeSet<FieldPath> {
    let mut out = set.clone();
    for p in set {
        if p.first().map(String::as_str) == Some("f:metadata") {
            continue;
        }
        for i in 1..p.len() {
            if p[i - 1].starts_with("f:") {
                out.insert(p[..i].to_vec());
            }
        }
    }
    out
}

/// Whether `p` is a key field of a list element (`[…, k:{"port":80}, f:port]`).
fn is_key_field(p: &[String]) -> bool {
    let [.., parent, last] = p else {
        return false;
    };
    let (Some(k), Some(f)) = (parent.strip_prefix("k:"), last.strip_prefix("f:")) else {
        return false;
    };
    matches!(serde_json::from_str::<Value>(k), Ok(Value::Object(m)) if m.contains_key(f))
}

/// What an apply prunes, as structured-merge-diff's `Updater.prune` does: the paths the
/// manager applied last time (with their named ancestors) that no manager owns now
/// (with theirs; the applier's new set included). A pruned element path takes the whole
/// element, keys and all; a surviving element keeps its keys.
fn to_prune(last: &BTreeSet<FieldPath>, managers: &Managers) -> Vec<FieldPath> {
    let mut owned = BTreeSet::new();
    for o in managers.values() {
        owned.extend(o.fields.iter().cloned());
    }
    let owned = with_named_ancestors(&owned);
    let gone: BTreeSet<FieldPath> = with_named_ancestors(last).difference(&owned).cloned().collect();
    gone.iter()
        // A key field goes only with its element.
        .filter(|p| !is_key_field(p) || gone.contains(&p[..p.len() - 1]))
        .cloned()
        .collect()
}

/// One conflict: the path (as `.spec.size`) and the manager owning it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Dotted field path.
    pub field: String,
    /// The other manager.
    pub manager: String,
}

/// Renders a field path as the apiserver does in conflict messages.
pub fn render(path: &[String]) -> String {
    path.iter()
        .map(|s| {
            if let Some(f) = s.strip_prefix("f:") {
                format!(".{f}")
            } else if let Some(v) = s.strip_prefix("v:") {
                format!("[={v}]")
            } else {
                // structured-merge-diff's PathElement.String(): `[name="a",port=80]`.
                let mut keys: Vec<String> = match serde_json::from_str::<Value>(s.trim_start_matches("k:")) {
                    Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    _ => vec![s.trim_start_matches("k:").to_string()],
                };
                keys.sort();
                format!("[{}]", keys.join(","))
            }
        })
        .collect()
}

/// Applies `applied` for `manager` onto `live` (None: create). Returns the new object or
/// the conflicts (when not forced). Updates `managers`.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    rt: &ResourceType,
    version: &str,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: &str,
    force: bool,
    managers: &mut Managers,
) -> Result<Value, Vec<Conflict>> {
    let part = if subresource == "status" { Part::Status } else { Part::Main { status_separate: rt.status } };
    let new_fields = fields_of(rt, version, applied, part);
    let base = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let me = (manager.to_string(), subresource.to_string());

    let mut conflicts = Vec::new();
    for (who, owned) in managers.iter() {
        if *who == me {
            continue;
        }
        for p in owned.fields.iter().filter(|p| !is_element(p)) {
            for n in new_fields.iter().filter(|n| !is_element(n)) {
                if overlaps(p, n) && get_path(&base, p) != get_path(applied, p) {
                    conflicts.push((who.clone(), p.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let mut out: Vec<Conflict> = conflicts.iter().map(|(w, p)| Conflict { field: render(p), manager: w.0.clone() }).collect();
        out.dedup();
        return Err(out);
    }
    for (who, p) in &conflicts {
        if let Some(o) = managers.get_mut(who) {
            o.fields.remove(p);
        }
    }

    // Merge the applied part into the live object.
    let mut merged = base;
    if let Value::Object(a) = applied {
        let mut filtered = Map::new();
        for (k, v) in a {
            if k == "metadata" {
                let mut md = Map::new();
                if let Value::Object(m) = v {
                    for mk in ["labels", "annotations", "finalizers", "ownerReferences", "name", "namespace", "generateName"] {
                        if let Some(x) = m.get(mk) {
                            md.insert(mk.into(), x.clone());
                        }
                    }
                }
                if part != Part::Status {
                    filtered.insert(k.clone(), Value::Object(md));
                }
            } else if include_top(k, part) || k == "apiVersion" || k == "kind" {
                filtered.insert(k.clone(), v.clone());
            }
        }
        merge_applied(rt, version, &mut merged, &Value::Object(filtered), &mut Vec::new());
    }

    // Remove what this manager applied before and no longer does, unless others own it.
    let previous = managers.get(&me).map(|o| o.fields.clone()).unwrap_or_default();
    managers.insert(me, Owned { fields: new_fields, applied: true });
    // Shortest first: once an element or object goes, the paths inside it are moot.
    let mut gone = to_prune(&previous, managers);
    gone.sort_by_key(Vec::len);
    for p in &gone {
        remove_path(&mut merged, p);
    }
    managers.retain(|_, o| !o.fields.is_empty());
    Ok(merged)
}

/// Records an update (PUT/PATCH/POST) by `manager`: fields whose value it changed become
/// its own and leave other managers.
pub fn record_update(
    rt: &ResourceType,
    version: &str,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    subresource: &str,
    managers: &mut Managers,
) {
    let part = if subresource == "status" { Part::Status } else { Part::Main { status_separate: rt.status } };
    let new_fields = fields_of(rt, version, new, part);
    let changed: BTreeSet<FieldPath> = match old {
        None => new_fields,
        Some(o) => {
            let old_fields = fields_of(rt, version, o, part);
            new_fields
                .iter()
                // An element present before is not changed by edits of its fields.
                .filter(|p| if is_element(p) { get_path(o, p).is_none() } else { get_path(o, p) != get_path(new, p) })
                .chain(old_fields.iter().filter(|p| get_path(new, p).is_none()))
                .cloned()
                .collect()
        }
    };
    if changed.is_empty() {
        return;
    }
    let me = (manager.to_string(), subresource.to_string());
    for (who, o) in managers.iter_mut() {
        if *who != me {
            // A change inside an element does not take the element itself (only its
            // addition or removal does, and then the paths are equal).
            o.fields.retain(|p| !changed.iter().any(|c| overlaps(p, c) && !(is_element(p) && p.len() < c.len())));
        }
    }
    let entry = managers.entry(me).or_default();
    for c in changed {
        if get_path(new, &c).is_some() {
            entry.fields.insert(c);
        } else {
            entry.fields.remove(&c);
        }
    }
    managers.retain(|_, o| !o.fields.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_type() -> ResourceType {
        let crd = json!({"spec": {"group": "acc.dev", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                                  "items": {"type": "object"}},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "zones": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}}}}}}]}});
        crate::resources::from_crd(&crd).unwrap()
    }

    #[test]
    fn apply_removes_dropped_fields_and_keeps_shared_ones() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a1 = json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "spec": {"size": 1, "color": "red"}});
        let live = apply(&rt, "v1", None, &a1, "a", "", false, &mut m).unwrap();
        let b = json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "spec": {"color": "red"}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        let a2 = json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "spec": {"size": 1}});
        let live = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(live["spec"], json!({"size": 1, "color": "red"}), "b still owns color");
        let a3 = json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "spec": {"size": 2}});
        let b2 = json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "spec": {"other": true}});
        let live = apply(&rt, "v1", Some(&live), &a3, "a", "", false, &mut m).unwrap();
        let live = apply(&rt, "v1", Some(&live), &b2, "b", "", false, &mut m).unwrap();
        assert_eq!(live["spec"], json!({"size": 2, "other": true}));
    }

    #[test]
    fn conflicts_unless_forced_and_list_maps_merge_by_key() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a = json!({"spec": {"ports": [{"port": 80, "name": "http"}], "tags": ["x"]}});
        let live = apply(&rt, "v1", None, &a, "a", "", false, &mut m).unwrap();
        let b = json!({"spec": {"ports": [{"port": 443, "name": "https"}]}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        assert_eq!(live["spec"]["ports"], json!([{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]));
        let c = json!({"spec": {"tags": ["y"]}});
        let err = apply(&rt, "v1", Some(&live), &c, "c", "", false, &mut m).unwrap_err();
        assert_eq!(err, vec![Conflict { field: ".spec.tags".into(), manager: "a".into() }]);
        let live = apply(&rt, "v1", Some(&live), &c, "c", "", true, &mut m).unwrap();
        assert_eq!(live["spec"]["tags"], json!(["y"]));
        assert!(!m[&("a".to_string(), String::new())].fields.iter().any(|p| render(p) == ".spec.tags"));
    }

    #[test]
    fn status_apply_touches_only_status() {
        let rt = widget_type();
        let mut m = Managers::new();
        let live = json!({"spec": {"size": 1}});
        let s = json!({"spec": {"size": 9}, "status": {"ok": true}});
        let out = apply(&rt, "v1", Some(&live), &s, "ctl", "status", true, &mut m).unwrap();
        assert_eq!(out, json!({"spec": {"size": 1}, "status": {"ok": true}}));
    }

    #[test]
    fn updates_take_ownership_from_appliers() {
        let rt = widget_type();
        let mut m = Managers::new();
        let live = apply(&rt, "v1", None, &json!({"spec": {"size": 1}}), "a", "", false, &mut m).unwrap();
        let mut edited = live.clone();
        edited["spec"]["size"] = json!(5);
        record_update(&rt, "v1", Some(&live), &edited, "kubectl-edit", "", &mut m);
        let err = apply(&rt, "v1", Some(&edited), &json!({"spec": {"size": 1}}), "a", "", false, &mut m).unwrap_err();
        assert_eq!(err[0].manager, "kubectl-edit");
    }

    #[test]
    fn a_dropped_list_map_element_goes_whole_unless_co_owned() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a1 = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "alt", "x": {"y": 1}}]}});
        let live = apply(&rt, "v1", None, &a1, "a", "", false, &mut m).unwrap();
        let a2 = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}});
        let out = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "name": "http"}]));

        // Co-owned by an applier: the element keeps its keys and that manager's fields.
        let live = apply(&rt, "v1", Some(&out), &a1, "a", "", false, &mut m).unwrap();
        let b = json!({"spec": {"ports": [{"port": 81, "extra": true}]}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        let out = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "name": "http"}, {"port": 81, "extra": true}]));
    }

    #[test]
    fn an_edit_inside_an_element_does_not_take_the_element() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a1 = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "alt"}]}});
        let live = apply(&rt, "v1", None, &a1, "a", "", false, &mut m).unwrap();
        let mut edited = live.clone();
        edited["spec"]["ports"][1]["name"] = json!("other");
        record_update(&rt, "v1", Some(&live), &edited, "editor", "", &mut m);
        let a = &m[&("a".to_string(), String::new())].fields;
        assert!(a.iter().any(|p| render(p) == ".spec.ports[port=81]"));
        assert!(!a.iter().any(|p| render(p) == ".spec.ports[port=81].name"));
        // Dropping the element: "a" still owns it, the editor owns only a field inside;
        // structured-merge-diff then removes the element whole (its path is pruned).
        let a2 = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}});
        let out = apply(&rt, "v1", Some(&edited), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "name": "http"}]));
    }

    #[test]
    fn a_dropped_nested_object_goes_with_its_parent_fields() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a1 = json!({"spec": {"size": 1, "opts": {"deep": {"x": 1, "y": 2}}}});
        let live = apply(&rt, "v1", None, &a1, "a", "", false, &mut m).unwrap();
        let b = json!({"spec": {"opts": {"other": true}}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        let a2 = json!({"spec": {"size": 1}});
        let out = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(out["spec"], json!({"size": 1, "opts": {"other": true}}));
    }

    #[test]
    fn set_elements_are_owned_one_by_one() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a1 = json!({"spec": {"zones": ["a", "b"]}});
        let live = apply(&rt, "v1", None, &a1, "a", "", false, &mut m).unwrap();
        let b = json!({"spec": {"zones": ["b", "c"]}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        assert_eq!(live["spec"]["zones"], json!(["a", "b", "c"]), "a union, no conflict");
        let a2 = json!({"spec": {"zones": ["a"]}});
        let live = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(live["spec"]["zones"], json!(["a", "b", "c"]), "b still owns b");
        let b2 = json!({"spec": {"zones": ["c"]}});
        let live = apply(&rt, "v1", Some(&live), &b2, "b", "", false, &mut m).unwrap();
        assert_eq!(live["spec"]["zones"], json!(["a", "c"]));
        let b3 = json!({"spec": {"tags": ["t"]}});
        let live = apply(&rt, "v1", Some(&live), &b3, "b", "", false, &mut m).unwrap();
        assert_eq!(live["spec"]["zones"], json!(["a"]));
    }

    #[test]
    fn fields_inside_a_shared_element_still_conflict() {
        let rt = widget_type();
        let mut m = Managers::new();
        let a = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}});
        let live = apply(&rt, "v1", None, &a, "a", "", false, &mut m).unwrap();
        let b = json!({"spec": {"ports": [{"port": 80, "name": "web"}]}});
        let err = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap_err();
        assert_eq!(err, vec![Conflict { field: ".spec.ports[port=80].name".into(), manager: "a".into() }]);
        // Same values elsewhere in the element: shared, no conflict.
        let c = json!({"spec": {"ports": [{"port": 80, "extra": 1}]}});
        apply(&rt, "v1", Some(&live), &c, "c", "", false, &mut m).unwrap();
    }

    #[test]
    fn finalizers_merge_as_a_set_and_owner_references_by_uid() {
        let rt = widget_type();
        let mut m = Managers::new();
        let owner = |uid: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": uid, "uid": uid});
        let a = json!({"metadata": {"finalizers": ["a.dev/x"], "ownerReferences": [owner("u1")]}, "spec": {}});
        let live = apply(&rt, "v1", None, &a, "a", "", false, &mut m).unwrap();
        let b = json!({"metadata": {"finalizers": ["b.dev/y"], "ownerReferences": [owner("u2")]}});
        let live = apply(&rt, "v1", Some(&live), &b, "b", "", false, &mut m).unwrap();
        assert_eq!(live["metadata"]["finalizers"], json!(["a.dev/x", "b.dev/y"]));
        assert_eq!(live["metadata"]["ownerReferences"], json!([owner("u1"), owner("u2")]));
        let a2 = json!({"metadata": {}, "spec": {}});
        let live = apply(&rt, "v1", Some(&live), &a2, "a", "", false, &mut m).unwrap();
        assert_eq!(live["metadata"]["finalizers"], json!(["b.dev/y"]));
        assert_eq!(live["metadata"]["ownerReferences"], json!([owner("u2")]));
    }
}
