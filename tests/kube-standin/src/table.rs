//! `as=Table` answers for `kubectl get`: printer columns of CRDs, and the usual columns of
//! the built-in kinds.

use serde_json::{json, Value};

use crate::jsonpath::JsonPath;
use crate::meta::age;
use crate::resources::ResourceType;

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(name: &str, ty: &str, format: &str, desc: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": desc, "priority": priority})
}

/// A column: definition plus how to compute a cell.
enum Cell {
    Path(JsonPath, String),
    Builtin(fn(&Value) -> Value),
}

fn name_cell(o: &Value) -> Value {
    o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)
}

fn age_cell(o: &Value) -> Value {
    o.pointer("/metadata/creationTimestamp").and_then(Value::as_str).and_then(age).map(Value::String).unwrap_or(Value::Null)
}

fn text(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Null) | None => Value::String("<none>".into()),
        Some(other) => Value::String(other.to_string()),
    }
}

fn node_status(o: &Value) -> Value {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"] == "True");
    let mut s = match ready {
        Some(true) => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    Value::String(s)
}

fn node_roles(o: &Value) -> Value {
    let roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).map(String::from).collect())
        .unwrap_or_default();
    Value::String(if roles.is_empty() { "<none>".into() } else { roles.join(",") })
}

fn node_address(o: &Value, ty: &str) -> Value {
    let a = o
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x["type"] == ty))
        .map(|x| x["address"].clone());
    text(a.as_ref())
}

fn pod_ready(o: &Value) -> Value {
    let total = o.pointer("/spec/containers").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|c| c["ready"] == true).count())
        .unwrap_or(0);
    Value::String(format!("{ready}/{total}"))
}

/// As the API server prints it: `<none>` without gates, else how many of the gates'
/// conditions are True, out of how many gates.
fn pod_readiness_gates(o: &Value) -> Value {
    let Some(gates) = o.pointer("/spec/readinessGates").and_then(Value::as_array).filter(|g| !g.is_empty()) else {
        return Value::String("<none>".into());
    };
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let met = gates.iter().filter(|g| conditions.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True")).count();
    Value::String(format!("{met}/{}", gates.len()))
}

fn pod_status(o: &Value) -> Value {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return Value::String("Terminating".into());
    }
    text(o.pointer("/status/phase"))
}

fn pod_restarts(o: &Value) -> Value {
    let n: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c["restartCount"].as_i64()).sum())
        .unwrap_or(0);
    json!(n)
}

fn builtin_columns(rt: &ResourceType) -> Vec<(Value, Cell)> {
    let name = (col("Name", "string", "name", NAME_DESC, 0), Cell::Builtin(name_cell));
    let age_col = (col("Age", "string", "", AGE_DESC, 0), Cell::Builtin(age_cell));
    let p = |s: &str| JsonPath::parse(s).expect("valid built-in path");
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => vec![
            name,
            (col("Status", "string", "", "The status of the namespace", 0), Cell::Builtin(|o| text(o.pointer("/status/phase")))),
            age_col,
        ],
        ("", "nodes") => vec![
            name,
            (col("Status", "string", "", "The status of the node", 0), Cell::Builtin(node_status)),
            (col("Roles", "string", "", "The roles of the node", 0), Cell::Builtin(node_roles)),
            age_col,
            (
                col("Version", "string", "", "Kubelet Version reported by the node.", 0),
                Cell::Builtin(|o| text(o.pointer("/status/nodeInfo/kubeletVersion"))),
            ),
            (
                col("Internal-IP", "string", "", "List of addresses reachable to the node.", 1),
                Cell::Builtin(|o| node_address(o, "InternalIP")),
            ),
            (
                col("External-IP", "string", "", "List of addresses reachable to the node.", 1),
                Cell::Builtin(|o| node_address(o, "ExternalIP")),
            ),
            (
                col("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.", 1),
                Cell::Builtin(|o| text(o.pointer("/status/nodeInfo/osImage"))),
            ),
            (
                col("Kernel-Version", "string", "", "Kernel Version reported by the node.", 1),
                Cell::Builtin(|o| text(o.pointer("/status/nodeInfo/kernelVersion"))),
            ),
            (
                col("Container-Runtime", "string", "", "Container runtime version reported by the node.", 1),
                Cell::Builtin(|o| text(o.pointer("/status/nodeInfo/containerRuntimeVersion"))),
            ),
        ],
        ("", "pods") => vec![
            name,
            (col("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0), Cell::Builtin(pod_ready)),
            (col("Status", "string", "", "The aggregate status of the containers in this pod.", 0), Cell::Builtin(pod_status)),
            (
                col("Restarts", "string", "", "The number of times the containers in this pod have been restarted.", 0),
                Cell::Builtin(pod_restarts),
            ),
            age_col,
            (col("IP", "string", "", "IP address allocated to the pod.", 1), Cell::Builtin(|o| text(o.pointer("/status/podIP")))),
            (
                col("Node", "string", "", "Name of the Node this pod is assigned to.", 1),
                Cell::Builtin(|o| text(o.pointer("/spec/nodeName"))),
            ),
            (
                col("Nominated Node", "string", "", "Nominated node name.", 1),
                Cell::Builtin(|o| text(o.pointer("/status/nominatedNodeName"))),
            ),
            (col("Readiness Gates", "string", "", "Readiness gates.", 1), Cell::Builtin(pod_readiness_gates)),
        ],
        ("", "events") | ("events.k8s.io", "events") => vec![
            (
                col("Last Seen", "string", "", "Time since the event was last seen", 0),
                Cell::Builtin(|o| {
                    let s = |p: &str| o.pointer(p).and_then(Value::as_str);
                    let t = s("/series/lastObservedTime")
                        .or_else(|| s("/lastTimestamp"))
                        .or_else(|| s("/deprecatedLastTimestamp"))
                        .or_else(|| s("/eventTime"))
                        .or_else(|| s("/metadata/creationTimestamp"));
                    t.and_then(age).map(Value::String).unwrap_or(Value::Null)
                }),
            ),
            (col("Type", "string", "", "Type of this event", 0), Cell::Builtin(|o| text(o.get("type")))),
            (col("Reason", "string", "", "Reason why this event was generated", 0), Cell::Builtin(|o| text(o.get("reason")))),
            (
                col("Object", "string", "", "The object this event is about", 0),
                Cell::Builtin(|o| {
                    let r = o.get("involvedObject").or_else(|| o.get("regarding")).cloned().unwrap_or(Value::Null);
                    Value::String(format!("{}/{}", r["kind"].as_str().unwrap_or("").to_lowercase(), r["name"].as_str().unwrap_or("")))
                }),
            ),
            (
                col("Message", "string", "", "A human-readable description of the status of this operation", 0),
                Cell::Builtin(|o| text(o.get("message").or_else(|| o.get("note")))),
            ),
        ],
        ("coordination.k8s.io", "leases") => vec![
            name,
            (col("Holder", "string", "", "The holder of the lease", 0), Cell::Path(p(".spec.holderIdentity"), "string".into())),
            age_col,
        ],
        ("apiextensions.k8s.io", _) => vec![
            name,
            (
                col("Created At", "date", "", AGE_DESC, 0),
                Cell::Builtin(|o| o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null)),
            ),
        ],
        _ => vec![name, age_col],
    }
}

fn custom_columns(rt: &ResourceType, version: &str) -> Vec<(Value, Cell)> {
    let mut out = vec![(col("Name", "string", "name", NAME_DESC, 0), Cell::Builtin(name_cell))];
    let cols = rt.columns.get(version).cloned().unwrap_or_default();
    if cols.is_empty() {
        out.push((
            col("Age", "date", "", AGE_DESC, 0),
            Cell::Path(JsonPath::parse(".metadata.creationTimestamp").expect("path"), "date".into()),
        ));
        return out;
    }
    for c in cols {
        let path = c["jsonPath"].as_str().unwrap_or("");
        let ty = c["type"].as_str().unwrap_or("string").to_string();
        let desc = c
            .get("description")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("Custom resource definition column (in JSONPath format): {path}"));
        let def = col(
            c["name"].as_str().unwrap_or(""),
            &ty,
            c.get("format").and_then(Value::as_str).unwrap_or(""),
            &desc,
            c.get("priority").and_then(Value::as_i64).unwrap_or(0),
        );
        match JsonPath::parse(path) {
            Some(jp) => out.push((def, Cell::Path(jp, ty))),
            None => out.push((def, Cell::Builtin(|_| Value::Null))),
        }
    }
    out
}

/// A cell from the first JSONPath result, typed like the apiserver's CR table convertor.
fn path_cell(jp: &JsonPath, ty: &str, obj: &Value) -> Value {
    let Some(v) = jp.find(obj).into_iter().next() else {
        return Value::Null;
    };
    match ty {
        "string" => match v {
            Value::String(s) => Value::String(s),
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        },
        "integer" => match v {
            Value::Number(n) => n.as_i64().map(Value::from).or_else(|| n.as_f64().map(|f| Value::from(f as i64))).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "number" => match v {
            Value::Number(n) => Value::Number(n),
            _ => Value::Null,
        },
        "boolean" => match v {
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Null,
        },
        "date" => match v {
            Value::String(s) => age(&s).map(Value::String).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        _ => v,
    }
}

/// What each row carries as `object` (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

/// Builds a Table of `objects` (already in the requested version's form).
pub fn table(
    rt: &ResourceType,
    version: &str,
    objects: &[Value],
    resource_version: &str,
    cont: Option<&str>,
    include: IncludeObject,
) -> Value {
    let cols = if rt.custom { custom_columns(rt, version) } else { builtin_columns(rt) };
    let defs: Vec<Value> = cols.iter().map(|(d, _)| d.clone()).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols
                .iter()
                .map(|(_, c)| match c {
                    Cell::Path(jp, ty) => path_cell(jp, ty, o),
                    Cell::Builtin(f) => f(o),
                })
                .collect();
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(o),
                IncludeObject::Object => row["object"] = o.clone(),
            }
            row
        })
        .collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = cont.filter(|c| !c.is_empty()) {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

/// The PartialObjectMetadata form of an object.
pub fn partial_metadata(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_gates_count_the_true_conditions_of_the_gates() {
        let pod = |gates: Value, conditions: Value| json!({"spec": {"readinessGates": gates}, "status": {"conditions": conditions}});
        let gate = json!([{"conditionType": "example.com/in-service"}]);
        assert_eq!(pod_readiness_gates(&json!({"spec": {}})), "<none>");
        assert_eq!(pod_readiness_gates(&pod(json!([]), json!([]))), "<none>");
        assert_eq!(pod_readiness_gates(&pod(gate.clone(), json!([]))), "0/1");
        assert_eq!(pod_readiness_gates(&pod(gate.clone(), json!([{"type": "example.com/in-service", "status": "False"}]))), "0/1");
        assert_eq!(
            pod_readiness_gates(&pod(
                gate,
                json!([{"type": "Ready", "status": "True"}, {"type": "example.com/in-service", "status": "True"}])
            )),
            "1/1"
        );
    }
}
