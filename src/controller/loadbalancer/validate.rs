//! Step 2, validate: judge what [`super::resolve`] read against the spec rules and the
//! operator's policy, and yield a [`ValidatedSpec`], which only this module can construct:
//! [`super::build`] and the AWS writes after it can only run on a spec that passed.
//!
//! Every check the CRD schema also makes is repeated here, so that a bad object that
//! reached the API anyway (one that predates a rule) is refused rather than sent to AWS. A
//! refusal ([`Refusal`]) names the condition reason and a message; the object is then
//! reported `Synced=False` and nothing is written to AWS.
//!
//! The tenancy rules come first ([`crate::tenancy::admit`]): the LoadBalancerClass that
//! applies, its namespaceSelector, roles, regions, schemes, adoption and tags, and the
//! operator's `--allowed-role-arns` and `--require-class` ([`Policy`]); the classes and the
//! namespace's labels are what [`super::resolve`] read. Their refusals (`ClassNotAllowed`,
//! `RoleNotAllowed`, `RegionNotAllowed`, ...) come before the spec checks.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use super::resolve::Referenced;
use super::resource_tags::Wanted;
use crate::controller::backends::Resolved;
use crate::controller::config::Config;
use crate::controller::healthcheck;
use crate::controller::scope::Scope;
use crate::crd::{self, checks, LoadBalancer, LoadBalancerClass, LoadBalancerSpec, Protocol};
use crate::elb::{self, AccessLog, ConnectionDraining, Listener, LoadBalancerAttributes};
use crate::sync::ownership::Owner;
use crate::sync::plan::{Placement, Stickiness};
use crate::tenancy;

/// Why a LoadBalancer is refused: the `Synced` condition's reason and a message naming
/// what was refused (for the condition and a Warning event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal { reason: "InvalidSpec", message: message.into() }
    }
}

/// A tenancy refusal, with its reason as the condition's.
impl From<tenancy::Refusal> for Refusal {
    fn from(r: tenancy::Refusal) -> Self {
        Refusal { reason: r.reason.as_str(), message: r.message }
    }
}

/// What the operator allows, beyond the spec's own rules.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Written into the ownership tags.
    pub cluster_name: &'a str,
    /// The region of a LoadBalancer without `spec.region`.
    pub default_region: &'a str,
    /// Patterns of the roles `spec.roleArn` may name (an upper bound over every class).
    pub allowed_role_arns: &'a [String],
    /// `--require-class`: refuse LoadBalancers no class applies to.
    pub require_class: bool,
    /// The cluster's identity in the ownership tags (`elb.operator.dev/cluster-uid`).
    pub cluster_uid: Option<&'a str>,
}

impl<'a> Policy<'a> {
    /// Whose `lb`'s ELB is: this cluster (by name and, when known, uid) and the resource.
    /// The one owner both the sync and cleanup check against.
    pub fn owner_of(&self, lb: &LoadBalancer) -> Owner {
        let owner = Owner::new(self.cluster_name, &lb.namespace().unwrap_or_default(), &lb.name_any());
        match self.cluster_uid {
            Some(uid) => owner.with_cluster_uid(uid),
            None => owner,
        }
    }

    /// The tenancy rules' view of this policy, over the cluster's `classes`.
    pub fn tenancy<'c>(&self, classes: &'c [LoadBalancerClass]) -> tenancy::Policy<'c>
    where
        'a: 'c,
    {
        tenancy::Policy {
            classes,
            allowed_role_arns: self.allowed_role_arns,
            require_class: self.require_class,
            operator_region: self.default_region,
        }
    }

    pub fn of(config: &'a Config) -> Self {
        Policy {
            cluster_name: &config.cluster_name,
            default_region: &config.default_region,
            allowed_role_arns: &config.allowed_role_arns,
            require_class: config.require_class,
            cluster_uid: config.cluster_uid.as_deref(),
        }
    }
}

/// A spec that passed [`validate`], in the ELB's terms; the input of [`super::build`].
/// Only this module constructs one (the private `_sealed` field).
#[derive(Debug, Clone)]
pub struct ValidatedSpec {
    /// The region, and the role the ELB is managed as.
    pub(super) scope: Scope,
    /// The ELB's name.
    pub(super) name: String,
    pub(super) owner: Owner,
    pub(super) health_check: Option<elb::HealthCheck>,
    pub(super) backends: Resolved,
    pub(super) scheme: Option<elb::Scheme>,
    pub(super) listeners: Vec<Listener>,
    pub(super) stickiness: BTreeMap<u16, Stickiness>,
    pub(super) proxy_protocol_ports: BTreeSet<u16>,
    pub(super) ssl_policies: BTreeMap<u16, String>,
    /// `None`: neither zones nor subnets are named; the ELB follows its backends' zones.
    pub(super) placement: Option<Placement>,
    pub(super) security_groups: Option<BTreeSet<String>>,
    pub(super) attributes: LoadBalancerAttributes,
    /// `spec.tags` and the class's tags (the ownership tags are added by build).
    pub(super) tags: BTreeMap<String, String>,
    pub(super) auto_scaling_groups: BTreeSet<String>,
    /// Private: no other module can construct one.
    _sealed: (),
}

/// Validates `lb` and what it refers to against `policy`: the tenancy rules first (class,
/// namespace, role, region, scheme, adoption, tags), then the HealthCheck, the backend
/// selectors, the resource tags the class requires and the spec's own rules (in that order:
/// the first refusal is reported). Pure.
pub fn validate(lb: &LoadBalancer, referenced: Referenced, policy: &Policy) -> Result<ValidatedSpec, Refusal> {
    let ns = lb.namespace().unwrap_or_default();
    let grant = tenancy::admit(&lb.spec, &ns, &referenced.namespace_labels, &policy.tenancy(&referenced.classes))?;
    let owner = policy.owner_of(lb);
    let scope = Scope::of(lb, policy.default_region, policy.cluster_name);
    let health_check = match referenced.health_check {
        None => None,
        Some((name, None)) => {
            return Err(Refusal { reason: "HealthCheckNotFound", message: format!("HealthCheck {ns}/{name} does not exist") });
        }
        Some((name, Some(hc))) => Some(
            healthcheck::validate(&hc.spec)
                .map_err(|m| Refusal { reason: "HealthCheckInvalid", message: format!("HealthCheck {ns}/{name}: {m}") })?,
        ),
    };
    let mut backends = referenced.backends.map_err(|e| Refusal::invalid(e.to_string()))?;
    // Not read (`None`): the health writer's path, which writes nothing to AWS.
    if let (false, Some(tags)) = (grant.required_resource_tags.is_empty(), referenced.resource_tags) {
        let tags = tags?;
        // What the spec names must carry the tags, else nothing is written; instances from
        // pods and nodes that lack them are left out, the rest applied.
        let named = Wanted::named_by(lb);
        tags.check_named(&grant, &named)?;
        let selected: Vec<String> = backends.instances.keys().filter(|id| !named.instances.contains(*id)).cloned().collect();
        let left_out = tags.instances_not_allowed(&grant, selected.iter().map(String::as_str));
        if !left_out.is_empty() {
            for id in &left_out {
                backends.instances.remove(id);
            }
            let message = grant.instances_not_allowed_message(&left_out);
            backends.not_allowed = Some((left_out.into_iter().collect(), message));
        }
    }
    let mut validated = validate_spec(&lb.spec, scope, &lb.load_balancer_name(), owner, health_check, backends)?;
    validated.tags = grant.elb_tags(&lb.spec.tags);
    Ok(validated)
}

/// The spec's own rules (those the CRD schema also makes), on a spec whose references are
/// already checked: `health_check` validated, `backends` resolved. Pure.
pub fn validate_spec(
    spec: &LoadBalancerSpec,
    scope: Scope,
    name: &str,
    owner: Owner,
    health_check: Option<elb::HealthCheck>,
    backends: Resolved,
) -> Result<ValidatedSpec, Refusal> {
    if spec.listeners.is_empty() {
        return Err(Refusal::invalid("spec.listeners must name at least one listener"));
    }
    let mut listeners = Vec::new();
    let mut ports = BTreeSet::new();
    let mut stickiness = BTreeMap::new();
    let mut proxy_protocol_ports = BTreeSet::new();
    let mut ssl_policies = BTreeMap::new();
    for (i, l) in spec.listeners.iter().enumerate() {
        let port = |v: i32, field: &str| {
            u16::try_from(v)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| Refusal::invalid(format!("spec.listeners[{i}].{field} must be 1-65535, got {v}")))
        };
        let load_balancer_port = port(l.port, "port")?;
        if !ports.insert(load_balancer_port) {
            return Err(Refusal::invalid(format!("spec.listeners: port {load_balancer_port} is listed twice")));
        }
        let instance_protocol = l.instance_protocol.unwrap_or(if l.protocol.is_http_family() { Protocol::HTTP } else { Protocol::TCP });
        if instance_protocol.is_http_family() != l.protocol.is_http_family() {
            return Err(Refusal::invalid(format!(
                "spec.listeners[{i}]: {} cannot forward to {} (HTTP/HTTPS pair with HTTP/HTTPS, TCP/SSL with TCP/SSL)",
                l.protocol.as_str(),
                instance_protocol.as_str()
            )));
        }
        match (&l.ssl_certificate_id, matches!(l.protocol, Protocol::HTTPS | Protocol::SSL)) {
            (None, true) => {
                return Err(Refusal::invalid(format!("spec.listeners[{i}]: {} needs sslCertificateId", l.protocol.as_str())));
            }
            (Some(_), false) => {
                return Err(Refusal::invalid(format!(
                    "spec.listeners[{i}]: sslCertificateId only applies to HTTPS and SSL listeners, not {}",
                    l.protocol.as_str()
                )));
            }
            (Some(cert), true) if !checks::is_certificate_arn(cert) => {
                return Err(Refusal::invalid(format!(
                    "spec.listeners[{i}].sslCertificateId {cert:?} is not the ARN of an ACM certificate or an IAM server certificate"
                )));
            }
            (Some(cert), true) => {
                if let Some(region) = spec.region.as_deref().filter(|r| checks::is_acm_certificate_outside(cert, r)) {
                    return Err(Refusal::invalid(format!(
                        "spec.listeners[{i}].sslCertificateId: the ACM certificate is not in the load balancer's region {region}"
                    )));
                }
            }
            (None, false) => {}
        }
        let instance_port = port(l.instance_port, "instancePort")?;
        if let Some(s) = &l.stickiness {
            if !l.protocol.is_http_family() {
                return Err(Refusal::invalid(format!("spec.listeners[{i}]: stickiness needs an HTTP or HTTPS listener")));
            }
            if let Some(name) = s.cookie_name.as_deref().filter(|n| !checks::is_cookie_name(n)) {
                return Err(Refusal::invalid(format!(
                    "spec.listeners[{i}].stickiness.cookieName {name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"
                )));
            }
            stickiness.insert(
                load_balancer_port,
                match &s.cookie_name {
                    Some(cookie_name) => Stickiness::AppCookie { cookie_name: cookie_name.clone() },
                    None => Stickiness::LbCookie { expiration_seconds: s.expiration_seconds },
                },
            );
        }
        if l.proxy_protocol {
            if instance_protocol.is_http_family() {
                return Err(Refusal::invalid(format!("spec.listeners[{i}]: proxyProtocol needs a TCP or SSL instance protocol")));
            }
            proxy_protocol_ports.insert(instance_port);
        }
        if let Some(policy) = &l.ssl_policy {
            if !matches!(l.protocol, Protocol::HTTPS | Protocol::SSL) {
                return Err(Refusal::invalid(format!("spec.listeners[{i}]: sslPolicy needs an HTTPS or SSL listener")));
            }
            ssl_policies.insert(load_balancer_port, policy.clone());
        }
        listeners.push(Listener {
            load_balancer_port,
            protocol: elb_protocol(l.protocol),
            instance_port,
            instance_protocol: elb_protocol(instance_protocol),
            ssl_certificate_id: l.ssl_certificate_id.clone(),
        });
    }
    // ELB's InstanceProtocol rule: listeners sharing an instance port agree on encryption.
    // (The default back-end protocol, HTTP or TCP, is unencrypted.)
    let secure = |l: &crd::ListenerSpec| matches!(l.instance_protocol, Some(Protocol::HTTPS | Protocol::SSL));
    for (i, l) in spec.listeners.iter().enumerate() {
        if let Some(j) = spec.listeners[..i].iter().position(|m| m.instance_port == l.instance_port && secure(m) != secure(l)) {
            return Err(Refusal::invalid(format!(
                "spec.listeners[{j}] and spec.listeners[{i}] share instancePort {} but only one forwards with HTTPS or SSL",
                l.instance_port
            )));
        }
    }
    if let Some(zones) = &spec.availability_zones {
        for zone in zones {
            if !checks::is_zone_name(zone) {
                return Err(Refusal::invalid(format!("spec.availabilityZones: {zone:?} is not a zone name such as us-east-1a")));
            }
            if let Some(region) = spec.region.as_deref().filter(|r| !checks::is_zone_of(zone, r)) {
                return Err(Refusal::invalid(format!("spec.availabilityZones: {zone} is not a zone of spec.region {region}")));
            }
        }
    }
    if let Some(problem) = spec.tags.iter().find_map(|(k, v)| checks::tag_problem(k, v)) {
        return Err(Refusal::invalid(format!("spec.tags: {problem}")));
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let placement = match (&spec.availability_zones, &spec.subnets) {
        (Some(z), Some(s)) if !z.is_empty() && !s.is_empty() => {
            return Err(Refusal::invalid("spec.availabilityZones and spec.subnets are exclusive"));
        }
        (_, Some(s)) if !s.is_empty() => Some(Placement::Subnets(set(s))),
        (Some(z), _) if !z.is_empty() => Some(Placement::Zones(set(z))),
        // Neither: follow the zones of the current backends.
        _ => None,
    };
    let groups = spec.backends.as_ref().map(|b| b.auto_scaling_groups.as_slice()).unwrap_or_default();
    if let Some(g) = groups.iter().find(|g| !checks::is_auto_scaling_group_name(g)) {
        return Err(Refusal::invalid(format!(
            "spec.backends.autoScalingGroups: {g:?} is not an Auto Scaling group name (1-255 printable ASCII characters, no spaces and no ':')"
        )));
    }
    Ok(ValidatedSpec {
        scope,
        name: name.to_string(),
        owner,
        health_check,
        backends,
        scheme: spec.scheme.map(elb_scheme),
        listeners,
        stickiness,
        proxy_protocol_ports,
        ssl_policies,
        placement,
        security_groups: (!spec.security_groups.is_empty()).then(|| set(&spec.security_groups)),
        attributes: spec.attributes.as_ref().map(convert_attributes).unwrap_or_default(),
        tags: spec.tags.clone(),
        auto_scaling_groups: set(groups),
        _sealed: (),
    })
}

/// The API's protocol in the ELB model (which also carries protocols AWS may report).
fn elb_protocol(p: Protocol) -> elb::Protocol {
    match p {
        Protocol::HTTP => elb::Protocol::HTTP,
        Protocol::HTTPS => elb::Protocol::HTTPS,
        Protocol::TCP => elb::Protocol::TCP,
        Protocol::SSL => elb::Protocol::SSL,
    }
}

fn elb_scheme(s: crd::Scheme) -> elb::Scheme {
    match s {
        crd::Scheme::InternetFacing => elb::Scheme::InternetFacing,
        crd::Scheme::Internal => elb::Scheme::Internal,
    }
}

fn convert_attributes(a: &crd::Attributes) -> LoadBalancerAttributes {
    LoadBalancerAttributes {
        cross_zone_load_balancing: a.cross_zone,
        connection_draining: a.connection_draining.as_ref().map(|d| ConnectionDraining { enabled: d.enabled, timeout: d.timeout_seconds }),
        idle_timeout: a.idle_timeout_seconds,
        access_log: a.access_log.as_ref().map(|l| AccessLog {
            enabled: l.enabled,
            s3_bucket_name: l.s3_bucket_name.clone(),
            s3_bucket_prefix: l.s3_bucket_prefix.clone(),
            emit_interval: l.emit_interval_minutes,
        }),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::controller::loadbalancer) fn spec(yaml: &str) -> LoadBalancerSpec {
        serde_yaml::from_str(yaml).expect("spec yaml")
    }

    pub(in crate::controller::loadbalancer) const TUTORIAL: &str = r#"
availabilityZones: [us-east-1a, us-east-1b]
listeners:
- {port: 80, instancePort: 8080, protocol: HTTP}
- {port: 443, instancePort: 8443, protocol: TCP}
healthCheckRef: {name: instance-health}
backends:
  instanceIds: [i-1, i-2]
attributes: {crossZone: false, connectionDraining: {enabled: true, timeoutSeconds: 300}, idleTimeoutSeconds: 60}
tags: {team: web}
"#;

    pub(in crate::controller::loadbalancer) fn owner() -> Owner {
        Owner::new("prod", "default", "my-lb")
    }

    pub(in crate::controller::loadbalancer) fn resolved(ids: &[(&str, Option<&str>)]) -> Resolved {
        Resolved::of_instances(ids)
    }

    /// The spec's own rules, on a spec with no HealthCheck.
    fn validated(
        spec: &LoadBalancerSpec,
        name: &str,
        health_check: Option<elb::HealthCheck>,
        resolved: &Resolved,
        owner: &Owner,
    ) -> Result<ValidatedSpec, Refusal> {
        let scope = Scope { region: "us-east-1".into(), role: None };
        validate_spec(spec, scope, name, owner.clone(), health_check, resolved.clone())
    }

    fn lb(namespace: &str, yaml: &str) -> LoadBalancer {
        let mut lb = LoadBalancer::new("my-lb", spec(yaml));
        lb.metadata.namespace = Some(namespace.into());
        lb
    }

    fn referenced(health_check: Option<(&str, bool)>) -> Referenced {
        let hc = |name: &str| {
            let spec = serde_json::from_value(serde_json::json!({"target": "TCP:80"})).unwrap();
            std::sync::Arc::new(crd::HealthCheck::new(name, spec))
        };
        Referenced {
            health_check: health_check.map(|(name, exists)| (name.to_string(), exists.then(|| hc(name)))),
            backends: Ok(resolved(&[("i-1", Some("us-east-1a"))])),
            classes: vec![],
            namespace_labels: BTreeMap::new(),
            resource_tags: None,
        }
    }

    /// The role rule, then the HealthCheck, then the spec: the first refusal is the one
    /// reported, with its reason; a valid object carries its scope, name and backends.
    #[test]
    fn validate_refuses_in_order_and_keeps_what_build_needs() {
        let allowed = vec!["arn:aws:iam::111111111111:role/elb-*".to_string()];
        let policy = Policy {
            cluster_name: "prod",
            default_region: "eu-west-1",
            allowed_role_arns: &allowed,
            require_class: false,
            cluster_uid: None,
        };
        const ROLE: &str = "roleArn: arn:aws:iam::222222222222:role/other";
        const BAD_LISTENERS: &str = "listeners: []";
        let both = lb("team-a", &format!("{{{ROLE}, {BAD_LISTENERS}, healthCheckRef: {{name: hc}}}}"));
        let refused = validate(&both, referenced(Some(("hc", false))), &policy).unwrap_err();
        assert_eq!(refused.reason, "RoleNotAllowed");
        assert!(refused.message.contains("role/other"), "{}", refused.message);

        let no_hc = lb("team-a", &format!("{{{BAD_LISTENERS}, healthCheckRef: {{name: hc}}}}"));
        let refused = validate(&no_hc, referenced(Some(("hc", false))), &policy).unwrap_err();
        assert_eq!((refused.reason, refused.message.as_str()), ("HealthCheckNotFound", "HealthCheck team-a/hc does not exist"));
        assert_eq!(validate(&no_hc, referenced(Some(("hc", true))), &policy).unwrap_err().reason, "InvalidSpec");

        let mut bad_selector = referenced(None);
        bad_selector.backends = Err(crate::controller::backends::SelectorError { field: "spec.backends.podSelector", message: "x".into() });
        let ok = lb("team-a", "listeners: [{port: 80, instancePort: 80, protocol: TCP}]");
        assert_eq!(validate(&ok, bad_selector, &policy).unwrap_err().reason, "InvalidSpec");

        let v = validate(&ok, referenced(None), &policy).unwrap();
        assert_eq!(v.scope, Scope { region: "eu-west-1".into(), role: None });
        assert_eq!(v.name, ok.load_balancer_name());
        assert_eq!(v.owner, Owner::new("prod", "team-a", "my-lb"));
        assert_eq!(v.backends.instance_ids(), ["i-1".to_string()].into());
        assert!(v.health_check.is_none());
    }

    #[test]
    fn auto_scaling_groups_are_wanted_as_named_and_bad_names_refused() {
        let mut s = spec(TUTORIAL);
        s.backends.as_mut().unwrap().auto_scaling_groups = vec!["web-asg".into(), "batch.v2".into()];
        let d = validated(&s, "my-lb", None, &resolved(&[]), &owner()).unwrap();
        assert_eq!(d.auto_scaling_groups, ["batch.v2".to_string(), "web-asg".to_string()].into());
        for bad in ["", "has:colon", "has space", &"x".repeat(256)] {
            s.backends.as_mut().unwrap().auto_scaling_groups = vec![bad.to_string()];
            let e = validated(&s, "my-lb", None, &resolved(&[]), &owner()).unwrap_err();
            assert!(e.message.contains("autoScalingGroups"), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn invalid_specs_are_reported() {
        let cases = [
            "listeners: []",
            "listeners: [{port: 0, instancePort: 80, protocol: TCP}]",
            "listeners: [{port: 80, instancePort: 70000, protocol: TCP}]",
            "listeners: [{port: 80, instancePort: 80, protocol: TCP}, {port: 80, instancePort: 81, protocol: TCP}]",
            "listeners: [{port: 443, instancePort: 80, protocol: HTTPS}]",
            "listeners: [{port: 80, instancePort: 80, protocol: HTTP, instanceProtocol: TCP}]",
            "{listeners: [{port: 80, instancePort: 80, protocol: TCP}], availabilityZones: [a], subnets: [s]}",
        ];
        for c in cases {
            let err = validated(&spec(c), "x", None, &resolved(&[]), &owner()).unwrap_err();
            assert_eq!(err.reason, "InvalidSpec", "{c}");
        }
        let ok = "listeners: [{port: 443, instancePort: 80, protocol: HTTPS, sslCertificateId: 'arn:aws:acm:us-east-1:123456789012:certificate/abc'}]";
        assert!(validated(&spec(ok), "x", None, &resolved(&[]), &owner()).is_ok());
    }

    #[test]
    fn role_allow_list_patterns() {
        let allowed = vec!["arn:aws:iam::111111111111:role/elb-*".to_string(), "arn:aws:iam::222222222222:role/exact".to_string()];
        assert!(tenancy::glob::matches_any(&allowed, "arn:aws:iam::111111111111:role/elb-operator"));
        assert!(tenancy::glob::matches_any(&allowed, "arn:aws:iam::222222222222:role/exact"));
        assert!(!tenancy::glob::matches_any(&allowed, "arn:aws:iam::222222222222:role/exactly"));
        assert!(!tenancy::glob::matches_any(&allowed, "arn:aws:iam::333333333333:role/elb-operator"));
        assert!(!tenancy::glob::matches_any(&[], "arn:aws:iam::111111111111:role/elb-operator"), "empty allows nothing");
    }

    /// The rules the CRD gained for what AWS refuses later are repeated here, each with a
    /// message naming the field; the valid neighbour of each case is accepted.
    #[test]
    fn aws_constraints_are_repeated_with_their_field() {
        const ACM: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        const IAM: &str = "arn:aws:iam::123456789012:server-certificate/web";
        let https = |cert: &str| format!("{{port: 443, instancePort: 80, protocol: HTTPS, sslCertificateId: '{cert}'}}");
        let cases: Vec<(String, &str)> = vec![
            (format!("listeners: [{}]", https("my-cert")), "is not the ARN"),
            (format!("{{region: eu-west-1, listeners: [{}]}}", https(ACM)), "not in the load balancer's region eu-west-1"),
            (format!("listeners: [{{port: 80, instancePort: 80, protocol: HTTP, sslCertificateId: '{IAM}'}}]"), "only applies to HTTPS and SSL"),
            ("listeners: [{port: 80, instancePort: 80, protocol: HTTP, stickiness: {cookieName: ''}}]".into(), "cookieName \"\" is not a cookie name"),
            ("listeners: [{port: 80, instancePort: 80, protocol: HTTP, stickiness: {cookieName: 'a b'}}]".into(), "is not a cookie name"),
            (
                "listeners: [{port: 80, instancePort: 8080, protocol: HTTP}, {port: 81, instancePort: 8080, protocol: HTTP, instanceProtocol: HTTPS}]".into(),
                "spec.listeners[0] and spec.listeners[1] share instancePort 8080",
            ),
            ("{availabilityZones: [us-east-1], listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(), "not a zone name"),
            ("{region: eu-west-1, availabilityZones: [us-east-1a], listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(), "not a zone of spec.region eu-west-1"),
            ("{tags: {'team#1': web}, listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(), "spec.tags: tag key \"team#1\" may only contain"),
            ("{tags: {team: 'a;b'}, listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(), "may only contain"),
        ];
        for (yaml, says) in &cases {
            let err = validated(&spec(yaml), "x", None, &resolved(&[]), &owner()).unwrap_err();
            assert_eq!(err.reason, "InvalidSpec", "{yaml}");
            assert!(err.message.contains(says), "{yaml}: {}", err.message);
        }
        let valid = [
            format!("{{region: us-east-1, listeners: [{}, {{port: 8443, instancePort: 80, protocol: SSL, sslCertificateId: '{IAM}'}}]}}", https(ACM)),
            "{region: eu-west-1, availabilityZones: [eu-west-1a, eu-west-1b], listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(),
            "listeners: [{port: 80, instancePort: 8080, protocol: HTTP, stickiness: {cookieName: JSESSIONID}}, {port: 81, instancePort: 8080, protocol: TCP}]".into(),
            "listeners: [{port: 80, instancePort: 8443, protocol: HTTP, instanceProtocol: HTTPS}, {port: 81, instancePort: 8443, protocol: SSL, instanceProtocol: SSL, sslCertificateId: 'arn:aws:iam::123456789012:server-certificate/x'}]".into(),
            "{tags: {'cost center': 'a:b/c=d+e-f@g_h.i é'}, listeners: [{port: 80, instancePort: 80, protocol: TCP}]}".into(),
        ];
        for yaml in &valid {
            let got = validated(&spec(yaml), "x", None, &resolved(&[]), &owner());
            assert!(got.is_ok(), "{yaml}: {:?}", got.err());
        }
    }

    mod agreement {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{json, Value};

        fn listener() -> impl Strategy<Value = Value> {
            let protocol = prop::sample::select(vec!["HTTP", "HTTPS", "TCP", "SSL"]);
            let instance_protocol = prop::option::of(prop::sample::select(vec!["HTTP", "HTTPS", "TCP", "SSL"]));
            let cert = prop::option::of(prop::sample::select(vec![
                "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                "arn:aws:iam::123456789012:server-certificate/web",
                "my-cert",
                "",
            ]));
            let stickiness = prop::option::of(prop_oneof![
                prop::sample::select(vec!["SESSION", "", "a b", "x=y"]).prop_map(|c| json!({"cookieName": c})),
                (1i64..100_000).prop_map(|e| json!({"expirationSeconds": e})),
                Just(json!({})),
            ]);
            (
                protocol,
                prop::sample::select(vec![80, 443, 8080]),
                prop::sample::select(vec![8080, 8443]),
                instance_protocol,
                cert,
                stickiness,
                any::<bool>(),
            )
                .prop_map(|(protocol, port, instance_port, ip, cert, st, proxy)| {
                    let mut l = json!({"port": port, "protocol": protocol, "instancePort": instance_port, "proxyProtocol": proxy});
                    if let Some(ip) = ip {
                        l["instanceProtocol"] = json!(ip);
                    }
                    if let Some(cert) = cert {
                        l["sslCertificateId"] = json!(cert);
                    }
                    if let Some(st) = st {
                        l["stickiness"] = st;
                    }
                    l
                })
        }

        fn lb_spec() -> impl Strategy<Value = Value> {
            let region = prop::option::of(prop::sample::select(vec!["us-east-1", "eu-west-1"]));
            let zones = prop::option::of(prop::collection::btree_set(
                prop::sample::select(vec!["us-east-1a", "us-east-1b", "eu-west-1a", "us-east-1", "us-east-11a"]),
                1..3,
            ));
            let tag = prop::option::of(prop::sample::select(vec!["web", "a;b", "é ü", "x:y/z"]));
            (region, zones, prop::collection::vec(listener(), 1..4), tag).prop_map(|(region, zones, listeners, tag)| {
                let mut s = json!({"listeners": listeners});
                if let Some(r) = region {
                    s["region"] = json!(r);
                }
                if let Some(z) = zones {
                    s["availabilityZones"] = json!(z);
                }
                if let Some(t) = tag {
                    s["tags"] = json!({"team": t});
                }
                s
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Over specs the schema's types and ranges admit, the controller refuses exactly
            /// what the CRD's CEL rules refuse (for the rules it repeats), so an object that
            /// predates a rule is reported the same way it would be refused today.
            #[test]
            fn the_controller_refuses_what_the_crd_refuses(spec_json in lb_spec()) {
                let spec: LoadBalancerSpec = serde_json::from_value(spec_json.clone()).unwrap();
                let cel = LoadBalancer::new("x", spec.clone()).validate_cel();
                let controller = validated(&spec, "x", None, &resolved(&[]), &owner());
                prop_assert_eq!(
                    cel.is_ok(),
                    controller.is_ok(),
                    "{}\nCEL: {:?}\ncontroller: {:?}",
                    spec_json,
                    cel.err().map(|e| e.iter().map(|e| e.message.clone()).collect::<Vec<_>>()),
                    controller.err()
                );
            }
        }
    }
}
