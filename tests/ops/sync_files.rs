//! Files kept in step with the code: the IAM policy and the RBAC requirements the chart
//! tests read.

use std::collections::BTreeSet;

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

use elb_operator::autoscaling::ACTIONS as AUTOSCALING_ACTIONS;
use elb_operator::ec2::ACTIONS as EC2_ACTIONS;
use elb_operator::elb::ACTIONS as ELB_ACTIONS;

/// The AWS actions beyond ELB that the operator calls, and who calls them.
const OTHER_ACTIONS: &[(&str, &str)] = &[("sts:AssumeRole", "aws::credentials::assume_role (spec.roleArn)")];

#[test]
fn iam_policy_allows_exactly_the_actions_the_clients_can_call() {
    let policy: serde_json::Value = serde_json::from_str(&repo_file("docs/iam-policy.json")).expect("valid JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let mut allowed = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(statement["Effect"], "Allow");
        let sid = statement["Sid"].as_str().expect("every statement has a Sid");
        for action in statement["Action"].as_array().expect("Action list") {
            let action = action.as_str().unwrap();
            // The EC2 reads serve the optional backend check only: their own statement, so
            // that leaving them out is leaving out one statement.
            match action.split_once(':') {
                _ if OTHER_ACTIONS.iter().any(|(a, _)| *a == action) => {}
                Some(("elasticloadbalancing", _)) => assert!(!sid.contains("Optional"), "{action} in {sid}"),
                Some(("ec2", _)) => assert_eq!(sid, "ElbOperatorBackendCheckOptional", "{action}"),
                // spec.backends.autoScalingGroups: one statement, left out where no group is used.
                Some(("autoscaling", _)) => assert_eq!(sid, "ElbOperatorAutoScalingGroups", "{action}"),
                _ => panic!("{action}: not an action the operator calls (see OTHER_ACTIONS)"),
            }
            assert!(allowed.insert(action.to_string()), "{action} listed twice");
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
