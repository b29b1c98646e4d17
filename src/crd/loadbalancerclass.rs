//! The `LoadBalancerClass` resource: what the platform team grants the LoadBalancers of some
//! namespaces (roles, regions, schemes, adoption, tags). Cluster-scoped, written by cluster
//! administrators; LoadBalancers choose one with `spec.className`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::loadbalancer::{DeletionPolicy, Scheme};
use super::rules::*;
use super::tags::{MAX_ELB_TAGS, MAX_USER_TAGS, OPERATOR_TAG_ROOM, RESERVED_TAG_PREFIX};

/// The annotation that makes a class the default: LoadBalancers without `spec.className`
/// get the class annotated with it set to `"true"`, as with IngressClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "elb.operator.dev/is-default-class";

/// The most tags an AWS resource (instance, Auto Scaling group, security group, subnet)
/// carries, and so the most a class can require.
pub const MAX_REQUIRED_RESOURCE_TAGS: usize = 50;

/// What the LoadBalancers of a class may reach in AWS: the namespaces that may use it, the
/// IAM roles, regions and schemes they may name, whether they may adopt existing ELBs, the
/// tags every AWS resource they name must carry, and the tags and deletion policy they get.
/// Written by the platform team; a LoadBalancer chooses a class with `spec.className`, or
/// gets the default class (annotation `elb.operator.dev/is-default-class: "true"`). Every
/// field is optional: an empty class allows every namespace, the operator's own credentials
/// (no `roleArn`), every region and scheme, and no adoption.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "elb.operator.dev",
    version = "v1alpha1",
    kind = "LoadBalancerClass",
    shortname = "lbc",
    category = "elb-operator",
    cel,
    doc = "What the LoadBalancers of a class may reach in AWS (namespaces, roles, regions, schemes, adoption, required resource tags) and the tags and deletion policy they get. Cluster-scoped, written by the platform team.",
    printcolumn = r#"{"name":"Default","type":"string","jsonPath":".metadata.annotations.elb\\.operator\\.dev/is-default-class"}"#,
    printcolumn = r#"{"name":"Adoption","type":"string","jsonPath":".spec.adoption"}"#,
    printcolumn = r#"{"name":"Regions","type":"string","jsonPath":".spec.regions"}"#,
    printcolumn = r#"{"name":"Schemes","type":"string","jsonPath":".spec.schemes"}"#,
    printcolumn = r#"{"name":"Roles","type":"string","priority":1,"jsonPath":".spec.roleArns"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerClassSpec {
    /// The namespaces whose LoadBalancers may use this class, by their labels (matchLabels
    /// and matchExpressions, as in a NetworkPolicy). Unset: every namespace. A LoadBalancer
    /// in another namespace is refused with reason ClassNotAllowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// The IAM roles that `spec.roleArn` may name through this class: role ARNs in which
    /// `*` stands for any run of characters, such as
    /// `arn:aws:iam::123456789012:role/team-a-*`; at most 50. The operator's
    /// `--allowed-role-arns` still bounds every class: a role must match both. Unset: the
    /// class's LoadBalancers may not set `spec.roleArn` and use the operator's own
    /// credentials. A refused role gives reason RoleNotAllowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50), inner(length(min = 20, max = 2048)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(ROLE_ARN_GLOBS_RULE)
        .message("roleArns must be IAM role ARNs in which * may stand for any characters, such as arn:aws:iam::123456789012:role/team-a-*"))]
    pub role_arns: Option<Vec<String>>,

    /// The AWS regions the class's ELBs may live in, such as `us-east-1` (a LoadBalancer
    /// without `spec.region` is in the operator's region, which must be listed too); at most
    /// 50. Unset: every region. A refused region gives reason RegionNotAllowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50), inner(length(min = 1, max = 64)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(REGION_NAMES_RULE).message("regions must be AWS region names such as us-east-1"))]
    pub regions: Option<Vec<String>>,

    /// The schemes the class's ELBs may have: `internet-facing` (the default of a
    /// LoadBalancer without `spec.scheme`) and `internal`. Unset: both. A refused scheme
    /// gives reason SchemeNotAllowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub schemes: Option<Vec<Scheme>>,

    /// Whether the class's LoadBalancers may adopt an existing ELB (`spec.adopt: true`):
    /// `Allowed` or `Forbidden` (the default). Without any class, adoption is forbidden. A
    /// refused adoption gives reason AdoptionNotAllowed.
    #[serde(default)]
    pub adoption: Adoption,

    /// Tags that every AWS resource a LoadBalancer of this class names or resolves must
    /// carry, with these values: the instances (`spec.backends.instanceIds`, and those of
    /// its pods and nodes), Auto Scaling groups, security groups and subnets; at most 50. A
    /// named resource without them refuses the LoadBalancer with reason
    /// ResourceNotAllowed; an instance found through pods or nodes is left out instead, and
    /// named in the BackendsResolved condition (reason InstanceNotAllowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = MAX_REQUIRED_RESOURCE_TAGS, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    #[x_kube(validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128)")
        .message("requiredResourceTags keys must be 1-128 characters long"))]
    #[x_kube(validation = Rule::new("self.all(k, size(self[k]) <= 256)")
        .message("requiredResourceTags values must be at most 256 characters long"))]
    pub required_resource_tags: BTreeMap<String, String>,

    /// Tags put on every ELB of the class, besides the LoadBalancer's own `spec.tags`: a
    /// LoadBalancer whose `spec.tags` has one of these keys is refused with reason
    /// TagNotAllowed. At most 47 (ELB allows 50 per load balancer and the operator keeps 3
    /// for its own markers), with the limits of `spec.tags`: keys of 1-128 characters not
    /// starting with `aws:` or `elb.operator.dev/`, values of at most 256 characters, keys
    /// and values of letters, digits, spaces and `_ . : / = + - @`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = MAX_ELB_TAGS, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    #[x_kube(validation = Rule::new(format!("size(self) <= {MAX_USER_TAGS}"))
        .message(Message::Message(format!("at most {MAX_USER_TAGS} tags: ELB allows {MAX_ELB_TAGS} per load balancer and the operator's markers take the other {OPERATOR_TAG_ROOM}"))))]
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

    /// The deletion policy of the class's LoadBalancers that do not set
    /// `spec.deletionPolicy`: `Delete` or `Retain`. Unset: the LoadBalancer's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Whether a class's LoadBalancers may adopt existing ELBs.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Adoption {
    /// `spec.adopt: true` takes over an existing ELB of the wanted name that no one owns.
    Allowed,
    /// `spec.adopt: true` is refused.
    #[default]
    Forbidden,
}

impl Adoption {
    pub fn as_str(self) -> &'static str {
        match self {
            Adoption::Allowed => "Allowed",
            Adoption::Forbidden => "Forbidden",
        }
    }
}

impl LoadBalancerClass {
    /// Whether the class carries `elb.operator.dev/is-default-class: "true"`.
    pub fn is_default(&self) -> bool {
        self.metadata.annotations.as_ref().and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION)).is_some_and(|v| v == "true")
    }
}
