//! The calls the engine makes: each [`Action`] as exactly one ELB or AutoScaling call, and
//! the reads (the ELB by name, its tags, its instances' health, the Auto Scaling groups).

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Action, Groups, Observed, ObservedGroup};
use crate::autoscaling::{AutoScalingApi, AutoScalingGroup};
use crate::aws;
use crate::elb::{ElbApi, InstanceState, LoadBalancerDescription, PolicyAttribute};

/// The APIs a convergence calls. Without an AutoScaling client, a desired state that names
/// Auto Scaling groups fails with a configuration error (and makes no call).
#[derive(Clone, Copy)]
pub struct Apis<'a> {
    pub elb: &'a dyn ElbApi,
    pub autoscaling: Option<&'a dyn AutoScalingApi>,
}

/// The groups `names`, as one bulk read (DescribeAutoScalingGroups, 50 names a call)
/// reports them; none, no call.
pub async fn observe_groups(
    autoscaling: Option<&dyn AutoScalingApi>,
    elb_name: &str,
    names: BTreeSet<String>,
) -> Result<Groups, aws::Error> {
    if names.is_empty() {
        return Ok(Groups::new());
    }
    let Some(autoscaling) = autoscaling else {
        return Err(aws::Error::Config(format!(
            "load balancer {elb_name} names Auto Scaling groups but no AutoScaling client is configured"
        )));
    };
    let found = autoscaling.describe_auto_scaling_groups(&names.into_iter().collect::<Vec<_>>()).await?;
    Ok(groups_of(elb_name, found))
}

/// The groups as seen from the ELB `elb_name`.
pub(super) fn groups_of(elb_name: &str, found: Vec<AutoScalingGroup>) -> Groups {
    found
        .into_iter()
        .map(|g| {
            let observed = ObservedGroup {
                attached: g.is_attached_to(elb_name),
                instances: g.instances.iter().map(|i| i.instance_id.clone()).collect(),
                zones: g.instances.iter().filter_map(|i| Some((i.instance_id.clone(), i.availability_zone.clone()?))).collect(),
            };
            (g.name, observed)
        })
        .collect()
}

/// The error AWS gives to AttachLoadBalancers naming a group that does not exist
/// (`ValidationError`), made here from the describe instead of spending a call on it.
fn group_not_found(group: &str) -> aws::Error {
    aws::Error::Api {
        action: "AttachLoadBalancers",
        code: "ValidationError".into(),
        message: format!(
            "AutoScalingGroup name not found - AutoScalingGroup '{group}' not found (DescribeAutoScalingGroups does not list it)"
        ),
        request_id: None,
        status: 400,
    }
}

/// Performs one action: exactly one ELB or AutoScaling call (none for a group `groups`
/// says does not exist: that is reported as AWS would).
pub async fn apply_to(apis: Apis<'_>, groups: &Groups, name: &str, action: &Action) -> Result<(), aws::Error> {
    let n = [name.to_string()];
    let autoscaling = || apis.autoscaling.ok_or_else(|| aws::Error::Config("no AutoScaling client is configured".into()));
    match action {
        Action::AttachGroup(g) if !groups.contains_key(g) => Err(group_not_found(g)),
        Action::AttachGroup(g) => autoscaling()?.attach_load_balancers(g, &n).await,
        Action::DetachGroup(g) => autoscaling()?.detach_load_balancers(g, &n).await,
        _ => apply(apis.elb, name, action).await,
    }
}

/// The description of one ELB, `None` when it does not exist.
pub async fn describe(elb: &dyn ElbApi, name: &str) -> Result<Option<LoadBalancerDescription>, aws::Error> {
    match elb.describe_load_balancers(&[name.to_string()]).await {
        Ok(found) => Ok(found.into_iter().find(|d| d.name.eq_ignore_ascii_case(name))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn tags_of(elb: &dyn ElbApi, name: &str) -> Result<BTreeMap<String, String>, aws::Error> {
    let all = elb.describe_tags(&[name.to_string()]).await?;
    let tags = all.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, t)| t.as_slice()).unwrap_or(&[]);
    Ok(Observed::tags_from(tags))
}

/// Performs one ELB action: exactly one ELB call. The Auto Scaling actions are
/// [`apply_to`]'s.
pub async fn apply(elb: &dyn ElbApi, name: &str, action: &Action) -> Result<(), aws::Error> {
    let n = [name.to_string()];
    match action {
        Action::Create(input) => elb.create_load_balancer(input).await.map(drop),
        Action::AddTags(tags) => elb.add_tags(&n, tags).await,
        Action::RemoveTags(keys) => elb.remove_tags(&n, keys).await,
        Action::EnableZones(z) => elb.enable_availability_zones(name, z).await.map(drop),
        Action::DisableZones(z) => elb.disable_availability_zones(name, z).await.map(drop),
        Action::AttachSubnets(s) => elb.attach_subnets(name, s).await.map(drop),
        Action::DetachSubnets(s) => elb.detach_subnets(name, s).await.map(drop),
        Action::ApplySecurityGroups(g) => elb.apply_security_groups(name, g).await.map(drop),
        Action::DeleteListener(port) => elb.delete_load_balancer_listeners(name, &[*port]).await,
        Action::CreateListeners(l) => elb.create_load_balancer_listeners(name, l).await,
        Action::SetListenerCertificate { port, certificate_id } => {
            elb.set_load_balancer_listener_ssl_certificate(name, *port, certificate_id).await
        }
        Action::ConfigureHealthCheck(hc) => elb.configure_health_check(name, hc).await.map(drop),
        Action::ModifyAttributes(a) => elb.modify_load_balancer_attributes(name, a).await.map(drop),
        Action::RegisterInstances(ids) => elb.register_instances(name, ids).await.map(drop),
        Action::DeregisterInstances(ids) => elb.deregister_instances(name, ids).await.map(drop),
        Action::CreateLbCookiePolicy { policy_name, expiration_seconds } => {
            elb.create_lb_cookie_stickiness_policy(name, policy_name, *expiration_seconds).await
        }
        Action::CreateAppCookiePolicy { policy_name, cookie_name } => {
            elb.create_app_cookie_stickiness_policy(name, policy_name, cookie_name).await
        }
        Action::CreateProxyProtocolPolicy { policy_name } => {
            let attributes = [PolicyAttribute { name: "ProxyProtocol".into(), value: "true".into() }];
            elb.create_load_balancer_policy(name, policy_name, "ProxyProtocolPolicyType", &attributes).await
        }
        Action::CreateSslNegotiationPolicy { policy_name, reference } => {
            let attributes = [PolicyAttribute { name: "Reference-Security-Policy".into(), value: reference.clone() }];
            elb.create_load_balancer_policy(name, policy_name, "SSLNegotiationPolicyType", &attributes).await
        }
        Action::SetListenerPolicies { port, policy_names } => elb.set_load_balancer_policies_of_listener(name, *port, policy_names).await,
        Action::SetBackendPolicies { instance_port, policy_names } => {
            elb.set_load_balancer_policies_for_backend_server(name, *instance_port, policy_names).await
        }
        Action::DeletePolicy { policy_name } => elb.delete_load_balancer_policy(name, policy_name).await,
        Action::AttachGroup(_) | Action::DetachGroup(_) => {
            Err(aws::Error::Config(format!("{} is an AutoScaling call, not an ELB one", action.api_action())))
        }
    }
}

/// The health of the registered instances, `None` when the ELB does not exist (any more).
pub async fn poll_health(elb: &dyn ElbApi, name: &str) -> Result<Option<Vec<InstanceState>>, aws::Error> {
    match elb.describe_instance_health(name, &[]).await {
        Ok(h) => Ok(Some(h)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
