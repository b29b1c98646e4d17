//! The `LoadBalancer` resource: one AWS Classic Elastic Load Balancer, its listeners,
//! placement, attributes and the instances behind it. The spec's parts have their own files
//! ([`super::listener`], [`super::backends`], [`super::attributes`]), and the CEL rules
//! theirs ([`super::rules`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::attributes::Attributes;
use super::backends::{Backends, HealthCheckRef};
use super::listener::ListenerSpec;
// Re-exported so that `crd::loadbalancer::ELB_NAME_RULE` and the like keep naming the rules.
pub use super::rules::*;
use super::tags::{MAX_ELB_TAGS, MAX_USER_TAGS, OPERATOR_TAG_ROOM, RESERVED_TAG_PREFIX};

/// A Classic Elastic Load Balancer managed by the operator. The operator creates the ELB,
/// keeps its listeners, zones or subnets, security groups, health check, attributes, tags
/// and registered instances equal to this spec, and reports its DNS name and the health of
/// each instance in status.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "elb.operator.dev",
    version = "v1alpha1",
    kind = "LoadBalancer",
    namespaced,
    status = "LoadBalancerStatus",
    shortname = "elb",
    category = "elb-operator",
    cel,
    doc = "A Classic Elastic Load Balancer managed by the operator: listeners, placement, health check, attributes, tags and the instances behind it.",
    printcolumn = r#"{"name":"ELB","type":"string","jsonPath":".status.loadBalancerName"}"#,
    printcolumn = r#"{"name":"DNS","type":"string","jsonPath":".status.dnsName"}"#,
    printcolumn = r#"{"name":"Healthy","type":"string","jsonPath":".status.healthy"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Zones","type":"string","priority":1,"jsonPath":".status.availabilityZones"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
// Rules that span fields sit on the spec. The immutability rules are transition rules
// (they use oldSelf) at this level rather than on the fields themselves: a rule on an
// optional field only runs when the field exists in both the old and the new object, so
// setting or removing the field would slip through.
#[x_kube(validation = Rule::new(ZONES_XOR_SUBNETS_RULE)
    .message("set either availabilityZones or subnets, not both")
    .reason(Reason::FieldValueForbidden)
    .field_path(".subnets"))]
#[x_kube(validation = Rule::new(ZONES_IN_REGION_RULE)
    .message("availabilityZones must be zones of spec.region: a zone is the region name plus a letter, such as us-east-1a in us-east-1")
    .field_path(".availabilityZones"))]
#[x_kube(validation = Rule::new(ACM_CERTIFICATE_REGION_RULE)
    .message("an ACM certificate (sslCertificateId) must be in the region of the load balancer (spec.region); IAM server certificates are global")
    .field_path(".listeners"))]
#[x_kube(validation = Rule::new(NAME_IMMUTABLE_RULE)
    .message("loadBalancerName is immutable: it cannot be set, changed or removed after creation (create a new LoadBalancer instead)")
    .reason(Reason::FieldValueForbidden)
    .field_path(".loadBalancerName"))]
#[x_kube(validation = Rule::new(SCHEME_IMMUTABLE_RULE)
    .message("scheme is immutable: an ELB cannot switch between internet-facing and internal (create a new LoadBalancer instead)")
    .reason(Reason::FieldValueForbidden)
    .field_path(".scheme"))]
#[x_kube(validation = Rule::new("has(self.roleArn) == has(oldSelf.roleArn) && (!has(self.roleArn) || self.roleArn == oldSelf.roleArn)")
    .message("roleArn is immutable: the ELB lives in the role's account; create a new LoadBalancer instead")
    .field_path(".roleArn"))]
#[x_kube(validation = Rule::new("!has(self.externalId) || has(self.roleArn)")
    .message("externalId needs roleArn")
    .field_path(".externalId"))]
#[x_kube(validation = Rule::new(REGION_IMMUTABLE_RULE)
    .message("region is immutable: it cannot be set, changed or removed after creation (create a new LoadBalancer instead)")
    .reason(Reason::FieldValueForbidden)
    .field_path(".region"))]
#[x_kube(validation = Rule::new(CLASS_NAME_IMMUTABLE_RULE)
    .message("className is immutable: it cannot be set, changed or removed after creation (create a new LoadBalancer instead)")
    .reason(Reason::FieldValueForbidden)
    .field_path(".className"))]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// The LoadBalancerClass that grants this LoadBalancer what it may reach in AWS (roles,
    /// regions, schemes, adoption, tags of the resources it names). Unset: the class
    /// annotated `elb.operator.dev/is-default-class: "true"`, or, when there is none, the
    /// built-in rules (the operator's `--allowed-role-arns`, no adoption). Immutable,
    /// including setting or removing it later. A class that does not exist, or that does
    /// not select this namespace, refuses the LoadBalancer with reason ClassNotAllowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(OBJECT_NAME_RULE).message(
        "className must be an object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    ))]
    pub class_name: Option<String>,

    /// The ELB name: 1-32 letters, digits and hyphens, not starting or ending with a hyphen.
    /// Immutable, including setting or removing it later. Default: derived from namespace
    /// and name plus a short hash (see status.loadBalancerName).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // The CEL rule enforces the length so that the user reads its message; maxLength only
    // bounds the rule's cost estimate.
    #[schemars(length(max = 255))]
    #[x_kube(validation = Rule::new(ELB_NAME_RULE).message(
        "loadBalancerName must be 1-32 letters, digits and hyphens, and must not start or end with a hyphen"
    ))]
    pub load_balancer_name: Option<String>,

    /// The AWS region of the ELB, such as `us-east-1`. Immutable. Default: the operator's
    /// region (`--region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new(REGION_NAME_RULE)
        .message("region must be an AWS region name such as us-east-1"))]
    pub region: Option<String>,

    /// An IAM role to manage this ELB as, in the same or another AWS account: the operator
    /// assumes it with STS AssumeRole, using its own credentials as the source. It must be
    /// allowed by the operator's `--allowed-role-arns`. Immutable: the ELB lives in the
    /// role's account. Unset: the operator's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 2048))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$')")
        .message("roleArn must be an IAM role ARN such as arn:aws:iam::123456789012:role/elb-operator"))]
    pub role_arn: Option<String>,

    /// The external id the role's trust policy asks for (`sts:ExternalId`). Only with
    /// `roleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_+=,.@:/-]+$')")
        .message("externalId may hold letters, digits and +=,.@:/- only"))]
    pub external_id: Option<String>,

    /// Availability zones to place the ELB in: zone names such as `us-east-1a` (the region
    /// name plus a letter), all in spec.region when it is set; 1-32 of them. Exclusive with
    /// subnets. When neither is set, the zones of the current backend instances are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(length(min = 1, max = 64)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(ZONE_NAME_RULE)
        .message("availabilityZones must be zone names such as us-east-1a (the region name plus a letter)"))]
    pub availability_zones: Option<Vec<String>>,

    /// VPC subnet ids (`subnet-` and 8 or 17 hex digits) to attach the ELB to, at most one
    /// per zone; 1-32 of them. Exclusive with availabilityZones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(length(min = 1, max = 64)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(SUBNET_ID_RULE)
        .message("subnets must be subnet ids such as subnet-0abc1234"))]
    pub subnets: Option<Vec<String>>,

    /// The ports the ELB listens on and where it forwards them: 1-100 listeners, one per
    /// front-end port. Listeners that forward to the same instancePort must agree on whether
    /// the back-end connection is encrypted (instanceProtocol HTTPS/SSL, or HTTP/TCP).
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["port".into()]))]
    #[x_kube(validation = Rule::new("size(self) >= 1")
        .message("at least one listener is required")
        .reason(Reason::FieldValueRequired))]
    #[x_kube(validation = Rule::new("self.all(l, self.exists_one(m, m.port == l.port))")
        // No FieldValueDuplicate reason: the API server prints a Duplicate error without
        // the rule's message, and the message is what tells the user why.
        .message("listener ports must be unique: each front-end port can have only one listener"))]
    #[x_kube(validation = Rule::new(INSTANCE_PORT_ENCRYPTION_RULE)
        .message("listeners that share an instancePort must agree on encryption: all with instanceProtocol HTTPS or SSL, or all with HTTP or TCP (the default)"))]
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

    /// Security group ids (`sg-` and 8 or 17 hex digits) applied to the ELB, at most 5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), inner(length(min = 1, max = 64)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(SECURITY_GROUP_ID_RULE)
        .message("securityGroups must be security group ids such as sg-0abc1234"))]
    pub security_groups: Vec<String>,

    /// ELB attributes. Unset fields are left as AWS has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,

    /// Tags put on the ELB, besides the operator's markers: at most 47 (ELB allows 50 per
    /// load balancer and the operator keeps 3 for its own ownership markers), keys of 1-128 characters not starting with `aws:` or
    /// `elb.operator.dev/`, values of at most 256 characters. Keys and values may hold
    /// letters, digits, spaces and `_ . : / = + - @` (a key with other characters is
    /// reported by the operator in the Synced condition, as ELB refuses it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    // maxProperties is the hard ELB limit and bounds the cost of the per-key rules; the
    // CEL count rule below says why the usable limit is lower. The values' maxLength only
    // bounds the cost of the value rules (the 256 limit is a rule, so that its message is
    // read). Keys cannot be bounded in a schema, so no rule scans their characters: that
    // rule's estimated cost would be unbounded; the controller checks them instead.
    #[schemars(extend("maxProperties" = MAX_ELB_TAGS, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    #[x_kube(validation = Rule::new(format!("size(self) <= {MAX_USER_TAGS}"))
        .message(Message::Message(format!("at most {MAX_USER_TAGS} tags: ELB allows {MAX_ELB_TAGS} per load balancer and the operator's ownership markers take the other {OPERATOR_TAG_ROOM}"))))]
    #[x_kube(validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128)")
        .message("tag keys must be 1-128 characters long"))]
    #[x_kube(validation = Rule::new("self.all(k, size(self[k]) <= 256)")
        .message("tag values must be at most 256 characters long"))]
    #[x_kube(validation = Rule::new(TAG_VALUES_CHARSET_RULE)
        .message("tag values may only contain letters, digits, spaces and _ . : / = + - @"))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('aws:'))")
        .message("tag keys starting with aws: are reserved by AWS"))]
    #[x_kube(validation = Rule::new(format!("self.all(k, !k.startsWith('{RESERVED_TAG_PREFIX}'))"))
        .message(Message::Message(format!("tag keys starting with {RESERVED_TAG_PREFIX} are reserved for the operator's ownership tags"))))]
    pub tags: BTreeMap<String, String>,

    /// What happens to the ELB when this resource is deleted: `Delete` removes it, `Retain`
    /// leaves it in AWS. Unset: the LoadBalancerClass's `deletionPolicy`, else `Delete`. An
    /// ELB that existed before this resource and was adopted (`adopt: true`; AWS tag
    /// `elb.operator.dev/adopted`) is retained unless `Delete` is written here explicitly:
    /// the operator never deletes what it did not create unless told to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Take over an existing ELB with the wanted name that the operator does not own
    /// (it gets the ownership tags). Without this, such an ELB is a conflict and is never
    /// modified or deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,

    /// DNS names for the ELB, published through ExternalDNS: a CNAME record per hostname to
    /// status.dnsName, kept in a DNSEndpoint owned by this resource (condition DNSPublished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<super::dns::Dns>,
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
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the ELB (if this resource owns it).
    Delete,
    /// Leave the ELB in AWS.
    Retain,
}

/// What the operator observed and did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
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
    #[x_kube(merge_strategy = ListMerge::Map(vec!["instanceId".into()]))]
    pub instances: Vec<InstanceStatus>,

    /// The Auto Scaling groups attached to the ELB by this resource, as last observed.
    /// A group listed here and no longer in spec.backends.autoScalingGroups is detached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub auto_scaling_groups: Vec<String>,

    /// InService instances over registered instances, such as `2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<String>,

    /// Per enabled zone: registered and InService instances. ELB splits traffic equally
    /// between zones (unless cross-zone load balancing is on), so uneven zones overload
    /// the instances of the emptier ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub zones: Vec<ZoneStatus>,

    /// When the instances' health was last read from the ELB. Health is polled within the
    /// API budget: promptly while the load balancer is in transition, at most every
    /// `--health-poll-interval` once every instance is InService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_observed_time: Option<Time>,

    /// True once this resource adopted an ELB that existed before it (`spec.adopt`); such an
    /// ELB is retained on deletion unless `spec.deletionPolicy: Delete` is written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,

    /// The keys of the user tags (`spec.tags` and the class's `tags`) the operator wrote on
    /// the ELB: only these are ever removed from it when they leave the spec. Tags with other
    /// keys (cost allocation, Tag Policies, other tools) are never touched; when this record
    /// is lost (a status restored without it), no tag is removed until it is rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_tag_keys: Option<Vec<String>>,

    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`, `Synced` and `Conflict`; see the README for when each is True.
    /// `BackendsReachable` (the optional EC2 check) is False with reason `PortsClosed` and
    /// the `instance:port` pairs no security group rule opens to the ELB; Unknown with
    /// `EC2NotAllowed` while the operator may not read EC2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// Registered instances per enabled zone (see the `ZonesBalanced` condition).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneStatus {
    /// The availability zone.
    pub name: String,
    /// Registered instances in the zone (by their nodes' zones; instances of unknown zone
    /// are not counted).
    pub instances: i32,
    /// Of those, InService.
    pub in_service: i32,
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
    #[schemars(with = "String")]
    pub state: InstanceState,
    /// `ELB`, `Instance` or `N/A`: who caused the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// ELB's explanation of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who registered the instance: `Backends` (the operator, for spec.backends' pods,
    /// nodes or instance ids) or `AutoScalingGroup` (AWS, for an attached group). Absent
    /// for an instance neither explains (about to be deregistered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<InstanceSource>,
}

/// The health of a registered instance, as ELB reports it. Written as ELB spells it: an
/// unexpected word is kept as it came (`Other`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[serde(from = "String", into = "String")]
pub enum InstanceState {
    InService,
    OutOfService,
    /// ELB cannot tell yet (the instance is still being registered).
    #[default]
    Unknown,
    Other(String),
}

impl InstanceState {
    /// ELB's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            InstanceState::InService => "InService",
            InstanceState::OutOfService => "OutOfService",
            InstanceState::Unknown => "Unknown",
            InstanceState::Other(s) => s,
        }
    }
}

impl From<&str> for InstanceState {
    fn from(s: &str) -> Self {
        match s {
            "InService" => InstanceState::InService,
            "OutOfService" => InstanceState::OutOfService,
            "Unknown" => InstanceState::Unknown,
            other => InstanceState::Other(other.to_string()),
        }
    }
}

impl From<String> for InstanceState {
    fn from(s: String) -> Self {
        InstanceState::from(s.as_str())
    }
}

impl From<InstanceState> for String {
    fn from(s: InstanceState) -> Self {
        s.as_str().to_string()
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who registered an instance with the ELB.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum InstanceSource {
    /// The operator, for spec.backends' pods, nodes or instance ids (also when a group has
    /// the instance too).
    Backends,
    /// AWS, for an Auto Scaling group of spec.backends.autoScalingGroups.
    AutoScalingGroup,
}

impl LoadBalancer {
    /// The ELB's name: `spec.loadBalancerName`, else derived from namespace and name
    /// ([`crate::naming::elb_name`]).
    pub fn load_balancer_name(&self) -> String {
        use kube::ResourceExt;
        self.spec
            .load_balancer_name
            .clone()
            .unwrap_or_else(|| crate::naming::elb_name(&self.namespace().unwrap_or_default(), &self.name_any()))
    }

    /// Whether the break-glass annotation ([`super::PAUSED_ANNOTATION`]) is `"true"`.
    pub fn paused(&self) -> bool {
        self.metadata.annotations.as_ref().and_then(|a| a.get(super::PAUSED_ANNOTATION)).is_some_and(|v| v == "true")
    }

    /// The deletion policy in force (see `spec.deletionPolicy`).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        let adopted = self.status.as_ref().is_some_and(|s| s.adopted);
        self.spec.deletion_policy.unwrap_or(if adopted { DeletionPolicy::Retain } else { DeletionPolicy::Delete })
    }
}
