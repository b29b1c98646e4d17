//! The Query-protocol wire format of the Classic ELB API: typed inputs → form parameters,
//! XML documents → typed outputs, and error documents → [`ApiError`]. Nothing here does
//! I/O, so every decoder is unit-tested from documentation-shaped fixtures.

use std::collections::BTreeMap;

use super::error::DecodeError;
use super::model::*;
use super::xml::{self, Element};

/// The API version every request names.
pub const API_VERSION: &str = "2012-06-01";

/// Form parameters of one request, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn new(action: &str) -> Params {
        let mut p = Params(Vec::new());
        p.put("Action", action);
        p.put("Version", API_VERSION);
        p
    }

    pub fn put(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    pub fn put_opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.put(key, v);
        }
        self
    }

    /// `Name.member.N` for a list of strings (1-based).
    pub fn list(&mut self, name: &str, values: &[impl AsRef<str>]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.put(format!("{name}.member.{}", i + 1), v.as_ref());
        }
        self
    }

    pub fn listeners(&mut self, listeners: &[Listener]) -> &mut Self {
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

    pub fn tags(&mut self, tags: &[Tag]) -> &mut Self {
        for (i, t) in tags.iter().enumerate() {
            let p = format!("Tags.member.{}", i + 1);
            self.put(format!("{p}.Key"), &t.key);
            if let Some(v) = &t.value {
                self.put(format!("{p}.Value"), v);
            }
        }
        self
    }

    pub fn instances(&mut self, ids: &[String]) -> &mut Self {
        for (i, id) in ids.iter().enumerate() {
            self.put(format!("Instances.member.{}.InstanceId", i + 1), id);
        }
        self
    }

    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `application/x-www-form-urlencoded` body (RFC 3986 unreserved characters kept).
    pub fn encode(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect::<Vec<_>>().join("&")
    }
}

const QUERY: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY).to_string()
}

pub fn create_load_balancer(input: &CreateLoadBalancerInput) -> Params {
    let mut p = Params::new("CreateLoadBalancer");
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

/// An error document from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Parses `ErrorResponse/Error` (ELB, STS) or `.../Errors/Error` (EC2-style), matched by
/// local name. `None` when the body is not such a document.
pub fn parse_error(body: &str) -> Option<ApiError> {
    let root = xml::parse(body).ok()?;
    let error = find_error(&root)?;
    let code = error.text_of("Code")?;
    Some(ApiError {
        code,
        message: error.string("Message"),
        request_id: request_id(&root),
    })
}

fn find_error(e: &Element) -> Option<&Element> {
    if e.name == "Error" && e.child("Code").is_some() {
        return Some(e);
    }
    e.children.iter().find_map(find_error)
}

/// The request id of a response or error document (`RequestId` or `RequestID`).
pub fn request_id(root: &Element) -> Option<String> {
    root.find("RequestId").or_else(|| root.find("RequestID")).map(|e| e.text.trim().to_string())
}

/// Parses a success document and returns its `<Action>Result` element (or the root when a
/// result element is absent, which the API does for actions without output).
pub fn parse_result(action: &str, body: &str) -> Result<(Element, Option<String>), String> {
    let root = xml::parse(body)?;
    let expected = format!("{action}Response");
    if root.name != expected {
        return Err(format!("expected <{expected}>, got <{}>", root.name));
    }
    let rid = request_id(&root);
    let result = root.child(&format!("{action}Result")).cloned().unwrap_or_default();
    Ok((result, rid))
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
            let tags = m
                .members("Tags")
                .into_iter()
                .map(|t| Tag { key: t.string("Key"), value: t.text_of("Value") })
                .collect();
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
