//! Typed requests and responses of the Classic ELB API, and the [`ElbApi`] trait that the
//! controller programs against. These types carry no wire detail (no `member.N`, no XML).

use std::collections::BTreeMap;
use std::fmt;

use crate::aws::Error;

/// A listener protocol. The API writes protocols in any case (`https` from some SDKs), so
/// they are decoded case-insensitively; one this client does not know is kept as `Other`,
/// so that describing a load balancer never fails on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    HTTP,
    HTTPS,
    TCP,
    SSL,
    Other(String),
}

impl Protocol {
    /// The API's spelling (upper case for the known protocols, `Other` as received).
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::HTTP => "HTTP",
            Protocol::HTTPS => "HTTPS",
            Protocol::TCP => "TCP",
            Protocol::SSL => "SSL",
            Protocol::Other(p) => p,
        }
    }
}

impl From<&str> for Protocol {
    fn from(s: &str) -> Protocol {
        match s.to_ascii_uppercase().as_str() {
            "HTTP" => Protocol::HTTP,
            "HTTPS" => Protocol::HTTPS,
            "TCP" => Protocol::TCP,
            "SSL" => Protocol::SSL,
            _ => Protocol::Other(s.to_string()),
        }
    }
}

/// Whether a load balancer has a public DNS name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// AWS's default: what a load balancer created without a scheme gets.
    #[default]
    InternetFacing,
    Internal,
    Other(String),
}

impl Scheme {
    /// The API's spelling: `internet-facing`, `internal`, or `Other` as received.
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
            Scheme::Other(s) => s,
        }
    }
}

impl From<&str> for Scheme {
    fn from(s: &str) -> Scheme {
        match s {
            "internet-facing" => Scheme::InternetFacing,
            "internal" => Scheme::Internal,
            _ => Scheme::Other(s.to_string()),
        }
    }
}

/// The health of a registered instance, as DescribeInstanceHealth reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HealthState {
    InService,
    OutOfService,
    /// The ELB cannot tell yet (e.g. the instance is still being registered).
    Unknown,
    Other(String),
}

impl HealthState {
    /// The API's spelling: `InService`, `OutOfService`, `Unknown`, or `Other` as received.
    pub fn as_str(&self) -> &str {
        match self {
            HealthState::InService => "InService",
            HealthState::OutOfService => "OutOfService",
            HealthState::Unknown => "Unknown",
            HealthState::Other(s) => s,
        }
    }
}

impl From<&str> for HealthState {
    fn from(s: &str) -> HealthState {
        match s {
            "InService" => HealthState::InService,
            "OutOfService" => HealthState::OutOfService,
            "Unknown" => HealthState::Unknown,
            _ => HealthState::Other(s.to_string()),
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Protocol, Scheme, HealthState);

/// One listener: a front-end port and protocol forwarded to an instance port and protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listener {
    pub load_balancer_port: u16,
    pub protocol: Protocol,
    pub instance_port: u16,
    pub instance_protocol: Protocol,
    /// ARN of the server certificate, for HTTPS and SSL listeners.
    pub ssl_certificate_id: Option<String>,
}

/// A listener as described, with the names of the policies attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerDescription {
    pub listener: Listener,
    pub policy_names: Vec<String>,
}

/// The ELB health check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheck {
    /// `TCP:port`, `SSL:port`, `HTTP:port/path` or `HTTPS:port/path`.
    pub target: String,
    pub interval: i32,
    pub timeout: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
}

/// A tag on a load balancer. ELB tag values are optional.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    pub key: String,
    pub value: Option<String>,
}

/// A policy attached to a back-end (instance) port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendServerDescription {
    pub instance_port: u16,
    pub policy_names: Vec<String>,
}

/// The policies defined on a load balancer, as listed in DescribeLoadBalancers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    pub app_cookie_stickiness: Vec<AppCookieStickinessPolicy>,
    pub lb_cookie_stickiness: Vec<LbCookieStickinessPolicy>,
    pub other_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCookieStickinessPolicy {
    pub policy_name: String,
    pub cookie_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbCookieStickinessPolicy {
    pub policy_name: String,
    pub cookie_expiration_period: Option<i64>,
}

/// The security group AWS names as the load balancer's traffic source: what an instance's
/// inbound rule can name to admit it. Given by name (in a VPC, one of the load balancer's
/// own groups; `amazon-elb`/`amazon-elb-sg` in EC2-Classic).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceSecurityGroup {
    /// The owning account (its id in a VPC, `amazon-elb` in EC2-Classic).
    pub owner_alias: String,
    pub group_name: String,
}

/// One load balancer as DescribeLoadBalancers reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancerDescription {
    pub name: String,
    pub dns_name: String,
    pub canonical_hosted_zone_name: Option<String>,
    pub canonical_hosted_zone_name_id: Option<String>,
    /// [`Scheme::InternetFacing`] when the API leaves it out.
    pub scheme: Scheme,
    pub listeners: Vec<ListenerDescription>,
    pub availability_zones: Vec<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub source_security_group: Option<SourceSecurityGroup>,
    pub vpc_id: Option<String>,
    pub health_check: Option<HealthCheck>,
    /// Registered instance ids.
    pub instances: Vec<String>,
    pub backend_server_descriptions: Vec<BackendServerDescription>,
    pub policies: Policies,
    /// RFC 3339, as sent by the API.
    pub created_time: Option<String>,
}

/// Input of CreateLoadBalancer. Exactly one of `availability_zones` and `subnets` is
/// normally set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateLoadBalancerInput {
    pub name: String,
    pub listeners: Vec<Listener>,
    pub availability_zones: Vec<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `None` lets AWS choose (internet-facing).
    pub scheme: Option<Scheme>,
    pub tags: Vec<Tag>,
}

impl CreateLoadBalancerInput {
    /// The smallest load balancer: `name` in `zone`, with one HTTP listener from port 80 to
    /// `instance_port` and nothing else (set tags, groups or a scheme on the result).
    pub fn http(name: &str, zone: &str, instance_port: u16) -> CreateLoadBalancerInput {
        let listener = Listener {
            load_balancer_port: 80,
            protocol: Protocol::HTTP,
            instance_port,
            instance_protocol: Protocol::HTTP,
            ssl_certificate_id: None,
        };
        CreateLoadBalancerInput {
            name: name.into(),
            listeners: vec![listener],
            availability_zones: vec![zone.into()],
            ..Default::default()
        }
    }
}

/// Connection draining settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionDraining {
    pub enabled: bool,
    pub timeout: Option<i32>,
}

/// Access log settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessLog {
    pub enabled: bool,
    pub s3_bucket_name: Option<String>,
    pub s3_bucket_prefix: Option<String>,
    /// 5 or 60 minutes.
    pub emit_interval: Option<i32>,
}

/// Load balancer attributes. In a Modify call, `None` means "leave unchanged".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LoadBalancerAttributes {
    pub cross_zone_load_balancing: Option<bool>,
    pub connection_draining: Option<ConnectionDraining>,
    pub idle_timeout: Option<i32>,
    pub access_log: Option<AccessLog>,
}

/// The health of one registered instance, from DescribeInstanceHealth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    pub instance_id: String,
    pub state: HealthState,
    /// `ELB` or `Instance` or `N/A`, when given.
    pub reason_code: Option<String>,
    pub description: Option<String>,
}

/// One attribute of a load balancer policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAttribute {
    pub name: String,
    pub value: String,
}

/// A policy as DescribeLoadBalancerPolicies reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDescription {
    pub policy_name: String,
    pub policy_type_name: String,
    pub attributes: Vec<PolicyAttribute>,
}

/// Every Classic ELB action the operator uses. The real implementation is `elb::Client`;
/// anything else implementing it (a test double) never sees HTTP.
///
/// Every method takes the load balancer name first where the API has one. List arguments
/// are sent as given; the client splits them where the API has limits (20 names per
/// DescribeTags, one name per AddTags/RemoveTags, one port per DeleteLoadBalancerListeners).
#[async_trait::async_trait]
pub trait ElbApi: Send + Sync {
    /// The region this client talks to.
    fn region(&self) -> &str;

    /// The API budget its calls are spent from, if it has one: the scheduler reads what is
    /// left of it before it spends calls on lower classes of work.
    fn budget(&self) -> Option<std::sync::Arc<crate::aws::rate_limit::RateLimiter>> {
        None
    }

    /// Returns the DNS name of the new load balancer.
    async fn create_load_balancer(&self, input: &CreateLoadBalancerInput) -> Result<String, Error>;
    async fn delete_load_balancer(&self, name: &str) -> Result<(), Error>;
    /// Describes the named load balancers (all of them when `names` is empty), following
    /// Marker pagination to the end. A missing name is an error of kind `NotFound`.
    async fn describe_load_balancers(&self, names: &[String]) -> Result<Vec<LoadBalancerDescription>, Error>;

    async fn create_load_balancer_listeners(&self, name: &str, listeners: &[Listener]) -> Result<(), Error>;
    async fn delete_load_balancer_listeners(&self, name: &str, ports: &[u16]) -> Result<(), Error>;
    async fn set_load_balancer_listener_ssl_certificate(&self, name: &str, port: u16, certificate_id: &str) -> Result<(), Error>;

    async fn configure_health_check(&self, name: &str, health_check: &HealthCheck) -> Result<HealthCheck, Error>;

    /// Returns the instances registered after the call.
    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error>;
    /// Returns the instances still registered after the call.
    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error>;
    /// Health of the given instances (all registered ones when empty).
    async fn describe_instance_health(&self, name: &str, instance_ids: &[String]) -> Result<Vec<InstanceState>, Error>;

    /// Returns the zones enabled after the call.
    async fn enable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error>;
    /// Returns the zones still enabled after the call.
    async fn disable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error>;
    /// Returns the subnets attached after the call.
    async fn attach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error>;
    /// Returns the subnets still attached after the call.
    async fn detach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error>;
    /// Returns the security groups in effect after the call.
    async fn apply_security_groups(&self, name: &str, groups: &[String]) -> Result<Vec<String>, Error>;

    async fn describe_load_balancer_attributes(&self, name: &str) -> Result<LoadBalancerAttributes, Error>;
    async fn modify_load_balancer_attributes(
        &self,
        name: &str,
        attributes: &LoadBalancerAttributes,
    ) -> Result<LoadBalancerAttributes, Error>;

    async fn add_tags(&self, names: &[String], tags: &[Tag]) -> Result<(), Error>;
    async fn remove_tags(&self, names: &[String], keys: &[String]) -> Result<(), Error>;
    /// Tags per load balancer name; batched 20 names per call.
    async fn describe_tags(&self, names: &[String]) -> Result<BTreeMap<String, Vec<Tag>>, Error>;

    async fn create_load_balancer_policy(
        &self,
        name: &str,
        policy_name: &str,
        policy_type_name: &str,
        attributes: &[PolicyAttribute],
    ) -> Result<(), Error>;
    async fn delete_load_balancer_policy(&self, name: &str, policy_name: &str) -> Result<(), Error>;
    async fn describe_load_balancer_policies(&self, name: &str, policy_names: &[String]) -> Result<Vec<PolicyDescription>, Error>;
    async fn create_lb_cookie_stickiness_policy(
        &self,
        name: &str,
        policy_name: &str,
        cookie_expiration_period: Option<i64>,
    ) -> Result<(), Error>;
    async fn create_app_cookie_stickiness_policy(&self, name: &str, policy_name: &str, cookie_name: &str) -> Result<(), Error>;
    async fn set_load_balancer_policies_of_listener(&self, name: &str, port: u16, policy_names: &[String]) -> Result<(), Error>;
    async fn set_load_balancer_policies_for_backend_server(
        &self,
        name: &str,
        instance_port: u16,
        policy_names: &[String],
    ) -> Result<(), Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_decode_in_any_case_and_keep_unknown_ones() {
        assert_eq!(Protocol::from("https"), Protocol::HTTPS);
        assert_eq!(Protocol::from("Tcp"), Protocol::TCP);
        assert_eq!(Protocol::from("SSL"), Protocol::SSL);
        assert_eq!(Protocol::from("QUIC"), Protocol::Other("QUIC".into()));
        assert_eq!(Protocol::from("http").to_string(), "HTTP");
        assert_eq!(Protocol::Other("quic".into()).as_str(), "quic");
    }

    #[test]
    fn schemes_and_health_states_round_trip_and_keep_unknown_ones() {
        for s in [Scheme::InternetFacing, Scheme::Internal] {
            assert_eq!(Scheme::from(s.as_str()), s);
        }
        assert_eq!(Scheme::from("dual-stack"), Scheme::Other("dual-stack".into()));
        assert_eq!(Scheme::default(), Scheme::InternetFacing);
        for h in [HealthState::InService, HealthState::OutOfService, HealthState::Unknown] {
            assert_eq!(HealthState::from(h.to_string().as_str()), h);
        }
        assert_eq!(HealthState::from("Draining"), HealthState::Other("Draining".into()));
    }
}
