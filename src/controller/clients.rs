//! The AWS clients of a [`Scope`]: the ELB client every LoadBalancer needs, the Auto Scaling
//! client of `spec.backends.autoScalingGroups`, and the EC2 client of the backend
//! reachability check.

use std::sync::Arc;

use super::scope::Scope;
use crate::autoscaling::{self, AutoScalingApi};
use crate::aws;
use crate::ec2::{self, Ec2Api};
use crate::elb::{self, ElbApi};

/// Routes ELB, EC2 and Auto Scaling clients by scope. Implemented by `elb::Clients` (ELB
/// only) and [`AwsClients`] (all three); a single ELB client serves its own region with its
/// own credentials only.
pub trait ClientsByScope: Send + Sync + 'static {
    /// The ELB client of `scope`.
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error>;

    /// The EC2 client of `scope` for the backend reachability check; `None`: no check (the
    /// `BackendsReachable` condition is not written).
    fn ec2_for_scope(&self, _scope: &Scope) -> Option<Result<Arc<dyn Ec2Api>, aws::Error>> {
        None
    }

    /// The AutoScaling client of the scope; `None` when there is none (a LoadBalancer that
    /// names Auto Scaling groups then fails its sync with a configuration error).
    fn autoscaling_for_scope(&self, _scope: &Scope) -> Result<Option<Arc<dyn AutoScalingApi>>, aws::Error> {
        Ok(None)
    }

    /// Drops the clients of `scope`, and the assumed credentials no client holds any more:
    /// no LoadBalancer maps to the scope now (the observer ended). A later call for the
    /// scope builds them again (a cleanup does).
    fn evict(&self, _scope: &Scope) {}
}

/// The clients of `scope` in a [`aws::Regional`]: a role scope's sessions name its tenant.
fn get<C: aws::FromConfig>(regional: &aws::Regional<C>, scope: &Scope) -> Result<Arc<C>, aws::Error> {
    regional.get_for(&scope.region, scope.role.as_deref(), scope.tenant())
}

fn evict<C: aws::FromConfig>(regional: &aws::Regional<C>, scope: &Scope) -> bool {
    regional.evict(&scope.region, scope.role.as_deref(), scope.tenant())
}

impl ClientsByScope for elb::Clients {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error> {
        Ok(get(self, scope)?)
    }

    fn evict(&self, scope: &Scope) {
        evict(self, scope);
    }
}

/// The ELB clients and, beside them (`Regional::beside`: a role is assumed once for all),
/// the AutoScaling clients that `spec.backends.autoScalingGroups` needs and, when the
/// reachability check is on, the EC2 clients of that check.
pub struct AwsClients {
    pub elb: elb::Clients,
    pub autoscaling: autoscaling::Clients,
    pub ec2: Option<ec2::Clients>,
}

impl ClientsByScope for AwsClients {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error> {
        self.elb.for_scope(scope)
    }

    fn ec2_for_scope(&self, scope: &Scope) -> Option<Result<Arc<dyn Ec2Api>, aws::Error>> {
        let ec2 = self.ec2.as_ref()?;
        Some(get(ec2, scope).map(|c| c as Arc<dyn Ec2Api>))
    }

    fn autoscaling_for_scope(&self, scope: &Scope) -> Result<Option<Arc<dyn AutoScalingApi>>, aws::Error> {
        Ok(Some(get(&self.autoscaling, scope)?))
    }

    /// From every service: they share the assumed credentials, which go with the last
    /// client that holds them.
    fn evict(&self, scope: &Scope) {
        evict(&self.elb, scope);
        evict(&self.autoscaling, scope);
        if let Some(ec2) = &self.ec2 {
            evict(ec2, scope);
        }
    }
}

impl ClientsByScope for Arc<dyn ElbApi> {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error> {
        if self.region() == scope.region && scope.role.is_none() {
            Ok(self.clone())
        } else {
            Err(aws::Error::Config(format!("no ELB client for {scope} (only {})", self.region())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::scope::TenantRole;

    fn scope(region: &str, namespace: Option<&str>) -> Scope {
        let role = |ns: &str| TenantRole {
            role: aws::Role { arn: "arn:aws:iam::123456789012:role/lb".into(), external_id: None },
            tenant: aws::Tenant::new("prod", ns),
        };
        Scope { region: region.into(), role: namespace.map(role) }
    }

    /// A role scope's clients act for its namespace: one assumed session per namespace,
    /// whatever the region; eviction drops a scope's clients from every service, and the
    /// session with the last of them.
    #[test]
    fn role_scopes_assume_per_namespace_and_evict_from_every_service() {
        let base = aws::ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:1", "AK", "SK");
        let elb = elb::Clients::new(base.clone());
        let clients = AwsClients { autoscaling: elb.beside(base.clone()), ec2: Some(elb.beside(base)), elb };
        let (a_east, a_west, b_east, plain) = (
            scope("us-east-1", Some("team-a")),
            scope("us-west-2", Some("team-a")),
            scope("us-east-1", Some("team-b")),
            scope("us-east-1", None),
        );
        for s in [&a_east, &a_west, &b_east, &plain] {
            clients.for_scope(s).unwrap();
            clients.autoscaling_for_scope(s).unwrap().unwrap();
            clients.ec2_for_scope(s).unwrap().unwrap();
        }
        assert_eq!(clients.elb.cached(), (4, 2), "team-a's two regions share one session; team-b has its own");
        clients.evict(&a_east);
        assert_eq!((clients.elb.cached(), clients.autoscaling.cached().0, clients.ec2.as_ref().unwrap().cached().0), ((3, 2), 3, 3));
        clients.evict(&a_west);
        assert_eq!(clients.elb.cached(), (2, 1), "team-a's last scope gone: its session too");
        clients.evict(&plain);
        assert_eq!(clients.elb.cached(), (1, 1), "team-b's session stays");
        clients.evict(&b_east);
        assert_eq!((clients.elb.cached(), clients.autoscaling.cached(), clients.ec2.as_ref().unwrap().cached()), ((0, 0), (0, 0), (0, 0)));
    }
}
