//! OpenAPI v3 schema validation with kube-openapi's messages, converted to field errors as
//! apiextensions-apiserver's `validation.ValidateCustomResource` does, plus the
//! `x-kubernetes-list-type` set/map invariants (`structurallisttype`).

use std::collections::HashSet;

use serde_json::Value;

use super::errors::{go_float, go_value, BadValue, ErrType, FieldError};
use super::prune::{child, index};

/// Validates `value` against the root `schema`, appending errors in the server's order:
/// per node type, string, format, number, list, enum, then object checks, then children.
/// `old` is the stored object on updates: as with the server's validation ratcheting, a node
/// whose value equals its correlated old value (same property; same key in a map list) is not
/// checked, so objects stored under an older schema stay updatable.
pub(crate) fn validate(schema: &Value, value: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    node(schema, value, old, "", true, errs);
}

fn bool_of(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// The kube-openapi type name of a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    let have = type_name(v);
    have == want || (want == "number" && have == "integer")
}

/// The path as kube-openapi names it in messages; the root is `.`... never reached for CRs
/// because the root is always an object with declared properties.
fn msg_path(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}

/// `field.Invalid(path, value, "<path> in body <what>")`.
fn invalid(path: &str, value: &Value, what: String) -> FieldError {
    FieldError::invalid(path, value, format!("{} in body {what}", msg_path(path)))
}

/// A bound as kube-openapi prints it: as an int64 when the data is an integer and the bound
/// is integral, else as a float64.
fn bound(b: f64, data: &Value) -> String {
    if type_name(data) == "integer" && b.fract() == 0.0 && b.abs() < 9.2e18 {
        format!("{}", b as i64)
    } else {
        go_float(b)
    }
}

fn node(schema: &Value, value: &Value, old: Option<&Value>, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    if value.is_null() && bool_of(schema, "nullable") {
        return;
    }
    if old == Some(value) {
        return;
    }
    let int_or_string = bool_of(schema, "x-kubernetes-int-or-string");
    let ty = schema.get("type").and_then(Value::as_str);
    let mut type_ok = true;
    if int_or_string {
        if !matches!(type_name(value), "integer" | "string") {
            type_ok = false;
            let have = type_name(value);
            errs.push(FieldError::new(
                ErrType::TypeInvalid,
                path,
                BadValue::Json(Value::from(have)),
                format!("{} in body must be of type integer,string: {:?}", msg_path(path), have),
            ));
        }
    } else if let Some(ty) = ty {
        if !type_matches(ty, value) {
            type_ok = false;
            let have = type_name(value);
            errs.push(FieldError::new(
                ErrType::TypeInvalid,
                path,
                BadValue::Json(Value::from(have)),
                format!("{} in body must be of type {ty}: {:?}", msg_path(path), have),
            ));
        }
    }

    composition(schema, value, path, errs);

    if type_ok {
        match value {
            Value::String(s) => string_checks(schema, s, value, path, errs),
            Value::Number(_) => number_checks(schema, value, path, errs),
            Value::Array(items) => list_checks(schema, items, old, path, errs),
            _ => {}
        }
    }

    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.iter().any(|a| json_eq(a, value)) {
            let names: Vec<String> = allowed
                .iter()
                .map(|a| match a {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            errs.push(FieldError::not_supported(path, value, &names));
        }
    }

    if type_ok {
        if let Value::Object(map) = value {
            object_checks(schema, map, old, path, root, errs);
        }
    }
}

/// JSON equality with numbers compared by value (1 == 1.0), as Go's reflect.DeepEqual on
/// unstructured values after kube-openapi's number normalisation.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

fn composition(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            node(sub, value, None, path, false, errs);
        }
    }
    let passes = |sub: &Value| {
        let mut e = Vec::new();
        node(sub, value, None, path, false, &mut e);
        e
    };
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = any.iter().map(passes).collect();
        if !results.iter().any(Vec::is_empty) {
            errs.push(invalid(path, value, "must validate at least one schema (anyOf)".into()));
            errs.extend(results.into_iter().flatten());
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = one.iter().map(passes).collect();
        let ok = results.iter().filter(|r| r.is_empty()).count();
        if ok != 1 {
            errs.push(invalid(path, value, "must validate one and only one schema (oneOf)".into()));
            if ok == 0 {
                errs.extend(results.into_iter().flatten());
            }
        }
    }
    if let Some(not) = schema.get("not") {
        if passes(not).is_empty() {
            errs.push(invalid(path, value, "must not validate the schema (not)".into()));
        }
    }
}

fn string_checks(schema: &Value, s: &str, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let chars = s.chars().count() as i64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_i64) {
        if chars > max {
            errs.push(FieldError::too_long(path, max));
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_i64) {
        if chars < min {
            errs.push(invalid(path, value, format!("should be at least {min} chars long")));
        }
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        // A pattern that does not compile was refused when the CRD was created.
        if let Ok(re) = regex::Regex::new(p) {
            if !re.is_match(s) {
                errs.push(invalid(path, value, format!("should match '{p}'")));
            }
        }
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        if !format_ok(f, s) {
            errs.push(FieldError::new(
                ErrType::TypeInvalid,
                path,
                BadValue::Json(value.clone()),
                format!("{} in body must be of type {f}: {}", msg_path(path), go_value(value)),
            ));
        }
    }
}

/// The cheap subset of the formats the server checks; unknown formats pass, as there.
fn format_ok(format: &str, s: &str) -> bool {
    use std::sync::OnceLock;
    static UUID: OnceLock<regex::Regex> = OnceLock::new();
    static DATE_TIME: OnceLock<regex::Regex> = OnceLock::new();
    static DATE: OnceLock<regex::Regex> = OnceLock::new();
    static BYTE: OnceLock<regex::Regex> = OnceLock::new();
    static HOSTNAME: OnceLock<regex::Regex> = OnceLock::new();
    match format {
        "uuid" => UUID
            .get_or_init(|| {
                regex::Regex::new(r"^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$").expect("static regex")
            })
            .is_match(s),
        "date-time" => DATE_TIME
            .get_or_init(|| {
                regex::Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$").expect("static regex")
            })
            .is_match(s),
        "date" => DATE.get_or_init(|| regex::Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("static regex")).is_match(s),
        "byte" => BYTE
            .get_or_init(|| regex::Regex::new(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$").expect("static regex"))
            .is_match(s),
        "hostname" => {
            s.len() <= 255
                && HOSTNAME
                    .get_or_init(|| {
                        regex::Regex::new(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
                            .expect("static regex")
                    })
                    .is_match(s)
        }
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            ip.parse::<std::net::IpAddr>().is_ok_and(|a| bits.parse::<u8>().is_ok_and(|b| b <= if a.is_ipv4() { 32 } else { 128 }))
        }),
        _ => true,
    }
}

fn number_checks(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(x) = value.as_f64() else { return };
    if let Some(m) = schema.get("multipleOf").and_then(Value::as_f64) {
        if m > 0.0 && (x / m).fract() != 0.0 {
            errs.push(invalid(path, value, format!("should be a multiple of {}", bound(m, value))));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        if bool_of(schema, "exclusiveMaximum") {
            if x >= max {
                errs.push(invalid(path, value, format!("should be less than {}", bound(max, value))));
            }
        } else if x > max {
            errs.push(invalid(path, value, format!("should be less than or equal to {}", bound(max, value))));
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if bool_of(schema, "exclusiveMinimum") {
            if x <= min {
                errs.push(invalid(path, value, format!("should be greater than {}", bound(min, value))));
            }
        } else if x < min {
            errs.push(invalid(path, value, format!("should be greater than or equal to {}", bound(min, value))));
        }
    }
}

fn list_checks(schema: &Value, items: &[Value], old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    // kube-openapi checks the items first, then the list's own constraints.
    if let Some(sub) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            node(sub, item, correlate(schema, item, old), &index(path, i), false, errs);
        }
    }
    let n = items.len() as i64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_i64) {
        if n < min {
            errs.push(invalid(path, &Value::from(n), format!("should have at least {min} items")));
        }
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_i64) {
        if n > max {
            errs.push(FieldError::too_many(path, n, max));
        }
    }
    if bool_of(schema, "uniqueItems") {
        let dup = items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)));
        if dup {
            // kube-openapi's DuplicateItems carries no value, which the server prints as "".
            errs.push(invalid(path, &Value::from(""), "shouldn't contain duplicates".into()));
        }
    }
}

/// The old item a new list item corresponds to: the item with the same keys in a
/// `x-kubernetes-list-type: map` list; none in other lists, whose items have no identity.
fn correlate<'a>(schema: &Value, item: &Value, old: Option<&'a Value>) -> Option<&'a Value> {
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
        return None;
    }
    let keys: Vec<&str> = schema.get("x-kubernetes-list-map-keys")?.as_array()?.iter().filter_map(Value::as_str).collect();
    old?.as_array()?.iter().find(|o| keys.iter().all(|k| o.get(*k) == item.get(*k)))
}

fn object_checks(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    root: bool,
    errs: &mut Vec<FieldError>,
) {
    // kube-openapi's order: property counts (which end the object's checks when they fail),
    // additionalProperties, properties, then required.
    let n = map.len() as i64;
    if let Some(min) = schema.get("minProperties").and_then(Value::as_i64) {
        if n < min {
            errs.push(invalid(path, &Value::from(n), format!("should have at least {min} properties")));
            return;
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_i64) {
        if n > max {
            errs.push(FieldError::too_many(path, n, max));
            return;
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(sub) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        for (k, v) in map {
            if props.is_some_and(|p| p.contains_key(k)) {
                continue;
            }
            node(sub, v, old.and_then(|o| o.get(k)), &child(path, k), false, errs);
        }
    }
    if let Some(props) = props {
        for (name, sub) in props {
            // The root's metadata is ObjectMeta, validated by the server itself.
            if root && name == "metadata" {
                continue;
            }
            if let Some(v) = map.get(name) {
                node(sub, v, old.and_then(|o| o.get(name)), &child(path, name), false, errs);
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errs.push(FieldError::required(&child(path, name)));
            }
        }
    }
}

/// `structurallisttype.ValidateListSetsAndMaps`: items of `x-kubernetes-list-type: set`
/// lists are unique; items of `map` lists are unique by their `x-kubernetes-list-map-keys`.
pub(crate) fn validate_list_types(schema: &Value, value: &Value, errs: &mut Vec<FieldError>) {
    list_types(schema, value, "", errs);
}

fn list_types(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                if let Some(sub) = props.and_then(|p| p.get(k)) {
                    list_types(sub, v, &child(path, k), errs);
                } else if let Some(sub) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    list_types(sub, v, &child(path, k), errs);
                }
            }
        }
        Value::Array(items) => {
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => {
                    let mut seen: Vec<&Value> = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        if seen.iter().any(|s| json_eq(s, item)) {
                            errs.push(FieldError::new(ErrType::Duplicate, &index(path, i), BadValue::Json(item.clone()), ""));
                        } else {
                            seen.push(item);
                        }
                    }
                }
                Some("map") => {
                    let keys: Vec<&str> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut seen: HashSet<String> = HashSet::new();
                    for (i, item) in items.iter().enumerate() {
                        let mut key = serde_json::Map::new();
                        for k in &keys {
                            if let Some(v) = item.get(*k) {
                                key.insert((*k).to_string(), v.clone());
                            }
                        }
                        // Items missing a key are refused by `required` in valid CRDs.
                        if !seen.insert(Value::Object(key.clone()).to_string()) {
                            errs.push(FieldError::new(ErrType::Duplicate, &index(path, i), BadValue::Json(Value::Object(key)), ""));
                        }
                    }
                }
                _ => {}
            }
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    list_types(sub, item, &index(path, i), errs);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, value: Value) -> Vec<String> {
        let root = json!({"type": "object", "properties": {"spec": schema}});
        let mut errs = Vec::new();
        validate(&root, &json!({"spec": value}), None, &mut errs);
        validate_list_types(&root, &json!({"spec": value}), &mut errs);
        errs.into_iter().map(|e| format!("{} [{}]", e.clone().into_cause(), e.into_cause().reason)).collect()
    }

    #[test]
    fn numeric_bounds() {
        let s = json!({"type": "object", "properties": {"listeners": {"type": "array", "items": {"type": "object", "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535}}}}}});
        assert_eq!(
            check(s.clone(), json!({"listeners": [{"port": 0}]})),
            ["spec.listeners[0].port: Invalid value: 0: spec.listeners[0].port in body should be greater than or equal to 1 [FieldValueInvalid]"]
        );
        assert_eq!(
            check(s, json!({"listeners": [{"port": 80}, {"port": 70000}]})),
            ["spec.listeners[1].port: Invalid value: 70000: spec.listeners[1].port in body should be less than or equal to 65535 [FieldValueInvalid]"]
        );
        let ex = json!({"type": "number", "minimum": 0.5, "exclusiveMinimum": true, "maximum": 2, "exclusiveMaximum": true});
        assert_eq!(
            check(ex.clone(), json!(0.5)),
            ["spec: Invalid value: 0.5: spec in body should be greater than 0.5 [FieldValueInvalid]"]
        );
        assert_eq!(check(ex, json!(2)), ["spec: Invalid value: 2: spec in body should be less than 2 [FieldValueInvalid]"]);
        assert_eq!(
            check(json!({"type": "integer", "multipleOf": 5}), json!(7)),
            ["spec: Invalid value: 7: spec in body should be a multiple of 5 [FieldValueInvalid]"]
        );
    }

    #[test]
    fn strings() {
        let s =
            json!({"type": "object", "properties": {"name": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"}}});
        assert_eq!(
            check(s.clone(), json!({"name": "A"})),
            [
                r#"spec.name: Invalid value: "A": spec.name in body should be at least 3 chars long [FieldValueInvalid]"#,
                r#"spec.name: Invalid value: "A": spec.name in body should match '^[a-z]+$' [FieldValueInvalid]"#
            ]
        );
        assert_eq!(check(s, json!({"name": "abcdef"})), ["spec.name: Too long: may not be more than 5 bytes [FieldValueTooLong]"]);
        assert_eq!(
            check(json!({"type": "string", "format": "uuid"}), json!("nope")),
            [r#"spec: Invalid value: "nope": spec in body must be of type uuid: "nope" [FieldValueTypeInvalid]"#]
        );
        assert!(check(json!({"type": "string", "format": "date-time"}), json!("2026-01-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn enums_types_and_required() {
        let s = json!({"type": "object", "required": ["mode", "n"], "properties": {
            "mode": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "integer"}, "f": {"type": "boolean"}}});
        assert_eq!(
            check(s.clone(), json!({"mode": "x", "n": 1})),
            [r#"spec.mode: Unsupported value: "x": supported values: "a", "b" [FieldValueNotSupported]"#]
        );
        assert_eq!(check(s.clone(), json!({"mode": "a"})), ["spec.n: Required value [FieldValueRequired]"]);
        assert_eq!(
            check(s.clone(), json!({"mode": "a", "n": 1.5, "f": "yes"})),
            [
                r#"spec.f: Invalid value: "string": spec.f in body must be of type boolean: "string" [FieldValueTypeInvalid]"#,
                r#"spec.n: Invalid value: "number": spec.n in body must be of type integer: "number" [FieldValueTypeInvalid]"#
            ]
        );
        assert!(check(s, json!({"mode": "b", "n": 2.0})).is_empty(), "an integral float is an integer");
        assert_eq!(
            check(json!({"type": "integer", "enum": [1, 2]}), json!(3)),
            [r#"spec: Unsupported value: 3: supported values: "1", "2" [FieldValueNotSupported]"#]
        );
    }

    #[test]
    fn nullable_and_int_or_string() {
        let s =
            json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true}, "p": {"x-kubernetes-int-or-string": true}}});
        assert!(check(s.clone(), json!({"a": null, "p": 80})).is_empty());
        assert!(check(s.clone(), json!({"p": "http"})).is_empty());
        assert_eq!(check(s, json!({"p": true})).len(), 1);
        assert_eq!(
            check(json!({"type": "array", "items": {"type": "string"}}), json!(["a", null])),
            [r#"spec[1]: Invalid value: "null": spec[1] in body must be of type string: "null" [FieldValueTypeInvalid]"#]
        );
    }

    #[test]
    fn lists_and_maps() {
        assert_eq!(
            check(json!({"type": "array", "minItems": 1}), json!([])),
            ["spec: Invalid value: 0: spec in body should have at least 1 items [FieldValueInvalid]"]
        );
        assert_eq!(
            check(json!({"type": "array", "maxItems": 1}), json!([1, 2])),
            ["spec: Too many: 2: must have at most 1 items [FieldValueTooMany]"]
        );
        assert_eq!(
            check(json!({"type": "array", "uniqueItems": true}), json!([1, 1])),
            [r#"spec: Invalid value: "": spec in body shouldn't contain duplicates [FieldValueInvalid]"#]
        );
        assert_eq!(
            check(json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}), json!({"k": -1})),
            ["spec.k: Invalid value: -1: spec.k in body should be greater than or equal to 0 [FieldValueInvalid]"]
        );
        assert_eq!(
            check(json!({"type": "object", "maxProperties": 1}), json!({"a": 1, "b": 2})),
            ["spec: Too many: 2: must have at most 1 items [FieldValueTooMany]"]
        );
    }

    #[test]
    fn object_order_and_property_counts() {
        let s = json!({"type": "object", "required": ["a"], "properties": {"b": {"type": "integer", "minimum": 1}}});
        assert_eq!(
            check(s, json!({"b": 0})),
            [
                "spec.b: Invalid value: 0: spec.b in body should be greater than or equal to 1 [FieldValueInvalid]",
                "spec.a: Required value [FieldValueRequired]"
            ],
            "property errors come before required errors"
        );
        let s = json!({"type": "object", "minProperties": 2, "required": ["a"]});
        assert_eq!(
            check(s, json!({"b": 1})),
            ["spec: Invalid value: 1: spec in body should have at least 2 properties [FieldValueInvalid]"],
            "a property count failure ends the object's checks"
        );
    }

    #[test]
    fn list_type_set_and_map_uniqueness() {
        assert_eq!(
            check(json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}), json!(["a", "b", "a"])),
            [r#"spec[2]: Duplicate value: "a" [FieldValueDuplicate]"#]
        );
        let m = json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "name": {"type": "string"}}}});
        assert_eq!(
            check(m.clone(), json!([{"port": 80, "name": "a"}, {"port": 80, "name": "b"}])),
            [r#"spec[1]: Duplicate value: map[string]interface {}{"port":80} [FieldValueDuplicate]"#]
        );
        assert!(check(m, json!([{"port": 80}, {"port": 443}])).is_empty());
    }

    #[test]
    fn unchanged_invalid_values_are_ratcheted_on_update() {
        let root = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "integer", "minimum": 5}, "b": {"type": "integer", "minimum": 5},
            "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                  "items": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer", "minimum": 5}}}}}}}});
        let old = json!({"spec": {"a": 1, "b": 9, "l": [{"k": "x", "v": 1}]}});
        let new = json!({"spec": {"a": 1, "b": 2, "l": [{"k": "y", "v": 2}, {"k": "x", "v": 1}]}});
        let mut errs = Vec::new();
        validate(&root, &new, Some(&old), &mut errs);
        let fields: Vec<String> = errs.into_iter().map(|e| e.field_str()).collect();
        assert_eq!(fields, ["spec.b", "spec.l[0].v"], "unchanged spec.a and the moved item x pass");
    }

    #[test]
    fn any_of_all_of_not() {
        let s = json!({"type": "string", "anyOf": [{"enum": ["a"]}, {"pattern": "^b"}]});
        assert!(check(s.clone(), json!("bcd")).is_empty());
        let errs = check(s, json!("c"));
        assert_eq!(errs[0], r#"spec: Invalid value: "c": spec in body must validate at least one schema (anyOf) [FieldValueInvalid]"#);
        assert_eq!(errs.len(), 3);
        assert_eq!(check(json!({"type": "integer", "allOf": [{"minimum": 2}]}), json!(1)).len(), 1);
        assert_eq!(check(json!({"type": "integer", "not": {"minimum": 2}}), json!(3)).len(), 1);
    }
}
