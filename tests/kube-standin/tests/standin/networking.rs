//! networking.k8s.io Ingress and IngressClass, and server-side dry runs of built-in and
//! custom kinds: a dry-run create validates and answers the object as it would be stored,
//! and stores nothing; an invalid object is refused as the apiserver refuses it.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::common::{code, gadget, raw, setup, Gadget};

fn ingress(name: &str, path: serde_json::Value) -> Ingress {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "annotations": {"alb.ingress.kubernetes.io/scheme": "internal"}},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [path]}}]},
    }))
    .unwrap()
}

#[tokio::test]
async fn dry_run_creates_validate_answer_and_store_nothing() {
    let (_s, c) = setup().await;
    let dry = PostParams { dry_run: true, ..Default::default() };
    let ings: Api<Ingress> = Api::namespaced(c.clone(), "default");
    let good = ingress("web", json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}));
    let answered = ings.create(&dry, &good).await.expect("a valid Ingress passes a dry run");
    assert!(answered.metadata.uid.is_some() && answered.metadata.creation_timestamp.is_some(), "answered as stored");
    assert_eq!(answered.metadata.annotations.unwrap()["alb.ingress.kubernetes.io/scheme"], "internal");
    assert_eq!(code(ings.get("web").await), 404, "a dry run stores nothing");

    let no_type = ingress("a", json!({"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}));
    let relative =
        ingress("b", json!({"path": "web", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}));
    let both_ports = ingress(
        "c",
        json!({"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80, "name": "http"}}}}),
    );
    for bad in [no_type, relative, both_ports] {
        match ings.create(&dry, &bad).await {
            Err(kube::Error::Api(e)) => {
                assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
                assert!(e.message.starts_with("Ingress.networking.k8s.io"), "{}", e.message);
            }
            other => panic!("expected 422 for {:?}, got {other:?}", bad.metadata.name),
        }
    }
    // A real create stores it.
    ings.create(&PostParams::default(), &good).await.unwrap();
    assert!(ings.get("web").await.is_ok());

    let classes: Api<IngressClass> = Api::all(c.clone());
    let class: IngressClass = serde_json::from_value(json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb",
        "parameters": {"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": "p"}}}))
    .unwrap();
    classes.create(&dry, &class).await.expect("a valid IngressClass");
    assert_eq!(code(classes.get("alb").await), 404);
    let no_controller: IngressClass = serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {}})).unwrap();
    assert_eq!(code(classes.create(&dry, &no_controller).await), 422);

    let svcs: Api<Service> = Api::namespaced(c.clone(), "default");
    let two_unnamed: Service =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 443}]}})).unwrap();
    assert_eq!(code(svcs.create(&dry, &two_unnamed).await), 422, "several ports need names");
    let named: Service = serde_json::from_value(
        json!({"metadata": {"name": "s"}, "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}]}}),
    )
    .unwrap();
    svcs.create(&dry, &named).await.expect("named ports");
    assert_eq!(code(svcs.get("s").await), 404);

    // dryRun takes `All` only, as the apiserver's ValidateDryRun.
    let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "t"}, "spec": {"ports": [{"port": 80}]}});
    let (status, answer) =
        raw(&c, "POST", "/api/v1/namespaces/default/services?dryRun=Some", "application/json", "application/json", Some(body.clone()))
            .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("supported values: \"All\""), "{answer}");
    let (status, _) =
        raw(&c, "POST", "/api/v1/namespaces/default/services?dryRun=All", "application/json", "application/json", Some(body)).await;
    assert_eq!(status, 200, "raw answers a success as 200");
    assert_eq!(code(svcs.get("t").await), 404);

    // Custom resources: the CRD's schema is checked on a dry run too.
    let gadgets: Api<Gadget> = Api::namespaced(c, "default");
    gadgets.create(&dry, &gadget("g", 1)).await.expect("a valid custom resource");
    assert_eq!(code(gadgets.get("g").await), 404);
}
