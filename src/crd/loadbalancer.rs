//! The `LoadBalancer` resource: one AWS Classic Elastic Load Balancer, its listeners,
//! placement, attributes and the instances behind it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tags::{MAX_ELB_TAGS, MAX_USER_TAGS, RESERVED_TAG_PREFIX};

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
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
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

    /// Tags put on the ELB, besides the operator's two ownership tags: at most 48 (ELB
    /// allows 50 per load balancer), keys of 1-128 characters not starting with `aws:` or
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
        .message(Message::Message(format!("at most {MAX_USER_TAGS} tags: ELB allows {MAX_ELB_TAGS} per load balancer and the operator adds 2 ownership tags"))))]
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
    /// leaves it in AWS. Unset: `Delete`, except for an ELB that existed before this
    /// resource and was adopted (`adopt: true`), which is retained unless `Delete` is written
    /// here explicitly: the operator never deletes what it did not create unless told to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Take over an existing ELB with the wanted name that the operator does not own
    /// (it gets the ownership tags). Without this, such an ELB is a conflict and is never
    /// modified or deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// One listener: traffic on `port` with `protocol` goes to `instancePort` on every instance.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new(LISTENER_CERT_RULE)
    .message("HTTPS and SSL listeners need sslCertificateId (the ARN of an ACM or IAM server certificate)")
    .reason(Reason::FieldValueRequired)
    .field_path(".sslCertificateId"))]
#[x_kube(validation = Rule::new("!has(self.sslCertificateId) || self.protocol in ['HTTPS', 'SSL']")
    .message("sslCertificateId only applies to HTTPS and SSL listeners: HTTP and TCP listeners do not terminate TLS")
    .field_path(".sslCertificateId"))]
#[x_kube(validation = Rule::new(LISTENER_PAIR_RULE)
    .message("instanceProtocol does not fit protocol: HTTP and HTTPS forward to HTTP or HTTPS, TCP and SSL forward to TCP or SSL")
    .field_path(".instanceProtocol"))]
#[x_kube(validation = Rule::new("!has(self.stickiness) || self.protocol in ['HTTP', 'HTTPS']")
    .message("stickiness needs an HTTP or HTTPS listener")
    .field_path(".stickiness"))]
#[x_kube(validation = Rule::new("!has(self.sslPolicy) || self.protocol in ['HTTPS', 'SSL']")
    .message("sslPolicy needs an HTTPS or SSL listener")
    .field_path(".sslPolicy"))]
#[x_kube(validation = Rule::new(LISTENER_PROXY_RULE)
    .message("proxyProtocol needs a TCP or SSL instance protocol")
    .field_path(".proxyProtocol"))]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// The front-end port the ELB listens on: 1-65535, unique among the listeners. (The
    /// shorter EC2-Classic list, 25, 80, 443, 465, 587 and 1024-65535, no longer applies:
    /// EC2-Classic is retired and every Classic ELB lives in a VPC.)
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// The front-end protocol: HTTP, HTTPS, TCP or SSL.
    pub protocol: Protocol,

    /// The port on the instances traffic is sent to (1-65535).
    #[schemars(range(min = 1, max = 65535))]
    pub instance_port: i32,

    /// The protocol to the instances. Default: HTTP for HTTP/HTTPS listeners, TCP for
    /// TCP/SSL listeners. HTTP/HTTPS pairs only with HTTP/HTTPS, TCP/SSL with TCP/SSL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_protocol: Option<Protocol>,

    /// ARN of the server certificate: an ACM certificate
    /// (`arn:aws:acm:<region>:<account>:certificate/<id>`, in the load balancer's region) or
    /// an IAM server certificate (`arn:aws:iam::<account>:server-certificate/<name>`).
    /// Required for HTTPS and SSL listeners, refused on HTTP and TCP ones. Whether the
    /// certificate exists only AWS knows: a missing one shows in the Synced condition and a
    /// Warning event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new(CERTIFICATE_ARN_RULE).message(
        "sslCertificateId must be the ARN of an ACM certificate (arn:aws:acm:<region>:<account>:certificate/<id>) or of an IAM server certificate (arn:aws:iam::<account>:server-certificate/<name>)"
    ))]
    pub ssl_certificate_id: Option<String>,

    /// Cookie stickiness for HTTP/HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,

    /// Send the PROXY protocol header to the instance port (TCP/SSL back ends).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proxy_protocol: bool,

    /// The TLS negotiation policy of an HTTPS or SSL listener: the name of an AWS predefined
    /// security policy, such as `ELBSecurityPolicy-TLS-1-2-2017-01`. The operator creates
    /// its own SSLNegotiationPolicyType policy referencing it and sets it on the listener,
    /// in place of the predefined one AWS attached; removing the field removes that policy.
    /// Unset: the listener keeps whatever policy AWS or someone else set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^ELB[A-Za-z0-9-]+$"))]
    pub ssl_policy: Option<String>,
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

/// The API accepts the four protocols ELB has; the ELB model also carries ones it may report.
impl From<Protocol> for crate::elb::Protocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::HTTP => crate::elb::Protocol::HTTP,
            Protocol::HTTPS => crate::elb::Protocol::HTTPS,
            Protocol::TCP => crate::elb::Protocol::TCP,
            Protocol::SSL => crate::elb::Protocol::SSL,
        }
    }
}

/// Session stickiness on a listener: either the application's cookie (`cookieName`) or
/// the ELB's own cookie (`expirationSeconds`, or neither field for a session cookie).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("!(has(self.cookieName) && has(self.expirationSeconds))")
    .message("stickiness takes either cookieName (the application's cookie) or expirationSeconds (the ELB's cookie), not both"))]
#[serde(rename_all = "camelCase")]
pub struct Stickiness {
    /// Follow the application's own cookie with this name (app-cookie stickiness): a
    /// non-empty cookie name of letters, digits and ``!#$%&'*+-.^_`|~`` (an RFC 6265 token).
    /// When unset, the ELB issues its own cookie (lb-cookie stickiness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // maxLength bounds the rule's cost: browsers keep at most 4096 bytes of a cookie.
    #[schemars(length(max = 4096))]
    #[x_kube(validation = Rule::new(COOKIE_NAME_RULE).message(
        "cookieName must be a cookie name: not empty, only letters, digits and !#$%&'*+-.^_`|~ (no spaces, quotes, commas, semicolons or =)"
    ))]
    pub cookie_name: Option<String>,

    /// Lifetime of the ELB's cookie in seconds (lb-cookie stickiness), at least 1. Unset:
    /// the browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub expiration_seconds: Option<i64>,
}

/// A reference to a HealthCheck in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct HealthCheckRef {
    /// The HealthCheck's name: an object name (DNS-1123 subdomain: at most 253 lowercase
    /// letters, digits, `-` and `.`, starting and ending with a letter or digit).
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(OBJECT_NAME_RULE).message(
        "healthCheckRef.name must be an object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    ))]
    pub name: String,
}

/// The sources of instances registered with the ELB. The operator registers the union of
/// the pods', the nodes' and the listed instances; AWS registers the instances of the Auto
/// Scaling groups.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
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

    /// EC2 instance ids (`i-…`) registered as they are, as in `register_instances`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(max = 19)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new("self.all(i, i.matches('^i-[0-9a-f]{8,17}$'))")
        .message("instanceIds must be EC2 instance ids such as i-0abc12345678def90"))]
    pub instance_ids: Vec<String>,

    /// EC2 Auto Scaling groups (in the ELB's region and account) to attach the ELB to,
    /// at most 50: AWS then registers each group's instances, also those it launches
    /// later, and deregisters those it terminates; the operator leaves them alone. A
    /// group removed from this list is detached. A group that does not exist makes
    /// Synced False with reason ValidationError. Names are 1-255 printable ASCII
    /// characters without spaces or ':'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), inner(length(max = 255)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(AUTO_SCALING_GROUP_NAME_RULE)
        .message("autoScalingGroups must be Auto Scaling group names: 1-255 printable ASCII characters, no spaces and no ':'"))]
    pub auto_scaling_groups: Vec<String>,
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

impl From<Scheme> for crate::elb::Scheme {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::InternetFacing => crate::elb::Scheme::InternetFacing,
            Scheme::Internal => crate::elb::Scheme::Internal,
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
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: Option<i32>,

    /// Write access logs to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLogSpec>,
}

/// Connection draining.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDrainingSpec {
    /// Whether deregistered or unhealthy instances keep their in-flight requests.
    pub enabled: bool,
    /// Seconds to wait for in-flight requests (1-3600). Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<i32>,
}

/// Access logs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("!self.enabled || (has(self.s3BucketName) && size(self.s3BucketName) > 0)")
    .message("s3BucketName is required when access logs are enabled")
    .reason(Reason::FieldValueRequired)
    .field_path(".s3BucketName"))]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSpec {
    /// Whether access logs are written; needs s3BucketName.
    pub enabled: bool,
    /// The S3 bucket that receives the logs: its name only (3-255 letters, digits, `.`, `-`
    /// and `_`; new buckets: 3-63 lowercase), without `s3://` or a key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    #[x_kube(validation = Rule::new(S3_BUCKET_NAME_RULE).message(
        "s3BucketName must be a bucket name such as my-elb-logs: no s3:// and no key prefix (put the prefix in s3BucketPrefix)"
    ))]
    pub s3_bucket_name: Option<String>,
    /// A key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_prefix: Option<String>,
    /// Minutes between log files: 5 or 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == 5 || self == 60")
        .message("emitIntervalMinutes must be 5 or 60"))]
    pub emit_interval_minutes: Option<i32>,
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

/// CEL: a valid ELB name.
pub const ELB_NAME_RULE: &str = "self.matches('^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$')";
/// CEL: Auto Scaling group names: 1-255 characters of ASCII 33-126 except ':' (AWS's rule
/// for CreateAutoScalingGroup).
pub const AUTO_SCALING_GROUP_NAME_RULE: &str = "self.all(g, g.matches('^[!-9;-~]{1,255}$'))";
/// CEL: an availability zone name (region name plus a zone letter).
pub const ZONE_NAME_RULE: &str = "self.all(z, z.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$'))";
/// CEL: an AWS region name.
pub const REGION_NAME_RULE: &str = "self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')";
/// CEL: every zone is in spec.region (the region name followed by one letter), when that is
/// set and a region name (a malformed region has its own message).
pub const ZONES_IN_REGION_RULE: &str = "!has(self.region) || !has(self.availabilityZones) \
|| !self.region.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$') || self.availabilityZones.all(z, z.startsWith(self.region) && size(z) == size(self.region) + 1)";
/// CEL: subnet ids.
pub const SUBNET_ID_RULE: &str = "self.all(s, s.matches('^subnet-([0-9a-f]{8}|[0-9a-f]{17})$'))";
/// CEL: security group ids.
pub const SECURITY_GROUP_ID_RULE: &str = "self.all(g, g.matches('^sg-([0-9a-f]{8}|[0-9a-f]{17})$'))";
/// CEL: the certificate ARN of an HTTPS/SSL listener: ACM (regional) or IAM (global), in
/// any partition (aws, aws-cn, aws-us-gov, ...).
pub const CERTIFICATE_ARN_RULE: &str = "self.matches('^arn:aws(-[a-z]+)*:(acm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:certificate/.+\
|iam::[0-9]{12}:server-certificate/.+)$')";
/// CEL: ACM certificates live in one region, which must be the ELB's when spec.region is
/// set (without it the region is the operator's, which the schema cannot know) and a region
/// name (a malformed region has its own message).
pub const ACM_CERTIFICATE_REGION_RULE: &str = "!has(self.region) \
|| !self.region.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$') || self.listeners.all(l, \
!has(l.sslCertificateId) || !l.sslCertificateId.matches('^arn:[a-z-]+:acm:') \
|| l.sslCertificateId.contains(':acm:' + self.region + ':'))";
/// CEL: listeners forwarding to one instance port agree on back-end encryption (ELB's rule
/// for InstanceProtocol; the default back-end protocol, HTTP or TCP, is unencrypted).
pub const INSTANCE_PORT_ENCRYPTION_RULE: &str = "self.all(l, self.all(m, l.instancePort != m.instancePort \
|| (has(l.instanceProtocol) && l.instanceProtocol in ['HTTPS', 'SSL']) \
== (has(m.instanceProtocol) && m.instanceProtocol in ['HTTPS', 'SSL'])))";
/// CEL: an application cookie name is an RFC 6265 token.
pub const COOKIE_NAME_RULE: &str = r#"self.matches("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")"#;
/// CEL: a Kubernetes object name (DNS-1123 subdomain; the length is the schema's).
pub const OBJECT_NAME_RULE: &str = r"self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')";
/// CEL: an S3 bucket name (legacy us-east-1 names included), not a URL or a path.
pub const S3_BUCKET_NAME_RULE: &str = "self.matches('^[a-zA-Z0-9._-]{3,255}$')";
/// CEL: tag values in ELB's character set (Unicode letters, separators and digits, and
/// `_ . : / = + - @`).
pub const TAG_VALUES_CHARSET_RULE: &str = r"self.all(k, self[k].matches('^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]*$'))";
/// CEL: zones and subnets exclusive.
pub const ZONES_XOR_SUBNETS_RULE: &str = "!(has(self.availabilityZones) && has(self.subnets))";
/// CEL (transition): loadBalancerName may not be set, changed or removed.
pub const NAME_IMMUTABLE_RULE: &str = "has(self.loadBalancerName) == has(oldSelf.loadBalancerName) \
&& (!has(self.loadBalancerName) || self.loadBalancerName == oldSelf.loadBalancerName)";
/// CEL (transition): the effective scheme may not change; an unset scheme means
/// internet-facing, so spelling out the default later is allowed.
pub const SCHEME_IMMUTABLE_RULE: &str = "(has(self.scheme) ? self.scheme : 'internet-facing') \
== (has(oldSelf.scheme) ? oldSelf.scheme : 'internet-facing')";
/// CEL (transition): region may not be set, changed or removed (an unset region is the
/// operator's, which the schema cannot know).
pub const REGION_IMMUTABLE_RULE: &str = "has(self.region) == has(oldSelf.region) \
&& (!has(self.region) || self.region == oldSelf.region)";
/// CEL: HTTPS and SSL listeners carry a certificate.
pub const LISTENER_CERT_RULE: &str = "!(self.protocol in ['HTTPS', 'SSL']) \
|| (has(self.sslCertificateId) && size(self.sslCertificateId) > 0)";
/// CEL: front-end and back-end protocols are of the same layer.
pub const LISTENER_PAIR_RULE: &str = "!has(self.instanceProtocol) \
|| ((self.protocol in ['HTTP', 'HTTPS']) == (self.instanceProtocol in ['HTTP', 'HTTPS']))";
/// CEL: the PROXY protocol header only goes to TCP/SSL back ends (the default back-end
/// protocol follows the front-end one).
pub const LISTENER_PROXY_RULE: &str = "!has(self.proxyProtocol) || !self.proxyProtocol \
|| !((has(self.instanceProtocol) ? self.instanceProtocol : self.protocol) in ['HTTP', 'HTTPS'])";

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

    /// The deletion policy in force (see `spec.deletionPolicy`).
    pub fn deletion_policy(&self) -> DeletionPolicy {
        let adopted = self.status.as_ref().is_some_and(|s| s.adopted);
        self.spec.deletion_policy.unwrap_or(if adopted { DeletionPolicy::Retain } else { DeletionPolicy::Delete })
    }
}
