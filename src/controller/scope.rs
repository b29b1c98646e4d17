//! Where a LoadBalancer's ELB lives: its [`Scope`].

use crate::aws;
use crate::crd::LoadBalancer;

/// Where a LoadBalancer's ELB lives: a region, reached with the operator's own credentials
/// or as a role (`spec.roleArn`). Each scope has its own API budget, inventory and observer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub region: String,
    pub role: Option<aws::Role>,
}

impl Scope {
    pub fn of(lb: &LoadBalancer, default_region: &str) -> Scope {
        Scope {
            region: lb.spec.region.clone().unwrap_or_else(|| default_region.to_string()),
            role: lb.spec.role_arn.clone().map(|arn| aws::Role { arn, external_id: lb.spec.external_id.clone() }),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.role {
            None => f.write_str(&self.region),
            Some(r) => write!(f, "{} as {}", self.region, r.arn),
        }
    }
}
