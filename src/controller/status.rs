//! Status shared by both controllers: conditions from verdicts (keeping transition times),
//! and the write (a JSON merge patch on `/status` with a fixed field manager, only when
//! something changed).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::Resource;
use serde::Serialize;

use crate::crd::condition::Status;

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "elb-operator";

/// A condition before timestamps: what the controller concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub type_: &'static str,
    pub status: Status,
    pub reason: String,
    pub message: String,
}

impl Verdict {
    /// A condition that is True or False.
    pub fn new(type_: &'static str, status: bool, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Verdict { type_, status: status.into(), reason: reason.into(), message: message.into() }
    }

    /// A condition whose status is `Unknown`: `reason` says why it could not be decided.
    pub fn unknown(type_: &'static str, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Verdict { status: Status::Unknown, ..Verdict::new(type_, false, reason, message) }
    }

    /// The verdict a written condition of type `type_` stands for.
    pub fn of_condition(type_: &'static str, c: &Condition) -> Self {
        Verdict { type_, status: Status::of(&c.status), reason: c.reason.clone(), message: c.message.clone() }
    }
}

/// The conditions for `verdicts`, keeping `lastTransitionTime` of a condition whose status
/// did not change (so an unchanged verdict yields an identical condition and no write).
pub fn conditions(previous: &[Condition], verdicts: &[Verdict], generation: Option<i64>) -> Vec<Condition> {
    verdicts
        .iter()
        .map(|v| {
            let status = v.status.as_str().to_string();
            let last_transition_time = previous
                .iter()
                .find(|c| c.type_ == v.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::now()));
            Condition {
                type_: v.type_.to_string(),
                status,
                reason: v.reason.clone(),
                message: truncate(&v.message, 1024),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// Truncates on a character boundary (condition messages and event notes have size limits).
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Writes `status` when it differs from `current`, as a JSON merge patch on `/status` with
/// field manager [`FIELD_MANAGER`]. The patch replaces the whole status: lists are replaced
/// by merge patches anyway, and a field `current` has but `status` lacks is sent as `null`
/// so that it is removed. (A merge patch rather than server-side apply: it needs no schema
/// knowledge on the server side to remove list entries, so it behaves the same everywhere.)
/// Returns whether a write happened.
pub async fn write<K, S>(api: &Api<K>, obj: &K, current: Option<&S>, status: &S) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    write_over(api, obj, current, status, false).await
}

/// [`write()`], and with `if_current` only over the version of `obj` it was computed from (a
/// `resourceVersion` precondition: a stale `obj` is refused with 409 Conflict). For a status
/// computed from a cache that may not have seen the last write yet: written over, that
/// write's fields would be lost.
pub async fn write_over<K, S>(api: &Api<K>, obj: &K, current: Option<&S>, status: &S, if_current: bool) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let name = obj.meta().name.clone().unwrap_or_default();
    let mut body = serde_json::json!({ "status": replacement(current, status).map_err(kube::Error::SerdeError)? });
    if let Some(version) = obj.meta().resource_version.as_ref().filter(|_| if_current) {
        body["metadata"] = serde_json::json!({ "resourceVersion": version });
    }
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() };
    api.patch_status(&name, &params, &Patch::Merge(&body)).await?;
    Ok(true)
}

/// `status` as JSON, with `null` for every top-level field of `current` it does not have.
pub fn replacement<S: Serialize>(current: Option<&S>, status: &S) -> Result<serde_json::Value, serde_json::Error> {
    let mut new = serde_json::to_value(status)?;
    if let (Some(serde_json::Value::Object(old)), serde_json::Value::Object(fields)) =
        (current.map(serde_json::to_value).transpose()?, &mut new)
    {
        for key in old.keys() {
            fields.entry(key.clone()).or_insert(serde_json::Value::Null);
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_kept_while_status_unchanged() {
        let old_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let previous = vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "InstancesInService".into(),
            message: "1/1".into(),
            observed_generation: Some(1),
            last_transition_time: old_time.clone(),
        }];
        let same = conditions(&previous, &[Verdict::new("Ready", true, "InstancesInService", "2/2")], Some(2));
        assert_eq!(same[0].last_transition_time, old_time);
        assert_eq!(same[0].message, "2/2");
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = conditions(&previous, &[Verdict::new("Ready", false, "NoInstancesInService", "0/2")], Some(2));
        assert_ne!(flipped[0].last_transition_time, old_time);
        assert_eq!(flipped[0].status, "False");
        let unknown = conditions(&previous, &[Verdict::unknown("Ready", "CannotTell", "?")], Some(2));
        assert_eq!((unknown[0].status.as_str(), unknown[0].reason.as_str()), ("Unknown", "CannotTell"));
        assert_ne!(unknown[0].last_transition_time, old_time, "True to Unknown is a transition");
    }

    #[test]
    fn replacement_removes_fields_that_went_away() {
        use crate::crd::{InstanceStatus, LoadBalancerStatus};
        let old = LoadBalancerStatus {
            dns_name: Some("x".into()),
            instances: vec![InstanceStatus { instance_id: "i-1".into(), state: "InService".into(), ..Default::default() }],
            healthy: Some("1/1".into()),
            ..Default::default()
        };
        let new = LoadBalancerStatus { dns_name: Some("x".into()), healthy: Some("0/0".into()), ..Default::default() };
        let v = replacement(Some(&old), &new).unwrap();
        assert_eq!(v, serde_json::json!({"dnsName": "x", "healthy": "0/0", "instances": null}));
        assert_eq!(replacement(None, &new).unwrap(), serde_json::json!({"dnsName": "x", "healthy": "0/0"}));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        let t = truncate(&"é".repeat(10), 8);
        assert!(t.len() <= 8 && t.ends_with("..."), "{t}");
    }
}
