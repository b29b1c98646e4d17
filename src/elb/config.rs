//! Client configuration: region, endpoint, credentials, timeouts, retries, rate limits.

use std::time::Duration;

use super::credentials::{self, SharedCredentials};
use super::rate_limit::{Bucket, RateLimitConfig};
use super::retry::RetryConfig;
use super::Error;
use crate::telemetry::ElbMetrics;

/// Environment variable overriding the ELB endpoint.
pub const ENV_ENDPOINT_ELB: &str = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING";
/// Environment variable overriding every AWS endpoint.
pub const ENV_ENDPOINT_ALL: &str = "AWS_ENDPOINT_URL";
/// Environment variable overriding the STS endpoint (web identity).
pub const ENV_ENDPOINT_STS: &str = "AWS_ENDPOINT_URL_STS";

/// Everything a [`Client`](super::Client) needs. Clone it to build clients for other
/// regions: clones share the credential cache.
#[derive(Clone)]
pub struct ClientConfig {
    pub region: String,
    /// Endpoint URL; `None` means the public endpoint of the region.
    pub endpoint: Option<String>,
    pub credentials: SharedCredentials,
    /// Limit on one HTTP attempt (connect, send, read the whole body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryConfig,
    pub rate_limit: RateLimitConfig,
    /// Prometheus metrics; `None` records nothing.
    pub metrics: Option<ElbMetrics>,
    /// `PageSize` of DescribeLoadBalancers (1..=400; default 400, the most AWS allows);
    /// `None` lets the API choose.
    pub page_size: Option<u32>,
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
            .finish()
    }
}

impl ClientConfig {
    /// Static keys and an explicit endpoint (tests against moto, local fault servers).
    pub fn for_endpoint(region: &str, endpoint: &str, access_key_id: &str, secret_access_key: &str) -> ClientConfig {
        Self::with_credentials(region, Some(endpoint.to_string()), SharedCredentials::from_keys(access_key_id, secret_access_key, None))
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
            // AWS's documented default, sent explicitly: other endpoints (moto: 50) page
            // differently, and an inventory pass should cost ⌈N/400⌉ pages everywhere.
            page_size: Some(400),
        }
    }

    /// The AWS default credential chain and endpoint overrides from the process environment.
    /// An empty `region` falls back to `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub fn from_env(region: &str) -> Result<ClientConfig, Error> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self::from_vars(region, &env)
    }

    /// [`from_env`](Self::from_env) over any variable lookup (tests pass a map).
    pub fn from_vars(region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        let region = if region.is_empty() {
            env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).ok_or_else(|| {
                Error::Config("no region: pass --region or set AWS_REGION".into())
            })?
        } else {
            region.to_string()
        };
        let endpoint = env(ENV_ENDPOINT_ELB).or_else(|| env(ENV_ENDPOINT_ALL));
        let sts_endpoint = env(ENV_ENDPOINT_STS)
            .or_else(|| env(ENV_ENDPOINT_ALL))
            .unwrap_or_else(|| default_endpoint("sts", &region));
        let credentials = credentials::default_chain(env, &region, &sts_endpoint)?;
        let mut c = Self::with_credentials(&region, endpoint, credentials);
        if let Some(n) = env("AWS_MAX_ATTEMPTS") {
            let n: u32 = n.parse().map_err(|_| Error::Config(format!("AWS_MAX_ATTEMPTS={n:?} is not a number")))?;
            c = c.with_max_attempts(n);
        }
        if let Some(e) = &c.endpoint {
            validate_endpoint(e)?;
        }
        c.endpoint = c.endpoint.map(|e| e.trim_end_matches('/').to_string());
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
    pub fn with_metrics(mut self, metrics: ElbMetrics) -> Self {
        self.metrics = Some(metrics);
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

    /// The endpoint URL requests go to.
    pub fn endpoint_url(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| default_endpoint("elasticloadbalancing", &self.region))
    }
}

/// Command-line flags (each also read from an environment variable) for the client's knobs.
/// The operator's `run` command flattens this into its arguments.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ElbArgs {
    /// Timeout of one ELB HTTP attempt, in seconds.
    #[arg(long = "elb-timeout-seconds", env = "ELB_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub timeout_seconds: f64,
    /// Attempts per ELB call, the first included (AWS standard retry mode: 3).
    #[arg(long = "elb-max-attempts", env = "ELB_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// Sustained Describe* calls per second, per credentials and region.
    #[arg(long = "elb-describe-rate", env = "ELB_DESCRIBE_RATE", default_value_t = 10.0)]
    pub describe_rate: f64,
    /// Describe* calls allowed in a burst.
    #[arg(long = "elb-describe-burst", env = "ELB_DESCRIBE_BURST", default_value_t = 20)]
    pub describe_burst: u32,
    /// Sustained mutating calls per second, per credentials and region.
    #[arg(long = "elb-mutate-rate", env = "ELB_MUTATE_RATE", default_value_t = 4.0)]
    pub mutate_rate: f64,
    /// Mutating calls allowed in a burst.
    #[arg(long = "elb-mutate-burst", env = "ELB_MUTATE_BURST", default_value_t = 8)]
    pub mutate_burst: u32,
}

impl ElbArgs {
    /// Applies the flags to a configuration.
    pub fn apply(&self, config: ClientConfig) -> Result<ClientConfig, Error> {
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds.is_finite()) {
            return Err(Error::Config(format!("--elb-timeout-seconds must be positive, got {}", self.timeout_seconds)));
        }
        for (flag, rate) in [("--elb-describe-rate", self.describe_rate), ("--elb-mutate-rate", self.mutate_rate)] {
            if rate.is_nan() || rate <= 0.0 {
                return Err(Error::Config(format!("{flag} must be positive, got {rate}")));
            }
        }
        Ok(config
            .with_timeout(Duration::from_secs_f64(self.timeout_seconds))
            .with_max_attempts(self.max_attempts)
            .with_rate_limit(RateLimitConfig {
                describe: Bucket { per_second: self.describe_rate, burst: self.describe_burst.max(1) },
                mutate: Bucket { per_second: self.mutate_rate, burst: self.mutate_burst.max(1) },
            }))
    }
}

/// `https://{service}.{region}.amazonaws.com`, `.amazonaws.com.cn` in China regions.
pub fn default_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{service}.{region}.{suffix}")
}

fn validate_endpoint(e: &str) -> Result<(), Error> {
    let u = url::Url::parse(e).map_err(|err| Error::Config(format!("endpoint {e:?}: {err}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Error::Config(format!("endpoint {e:?} is not an http(s) URL")));
    }
    Ok(())
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
    fn default_endpoints() {
        assert_eq!(default_endpoint("elasticloadbalancing", "eu-west-1"), "https://elasticloadbalancing.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("elasticloadbalancing", "cn-north-1"), "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn endpoint_overrides_in_order() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")];
        let c = ClientConfig::from_vars("us-east-1", &vars(&keys)).unwrap();
        assert_eq!(c.endpoint_url(), "https://elasticloadbalancing.us-east-1.amazonaws.com");
        let all = [keys[0], keys[1], (ENV_ENDPOINT_ALL, "http://127.0.0.1:1/")];
        assert_eq!(ClientConfig::from_vars("us-east-1", &vars(&all)).unwrap().endpoint_url(), "http://127.0.0.1:1");
        let both = [keys[0], keys[1], (ENV_ENDPOINT_ALL, "http://127.0.0.1:1"), (ENV_ENDPOINT_ELB, "http://127.0.0.1:2")];
        assert_eq!(ClientConfig::from_vars("us-east-1", &vars(&both)).unwrap().endpoint_url(), "http://127.0.0.1:2");
        let bad = [keys[0], keys[1], (ENV_ENDPOINT_ELB, "not a url")];
        assert!(matches!(ClientConfig::from_vars("us-east-1", &vars(&bad)), Err(Error::Config(_))));
    }

    #[test]
    fn flags_defaults_match_the_client_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            elb: ElbArgs,
        }
        let base = ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:1", "AK", "SK");
        let applied = Cli::parse_from(["x"]).elb.apply(base.clone()).unwrap();
        assert_eq!(applied.timeout, base.timeout);
        assert_eq!(applied.retry, base.retry);
        assert_eq!(applied.rate_limit, base.rate_limit);
        let cli = Cli::parse_from(["x", "--elb-max-attempts", "5", "--elb-mutate-rate", "0.5", "--elb-timeout-seconds", "2.5"]);
        let applied = cli.elb.apply(base.clone()).unwrap();
        assert_eq!(applied.retry.max_attempts, 5);
        assert_eq!(applied.rate_limit.mutate.per_second, 0.5);
        assert_eq!(applied.timeout, Duration::from_millis(2500));
        assert!(Cli::parse_from(["x", "--elb-describe-rate", "0"]).elb.apply(base).is_err());
    }

    #[test]
    fn max_attempts_from_environment() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_MAX_ATTEMPTS", "5")];
        assert_eq!(ClientConfig::from_vars("us-east-1", &vars(&keys)).unwrap().retry.max_attempts, 5);
        let bad = [keys[0], keys[1], ("AWS_MAX_ATTEMPTS", "many")];
        assert!(ClientConfig::from_vars("us-east-1", &vars(&bad)).is_err());
    }

    #[test]
    fn region_from_environment() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_DEFAULT_REGION", "eu-central-1")];
        assert_eq!(ClientConfig::from_vars("", &vars(&keys)).unwrap().region, "eu-central-1");
        let keys2 = [keys[0], keys[1], keys[2], ("AWS_REGION", "ap-south-1")];
        assert_eq!(ClientConfig::from_vars("", &vars(&keys2)).unwrap().region, "ap-south-1");
        assert_eq!(ClientConfig::from_vars("us-west-2", &vars(&keys2)).unwrap().region, "us-west-2");
        assert!(ClientConfig::from_vars("", &vars(&keys[..2])).is_err());
    }
}
