//! API errors, answered as `Status` bodies shaped like the real kube-apiserver's.

use serde_json::{json, Value};

/// One failed request: HTTP code plus the `Status` body to send.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` of the Status (NotFound, AlreadyExists, Conflict, Invalid, ...).
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// `details`, if any.
    pub details: Option<Value>,
}

/// A `group`/`resource` pair as the apiserver names it in messages (`widgets.acc.dev`).
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    /// A plain error without details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError { code, reason: reason.into(), message: message.into(), details: None }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for one named object.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound".into(),
            message: format!("{} \"{name}\" not found", qualified(group, plural)),
            details: Some(json!({"name": name, "group": group, "kind": plural})),
        }
    }

    /// 404 for a path that names no resource.
    pub fn no_route() -> Self {
        let mut e = Self::new(404, "NotFound", "the server could not find the requested resource");
        e.details = Some(serde_json::json!({}));
        e
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists".into(),
            message: format!("{} \"{name}\" already exists", qualified(group, plural)),
            details: Some(json!({"name": name, "group": group, "kind": plural})),
        }
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::conflict_msg(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a custom explanation.
    pub fn conflict_msg(group: &str, plural: &str, name: &str, why: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict".into(),
            message: format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(group, plural)),
            details: Some(json!({"name": name, "group": group, "kind": plural})),
        }
    }

    /// 422 Invalid. `kind_label` is the Kind (validation) or the plural (request errors), as
    /// the real server uses both; `causes` are (reason, field, message-without-field).
    pub fn invalid(group: &str, kind_label: &str, name: &str, causes: &[(String, String, String)]) -> Self {
        let mut seen: Vec<String> = Vec::new();
        for (_, field, msg) in causes {
            let s = format!("{field}: {msg}");
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        let joined = if seen.len() == 1 { seen[0].clone() } else { format!("[{}]", seen.join(", ")) };
        let causes: Vec<Value> =
            causes.iter().map(|(reason, field, message)| json!({"reason": reason, "field": field, "message": message})).collect();
        ApiError {
            code: 422,
            reason: "Invalid".into(),
            message: format!("{} \"{name}\" is invalid: {joined}", qualified(group, kind_label)),
            details: Some(json!({"name": name, "group": group, "kind": kind_label, "causes": causes})),
        }
    }

    /// 410 Expired (too old resourceVersion or continue token).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 415 for patch types a resource does not accept.
    pub fn unsupported_patch(custom: bool) -> Self {
        let types = if custom {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        } else {
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        };
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {types}"),
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

/// Result alias for request handling.
pub type ApiResult<T> = Result<T, ApiError>;
