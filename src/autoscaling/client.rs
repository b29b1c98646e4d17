//! [`Client`]: the Auto Scaling actions over a [`QueryClient`], and [`Clients`], one client
//! per (role, region).

use super::model::*;
use super::wire;
use crate::aws::config::beside;
use crate::aws::query::{QueryClient, Service, Shape};
use crate::aws::regional::{FromConfig, Regional};
use crate::aws::{paginate, Bucket, ClientConfig, Error, RateLimitConfig, ServiceClient};

/// Auto Scaling over the Query protocol: answers are wrapped in `<Action>Result`, as ELB's.
/// The endpoint variable is the one the AWS SDKs read for this service (its id is
/// "Auto Scaling").
pub static SERVICE: Service = Service {
    name: "autoscaling",
    version: "2011-01-01",
    endpoint_env: "AWS_ENDPOINT_URL_AUTO_SCALING",
    label: "AutoScaling",
    shape: Shape::Wrapped,
};

/// Every action the client can send (kept in step with `docs/iam-policy.json` by a test).
pub const ACTIONS: &[&str] = &["AttachLoadBalancers", "DetachLoadBalancers", "DescribeAutoScalingGroups"];

/// Group names per DescribeAutoScalingGroups call: the API's default limit (50, raised only
/// together with `MaxRecords`, at most 100).
pub const NAMES_BATCH: usize = 50;
/// Bound on pages followed by one batch (a batch of 50 names fits one page of 50 records).
const MAX_PAGES: usize = 100;

/// The Auto Scaling budget when nothing else is configured: its own, apart from ELB's and
/// EC2's, because AWS throttles the services separately and the cluster autoscaler spends
/// the same account's Auto Scaling budget. Attach and detach are rare (a spec change).
pub const RATE_LIMIT: RateLimitConfig =
    RateLimitConfig { describe: Bucket { per_second: 5.0, burst: 10 }, mutate: Bucket { per_second: 2.0, burst: 4 } };

/// The configuration of an Auto Scaling client next to an ELB client's `base`: the same
/// region, credentials, timeouts, retries and write fence (attach and detach are writes);
/// the endpoint from `endpoint`, else `AWS_ENDPOINT_URL_AUTO_SCALING`, else
/// `AWS_ENDPOINT_URL`, else the region's; [`RATE_LIMIT`]; no metrics (the caller attaches
/// `Metrics::autoscaling`).
pub fn client_config(base: &ClientConfig, endpoint: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
    beside(base, &SERVICE, endpoint, env, RATE_LIMIT)
}

/// [`client_config`] over the process environment (an empty variable counts as unset).
pub fn client_config_from_env(base: &ClientConfig, endpoint: Option<&str>) -> Result<ClientConfig, Error> {
    client_config(base, endpoint, &crate::aws::config::process_env)
}

/// The Auto Scaling client of one region. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    query: QueryClient,
}

/// One [`Client`] per (role, region), built on demand (`elb::Clients::beside`).
pub type Clients = Regional<Client>;

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

    async fn load_balancers(&self, action: &'static str, group: &str, load_balancer_names: &[String]) -> Result<(), Error> {
        let mut p = self.query.params(action);
        p.put("AutoScalingGroupName", group).list("LoadBalancerNames", load_balancer_names);
        self.query.call(action, Some(group), p).await.map(drop)
    }
}

#[async_trait::async_trait]
impl AutoScalingApi for Client {
    fn region(&self) -> &str {
        &self.query.config().region
    }

    async fn describe_auto_scaling_groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, Error> {
        const ACTION: &str = "DescribeAutoScalingGroups";
        let mut out = Vec::new();
        for batch in names.chunks(NAMES_BATCH) {
            let resource = (batch.len() == 1).then(|| batch[0].as_str());
            let groups = paginate(ACTION, MAX_PAGES, |token| {
                let mut p = self.query.params(ACTION);
                p.list("AutoScalingGroupNames", batch).put("MaxRecords", NAMES_BATCH).put_opt("NextToken", token);
                let read = |result: crate::aws::xml::Element| Ok((wire::describe_auto_scaling_groups(&result)?, wire::next_token(&result)));
                self.query.call_reading(ACTION, resource, p, read)
            });
            out.extend(groups.await?);
        }
        Ok(out)
    }

    async fn attach_load_balancers(&self, group: &str, load_balancer_names: &[String]) -> Result<(), Error> {
        self.load_balancers("AttachLoadBalancers", group, load_balancer_names).await
    }

    async fn detach_load_balancers(&self, group: &str, load_balancer_names: &[String]) -> Result<(), Error> {
        self.load_balancers("DetachLoadBalancers", group, load_balancer_names).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_config_shares_credentials_and_fence_with_elb_but_not_endpoint_or_budget() {
        let fence = crate::aws::Fence::default();
        let elb = ClientConfig::for_endpoint("eu-west-1", "http://127.0.0.1:1", "AK", "SK").with_fence(fence);
        let c = client_config(&elb, None, &vars(&[])).unwrap();
        assert_eq!(c.endpoint_url(SERVICE.name), "https://autoscaling.eu-west-1.amazonaws.com");
        assert_eq!(c.credentials.identity(), elb.credentials.identity());
        assert_eq!(c.rate_limit, RATE_LIMIT);
        assert!(c.fence.is_some(), "attach and detach are writes: the lease fences them");
        let env = vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2"), ("AWS_ENDPOINT_URL_AUTO_SCALING", "http://127.0.0.1:3")]);
        assert_eq!(client_config(&elb, None, &env).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:3"));
        let all = vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2")]);
        assert_eq!(client_config(&elb, None, &all).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:2"));
    }
}
