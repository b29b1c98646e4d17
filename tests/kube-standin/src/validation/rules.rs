//! `x-kubernetes-validations` CEL rules, evaluated by kube-cel (the `cel` crate with the
//! Kubernetes CEL libraries), reported as apiextensions-apiserver reports them: the rule's
//! `reason` picks the error type and the value is omitted (`spec: Invalid value: <message>`).

use serde_json::Value;

use super::errors::{BadValue, ErrType, FieldError};

thread_local! {
    // Registering the Kubernetes CEL functions is the costly part; do it once per thread.
    static VALIDATOR: kube_cel::Validator = kube_cel::Validator::new();
}

/// Evaluates every rule of `schema` against `obj`, with `oldSelf` bound from `old` where an
/// old value exists at the rule's node (transition rules are skipped otherwise).
pub(crate) fn validate(schema: &Value, obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let result = VALIDATOR.with(|v| v.validate(schema, obj, old));
    let Err(failures) = result else { return };
    for f in failures.into_vec() {
        let field = if f.field_path.is_empty() { None } else { Some(f.field_path.clone()) };
        let kind = match f.kind {
            kube_cel::ErrorKind::ValidationFailure => match f.reason.as_deref() {
                Some("FieldValueForbidden") => ErrType::Forbidden,
                Some("FieldValueRequired") => ErrType::Required,
                Some("FieldValueDuplicate") => ErrType::Duplicate,
                _ => ErrType::Invalid,
            },
            _ => ErrType::Invalid,
        };
        // A duplicate carries no detail in field.Duplicate; the others carry the message.
        let detail = if kind == ErrType::Duplicate { String::new() } else { f.message.trim().to_string() };
        errs.push(FieldError { kind, field, value: BadValue::Omit, detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(schema: Value, obj: Value, old: Option<Value>) -> Vec<String> {
        let mut errs = Vec::new();
        validate(&schema, &obj, old.as_ref(), &mut errs);
        errs.into_iter().map(|e| format!("{} [{}]", e.clone().into_cause(), e.into_cause().reason)).collect()
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
    fn message_expression() {
        let s = spec_schema(
            json!([{"rule": "self.n <= 3", "messageExpression": "'n is ' + string(self.n) + ', at most 3'"}]),
            json!({"n": {"type": "integer"}}),
        );
        assert_eq!(run(s, json!({"spec": {"n": 5}}), None), ["spec: Invalid value: n is 5, at most 3 [FieldValueInvalid]"]);
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
        let s = spec_schema(json!([{"rule": "self.name == oldSelf.name", "message": "name is immutable"}]), json!({"name": {"type": "string"}}));
        assert!(run(s.clone(), json!({"spec": {"name": "a"}}), None).is_empty());
        assert_eq!(
            run(s.clone(), json!({"spec": {"name": "b"}}), Some(json!({"spec": {"name": "a"}}))),
            ["spec: Invalid value: name is immutable [FieldValueInvalid]"]
        );
        assert!(run(s, json!({"spec": {"name": "a"}}), Some(json!({"spec": {"name": "a"}}))).is_empty());
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
