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
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
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
        ("networking.k8s.io", "ingresses") => roundtrip::<Ingress>(body),
        ("networking.k8s.io", "ingressclasses") => roundtrip::<IngressClass>(body),
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

/// One field error: (reason, field path, message), as `ApiError::invalid` takes them.
pub type Cause = (String, String, String);

fn cause(reason: &str, field: String, message: String) -> Cause {
    (reason.to_string(), field, message)
}

/// The apiserver's validation of the built-in kinds' fields that tests write and a typed
/// decode does not catch (`pkg/apis/networking/validation`, `pkg/apis/core/validation`):
/// Ingress paths and backends, IngressClass controller and parameters, Service port names.
/// Empty: valid (or a kind not checked here).
pub fn validate(group: &str, plural: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match (group, plural) {
        ("networking.k8s.io", "ingresses") => {
            let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
            let has_rules = spec.get("rules").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
            if spec.get("defaultBackend").is_none() && !has_rules {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec".into(),
                    "Invalid value: \"\": either `defaultBackend` or `rules` must be specified".into(),
                ));
            }
            if let Some(b) = spec.get("defaultBackend") {
                backend(b, "spec.defaultBackend", &mut causes);
            }
            for (i, rule) in spec.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let paths = rule.pointer("/http/paths").and_then(Value::as_array);
                if rule.get("http").is_some() && paths.is_none_or(|p| p.is_empty()) {
                    causes.push(cause("FieldValueRequired", format!("spec.rules[{i}].http.paths"), "Required value".into()));
                }
                for (j, p) in paths.into_iter().flatten().enumerate() {
                    let at = format!("spec.rules[{i}].http.paths[{j}]");
                    let path = p.get("path").and_then(Value::as_str).unwrap_or("");
                    match p.get("pathType").and_then(Value::as_str) {
                        None => causes.push(cause(
                            "FieldValueRequired",
                            format!("{at}.pathType"),
                            "Required value: pathType must be specified".into(),
                        )),
                        Some("Exact" | "Prefix") if !path.starts_with('/') => causes.push(cause(
                            "FieldValueInvalid",
                            format!("{at}.path"),
                            format!("Invalid value: \"{path}\": must be an absolute path"),
                        )),
                        Some("Exact" | "Prefix" | "ImplementationSpecific") => {}
                        Some(other) => causes.push(cause(
                            "FieldValueNotSupported",
                            format!("{at}.pathType"),
                            format!("Unsupported value: \"{other}\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""),
                        )),
                    }
                    match p.get("backend") {
                        Some(b) => backend(b, &format!("{at}.backend"), &mut causes),
                        None => causes.push(cause("FieldValueRequired", format!("{at}.backend"), "Required value".into())),
                    }
                }
            }
        }
        ("networking.k8s.io", "ingressclasses") => {
            if obj.pointer("/spec/controller").and_then(Value::as_str).is_none_or(str::is_empty) {
                causes.push(cause("FieldValueRequired", "spec.controller".into(), "Required value".into()));
            }
            if let Some(p) = obj.pointer("/spec/parameters") {
                for f in ["kind", "name"] {
                    if p.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                        causes.push(cause(
                            "FieldValueRequired",
                            format!("spec.parameters.{f}"),
                            format!("Required value: {f} is required"),
                        ));
                    }
                }
            }
        }
        ("", "services") => {
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut names = Vec::new();
            for (i, p) in ports.iter().enumerate() {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                if ports.len() > 1 && name.is_empty() {
                    causes.push(cause("FieldValueRequired", format!("spec.ports[{i}].name"), "Required value".into()));
                } else if !name.is_empty() && names.contains(&name) {
                    causes.push(cause("FieldValueDuplicate", format!("spec.ports[{i}].name"), format!("Duplicate value: \"{name}\"")));
                }
                names.push(name);
            }
        }
        _ => {}
    }
    causes
}

/// An IngressBackend: a service (with a port name or number) or a resource, not both.
fn backend(b: &Value, at: &str, causes: &mut Vec<Cause>) {
    match (b.get("service"), b.get("resource")) {
        (Some(_), Some(_)) => {
            causes.push(cause("FieldValueInvalid", at.into(), "Invalid value: \"\": cannot set both resource and service backends".into()))
        }
        (None, None) => {
            causes.push(cause("FieldValueInvalid", at.into(), "Invalid value: \"\": resource or service backend is required".into()))
        }
        (Some(s), None) => {
            let port = s.get("port").cloned().unwrap_or(Value::Null);
            let (name, number) = (port.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()), port.get("number"));
            match (name, number) {
                (Some(_), Some(_)) => causes.push(cause(
                    "FieldValueInvalid",
                    format!("{at}.service.port"),
                    "Invalid value: \"\": cannot set both port name & port number".into(),
                )),
                (None, None) => causes.push(cause(
                    "FieldValueInvalid",
                    format!("{at}.service.port"),
                    "Invalid value: \"\": port name or number is required".into(),
                )),
                _ => {}
            }
        }
        (None, Some(_)) => {}
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
