//! [`Client`]: the Classic ELB client, and [`Clients`], one client per region.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::*;
use super::wire::{self, ElbParams, SERVICE};
use crate::aws::query::{Params, QueryClient, Service};
use crate::aws::rate_limit::RateLimiter;
use crate::aws::regional::{FromConfig, Regional};
use crate::aws::xml::Element;
use crate::aws::{paginate, ClientConfig, DecodeError, Error, ServiceClient};

/// Every action the client can send (kept in step with `docs/iam-policy.json` by a test).
pub const ACTIONS: &[&str] = &[
    "AddTags",
    "ApplySecurityGroupsToLoadBalancer",
    "AttachLoadBalancerToSubnets",
    "ConfigureHealthCheck",
    "CreateAppCookieStickinessPolicy",
    "CreateLBCookieStickinessPolicy",
    "CreateLoadBalancer",
    "CreateLoadBalancerListeners",
    "CreateLoadBalancerPolicy",
    "DeleteLoadBalancer",
    "DeleteLoadBalancerListeners",
    "DeleteLoadBalancerPolicy",
    "DeregisterInstancesFromLoadBalancer",
    "DescribeInstanceHealth",
    "DescribeLoadBalancerAttributes",
    "DescribeLoadBalancerPolicies",
    "DescribeLoadBalancers",
    "DescribeTags",
    "DetachLoadBalancerFromSubnets",
    "DisableAvailabilityZonesForLoadBalancer",
    "EnableAvailabilityZonesForLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "RegisterInstancesWithLoadBalancer",
    "RemoveTags",
    "SetLoadBalancerListenerSSLCertificate",
    "SetLoadBalancerPoliciesForBackendServer",
    "SetLoadBalancerPoliciesOfListener",
];

/// DescribeTags accepts at most this many names per call.
pub const DESCRIBE_TAGS_BATCH: usize = 20;
/// Bound on DescribeLoadBalancers pages followed by one call.
const MAX_PAGES: usize = 10_000;

/// The Classic ELB client of one region: the ELB actions over a [`QueryClient`], which does
/// the signing, retries, budget, fence and metrics. Cheap to clone: clones share the HTTP
/// pool, credential cache, rate limiter and retry quota.
#[derive(Clone, Debug)]
pub struct Client {
    query: QueryClient,
}

impl ServiceClient for Client {
    const SERVICE: &'static Service = &SERVICE;

    fn from_query(query: QueryClient) -> Client {
        Client { query }
    }

    fn query(&self) -> &QueryClient {
        &self.query
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        Client::from_config(config)
    }

    /// [`ServiceClient::config`], without importing the trait (callers of the ELB client
    /// read its configuration to build a variant).
    pub fn config(&self) -> &ClientConfig {
        self.query.config()
    }

    /// Tokens left in the retry quota.
    pub fn retry_quota_available(&self) -> u32 {
        self.query.retry_quota_available()
    }

    async fn call(&self, action: &'static str, load_balancer: Option<&str>, params: Params) -> Result<Element, Error> {
        self.query.call(action, load_balancer, params).await
    }

    async fn call_reading<T>(
        &self,
        action: &'static str,
        load_balancer: Option<&str>,
        params: Params,
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        self.query.call_reading(action, load_balancer, params, read).await
    }

    /// A call on one named load balancer, its parameters completed by `build`.
    async fn simple(&self, action: &'static str, name: &str, build: impl FnOnce(&mut Params)) -> Result<Element, Error> {
        self.simple_reading(action, name, build, Ok).await
    }

    /// [`simple`](Self::simple) with its result read as in [`QueryClient::call_reading`].
    async fn simple_reading<T>(
        &self,
        action: &'static str,
        name: &str,
        build: impl FnOnce(&mut Params),
        read: impl Fn(Element) -> Result<T, DecodeError>,
    ) -> Result<T, Error> {
        let mut p = wire::params(action);
        p.put("LoadBalancerName", name);
        build(&mut p);
        self.call_reading(action, Some(name), p, read).await
    }
}

#[async_trait::async_trait]
impl ElbApi for Client {
    fn budget(&self) -> Option<Arc<RateLimiter>> {
        Some(self.query.limiter().clone())
    }

    fn region(&self) -> &str {
        &self.query.config().region
    }

    async fn create_load_balancer(&self, input: &CreateLoadBalancerInput) -> Result<String, Error> {
        let r = self.call("CreateLoadBalancer", Some(&input.name), wire::create_load_balancer(input)).await?;
        Ok(r.string("DNSName"))
    }

    async fn delete_load_balancer(&self, name: &str) -> Result<(), Error> {
        self.simple("DeleteLoadBalancer", name, |_| {}).await.map(drop)
    }

    async fn describe_load_balancers(&self, names: &[String]) -> Result<Vec<LoadBalancerDescription>, Error> {
        let lb = (names.len() == 1).then(|| names[0].as_str());
        paginate("DescribeLoadBalancers", MAX_PAGES, |marker| {
            let mut p = wire::params("DescribeLoadBalancers");
            p.list("LoadBalancerNames", names);
            if names.is_empty() {
                p.put_opt("PageSize", self.query.config().page_size);
            }
            p.put_opt("Marker", marker);
            self.call_reading("DescribeLoadBalancers", lb, p, |r| wire::describe_load_balancers(&r))
        })
        .await
    }

    async fn create_load_balancer_listeners(&self, name: &str, listeners: &[Listener]) -> Result<(), Error> {
        self.simple("CreateLoadBalancerListeners", name, |p| {
            p.listeners(listeners);
        })
        .await
        .map(drop)
    }

    async fn delete_load_balancer_listeners(&self, name: &str, ports: &[u16]) -> Result<(), Error> {
        // One port per call: the API accepts several, but a partial failure would leave an
        // unknown subset deleted (and moto mishandles several ports in one call).
        for port in ports {
            self.simple("DeleteLoadBalancerListeners", name, |p| {
                p.list("LoadBalancerPorts", &[port.to_string()]);
            })
            .await?;
        }
        Ok(())
    }

    async fn set_load_balancer_listener_ssl_certificate(&self, name: &str, port: u16, certificate_id: &str) -> Result<(), Error> {
        self.simple("SetLoadBalancerListenerSSLCertificate", name, |p| {
            p.put("LoadBalancerPort", port).put("SSLCertificateId", certificate_id);
        })
        .await
        .map(drop)
    }

    async fn configure_health_check(&self, name: &str, health_check: &HealthCheck) -> Result<HealthCheck, Error> {
        // The API echoes the health check it applied; without the echo, it applied ours.
        let read = |r: Element| match r.child("HealthCheck") {
            Some(applied) => wire::health_check_of(applied),
            None => Ok(health_check.clone()),
        };
        self.simple_reading("ConfigureHealthCheck", name, |p| wire::health_check(p, health_check), read).await
    }

    async fn register_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("RegisterInstancesWithLoadBalancer", name, |p| {
                p.instances(instance_ids);
            })
            .await?;
        Ok(wire::instance_ids(&r))
    }

    async fn deregister_instances(&self, name: &str, instance_ids: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("DeregisterInstancesFromLoadBalancer", name, |p| {
                p.instances(instance_ids);
            })
            .await?;
        Ok(wire::instance_ids(&r))
    }

    async fn describe_instance_health(&self, name: &str, instance_ids: &[String]) -> Result<Vec<InstanceState>, Error> {
        let r = self
            .simple("DescribeInstanceHealth", name, |p| {
                p.instances(instance_ids);
            })
            .await?;
        Ok(wire::instance_states(&r))
    }

    async fn enable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("EnableAvailabilityZonesForLoadBalancer", name, |p| {
                p.list("AvailabilityZones", zones);
            })
            .await?;
        Ok(r.member_strings("AvailabilityZones"))
    }

    async fn disable_availability_zones(&self, name: &str, zones: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("DisableAvailabilityZonesForLoadBalancer", name, |p| {
                p.list("AvailabilityZones", zones);
            })
            .await?;
        Ok(r.member_strings("AvailabilityZones"))
    }

    async fn attach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("AttachLoadBalancerToSubnets", name, |p| {
                p.list("Subnets", subnets);
            })
            .await?;
        Ok(r.member_strings("Subnets"))
    }

    async fn detach_subnets(&self, name: &str, subnets: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("DetachLoadBalancerFromSubnets", name, |p| {
                p.list("Subnets", subnets);
            })
            .await?;
        Ok(r.member_strings("Subnets"))
    }

    async fn apply_security_groups(&self, name: &str, groups: &[String]) -> Result<Vec<String>, Error> {
        let r = self
            .simple("ApplySecurityGroupsToLoadBalancer", name, |p| {
                p.list("SecurityGroups", groups);
            })
            .await?;
        Ok(r.member_strings("SecurityGroups"))
    }

    async fn describe_load_balancer_attributes(&self, name: &str) -> Result<LoadBalancerAttributes, Error> {
        self.simple_reading("DescribeLoadBalancerAttributes", name, |_| {}, |r| wire::load_balancer_attributes(&r)).await
    }

    async fn modify_load_balancer_attributes(
        &self,
        name: &str,
        attributes: &LoadBalancerAttributes,
    ) -> Result<LoadBalancerAttributes, Error> {
        let read = |r: Element| wire::load_balancer_attributes(&r);
        self.simple_reading("ModifyLoadBalancerAttributes", name, |p| wire::attributes(p, attributes), read).await
    }

    async fn add_tags(&self, names: &[String], tags: &[Tag]) -> Result<(), Error> {
        // AddTags and RemoveTags accept one load balancer name per call.
        for name in names {
            let mut p = wire::params("AddTags");
            p.list("LoadBalancerNames", std::slice::from_ref(name)).tags(tags);
            self.call("AddTags", Some(name), p).await?;
        }
        Ok(())
    }

    async fn remove_tags(&self, names: &[String], keys: &[String]) -> Result<(), Error> {
        for name in names {
            let mut p = wire::params("RemoveTags");
            p.list("LoadBalancerNames", std::slice::from_ref(name));
            for (i, k) in keys.iter().enumerate() {
                p.put(format!("Tags.member.{}.Key", i + 1), k);
            }
            self.call("RemoveTags", Some(name), p).await?;
        }
        Ok(())
    }

    async fn describe_tags(&self, names: &[String]) -> Result<BTreeMap<String, Vec<Tag>>, Error> {
        let mut out = BTreeMap::new();
        for chunk in names.chunks(DESCRIBE_TAGS_BATCH) {
            let mut p = wire::params("DescribeTags");
            p.list("LoadBalancerNames", chunk);
            let lb = (chunk.len() == 1).then(|| chunk[0].as_str());
            let r = self.call("DescribeTags", lb, p).await?;
            out.extend(wire::tag_descriptions(&r));
        }
        Ok(out)
    }

    async fn create_load_balancer_policy(
        &self,
        name: &str,
        policy_name: &str,
        policy_type_name: &str,
        attributes: &[PolicyAttribute],
    ) -> Result<(), Error> {
        self.simple("CreateLoadBalancerPolicy", name, |p| {
            p.put("PolicyName", policy_name).put("PolicyTypeName", policy_type_name);
            for (i, a) in attributes.iter().enumerate() {
                p.put(format!("PolicyAttributes.member.{}.AttributeName", i + 1), &a.name);
                p.put(format!("PolicyAttributes.member.{}.AttributeValue", i + 1), &a.value);
            }
        })
        .await
        .map(drop)
    }

    async fn delete_load_balancer_policy(&self, name: &str, policy_name: &str) -> Result<(), Error> {
        self.simple("DeleteLoadBalancerPolicy", name, |p| {
            p.put("PolicyName", policy_name);
        })
        .await
        .map(drop)
    }

    async fn describe_load_balancer_policies(&self, name: &str, policy_names: &[String]) -> Result<Vec<PolicyDescription>, Error> {
        let r = self
            .simple("DescribeLoadBalancerPolicies", name, |p| {
                p.list("PolicyNames", policy_names);
            })
            .await?;
        Ok(wire::policy_descriptions(&r))
    }

    async fn create_lb_cookie_stickiness_policy(
        &self,
        name: &str,
        policy_name: &str,
        cookie_expiration_period: Option<i64>,
    ) -> Result<(), Error> {
        self.simple("CreateLBCookieStickinessPolicy", name, |p| {
            p.put("PolicyName", policy_name).put_opt("CookieExpirationPeriod", cookie_expiration_period);
        })
        .await
        .map(drop)
    }

    async fn create_app_cookie_stickiness_policy(&self, name: &str, policy_name: &str, cookie_name: &str) -> Result<(), Error> {
        self.simple("CreateAppCookieStickinessPolicy", name, |p| {
            p.put("PolicyName", policy_name).put("CookieName", cookie_name);
        })
        .await
        .map(drop)
    }

    async fn set_load_balancer_policies_of_listener(&self, name: &str, port: u16, policy_names: &[String]) -> Result<(), Error> {
        self.simple("SetLoadBalancerPoliciesOfListener", name, |p| {
            p.put("LoadBalancerPort", port);
            policies(p, policy_names);
        })
        .await
        .map(drop)
    }

    async fn set_load_balancer_policies_for_backend_server(
        &self,
        name: &str,
        instance_port: u16,
        policy_names: &[String],
    ) -> Result<(), Error> {
        self.simple("SetLoadBalancerPoliciesForBackendServer", name, |p| {
            p.put("InstancePort", instance_port);
            policies(p, policy_names);
        })
        .await
        .map(drop)
    }
}

/// `PolicyNames.member.N`, or an empty `PolicyNames=` to remove every policy (the Query
/// protocol's encoding of an empty list).
fn policies(p: &mut Params, names: &[String]) {
    if names.is_empty() {
        p.put("PolicyNames", "");
    } else {
        p.list("PolicyNames", names);
    }
}

/// One [`Client`] per (role, region), built on demand from a base configuration.
pub type Clients = Regional<Client>;
