//! Schema defaulting (apiextensions-apiserver `schema/defaulting`): a missing property with a
//! `default` gets it, as does a `null` in a non-nullable property; other nulls of non-nullable
//! properties are dropped (`PruneNonNullableNullsWithoutDefaults`). Defaults apply at every
//! level, inside list items and map values too, and inside the defaults themselves.

use serde_json::Value;

/// Defaults `value` in place against `schema`.
pub(crate) fn apply(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    let nullable = sub.get("nullable").and_then(Value::as_bool) == Some(true);
                    match (map.get(name), sub.get("default")) {
                        (None, Some(d)) => {
                            map.insert(name.clone(), d.clone());
                        }
                        (Some(Value::Null), Some(d)) if !nullable => {
                            map.insert(name.clone(), d.clone());
                        }
                        (Some(Value::Null), None) if !nullable => {
                            map.remove(name);
                        }
                        _ => {}
                    }
                    if let Some(v) = map.get_mut(name) {
                        apply(sub, v);
                    }
                }
            }
            if let Some(sub) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                let known = schema.get("properties").and_then(Value::as_object);
                for (k, v) in map.iter_mut() {
                    if known.is_some_and(|p| p.contains_key(k)) {
                        continue;
                    }
                    if v.is_null() {
                        if let Some(d) = sub.get("default") {
                            *v = d.clone();
                        }
                    }
                    apply(sub, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for item in items.iter_mut() {
                    if item.is_null() && sub.get("nullable").and_then(Value::as_bool) != Some(true) {
                        if let Some(d) = sub.get("default") {
                            *item = d.clone();
                        }
                    }
                    apply(sub, item);
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

    #[test]
    fn fills_missing_and_null_fields_recursively() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "port": {"type": "integer", "default": 80},
            "mode": {"type": "string", "default": "a"},
            "gone": {"type": "string"},
            "keep": {"type": "string", "nullable": true},
            "nested": {"type": "object", "default": {}, "properties": {"inner": {"type": "boolean", "default": true}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"w": {"type": "integer", "default": 1}}}}}}}});
        let mut obj = json!({"spec": {"mode": null, "gone": null, "keep": null, "list": [{}, {"w": 5}]}});
        apply(&schema, &mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"port": 80, "mode": "a", "keep": null,
            "nested": {"inner": true}, "list": [{"w": 1}, {"w": 5}]}})
        );
    }

    #[test]
    fn does_not_create_missing_parents_without_a_default() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "port": {"type": "integer", "default": 80}}}}});
        let mut obj = json!({"metadata": {"name": "x"}});
        apply(&schema, &mut obj);
        assert_eq!(obj, json!({"metadata": {"name": "x"}}));
    }
}
