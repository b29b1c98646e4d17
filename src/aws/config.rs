//! Client configuration of one Query API: region, endpoint, credentials, timeouts, retries,
//! rate limits. The ELB client's flags (`ElbArgs`) are in `crate::elb::config`.

use std::time::Duration;

use super::credentials::{self, SharedCredentials};
use super::metrics::ApiMetrics;
use super::rate_limit::RateLimitConfig;
use super::retry::RetryConfig;
use super::service::Service;
use super::Error;

/// A credential chain: `(env, region, sts_endpoint)` → the credentials source it picks
/// ([`credentials::default_chain`] or [`credentials::cli_chain`]).
type CredentialChain = fn(&dyn Fn(&str) -> Option<String>, &str, &str) -> Result<SharedCredentials, Error>;

/// Environment variable overriding every AWS endpoint (after the service's own variable).
pub const ENV_ENDPOINT_ALL: &str = "AWS_ENDPOINT_URL";
/// Environment variable overriding the STS endpoint (web identity).
pub const ENV_ENDPOINT_STS: &str = "AWS_ENDPOINT_URL_STS";

/// The largest `PageSize` DescribeLoadBalancers accepts.
pub const MAX_PAGE_SIZE: u32 = 400;

/// Everything a [`QueryClient`](super::query::QueryClient) needs. Clone it to build clients
/// for other regions or services: clones share the credential cache.
#[derive(Clone)]
pub struct ClientConfig {
    pub region: String,
    /// Endpoint URL of the service the client is for; `None` means its public endpoint in
    /// the region.
    pub endpoint: Option<String>,
    pub credentials: SharedCredentials,
    /// Limit on one HTTP attempt (connect, send, read the whole body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryConfig,
    pub rate_limit: RateLimitConfig,
    /// Prometheus metrics; `None` records nothing.
    pub metrics: Option<ApiMetrics>,
    /// Page size of paginated describes: `PageSize` of DescribeLoadBalancers (1..=400),
    /// `MaxResults` of the EC2 reads (brought into 5..=1000); `None` lets the API choose
    /// (the EC2 client then asks for 1000). Defaults to the largest ELB page: an inventory
    /// pass costs ⌈N/400⌉ calls.
    pub page_size: Option<u32>,
    /// With leader election: mutating calls are sent only while the fence allows.
    pub fence: Option<super::Fence>,
    /// STS endpoint URL for AssumeRole (`spec.roleArn`): `AWS_ENDPOINT_URL_STS`, else
    /// `AWS_ENDPOINT_URL`, else the region's; `None` means the region's public endpoint.
    pub sts_endpoint: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("metrics", &self.metrics.is_some())
            .field("page_size", &self.page_size)
            .field("sts_endpoint", &self.sts_endpoint)
            .finish()
    }
}

impl ClientConfig {
    /// Static keys and an explicit endpoint (tests against moto, local fault servers).
    pub fn for_endpoint(region: &str, endpoint: &str, access_key_id: &str, secret_access_key: &str) -> ClientConfig {
        let mut c = Self::with_credentials(
            region,
            Some(endpoint.to_string()),
            SharedCredentials::from_keys(access_key_id, secret_access_key, None),
        );
        // One local server (moto) answers every service.
        c.sts_endpoint = Some(endpoint.to_string());
        c
    }

    /// Defaults around the given credentials.
    pub fn with_credentials(region: &str, endpoint: Option<String>, credentials: SharedCredentials) -> ClientConfig {
        ClientConfig {
            region: region.to_string(),
            endpoint,
            credentials,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retry: RetryConfig::default(),
            rate_limit: RateLimitConfig::default(),
            metrics: None,
            page_size: Some(MAX_PAGE_SIZE),
            fence: None,
            sts_endpoint: None,
        }
    }

    /// The AWS default credential chain, the endpoint override of `service`
    /// ([`endpoint_from_vars`]) and `AWS_MAX_ATTEMPTS` from the variables `env` looks up (the
    /// process environment in `ElbArgs::client_config_from_env`). An empty `region` falls back
    /// to `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub fn from_vars(service: &Service, region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        Self::from_vars_with_chain(service, region, env, credentials::default_chain)
    }

    /// [`from_vars`](Self::from_vars) with the command-line commands' chain
    /// ([`credentials::cli_chain`]: AWS CLI profiles with `source_profile` roles,
    /// `credential_process` and SSO).
    pub fn from_vars_for_cli(service: &Service, region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        Self::from_vars_with_chain(service, region, env, credentials::cli_chain)
    }

    fn from_vars_with_chain(
        service: &Service,
        region: &str,
        env: &dyn Fn(&str) -> Option<String>,
        chain: CredentialChain,
    ) -> Result<ClientConfig, Error> {
        let region = if region.is_empty() {
            env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .ok_or_else(|| Error::Config("no region: pass --region or set AWS_REGION".into()))?
        } else {
            region.to_string()
        };
        let endpoint = endpoint_from_vars(service, env)?;
        let sts_endpoint = env(ENV_ENDPOINT_STS).or_else(|| env(ENV_ENDPOINT_ALL)).unwrap_or_else(|| default_endpoint("sts", &region));
        let credentials = chain(env, &region, &sts_endpoint)?;
        let mut c = Self::with_credentials(&region, endpoint, credentials);
        c.sts_endpoint = env(ENV_ENDPOINT_STS).or_else(|| env(ENV_ENDPOINT_ALL));
        if let Some(n) = env("AWS_MAX_ATTEMPTS") {
            let n: u32 = n.parse().map_err(|_| Error::Config(format!("AWS_MAX_ATTEMPTS={n:?} is not a number")))?;
            c = c.with_max_attempts(n);
        }
        Ok(c)
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts.max(1);
        self
    }
    pub fn with_rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = rate_limit;
        self
    }
    pub fn with_metrics(mut self, metrics: ApiMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
    pub fn with_fence(mut self, fence: super::Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = region.to_string();
        self
    }

    /// The endpoint URL requests go to, for a client of `service` (its SigV4 name).
    pub fn endpoint_url(&self, service: &str) -> String {
        self.endpoint.clone().unwrap_or_else(|| default_endpoint(service, &self.region))
    }
}

/// A variable of the process environment; an empty one counts as unset. The `env` of
/// [`ClientConfig::from_vars`] and [`beside`] outside tests.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `https://{service}.{region}.amazonaws.com`, `.amazonaws.com.cn` in China regions.
pub fn default_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{service}.{region}.{suffix}")
}

/// The endpoint override of `service` in the variables `env` looks up: its own variable
/// (`AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING`, `AWS_ENDPOINT_URL_EC2`), else
/// `AWS_ENDPOINT_URL`; `None` for its public endpoint.
pub fn endpoint_from_vars(service: &Service, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, Error> {
    env(service.endpoint_env).or_else(|| env(ENV_ENDPOINT_ALL)).as_deref().map(normalize_endpoint).transpose()
}

/// The configuration of a client of `service` next to a base client's (the ELB client's):
/// the same region, credentials (and their cache), timeouts, retries and write fence; the
/// service's endpoint (`endpoint`, else its variable, else `AWS_ENDPOINT_URL`, else the
/// region's, as `env` looks them up); `rate_limit`, a budget of its own; no metrics (the
/// caller attaches the service's own) and the API's default page size.
pub fn beside(
    base: &ClientConfig,
    service: &Service,
    endpoint: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    rate_limit: RateLimitConfig,
) -> Result<ClientConfig, Error> {
    let endpoint = match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(normalize_endpoint(e)?),
        None => endpoint_from_vars(service, env)?,
    };
    Ok(ClientConfig { endpoint, rate_limit, metrics: None, page_size: None, ..base.clone() })
}

/// An endpoint override checked to be an http(s) URL, without its trailing slashes (the
/// client appends the path).
pub fn normalize_endpoint(e: &str) -> Result<String, Error> {
    let u = url::Url::parse(e).map_err(|err| Error::Config(format!("endpoint {e:?}: {err}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Error::Config(format!("endpoint {e:?} is not an http(s) URL")));
    }
    Ok(e.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::service::Shape;

    // Two services as the ELB and EC2 clients describe theirs (this module sits below them).
    static ELB: Service = Service {
        name: "elasticloadbalancing",
        version: "2012-06-01",
        endpoint_env: "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
        label: "ELB",
        shape: Shape::Wrapped,
    };
    static EC2: Service =
        Service { name: "ec2", version: "2016-11-15", endpoint_env: "AWS_ENDPOINT_URL_EC2", label: "EC2", shape: Shape::Bare };
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn default_endpoints() {
        assert_eq!(default_endpoint("elasticloadbalancing", "eu-west-1"), "https://elasticloadbalancing.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("elasticloadbalancing", "cn-north-1"), "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn endpoint_overrides_in_order() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")];
        let c = ClientConfig::from_vars(&ELB, "us-east-1", &vars(&keys)).unwrap();
        assert_eq!(c.endpoint_url(ELB.name), "https://elasticloadbalancing.us-east-1.amazonaws.com");
        let all = [keys[0], keys[1], (ENV_ENDPOINT_ALL, "http://127.0.0.1:1/")];
        assert_eq!(ClientConfig::from_vars(&ELB, "us-east-1", &vars(&all)).unwrap().endpoint_url(ELB.name), "http://127.0.0.1:1");
        let both = [keys[0], keys[1], (ENV_ENDPOINT_ALL, "http://127.0.0.1:1"), (ELB.endpoint_env, "http://127.0.0.1:2")];
        assert_eq!(ClientConfig::from_vars(&ELB, "us-east-1", &vars(&both)).unwrap().endpoint_url(ELB.name), "http://127.0.0.1:2");
        let bad = [keys[0], keys[1], (ELB.endpoint_env, "not a url")];
        assert!(matches!(ClientConfig::from_vars(&ELB, "us-east-1", &vars(&bad)), Err(Error::Config(_))));
        // Another service reads its own variable, and shares AWS_ENDPOINT_URL.
        assert_eq!(endpoint_from_vars(&EC2, &vars(&both)).unwrap().as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(endpoint_from_vars(&EC2, &vars(&keys)).unwrap(), None);
    }

    #[test]
    fn max_attempts_from_environment() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_MAX_ATTEMPTS", "5")];
        assert_eq!(ClientConfig::from_vars(&ELB, "us-east-1", &vars(&keys)).unwrap().retry.max_attempts, 5);
        let bad = [keys[0], keys[1], ("AWS_MAX_ATTEMPTS", "many")];
        assert!(ClientConfig::from_vars(&ELB, "us-east-1", &vars(&bad)).is_err());
    }

    #[test]
    fn region_from_environment() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_DEFAULT_REGION", "eu-central-1")];
        assert_eq!(ClientConfig::from_vars(&ELB, "", &vars(&keys)).unwrap().region, "eu-central-1");
        let keys2 = [keys[0], keys[1], keys[2], ("AWS_REGION", "ap-south-1")];
        assert_eq!(ClientConfig::from_vars(&ELB, "", &vars(&keys2)).unwrap().region, "ap-south-1");
        assert_eq!(ClientConfig::from_vars(&ELB, "us-west-2", &vars(&keys2)).unwrap().region, "us-west-2");
        assert!(ClientConfig::from_vars(&ELB, "", &vars(&keys[..2])).is_err());
    }
}
