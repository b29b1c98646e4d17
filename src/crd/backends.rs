//! What a LoadBalancer points at: its HealthCheck and the sources of its instances.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::rules::*;

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
