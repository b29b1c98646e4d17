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

    /// Drops what is kept for `scope` (its clients and credentials): no LoadBalancer uses
    /// it any more ([`super::eviction`]). The next `*_for_scope` builds them again.
    fn evict(&self, _scope: &Scope) {}
}

impl ClientsByScope for elb::Clients {
    fn for_scope(&self, scope: &Scope) -> Result<Arc<dyn ElbApi>, aws::Error> {
        Ok(self.get_as(&scope.region, scope.role.as_ref())?)
    }

    fn evict(&self, scope: &Scope) {
        aws::Regional::evict(self, &scope.region, scope.role.as_ref(), None);
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
        Some(ec2.get_as(&scope.region, scope.role.as_ref()).map(|c| c as Arc<dyn Ec2Api>))
    }

    fn autoscaling_for_scope(&self, scope: &Scope) -> Result<Option<Arc<dyn AutoScalingApi>>, aws::Error> {
        Ok(Some(self.autoscaling.get_as(&scope.region, scope.role.as_ref())?))
    }

    /// From every service: they share the assumed credentials, which go with the last
    /// client that holds them.
    fn evict(&self, scope: &Scope) {
        let (region, role) = (&scope.region, scope.role.as_ref());
        aws::Regional::evict(&self.elb, region, role, None);
        aws::Regional::evict(&self.autoscaling, region, role, None);
        if let Some(ec2) = &self.ec2 {
            aws::Regional::evict(ec2, region, role, None);
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

    /// Eviction through the trait drops the scope's client from the cache, and only it.
    #[test]
    fn evicting_a_scope_drops_its_client() {
        let clients = elb::Clients::new(aws::ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:9", "a", "b"));
        let (home, away) = (Scope { region: "us-east-1".into(), role: None }, Scope { region: "eu-west-1".into(), role: None });
        clients.for_scope(&home).unwrap();
        clients.for_scope(&away).unwrap();
        assert_eq!(clients.cached().0, 2);
        ClientsByScope::evict(&clients, &away);
        assert_eq!(clients.cached().0, 1);
        ClientsByScope::evict(&clients, &away);
        assert_eq!(clients.cached().0, 1, "the other scope's stays");
    }
}
