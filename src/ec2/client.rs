//! [`Client`]: the EC2 reads over a [`QueryClient`], and [`Clients`], one client per region.

use super::model::*;
use super::wire;
use crate::aws::config::beside;
use crate::aws::query::{Params, QueryClient, Service, Shape};
use crate::aws::regional::{FromConfig, Regional};
use crate::aws::xml::Element;
use crate::aws::{paginate, Bucket, ClientConfig, DecodeError, Error, RateLimitConfig, ServiceClient};

/// EC2 over the Query protocol: answers hold their fields directly, errors come as
/// `Response/Errors/Error`.
pub static SERVICE: Service =
    Service { name: "ec2", version: "2016-11-15", endpoint_env: "AWS_ENDPOINT_URL_EC2", label: "EC2", shape: Shape::Bare };

/// Every action the client can send (kept in step with `docs/iam-policy.json` by a test).
pub const ACTIONS: &[&str] = &["DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets"];

/// Values per filter in one call: AWS accepts up to 200; fewer keeps a page small.
pub const FILTER_BATCH: usize = 100;
/// `MaxResults` of a page: the largest EC2 accepts for these reads, and the smallest.
const PAGE_SIZE: std::ops::RangeInclusive<u32> = 5..=1000;
/// Bound on pages followed by one call.
const MAX_PAGES: usize = 1000;

/// The EC2 budget when nothing else is configured: a small share of the account's EC2 read
/// budget, which the cluster's other controllers (autoscaler, CNI, cloud controller) depend
/// on. The client makes no mutating call; its mutate bucket only exists to be complete.
pub const RATE_LIMIT: RateLimitConfig =
    RateLimitConfig { describe: Bucket { per_second: 5.0, burst: 10 }, mutate: Bucket { per_second: 1.0, burst: 1 } };

/// The configuration of an EC2 client next to an ELB client's `base`: the same region,
/// credentials (and their cache), timeouts and retries; the EC2 endpoint (`endpoint`, else
/// `AWS_ENDPOINT_URL_EC2`, else `AWS_ENDPOINT_URL`, else the region's, as `env` looks them
/// up); [`RATE_LIMIT`]; no fence (nothing to fence) and no metrics (the caller attaches its
/// own, e.g. `Metrics::ec2`).
pub fn client_config(base: &ClientConfig, endpoint: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
    Ok(ClientConfig { fence: None, ..beside(base, &SERVICE, endpoint, env, RATE_LIMIT)? })
}

/// [`client_config`] over the process environment (an empty variable counts as unset).
pub fn client_config_from_env(base: &ClientConfig, endpoint: Option<&str>) -> Result<ClientConfig, Error> {
    client_config(base, endpoint, &crate::aws::config::process_env)
}

/// The EC2 client of one region (reads only). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    query: QueryClient,
}

/// One [`Client`] per region, built on demand from a base configuration.
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

    /// Every page of `action` for each batch of `values` of the filter `name` (plus the
    /// filters `more` adds), read by `read`. No values, no call: a describe without a filter
    /// would list the whole region.
    async fn filtered<T>(
        &self,
        action: &'static str,
        name: &str,
        values: &[String],
        more: impl Fn(&mut Params),
        read: impl Fn(&Element) -> Result<Vec<T>, DecodeError>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let page_size = self.query.config().page_size.unwrap_or(*PAGE_SIZE.end()).clamp(*PAGE_SIZE.start(), *PAGE_SIZE.end());
        for batch in values.chunks(FILTER_BATCH) {
            let resource = (batch.len() == 1).then(|| batch[0].as_str());
            let pages = paginate(action, MAX_PAGES, |token| {
                let mut p = self.query.params(action);
                wire::filter(&mut p, 1, name, batch);
                more(&mut p);
                p.put("MaxResults", page_size).put_opt("NextToken", token);
                let read_page = |root: Element| Ok((read(&root)?, wire::next_token(&root)));
                self.query.call_reading(action, resource, p, read_page)
            });
            out.extend(pages.await?);
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Ec2Api for Client {
    fn region(&self) -> &str {
        &self.query.config().region
    }

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<InstanceNetwork>, Error> {
        self.filtered("DescribeInstances", "instance-id", instance_ids, |_| {}, |r| Ok(wire::describe_instances(r))).await
    }

    async fn describe_security_groups(&self, group_ids: &[String]) -> Result<Vec<SecurityGroup>, Error> {
        self.filtered("DescribeSecurityGroups", "group-id", group_ids, |_| {}, wire::describe_security_groups).await
    }

    async fn describe_security_groups_by_name(&self, names: &[String], vpc_id: Option<&str>) -> Result<Vec<SecurityGroup>, Error> {
        let vpc = |p: &mut Params| {
            if let Some(v) = vpc_id {
                wire::filter(p, 2, "vpc-id", &[v]);
            }
        };
        self.filtered("DescribeSecurityGroups", "group-name", names, vpc, wire::describe_security_groups).await
    }

    async fn describe_subnets(&self, subnet_ids: &[String]) -> Result<Vec<Subnet>, Error> {
        self.filtered("DescribeSubnets", "subnet-id", subnet_ids, |_| {}, wire::describe_subnets).await
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
    fn the_ec2_config_shares_the_elb_credentials_and_knobs_but_not_endpoint_budget_or_fence() {
        let elb = ClientConfig::for_endpoint("eu-west-1", "http://127.0.0.1:1", "AK", "SK")
            .with_max_attempts(5)
            .with_fence(crate::aws::Fence::default());
        let c = client_config(&elb, None, &vars(&[])).unwrap();
        assert_eq!(c.endpoint, None, "the ELB endpoint is not EC2's");
        assert_eq!(c.endpoint_url(SERVICE.name), "https://ec2.eu-west-1.amazonaws.com");
        assert_eq!((c.region.as_str(), c.retry.max_attempts, c.timeout), ("eu-west-1", 5, elb.timeout));
        assert_eq!(c.credentials.identity(), elb.credentials.identity());
        assert_eq!(c.rate_limit, RATE_LIMIT);
        assert!(c.fence.is_none() && c.metrics.is_none());
        let env = vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:2"), ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:3/")]);
        assert_eq!(client_config(&elb, None, &env).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:3"));
        assert_eq!(client_config(&elb, Some("http://127.0.0.1:4"), &env).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:4"));
        assert_eq!(client_config(&elb, Some(" "), &env).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:3"), "blank is not given");
        assert!(matches!(client_config(&elb, Some("ftp://x"), &env), Err(Error::Config(_))));
    }
}
