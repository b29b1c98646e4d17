//! OpenAPI v3: the documents' shape (as kube-apiserver publishes them) and `kubectl explain`
//! on custom and built-in kinds with the real kubectl.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{fixture, raw, setup};

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let ("$ref", Value::String(r)) = (k.as_str(), x) {
                    out.push(r.clone());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn documents_list_every_group_version_with_paths_and_schemas() {
    let (_s, c) = setup().await;
    let (code, root) = raw(&c, "GET", "/openapi/v3", "application/json", "", None).await;
    assert_eq!(code, 200);
    let paths = root["paths"].as_object().unwrap();
    for gv in ["api/v1", "apis/test.standin.dev/v1", "apis/coordination.k8s.io/v1", "apis/apiextensions.k8s.io/v1", "apis/events.k8s.io/v1"]
    {
        let url = paths[gv]["serverRelativeURL"].as_str().unwrap_or_else(|| panic!("{gv} missing: {root}"));
        assert!(url.starts_with(&format!("/openapi/v3/{gv}?hash=")), "{url}");
        assert_eq!(url.len() - url.find("hash=").unwrap() - 5, 128, "a SHA-512 hash: {url}");
        let (code, doc) = raw(&c, "GET", url, "application/json", "", None).await;
        assert_eq!(code, 200, "{gv}");
        assert_eq!(doc["openapi"], "3.0.0");
        // Every reference resolves inside the same document.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
            assert!(schemas.contains_key(name), "{gv}: dangling {r}");
        }
    }

    let (_, doc) = raw(&c, "GET", "/openapi/v3/apis/test.standin.dev/v1", "application/json", "", None).await;
    let gadget = &doc["components"]["schemas"]["dev.standin.test.v1.Gadget"];
    assert_eq!(
        gadget["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "test.standin.dev", "version": "v1", "kind": "Gadget"}])
    );
    assert_eq!(
        gadget["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(gadget["properties"]["apiVersion"]["type"], "string");
    assert_eq!(gadget["properties"]["spec"]["properties"]["size"]["type"], "integer");
    let list = &doc["components"]["schemas"]["dev.standin.test.v1.GadgetList"];
    assert_eq!(list["properties"]["items"]["items"]["$ref"], "#/components/schemas/dev.standin.test.v1.Gadget");
    let item = &doc["paths"]["/apis/test.standin.dev/v1/namespaces/{namespace}/gadgets/{name}"];
    assert_eq!(item["patch"]["x-kubernetes-action"], "patch");
    assert_eq!(item["patch"]["operationId"], "patchTestStandinDevV1NamespacedGadget");
    let collection = &doc["paths"]["/apis/test.standin.dev/v1/namespaces/{namespace}/gadgets"];
    assert_eq!(collection["delete"]["operationId"], "deleteTestStandinDevV1CollectionNamespacedGadget");
    assert_eq!(collection["post"]["x-kubernetes-action"], "post");
    assert!(item["patch"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
    let media: Vec<&String> = item["patch"]["requestBody"]["content"].as_object().unwrap().keys().collect();
    assert_eq!(media, ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]);
    assert!(doc["paths"]["/apis/test.standin.dev/v1/namespaces/{namespace}/gadgets/{name}/status"]["put"].is_object());
    assert!(doc["paths"]["/apis/test.standin.dev/v1/gadgets"]["get"].is_object(), "list across namespaces");

    let (_, core) = raw(&c, "GET", "/openapi/v3/api/v1", "application/json", "", None).await;
    let pod = &core["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(pod["x-kubernetes-group-version-kind"], serde_json::json!([{"group": "", "version": "v1", "kind": "Pod"}]));
    assert_eq!(pod["properties"]["spec"]["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.core.v1.PodSpec");
    assert!(core["paths"]["/api/v1/nodes/{name}"]["patch"].is_object());

    let (code, _) = raw(&c, "GET", "/openapi/v3/apis/nothing.here/v1", "application/json", "", None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn a_crd_change_changes_its_documents_hash() {
    let (_s, c) = setup().await;
    let hash = |root: &Value| root["paths"]["apis/test.standin.dev/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    let (_, before) = raw(&c, "GET", "/openapi/v3", "application/json", "", None).await;
    let patch = serde_json::json!([{"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/extra", "value": {"type": "string"}}]);
    let (code, _) = raw(
        &c,
        "PATCH",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.test.standin.dev",
        "application/json",
        "application/json-patch+json",
        Some(patch),
    )
    .await;
    assert_eq!(code, 200);
    let (_, after) = raw(&c, "GET", "/openapi/v3", "application/json", "", None).await;
    assert_ne!(hash(&before), hash(&after));
    assert_eq!(before["paths"]["api/v1"], after["paths"]["api/v1"]);
}

fn kubectl(kubeconfig: &std::path::Path, cache: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--request-timeout=20s")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl must be installed (v1.32) for these tests");
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kubectl_explain_walks_custom_and_built_in_kinds() {
    let s = kube_standin::StandIn::start_blocking().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let k = |args: &[&str]| kubectl(s.kubeconfig_path(), cache.path(), args);
    k(&["apply", "-f", fixture("crd.yaml").to_str().unwrap()]);
    k(&["wait", "--for=condition=Established", "crd/gadgets.test.standin.dev", "--timeout=20s"]);

    let out = k(&["explain", "gadget.spec"]);
    for want in [
        "GROUP:      test.standin.dev",
        "KIND:       Gadget",
        "VERSION:    v1",
        "FIELD: spec <Object>",
        "size\t<integer>",
        "tags\t<[]string>",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    // Into ObjectMeta through its reference, and a list's items.
    let out = k(&["explain", "gadget.metadata.labels"]);
    assert!(out.contains("FIELD: labels <map[string]string>"), "{out}");
    let out = k(&["explain", "gadget.status.conditions.type"]);
    assert!(out.contains("FIELD: type <string>"), "{out}");

    let out = k(&["explain", "pods.spec.containers"]);
    for want in ["KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>", "image\t<string>", "name\t<string> -required-"] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let out = k(&["explain", "lease.spec.holderIdentity"]);
    assert!(out.contains("GROUP:      coordination.k8s.io") && out.contains("FIELD: holderIdentity <string>"), "{out}");
    let out = k(&["explain", "node", "--recursive"]);
    assert!(out.contains("providerID\t<string>"), "{out}");
}

/// The project's own CRDs (README.md promises `kubectl explain loadbalancer.spec`).
#[test]
fn kubectl_explain_describes_the_operators_loadbalancer() {
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds");
    let s = kube_standin::StandIn::start_blocking().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let k = |args: &[&str]| kubectl(s.kubeconfig_path(), cache.path(), args);
    k(&["apply", "-f", crds.to_str().unwrap()]);
    k(&["wait", "--for=condition=Established", "crd/loadbalancers.elb.operator.dev", "--timeout=20s"]);
    let out = k(&["explain", "loadbalancer.spec.listeners"]);
    for want in [
        "GROUP:      elb.operator.dev",
        "KIND:       LoadBalancer",
        "VERSION:    v1alpha1",
        "FIELD: listeners <[]Object>",
        "instancePort\t<integer> -required-",
        "protocol\t<string> -required-",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    let out = k(&["explain", "loadbalancer.spec"]);
    assert!(out.contains("availabilityZones\t<[]string>") && out.contains("healthCheckRef\t<Object>"), "{out}");
    let out = k(&["explain", "healthcheck.spec.target"]);
    assert!(out.contains("FIELD: target <string>"), "{out}");
}
