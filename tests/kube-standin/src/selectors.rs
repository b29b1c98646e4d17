//! Label and field selectors, parsed as the apiserver parses them.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (requirements ANDed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelReq>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn set_values(rest: &str) -> ApiResult<Vec<String>> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| ApiError::bad_request(format!("unable to parse requirement: found '{rest}', expected: '('")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(s: &str) -> ApiResult<Self> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some(k) = part.strip_prefix('!') {
                LabelReq::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some(idx) = part.find(" notin ") {
                LabelReq::NotIn(part[..idx].trim().into(), set_values(&part[idx + 7..])?)
            } else if let Some(idx) = part.find(" in ") {
                LabelReq::In(part[..idx].trim().into(), set_values(&part[idx + 4..])?)
            } else if part.contains(' ') || part.contains('(') {
                return Err(ApiError::bad_request(format!("unable to parse requirement: {part}")));
            } else {
                LabelReq::Exists(part)
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether the object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector: (field, wanted value, equal?) ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, String, bool)>);

/// The fields a kind supports in field selectors, besides metadata.name/namespace.
fn supported_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses and checks the fields against what the kind supports (400 otherwise).
    pub fn parse(s: &str, group: &str, plural: &str) -> ApiResult<Self> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let (k, v, eq) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, true)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{part}'")));
            };
            let k = k.trim();
            if k != "metadata.name" && k != "metadata.namespace" && !supported_fields(group, plural).contains(&k) {
                return Err(ApiError::bad_request(format!("field label not supported: {k}")));
            }
            reqs.push((k.to_string(), v.trim().to_string(), eq));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object (in storage form) satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, want, eq)| {
            // events.k8s.io field names map onto the core/v1 storage form.
            let f = field.replace("regarding.", "involvedObject.").replace("reportingController", "reportingComponent");
            let actual = if f == "source" {
                obj.pointer("/source/component").or_else(|| obj.get("reportingComponent")).cloned()
            } else {
                let ptr = format!("/{}", f.replace('.', "/"));
                obj.pointer(&ptr).cloned()
            };
            let actual = match actual {
                Some(Value::String(s)) => s,
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (actual == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_forms() {
        let o = json!({"metadata": {"labels": {"tier": "a", "app": "web"}}});
        for (s, want) in [
            ("tier=a", true),
            ("tier==a", true),
            ("tier!=a", false),
            ("tier in (a,b)", true),
            ("tier notin (a)", false),
            ("tier notin (b)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("tier=a,app=web", true),
            ("tier=a,app=db", false),
            ("missing notin (x)", true),
        ] {
            assert_eq!(LabelSelector::parse(s).unwrap().matches(&o), want, "{s}");
        }
    }

    #[test]
    fn field_selector_checks_supported_fields() {
        assert_eq!(FieldSelector::parse("spec.size=3", "acc.dev", "widgets").unwrap_err().code, 400);
        let f = FieldSelector::parse("spec.nodeName=n1", "", "pods").unwrap();
        assert!(f.matches(&json!({"spec": {"nodeName": "n1"}})));
        assert!(!f.matches(&json!({"spec": {}})));
        let f = FieldSelector::parse("regarding.name=w", "events.k8s.io", "events").unwrap();
        assert!(f.matches(&json!({"involvedObject": {"name": "w"}})));
    }
}
