//! The ownership tags the operator puts on every ELB it creates, and the tag limits the
//! CRD schema enforces because of them.

/// Tag keys with this prefix belong to the operator; the CRD refuses them in `spec.tags`.
pub const RESERVED_TAG_PREFIX: &str = "elb.operator.dev/";

/// Ownership tag: the cluster name (`--cluster-name`) of the operator that owns the ELB.
pub const CLUSTER_TAG: &str = "elb.operator.dev/cluster";

/// The cluster's identity in the ownership tags (`elb.operator.dev/cluster-uid`): the UID of
/// its `kube-system` Namespace, which `--cluster-name` alone cannot tell apart from another
/// cluster's. `None` when the namespace has none.
pub async fn cluster_uid(client: &kube::Client) -> Result<Option<String>, kube::Error> {
    let ns = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone()).get("kube-system").await?;
    Ok(ns.metadata.uid.filter(|u| !u.is_empty()))
}

/// Ownership tag: `<namespace>/<name>` of the LoadBalancer resource that owns the ELB.
pub const RESOURCE_TAG: &str = "elb.operator.dev/resource";

/// Put on an owned ELB when its resource is deleted with `deletionPolicy: Retain` (or an
/// adopted ELB is left behind), so that the orphan report lists it as retained, never as an
/// orphan to delete. Best effort: an ELB already at the tag limit keeps no marker.
pub const RETAINED_TAG: &str = "elb.operator.dev/retained";

/// How many ownership tags the operator adds to each ELB: the cluster, the resource and the
/// cluster's identity (`elb.operator.dev/cluster-uid`, the kube-system namespace UID).
pub const OWNERSHIP_TAG_COUNT: usize = 3;

/// The ELB limit of tags per load balancer.
pub const MAX_ELB_TAGS: usize = 50;

/// The tags the operator keeps for its own markers on each ELB (the ownership tags), so that
/// they always fit beside a user's tags. Fixed, not derived: the CRDs' limit must not move
/// when a marker is added. (An adopted ELB's `elb.operator.dev/adopted` marker goes beside
/// tags the operator never wrote, which it keeps; such an ELB can reach AWS's limit.)
pub const OPERATOR_TAG_ROOM: usize = 3;

// The ownership tags must fit in the room kept for them.
const _: () = assert!(OWNERSHIP_TAG_COUNT <= OPERATOR_TAG_ROOM);

/// The most tags a user may put in `spec.tags` (and a class in its `tags`): the ELB limit
/// minus the room kept for the operator's markers.
pub const MAX_USER_TAGS: usize = MAX_ELB_TAGS - OPERATOR_TAG_ROOM;
