//! Step 3, build: from a [`ValidatedSpec`] and its resolved backends, the [`Desired`] ELB
//! state the sync engine converges to. Pure (no cache, no Kubernetes, no AWS), and
//! unit-tested from YAML.

use std::collections::BTreeMap;

use super::validate::{validate_spec, Refusal, ValidatedSpec};
use crate::controller::backends::Resolved;
use crate::controller::context::Scope;
use crate::crd::LoadBalancerSpec;
use crate::elb;
use crate::sync::ownership::Owner;
use crate::sync::plan::{Desired, Placement};

/// Everything a sync needs: where, which ELB, whose, its backends, and its desired state.
#[derive(Debug, Clone)]
pub struct SyncInputs {
    /// The region, and the role the ELB is managed as.
    pub scope: Scope,
    pub region: String,
    /// The ELB's name.
    pub name: String,
    pub owner: Owner,
    pub resolved: Resolved,
    pub desired: Desired,
}

/// The desired state of a validated spec. The ownership tags win over `spec.tags`; an ELB
/// placed by neither zones nor subnets follows the zones of its current backends.
pub fn build(spec: ValidatedSpec) -> SyncInputs {
    let desired = desired(&spec);
    SyncInputs {
        region: spec.scope.region.clone(),
        scope: spec.scope,
        name: spec.name,
        owner: spec.owner,
        resolved: spec.backends,
        desired,
    }
}

fn desired(spec: &ValidatedSpec) -> Desired {
    let mut tags: BTreeMap<String, String> = spec.tags.clone();
    tags.extend(spec.owner.tags());
    Desired {
        name: spec.name.clone(),
        scheme: spec.scheme.clone(),
        listeners: spec.listeners.clone(),
        placement: spec.placement.clone().unwrap_or_else(|| Placement::Zones(spec.backends.zones())),
        security_groups: spec.security_groups.clone(),
        health_check: spec.health_check.clone(),
        attributes: spec.attributes.clone(),
        tags,
        instances: spec.backends.instance_ids(),
        auto_scaling_groups: spec.auto_scaling_groups.clone(),
        stickiness: spec.stickiness.clone(),
        proxy_protocol_ports: spec.proxy_protocol_ports.clone(),
        ssl_policies: spec.ssl_policies.clone(),
    }
}

/// The desired state of `spec` alone, validated by its own rules (no role or reference
/// checks) and built, for an ELB named `name` with `health_check` and `resolved` backends.
pub fn desired_state(
    spec: &LoadBalancerSpec,
    name: &str,
    health_check: Option<elb::HealthCheck>,
    resolved: &Resolved,
    owner: &Owner,
) -> Result<Desired, Refusal> {
    let scope = Scope { region: spec.region.clone().unwrap_or_default(), role: None };
    let validated = validate_spec(spec, scope, name, owner.clone(), health_check, resolved.clone())?;
    Ok(desired(&validated))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::elb::ConnectionDraining;

    fn spec(yaml: &str) -> LoadBalancerSpec {
        serde_yaml::from_str(yaml).expect("spec yaml")
    }

    const TUTORIAL: &str = r#"
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

    fn owner() -> Owner {
        Owner::new("prod", "default", "my-lb")
    }

    fn resolved(ids: &[(&str, Option<&str>)]) -> Resolved {
        Resolved::of_instances(ids)
    }

    #[test]
    fn tutorial_spec_to_desired() {
        let r = resolved(&[("i-1", None), ("i-2", None)]);
        let d = desired_state(&spec(TUTORIAL), "my-lb", None, &r, &owner()).unwrap();
        assert_eq!(d.listeners.len(), 2);
        assert_eq!((&d.listeners[0].protocol, &d.listeners[0].instance_protocol), (&elb::Protocol::HTTP, &elb::Protocol::HTTP));
        assert_eq!((&d.listeners[1].protocol, &d.listeners[1].instance_protocol), (&elb::Protocol::TCP, &elb::Protocol::TCP));
        assert_eq!(d.scheme, None, "AWS's default");
        assert_eq!(d.placement, Placement::Zones(["us-east-1a".to_string(), "us-east-1b".to_string()].into()));
        assert_eq!(d.instances, ["i-1".to_string(), "i-2".to_string()].into());
        assert_eq!(d.security_groups, None);
        assert_eq!(d.attributes.connection_draining, Some(ConnectionDraining { enabled: true, timeout: Some(300) }));
        assert_eq!(d.attributes.access_log, None);
        assert_eq!(d.tags.len(), 3, "team + exactly two ownership tags: {:?}", d.tags);
        assert_eq!(d.tags["elb.operator.dev/resource"], "default/my-lb");
    }

    #[test]
    fn scheme_and_protocols_become_the_elb_model() {
        let s = spec("{scheme: internal, listeners: [{port: 443, instancePort: 80, protocol: SSL, sslCertificateId: 'arn:aws:iam::123456789012:server-certificate/x'}]}");
        let d = desired_state(&s, "x", None, &resolved(&[]), &owner()).unwrap();
        assert_eq!(d.scheme, Some(elb::Scheme::Internal));
        assert_eq!((&d.listeners[0].protocol, &d.listeners[0].instance_protocol), (&elb::Protocol::SSL, &elb::Protocol::TCP));
    }

    #[test]
    fn ownership_tags_win_over_user_tags() {
        let mut s = spec(TUTORIAL);
        s.tags.insert("elb.operator.dev/cluster".into(), "spoofed".into());
        let d = desired_state(&s, "my-lb", None, &resolved(&[]), &owner()).unwrap();
        assert_eq!(d.tags["elb.operator.dev/cluster"], "prod");
    }

    #[test]
    fn zones_follow_backends_when_unset() {
        let s = spec("listeners: [{port: 80, instancePort: 80, protocol: TCP}]");
        let r = resolved(&[("i-1", Some("us-east-1c")), ("i-2", Some("us-east-1a")), ("i-3", None)]);
        let d = desired_state(&s, "x", None, &r, &owner()).unwrap();
        assert_eq!(d.placement, Placement::Zones(["us-east-1a".to_string(), "us-east-1c".to_string()].into()));
        let s = spec("{listeners: [{port: 80, instancePort: 80, protocol: TCP}], subnets: [subnet-1]}");
        assert_eq!(desired_state(&s, "x", None, &r, &owner()).unwrap().placement, Placement::Subnets(["subnet-1".to_string()].into()));
    }
}
