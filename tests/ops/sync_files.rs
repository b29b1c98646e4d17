//! Files kept in step with the code: the IAM policy (and its trust-policy example) and the
//! RBAC requirements the chart tests read.

use std::collections::BTreeSet;

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

use elb_operator::autoscaling::ACTIONS as AUTOSCALING_ACTIONS;
use elb_operator::ec2::ACTIONS as EC2_ACTIONS;
use elb_operator::elb::ACTIONS as ELB_ACTIONS;

/// The AWS actions beyond ELB that the operator calls, and who calls them.
const OTHER_ACTIONS: &[(&str, &str)] = &[
    ("sts:AssumeRole", "aws::credentials::assume_role (spec.roleArn)"),
    ("sts:TagSession", "aws::credentials::assume_role (the session tags of every AssumeRole)"),
];

/// The ownership tag whose presence scopes every ELB write (`crd::tags::CLUSTER_TAG`). A
/// literal on purpose: existing ELBs and customers' IAM policies carry this exact key.
const CLUSTER_TAG: &str = "elb.operator.dev/cluster";
/// The session tag that a tenant role's trust policy matches against its namespace.
const NAMESPACE_TAG: &str = "elb.operator.dev/namespace";
/// The ELBs the write statements name: load balancers of any region and account.
const ELB_ARN: &str = "arn:aws:elasticloadbalancing:*:*:loadbalancer/*";

fn policy(path: &str) -> serde_json::Value {
    let policy: serde_json::Value = serde_json::from_str(&repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(policy["Version"], "2012-10-17", "{path}");
    policy
}

fn statements(policy: &serde_json::Value) -> &[serde_json::Value] {
    policy["Statement"].as_array().expect("Statement list")
}

fn actions(statement: &serde_json::Value) -> Vec<&str> {
    match &statement["Action"] {
        serde_json::Value::String(a) => vec![a.as_str()],
        list => list.as_array().expect("Action: a string or a list").iter().map(|a| a.as_str().unwrap()).collect(),
    }
}

/// `Condition.<operator>.<key>` of `statement`, if set.
fn condition<'a>(statement: &'a serde_json::Value, operator: &str, key: &str) -> Option<&'a serde_json::Value> {
    statement["Condition"].get(operator)?.get(key)
}

/// Whether `statement` allows its actions only when the tag `key` is present in the
/// request (`aws:RequestTag`) or on the resource (`aws:ResourceTag`): `Null` is `"false"`.
fn requires_tag(statement: &serde_json::Value, context: &str, key: &str) -> bool {
    condition(statement, "Null", &format!("{context}/{key}")) == Some(&serde_json::json!("false"))
}

#[test]
fn iam_policy_allows_exactly_the_actions_the_clients_can_call() {
    let policy = policy("docs/iam-policy.json");
    let mut allowed = BTreeSet::new();
    let mut sids = BTreeSet::new();
    for statement in statements(&policy) {
        assert_eq!(statement["Effect"], "Allow");
        let sid = statement["Sid"].as_str().expect("every statement has a Sid");
        assert!(sids.insert(sid), "Sid {sid} twice");
        for action in actions(statement) {
            // The EC2 reads serve the optional backend check only: their own statement, so
            // that leaving them out is leaving out one statement.
            match action.split_once(':') {
                _ if OTHER_ACTIONS.iter().any(|(a, _)| *a == action) => {}
                Some(("elasticloadbalancing", _)) => assert!(!sid.contains("Optional"), "{action} in {sid}"),
                Some(("ec2", _)) => assert_eq!(sid, "ElbOperatorBackendCheckOptional", "{action}"),
                // spec.backends.autoScalingGroups: the statements left out where no group is used.
                Some(("autoscaling", _)) => assert!(sid.starts_with("ElbOperatorAutoScalingGroups"), "{action} in {sid}"),
                _ => panic!("{action}: not an action the operator calls (see OTHER_ACTIONS)"),
            }
            // An action may appear in several statements, each under its own condition
            // (AddTags: request tag or resource tag), but once in each.
            assert_eq!(actions(statement).iter().filter(|a| **a == action).count(), 1, "{action} twice in {sid}");
            allowed.insert(action.to_string());
        }
    }
    let wanted: BTreeSet<String> = ELB_ACTIONS
        .iter()
        .map(|a| format!("elasticloadbalancing:{a}"))
        .chain(EC2_ACTIONS.iter().map(|a| format!("ec2:{a}")))
        .chain(AUTOSCALING_ACTIONS.iter().map(|a| format!("autoscaling:{a}")))
        .chain(OTHER_ACTIONS.iter().map(|(a, _)| a.to_string()))
        .collect();
    let missing: Vec<_> = wanted.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&wanted).collect();
    assert!(missing.is_empty() && extra.is_empty(), "docs/iam-policy.json: missing {missing:?}, not needed {extra:?}");
    assert!(EC2_ACTIONS.iter().all(|a| a.starts_with("Describe")), "the EC2 client only reads");
}

/// Every ELB write the client can send is allowed only on an ELB of some cluster's operator
/// (its `aws:ResourceTag`), except the two that write the ownership tag: CreateLoadBalancer
/// and AddTags (create and adopt), allowed when the request carries it (`aws:RequestTag`).
/// Reads are on `*`; nothing else in the policy reaches an ELB.
#[test]
fn iam_policy_scopes_every_elb_write_by_the_cluster_tag() {
    let policy = policy("docs/iam-policy.json");
    for action in ELB_ACTIONS {
        let full = format!("elasticloadbalancing:{action}");
        let granting: Vec<_> = statements(&policy).iter().filter(|s| actions(s).contains(&full.as_str())).collect();
        assert!(!granting.is_empty(), "{full} is not allowed");
        if action.starts_with("Describe") {
            for s in &granting {
                assert_eq!(s["Resource"], "*", "{full}: a read, on every ELB");
                assert!(s.get("Condition").is_none(), "{full}: a read, unconditioned");
            }
            continue;
        }
        let mut by_request_tag = false;
        for s in &granting {
            // CreateLoadBalancer names no existing ELB: on `*` as in AWS's tag-on-create
            // example, scoped by its request tag; every other write names its ELB.
            let arn = if *action == "CreateLoadBalancer" { "*" } else { ELB_ARN };
            assert_eq!(s["Resource"], arn, "{full}");
            let request = requires_tag(s, "aws:RequestTag", CLUSTER_TAG);
            let resource = requires_tag(s, "aws:ResourceTag", CLUSTER_TAG);
            assert!(request || resource, "{full} in {}: allowed without the {CLUSTER_TAG} tag", s["Sid"]);
            by_request_tag |= request && !resource;
        }
        let request_tag_expected = matches!(*action, "CreateLoadBalancer" | "AddTags");
        assert_eq!(by_request_tag, request_tag_expected, "{full}: allowed by aws:RequestTag/{CLUSTER_TAG}");
        if *action == "CreateLoadBalancer" {
            assert!(granting.iter().all(|s| !requires_tag(s, "aws:ResourceTag", CLUSTER_TAG)), "{full}: there is no resource yet");
        } else {
            // Every ELB the operator created or adopted carries the tag: each write is allowed on it.
            assert!(granting.iter().any(|s| requires_tag(s, "aws:ResourceTag", CLUSTER_TAG)), "{full} on an owned ELB");
        }
    }
    // Session tags on every AssumeRole: a tenant role's trust policy can tell namespaces apart.
    let assume: Vec<_> = statements(&policy).iter().filter(|s| actions(s).iter().any(|a| a.starts_with("sts:"))).collect();
    assert!(!assume.is_empty());
    for s in assume {
        for key in [CLUSTER_TAG, NAMESPACE_TAG] {
            assert!(requires_tag(s, "aws:RequestTag", key), "{}: AssumeRole without the session tag {key}", s["Sid"]);
        }
    }
}

/// The trust-policy example admits one namespace of one cluster: AssumeRole and TagSession,
/// each only with both session tags set to the tenant's values.
#[test]
fn trust_policy_example_admits_one_namespace_by_its_session_tags() {
    let policy = policy("docs/iam-trust-policy.json");
    let mut seen = BTreeSet::new();
    for s in statements(&policy) {
        assert_eq!(s["Effect"], "Allow");
        assert!(s["Principal"]["AWS"].as_str().is_some_and(|p| p.contains(":role/")), "a trust policy names the operator's role");
        assert!(s.get("Resource").is_none(), "a trust policy has no Resource");
        for action in actions(s) {
            assert!(matches!(action, "sts:AssumeRole" | "sts:TagSession"), "{action}");
            seen.insert(action);
        }
        for key in [CLUSTER_TAG, NAMESPACE_TAG] {
            let value = condition(s, "StringEquals", &format!("aws:RequestTag/{key}"));
            assert!(value.is_some_and(|v| v.is_string()), "{}: {key} must equal one value", s["Sid"]);
        }
        let keys = condition(s, "ForAllValues:StringEquals", "aws:TagKeys");
        if actions(s).contains(&"sts:TagSession") {
            assert_eq!(keys, Some(&serde_json::json!([CLUSTER_TAG, NAMESPACE_TAG])), "no other session tag");
        }
    }
    assert_eq!(seen, BTreeSet::from(["sts:AssumeRole", "sts:TagSession"]));
}

#[test]
fn chart_tests_see_every_kube_api_call_the_operator_makes() {
    let checked_in: serde_json::Value = serde_json::from_str(&repo_file("tests/chart/kube_api_calls.json")).expect("valid JSON");
    let current = serde_json::to_value(elb_operator::rbac::kube_api_calls()).unwrap();
    assert_eq!(
        checked_in, current,
        "tests/chart/kube_api_calls.json is stale: regenerate it with \
         `cargo run -q -- rbac-requirements > tests/chart/kube_api_calls.json`, then make the chart's RBAC allow it"
    );
}

#[test]
fn the_chart_sets_every_run_flag() {
    use clap::CommandFactory;
    let deployment = repo_file("charts/elb-operator/templates/deployment.yaml");
    let cli = elb_operator::cli::Cli::command();
    let run = cli.find_subcommand("run").expect("run subcommand");
    // The identity comes from POD_NAME (the downward API), which the Deployment sets.
    let via_env = [("leader-identity", "POD_NAME")];
    let mut missing = Vec::new();
    for arg in run.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let set = match via_env.iter().find(|(flag, _)| *flag == long) {
            Some((_, env)) => deployment.contains(&format!("name: {env}")),
            None => deployment.contains(&format!("--{long}=")),
        };
        if !set {
            missing.push(long.to_string());
        }
    }
    assert!(missing.is_empty(), "flags the Helm chart cannot set: {missing:?}");
}

#[test]
fn the_chart_defaults_of_the_elb_client_flags_are_the_binary_defaults() {
    use clap::CommandFactory;
    let values: serde_yaml::Value = serde_yaml::from_str(&repo_file("charts/elb-operator/values.yaml")).expect("valid YAML");
    let cli = elb_operator::cli::Cli::command();
    let run = cli.find_subcommand("run").expect("run subcommand");
    let keys = [
        ("elb-timeout-seconds", "timeoutSeconds"),
        ("elb-max-attempts", "maxAttempts"),
        ("elb-describe-rate", "describeRate"),
        ("elb-describe-burst", "describeBurst"),
        ("elb-mutate-rate", "mutateRate"),
        ("elb-mutate-burst", "mutateBurst"),
    ];
    let flags: BTreeSet<&str> =
        run.get_arguments().filter_map(|a| a.get_long()).filter(|l| l.starts_with("elb-") && *l != "elb-endpoint").collect();
    assert_eq!(flags, keys.iter().map(|(flag, _)| *flag).collect(), "every ELB client flag has an elbClient key");
    for (flag, key) in keys {
        let arg = run.get_arguments().find(|a| a.get_long() == Some(flag)).unwrap();
        let chart = &values["elbClient"][key];
        match arg.get_default_values().first() {
            Some(default) => {
                let binary: f64 = default.to_str().unwrap().parse().unwrap();
                let chart = chart.as_f64().unwrap_or_else(|| panic!("values.yaml elbClient.{key} is a number"));
                assert_eq!(chart, binary, "values.yaml elbClient.{key} differs from the default of --{flag}");
            }
            // No default in the binary (--elb-max-attempts: AWS_MAX_ATTEMPTS, else 3): the chart must not pass one either.
            None => assert!(chart.is_null(), "values.yaml elbClient.{key} must be empty: --{flag} has no default"),
        }
    }
}

/// The layers of `src/`, bottom first: a module may import only from layers below its own
/// (`crate::Error`/`crate::Result`, the crate root's, are allowed everywhere). The same
/// order as docs/architecture.md.
const LAYERS: &[&[&str]] = &[
    &["aws", "naming", "rbac"],
    &["elb", "ec2", "autoscaling", "telemetry", "crd"],
    &["tenancy", "reachability", "sync", "leader", "cli"],
    &["http", "orphans", "migrate"],
    &["controller"],
    &["operator", "preview"],
];

/// The top-level modules each `src/` module refers to through `crate::` paths, in its
/// production code (what comes before its first `#[cfg(test)]`; comments left out).
fn module_imports() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut imports = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let production = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = production.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let mut names = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let body = group.split('}').next().unwrap_or_default();
                names.extend(body.split(',').map(|item| item.trim().split("::").next().unwrap_or_default().to_string()));
            } else {
                names.insert(rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or_default().to_string());
            }
        }
        names.retain(|n| !n.is_empty() && *n != module && n != "Error" && n != "Result");
        imports.entry(module).or_default().extend(names);
    }
    imports
}

#[test]
fn imports_only_go_down() {
    let layer = |module: &str| LAYERS.iter().position(|l| l.contains(&module));
    let imports = module_imports();
    assert!(imports.contains_key("controller") && imports["controller"].contains("sync"), "the scan sees the imports: {imports:?}");
    let mut upward = Vec::new();
    for (module, used) in &imports {
        let Some(own) = layer(module) else { panic!("module {module} is in no layer of LAYERS: add it") };
        for target in used {
            let Some(theirs) = layer(target) else { panic!("{module} imports {target}, which is in no layer of LAYERS") };
            if theirs >= own {
                upward.push(format!("{module} (layer {own}) -> {target} (layer {theirs})"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that do not go down:\n{}", upward.join("\n"));
}
