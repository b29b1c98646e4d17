//! Where a LoadBalancer's ELB lives: its [`Scope`].

use crate::aws;
use crate::crd::LoadBalancer;

/// Where a LoadBalancer's ELB lives: a region, reached with the operator's own credentials
/// or as a role (`spec.roleArn`) for the LoadBalancer's namespace. Each scope has its own
/// inventory and observer, and its own clients; it is evicted once no LoadBalancer maps to
/// it (`observer`).
///
/// A scope without a role is shared by every namespace (one per region). A scope with a role
/// is one per (region, role, external id, namespace): the role's sessions name the
/// namespace ([`aws::Tenant`]), so that its trust policy can tell tenants apart, and one
/// namespace's credentials are never lent to another. The API budget is per (role,
/// region) all the same: `aws::rate_limit::shared` keys limiters by the credentials'
/// identity (`assume-role:<arn>`), which names neither the tenant nor the external id, so
/// the namespaces that use one role share its budget, as AWS's throttling (per account and
/// region) shares it anyway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub region: String,
    pub role: Option<TenantRole>,
}

/// A role as one tenant (cluster and namespace) assumes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantRole {
    pub role: aws::Role,
    pub tenant: aws::Tenant,
}

/// A tenant's role reads as the role: `scope.role.as_deref()` is the `Option<&aws::Role>`
/// that metric labels and the allow-list take.
impl std::ops::Deref for TenantRole {
    type Target = aws::Role;
    fn deref(&self) -> &aws::Role {
        &self.role
    }
}

impl Scope {
    /// The scope of `lb`: its region (`default_region` when it names none) and, with
    /// `spec.roleArn`, the role as `lb`'s namespace of `cluster` assumes it.
    pub fn of(lb: &LoadBalancer, default_region: &str, cluster: &str) -> Scope {
        let tenant = || aws::Tenant::new(cluster, lb.metadata.namespace.clone().unwrap_or_default());
        Scope {
            region: lb.spec.region.clone().unwrap_or_else(|| default_region.to_string()),
            role: lb
                .spec
                .role_arn
                .clone()
                .map(|arn| TenantRole { role: aws::Role { arn, external_id: lb.spec.external_id.clone() }, tenant: tenant() }),
        }
    }

    /// The tenant the scope's role sessions are for (`None` without a role).
    pub fn tenant(&self) -> Option<&aws::Tenant> {
        self.role.as_ref().map(|r| &r.tenant)
    }
}

/// For logs and messages (the operator's log and the object's own status): the role ARN
/// and namespace appear here. Metric labels never use it: they take
/// `telemetry::RegionLabels::of`, the region and the account id only.
impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.role {
            None => f.write_str(&self.region),
            Some(r) => write!(f, "{} as {} for {}", self.region, r.arn, r.tenant.namespace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(ns: &str, spec: serde_json::Value) -> LoadBalancer {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "elb.operator.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": "web", "namespace": ns},
            "spec": spec,
        }))
        .expect("a LoadBalancer")
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/lb";

    #[test]
    fn a_role_scope_is_per_namespace_and_a_region_scope_is_shared() {
        let listeners = serde_json::json!([{"port": 80, "instancePort": 8080, "protocol": "HTTP"}]);
        let plain = |ns| lb(ns, serde_json::json!({"listeners": listeners}));
        let as_role = |ns, id: Option<&str>| lb(ns, serde_json::json!({"listeners": listeners, "roleArn": ROLE, "externalId": id}));
        let (a, b) = (Scope::of(&plain("team-a"), "eu-west-1", "prod"), Scope::of(&plain("team-b"), "eu-west-1", "prod"));
        assert_eq!(a, b, "no role: one scope per region for every namespace");
        assert_eq!(a, Scope { region: "eu-west-1".into(), role: None });
        assert_eq!(a.tenant(), None);

        let ra = Scope::of(&as_role("team-a", None), "eu-west-1", "prod");
        let rb = Scope::of(&as_role("team-b", None), "eu-west-1", "prod");
        assert_ne!(ra, rb, "a role: one scope per namespace");
        assert_eq!(ra.tenant(), Some(&aws::Tenant::new("prod", "team-a")));
        assert_eq!(ra.role.as_deref(), Some(&aws::Role { arn: ROLE.into(), external_id: None }));
        assert_ne!(ra, Scope::of(&as_role("team-a", Some("x")), "eu-west-1", "prod"), "and per external id");
        assert_eq!(ra, Scope::of(&as_role("team-a", None), "eu-west-1", "prod"));
        assert_eq!(ra.to_string(), format!("eu-west-1 as {ROLE} for team-a"));
    }
}
