//! Decoding of built-in kinds as the apiserver's typed decoder does it: a body is decoded into
//! the kind's Go-equivalent type (k8s-openapi's), so a wrongly typed field is a 400 and fields
//! the type does not have are unknown — refused under `fieldValidation=Strict`, dropped with
//! a warning otherwise.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Node, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event as EventsEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let t: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

/// The typed round trip of a built-in kind's body; None for kinds not known here.
fn typed(group: &str, plural: &str, body: &Value) -> Option<Result<Value, String>> {
    Some(match (group, plural) {
        ("", "pods") => roundtrip::<Pod>(body),
        ("", "nodes") => roundtrip::<Node>(body),
        ("", "namespaces") => roundtrip::<Namespace>(body),
        ("", "events") => roundtrip::<CoreEvent>(body),
        ("", "serviceaccounts") => roundtrip::<ServiceAccount>(body),
        ("", "configmaps") => roundtrip::<ConfigMap>(body),
        ("", "secrets") => roundtrip::<Secret>(body),
        ("", "services") => roundtrip::<Service>(body),
        ("events.k8s.io", "events") => roundtrip::<EventsEvent>(body),
        ("coordination.k8s.io", "leases") => roundtrip::<Lease>(body),
        ("apiextensions.k8s.io", "customresourcedefinitions") => roundtrip::<CustomResourceDefinition>(body),
        _ => return None,
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Walks the body against its typed round trip: returns the body without unknown fields and
/// the unknown fields' paths (`spec.containers[0].foo`).
fn prune(orig: &Value, typed: &Value, path: &str, unknown: &mut Vec<String>) -> Value {
    match (orig, typed) {
        (Value::Object(o), Value::Object(t)) => {
            let mut out = Map::new();
            for (k, v) in o {
                match t.get(k) {
                    Some(tv) => {
                        out.insert(k.clone(), prune(v, tv, &join(path, k), unknown));
                    }
                    // Nulls decode to absent fields; they are not unknown.
                    None if v.is_null() => {
                        out.insert(k.clone(), Value::Null);
                    }
                    None => unknown.push(join(path, k)),
                }
            }
            Value::Object(out)
        }
        (Value::Array(o), Value::Array(t)) if o.len() == t.len() => {
            Value::Array(o.iter().zip(t).enumerate().map(|(i, (a, b))| prune(a, b, &format!("{path}[{i}]"), unknown)).collect())
        }
        _ => orig.clone(),
    }
}

/// Outcome of decoding a built-in body.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// The body (unknown fields removed) and the unknown fields found.
    Ok(Value, Vec<String>),
    /// The body does not decode (a wrongly typed field).
    Invalid(String),
}

/// Decodes a body of a built-in kind (in the request's view). Kinds not known here pass as is.
pub fn decode(group: &str, plural: &str, body: &Value) -> Decoded {
    match typed(group, plural, body) {
        None => Decoded::Ok(body.clone(), Vec::new()),
        Some(Err(e)) => Decoded::Invalid(e),
        Some(Ok(t)) => {
            let mut unknown = Vec::new();
            let pruned = prune(body, &t, "", &mut unknown);
            Decoded::Ok(pruned, unknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_and_dropped() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "x"}},
            "spec": {"nodeName": "n", "bogus": 1, "containers": [{"name": "c", "image": "i", "imag": "typo"}]}});
        match decode("", "pods", &pod) {
            Decoded::Ok(v, unknown) => {
                assert_eq!(unknown, vec!["spec.bogus", "spec.containers[0].imag"]);
                assert!(v["spec"].get("bogus").is_none());
                assert_eq!(v["metadata"]["labels"]["any"], "x");
                assert_eq!(v["spec"]["nodeName"], "n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_types_do_not_decode() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"unschedulable": "yes"}});
        assert!(matches!(decode("", "nodes", &node), Decoded::Invalid(_)));
    }

    #[test]
    fn crds_keep_their_schemas() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "a.b"},
            "spec": {"group": "b", "scope": "Namespaced", "names": {"plural": "a", "kind": "A"}, "versions": [{"name": "v1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "x-kubernetes-validations": [{"rule": "true"}], "properties": {"x": {"type": "integer", "default": 3}}}}}]},
            "status": {"conditions": null}});
        assert_eq!(decode("apiextensions.k8s.io", "customresourcedefinitions", &crd), Decoded::Ok(crd, vec![]));
    }
}
