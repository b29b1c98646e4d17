//! Tenancy (issue 17) through `controller::run` against the API stand-in and moto: what a
//! LoadBalancerClass grants a namespace, what it refuses (with no AWS write), adoption only
//! through a class, tags the operator never wrote left alone, and cleanup under the same
//! rules. Names are unique per test: moto is shared.

use elb_operator::controller::Config;
use elb_operator::crd::{LoadBalancer, LoadBalancerClass};
use elb_operator::elb::{Clients, CreateLoadBalancerInput, ElbApi, Tag};
use elb_operator::sync::execute;
use elb_operator::telemetry::Metrics;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::client;
use crate::kube_loop::{client_tags, condition, create, events, eventually, is_true, kube_client, namespace, Operator};

fn lb(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer", "metadata": {"name": name}, "spec": spec})
}

fn class(name: &str, default: bool, spec: serde_json::Value) -> serde_json::Value {
    let annotations = if default { json!({"elb.operator.dev/is-default-class": "true"}) } else { json!({}) };
    json!({"apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancerClass",
           "metadata": {"name": name, "annotations": annotations}, "spec": spec})
}

/// The `Synced` reason of `name`, once it is one of `reasons`.
async fn refused(lbs: &Api<LoadBalancer>, name: &str, reason: &str) -> LoadBalancer {
    eventually(&format!("{name} refused with {reason}"), || async {
        lbs.get(name).await.ok().filter(|lb| condition(lb, "Synced").is_some_and(|c| c.reason == reason && c.status == "False"))
    })
    .await
}

async fn exists(name: &str) -> bool {
    execute::describe(&client(), name).await.unwrap().is_some()
}

/// A default class for labelled namespaces, refusing what it does not grant; labelling the
/// namespace later admits the LoadBalancer (the class is re-evaluated), and the class's tags
/// and the cluster's identity go on the ELB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_admits_only_what_it_grants() {
    let (_standin, kube) = kube_client().await;
    let ns = "ten-grants";
    namespace(&kube, ns).await;
    let classes: Api<LoadBalancerClass> = Api::all(kube.clone());
    create(
        &classes,
        class(
            "team-a",
            true,
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}, "regions": ["us-east-1"], "schemes": ["internet-facing"],
                   "tags": {"cost-center": "42"}}),
        ),
    )
    .await;
    // An ELB nobody owns, under the name one LoadBalancer asks to adopt.
    let c = client();
    c.create_load_balancer(&CreateLoadBalancerInput::http("ten-grants-legacy", "us-east-1a", 8080)).await.unwrap();
    let legacy_before = client_tags("ten-grants-legacy").await;

    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    create(&lbs, lb("web", json!({"loadBalancerName": "ten-grants-web", "availabilityZones": ["us-east-1a"], "listeners": listeners})))
        .await;
    create(
        &lbs,
        lb(
            "far",
            json!({"loadBalancerName": "ten-grants-far", "region": "eu-west-1", "availabilityZones": ["eu-west-1a"], "listeners": listeners}),
        ),
    )
    .await;
    create(
        &lbs,
        lb(
            "taker",
            json!({"loadBalancerName": "ten-grants-legacy", "adopt": true, "availabilityZones": ["us-east-1a"], "listeners": listeners}),
        ),
    )
    .await;
    create(
        &lbs,
        lb(
            "as-role",
            json!({"loadBalancerName": "ten-grants-role", "roleArn": "arn:aws:iam::123456789012:role/other-team",
                   "availabilityZones": ["us-east-1a"], "listeners": listeners}),
        ),
    )
    .await;
    let mut config = Operator::config(ns);
    // The flag allows the role; the class does not grant it.
    config.allowed_role_arns = vec!["arn:aws:iam::123456789012:role/*".into()];
    config.cluster_uid = Some("uid-ten-grants".into());
    let operator = Operator::start_with(&kube, config, Clients::new(crate::config()), Metrics::new()).await;

    // The namespace is not selected: refused, nothing written, no finalizer.
    let web = refused(&lbs, "web", "ClassNotAllowed").await;
    assert!(condition(&web, "Synced").unwrap().message.contains("namespace ten-grants is not selected by LoadBalancerClass team-a"));
    assert_eq!(condition(&web, "Ready").unwrap().status, "False");
    assert!(web.metadata.finalizers.unwrap_or_default().is_empty(), "a refused LoadBalancer carries no finalizer");
    eventually("the ClassNotAllowed Warning", || async {
        events(&kube, ns).await.into_iter().find(|(t, r, _)| t == "Warning" && r == "ClassNotAllowed")
    })
    .await;
    assert!(!exists("ten-grants-web").await);

    // Selected: the class is re-evaluated on the namespace's label change.
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    namespaces.patch(ns, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}))).await.unwrap();
    let web = eventually("web Ready", || async { lbs.get("web").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;
    assert_eq!(web.status.as_ref().unwrap().managed_tag_keys.as_deref(), Some(&["cost-center".to_string()][..]));
    let tags = client_tags("ten-grants-web").await;
    assert_eq!(tags.get("cost-center").map(String::as_str), Some("42"), "the class's tags are on the ELB: {tags:?}");
    assert_eq!(tags.get("elb.operator.dev/cluster-uid").map(String::as_str), Some("uid-ten-grants"), "{tags:?}");

    // What the class does not grant stays refused, with no AWS write.
    refused(&lbs, "far", "RegionNotAllowed").await;
    refused(&lbs, "taker", "AdoptionNotAllowed").await;
    let as_role = refused(&lbs, "as-role", "RoleNotAllowed").await;
    assert!(condition(&as_role, "Synced").unwrap().message.contains("LoadBalancerClass team-a grants no role"));
    for name in ["ten-grants-far", "ten-grants-role"] {
        assert!(!exists(name).await, "{name} was created");
    }
    assert_eq!(client_tags("ten-grants-legacy").await, legacy_before, "the unadopted ELB was changed");

    // A refused LoadBalancer is deleted at once; the admitted one is cleaned up.
    for name in ["far", "taker", "as-role", "web"] {
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
        eventually("resource gone", || async { lbs.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    assert!(!exists("ten-grants-web").await, "the admitted LoadBalancer's ELB is deleted with it");
    assert!(exists("ten-grants-legacy").await, "the ELB it did not adopt stays");
    operator.stop().await;
    c.delete_load_balancer("ten-grants-legacy").await.unwrap();
}

/// Tags the operator never wrote survive every sync; a spec tag is removed once it leaves the
/// spec, because status recorded that the operator wrote it. Without any class, adoption is
/// refused (the built-in rules).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tags_stay_and_adoption_needs_a_class() {
    let (_standin, kube) = kube_client().await;
    let ns = "ten-tags";
    namespace(&kube, ns).await;
    let c = client();
    c.create_load_balancer(&CreateLoadBalancerInput::http("ten-tags-legacy", "us-east-1a", 8080)).await.unwrap();
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    create(
        &lbs,
        lb("web", json!({"loadBalancerName": "ten-tags-web", "availabilityZones": ["us-east-1a"], "listeners": listeners, "tags": {"team": "web"}})),
    )
    .await;
    create(
        &lbs,
        lb(
            "taker",
            json!({"loadBalancerName": "ten-tags-legacy", "adopt": true, "availabilityZones": ["us-east-1a"], "listeners": listeners}),
        ),
    )
    .await;
    let operator = Operator::start(&kube, ns).await;
    let taker = refused(&lbs, "taker", "AdoptionNotAllowed").await;
    assert!(condition(&taker, "Synced").unwrap().message.contains("no class applies"), "{:?}", condition(&taker, "Synced"));
    eventually("web Ready", || async { lbs.get("web").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;

    // Another tool tags the ELB; the spec's tag then leaves the spec.
    c.add_tags(&["ten-tags-web".to_string()], &[Tag { key: "CostCenter".into(), value: Some("7".into()) }]).await.unwrap();
    lbs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"tags": {"tier": "front"}}}))).await.unwrap();
    lbs.patch(
        "web",
        &PatchParams::default(),
        &Patch::Json::<()>(serde_json::from_value(json!([{"op": "remove", "path": "/spec/tags/team"}])).unwrap()),
    )
    .await
    .unwrap();
    let tags = eventually("team removed and tier added", || async {
        let tags = client_tags("ten-tags-web").await;
        (tags.contains_key("tier") && !tags.contains_key("team")).then_some(tags)
    })
    .await;
    assert_eq!(tags.get("CostCenter").map(String::as_str), Some("7"), "a tag the operator never wrote was removed: {tags:?}");
    assert!(client_tags("ten-tags-legacy").await.keys().all(|k| !k.starts_with("elb.operator.dev/")), "adopted without a class");

    for name in ["web", "taker"] {
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
        eventually("resource gone", || async { lbs.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    operator.stop().await;
    c.delete_load_balancer("ten-tags-legacy").await.unwrap();
}

/// Cleanup obeys the class: once the class no longer grants the LoadBalancer's role, its
/// deletion neither assumes the role nor hangs: the ELB is left (the orphan report shows
/// it) and the finalizer goes, with a Warning naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_never_uses_what_the_class_no_longer_grants() {
    let (_standin, kube) = kube_client().await;
    let ns = "ten-cleanup";
    namespace(&kube, ns).await;
    let classes: Api<LoadBalancerClass> = Api::all(kube.clone());
    create(&classes, class("roles", false, json!({"roleArns": ["arn:aws:iam::123456789012:role/ten-cleanup-*"]}))).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        lb(
            "web",
            json!({"className": "roles", "loadBalancerName": "ten-cleanup-web", "roleArn": "arn:aws:iam::123456789012:role/ten-cleanup-lb",
                   "availabilityZones": ["us-east-1a"], "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}),
        ),
    )
    .await;
    let mut config = Operator::config(ns);
    config.allowed_role_arns = vec!["arn:aws:iam::123456789012:role/*".into()];
    let operator = Operator::start_with(&kube, config, Clients::new(crate::config()), Metrics::new()).await;
    eventually("web Ready", || async { lbs.get("web").await.ok().filter(|lb| is_true(lb, "Ready")) }).await;

    // The platform team withdraws the role from the class, then the tenant deletes.
    classes
        .patch(
            "roles",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"roleArns": ["arn:aws:iam::123456789012:role/someone-else"]}})),
        )
        .await
        .unwrap();
    refused(&lbs, "web", "RoleNotAllowed").await;
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    assert!(exists("ten-cleanup-web").await, "cleanup deleted through a role the class no longer grants");
    let seen = events(&kube, ns).await;
    assert!(seen.iter().any(|(t, r, n)| t == "Warning" && r == "RoleNotAllowed" && n.contains("left in place")), "{seen:?}");
    operator.stop().await;
    let owner = elb_operator::sync::ownership::Owner::new("loop-test", ns, "web");
    let _ = execute::delete(&client(), "ten-cleanup-web", &owner, true).await;
}

/// With `--require-class`, a LoadBalancer no class applies to is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_class_refuses_classless_loadbalancers() {
    let (_standin, kube) = kube_client().await;
    let ns = "ten-require";
    namespace(&kube, ns).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        lb(
            "web",
            json!({"loadBalancerName": "ten-require-web", "availabilityZones": ["us-east-1a"],
                          "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}),
        ),
    )
    .await;
    let config = Config { require_class: true, ..Operator::config(ns) };
    let operator = Operator::start_with(&kube, config, Clients::new(crate::config()), Metrics::new()).await;
    let web = refused(&lbs, "web", "ClassNotAllowed").await;
    assert!(condition(&web, "Synced").unwrap().message.contains("--require-class"));
    assert!(!exists("ten-require-web").await);
    operator.stop().await;
}

/// A class requiring resource tags: a spec naming an untagged instance is refused with no
/// AWS write; nodes backed by untagged instances are left out (`InstanceNotAllowed`) and the
/// rest registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_resource_tags_bound_what_a_namespace_reaches() {
    use crate::MOTO;
    use elb_operator::controller::AwsClients;
    let (_standin, kube) = kube_client().await;
    let ns = "ten-resources";
    namespace(&kube, ns).await;
    let ids = MOTO.run_instances(2, "us-east-1b");
    let (ours, theirs) = (&ids[0], &ids[1]);
    MOTO.ec2(crate::REGION, &[("Action", "CreateTags"), ("ResourceId.1", ours.as_str()), ("Tag.1.Key", "team"), ("Tag.1.Value", "a")]);
    for (name, id) in [("ten-resources-ours", ours), ("ten-resources-theirs", theirs)] {
        crate::kube_loop::node(&kube, name, Some(("us-east-1b", id))).await;
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(kube.clone());
        nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"pool": "ten-resources"}}})))
            .await
            .unwrap();
    }
    let classes: Api<LoadBalancerClass> = Api::all(kube.clone());
    create(&classes, class("tagged", true, json!({"requiredResourceTags": {"team": "a"}}))).await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    let listeners = json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
    create(
        &lbs,
        lb(
            "named",
            json!({"loadBalancerName": "ten-resources-named", "availabilityZones": ["us-east-1b"], "listeners": listeners,
                            "backends": {"instanceIds": [theirs]}}),
        ),
    )
    .await;
    create(
        &lbs,
        lb(
            "pool",
            json!({"loadBalancerName": "ten-resources-pool", "availabilityZones": ["us-east-1b"], "listeners": listeners,
                           "backends": {"nodeSelector": {"matchLabels": {"pool": "ten-resources"}}}}),
        ),
    )
    .await;
    let elb = Clients::new(crate::config());
    let ec2 = elb.beside(crate::config());
    let autoscaling = elb.beside(elb_operator::autoscaling::client_config(&crate::config(), Some(&MOTO.endpoint), &|_| None).unwrap());
    let operator = Operator::start_with(&kube, Operator::config(ns), AwsClients { elb, ec2: Some(ec2), autoscaling }, Metrics::new()).await;

    let named = refused(&lbs, "named", "ResourceNotAllowed").await;
    let message = &condition(&named, "Synced").unwrap().message;
    assert!(message.contains(theirs.as_str()) && message.contains("team=a"), "{message}");
    assert!(!exists("ten-resources-named").await, "a refused spec wrote to AWS");

    let pool = eventually("pool Synced with the untagged node left out", || async {
        lbs.get("pool")
            .await
            .ok()
            .filter(|lb| is_true(lb, "Synced") && condition(lb, "BackendsResolved").is_some_and(|c| c.status == "False"))
    })
    .await;
    let resolved = condition(&pool, "BackendsResolved").unwrap();
    assert_eq!(resolved.reason, "InstanceNotAllowed");
    assert!(resolved.message.contains(theirs.as_str()), "{}", resolved.message);
    assert_eq!(crate::kube_loop::registered("ten-resources-pool").await, std::slice::from_ref(ours));

    for name in ["named", "pool"] {
        lbs.delete(name, &DeleteParams::default()).await.unwrap();
        eventually("resource gone", || async { lbs.get_opt(name).await.unwrap().is_none().then_some(()) }).await;
    }
    operator.stop().await;
}

/// Another cluster of the same `--cluster-name` (its own kube-system uid on the ELB): this
/// one's LoadBalancer of the same namespace and name never changes it, and its deletion
/// leaves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_clusters_elb_is_neither_changed_nor_deleted() {
    let (_standin, kube) = kube_client().await;
    let ns = "ten-twin";
    namespace(&kube, ns).await;
    let c = client();
    let mut input = CreateLoadBalancerInput::http("ten-twin-web", "us-east-1a", 8080);
    input.tags = vec![
        Tag { key: "elb.operator.dev/cluster".into(), value: Some("loop-test".into()) },
        Tag { key: "elb.operator.dev/resource".into(), value: Some(format!("{ns}/web")) },
        Tag { key: "elb.operator.dev/cluster-uid".into(), value: Some("uid-of-the-twin".into()) },
    ];
    c.create_load_balancer(&input).await.unwrap();
    let before = client_tags("ten-twin-web").await;
    let lbs: Api<LoadBalancer> = Api::namespaced(kube.clone(), ns);
    create(
        &lbs,
        lb(
            "web",
            json!({"loadBalancerName": "ten-twin-web", "availabilityZones": ["us-east-1a"], "deletionPolicy": "Delete",
                          "listeners": [{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]}),
        ),
    )
    .await;
    let config = Config { cluster_uid: Some("uid-of-this-cluster".into()), ..Operator::config(ns) };
    let operator = Operator::start_with(&kube, config, Clients::new(crate::config()), Metrics::new()).await;
    refused(&lbs, "web", "ForeignOwner").await;
    lbs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("resource gone", || async { lbs.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
    assert!(exists("ten-twin-web").await, "the twin cluster's ELB was deleted");
    assert_eq!(client_tags("ten-twin-web").await, before, "the twin cluster's ELB was changed");
    operator.stop().await;
    c.delete_load_balancer("ten-twin-web").await.unwrap();
}
