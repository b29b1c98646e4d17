//! What kube-apiserver checks of a CRD's schemas when the CRD is written
//! (apiextensions-apiserver's `ValidateCustomResourceDefinitionOpenAPISchema` and the
//! structural-schema rules), for every version's `openAPIV3Schema`:
//! - structural: every node has a `type` (unless `x-kubernetes-int-or-string` or
//!   `x-kubernetes-preserve-unknown-fields`), the root is an object, and `allOf`/`anyOf`/
//!   `oneOf`/`not` only add value validations (no `type`, `default`, `nullable`);
//! - no `$ref`, `definitions`, `$schema`, `id`, `additionalItems`, `patternProperties`,
//!   `dependencies`, `items` lists, `uniqueItems: true`, or `properties` together with
//!   `additionalProperties`;
//! - every `pattern` compiles, and every `default` passes its own node's schema and rules;
//! - every `x-kubernetes-validations` rule is present and compiles; a `message` is non-empty
//!   and one line; a `fieldPath` names a declared field; a `reason` is one of the four.
//!
//! Field paths are the server's (`spec.versions[0].schema.openAPIV3Schema.properties[spec]
//! .type`); messages are modelled on its messages but, unlike those of object validation, not
//! checked against a real server. Not checked: the CEL cost budget, the restrictions on
//! `metadata` in schemas, and list-type/map-key consistency.

use serde_json::{json, Value};

use super::errors::{BadValue, ErrType, FieldError};
use super::{Cause, Options};

const REASONS: [&str; 4] = ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"];

/// The problems kube-apiserver would refuse `crd` (a CustomResourceDefinition object) for,
/// in its schemas; empty when it would accept them.
pub fn check_crd(crd: &Value) -> Vec<Cause> {
    let mut errs: Vec<Cause> = Vec::new();
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, version) in versions.iter().enumerate() {
        if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
            let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
            node(schema, &path, Level::Root, &mut errs);
        }
    }
    errs
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Field,
    Item,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value validations only.
    Junctor,
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn forbidden(path: &str, key: &str, detail: &str) -> FieldError {
    FieldError::new(ErrType::Forbidden, &format!("{path}.{key}"), BadValue::Omit, detail)
}

/// `field.Required(field, detail)`.
fn required(field: String, detail: &str) -> FieldError {
    FieldError { kind: ErrType::Required, field: Some(field), value: BadValue::Omit, detail: detail.into() }
}

fn node(schema: &Value, path: &str, level: Level, errs: &mut Vec<Cause>) {
    let Some(map) = schema.as_object() else {
        errs.push(FieldError::invalid(path, schema, "must be a schema object").into_cause());
        return;
    };
    let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
    let typed = !ty.is_empty() || flag(schema, "x-kubernetes-int-or-string") || flag(schema, "x-kubernetes-preserve-unknown-fields");
    let type_field = format!("{path}.type");
    match level {
        Level::Junctor => {
            for (key, detail) in [("type", "must be empty to be structural"), ("default", "must be undefined to be structural")] {
                if map.contains_key(key) {
                    errs.push(forbidden(path, key, detail).into_cause());
                }
            }
            if flag(schema, "nullable") {
                errs.push(forbidden(path, "nullable", "must be false to be structural").into_cause());
            }
        }
        Level::Root if !typed => errs.push(required(type_field, "must not be empty at the root").into_cause()),
        Level::Root if ty != "object" => {
            errs.push(FieldError::invalid(&type_field, &Value::from(ty), "must be object at the root").into_cause())
        }
        Level::Field | Level::Item if !typed => {
            let detail = if level == Level::Item {
                "must not be empty for specified array items"
            } else {
                "must not be empty for specified object fields"
            };
            errs.push(required(type_field, detail).into_cause());
        }
        _ => {}
    }
    for (key, detail) in [
        ("$ref", "$ref is not supported"),
        ("definitions", "definitions are not supported"),
        ("$schema", "$schema is not supported"),
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("dependencies", "dependencies is not supported"),
    ] {
        if map.contains_key(key) {
            errs.push(forbidden(path, key, detail).into_cause());
        }
    }
    if flag(schema, "uniqueItems") {
        errs.push(
            forbidden(path, "uniqueItems", "uniqueItems cannot be set to true since the runtime complexity becomes quadratic").into_cause(),
        );
    }
    let has_properties = map.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
    if has_properties && map.get("additionalProperties").is_some_and(|a| a.is_object() || a == &Value::Bool(false)) {
        errs.push(forbidden(path, "additionalProperties", "additionalProperties and properties are mutual exclusive").into_cause());
    }
    if let Some(Value::String(pattern)) = map.get("pattern") {
        if let Err(e) = regex::Regex::new(pattern) {
            errs.push(
                FieldError::invalid(
                    &format!("{path}.pattern"),
                    &Value::from(pattern.as_str()),
                    format!("must be a valid regular expression: {e}"),
                )
                .into_cause(),
            );
        }
    }
    if let Some(default) = map.get("default") {
        if level != Level::Junctor {
            check_default(schema, default, &format!("{path}.default"), errs);
        }
    }
    if let Some(rules) = map.get("x-kubernetes-validations") {
        check_rules(schema, rules, &format!("{path}.x-kubernetes-validations"), errs);
    }

    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            let next = if level == Level::Junctor { Level::Junctor } else { Level::Field };
            node(prop, &format!("{path}.properties[{name}]"), next, errs);
        }
    }
    match map.get("items") {
        Some(Value::Array(_)) => errs.push(forbidden(path, "items", "items must be a schema object and not an array").into_cause()),
        Some(items) => node(items, &format!("{path}.items"), if level == Level::Junctor { Level::Junctor } else { Level::Item }, errs),
        None => {}
    }
    if let Some(additional @ Value::Object(_)) = map.get("additionalProperties") {
        node(
            additional,
            &format!("{path}.additionalProperties"),
            if level == Level::Junctor { Level::Junctor } else { Level::Field },
            errs,
        );
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = map.get(key) {
            for (i, sub) in subs.iter().enumerate() {
                node(sub, &format!("{path}.{key}[{i}]"), Level::Junctor, errs);
            }
        }
    }
    if let Some(not) = map.get("not") {
        node(not, &format!("{path}.not"), Level::Junctor, errs);
    }
}

/// A default must pass the schema of its node, rules included, as a value of that node
/// would (validated as the one property of a wrapper object, so messages name `default`).
fn check_default(schema: &Value, default: &Value, path: &str, errs: &mut Vec<Cause>) {
    let wrapper = json!({"type": "object", "properties": {"default": schema}});
    let mut value = json!({ "default": default });
    if let Err(causes) = super::validate(&wrapper, &mut value, None, &Options::default()) {
        for c in causes {
            let field = match c.field.strip_prefix("default") {
                Some(rest) => format!("{path}{rest}"),
                None => path.to_string(),
            };
            errs.push(Cause { field, ..c });
        }
    }
}

fn check_rules(schema: &Value, rules: &Value, path: &str, errs: &mut Vec<Cause>) {
    let Some(rules) = rules.as_array() else {
        errs.push(FieldError::invalid(path, rules, "must be a list of rules").into_cause());
        return;
    };
    let compiled = kube_cel::compile_schema(&super::rules::only_own_rules(schema));
    for (i, rule) in rules.iter().enumerate() {
        let at = |key: &str| format!("{path}[{i}].{key}");
        let text = rule.get("rule").and_then(Value::as_str).unwrap_or("");
        if text.trim().is_empty() {
            errs.push(required(at("rule"), "rule is not specified").into_cause());
        } else if let Some(Err(e)) = compiled.validations.get(i) {
            errs.push(FieldError::invalid(&at("rule"), &Value::from(text), format!("compilation failed: {e}")).into_cause());
        }
        if let Some(message) = rule.get("message").and_then(Value::as_str) {
            if message.trim().is_empty() {
                errs.push(
                    FieldError::invalid(&at("message"), &Value::from(message), "message must be non-empty if specified").into_cause(),
                );
            } else if message.contains('\n') {
                errs.push(FieldError::invalid(&at("message"), &Value::from(message), "message must not contain line breaks").into_cause());
            }
        }
        if let Some(field_path) = rule.get("fieldPath").and_then(Value::as_str) {
            if !names_a_field(schema, field_path) {
                errs.push(FieldError::invalid(&at("fieldPath"), &Value::from(field_path), "fieldPath must be a valid path").into_cause());
            }
        }
        if let Some(reason) = rule.get("reason").and_then(Value::as_str) {
            if !REASONS.contains(&reason) {
                let valid: Vec<String> = REASONS.iter().map(|r| r.to_string()).collect();
                errs.push(FieldError::not_supported(&at("reason"), &Value::from(reason), &valid).into_cause());
            }
        }
    }
}

/// Whether `field_path` (`.a.b`, `.a['b.c']`) walks through declared properties (or the keys
/// of a map) of `schema`.
fn names_a_field(schema: &Value, field_path: &str) -> bool {
    let mut node = schema;
    let mut rest = field_path;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let (name, after) = if let Some(r) = rest.strip_prefix("['") {
            match r.find("']") {
                Some(end) => (r[..end].to_string(), &r[end + 2..]),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (r[..end].to_string(), &r[end..])
        } else {
            return false;
        };
        if name.is_empty() {
            return false;
        }
        node = if let Some(sub) = node.get("properties").and_then(|p| p.get(&name)) {
            sub
        } else if let Some(sub) = node.get("additionalProperties").filter(|a| a.is_object()) {
            sub
        } else {
            return false;
        };
        rest = after;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(schema: Value) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.acc.dev"},
               "spec": {"group": "acc.dev", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                        "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}})
    }

    fn problems(schema: Value) -> Vec<String> {
        check_crd(&crd(schema)).iter().map(ToString::to_string).collect()
    }

    const ROOT: &str = "spec.versions[0].schema.openAPIV3Schema";

    #[test]
    fn a_structural_schema_with_valid_defaults_and_rules_passes() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.size <= self.max", "message": "size must not exceed max", "fieldPath": ".size"}],
            "properties": {"size": {"type": "integer", "minimum": 1, "default": 1},
                           "max": {"type": "integer", "default": 10},
                           "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                           "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"maximum": 65535}]},
                           "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
        assert_eq!(problems(schema), Vec::<String>::new());
    }

    #[test]
    fn untyped_nodes_and_a_non_object_root_are_not_structural() {
        assert_eq!(problems(json!({"type": "string"})), [format!(r#"{ROOT}.type: Invalid value: "string": must be object at the root"#)]);
        let got = problems(json!({"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}},
                                                                   "list": {"type": "array", "items": {}}}}));
        assert_eq!(
            got,
            [
                format!("{ROOT}.properties[list].items.type: Required value: must not be empty for specified array items"),
                format!("{ROOT}.properties[spec].type: Required value: must not be empty for specified object fields"),
            ]
        );
    }

    #[test]
    fn unsupported_keywords_are_forbidden() {
        let got = problems(json!({"type": "object", "properties": {
            "a": {"$ref": "#/definitions/x", "type": "object"},
            "b": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
            "c": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "d": {"type": "string", "anyOf": [{"type": "string"}]}}}));
        assert_eq!(
            got,
            [
                format!("{ROOT}.properties[a].$ref: Forbidden: $ref is not supported"),
                format!("{ROOT}.properties[b].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
                format!("{ROOT}.properties[c].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"),
                format!("{ROOT}.properties[d].anyOf[0].type: Forbidden: must be empty to be structural"),
            ]
        );
    }

    #[test]
    fn a_default_must_pass_its_own_schema_and_rules() {
        let got = problems(json!({"type": "object", "properties": {
            "n": {"type": "integer", "maximum": 10, "default": 11},
            "s": {"type": "string", "default": "b", "x-kubernetes-validations": [{"rule": "self == 'a'", "message": "must be a"}]}}}));
        assert_eq!(
            got,
            [
                format!("{ROOT}.properties[n].default: Invalid value: 11: default in body should be less than or equal to 10"),
                format!(r#"{ROOT}.properties[s].default: Invalid value: "b": must be a"#),
            ]
        );
    }

    #[test]
    fn rules_must_compile_and_carry_a_one_line_message_and_a_declared_field_path() {
        let got = problems(json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"size": {"type": "integer"}},
            "x-kubernetes-validations": [
                {"rule": "self.size >", "message": "broken"},
                {"rule": "self.size > 0", "message": "two\nlines"},
                {"rule": "self.size > 0", "message": "m", "fieldPath": ".nope"},
                {"rule": "self.size > 0", "message": "m", "reason": "Because"},
                {"rule": "", "message": "m"}]}}}));
        let spec = format!("{ROOT}.properties[spec].x-kubernetes-validations");
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with(&format!(r#"{spec}[0].rule: Invalid value: "self.size >": compilation failed: "#)), "{got:#?}");
        assert_eq!(got[1], format!(r#"{spec}[1].message: Invalid value: "two\nlines": message must not contain line breaks"#));
        assert_eq!(got[2], format!(r#"{spec}[2].fieldPath: Invalid value: ".nope": fieldPath must be a valid path"#));
        assert!(got[3].starts_with(&format!(r#"{spec}[3].reason: Unsupported value: "Because": supported values: "#)), "{got:#?}");
        assert_eq!(got[4], format!("{spec}[4].rule: Required value: rule is not specified"));
    }

    #[test]
    fn field_paths_follow_properties_and_map_keys() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b.c": {"type": "string"}}},
                                                             "m": {"type": "object", "additionalProperties": {"type": "string"}}}});
        assert!(names_a_field(&schema, ".a"));
        assert!(names_a_field(&schema, ".a['b.c']"));
        assert!(names_a_field(&schema, ".m.anykey"));
        assert!(!names_a_field(&schema, ".a.b"));
        assert!(!names_a_field(&schema, "a"));
        assert!(!names_a_field(&schema, ""));
    }
}
