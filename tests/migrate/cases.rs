//! The inputs: every example of `examples/` (not `examples/invalid`), and one case per
//! listener protocol pair, stickiness kind, TLS policy kind and attribute of the CRD.

use std::collections::BTreeMap;

use elb_operator::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};
use elb_operator::migrate::{self, Migration, Target};
use kube::ResourceExt;

/// One translation to check: a name, the objects it reads, and `--target`.
pub struct Case {
    pub name: String,
    pub lbs: Vec<LoadBalancer>,
    pub health_checks: Vec<HealthCheck>,
    pub classes: Vec<LoadBalancerClass>,
    pub forced: Option<Target>,
}

impl Case {
    /// The translation of each LoadBalancer of the case, as `elb-operator migrate` makes it.
    pub fn migrations(&self) -> Vec<Migration> {
        self.lbs
            .iter()
            .map(|lb| {
                let hc = lb.spec.health_check_ref.as_ref().and_then(|r| {
                    self.health_checks.iter().find(|h| h.name_any() == r.name && h.namespace() == lb.namespace()).map(|h| &h.spec)
                });
                let class = elb_operator::tenancy::choose_class(lb.spec.class_name.as_deref(), &self.classes, false).ok().flatten();
                migrate::migrate(migrate::Input { lb, health_check: hc, class, forced: self.forced })
            })
            .collect()
    }
}

/// A case from a YAML stream of HealthChecks, LoadBalancers and LoadBalancerClasses;
/// namespaced objects without a namespace go to `default`.
pub fn from_yaml(name: &str, yaml: &str, forced: Option<Target>) -> Case {
    let mut case = Case { name: name.to_string(), lbs: vec![], health_checks: vec![], classes: vec![], forced };
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc).expect("YAML");
        if value.is_null() {
            continue;
        }
        let mut value = value;
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        if kind != "LoadBalancerClass" && value["metadata"]["namespace"].is_null() {
            value["metadata"]["namespace"] = "default".into();
        }
        match kind.as_str() {
            "LoadBalancer" => case.lbs.push(serde_json::from_value(value).expect("a LoadBalancer")),
            "HealthCheck" => case.health_checks.push(serde_json::from_value(value).expect("a HealthCheck")),
            "LoadBalancerClass" => case.classes.push(serde_json::from_value(value).expect("a LoadBalancerClass")),
            other => panic!("{name}: unexpected kind {other}"),
        }
    }
    case
}

/// Every example file with at least one LoadBalancer.
pub fn examples() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    let tutorial = std::fs::read_to_string(dir.join("tutorial.yaml")).unwrap();
    let cases: Vec<Case> = files
        .iter()
        .map(|p| {
            let name = format!("example-{}", p.file_stem().unwrap().to_string_lossy());
            let mut case = from_yaml(&name, &std::fs::read_to_string(p).unwrap(), None);
            // An example of a class alone (the default class) is shown on the tutorial's
            // LoadBalancer, which it applies to.
            if case.lbs.is_empty() {
                let t = from_yaml(&name, &tutorial, None);
                case.lbs = t.lbs;
                case.health_checks = t.health_checks;
            }
            case
        })
        .collect();
    assert!(cases.len() >= 6, "the examples are read: {}", cases.len());
    cases
}

const HC_HTTP: &str = r#"
apiVersion: elb.operator.dev/v1alpha1
kind: HealthCheck
metadata: {name: hc}
spec: {target: "HTTP:8080/healthz", intervalSeconds: 10, timeoutSeconds: 4, healthyThreshold: 2, unhealthyThreshold: 3}
"#;

/// A LoadBalancer `name` with `spec` (YAML lines under `spec:`, indented two spaces) and the
/// HealthCheck `hc` (HTTP:8080/healthz).
fn lb(name: &str, spec: &str) -> String {
    format!(
        "{HC_HTTP}---\napiVersion: elb.operator.dev/v1alpha1\nkind: LoadBalancer\nmetadata: {{name: {name}}}\nspec:\n  subnets: [subnet-0abc1234, subnet-0def5678]\n  securityGroups: [sg-0123abcd]\n  healthCheckRef: {{name: hc}}\n{spec}"
    )
}

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0f6a7c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
const IAM_CERT: &str = "arn:aws:iam::123456789012:server-certificate/edge";

/// One case per listener, stickiness, TLS and attribute case of the CRD.
pub fn crd_cases() -> Vec<Case> {
    let mut specs: Vec<(&str, String, Option<Target>)> = vec![
        // Exact: nothing approximated.
        ("exact-http", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {crossZone: true, idleTimeoutSeconds: 60, connectionDraining: {enabled: true, timeoutSeconds: 30}}\n".into(), None),
        // Listener protocol pairs.
        ("listener-http-to-https", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8443, instanceProtocol: HTTPS}]\n".into(), None),
        ("listener-https-to-http", format!("  listeners: [{{port: 443, protocol: HTTPS, instancePort: 8080, sslCertificateId: \"{CERT}\"}}]\n"), None),
        ("listener-https-to-https-iam-cert", format!("  listeners: [{{port: 443, protocol: HTTPS, instancePort: 8443, instanceProtocol: HTTPS, sslCertificateId: \"{IAM_CERT}\"}}]\n"), None),
        ("listener-tcp", "  listeners: [{port: 22, protocol: TCP, instancePort: 2222}]\n".into(), None),
        ("listener-ssl-to-tcp", format!("  listeners: [{{port: 443, protocol: SSL, instancePort: 8443, sslCertificateId: \"{CERT}\"}}]\n"), None),
        ("listener-ssl-to-ssl", format!("  listeners: [{{port: 443, protocol: SSL, instancePort: 8443, instanceProtocol: SSL, sslCertificateId: \"{CERT}\"}}]\n"), None),
        ("listener-tcp-to-ssl", "  listeners: [{port: 443, protocol: TCP, instancePort: 8443, instanceProtocol: SSL}]\n".into(), None),
        ("listener-two-ssl-certs", format!("  listeners:\n  - {{port: 443, protocol: SSL, instancePort: 8443, sslCertificateId: \"{CERT}\"}}\n  - {{port: 8443, protocol: SSL, instancePort: 9443, instanceProtocol: SSL, sslCertificateId: \"{IAM_CERT}\", sslPolicy: ELBSecurityPolicy-TLS-1-2-2017-01}}\n"), None),
        ("listener-mixed", "  listeners:\n  - {port: 80, protocol: HTTP, instancePort: 8080}\n  - {port: 22, protocol: TCP, instancePort: 2222}\n".into(), None),
        ("target-forced-alb", "  listeners:\n  - {port: 80, protocol: HTTP, instancePort: 8080}\n  - {port: 22, protocol: TCP, instancePort: 2222}\n".into(), Some(Target::Alb)),
        ("target-forced-nlb", format!("  listeners:\n  - {{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {{}}}}\n  - {{port: 443, protocol: HTTPS, instancePort: 8080, sslCertificateId: \"{CERT}\"}}\n"), Some(Target::Nlb)),
        // Proxy protocol.
        ("proxy-protocol-all", "  listeners: [{port: 22, protocol: TCP, instancePort: 2222, proxyProtocol: true}]\n".into(), None),
        ("proxy-protocol-some", "  listeners:\n  - {port: 22, protocol: TCP, instancePort: 2222, proxyProtocol: true}\n  - {port: 23, protocol: TCP, instancePort: 2323}\n".into(), None),
        // Stickiness.
        ("stickiness-lb-cookie", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {expirationSeconds: 3600}}]\n".into(), None),
        ("stickiness-lb-cookie-too-long", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {expirationSeconds: 2000000}}]\n".into(), None),
        ("stickiness-session-cookie", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {}}]\n".into(), None),
        ("stickiness-app-cookie", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {cookieName: JSESSIONID}}]\n".into(), None),
        ("stickiness-app-cookie-reserved", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080, stickiness: {cookieName: AWSALBAPP-1}}]\n".into(), None),
        // Attributes.
        ("attributes-unset", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n".into(), None),
        ("attributes-draining-off-cross-zone-off", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {crossZone: false, connectionDraining: {enabled: false}}\n".into(), None),
        ("attributes-draining-default-timeout", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {connectionDraining: {enabled: true}}\n".into(), None),
        ("attributes-access-log-5", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {accessLog: {enabled: true, s3BucketName: logs, s3BucketPrefix: web, emitIntervalMinutes: 5}}\n".into(), None),
        ("attributes-access-log-60", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {accessLog: {enabled: true, s3BucketName: logs, emitIntervalMinutes: 60}}\n".into(), None),
        ("attributes-access-log-disabled", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  attributes: {accessLog: {enabled: false}}\n".into(), None),
        ("attributes-nlb-tcp-access-log-idle", "  listeners: [{port: 22, protocol: TCP, instancePort: 2222}]\n  attributes: {crossZone: true, idleTimeoutSeconds: 30, accessLog: {enabled: true, s3BucketName: logs}}\n".into(), None),
        ("attributes-nlb-tls-access-log-idle", format!("  listeners: [{{port: 443, protocol: SSL, instancePort: 8443, sslCertificateId: \"{CERT}\"}}]\n  attributes: {{idleTimeoutSeconds: 4000, accessLog: {{enabled: true, s3BucketName: logs}}}}\n"), None),
        // Placement, scheme, tags, names, account.
        ("placement-zones-internal", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  scheme: internal\n".into(), None),
        ("tags-and-name", "  loadBalancerName: web-front\n  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  tags: {team: web, cost: \"a=b\"}\n".into(), None),
        ("role-arn", "  roleArn: arn:aws:iam::210987654321:role/elb-operator-web\n  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n".into(), None),
        // Health checks and backends.
        ("health-check-missing", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n".into(), None),
        ("backends-pods-with-expressions", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  backends:\n    podSelector:\n      matchLabels: {app: web}\n      matchExpressions: [{key: tier, operator: In, values: [front]}]\n".into(), None),
        ("backends-asg-and-nodes", "  listeners: [{port: 80, protocol: HTTP, instancePort: 8080}]\n  backends:\n    autoScalingGroups: [web-asg]\n    nodeSelector: {matchLabels: {role: web}}\n".into(), None),
    ];
    // TLS policies: unset, each of the same name, an older one, one not in the table.
    let mut policies: Vec<String> = vec!["".into(), "ELBSecurityPolicy-2011-08".into(), "ELBSecurityPolicy-Custom-2020".into()];
    policies.extend(migrate::tls::SAME_NAME.iter().map(|p| p.to_string()));
    for p in policies {
        let policy = if p.is_empty() { String::new() } else { format!(", sslPolicy: {p}") };
        let name = if p.is_empty() { "tls-policy-unset".to_string() } else { format!("tls-policy-{}", p.to_lowercase()) };
        let spec = format!("  listeners: [{{port: 443, protocol: HTTPS, instancePort: 8080, sslCertificateId: \"{CERT}\"{policy}}}]\n");
        specs.push((Box::leak(name.into_boxed_str()), spec, None));
    }
    let mut cases: Vec<Case> = specs.into_iter().map(|(name, spec, forced)| from_yaml(name, &lb(name, &spec), forced)).collect();
    for c in cases.iter_mut() {
        if c.name == "health-check-missing" {
            c.health_checks.clear();
        }
        if c.name == "placement-zones-internal" {
            c.lbs[0].spec.subnets = None;
            c.lbs[0].spec.availability_zones = Some(vec!["us-east-1a".into(), "us-east-1b".into()]);
            c.lbs[0].spec.security_groups.clear();
        }
    }
    // A class with tags, on an ALB and on an NLB; the SSL health check on an NLB, TCP on an ALB.
    let class =
        "apiVersion: elb.operator.dev/v1alpha1\nkind: LoadBalancerClass\nmetadata: {name: team}\nspec: {tags: {cost-center: cc-1}}\n---\n";
    let tcp_hc = "apiVersion: elb.operator.dev/v1alpha1\nkind: HealthCheck\nmetadata: {name: l4}\nspec: {target: \"SSL:8443\"}\n---\n";
    for (name, listener) in [
        ("class-tags-alb", "{port: 80, protocol: HTTP, instancePort: 8080}"),
        ("class-tags-nlb-ssl-health-check", "{port: 22, protocol: TCP, instancePort: 8443}"),
        ("health-check-ssl-on-alb", "{port: 80, protocol: HTTP, instancePort: 8443}"),
    ] {
        let yaml = format!(
            "{class}{tcp_hc}apiVersion: elb.operator.dev/v1alpha1\nkind: LoadBalancer\nmetadata: {{name: {name}}}\nspec:\n  className: team\n  subnets: [subnet-0abc1234]\n  healthCheckRef: {{name: l4}}\n  listeners: [{listener}]\n  tags: {{app: {name}}}\n"
        );
        cases.push(from_yaml(name, &yaml, None));
    }
    cases
}

/// Every case, examples first.
pub fn all() -> Vec<Case> {
    let mut all = examples();
    all.extend(crd_cases());
    let mut seen = BTreeMap::new();
    for c in &all {
        assert!(seen.insert(c.name.clone(), ()).is_none(), "two cases named {}", c.name);
    }
    all
}
