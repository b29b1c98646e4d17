//! Custom resource validation as the real API server does it: prune unknown fields, apply
//! schema defaults, validate against openAPIV3Schema, check `x-kubernetes-list-type`
//! invariants, then evaluate the CEL rules of `x-kubernetes-validations` (with `oldSelf` on
//! updates). Messages and field paths follow kube-apiserver (apiextensions-apiserver and
//! `k8s.io/apimachinery/pkg/util/validation/field`) so a 422 built from the causes reads like
//! the real one.

mod crd;
mod defaults;
mod errors;
mod prune;
mod rules;
mod structural;

use serde_json::Value;

pub use crd::check_crd;
pub use errors::invalid_message;

/// `Cause::reason` of an unknown field refused by `fieldValidation=Strict`. The real server
/// answers those with 400 BadRequest, message `strict decoding error: <messages joined by ", ">`
/// (see [`strict_decoding_message`]), not with a 422.
pub const REASON_UNKNOWN_FIELD: &str = "FieldValueUnknown";

/// One reason an object was refused, as in a 422 Status's `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`,
    /// `FieldValueForbidden`, `FieldValueTooLong`, `FieldValueTooMany`,
    /// `FieldValueTypeInvalid`, `FieldValueDuplicate`, or [`REASON_UNKNOWN_FIELD`].
    pub reason: String,
    /// The field path, as `spec.listeners[0].port`; `<nil>` when the error names no field.
    pub field: String,
    /// The message without the field, as in a Status cause:
    /// `Invalid value: 0: spec.listeners[0].port in body should be greater than or equal to 1`.
    /// `Display` of the cause prefixes the field, as the Status message does.
    pub message: String,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Options of one validation.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `fieldValidation=Strict`: unknown fields are an error instead of being pruned.
    pub strict: bool,
}

/// Prunes, defaults and validates `obj` (a whole custom object, `apiVersion`/`kind`/
/// `metadata` included) against `schema` (the version's `openAPIV3Schema`). `old` is the
/// stored object on updates, for transition rules. On success `obj` is the object to store;
/// the returned strings are warnings: `unknown field "spec.x"` for each field dropped (as the
/// server's default `fieldValidation=Warn` reports them), and the failures of CEL rules that
/// were ratcheted because their value did not change (`spec: Invalid value: <message>`).
///
/// The order is the API server's: strict decoding, pruning, defaulting (nulls of
/// non-nullable fields without a default are dropped), OpenAPI schema validation,
/// list-type invariants, then CEL rules — which are skipped, with one `<nil>` cause saying so,
/// when a blocking error (unsupported enum value, missing required field, too long, too many,
/// wrong type) was found. On updates, schema errors in values unchanged from `old` are not
/// reported (the server's validation ratcheting).
pub fn validate(schema: &Value, obj: &mut Value, old: Option<&Value>, options: &Options) -> Result<Vec<String>, Vec<Cause>> {
    let unknown = prune::prune(schema, obj, options.strict);
    if options.strict && !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|path| Cause { reason: REASON_UNKNOWN_FIELD.into(), field: path.clone(), message: format!("unknown field {path:?}") })
            .collect());
    }
    defaults::apply(schema, obj);

    let old = old.map(|o| {
        // The stored object was defaulted when written; default again in case the schema
        // gained defaults since, as the server does when it decodes the old object.
        let mut o = o.clone();
        defaults::apply(schema, &mut o);
        o
    });
    let mut errs = Vec::new();
    let mut warnings: Vec<String> = unknown.into_iter().map(|p| format!("unknown field {p:?}")).collect();
    structural::validate(schema, obj, old.as_ref(), &mut errs);
    structural::validate_list_types(schema, obj, &mut errs);
    if errs.iter().any(errors::FieldError::blocks_cel) {
        errs.push(errors::FieldError::cel_skipped());
    } else {
        rules::validate(schema, obj, old.as_ref(), &mut errs, &mut warnings);
    }
    if errs.is_empty() {
        Ok(warnings)
    } else {
        Err(errs.into_iter().map(errors::FieldError::into_cause).collect())
    }
}

/// The 400 message the server gives for unknown fields under `fieldValidation=Strict`:
/// `strict decoding error: unknown field "spec.x", unknown field "spec.y"`.
pub fn strict_decoding_message(causes: &[Cause]) -> String {
    let parts: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    format!("strict decoding error: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The conformance transcript's Widget schema.
    fn widget_schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"],
                "x-kubernetes-validations": [{"rule": "self.size <= self.max", "message": "size must not exceed max"}],
                "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 10},
                               "max": {"type": "integer", "default": 10},
                               "color": {"type": "string", "enum": ["red", "blue"]},
                               "tags": {"type": "array", "items": {"type": "string"}}}},
            "status": {"type": "object", "properties": {
                "observedGeneration": {"type": "integer"},
                "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}})
    }

    fn widget(spec: Value) -> Value {
        json!({"apiVersion": "acc.dev/v1", "kind": "Widget", "metadata": {"name": "w1", "labels": {"a": "b"}}, "spec": spec})
    }

    fn run(obj: &mut Value) -> Result<Vec<String>, Vec<Cause>> {
        validate(&widget_schema(), obj, None, &Options::default())
    }

    #[test]
    fn prunes_defaults_and_accepts_like_the_transcript() {
        let mut obj = widget(json!({"size": 3, "unknownField": 1}));
        let warnings = run(&mut obj).expect("valid");
        assert_eq!(obj["spec"], json!({"size": 3, "max": 10}));
        assert_eq!(obj["metadata"]["labels"], json!({"a": "b"}), "metadata is not pruned");
        assert_eq!(warnings, vec![r#"unknown field "spec.unknownField""#.to_string()]);
    }

    #[test]
    fn strict_mode_refuses_unknown_fields_before_validating() {
        let mut obj = widget(json!({"size": 0, "unknownField": 1, "tags": [1]}));
        let causes = validate(&widget_schema(), &mut obj, None, &Options { strict: true }).unwrap_err();
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].reason, REASON_UNKNOWN_FIELD);
        assert_eq!(strict_decoding_message(&causes), r#"strict decoding error: unknown field "spec.unknownField""#);
    }

    #[test]
    fn minimum_violation_matches_the_transcript() {
        let causes = run(&mut widget(json!({"size": 0}))).unwrap_err();
        assert_eq!(
            causes,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                field: "spec.size".into(),
                message: "Invalid value: 0: spec.size in body should be greater than or equal to 1".into()
            }]
        );
        assert_eq!(
            invalid_message("Widget.acc.dev", "bad", &causes),
            r#"Widget.acc.dev "bad" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"#
        );
    }

    #[test]
    fn cel_violation_matches_the_transcript() {
        let causes = run(&mut widget(json!({"size": 5, "max": 4}))).unwrap_err();
        assert_eq!(
            causes,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                field: "spec".into(),
                message: "Invalid value: size must not exceed max".into()
            }]
        );
    }

    #[test]
    fn enum_violation_blocks_cel_like_the_transcript() {
        // max 1 < size 2 would fail the CEL rule, but the enum error blocks CEL evaluation.
        let causes = run(&mut widget(json!({"size": 2, "max": 1, "color": "green"}))).unwrap_err();
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert_eq!(causes[0].reason, "FieldValueNotSupported");
        assert_eq!(causes[0].field, "spec.color");
        assert_eq!(causes[0].message, r#"Unsupported value: "green": supported values: "red", "blue""#);
        assert_eq!(causes[1].field, "<nil>");
        assert_eq!(
            causes[1].message,
            "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
        );
        assert_eq!(
            invalid_message("Widget.acc.dev", "bad3", &causes),
            "Widget.acc.dev \"bad3\" is invalid: [spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"
        );
    }

    #[test]
    fn missing_required_field() {
        let causes = run(&mut widget(json!({"max": 3}))).unwrap_err();
        assert_eq!(causes[0], Cause { reason: "FieldValueRequired".into(), field: "spec.size".into(), message: "Required value".into() });
    }

    #[test]
    fn wrong_type() {
        let causes = run(&mut widget(json!({"size": "3"}))).unwrap_err();
        assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
        assert_eq!(causes[0].message, r#"Invalid value: "string": spec.size in body must be of type integer: "string""#);
    }

    #[test]
    fn status_conditions_keep_unknown_fields() {
        let mut obj = widget(json!({"size": 1}));
        obj["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "x": 1}], "junk": 1});
        let warnings = run(&mut obj).expect("valid");
        assert_eq!(obj["status"], json!({"conditions": [{"type": "Ready", "status": "True", "x": 1}]}));
        assert_eq!(warnings, vec![r#"unknown field "status.junk""#.to_string()]);
    }

    #[test]
    fn transition_rule_uses_old_object_only_on_update() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"name": {"type": "string",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]}}}}});
        let mut created = json!({"spec": {"name": "a"}});
        validate(&schema, &mut created, None, &Options::default()).expect("no oldSelf on create");
        let mut updated = json!({"spec": {"name": "b"}});
        let causes = validate(&schema, &mut updated, Some(&created), &Options::default()).unwrap_err();
        assert_eq!(causes[0].field, "spec.name");
        assert_eq!(causes[0].message, r#"Invalid value: "b": name is immutable"#);
        let mut same = json!({"spec": {"name": "a"}});
        validate(&schema, &mut same, Some(&created), &Options::default()).expect("unchanged name passes");
    }
}
