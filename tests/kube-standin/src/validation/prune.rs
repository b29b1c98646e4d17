//! Pruning of fields the structural schema does not declare (apiextensions-apiserver
//! `schema/pruning`). `apiVersion`, `kind` and `metadata` survive at the root and in
//! `x-kubernetes-embedded-resource` objects; `metadata` itself is left to the server, which
//! decodes it as ObjectMeta.

use serde_json::Value;

/// Removes unknown fields from `obj` in place and returns their paths
/// (`spec.unknownField`, `spec.items[0].x`), in document order.
pub(crate) fn prune(schema: &Value, obj: &mut Value, _strict: bool) -> Vec<String> {
    let mut dropped = Vec::new();
    walk(schema, obj, "", true, &mut dropped);
    dropped
}

pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool) == Some(true)
}

fn walk(schema: &Value, value: &mut Value, path: &str, embedded: bool, dropped: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let field_path = child(path, &key);
                if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    // The server handles these (ObjectMeta decoding); only declared
                    // sub-schemas of apiVersion/kind would matter, and they are scalars.
                    continue;
                }
                if let Some(sub) = props.and_then(|p| p.get(&key)) {
                    let emb = flag(sub, "x-kubernetes-embedded-resource");
                    walk(sub, map.get_mut(&key).expect("key listed"), &field_path, emb, dropped);
                } else if let Some(sub) = additional.filter(|a| a.is_object()) {
                    let emb = flag(sub, "x-kubernetes-embedded-resource");
                    walk(sub, map.get_mut(&key).expect("key listed"), &field_path, emb, dropped);
                } else if preserve || additional.and_then(Value::as_bool) == Some(true) {
                    // Kept as is; nothing below it is known to the schema.
                } else {
                    map.remove(&key);
                    dropped.push(field_path);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                let emb = flag(sub, "x-kubernetes-embedded-resource");
                for (i, item) in items.iter_mut().enumerate() {
                    walk(sub, item, &index(path, i), emb, dropped);
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
    fn drops_undeclared_fields_and_reports_their_paths() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "integer"},
            "l": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "integer"}}}}}}}});
        let mut obj = json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "odd": 1},
            "spec": {"a": 1, "b": 2, "l": [{"p": 1, "q": 2}]}, "extra": {}});
        let dropped = prune(&schema, &mut obj, false);
        assert_eq!(obj, json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "odd": 1}, "spec": {"a": 1, "l": [{"p": 1}]}}));
        assert_eq!(dropped, vec!["extra", "spec.b", "spec.l[0].q"]);
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknowns_but_prunes_declared_children() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "object", "properties": {"k": {"type": "string"}}}}}}});
        let mut obj = json!({"spec": {"anything": {"deep": 1}, "known": {"k": "v", "junk": 1}}});
        let dropped = prune(&schema, &mut obj, false);
        assert_eq!(obj, json!({"spec": {"anything": {"deep": 1}, "known": {"k": "v"}}}));
        assert_eq!(dropped, vec!["spec.known.junk"]);
    }

    #[test]
    fn additional_properties_maps_and_embedded_resources() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}}}}});
        let mut obj = json!({"spec": {"labels": {"x": {"v": "1", "w": 2}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"gone": 1}, "other": 1}}});
        let dropped = prune(&schema, &mut obj, false);
        assert_eq!(
            obj,
            json!({"spec": {"labels": {"x": {"v": "1"}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}})
        );
        assert_eq!(dropped, vec!["spec.labels.x.w", "spec.template.other", "spec.template.spec.gone"]);
    }
}
