//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902, with Go's quirks) and a
//! minimal strategic merge patch for built-in kinds.

use serde_json::{Map, Value};

/// RFC 7386 merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let t = target.as_object_mut().expect("object");
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Why a JSON patch failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| PatchError(format!("invalid path {path}")))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn get<'a>(doc: &'a Value, toks: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in &toks[..toks.len() - 1] {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| PatchError(format!("missing path component {t}")))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, toks: &[String], value: Value) -> Result<(), PatchError> {
    if toks.is_empty() {
        *doc = value;
        return Ok(());
    }
    let last = &toks[toks.len() - 1];
    match parent_mut(doc, toks)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| PatchError(format!("invalid index {last}")))?;
                if i > a.len() {
                    return Err(PatchError(format!("index {i} out of bounds")));
                }
                a.insert(i, value);
            }
        }
        _ => return Err(PatchError("cannot add to a scalar".into())),
    }
    Ok(())
}

fn remove(doc: &mut Value, toks: &[String]) -> Result<Value, PatchError> {
    if toks.is_empty() {
        return Err(PatchError("cannot remove the root".into()));
    }
    let last = &toks[toks.len() - 1];
    match parent_mut(doc, toks)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| PatchError(format!("missing key {last}"))),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| PatchError(format!("invalid index {last}")))?;
            if i >= a.len() {
                return Err(PatchError(format!("index {i} out of bounds")));
            }
            Ok(a.remove(i))
        }
        _ => Err(PatchError("cannot remove from a scalar".into())),
    }
}

/// RFC 6902 JSON patch, atomically. Like Go's evanphx/json-patch (which the apiserver uses),
/// a `test` of a missing path against `null` succeeds.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), PatchError> {
    let ops = ops.as_array().ok_or_else(|| PatchError("a JSON patch must be an array".into()))?;
    let mut work = doc.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = split_pointer(op.get("path").and_then(Value::as_str).unwrap_or(""))?;
        let value = || op.get("value").cloned().unwrap_or(Value::Null);
        match kind {
            "add" => add(&mut work, &path, value())?,
            "remove" => {
                remove(&mut work, &path)?;
            }
            "replace" => {
                get(&work, &path).ok_or_else(|| PatchError("replace of a missing path".into()))?;
                remove(&mut work, &path).ok();
                add(&mut work, &path, value())?;
            }
            "move" | "copy" => {
                let from = split_pointer(op.get("from").and_then(Value::as_str).unwrap_or(""))?;
                let v = if kind == "move" {
                    remove(&mut work, &from)?
                } else {
                    get(&work, &from).cloned().ok_or_else(|| PatchError("copy from a missing path".into()))?
                };
                add(&mut work, &path, v)?;
            }
            "test" => {
                let want = value();
                match get(&work, &path) {
                    Some(actual) if *actual == want => {}
                    None if want.is_null() => {}
                    _ => return Err(PatchError("testing value failed".into())),
                }
            }
            other => return Err(PatchError(format!("unexpected kind: {other}"))),
        }
    }
    *doc = work;
    Ok(())
}

/// The merge key of a list field in built-in kinds, by field name (the subset kubectl and
/// controllers touch).
pub fn strategic_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" | "imagePullSecrets" | "readinessGates" => {
            match field {
                "readinessGates" => "conditionType",
                _ => "name",
            }
        }
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "addresses" => "type",
        "tolerations" => return None,
        _ => return None,
    })
}

/// Strategic merge patch for built-in kinds: a merge patch where known lists merge by key,
/// `finalizers` merges as a set, `$patch: delete|replace` and `$deleteFromPrimitiveList`
/// are honoured, and `$setElementOrder`/`$retainKeys` directives are dropped.
pub fn strategic(target: &mut Value, patch: &Value) {
    strategic_at(target, patch, "")
}

fn strategic_at(target: &mut Value, patch: &Value, field: &str) {
    match patch {
        Value::Object(p) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                *target = Value::Object(p);
                return;
            }
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
                    continue;
                }
                if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Array(cur)), Value::Array(del)) = (t.get_mut(list), v) {
                        cur.retain(|x| !del.contains(x));
                    }
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                    continue;
                }
                match (v, strategic_key(k)) {
                    (Value::Array(items), Some(key)) => {
                        let cur = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                        if !cur.is_array() {
                            *cur = Value::Array(Vec::new());
                        }
                        let cur = cur.as_array_mut().expect("array");
                        for item in items {
                            let kv = item.get(key).cloned();
                            let pos = kv.as_ref().and_then(|kv| cur.iter().position(|c| c.get(key) == Some(kv)));
                            let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                            match (pos, delete) {
                                (Some(i), true) => {
                                    cur.remove(i);
                                }
                                (None, true) => {}
                                (Some(i), false) => strategic_at(&mut cur[i], item, k),
                                (None, false) => {
                                    let mut fresh = Value::Object(Map::new());
                                    strategic_at(&mut fresh, item, k);
                                    cur.push(fresh);
                                }
                            }
                        }
                    }
                    (Value::Array(items), None) if k == "finalizers" => {
                        let cur = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                        if let Value::Array(cur) = cur {
                            for i in items {
                                if !cur.contains(i) {
                                    cur.push(i.clone());
                                }
                            }
                        }
                    }
                    _ => strategic_at(t.entry(k.clone()).or_insert(Value::Null), v, k),
                }
            }
        }
        _ => {
            let _ = field;
            *target = patch.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut d = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut d, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(d, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn json_patch_test_null_on_missing_path_succeeds() {
        let mut d = json!({"metadata": {"name": "x"}});
        let ops = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
        ]);
        json_patch(&mut d, &ops).unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["f"]));
        let before = d.clone();
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/metadata/finalizers/0"}, {"op": "test", "path": "/x", "value": 1}]))
            .is_err());
        assert_eq!(d, before, "a failed patch changes nothing");
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut d = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        strategic(
            &mut d,
            &json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "image": "2"}, {"name": "b", "$patch": "delete"}]}}),
        );
        assert_eq!(d, json!({"spec": {"containers": [{"name": "a", "image": "2"}]}}));
    }
}
