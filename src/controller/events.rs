//! The controllers' Kubernetes events: one builder ([`event`]) for every event they publish,
//! and publishing that logs a failure and never fails a reconcile.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::Resource;
use tracing::warn;

use super::context::Context;
use super::sharding::holds_object;
use super::status::truncate;

/// The longest note an event carries; longer ones are cut.
pub const NOTE_LIMIT: usize = 1000;

/// An event of `type_` for `reason`, from `action`, with `note` cut to [`NOTE_LIMIT`].
pub fn event(type_: EventType, reason: &str, action: &str, note: &str) -> Event {
    Event { type_, reason: reason.to_string(), note: Some(truncate(note, NOTE_LIMIT)), action: action.to_string(), secondary: None }
}

/// Publishes `event` about `reference`; a failure is logged.
async fn send(recorder: &Recorder, event: &Event, reference: &ObjectReference) {
    if let Err(e) = recorder.publish(event, reference).await {
        warn!(error = %e, reason = %event.reason, "could not publish event");
    }
}

impl Context {
    /// Publishes an event about `obj`; a failure is logged, never fatal. Not sent once the
    /// object's shard is lost ([`crate::aws::fence::writes_allowed`]).
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: String) {
        if !crate::aws::fence::writes_allowed() {
            tracing::debug!(reason, "shard lost: event not published");
            return;
        }
        send(&self.recorder, &event(type_, reason, action, &note), &obj.object_ref(&())).await;
    }
}

/// Reports an object of kind `K` that does not decode: a log line and a Warning event on it
/// (with shards: by the holder of its shard only).
pub fn report_invalid<K: Resource<DynamicType = ()>>(
    recorder: Recorder,
    shards: Option<crate::leader::Shards>,
) -> impl Fn(InvalidObject) + Send + 'static {
    move |invalid: InvalidObject| {
        let meta = &invalid.metadata;
        if !holds_object(shards.as_ref(), meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default()) {
            return;
        }
        let kind = K::kind(&());
        warn!(kind = %kind, namespace = meta.namespace.as_deref().unwrap_or(""), name = meta.name.as_deref().unwrap_or(""), error = %invalid.error, "object does not decode; skipped");
        let reference = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(kind.into_owned()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..Default::default()
        };
        let note = format!("the object does not decode and is ignored until fixed: {}", invalid.error);
        let event = event(EventType::Warning, "InvalidObject", "Decode", &note);
        let recorder = recorder.clone();
        tokio::spawn(async move { send(&recorder, &event, &reference).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::LoadBalancer;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn every_event_note_is_cut_to_the_limit() {
        let e = event(EventType::Warning, "Conflict", "Observe", &"x".repeat(5000));
        assert_eq!(e.note.as_deref().map(str::len), Some(NOTE_LIMIT));
        assert_eq!((e.reason.as_str(), e.action.as_str()), ("Conflict", "Observe"));
        assert_eq!(event(EventType::Normal, "Created", "CreateLoadBalancer", "short").note.as_deref(), Some("short"));
    }

    /// The reference of an invalid object names its kind's API version, as the old
    /// per-kind table did: the operator's group for its own kinds, `v1` for core ones.
    #[test]
    fn invalid_objects_are_referenced_by_their_kinds_api_version() {
        assert_eq!(LoadBalancer::api_version(&()), format!("{}/{}", crate::crd::GROUP, crate::crd::VERSION));
        assert_eq!(crate::crd::HealthCheck::api_version(&()), format!("{}/{}", crate::crd::GROUP, crate::crd::VERSION));
        assert_eq!(Pod::api_version(&()), "v1");
        assert_eq!(k8s_openapi::api::core::v1::Node::api_version(&()), "v1");
    }
}
