//! The kube-rs runtime against the stand-in: watcher (both list strategies, metadata),
//! a Controller with the finalizer helper, and the event Recorder.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Event as FinalizerEvent};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::common::*;

const FINALIZER: &str = "test.standin.dev/cleanup";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

struct Ctx {
    client: Client,
    recorder: Recorder,
    cleanups: AtomicUsize,
}

async fn reconcile(g: Arc<Gadget>, ctx: Arc<Ctx>) -> Result<Action, kube::runtime::finalizer::Error<Failed>> {
    let api: Api<Gadget> = Api::namespaced(ctx.client.clone(), &g.namespace().unwrap());
    finalizer(&api, FINALIZER, g, |ev| async {
        match ev {
            FinalizerEvent::Apply(g) => {
                let status = json!({"status": {"observedGeneration": g.metadata.generation,
                    "conditions": [{"type": "Ready", "status": "True", "message": "reconciled"}]}});
                api.patch_status(&g.name_any(), &PatchParams::default(), &Patch::Merge(status)).await.map_err(|e| Failed(e.to_string()))?;
                let ev = Event {
                    type_: EventType::Normal,
                    reason: "Reconciled".into(),
                    note: Some("made ready".into()),
                    action: "Reconcile".into(),
                    secondary: None,
                };
                ctx.recorder.publish(&ev, &g.object_ref(&())).await.map_err(|e| Failed(e.to_string()))?;
                Ok(Action::await_change())
            }
            FinalizerEvent::Cleanup(_) => {
                ctx.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_: Arc<Gadget>, _: &kube::runtime::finalizer::Error<Failed>, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

#[tokio::test]
async fn controller_with_finalizer_and_recorder_round_trip() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let recorder = Recorder::new(c.clone(), Reporter { controller: "gadget-ctl".into(), instance: Some("ctl-0".into()) });
    let ctx = Arc::new(Ctx { client: c.clone(), recorder, cleanups: AtomicUsize::new(0) });
    let ctl = Controller::new(Api::<Gadget>::all(c.clone()), watcher::Config::default())
        .run(reconcile, error_policy, Arc::clone(&ctx))
        .for_each(|_| async {});
    let task = tokio::spawn(ctl);

    api.create(&PostParams::default(), &gadget("r", 1)).await.unwrap();
    eventually("Ready with the finalizer", || async {
        let g = api.get("r").await.unwrap();
        g.finalizers().contains(&FINALIZER.to_string())
            && g.status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    let settled = api.get("r").await.unwrap();
    // The controller's own status write must not retrigger it forever: the object settles.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.get("r").await.unwrap().metadata.resource_version, settled.metadata.resource_version);

    let core: Api<CoreEvent> = Api::namespaced(c.clone(), "default");
    eventually("the event in the core/v1 view", || async {
        let l = core.list(&ListParams::default().fields("involvedObject.name=r,involvedObject.kind=Gadget")).await.unwrap();
        l.items.iter().any(|e| e.reason.as_deref() == Some("Reconciled") && e.message.as_deref() == Some("made ready"))
    })
    .await;

    api.delete("r", &DeleteParams::default()).await.unwrap();
    eventually("cleanup and removal", || async { api.get_opt("r").await.unwrap().is_none() }).await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    task.abort();
}

#[tokio::test]
async fn recorder_repeats_become_a_series() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let g = api.create(&PostParams::default(), &gadget("e", 1)).await.unwrap();
    let recorder = Recorder::new(c.clone(), Reporter { controller: "gadget-ctl".into(), instance: None });
    let ev =
        Event { type_: EventType::Warning, reason: "Broken".into(), note: Some("again".into()), action: "Check".into(), secondary: None };
    recorder.publish(&ev, &g.object_ref(&())).await.unwrap();
    recorder.publish(&ev, &g.object_ref(&())).await.unwrap();
    let evs: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(c.clone(), "default");
    let l = evs.list(&ListParams::default().fields("regarding.name=e")).await.unwrap();
    assert_eq!(l.items.len(), 1, "a repeat patches the same event");
    assert_eq!(l.items[0].series.as_ref().map(|s| s.count), Some(2));
}

#[tokio::test]
async fn watchers_with_both_list_strategies_and_metadata() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    for n in ["a", "b", "c"] {
        api.create(&PostParams::default(), &gadget(n, 1)).await.unwrap();
    }
    for cfg in [watcher::Config::default().page_size(2), watcher::Config::default().streaming_lists()] {
        let mut s = watcher(api.clone(), cfg).default_backoff().applied_objects().boxed();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let g = tokio::time::timeout(Duration::from_secs(15), s.next()).await.expect("watcher event").unwrap().unwrap();
            seen.push(g.name_any());
        }
        seen.sort();
        assert_eq!(seen, vec!["a", "b", "c"]);
    }
    let meta: Api<kube::core::PartialObjectMeta<Gadget>> = Api::namespaced(c.clone(), "default");
    let mut m = watcher(meta, watcher::Config::default()).applied_objects().boxed();
    let first = tokio::time::timeout(Duration::from_secs(15), m.next()).await.unwrap().unwrap().unwrap();
    assert!(["a", "b", "c"].contains(&first.name_any().as_str()));
}
