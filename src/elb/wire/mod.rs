//! The wire format of the Classic ELB API over the Query protocol (`crate::aws::query`):
//! typed inputs → form parameters, result elements → typed outputs. Nothing here does I/O,
//! so every decoder is unit-tested from documentation-shaped fixtures.

use std::collections::BTreeMap;

use super::model::*;
use crate::aws::query::{Params, Service, Shape};
use crate::aws::xml::Element;
use crate::aws::DecodeError;

/// Classic ELB over the Query protocol: `<Action>Result` answers.
pub static SERVICE: Service = Service {
    name: "elasticloadbalancing",
    version: "2012-06-01",
    endpoint_env: "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
    label: "ELB",
    shape: Shape::Wrapped,
};

/// The parameters of a request of `action`.
pub fn params(action: &str) -> Params {
    Params::new(&SERVICE, action)
}

/// The ELB-specific list parameters.
pub trait ElbParams {
    fn listeners(&mut self, listeners: &[Listener]) -> &mut Self;
    fn tags(&mut self, tags: &[Tag]) -> &mut Self;
    fn instances(&mut self, ids: &[String]) -> &mut Self;
}

impl ElbParams for Params {
    fn listeners(&mut self, listeners: &[Listener]) -> &mut Self {
        for (i, l) in listeners.iter().enumerate() {
            let p = format!("Listeners.member.{}", i + 1);
            self.put(format!("{p}.Protocol"), &l.protocol);
            self.put(format!("{p}.LoadBalancerPort"), l.load_balancer_port);
            self.put(format!("{p}.InstanceProtocol"), &l.instance_protocol);
            self.put(format!("{p}.InstancePort"), l.instance_port);
            if let Some(cert) = &l.ssl_certificate_id {
                self.put(format!("{p}.SSLCertificateId"), cert);
            }
        }
        self
    }

    fn tags(&mut self, tags: &[Tag]) -> &mut Self {
        for (i, t) in tags.iter().enumerate() {
            let p = format!("Tags.member.{}", i + 1);
            self.put(format!("{p}.Key"), &t.key);
            if let Some(v) = &t.value {
                self.put(format!("{p}.Value"), v);
            }
        }
        self
    }

    fn instances(&mut self, ids: &[String]) -> &mut Self {
        for (i, id) in ids.iter().enumerate() {
            self.put(format!("Instances.member.{}.InstanceId", i + 1), id);
        }
        self
    }
}

pub fn create_load_balancer(input: &CreateLoadBalancerInput) -> Params {
    let mut p = params("CreateLoadBalancer");
    p.put("LoadBalancerName", &input.name)
        .listeners(&input.listeners)
        .list("AvailabilityZones", &input.availability_zones)
        .list("Subnets", &input.subnets)
        .list("SecurityGroups", &input.security_groups)
        .put_opt("Scheme", input.scheme.as_ref())
        .tags(&input.tags);
    p
}

pub fn health_check(p: &mut Params, hc: &HealthCheck) {
    p.put("HealthCheck.Target", &hc.target)
        .put("HealthCheck.Interval", hc.interval)
        .put("HealthCheck.Timeout", hc.timeout)
        .put("HealthCheck.HealthyThreshold", hc.healthy_threshold)
        .put("HealthCheck.UnhealthyThreshold", hc.unhealthy_threshold);
}

pub fn attributes(p: &mut Params, a: &LoadBalancerAttributes) {
    let pre = "LoadBalancerAttributes";
    if let Some(c) = a.cross_zone_load_balancing {
        p.put(format!("{pre}.CrossZoneLoadBalancing.Enabled"), c);
    }
    if let Some(d) = &a.connection_draining {
        p.put(format!("{pre}.ConnectionDraining.Enabled"), d.enabled);
        if let Some(t) = d.timeout {
            p.put(format!("{pre}.ConnectionDraining.Timeout"), t);
        }
    }
    if let Some(t) = a.idle_timeout {
        p.put(format!("{pre}.ConnectionSettings.IdleTimeout"), t);
    }
    if let Some(l) = &a.access_log {
        p.put(format!("{pre}.AccessLog.Enabled"), l.enabled);
        if let Some(b) = &l.s3_bucket_name {
            p.put(format!("{pre}.AccessLog.S3BucketName"), b);
        }
        if let Some(b) = &l.s3_bucket_prefix {
            p.put(format!("{pre}.AccessLog.S3BucketPrefix"), b);
        }
        if let Some(i) = l.emit_interval {
            p.put(format!("{pre}.AccessLog.EmitInterval"), i);
        }
    }
}

// Decoders return `DecodeError` for a number (or boolean) that does not parse: a port of
// `eighty` must fail the call, not become port 0 and a plan to "fix" it.

pub fn listener(e: &Element) -> Result<Listener, DecodeError> {
    Ok(Listener {
        load_balancer_port: e.required_number("LoadBalancerPort")?,
        protocol: e.string("Protocol").as_str().into(),
        instance_port: e.required_number("InstancePort")?,
        instance_protocol: e.string("InstanceProtocol").as_str().into(),
        ssl_certificate_id: e.text_of("SSLCertificateId").filter(|s| !s.is_empty()),
    })
}

pub fn health_check_of(e: &Element) -> Result<HealthCheck, DecodeError> {
    Ok(HealthCheck {
        target: e.string("Target"),
        interval: e.required_number("Interval")?,
        timeout: e.required_number("Timeout")?,
        healthy_threshold: e.required_number("HealthyThreshold")?,
        unhealthy_threshold: e.required_number("UnhealthyThreshold")?,
    })
}

pub fn load_balancer_description(e: &Element) -> Result<LoadBalancerDescription, DecodeError> {
    let policies = e.child("Policies");
    Ok(LoadBalancerDescription {
        name: e.string("LoadBalancerName"),
        dns_name: e.string("DNSName"),
        canonical_hosted_zone_name: e.text_of("CanonicalHostedZoneName"),
        canonical_hosted_zone_name_id: e.text_of("CanonicalHostedZoneNameID"),
        scheme: e.text_of("Scheme").filter(|s| !s.is_empty()).map(|s| s.as_str().into()).unwrap_or_default(),
        listeners: e
            .members("ListenerDescriptions")
            .into_iter()
            .map(|m| {
                Ok(ListenerDescription {
                    listener: listener(m.child("Listener").unwrap_or(m))?,
                    policy_names: m.member_strings("PolicyNames"),
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        availability_zones: e.member_strings("AvailabilityZones"),
        subnets: e.member_strings("Subnets"),
        security_groups: e.member_strings("SecurityGroups"),
        source_security_group: e
            .child("SourceSecurityGroup")
            .map(|g| SourceSecurityGroup { owner_alias: g.string("OwnerAlias"), group_name: g.string("GroupName") })
            .filter(|g| !g.group_name.is_empty()),
        vpc_id: e.text_of("VPCId").filter(|s| !s.is_empty()),
        health_check: e.child("HealthCheck").filter(|h| h.child("Target").is_some()).map(health_check_of).transpose()?,
        instances: instance_ids(e),
        backend_server_descriptions: e
            .members("BackendServerDescriptions")
            .into_iter()
            .map(|m| {
                Ok(BackendServerDescription {
                    instance_port: m.required_number("InstancePort")?,
                    policy_names: m.member_strings("PolicyNames"),
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        policies: policies.map(policies_of).transpose()?.unwrap_or_default(),
        created_time: e.text_of("CreatedTime"),
    })
}

fn policies_of(p: &Element) -> Result<Policies, DecodeError> {
    Ok(Policies {
        app_cookie_stickiness: p
            .members("AppCookieStickinessPolicies")
            .into_iter()
            .map(|m| AppCookieStickinessPolicy { policy_name: m.string("PolicyName"), cookie_name: m.string("CookieName") })
            .collect(),
        lb_cookie_stickiness: p
            .members("LBCookieStickinessPolicies")
            .into_iter()
            .map(|m| {
                Ok(LbCookieStickinessPolicy {
                    policy_name: m.string("PolicyName"),
                    cookie_expiration_period: m.number("CookieExpirationPeriod")?,
                })
            })
            .collect::<Result<_, DecodeError>>()?,
        other_policies: p.member_strings("OtherPolicies"),
    })
}

/// `Instances/member/InstanceId` of a result.
pub fn instance_ids(e: &Element) -> Vec<String> {
    e.members("Instances").into_iter().map(|m| m.string("InstanceId")).collect()
}

/// DescribeLoadBalancers: one page and its `NextMarker`.
pub fn describe_load_balancers(result: &Element) -> Result<(Vec<LoadBalancerDescription>, Option<String>), DecodeError> {
    let lbs = result.members("LoadBalancerDescriptions").into_iter().map(load_balancer_description).collect::<Result<_, _>>()?;
    let marker = result.text_of("NextMarker").filter(|m| !m.is_empty());
    Ok((lbs, marker))
}

pub fn instance_states(result: &Element) -> Vec<InstanceState> {
    result
        .members("InstanceStates")
        .into_iter()
        .map(|m| InstanceState {
            instance_id: m.string("InstanceId"),
            state: m.string("State").as_str().into(),
            reason_code: m.text_of("ReasonCode").filter(|s| !s.is_empty()),
            description: m.text_of("Description").filter(|s| !s.is_empty()),
        })
        .collect()
}

pub fn load_balancer_attributes(result: &Element) -> Result<LoadBalancerAttributes, DecodeError> {
    let Some(a) = result.child("LoadBalancerAttributes") else {
        return Ok(LoadBalancerAttributes::default());
    };
    Ok(LoadBalancerAttributes {
        cross_zone_load_balancing: a.child("CrossZoneLoadBalancing").map(|c| c.boolean("Enabled")).transpose()?.flatten(),
        connection_draining: a
            .child("ConnectionDraining")
            .map(|c| {
                Ok::<_, DecodeError>(ConnectionDraining { enabled: c.boolean("Enabled")?.unwrap_or(false), timeout: c.number("Timeout")? })
            })
            .transpose()?,
        idle_timeout: a.child("ConnectionSettings").map(|c| c.number("IdleTimeout")).transpose()?.flatten(),
        access_log: a
            .child("AccessLog")
            .map(|c| {
                Ok::<_, DecodeError>(AccessLog {
                    enabled: c.boolean("Enabled")?.unwrap_or(false),
                    s3_bucket_name: c.text_of("S3BucketName").filter(|s| !s.is_empty()),
                    s3_bucket_prefix: c.text_of("S3BucketPrefix").filter(|s| !s.is_empty()),
                    emit_interval: c.number("EmitInterval")?,
                })
            })
            .transpose()?,
    })
}

pub fn tag_descriptions(result: &Element) -> BTreeMap<String, Vec<Tag>> {
    result
        .members("TagDescriptions")
        .into_iter()
        .map(|m| {
            let tags = m.members("Tags").into_iter().map(|t| Tag { key: t.string("Key"), value: t.text_of("Value") }).collect();
            (m.string("LoadBalancerName"), tags)
        })
        .collect()
}

pub fn policy_descriptions(result: &Element) -> Vec<PolicyDescription> {
    result
        .members("PolicyDescriptions")
        .into_iter()
        .map(|m| PolicyDescription {
            policy_name: m.string("PolicyName"),
            policy_type_name: m.string("PolicyTypeName"),
            attributes: m
                .members("PolicyAttributeDescriptions")
                .into_iter()
                .map(|a| PolicyAttribute { name: a.string("AttributeName"), value: a.string("AttributeValue") })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
