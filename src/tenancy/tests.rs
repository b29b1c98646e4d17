//! The decision, from YAML fixtures of classes and specs.

use super::*;

fn class(name: &str, default: bool, spec: &str) -> LoadBalancerClass {
    let mut c = LoadBalancerClass::new(name, serde_yaml::from_str(spec).unwrap());
    if default {
        c.metadata.annotations = Some([(crate::crd::DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())].into());
    }
    c
}

/// A LoadBalancer spec: the tutorial's listener plus `extra` (YAML flow mapping entries).
fn spec(extra: &str) -> LoadBalancerSpec {
    let sep = if extra.is_empty() { "" } else { ", " };
    serde_yaml::from_str(&format!("{{listeners: [{{port: 80, instancePort: 8080, protocol: HTTP}}]{sep}{extra}}}")).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const ROLE_A: &str = "arn:aws:iam::111111111111:role/team-a-web";

struct World {
    classes: Vec<LoadBalancerClass>,
    allowed: Vec<String>,
    require_class: bool,
}

impl World {
    fn new(classes: Vec<LoadBalancerClass>) -> Self {
        World { classes, allowed: vec!["arn:aws:iam::111111111111:role/*".into()], require_class: false }
    }

    fn admit_in(&self, spec: &LoadBalancerSpec, namespace: &str, ns_labels: &[(&str, &str)]) -> Result<Grant, Refusal> {
        let policy = Policy {
            classes: &self.classes,
            allowed_role_arns: &self.allowed,
            require_class: self.require_class,
            operator_region: "us-east-1",
        };
        admit(spec, namespace, &labels(ns_labels), &policy)
    }

    fn admit(&self, spec: &LoadBalancerSpec) -> Result<Grant, Refusal> {
        self.admit_in(spec, "team-a", &[("team", "a")])
    }

    fn refusal(&self, spec: &LoadBalancerSpec) -> (RefusalReason, String) {
        let r = self.admit(spec).expect_err("refused");
        (r.reason, r.message)
    }
}

fn team_a() -> LoadBalancerClass {
    class(
        "team-a",
        false,
        "{namespaceSelector: {matchLabels: {team: a}}, roleArns: ['arn:aws:iam::111111111111:role/team-a-*'], \
         regions: [us-east-1, eu-west-1], schemes: [internal], requiredResourceTags: {team: a}, \
         tags: {cost-center: '42'}, deletionPolicy: Retain}",
    )
}

#[test]
fn no_class_is_todays_behaviour_without_adoption() {
    let w = World::new(vec![]);
    assert_eq!(w.admit(&spec("")), Ok(Grant::default()));
    assert_eq!(w.admit(&spec(&format!("roleArn: '{ROLE_A}', region: ap-south-1, tags: {{a: b}}"))), Ok(Grant::default()));
    let (reason, message) = w.refusal(&spec("roleArn: 'arn:aws:iam::222222222222:role/x'"));
    assert_eq!(reason, RoleNotAllowed);
    assert!(message.contains("--allowed-role-arns (arn:aws:iam::111111111111:role/*)"), "{message}");
    let (reason, message) = w.refusal(&spec("adopt: true"));
    assert_eq!(reason, AdoptionNotAllowed);
    assert!(message.contains("no class applies"), "{message}");
    // An empty allow-list allows no role, as today.
    let mut w = World::new(vec![]);
    w.allowed.clear();
    let (reason, message) = w.refusal(&spec(&format!("roleArn: '{ROLE_A}'")));
    assert_eq!(reason, RoleNotAllowed);
    assert!(message.contains("empty: no role is allowed"), "{message}");
}

#[test]
fn the_named_class_must_exist() {
    let w = World::new(vec![team_a()]);
    let (reason, message) = w.refusal(&spec("className: team-b"));
    assert_eq!((reason, message.as_str()), (ClassNotAllowed, "LoadBalancerClass team-b does not exist"));
}

#[test]
fn the_default_class_applies_without_a_class_name() {
    let shared = class("shared", true, "{tags: {managed-by: platform}}");
    let w = World::new(vec![team_a(), shared]);
    let grant = w.admit(&spec("")).unwrap();
    assert_eq!(grant.class_name.as_deref(), Some("shared"));
    assert_eq!(grant.tags, labels(&[("managed-by", "platform")]));
    // The named class wins over the default.
    let grant = w.admit(&spec("className: team-a, scheme: internal")).unwrap();
    assert_eq!(grant.class_name.as_deref(), Some("team-a"));
}

#[test]
fn several_default_classes_refuse_rather_than_guess() {
    let w = World::new(vec![class("zeta", true, "{}"), class("alpha", true, "{}"), class("other", false, "{}")]);
    let (reason, message) = w.refusal(&spec(""));
    assert_eq!(reason, ClassNotAllowed);
    assert!(message.contains("(alpha, zeta)"), "{message}");
    // A named class is still chosen.
    assert_eq!(w.admit(&spec("className: other")).unwrap().class_name.as_deref(), Some("other"));
}

#[test]
fn require_class_refuses_the_built_in_rules() {
    let mut w = World::new(vec![team_a()]);
    w.require_class = true;
    let (reason, message) = w.refusal(&spec(""));
    assert_eq!(reason, ClassNotAllowed);
    assert!(message.contains("--require-class"), "{message}");
    assert!(w.admit(&spec("className: team-a, scheme: internal")).is_ok());
    // A default class satisfies it.
    w.classes.push(class("shared", true, "{}"));
    assert_eq!(w.admit(&spec("")).unwrap().class_name.as_deref(), Some("shared"));
}

#[test]
fn the_class_selects_namespaces() {
    let w = World::new(vec![team_a()]);
    let lb = spec("className: team-a, scheme: internal");
    assert!(w.admit_in(&lb, "team-a", &[("team", "a")]).is_ok());
    let r = w.admit_in(&lb, "team-b", &[("team", "b")]).unwrap_err();
    assert_eq!((r.reason, r.message.as_str()), (ClassNotAllowed, "namespace team-b is not selected by LoadBalancerClass team-a"));
    // No selector: every namespace.
    let w = World::new(vec![class("open", false, "{}")]);
    assert!(w.admit_in(&spec("className: open"), "anything", &[]).is_ok());
    // An invalid selector selects nothing.
    let w = World::new(vec![class("broken", false, "{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: []}]}}")]);
    let r = w.admit_in(&spec("className: broken"), "team-a", &[("team", "a")]).unwrap_err();
    assert_eq!(r.reason, ClassNotAllowed);
    assert!(r.message.contains("namespaceSelector is invalid"), "{}", r.message);
}

#[test]
fn roles_need_the_class_and_the_allow_list() {
    let w = World::new(vec![team_a(), class("no-roles", false, "{}"), class("wide", false, "{roleArns: ['arn:aws:iam::*:role/*']}")]);
    let ok = w.admit(&spec(&format!("className: team-a, scheme: internal, roleArn: '{ROLE_A}'")));
    assert!(ok.is_ok(), "{ok:?}");
    // Not one of the class's globs (though the allow-list has it).
    let (reason, message) = w.refusal(&spec("className: team-a, scheme: internal, roleArn: 'arn:aws:iam::111111111111:role/team-b-web'"));
    assert_eq!(reason, RoleNotAllowed);
    assert!(message.contains("not one of LoadBalancerClass team-a's roleArns"), "{message}");
    // A class without roleArns forbids spec.roleArn, but not the operator's own credentials.
    let (reason, message) = w.refusal(&spec(&format!("className: no-roles, roleArn: '{ROLE_A}'")));
    assert_eq!(reason, RoleNotAllowed);
    assert!(message.contains("LoadBalancerClass no-roles grants no role"), "{message}");
    assert!(w.admit(&spec("className: no-roles")).is_ok());
    // The allow-list bounds every class.
    let (reason, message) = w.refusal(&spec("className: wide, roleArn: 'arn:aws:iam::222222222222:role/x'"));
    assert_eq!(reason, RoleNotAllowed);
    assert!(message.contains("--allowed-role-arns") && message.contains("granted by LoadBalancerClass wide"), "{message}");
}

#[test]
fn regions_and_schemes() {
    let w = World::new(vec![team_a()]);
    assert!(w.admit(&spec("className: team-a, scheme: internal, region: eu-west-1")).is_ok());
    let (reason, message) = w.refusal(&spec("className: team-a, scheme: internal, region: ap-south-1"));
    assert_eq!(reason, RegionNotAllowed);
    assert_eq!(message, "region ap-south-1 is not one of LoadBalancerClass team-a's regions (us-east-1, eu-west-1)");
    // Without spec.region, the operator's region is judged.
    let w2 = World::new(vec![class("eu", false, "{regions: [eu-west-1]}")]);
    let (reason, message) = w2.refusal(&spec("className: eu"));
    assert_eq!(reason, RegionNotAllowed);
    assert!(message.starts_with("region us-east-1 (the operator's region"), "{message}");
    // An unset scheme is internet-facing.
    let (reason, message) = w.refusal(&spec("className: team-a"));
    assert_eq!(reason, SchemeNotAllowed);
    assert_eq!(message, "scheme internet-facing is not one of LoadBalancerClass team-a's schemes (internal)");
}

#[test]
fn adoption_needs_a_class_that_allows_it() {
    let w = World::new(vec![team_a(), class("adopters", false, "{adoption: Allowed}")]);
    let (reason, message) = w.refusal(&spec("className: team-a, scheme: internal, adopt: true"));
    assert_eq!(reason, AdoptionNotAllowed);
    assert!(message.contains("LoadBalancerClass team-a does not allow adoption (spec.adoption: Forbidden)"), "{message}");
    let grant = w.admit(&spec("className: adopters, adopt: true")).unwrap();
    assert!(grant.adoption_allowed);
    assert!(!w.admit(&spec("className: team-a, scheme: internal")).unwrap().adoption_allowed);
}

#[test]
fn tags_the_class_sets_are_not_the_specs() {
    let w = World::new(vec![team_a()]);
    let (reason, message) = w.refusal(&spec("className: team-a, scheme: internal, tags: {cost-center: '7'}"));
    assert_eq!(reason, TagNotAllowed);
    assert!(message.starts_with("spec.tags key cost-center is set by LoadBalancerClass team-a"), "{message}");
    // Reserved keys, with a class and without (an object stored before the CRD refused them).
    for (w, lb) in [
        (World::new(vec![team_a()]), "className: team-a, scheme: internal, tags: {elb.operator.dev/cluster: x}"),
        (World::new(vec![]), "tags: {elb.operator.dev/cluster: x}"),
    ] {
        let (reason, message) = w.refusal(&spec(lb));
        assert_eq!(reason, TagNotAllowed);
        assert!(message.contains("spec.tags key elb.operator.dev/cluster: keys starting with elb.operator.dev/ are reserved"), "{message}");
    }
    // Together at most 47.
    let many: Vec<String> = (0..47).map(|i| format!("k{i}: v")).collect();
    let (reason, message) = w.refusal(&spec(&format!("className: team-a, scheme: internal, tags: {{{}}}", many.join(", "))));
    assert_eq!(reason, TagNotAllowed);
    assert!(message.contains("spec.tags has 47 tags and LoadBalancerClass team-a adds 1: at most 47"), "{message}");
    let fewer: Vec<String> = (0..46).map(|i| format!("k{i}: v")).collect();
    assert!(w.admit(&spec(&format!("className: team-a, scheme: internal, tags: {{{}}}", fewer.join(", ")))).is_ok());
}

#[test]
fn the_grant_carries_what_the_class_adds() {
    let w = World::new(vec![team_a()]);
    let grant = w.admit(&spec(&format!("className: team-a, scheme: internal, roleArn: '{ROLE_A}', tags: {{app: web}}"))).unwrap();
    assert_eq!(
        grant,
        Grant {
            class_name: Some("team-a".into()),
            tags: labels(&[("cost-center", "42")]),
            deletion_policy: Some(DeletionPolicy::Retain),
            adoption_allowed: false,
            required_resource_tags: labels(&[("team", "a")]),
        }
    );
    assert_eq!(grant.elb_tags(&labels(&[("app", "web")])), labels(&[("app", "web"), ("cost-center", "42")]));
    // spec > class > adopted/created.
    assert_eq!(grant.deletion_policy(Some(DeletionPolicy::Delete), true), DeletionPolicy::Delete);
    assert_eq!(grant.deletion_policy(None, false), DeletionPolicy::Retain);
    let none = Grant::default();
    assert_eq!(none.deletion_policy(None, false), DeletionPolicy::Delete);
    assert_eq!(none.deletion_policy(None, true), DeletionPolicy::Retain);
}

#[test]
fn refusal_order_is_class_namespace_role_region_scheme_adoption_tags() {
    // Everything wrong at once: the first check speaks.
    let w = World::new(vec![team_a()]);
    let bad =
        spec("className: team-a, roleArn: 'arn:aws:iam::111111111111:role/x', region: ap-south-1, adopt: true, tags: {cost-center: '1'}");
    assert_eq!(w.admit_in(&bad, "team-b", &[]).unwrap_err().reason, ClassNotAllowed);
    assert_eq!(w.admit(&bad).unwrap_err().reason, RoleNotAllowed);
}
