//! API semantics through the kube-rs client: metadata, writes, patches, apply, deletion,
//! lists, tables, CRDs, events and leases.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::discovery::Discovery;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn discovery_serves_builtins_and_a_new_crd_at_once() {
    let (_s, c) = setup().await;
    let v = c.apiserver_version().await.unwrap();
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "32"));
    let d = Discovery::new(c.clone()).run().await.unwrap();
    let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
    for g in ["", "test.standin.dev", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"] {
        assert!(groups.iter().any(|x| x == g), "group {g:?} missing from {groups:?}");
    }
    let (ar, caps) = d.resolve_gvk(&kube::api::GroupVersionKind::gvk("test.standin.dev", "v1", "Gadget")).unwrap();
    assert_eq!(ar.plural, "gadgets");
    assert!(caps.subresources.iter().any(|(s, _)| s.plural.ends_with("status")), "status subresource advertised");
    let (code, doc) = raw(&c, "GET", "/apis/test.standin.dev/v1", "application/json", "", None).await;
    assert_eq!(code, 200);
    let r = &doc["resources"][0];
    assert_eq!(r["shortNames"], json!(["gdg"]));
    assert_eq!(r["categories"], json!(["standin"]));
    // Aggregated discovery is never answered, whatever the client asks for.
    let (_, apis) =
        raw(&c, "GET", "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", "", None).await;
    assert_eq!(apis["kind"], "APIGroupList");
    let (code, _) = raw(&c, "GET", "/openapi/v2", "application/json", "", None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn create_sets_server_metadata_and_normalises() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let mut g = gadget("a", 2);
    g.metadata.finalizers = Some(vec![]);
    g.metadata.labels = Some(Default::default());
    g.status = Some(GadgetStatus { observed_generation: Some(9), ..Default::default() });
    let created = api.create(&PostParams::default(), &g).await.unwrap();
    let m = &created.metadata;
    assert_eq!(m.uid.as_ref().map(String::len), Some(36));
    assert!(m.creation_timestamp.is_some());
    assert_eq!(m.generation, Some(1));
    assert_eq!(m.finalizers, None, "empty finalizers are stored as absent");
    assert_eq!(m.labels, None);
    assert_eq!(created.status, None, "status is dropped on create with a status subresource");
    assert_eq!(code(api.create(&PostParams::default(), &g).await), 409);

    let mut gen = gadget("", 1);
    gen.metadata.name = None;
    gen.metadata.generate_name = Some("gen-".into());
    let made = api.create(&PostParams::default(), &gen).await.unwrap();
    let name = made.metadata.name.clone().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    gen.metadata.generate_name = None;
    assert_eq!(code(api.create(&PostParams::default(), &gen).await), 422);
    let missing: Api<Gadget> = Api::namespaced(c.clone(), "nope");
    assert_eq!(code(missing.create(&PostParams::default(), &gadget("x", 1)).await), 404);
    let mut with_rv = gadget("b", 1);
    with_rv.metadata.resource_version = Some("5".into());
    assert_eq!(code(api.create(&PostParams::default(), &with_rv).await), 400);
    let dry = PostParams { dry_run: true, ..Default::default() };
    let answered = api.create(&dry, &gadget("dry", 1)).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert_eq!(code(api.get("dry").await), 404, "a dry run stores nothing");
    let mut bad_name = gadget("Bad_Name", 1);
    bad_name.metadata.namespace = None;
    assert_eq!(code(api.create(&PostParams::default(), &bad_name).await), 422);
    let rv2 = rv_of(&made);
    assert!(rv2 > rv_of(&created), "one global increasing counter");
    // Default namespaces exist.
    let nss: Vec<String> =
        Api::<Namespace>::all(c).list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(nss.iter().any(|n| n == ns));
    }
}

#[tokio::test]
async fn update_rules_status_subresource_generation_and_noops() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let created = api.create(&PostParams::default(), &gadget("u", 1)).await.unwrap();

    // Status write: only status changes, generation stays.
    let st = api
        .patch_status("u", &PatchParams::default(), &Patch::Merge(json!({"spec": {"size": 9}, "status": {"observedGeneration": 1}})))
        .await
        .unwrap();
    assert_eq!(st.spec.size, 1);
    assert_eq!(st.status.as_ref().unwrap().observed_generation, Some(1));
    assert_eq!(st.metadata.generation, Some(1));
    // Main-resource write keeps the old status and bumps generation for spec changes only.
    let mut m = st.clone();
    m.spec.size = 2;
    m.status = None;
    let up = api.replace("u", &PostParams::default(), &m).await.unwrap();
    assert_eq!(up.metadata.generation, Some(2));
    assert_eq!(up.status.as_ref().unwrap().observed_generation, Some(1));
    assert_eq!(up.metadata.uid, created.metadata.uid);
    let labelled = api.patch("u", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))).await.unwrap();
    assert_eq!(labelled.metadata.generation, Some(2), "metadata changes do not bump generation");
    // No-op writes bump nothing.
    let same = api.patch("u", &PatchParams::default(), &Patch::Merge(json!({"spec": {"size": 2}}))).await.unwrap();
    assert_eq!(same.metadata.resource_version, labelled.metadata.resource_version);
    let same = api.replace("u", &PostParams::default(), &same).await.unwrap();
    assert_eq!(same.metadata.resource_version, labelled.metadata.resource_version);
    let same = api.patch_status("u", &PatchParams::default(), &Patch::Merge(json!({"status": {"observedGeneration": 1}}))).await.unwrap();
    assert_eq!(same.metadata.resource_version, labelled.metadata.resource_version);
    // Stale resourceVersion → 409; custom resources need one (422).
    let mut stale = same.clone();
    stale.metadata.resource_version = created.metadata.resource_version.clone();
    assert_eq!(code(api.replace("u", &PostParams::default(), &stale).await), 409);
    stale.metadata.resource_version = None;
    assert_eq!(code(api.replace("u", &PostParams::default(), &stale).await), 422);
    // Server-owned fields are restored from storage.
    let mut forged = same.clone();
    forged.metadata.uid = Some("forged".into());
    forged.metadata.generation = Some(77);
    forged.spec.size = 3;
    let up = api.replace("u", &PostParams::default(), &forged).await.unwrap();
    assert_eq!(up.metadata.uid, created.metadata.uid);
    assert_eq!(up.metadata.generation, Some(3));
}

#[tokio::test]
async fn patches_merge_json_strategic_and_preconditions() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let created = api.create(&PostParams::default(), &gadget("p", 1)).await.unwrap();
    let pp = PatchParams::default();
    // JSON patch with Go's quirk: test of a missing path against null passes.
    let path = "/apis/test.standin.dev/v1/namespaces/default/gadgets/p";
    let ops = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]}
    ]);
    let (status, got) = raw(&c, "PATCH", path, "application/json", "application/json-patch+json", Some(ops)).await;
    assert_eq!(status, 200);
    assert_eq!(got["metadata"]["finalizers"], json!(["x/y"]));
    let bad = json!([{"op": "test", "path": "/spec/size", "value": 42}]);
    let (status, _) = raw(&c, "PATCH", path, "application/json", "application/json-patch+json", Some(bad)).await;
    assert_eq!(status, 422);
    // Strategic merge is for built-in kinds only.
    assert_eq!(code(api.patch("p", &pp, &Patch::Strategic(json!({"spec": {"size": 2}}))).await), 415);
    // A resourceVersion in a patch is a precondition.
    let stale = json!({"metadata": {"resourceVersion": created.metadata.resource_version}, "spec": {"size": 5}});
    assert_eq!(code(api.patch("p", &pp, &Patch::Merge(stale)).await), 409);
    // Merge patch: null removes.
    let got = api.patch("p", &pp, &Patch::Merge(json!({"spec": {"color": "red", "tags": ["a"]}}))).await.unwrap();
    assert_eq!(got.spec.color.as_deref(), Some("red"));
    let got = api.patch("p", &pp, &Patch::Merge(json!({"spec": {"color": null}}))).await.unwrap();
    assert_eq!(got.spec.color, None);
    assert_eq!(got.spec.tags, vec!["a"]);

    // Strategic merge on a Pod merges containers by name.
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "pod"}, "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}),
    )
    .unwrap();
    let made = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(made.status.unwrap().phase.as_deref(), Some("Pending"), "no kubelet: pods start Pending");
    let got = pods.patch("pod", &pp, &Patch::Strategic(json!({"spec": {"containers": [{"name": "b", "image": "2"}]}}))).await.unwrap();
    let images: Vec<(String, Option<String>)> = got.spec.unwrap().containers.into_iter().map(|c| (c.name, c.image)).collect();
    assert_eq!(images, vec![("a".into(), Some("1".into())), ("b".into(), Some("2".into()))]);
}

#[tokio::test]
async fn server_side_apply_owns_removes_and_conflicts() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let apply = |spec: Value| json!({"apiVersion": "test.standin.dev/v1", "kind": "Gadget", "metadata": {"name": "s"}, "spec": spec});
    let created =
        api.patch("s", &PatchParams::apply("one"), &Patch::Apply(apply(json!({"size": 2, "color": "red", "tags": ["x"]})))).await.unwrap();
    assert_eq!(created.spec.color.as_deref(), Some("red"));
    let got = api.patch("s", &PatchParams::apply("one"), &Patch::Apply(apply(json!({"size": 2, "tags": ["x"]})))).await.unwrap();
    assert_eq!(got.spec.color, None, "a field the manager stopped applying is removed");
    assert_eq!(got.metadata.generation, Some(2));
    // Same value from another manager: shared, no conflict.
    api.patch("s", &PatchParams::apply("two"), &Patch::Apply(apply(json!({"size": 2})))).await.unwrap();
    let err = api.patch("s", &PatchParams::apply("three"), &Patch::Apply(apply(json!({"size": 3})))).await;
    match err {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(s.message.contains(".spec.size"), "{}", s.message);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let got = api.patch("s", &PatchParams::apply("three").force(), &Patch::Apply(apply(json!({"size": 3})))).await.unwrap();
    assert_eq!(got.spec.size, 3);
    assert_eq!(got.spec.tags, vec!["x"], "fields of other managers stay");
    // Fields still owned by another manager are not removed.
    let got = api.patch("s", &PatchParams::apply("one"), &Patch::Apply(apply(json!({"tags": ["x"]})))).await.unwrap();
    assert_eq!(got.spec.size, 3);
    // Status applies need the object; list-map conditions merge by key across managers.
    let status = |conds: Value| json!({"apiVersion": "test.standin.dev/v1", "kind": "Gadget", "metadata": {"name": "s"}, "status": {"conditions": conds}});
    let mut on_missing = status(json!([]));
    on_missing["metadata"]["name"] = json!("nope");
    let missing = api.patch_status("nope", &PatchParams::apply("ctl").force(), &Patch::Apply(on_missing)).await;
    assert_eq!(code(missing), 404);
    api.patch_status("s", &PatchParams::apply("a").force(), &Patch::Apply(status(json!([{"type": "A", "status": "True"}])))).await.unwrap();
    let got = api
        .patch_status("s", &PatchParams::apply("b").force(), &Patch::Apply(status(json!([{"type": "B", "status": "False"}]))))
        .await
        .unwrap();
    let types: Vec<String> = got.status.unwrap().conditions.into_iter().map(|c| c.type_).collect();
    assert_eq!(types, vec!["A", "B"]);
    // Apply without a field manager is refused.
    let (code, _) = raw(
        &c,
        "PATCH",
        "/apis/test.standin.dev/v1/namespaces/default/gadgets/s",
        "application/json",
        "application/apply-patch+yaml",
        Some(apply(json!({"size": 1}))),
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn deletion_with_finalizers_and_preconditions() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    let mut g = gadget("d", 1);
    g.metadata.finalizers = Some(vec!["test/one".into()]);
    let created = api.create(&PostParams::default(), &g).await.unwrap();
    let wrong_uid =
        DeleteParams { preconditions: Some(Preconditions { uid: Some("nope".into()), resource_version: None }), ..Default::default() };
    assert_eq!(code(api.delete("d", &wrong_uid).await), 409);
    let wrong_rv =
        DeleteParams { preconditions: Some(Preconditions { uid: None, resource_version: Some("1".into()) }), ..Default::default() };
    assert_eq!(code(api.delete("d", &wrong_rv).await), 409);

    let first = api.delete("d", &DeleteParams::foreground()).await.unwrap().left().expect("the object while finalizers remain");
    let ts = first.metadata.deletion_timestamp.clone().expect("deletionTimestamp");
    assert_eq!(first.metadata.deletion_grace_period_seconds, Some(0));
    assert_eq!(first.metadata.generation, Some(2));
    let again = api.delete("d", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(again.metadata.deletion_timestamp, Some(ts), "set once");
    assert_eq!(again.metadata.resource_version, first.metadata.resource_version, "repeated DELETE is a no-op");
    let add = api.patch("d", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": ["test/one", "test/two"]}}))).await;
    assert_eq!(code(add), 422);
    api.patch("d", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert!(api.get_opt("d").await.unwrap().is_none(), "gone once the last finalizer is removed");
    let _ = created;

    // Without finalizers: gone at once; built-ins without object answers give a Status.
    api.create(&PostParams::default(), &gadget("e", 1)).await.unwrap();
    assert!(api.delete("e", &DeleteParams::default()).await.unwrap().is_left());
    assert_eq!(code(api.get("e").await), 404);
    let leases: Api<Lease> = Api::namespaced(c.clone(), "default");
    leases.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "l"}})).unwrap()).await.unwrap();
    assert!(leases.delete("l", &DeleteParams::default()).await.unwrap().is_right());
}

#[tokio::test]
async fn lists_selectors_and_pagination() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    for (n, tier) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "")] {
        let mut g = gadget(n, 1);
        if !tier.is_empty() {
            g.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        }
        api.create(&PostParams::default(), &g).await.unwrap();
    }
    let names = |l: kube::core::ObjectList<Gadget>| l.items.into_iter().map(|g| g.metadata.name.unwrap()).collect::<Vec<_>>();
    for (sel, want) in [
        ("tier=x", vec!["a", "c"]),
        ("tier!=x", vec!["b", "d"]),
        ("tier in (x,y)", vec!["a", "b", "c"]),
        ("tier notin (x)", vec!["b", "d"]),
        ("tier", vec!["a", "b", "c"]),
        ("!tier", vec!["d"]),
    ] {
        assert_eq!(names(api.list(&ListParams::default().labels(sel)).await.unwrap()), want, "{sel}");
    }
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=b")).await.unwrap()), vec!["b"]);
    assert_eq!(code(api.list(&ListParams::default().fields("spec.size=1")).await), 400);

    let page1 = api.list(&ListParams::default().limit(3)).await.unwrap();
    let token = page1.metadata.continue_.clone().expect("continue token");
    assert_eq!(page1.metadata.remaining_item_count, Some(1));
    api.create(&PostParams::default(), &gadget("e", 1)).await.unwrap();
    let page2 = api.list(&ListParams::default().limit(3).continue_token(&token)).await.unwrap();
    assert_eq!(page2.metadata.resource_version, page1.metadata.resource_version, "every page reports the snapshot");
    assert_eq!(names(page2), vec!["d", "e"]);
    // A token from before the log's horizon has expired.
    use base64::Engine as _;
    let old =
        base64::engine::general_purpose::STANDARD.encode(json!({"v": "meta.k8s.io/v1", "rv": 1, "start": "default/a\u{0}"}).to_string());
    assert_eq!(code(api.list(&ListParams::default().limit(1).continue_token(&old)).await), 410);

    // Across namespaces, pods by node.
    let ns: Api<Namespace> = Api::all(c.clone());
    ns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap()).await.unwrap();
    for (ns, name, node) in [("default", "p1", "n1"), ("other", "p2", "n1"), ("other", "p3", "n2")] {
        let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
        let p: Pod = serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}),
        )
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let all: Api<Pod> = Api::all(c.clone());
    let on_n1: Vec<String> = all
        .list(&ListParams::default().fields("spec.nodeName=n1"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert_eq!(on_n1, vec!["p1", "p2"]);
    let meta = all.list_metadata(&ListParams::default().fields("spec.nodeName=n2")).await.unwrap();
    assert_eq!(meta.items.len(), 1);
    assert_eq!(meta.items[0].metadata.name.as_deref(), Some("p3"));
}

#[tokio::test]
async fn tables_follow_printer_columns() {
    let (_s, c) = setup().await;
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("t", 4)).await.unwrap();
    api.patch_status(
        "t",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [
        {"type": "Synced", "status": "False", "message": "no"}, {"type": "Ready", "status": "True", "message": "fine"}]}})),
    )
    .await
    .unwrap();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, t) = raw(&c, "GET", "/apis/test.standin.dev/v1/namespaces/default/gadgets", accept, "", None).await;
    assert_eq!(code, 200);
    assert_eq!(t["kind"], "Table");
    let cols: Vec<(String, i64)> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["priority"].as_i64().unwrap()))
        .collect();
    assert_eq!(cols, vec![("Name".into(), 0), ("Size".into(), 0), ("Ready".into(), 0), ("Message".into(), 1), ("Age".into(), 0)]);
    let cells = &t["rows"][0]["cells"];
    assert_eq!(cells[0], "t");
    assert_eq!(cells[1], 4);
    assert_eq!(cells[2], "True");
    assert_eq!(cells[3], "fine");
    let age = cells[4].as_str().unwrap();
    assert!(age.ends_with('s') && age[..age.len() - 1].parse::<u32>().is_ok(), "age cell {age}");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    // A single object as a table; a built-in kind's table.
    let (_, one) = raw(&c, "GET", "/apis/test.standin.dev/v1/namespaces/default/gadgets/t", accept, "", None).await;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let (_, ns) = raw(&c, "GET", "/api/v1/namespaces", accept, "", None).await;
    assert_eq!(ns["columnDefinitions"][1]["name"], "Status");
    assert!(ns["rows"].as_array().unwrap().iter().any(|r| r["cells"][0] == "default" && r["cells"][1] == "Active"));
}

#[tokio::test]
async fn crd_lifecycle_conditions_and_removal() {
    let (_s, c) = setup().await;
    let crds: Api<CustomResourceDefinition> = Api::all(c.clone());
    let crd = crds.get("gadgets.test.standin.dev").await.unwrap();
    let conds: Vec<(String, String)> = crd.status.unwrap().conditions.unwrap().into_iter().map(|c| (c.type_, c.status)).collect();
    assert!(conds.contains(&("Established".into(), "True".into())));
    assert!(conds.contains(&("NamesAccepted".into(), "True".into())));
    let api: Api<Gadget> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &gadget("x", 1)).await.unwrap();
    crds.delete("gadgets.test.standin.dev", &DeleteParams::default()).await.unwrap();
    assert_eq!(code(crds.get("gadgets.test.standin.dev").await), 404, "no finalizers on instances: CRD goes at once");
    assert_eq!(code(api.list(&ListParams::default()).await), 404, "no longer served");
}

#[tokio::test]
async fn events_share_one_store_across_both_apis() {
    let (_s, c) = setup().await;
    let ev: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(c.clone(), "default");
    let e: k8s_openapi::api::events::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "g.1"}, "eventTime": "2026-01-01T00:00:00.000000Z", "action": "Sync", "reason": "Synced",
        "note": "all good", "type": "Normal", "reportingController": "ctl", "reportingInstance": "ctl-1",
        "regarding": {"apiVersion": "test.standin.dev/v1", "kind": "Gadget", "name": "g", "namespace": "default"}}))
    .unwrap();
    ev.create(&PostParams::default(), &e).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(c.clone(), "default");
    let got = core.list(&ListParams::default().fields("involvedObject.name=g,involvedObject.kind=Gadget")).await.unwrap();
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.items[0].message.as_deref(), Some("all good"));
    assert_eq!(got.items[0].reporting_component.as_deref(), Some("ctl"));
    assert!(core.list(&ListParams::default().fields("involvedObject.name=other")).await.unwrap().items.is_empty());
    assert_eq!(code(core.list(&ListParams::default().fields("involvedObject.bogus=x")).await), 400);
}

#[tokio::test]
async fn leases_conflict_like_leader_election_expects() {
    let (_s, c) = setup().await;
    let leases: Api<Lease> = Api::namespaced(c.clone(), "kube-system");
    let l: Lease =
        serde_json::from_value(json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}))
            .unwrap();
    let made = leases.create(&PostParams::default(), &l).await.unwrap();
    assert_eq!(code(leases.create(&PostParams::default(), &l).await), 409);
    let mut next = made.clone();
    next.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let taken = leases.replace("leader", &PostParams::default(), &next).await.unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
    assert_eq!(code(leases.replace("leader", &PostParams::default(), &next).await), 409, "stale resourceVersion");
    let patched = leases
        .patch(
            "leader",
            &PatchParams::apply("elector").force(),
            &Patch::Apply(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "c"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().holder_identity.as_deref(), Some("c"));
}

#[tokio::test]
async fn namespace_deletion_removes_its_contents() {
    let (_s, c) = setup().await;
    let ns: Api<Namespace> = Api::all(c.clone());
    ns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "gone"}})).unwrap()).await.unwrap();
    let api: Api<Gadget> = Api::namespaced(c.clone(), "gone");
    let mut g = gadget("held", 1);
    g.metadata.finalizers = Some(vec!["test/f".into()]);
    api.create(&PostParams::default(), &g).await.unwrap();
    let terminating = ns.delete("gone", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(terminating.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert!(api.get("held").await.unwrap().metadata.deletion_timestamp.is_some(), "contents are being deleted");
    assert_eq!(code(api.create(&PostParams::default(), &gadget("new", 1)).await), 403);
    api.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert_eq!(code(ns.get("gone").await), 404, "the namespace goes once empty");
}
