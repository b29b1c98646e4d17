//! The CRD schema: the checked-in `crds/` (and the chart's copy) match the Rust types, the
//! CRDs pass the checks the API server makes when they are created, and every manifest under
//! `examples/` is accepted while every one under `examples/invalid/` is refused with the
//! message its `# expect:` line names.
//!
//! Objects are validated by the Kubernetes API stand-in's validation
//! (`kube_standin::validation`): the same code that answers `kubectl apply` in the
//! end-to-end tests and the demo, in the API server's order and with its messages (pruning
//! and defaults, the OpenAPI schema, list-type uniqueness, then the CEL rules with `oldSelf`
//! on updates, skipped after a blocking schema error). Unknown fields are refused, as
//! `kubectl apply` asks the server to (`fieldValidation=Strict`).

use std::path::{Path, PathBuf};

use elb_operator::crd::{self, HealthCheck, LoadBalancer, LoadBalancerClass};
use kube::core::cel::{analyze_rule, compile_schema, ScopeContext, WarningKind};
use kube_standin::validation;
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// Checked-in CRDs

/// Regenerates `crds/` and the Helm chart's copy in `charts/elb-operator/crds/` and fails when
/// the checked-in files differ.
#[test]
fn checked_in_crds_match_the_rust_types() {
    let update = std::env::var_os("UPDATE_CRDS").is_some_and(|v| v != "0");
    let mut stale = Vec::new();
    for crd in crd::crds() {
        let name = crd.metadata.name.clone().expect("derived CRDs are named");
        let want = crd::crd_yaml(&crd);
        for dir in ["crds", "charts/elb-operator/crds"] {
            let path = repo_root().join(dir).join(format!("{name}.yaml"));
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &want).unwrap();
                continue;
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            if have != want {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the checked-in CRDs differ from the Rust types: {stale:?}\n\
         run `UPDATE_CRDS=1 cargo test --test crd_schema` and commit crds/ and charts/elb-operator/crds/"
    );
}

#[test]
fn crdgen_yaml_holds_every_crd_in_order() {
    let docs: Vec<Value> = documents(&crd::crdgen_yaml());
    let names: Vec<&str> = docs.iter().map(|d| d["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["healthchecks.elb.operator.dev", "loadbalancers.elb.operator.dev", "loadbalancerclasses.elb.operator.dev"]);
    for (doc, crd) in docs.iter().zip(crd::crds()) {
        assert_eq!(doc, &serde_json::to_value(crd).unwrap());
    }
}

/// Every rule carries its own message (the API server would otherwise answer
/// `failed rule: <rule>`); that they compile is part of the API server's CRD checks below.
#[test]
fn every_cel_rule_has_a_message() {
    for crd in crd::crds() {
        let rules = rules_of(&schema_of(&crd));
        assert!(!rules.is_empty(), "{}: no rules", crd.spec.names.kind);
        for (rule, message) in rules {
            assert!(!message.trim().is_empty(), "rule without a message: {rule}");
        }
    }
}

/// The API server refuses a CRD whose rules' estimated cost is unbounded: every list or map
/// a rule iterates has maxItems/maxProperties, and every string a rule runs a regular
/// expression on has maxLength. kube-cel's own static analysis must find nothing either.
#[test]
fn every_cel_rule_has_a_bounded_cost() {
    fn walk(node: &Value, path: &str, found: &mut usize) {
        let Some(map) = node.as_object() else { return };
        if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
            let compiled = compile_schema(node);
            for rule in rules {
                let rule = rule["rule"].as_str().unwrap();
                *found += 1;
                let warnings: Vec<_> = analyze_rule(rule, &compiled, ScopeContext::CrdValidation)
                    .into_iter()
                    // kube-cel's scope check counts a macro's bound variable (`l` in
                    // `self.all(l, ...)`) as a free one; those are fine.
                    .filter(|w| {
                        w.kind != WarningKind::WrongScope
                            || !w.message.split('\'').nth(1).is_some_and(|var| rule.contains(&format!("({var}, ")))
                    })
                    .collect();
                assert!(warnings.is_empty(), "{path}: {rule}: {warnings:?}");
                let iterates = [".all(", ".exists(", ".exists_one(", ".map(", ".filter("].iter().any(|m| rule.contains(m));
                match map.get("type").and_then(Value::as_str) {
                    Some("array") if iterates => {
                        assert!(map.contains_key("maxItems"), "{path}: {rule} iterates an unbounded list");
                        if rule.contains("matches(") {
                            assert!(node["items"].get("maxLength").is_some(), "{path}: {rule}: unbounded items");
                        }
                    }
                    Some("object") if iterates && map.contains_key("additionalProperties") => {
                        assert!(map.contains_key("maxProperties"), "{path}: {rule} iterates an unbounded map");
                    }
                    Some("string") if rule.contains("matches(") || rule.contains("split(") => {
                        assert!(map.contains_key("maxLength"), "{path}: {rule} scans an unbounded string");
                    }
                    _ => {}
                }
            }
        }
        for (key, child) in map {
            match key.as_str() {
                "properties" => {
                    for (name, prop) in child.as_object().unwrap() {
                        walk(prop, &format!("{path}.{name}"), found);
                    }
                }
                "items" | "additionalProperties" => walk(child, &format!("{path}[]"), found),
                _ => {}
            }
        }
    }
    let mut found = 0;
    for crd in crd::crds() {
        walk(&schema_of(&crd), &crd.spec.names.kind, &mut found);
    }
    assert!(found >= 20, "only {found} rules found");
}

#[test]
fn lists_merge_by_key_for_server_side_apply() {
    let lb = schema_of(&LoadBalancer::crd_for_test());
    let listeners = &lb["properties"]["spec"]["properties"]["listeners"];
    assert_eq!(listeners["x-kubernetes-list-type"], "map");
    assert_eq!(listeners["x-kubernetes-list-map-keys"], serde_json::json!(["port"]));
    let status = &lb["properties"]["status"]["properties"];
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    assert_eq!(status["conditions"]["x-kubernetes-list-map-keys"], serde_json::json!(["type"]));
    assert_eq!(status["instances"]["x-kubernetes-list-map-keys"], serde_json::json!(["instanceId"]));
    let hc = schema_of(&HealthCheck::crd_for_test());
    let conditions = &hc["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-map-keys"], serde_json::json!(["type"]));
}

#[test]
fn printer_columns_show_the_elb_and_its_health() {
    let crd = LoadBalancer::crd_for_test();
    let columns = crd.spec.versions[0].additional_printer_columns.clone().unwrap();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    for want in ["ELB", "DNS", "Healthy", "Ready", "Age"] {
        assert!(names.contains(&want), "{names:?}");
    }
    // Every column points at a field that exists in the schema (or metadata).
    let schema = schema_of(&crd);
    for column in &columns {
        let path = column.json_path.trim_start_matches('.');
        let path = path.split('[').next().unwrap();
        let mut node = &schema;
        for part in path.split('.') {
            if part == "metadata" {
                break;
            }
            node = &node["properties"][part];
            assert!(!node.is_null(), "printer column {} names a missing field", column.json_path);
        }
    }
}

#[test]
fn class_printer_columns_show_what_the_class_grants() {
    let crd = LoadBalancerClass::crd_for_test();
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.names.plural, "loadbalancerclasses");
    let columns = crd.spec.versions[0].additional_printer_columns.clone().unwrap();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Default", "Adoption", "Regions", "Schemes", "Roles", "Age"]);
    // The Default column reads the annotation, its dots escaped as kubectl's JSONPath wants.
    assert_eq!(columns[0].json_path, r".metadata.annotations.elb\.operator\.dev/is-default-class");
    let schema = schema_of(&crd);
    for column in &columns[1..5] {
        let field = column.json_path.strip_prefix(".spec.").unwrap();
        assert!(!schema["properties"]["spec"]["properties"][field].is_null(), "printer column {} names a missing field", column.json_path);
    }
    // Adoption defaults to Forbidden in the schema, so the column is never empty.
    assert_eq!(schema["properties"]["spec"]["properties"]["adoption"]["default"], "Forbidden");
}

/// A class example is deserialised with the right values, and the default class is the
/// annotated one.
#[test]
fn class_examples_hold_a_team_class_and_a_default_class() {
    let team = documents(&std::fs::read_to_string(repo_root().join("examples/class-team.yaml")).unwrap());
    let class: LoadBalancerClass = serde_json::from_value(team[0].clone()).unwrap();
    assert!(!class.is_default());
    assert_eq!(class.spec.regions.as_deref(), Some(&["us-east-1".to_string(), "eu-west-1".to_string()][..]));
    assert_eq!(class.spec.required_resource_tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(class.spec.adoption, crd::Adoption::Forbidden);
    let lb: LoadBalancer = serde_json::from_value(team[1].clone()).unwrap();
    assert_eq!(lb.spec.class_name.as_deref(), Some("payments"));
    let shared = documents(&std::fs::read_to_string(repo_root().join("examples/class-default.yaml")).unwrap());
    let class: LoadBalancerClass = serde_json::from_value(shared[0].clone()).unwrap();
    assert!(class.is_default());
    assert_eq!(class.spec.deletion_policy, Some(crd::DeletionPolicy::Retain));
}

/// The API server's checks of a CRD it is asked to create (structural schema, defaults that
/// pass their own schema, rules that compile, one-line messages, fieldPaths naming a
/// property...), then this project's own conventions: no type alternatives or composition,
/// and fieldPaths one level deep.
#[test]
fn crds_pass_the_api_servers_crd_checks() {
    fn conventions(node: &Value, path: &str) {
        let map = node.as_object().unwrap_or_else(|| panic!("{path}: not an object"));
        for key in ["anyOf", "oneOf", "allOf", "not", "$defs"] {
            assert!(!map.contains_key(key), "{path}: {key}: the CRDs use plain, typed, inlined nodes");
        }
        if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
            for rule in rules {
                if let Some(field) = rule["fieldPath"].as_str() {
                    let field = field.strip_prefix('.').expect("fieldPath starts with a dot");
                    assert!(!field.contains(['.', '[']), "{path}: keep fieldPaths one level deep: {field}");
                }
            }
        }
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, prop) in props {
                conventions(prop, &format!("{path}.{name}"));
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child @ Value::Object(_)) = map.get(key) {
                conventions(child, &format!("{path}[]"));
            }
        }
    }
    for crd in crd::crds() {
        let problems = validation::check_crd(&serde_json::to_value(&crd).unwrap());
        assert!(problems.is_empty(), "{}: the API server would refuse the CRD: {problems:#?}", crd.spec.names.kind);
        conventions(&schema_of(&crd), &crd.spec.names.kind);
    }
    // The check sees what it is for: a CRD with a broken rule is refused.
    let mut broken = serde_json::to_value(LoadBalancer::crd_for_test()).unwrap();
    broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"][0]["rule"] =
        Value::from("self.listeners.all(l,");
    let problems = validation::check_crd(&broken);
    assert!(problems.iter().any(|p| p.field.ends_with("properties[spec].x-kubernetes-validations[0].rule")), "{problems:#?}");
}

/// kubectl expands categories before short names: a category spelled like a short name
/// would turn `kubectl get elb my-lb` into a lookup of every kind in the category.
#[test]
fn categories_do_not_shadow_short_names() {
    let crds = crd::crds();
    let short: Vec<String> = crds.iter().flat_map(|c| c.spec.names.short_names.clone().unwrap_or_default()).collect();
    assert_eq!(short, ["elbhc", "elb", "lbc"]);
    for crd in &crds {
        let categories = crd.spec.names.categories.clone().unwrap_or_default();
        assert_eq!(categories, ["elb-operator"]);
        for category in categories {
            assert!(!short.contains(&category), "category {category} shadows a short name");
            assert!(crds.iter().all(|c| c.spec.names.plural != category && c.spec.names.kind.to_lowercase() != category));
        }
    }
}

trait CrdForTest {
    fn crd_for_test() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
}
impl<K: kube::CustomResourceExt> CrdForTest for K {
    fn crd_for_test() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
        K::crd()
    }
}

// ---------------------------------------------------------------------------------------
// Examples

#[test]
fn valid_examples_are_accepted_and_deserialise() {
    let files = yaml_files(&repo_root().join("examples"));
    assert!(files.len() >= 3, "{files:?}");
    let mut kinds = Vec::new();
    for file in files {
        for doc in documents(&std::fs::read_to_string(&file).unwrap()) {
            let refused = refusals(&doc, None);
            assert!(refused.is_empty(), "{} is refused: {refused:#?}", file.display());
            match doc["kind"].as_str().unwrap() {
                "HealthCheck" => drop(serde_json::from_value::<HealthCheck>(doc.clone()).unwrap()),
                "LoadBalancer" => drop(serde_json::from_value::<LoadBalancer>(doc.clone()).unwrap()),
                "LoadBalancerClass" => drop(serde_json::from_value::<LoadBalancerClass>(doc.clone()).unwrap()),
                other => panic!("unexpected kind {other} in {}", file.display()),
            }
            kinds.push(doc["kind"].as_str().unwrap().to_string());
        }
    }
    for kind in ["HealthCheck", "LoadBalancer", "LoadBalancerClass"] {
        assert!(kinds.iter().any(|k| k == kind), "no example of {kind}");
    }
}

#[test]
fn tutorial_example_is_the_boto_tutorial() {
    let docs = documents(&std::fs::read_to_string(repo_root().join("examples/tutorial.yaml")).unwrap());
    let hc: HealthCheck = serde_json::from_value(docs[0].clone()).unwrap();
    assert_eq!(hc.metadata.name.as_deref(), Some("instance-health"));
    assert_eq!(hc.spec.target, "HTTP:8080/health");
    assert_eq!((hc.spec.interval_seconds, hc.spec.healthy_threshold, hc.spec.unhealthy_threshold), (20, 3, 5));
    let lb: LoadBalancer = serde_json::from_value(docs[1].clone()).unwrap();
    assert_eq!(lb.metadata.name.as_deref(), Some("my-lb"));
    assert_eq!(lb.spec.availability_zones, Some(vec!["us-east-1a".into(), "us-east-1b".into()]));
    let listeners: Vec<(i32, i32, &str)> = lb.spec.listeners.iter().map(|l| (l.port, l.instance_port, l.protocol.as_str())).collect();
    assert_eq!(listeners, [(80, 8080, "HTTP"), (443, 8443, "TCP")]);
    assert_eq!(lb.spec.health_check_ref.unwrap().name, "instance-health");
    let selector = lb.spec.backends.unwrap().pod_selector.unwrap();
    assert_eq!(selector.match_labels.unwrap().get("app").map(String::as_str), Some("web"));
}

#[test]
fn each_invalid_example_is_refused_with_its_message() {
    let files = yaml_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 15, "only {} invalid examples", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = expectation(&file, &text);
        let docs = documents(&text);
        assert_eq!(docs.len(), 1, "{}: one document per invalid example", file.display());
        let refused = refusals(&docs[0], None);
        assert!(
            refused.iter().any(|m| m.contains(&expect)),
            "{}: expected a refusal containing {expect:?}, got {refused:#?}",
            file.display()
        );
        // One problem each: every other message is the API server's note that CEL was
        // skipped, or its list-map echo of the same duplicate.
        for message in &refused {
            assert!(
                message.contains(&expect)
                    || message.contains("some validation rules were not checked")
                    || message.contains("Duplicate value"),
                "{}: a second problem: {message}",
                file.display()
            );
        }
    }
}

#[test]
fn each_immutable_field_change_is_refused_on_update_only() {
    let files = yaml_files(&repo_root().join("examples/invalid/immutable"));
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = expectation(&file, &text);
        let docs = documents(&text);
        assert_eq!(docs.len(), 2, "{}: the original, then the change", file.display());
        let (old, new) = (&docs[0], &docs[1]);
        // Each document alone is a valid object; only the transition is refused.
        for doc in [old, new] {
            let refused = refusals(doc, None);
            assert!(refused.is_empty(), "{}: {refused:#?}", file.display());
        }
        assert!(refusals(old, Some(old)).is_empty(), "{}: re-applying the original", file.display());
        let refused = refusals(new, Some(old));
        assert!(
            refused.iter().any(|m| m.contains(&expect)),
            "{}: expected a refusal containing {expect:?}, got {refused:#?}",
            file.display()
        );
    }
}

#[test]
fn ordinary_updates_are_allowed() {
    let tutorial = documents(&std::fs::read_to_string(repo_root().join("examples/tutorial.yaml")).unwrap());
    let old = &tutorial[1];
    let mut new = old.clone();
    // The tutorial's later steps: a zone disabled, another enabled, a listener changed.
    new["spec"]["availabilityZones"] = serde_json::json!(["us-east-1b", "us-east-1c"]);
    new["spec"]["listeners"][1]["instancePort"] = serde_json::json!(9443);
    // Spelling out the default scheme changes nothing, so it is allowed.
    new["spec"]["scheme"] = serde_json::json!("internet-facing");
    assert_eq!(refusals(&new, Some(old)), Vec::<String>::new());
    // ... and so is dropping it again.
    assert_eq!(refusals(old, Some(&new)), Vec::<String>::new());
}

/// Every CEL message in the CRDs is produced by at least one invalid example, so no rule
/// goes untested.
#[test]
fn every_cel_rule_is_exercised_by_an_invalid_example() {
    let mut produced = Vec::new();
    for file in yaml_files(&repo_root().join("examples/invalid")) {
        let docs = documents(&std::fs::read_to_string(&file).unwrap());
        produced.extend(refusals(&docs[0], None));
    }
    for file in yaml_files(&repo_root().join("examples/invalid/immutable")) {
        let docs = documents(&std::fs::read_to_string(&file).unwrap());
        produced.extend(refusals(&docs[1], Some(&docs[0])));
    }
    for crd in crd::crds() {
        for (rule, message) in rules_of(&schema_of(&crd)) {
            assert!(produced.iter().any(|m| m.contains(&message)), "no invalid example triggers the rule {rule:?} ({message:?})");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The validation pipeline

fn schema_of(crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
    serde_json::to_value(schema).unwrap()
}

/// The openAPIV3Schema of each kind.
fn schema_for(kind: &str) -> Value {
    let crd = crd::crds().into_iter().find(|c| c.spec.names.kind == kind).unwrap_or_else(|| panic!("no CRD for kind {kind}"));
    schema_of(&crd)
}

/// The messages the API server would answer for `obj` (created, or updated from `old`) when
/// applied with `kubectl apply`; empty when it would accept it.
fn refusals(obj: &Value, old: Option<&Value>) -> Vec<String> {
    assert_eq!(obj["apiVersion"], "elb.operator.dev/v1alpha1");
    let schema = schema_for(obj["kind"].as_str().expect("manifest has a kind"));
    let mut stored = obj.clone();
    match validation::validate(&schema, &mut stored, old, &validation::Options { strict: true }) {
        Ok(_warnings) => Vec::new(),
        Err(causes) => causes.iter().map(ToString::to_string).collect(),
    }
}

/// Every `(rule, message)` of `x-kubernetes-validations` in a schema.
fn rules_of(schema: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                for rule in rules {
                    out.push((
                        rule["rule"].as_str().unwrap_or_default().to_string(),
                        rule["message"].as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
            for (key, child) in map {
                if key != "x-kubernetes-validations" {
                    out.extend(rules_of(child));
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(rules_of(i))),
        _ => {}
    }
    out
}

// ---------------------------------------------------------------------------------------
// Fixtures

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text).map(|doc| Value::deserialize(doc).unwrap()).filter(|v| !v.is_null()).collect()
}

/// The first line's `# expect: <substring>`.
fn expectation(file: &Path, text: &str) -> String {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{}: the first line must be `# expect: <message substring>`", file.display()))
        .trim()
        .to_string()
}

/// Field paths of the operator's resources that the README and docs/ show (`spec.listeners`,
/// `status.dnsName`, ...) must exist in the CRD schemas: a renamed field fails here, not in a
/// reader's terminal. Paths into other kinds are named with their kind below; the stand-in's
/// own docs use made-up examples and are skipped.
#[test]
fn every_field_path_in_the_docs_resolves_in_a_crd_schema() {
    const OTHER_KINDS: &[(&str, &str)] = &[
        ("spec.providerID", "Node"),
        ("spec.nodeName", "Pod"),
        ("status.phase", "Pod"),
        ("spec.readinessGates", "Pod"),
        ("status.loadBalancer.ingress[0].hostname", "Ingress, Service"),
    ];
    let schemas: Vec<(String, Value)> = crd::crds()
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap();
            (c.spec.names.kind.clone(), v["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone())
        })
        .collect();
    let mut docs = vec![repo_root().join("README.md")];
    for entry in std::fs::read_dir(repo_root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".md") && !name.starts_with("kube-standin") {
            docs.push(path);
        }
    }
    let mut checked = 0;
    let mut unresolved = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for path in field_paths(&text) {
            if OTHER_KINDS.iter().any(|(p, _)| path == *p) {
                continue;
            }
            checked += 1;
            if !schemas.iter().any(|(_, schema)| resolves(schema, &path)) {
                unresolved.push(format!("{}: {path}", doc.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(checked >= 20, "the docs show field paths; only {checked} were found: is the scan broken?");
    assert!(unresolved.is_empty(), "field paths in the docs that no CRD schema has:\n{}", unresolved.join("\n"));
}

/// Every `spec.…` / `status.…` path inside backticks, with `[]`, `[0]` or `[*]` steps.
fn field_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let bytes: Vec<char> = span.chars().collect();
        let mut start = 0;
        while start < bytes.len() {
            let rest: String = bytes[start..].iter().collect();
            let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == '_');
            if boundary && (rest.starts_with("spec.") || rest.starts_with("status.")) {
                let path: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '*')).collect();
                out.push(path.trim_end_matches('.').to_string());
                start += path.len().max(1);
            } else {
                start += 1;
            }
        }
    }
    out
}

/// Whether `path` names a field of `schema` (through objects, list items and map values).
fn resolves(schema: &Value, path: &str) -> bool {
    let mut node = schema;
    for step in path.split('.') {
        let name = step.split('[').next().unwrap();
        node = match node["properties"].get(name) {
            Some(n) => n,
            None => return false,
        };
        if step.contains('[') {
            node = &node["items"];
        }
    }
    true
}

/// `kubectl explain` prints descriptions as they are: a line break inside a paragraph (the doc
/// comment's wrapping) would cut a sentence mid-line. Breaks are allowed only between
/// paragraphs (a blank line) and before a list item.
#[test]
fn descriptions_have_no_line_breaks_inside_a_paragraph() {
    fn walk(node: &Value, path: &str, seen: &mut usize, broken: &mut Vec<String>) {
        let Some(map) = node.as_object() else { return };
        if let Some(Value::String(text)) = map.get("description") {
            *seen += 1;
            let lines: Vec<&str> = text.split('\n').collect();
            for pair in lines.windows(2) {
                let (before, line) = (pair[0], pair[1]);
                let paragraph_break = before.trim().is_empty() || line.trim().is_empty();
                if !paragraph_break && !crd::description::starts_list_item(line) {
                    broken.push(format!("{path}: {before:?} / {line:?}"));
                }
            }
        }
        for (key, child) in map {
            match key.as_str() {
                "properties" => child.as_object().unwrap().iter().for_each(|(name, p)| walk(p, &format!("{path}.{name}"), seen, broken)),
                "items" | "additionalProperties" => walk(child, &format!("{path}[]"), seen, broken),
                _ => {}
            }
        }
    }
    let (mut seen, mut broken) = (0, Vec::new());
    for crd in crd::crds() {
        walk(&schema_of(&crd), &crd.spec.names.kind, &mut seen, &mut broken);
    }
    assert!(seen >= 50, "only {seen} descriptions found: is the walk broken?");
    assert!(broken.is_empty(), "descriptions with a line break inside a paragraph:\n{}", broken.join("\n"));
    // The derived schema does wrap (the doc comments do), so the check above is not vacuous.
    let raw = serde_json::to_value(LoadBalancer::crd_for_test()).unwrap().to_string();
    assert!(raw.contains("one per\\nfront-end port"), "the raw schema no longer wraps: update this check");
}
