//! Golden outputs: the report and the manifests of every case, compared with
//! `tests/migrate/golden/<case>.txt` (rewritten with `UPDATE_GOLDEN=1`); and every manifest
//! applied with a server-side dry run to the stand-in, with the LBC's CRDs installed.

use std::path::PathBuf;

use elb_operator::migrate::{manifests, report};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};

use crate::cases;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/migrate/golden")
}

/// What a case's golden file holds: per LoadBalancer its report and its manifests.
fn render(case: &cases::Case) -> String {
    let mut out = String::new();
    for m in case.migrations() {
        let r = report::Report { load_balancers: vec![m.clone()], manifests_dir: None };
        out.push_str(&report::table(&r));
        out.push_str(&format!("# exit code {}\n", r.exit_code()));
        out.push_str(&format!("# manifests of {}/{}\n", m.namespace, m.name));
        out.push_str(&manifests::to_yaml(&m.manifests));
        out.push('\n');
    }
    out
}

#[test]
fn every_case_matches_its_golden_output() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let dir = golden_dir();
    let all = cases::all();
    let mut mismatched = Vec::new();
    for case in &all {
        let text = render(case);
        assert!(!case.lbs.is_empty(), "{} has a LoadBalancer", case.name);
        let path = dir.join(format!("{}.txt", case.name));
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != text {
            mismatched.push(format!("{}:\n--- want\n{want}\n--- got\n{text}", path.display()));
        }
    }
    // No golden file without its case (a renamed case leaves a stale one behind).
    let names: Vec<String> = all.iter().map(|c| format!("{}.txt", c.name)).collect();
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| !names.contains(f))
        .collect();
    if update {
        for f in &stale {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        return;
    }
    assert!(stale.is_empty(), "golden files of no case: {stale:?}");
    assert!(
        mismatched.is_empty(),
        "{} golden outputs differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatched.len(),
        mismatched.join("\n")
    );
}

#[test]
fn the_cases_cover_every_protocol_stickiness_policy_and_verdict() {
    let all: Vec<_> = cases::all().iter().flat_map(|c| c.migrations()).collect();
    let lbs: Vec<_> = cases::all().into_iter().flat_map(|c| c.lbs).collect();
    for p in ["HTTP", "HTTPS", "TCP", "SSL"] {
        assert!(lbs.iter().any(|lb| lb.spec.listeners.iter().any(|l| l.protocol.as_str() == p)), "no {p} listener");
    }
    let stick = |f: fn(&elb_operator::crd::Stickiness) -> bool| {
        lbs.iter().any(|lb| lb.spec.listeners.iter().filter_map(|l| l.stickiness.as_ref()).any(f))
    };
    assert!(
        stick(|s| s.cookie_name.is_some())
            && stick(|s| s.expiration_seconds.is_some())
            && stick(|s| s.cookie_name.is_none() && s.expiration_seconds.is_none())
    );
    for p in elb_operator::migrate::tls::SAME_NAME {
        assert!(lbs.iter().any(|lb| lb.spec.listeners.iter().any(|l| l.ssl_policy.as_deref() == Some(*p))), "no case of {p}");
    }
    let older = elb_operator::migrate::tls::OLDER;
    assert!(lbs.iter().any(|lb| lb.spec.listeners.iter().any(|l| older.iter().any(|(p, _)| l.ssl_policy.as_deref() == Some(*p)))));
    for word in ["exact", "approximated", "not carried"] {
        assert!(all.iter().any(|m| m.outcome() == word), "no LoadBalancer whose outcome is {word}");
    }
    for kind in ["Service", "Ingress", "IngressClass", "IngressClassParams", "TargetGroupBinding"] {
        assert!(all.iter().flat_map(|m| &m.manifests).any(|o| o["kind"] == kind), "no case renders a {kind}");
    }
}

/// Whether `big` holds every field of `small` with the same value (the server may add defaults).
fn contains(big: &serde_json::Value, small: &serde_json::Value) -> bool {
    match (big, small) {
        (serde_json::Value::Object(b), serde_json::Value::Object(s)) => s.iter().all(|(k, v)| b.get(k).is_some_and(|bv| contains(bv, v))),
        (serde_json::Value::Array(b), serde_json::Value::Array(s)) => b.len() == s.len() && b.iter().zip(s).all(|(x, y)| contains(x, y)),
        _ => big == small,
    }
}

#[test]
fn every_reference_between_the_objects_resolves() {
    for m in cases::all().iter().flat_map(|c| c.migrations()) {
        let service_port = |name: &str, port: &serde_json::Value| {
            m.manifests.iter().any(|o| {
                o["kind"] == "Service"
                    && o["metadata"]["name"] == name
                    && o["spec"]["ports"].as_array().unwrap().iter().any(|p| &p["port"] == port)
            })
        };
        for o in &m.manifests {
            match o["kind"].as_str().unwrap() {
                "Ingress" => {
                    let b = &o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
                    assert!(service_port(b["name"].as_str().unwrap(), &b["port"]["number"]), "{}: {o}", m.name);
                    let class = o["spec"]["ingressClassName"].as_str().unwrap();
                    let defined = m.manifests.iter().any(|c| c["kind"] == "IngressClass" && c["metadata"]["name"] == class);
                    assert!(class == "alb" || defined, "{}: IngressClass {class}", m.name);
                }
                "TargetGroupBinding" => {
                    let r = &o["spec"]["serviceRef"];
                    assert!(service_port(r["name"].as_str().unwrap(), &r["port"]), "{}: {o}", m.name);
                    // Instance targets are bound through node ports (the LBC refuses a ClusterIP Service).
                    let svc = m.manifests.iter().find(|s| s["kind"] == "Service" && s["metadata"]["name"] == r["name"]).unwrap();
                    assert!(["NodePort", "LoadBalancer"].contains(&svc["spec"]["type"].as_str().unwrap()), "{}: {svc}", m.name);
                }
                "IngressClass" => {
                    let p = &o["spec"]["parameters"]["name"];
                    assert!(m.manifests.iter().any(|c| c["kind"] == "IngressClassParams" && &c["metadata"]["name"] == p));
                }
                _ => {}
            }
        }
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "Service" => "services",
        "Ingress" => "ingresses",
        "IngressClass" => "ingressclasses",
        "IngressClassParams" => "ingressclassparams",
        "TargetGroupBinding" => "targetgroupbindings",
        other => panic!("no plural for {other}"),
    }
}

fn api(client: &kube::Client, obj: &serde_json::Value) -> Api<DynamicObject> {
    let (group, version) = match obj["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), obj["apiVersion"].as_str().unwrap().to_string()),
    };
    let kind = obj["kind"].as_str().unwrap();
    let gvk = GroupVersionKind::gvk(&group, &version, kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, plural(kind));
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

#[tokio::test]
async fn the_manifests_pass_a_server_side_dry_run_with_the_lbc_crds() {
    let standin = kube_standin::StandIn::start().await.expect("stand-in starts");
    let client = kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lbc");
    for f in ["elbv2.k8s.aws_ingressclassparams.yaml", "elbv2.k8s.aws_targetgroupbindings.yaml"] {
        let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(fixtures.join(f)).unwrap()).unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap_or_else(|e| panic!("install {f}: {e}"));
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let all = cases::all();
    let migrations: Vec<_> = all.iter().flat_map(|c| c.migrations()).collect();
    for ns in migrations.iter().map(|m| m.namespace.clone()).collect::<std::collections::BTreeSet<_>>() {
        if namespaces.get_opt(&ns).await.unwrap().is_none() {
            let n: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
            namespaces.create(&PostParams::default(), &n).await.unwrap();
        }
    }
    let dry = PostParams { dry_run: true, field_manager: None };
    let mut applied = 0;
    for m in &migrations {
        for obj in &m.manifests {
            let dynamic: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
            let answered = api(&client, obj)
                .create(&dry, &dynamic)
                .await
                .unwrap_or_else(|e| panic!("{}/{}: {} {} refused: {e}", m.namespace, m.name, obj["kind"], obj["metadata"]["name"]));
            assert_eq!(answered.metadata.name.as_deref(), obj["metadata"]["name"].as_str());
            assert!(
                contains(&answered.data["spec"], &obj["spec"]),
                "the server keeps every field sent (none pruned as unknown): {} {}",
                answered.data["spec"],
                obj["spec"]
            );
            applied += 1;
        }
    }
    assert!(applied > 80, "{applied} objects applied");
    for obj in migrations.iter().flat_map(|m| &m.manifests).take(20) {
        assert!(api(&client, obj).list(&ListParams::default()).await.unwrap().items.is_empty(), "a dry run stores nothing");
    }
    // The CRDs are enforced: a TargetGroupBinding without serviceRef, or of an unknown target
    // type, is refused.
    let tgb = migrations.iter().flat_map(|m| &m.manifests).find(|o| o["kind"] == "TargetGroupBinding").expect("a case binds").clone();
    for broken in [
        {
            let mut b = tgb.clone();
            b["spec"]["targetType"] = "pod".into();
            b
        },
        {
            let mut b = tgb.clone();
            b["spec"].as_object_mut().unwrap().remove("serviceRef");
            b
        },
    ] {
        let dynamic: DynamicObject = serde_json::from_value(broken.clone()).unwrap();
        match api(&client, &broken).create(&dry, &dynamic).await {
            Err(kube::Error::Api(e)) => assert_eq!(e.code, 422, "{e:?}"),
            other => panic!("a broken TargetGroupBinding passed: {other:?}"),
        }
    }
}
