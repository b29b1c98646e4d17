//! The `LoadBalancer` resource: one AWS Classic Elastic Load Balancer, its listeners,
//! placement, attributes and the instances behind it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Classic Elastic Load Balancer managed by the operator. The operator creates the ELB,
/// keeps its listeners, zones or subnets, security groups, health check, attributes, tags
/// and registered instances equal to this spec, and reports its DNS name and the health of
/// each instance in status.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "elb.operator.dev",
    version = "v1alpha1",
    kind = "LoadBalancer",
    namespaced,
    status = "LoadBalancerStatus",
    shortname = "elb",
    category = "elb",
    printcolumn = r#"{"name":"ELB","type":"string","jsonPath":".status.loadBalancerName"}"#,
    printcolumn = r#"{"name":"DNS","type":"string","jsonPath":".status.dnsName"}"#,
    printcolumn = r#"{"name":"Healthy","type":"string","jsonPath":".status.healthy"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Zones","type":"string","priority":1,"jsonPath":".status.availabilityZones"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// The ELB name: 1-32 letters, digits and hyphens, not starting or ending with a hyphen.
    /// Immutable. Default: derived from namespace and name plus a short hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,

    /// The AWS region of the ELB. Default: the operator's region (`--region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// Availability zones to place the ELB in (EC2-Classic style). Exclusive with subnets.
    /// When neither is set, the zones of the current backend instances are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,

    /// VPC subnets to attach the ELB to, at most one per zone. Exclusive with
    /// availabilityZones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<String>>,

    /// The ports the ELB listens on and where it forwards them. At least one.
    pub listeners: Vec<ListenerSpec>,

    /// The HealthCheck resource (same namespace) the ELB uses. Without it the ELB keeps
    /// the AWS default health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_ref: Option<HealthCheckRef>,

    /// Which EC2 instances are registered with the ELB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<Backends>,

    /// `internet-facing` (default) or `internal`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,

    /// Security group ids applied to the ELB (VPC only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,

    /// ELB attributes. Unset fields are left as AWS has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,

    /// Tags put on the ELB, besides the operator's ownership tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,

    /// What happens to the ELB when this resource is deleted: `Delete` (default) removes it,
    /// `Retain` leaves it in AWS.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Take over an existing ELB with the wanted name that the operator does not own
    /// (it gets the ownership tags). Without this, such an ELB is a conflict and is never
    /// modified or deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// One listener: traffic on `port` with `protocol` goes to `instancePort` on every instance.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// The front-end port the ELB listens on (1-65535).
    pub port: i32,

    /// The front-end protocol: HTTP, HTTPS, TCP or SSL.
    pub protocol: Protocol,

    /// The port on the instances traffic is sent to (1-65535).
    pub instance_port: i32,

    /// The protocol to the instances. Default: HTTP for HTTP/HTTPS listeners, TCP for
    /// TCP/SSL listeners. HTTP/HTTPS pairs only with HTTP/HTTPS, TCP/SSL with TCP/SSL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_protocol: Option<Protocol>,

    /// ARN of the server certificate (ACM or IAM). Required for HTTPS and SSL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_certificate_id: Option<String>,

    /// Cookie stickiness for HTTP/HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,

    /// Send the PROXY protocol header to the instance port (TCP/SSL back ends).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proxy_protocol: bool,
}

/// A listener protocol.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Protocol {
    HTTP,
    HTTPS,
    TCP,
    SSL,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HTTP => "HTTP",
            Protocol::HTTPS => "HTTPS",
            Protocol::TCP => "TCP",
            Protocol::SSL => "SSL",
        }
    }

    /// Layer 7 protocols (HTTP/HTTPS) versus layer 4 (TCP/SSL).
    pub fn is_http_family(self) -> bool {
        matches!(self, Protocol::HTTP | Protocol::HTTPS)
    }
}

/// Session stickiness on a listener.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stickiness {
    /// Follow the application's own cookie with this name (app-cookie stickiness). When
    /// unset, the ELB issues its own cookie (lb-cookie stickiness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_name: Option<String>,

    /// Lifetime of the ELB's cookie in seconds (lb-cookie stickiness). Unset: the browser
    /// session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
}

/// A reference to a HealthCheck in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct HealthCheckRef {
    /// The HealthCheck's name.
    pub name: String,
}

/// The sources of instances registered with the ELB. The union of all three is registered.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backends {
    /// Pods in this namespace whose nodes are registered. A pod counts while it is
    /// scheduled, not terminating, and all its containers are ready. The node's
    /// spec.providerID (`aws:///<zone>/<instance-id>`) gives the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,

    /// Nodes registered directly. An empty selector (`{}`) selects no node, so that a
    /// placeholder never registers the whole cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,

    /// EC2 instance ids registered as they are, as in `register_instances`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
}

/// Whether the ELB gets a public DNS name.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Scheme {
    #[serde(rename = "internet-facing")]
    InternetFacing,
    #[serde(rename = "internal")]
    Internal,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// What happens to the ELB when the resource is deleted.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the ELB (if this resource owns it).
    #[default]
    Delete,
    /// Leave the ELB in AWS.
    Retain,
}

/// ELB attributes.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// Spread traffic evenly over all instances of all zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<bool>,

    /// Let in-flight requests finish before an instance is deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_draining: Option<ConnectionDrainingSpec>,

    /// Seconds a connection may stay idle (1-4000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<i32>,

    /// Write access logs to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLogSpec>,
}

/// Connection draining.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDrainingSpec {
    pub enabled: bool,
    /// Seconds to wait for in-flight requests (1-3600). Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

/// Access logs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSpec {
    pub enabled: bool,
    /// The S3 bucket that receives the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    /// A key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_prefix: Option<String>,
    /// Minutes between log files: 5 or 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_interval_minutes: Option<i32>,
}

/// What the operator observed and did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// The ELB's name in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,

    /// The region the ELB lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// The ELB's DNS name; point a CNAME or alias record at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,

    /// The Route 53 hosted zone id for alias records to the ELB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_hosted_zone_name_id: Option<String>,

    /// The zones the ELB is enabled in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,

    /// The subnets the ELB is attached to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,

    /// One entry per registered instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceStatus>,

    /// InService instances over registered instances, such as `2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<String>,

    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`, `Synced` and `Conflict`; see the README for when each is True.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The health of one registered instance.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    /// The EC2 instance id.
    pub instance_id: String,
    /// The instance's zone, when known from its node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The Kubernetes node backed by the instance, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `InService`, `OutOfService` or `Unknown`.
    pub state: String,
    /// `ELB`, `Instance` or `N/A`: who caused the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// ELB's explanation of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
