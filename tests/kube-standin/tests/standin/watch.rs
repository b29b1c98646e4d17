//! Watch semantics: the event log, resourceVersions, selector transitions, bookmarks,
//! 410 Expired inside the stream, sendInitialEvents, timeouts, metadata-only.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::common::*;

fn summary(e: &WatchEvent<Gadget>) -> (String, String) {
    match e {
        WatchEvent::Added(g) => ("ADDED".into(), g.metadata.name.clone().unwrap()),
        WatchEvent::Modified(g) => ("MODIFIED".into(), g.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(g) => ("DELETED".into(), g.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK".into(), String::new()),
        WatchEvent::Error(s) => ("ERROR".into(), format!("{} {}", s.code, s.reason)),
    }
}

#[tokio::test]
async fn watch_replays_from_a_resource_version_with_selector_transitions() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let a = api.create(&PostParams::default(), &gadget("a", 1)).await.unwrap();
    let start = a.metadata.resource_version.clone().unwrap();
    let pp = PatchParams::default();
    api.patch("a", &pp, &Patch::Merge(json!({"metadata": {"labels": {"w": "yes"}}}))).await.unwrap(); // starts matching
    api.patch("a", &pp, &Patch::Merge(json!({"spec": {"size": 2}}))).await.unwrap(); // still matching
    api.patch("a", &pp, &Patch::Merge(json!({"spec": {"size": 2}}))).await.unwrap(); // no-op: no event
    api.patch("a", &pp, &Patch::Merge(json!({"metadata": {"labels": {"w": "no"}}}))).await.unwrap(); // stops matching
    api.create(&PostParams::default(), &gadget("b", 1)).await.unwrap(); // never matches
    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap().left().unwrap();

    let wp = WatchParams::default().labels("w=yes").timeout(1);
    let events: Vec<WatchEvent<Gadget>> = api.watch(&wp, &start).await.unwrap().try_collect().await.unwrap();
    let got: Vec<(String, String)> = events.iter().map(summary).filter(|(t, _)| t != "BOOKMARK").collect();
    let want = [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")].map(|(t, n)| (t.to_string(), n.to_string()));
    assert_eq!(got, want);

    // Unfiltered: every change once, DELETED carrying the deletion's resourceVersion.
    let events: Vec<WatchEvent<Gadget>> = api.watch(&WatchParams::default().timeout(1), &start).await.unwrap().try_collect().await.unwrap();
    let kinds: Vec<(String, String)> = events.iter().map(summary).filter(|(t, _)| t != "BOOKMARK").collect();
    let want = [("MODIFIED", "a"), ("MODIFIED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
        .map(|(t, n)| (t.to_string(), n.to_string()));
    assert_eq!(kinds, want);
    if let Some(WatchEvent::Deleted(g)) = events.iter().rev().find(|e| matches!(e, WatchEvent::Deleted(_))) {
        assert_eq!(rv_of(g), rv_of(&deleted), "DELETED carries the deletion's resourceVersion, as the DELETE answer does");
    }
}

#[tokio::test]
async fn watch_without_version_starts_with_current_state_then_follows() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("x", 1)).await.unwrap();
    let mut stream = api.watch(&WatchParams::default().timeout(5), "0").await.unwrap().boxed();
    let first = tokio::time::timeout(Duration::from_secs(15), stream.try_next()).await.unwrap().unwrap().unwrap();
    assert_eq!(summary(&first), ("ADDED".into(), "x".into()));
    // Headers arrive at once and each event is flushed: a live change shows up promptly.
    api.create(&PostParams::default(), &gadget("y", 1)).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(15), stream.try_next()).await.unwrap().unwrap().unwrap();
    assert_eq!(summary(&next), ("ADDED".into(), "y".into()));
}

#[tokio::test]
async fn too_old_version_is_an_error_event_in_a_200_stream() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let events: Vec<WatchEvent<Gadget>> = api.watch(&WatchParams::default().timeout(3), "1").await.unwrap().try_collect().await.unwrap();
    assert_eq!(events.iter().map(summary).collect::<Vec<_>>(), vec![("ERROR".to_string(), "410 Expired".to_string())]);
}

#[tokio::test]
async fn bookmarks_and_initial_events() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("i", 1)).await.unwrap();
    let wp = WatchParams::default().initial_events().timeout(1);
    let events: Vec<WatchEvent<Gadget>> = api.watch(&wp, "").await.unwrap().try_collect().await.unwrap();
    assert_eq!(summary(&events[0]), ("ADDED".into(), "i".into()));
    match &events[1] {
        WatchEvent::Bookmark(b) => {
            assert_eq!(b.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
        }
        other => panic!("expected the initial-events-end bookmark, got {other:?}"),
    }
    // A watch that reaches its timeout closes cleanly, with a final bookmark when asked.
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let events: Vec<WatchEvent<Gadget>> = api.watch(&WatchParams::default().timeout(1), &rv).await.unwrap().try_collect().await.unwrap();
    assert!(matches!(events.last(), Some(WatchEvent::Bookmark(b)) if b.metadata.resource_version == rv), "{events:?}");
}

#[tokio::test]
async fn metadata_only_watch() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("m", 1)).await.unwrap();
    let events: Vec<_> = api.watch_metadata(&WatchParams::default().timeout(1), "0").await.unwrap().try_collect().await.unwrap();
    match &events[0] {
        WatchEvent::Added(pom) => {
            assert_eq!(pom.metadata.name.as_deref(), Some("m"));
            assert_eq!(pom.types.as_ref().map(|t| t.kind.as_str()), Some("PartialObjectMetadata"));
        }
        other => panic!("{other:?}"),
    }
    let one = api.get_metadata("m").await.unwrap();
    assert_eq!(one.metadata.generation, Some(1));
}

#[tokio::test]
async fn deleting_the_crd_deletes_objects_and_ends_watches() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("z", 1)).await.unwrap();
    let rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let stream = api.watch(&WatchParams::default().timeout(30), &rv).await.unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(c.clone());
    crds.delete("gadgets.test.standin.dev", &DeleteParams::default()).await.unwrap();
    let events: Vec<WatchEvent<Gadget>> =
        tokio::time::timeout(Duration::from_secs(10), stream.try_collect()).await.expect("the watch ends").unwrap();
    let got: Vec<(String, String)> = events.iter().map(summary).filter(|(t, _)| t != "BOOKMARK").collect();
    assert_eq!(got, vec![("DELETED".to_string(), "z".to_string())]);
}
