//! `x-kubernetes-validations` CEL rules, evaluated by kube-cel (the `cel` crate with the
//! Kubernetes CEL libraries) one schema node at a time, and reported as
//! apiextensions-apiserver's `schema/cel` validator reports them:
//! - the error names the node's path plus the rule's `fieldPath`; map values are `[key]`;
//! - a scalar node's value is printed, an object's or list's is omitted
//!   (`spec.name: Invalid value: "b": name is immutable`, `spec: Invalid value: <message>`);
//! - `reason` picks the error type; `messageExpression` wins over `message` when it yields a
//!   non-empty string; without either the detail is `failed rule: <rule>`;
//! - `oldSelf` is bound from the correlated old value (same property; same key in a
//!   `x-kubernetes-list-type: map` list), and transition rules are skipped without one;
//! - failures of rules without `oldSelf` on values unchanged since the stored object are
//!   ratcheted: reported as warnings, not errors.

use serde_json::Value;

use super::errors::{BadValue, ErrType, FieldError};
use super::prune::{child, index};

thread_local! {
    // Registering the Kubernetes CEL functions is the costly part; do it once per thread.
    static VALIDATOR: kube_cel::Validator = kube_cel::Validator::new();
}

/// Evaluates every rule of `schema` against `obj`; errors go to `errs`, ratcheted failures
/// (as `field: message` texts) to `warnings`.
pub(crate) fn validate(schema: &Value, obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>, warnings: &mut Vec<String>) {
    walk(schema, obj, old, "", errs, warnings);
}

fn walk(schema: &Value, value: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>, warnings: &mut Vec<String>) {
    // Rules are not evaluated on null (nullable) values.
    if value.is_null() {
        return;
    }
    if schema.get("x-kubernetes-validations").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
        node_rules(schema, value, old, path, errs, warnings);
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                let old_v = old.and_then(|o| o.get(k));
                if let Some(sub) = props.and_then(|p| p.get(k)) {
                    walk(sub, v, old_v, &child(path, k), errs, warnings);
                } else if let Some(sub) = additional {
                    walk(sub, v, old_v, &format!("{path}[{k}]"), errs, warnings);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(sub, item, correlate(schema, item, old), &index(path, i), errs, warnings);
                }
            }
        }
        _ => {}
    }
}

/// The old item of a `x-kubernetes-list-type: map` list with the same keys as `item`; items
/// of other lists have no identity, so no old value.
fn correlate<'a>(schema: &Value, item: &Value, old: Option<&'a Value>) -> Option<&'a Value> {
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
        return None;
    }
    let keys: Vec<&str> = schema.get("x-kubernetes-list-map-keys")?.as_array()?.iter().filter_map(Value::as_str).collect();
    old?.as_array()?.iter().find(|o| keys.iter().all(|k| o.get(*k) == item.get(*k)))
}

/// `schema` with the rules of every descendant removed, so kube-cel evaluates only this
/// node's rules (the descendants' schemas still type the values).
pub(crate) fn only_own_rules(schema: &Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("x-kubernetes-validations");
                for (_, x) in m.iter_mut() {
                    strip(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        for (k, x) in m.iter_mut() {
            if k != "x-kubernetes-validations" {
                strip(x);
            }
        }
    }
    s
}

fn node_rules(schema: &Value, value: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>, warnings: &mut Vec<String>) {
    let rules: Vec<&Value> =
        schema.get("x-kubernetes-validations").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let own = only_own_rules(schema);
    let result = VALIDATOR.with(|v| v.validate(&own, value, old));
    let Err(failures) = result else { return };
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let unchanged = old == Some(value);
    // kube-cel reports failures in rule order; pair each with its rule by the rule text.
    let mut next = 0;
    for f in failures.into_vec() {
        let pos = rules[next.min(rules.len())..].iter().position(|r| r.get("rule").and_then(Value::as_str) == Some(f.rule.as_str()));
        let rule = match pos {
            Some(p) => {
                next += p + 1;
                Some(rules[next - 1])
            }
            None => None,
        };
        let text = |k: &str| rule.and_then(|r| r.get(k)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let rule_src = f.rule.trim().to_string();
        let static_message = text("message").map(str::to_string);
        let default_detail = static_message.clone().unwrap_or_else(|| format!("failed rule: {rule_src}"));
        let error_string = static_message.clone().unwrap_or_else(|| rule_src.clone());
        let field = match text("fieldPath") {
            Some(fp) => join_field_path(path, fp, schema),
            None => path.to_string(),
        };
        let field = if field.is_empty() { None } else { Some(field) };
        let e = match f.kind {
            kube_cel::ErrorKind::ValidationFailure => {
                let detail = if text("messageExpression").is_some() {
                    let m = f.message.trim();
                    if m.is_empty() || m.contains('\n') {
                        default_detail
                    } else {
                        m.to_string()
                    }
                } else {
                    default_detail
                };
                let kind = match text("reason") {
                    Some("FieldValueForbidden") => ErrType::Forbidden,
                    Some("FieldValueRequired") => ErrType::Required,
                    Some("FieldValueDuplicate") => ErrType::Duplicate,
                    _ => ErrType::Invalid,
                };
                let value = if matches!(ty, "object" | "array") { BadValue::Omit } else { BadValue::Json(value.clone()) };
                let detail = if kind == ErrType::Duplicate { String::new() } else { detail };
                FieldError { kind, field, value, detail }
            }
            kube_cel::ErrorKind::CompilationFailure | kube_cel::ErrorKind::InvalidRule => FieldError {
                kind: ErrType::Invalid,
                field: Some(path.to_string()).filter(|p| !p.is_empty()),
                value: BadValue::Json(Value::from(ty)),
                detail: format!("rule compile error: {}", f.message),
            },
            _ => {
                let cause = std::error::Error::source(&f).map(|s| s.to_string()).unwrap_or_else(|| f.message.clone());
                FieldError {
                    kind: ErrType::Invalid,
                    field: Some(path.to_string()).filter(|p| !p.is_empty()),
                    value: BadValue::Json(Value::from(ty)),
                    detail: format!("{cause} evaluating rule: {error_string}"),
                }
            }
        };
        let uses_old_self = rule_src.contains("oldSelf");
        if unchanged && !uses_old_self && f.kind == kube_cel::ErrorKind::ValidationFailure {
            warnings.push(format!("{}: {}", e.field_str(), e.body()));
        } else {
            errs.push(e);
        }
    }
}

/// The node's path extended by a rule's `fieldPath` (`.a.b`, `['key']`), as Kubernetes'
/// `ValidFieldPath` normalises it: declared properties are children (`.a`), map keys `[key]`.
fn join_field_path(path: &str, field_path: &str, schema: &Value) -> String {
    let mut out = path.to_string();
    let mut s = schema;
    let mut rest = field_path;
    while !rest.is_empty() {
        let (name, after) = if let Some(r) = rest.strip_prefix("['") {
            match r.find("']") {
                Some(end) => (r[..end].replace("\\'", "'"), &r[end + 2..]),
                None => return format!("{path}{field_path}"),
            }
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (r[..end].to_string(), &r[end..])
        } else {
            return format!("{path}{field_path}");
        };
        if let Some(sub) = s.get("properties").and_then(|p| p.get(&name)) {
            out = child(&out, &name);
            s = sub;
        } else if let Some(sub) = s.get("additionalProperties").filter(|a| a.is_object()) {
            out = format!("{out}[{name}]");
            s = sub;
        } else {
            out = child(&out, &name);
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(schema: Value, obj: Value, old: Option<Value>) -> Vec<String> {
        let (errs, _) = run_with_warnings(schema, obj, old);
        errs
    }

    fn run_with_warnings(schema: Value, obj: Value, old: Option<Value>) -> (Vec<String>, Vec<String>) {
        let mut errs = Vec::new();
        let mut warnings = Vec::new();
        validate(&schema, &obj, old.as_ref(), &mut errs, &mut warnings);
        (errs.into_iter().map(|e| format!("{} [{}]", e.clone().into_cause(), e.into_cause().reason)).collect(), warnings)
    }

    fn spec_schema(rules: Value, props: Value) -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": rules, "properties": props}}})
    }

    #[test]
    fn message_reason_and_field_path() {
        let props = json!({"a": {"type": "integer"}, "b": {"type": "integer"}});
        let s = spec_schema(
            json!([
                {"rule": "self.a < self.b", "message": "a must be below b"},
                {"rule": "self.a != 3", "message": "no threes", "reason": "FieldValueForbidden", "fieldPath": ".a"},
                {"rule": "self.b != 9"}
            ]),
            props,
        );
        assert!(run(s.clone(), json!({"spec": {"a": 1, "b": 2}}), None).is_empty());
        assert_eq!(
            run(s.clone(), json!({"spec": {"a": 3, "b": 2}}), None),
            ["spec: Invalid value: a must be below b [FieldValueInvalid]", "spec.a: Forbidden: no threes [FieldValueForbidden]"]
        );
        assert_eq!(run(s, json!({"spec": {"a": 1, "b": 9}}), None), ["spec: Invalid value: failed rule: self.b != 9 [FieldValueInvalid]"]);
    }

    #[test]
    fn scalar_values_are_printed() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() <= 3", "message": "too long"}]},
            "n": {"type": "integer", "x-kubernetes-validations": [{"rule": "self % 2 == 0", "message": "must be even"}]}}}}});
        assert_eq!(
            run(s, json!({"spec": {"name": "abcd", "n": 3}}), None),
            [
                r#"spec.n: Invalid value: 3: must be even [FieldValueInvalid]"#,
                r#"spec.name: Invalid value: "abcd": too long [FieldValueInvalid]"#
            ]
        );
    }

    #[test]
    fn message_expression() {
        let s = spec_schema(
            json!([{"rule": "self.n <= 3", "messageExpression": "'n is ' + string(self.n) + ', at most 3'", "message": "static"},
                   {"rule": "self.n <= 4", "messageExpression": "'  '", "message": "fallback when empty"}]),
            json!({"n": {"type": "integer"}}),
        );
        assert_eq!(
            run(s, json!({"spec": {"n": 5}}), None),
            ["spec: Invalid value: n is 5, at most 3 [FieldValueInvalid]", "spec: Invalid value: fallback when empty [FieldValueInvalid]"]
        );
    }

    #[test]
    fn has_macro_on_optional_fields_and_list_items() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "listeners": {"type": "array", "items": {"type": "object",
                "x-kubernetes-validations": [{"rule": "self.protocol != 'HTTPS' || has(self.certificate)", "message": "HTTPS needs a certificate"}],
                "properties": {"protocol": {"type": "string"}, "certificate": {"type": "string"}}}}}}}});
        let obj = json!({"spec": {"listeners": [{"protocol": "HTTPS", "certificate": "arn"}, {"protocol": "HTTPS"}]}});
        assert_eq!(run(s, obj, None), ["spec.listeners[1]: Invalid value: HTTPS needs a certificate [FieldValueInvalid]"]);
    }

    #[test]
    fn transition_rules_need_an_old_value() {
        let s = spec_schema(
            json!([{"rule": "self.name == oldSelf.name", "message": "name is immutable"}]),
            json!({"name": {"type": "string"}}),
        );
        assert!(run(s.clone(), json!({"spec": {"name": "a"}}), None).is_empty());
        assert_eq!(
            run(s.clone(), json!({"spec": {"name": "b"}}), Some(json!({"spec": {"name": "a"}}))),
            ["spec: Invalid value: name is immutable [FieldValueInvalid]"]
        );
        assert!(run(s, json!({"spec": {"name": "a"}}), Some(json!({"spec": {"name": "a"}}))).is_empty());
    }

    #[test]
    fn old_items_correlate_by_key_in_map_lists_only() {
        let item = json!({"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer",
            "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "may not decrease"}]}}});
        let map_list = json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["k"], "items": item}}});
        let atomic = json!({"type": "object", "properties": {"l": {"type": "array", "items": item}}});
        let old = json!({"l": [{"k": "a", "v": 5}, {"k": "b", "v": 1}]});
        let new = json!({"l": [{"k": "b", "v": 2}, {"k": "a", "v": 4}]});
        assert_eq!(run(map_list, new.clone(), Some(old.clone())), ["l[1].v: Invalid value: 4: may not decrease [FieldValueInvalid]"]);
        assert!(run(atomic, new, Some(old)).is_empty(), "atomic list items have no old value");
    }

    #[test]
    fn unchanged_values_are_ratcheted_to_warnings() {
        let s = spec_schema(
            json!([{"rule": "self.n <= 3", "message": "n at most 3"}]),
            json!({"n": {"type": "integer"}, "m": {"type": "integer"}}),
        );
        let old = json!({"spec": {"n": 5}});
        let (errs, warnings) = run_with_warnings(s.clone(), json!({"spec": {"n": 5}}), Some(old.clone()));
        assert!(errs.is_empty());
        assert_eq!(warnings, ["spec: Invalid value: n at most 3"]);
        let (errs, _) = run_with_warnings(s, json!({"spec": {"n": 5, "m": 1}}), Some(old));
        assert_eq!(errs.len(), 1, "a changed object is validated");
    }

    #[test]
    fn map_values_and_field_paths_use_keys() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.tags.all(k, k != 'bad')", "message": "no bad tag", "fieldPath": ".tags['bad']"}],
            "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string",
                "x-kubernetes-validations": [{"rule": "self != ''", "message": "empty"}]}}}}}});
        assert_eq!(
            run(s, json!({"spec": {"tags": {"bad": "x", "e": ""}}}), None),
            [
                "spec.tags[bad]: Invalid value: no bad tag [FieldValueInvalid]",
                r#"spec.tags[e]: Invalid value: "": empty [FieldValueInvalid]"#
            ]
        );
    }

    #[test]
    fn rule_forms_an_operator_crd_uses() {
        let listener = json!({"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"},
            "instanceProtocol": {"type": "string", "nullable": true}, "sslCertificateId": {"type": "string", "nullable": true}}});
        let s = spec_schema(
            json!([
                {"rule": "!(has(self.availabilityZones) && has(self.subnets))", "message": "zones and subnets are exclusive"},
                {"rule": "self.listeners.all(l, self.listeners.exists_one(m, m.port == l.port))", "message": "duplicate listener port"},
                {"rule": "self.listeners.all(l, !(l.protocol in ['HTTPS', 'SSL']) || has(l.sslCertificateId))", "message": "certificate required"},
                {"rule": "self.listeners.filter(l, l.port > 65535).size() == 0", "message": "port range"},
                {"rule": "!has(self.healthCheck) || self.healthCheck.timeout < self.healthCheck.interval", "message": "timeout below interval"},
                {"rule": "!has(oldSelf.name) || self.name == oldSelf.name", "message": "name is immutable"},
                {"rule": "self.name.startsWith('a') && self.name.matches('^[a-z0-9-]{1,32}$')", "message": "bad name"}
            ]),
            json!({"availabilityZones": {"type": "array", "items": {"type": "string"}}, "subnets": {"type": "array", "items": {"type": "string"}},
                   "listeners": {"type": "array", "items": listener}, "name": {"type": "string"},
                   "healthCheck": {"type": "object", "properties": {"timeout": {"type": "integer"}, "interval": {"type": "integer"}}}}),
        );
        let good = json!({"spec": {"availabilityZones": ["a"], "name": "abc", "healthCheck": {"timeout": 5, "interval": 30},
            "listeners": [{"port": 80, "protocol": "HTTP"}, {"port": 443, "protocol": "HTTPS", "sslCertificateId": "arn"}]}});
        assert_eq!(run(s.clone(), good.clone(), Some(good.clone())), Vec::<String>::new());
        let bad = json!({"spec": {"availabilityZones": ["a"], "subnets": ["s"], "name": "bcd", "healthCheck": {"timeout": 30, "interval": 5},
            "listeners": [{"port": 80, "protocol": "HTTP"}, {"port": 80, "protocol": "SSL"}, {"port": 70000, "protocol": "TCP"}]}});
        let messages: Vec<String> =
            run(s, bad, Some(good)).into_iter().map(|e| e.trim_end_matches(" [FieldValueInvalid]").to_string()).collect();
        assert_eq!(
            messages,
            [
                "spec: Invalid value: zones and subnets are exclusive",
                "spec: Invalid value: duplicate listener port",
                "spec: Invalid value: certificate required",
                "spec: Invalid value: port range",
                "spec: Invalid value: timeout below interval",
                "spec: Invalid value: name is immutable",
                "spec: Invalid value: bad name"
            ]
        );
    }

    #[test]
    fn rules_skip_null_values() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "opt": {"type": "string", "nullable": true, "x-kubernetes-validations": [{"rule": "self.size() > 2", "message": "short"}]}}}}});
        assert!(run(s.clone(), json!({"spec": {"opt": null}}), None).is_empty());
        assert_eq!(run(s, json!({"spec": {"opt": "a"}}), None).len(), 1);
    }

    #[test]
    fn kubernetes_library_functions() {
        let s = spec_schema(
            json!([{"rule": "self.name.matches('^[a-z]+$') && self.ports.all(p, p > 0) && isURL(self.url)", "message": "bad"}]),
            json!({"name": {"type": "string"}, "ports": {"type": "array", "items": {"type": "integer"}}, "url": {"type": "string"}}),
        );
        assert!(run(s.clone(), json!({"spec": {"name": "abc", "ports": [1, 2], "url": "https://x.dev/"}}), None).is_empty());
        assert_eq!(run(s, json!({"spec": {"name": "abc", "ports": [0], "url": "https://x.dev/"}}), None).len(), 1);
    }
}
