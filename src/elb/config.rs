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

/// The largest `PageSize` DescribeLoadBalancers accepts.
pub const MAX_PAGE_SIZE: u32 = 400;

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
    /// `PageSize` of DescribeLoadBalancers (1..=400); `None` lets the API choose.
    /// Defaults to the largest page: an inventory pass costs ⌈N/400⌉ calls.
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
        let mut c = Self::with_credentials(region, Some(endpoint.to_string()), SharedCredentials::from_keys(access_key_id, secret_access_key, None));
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

    /// The AWS default credential chain, endpoint overrides and `AWS_MAX_ATTEMPTS` from the
    /// variables `env` looks up (the process environment in [`ElbArgs::client_config_from_env`]).
    /// An empty `region` falls back to `AWS_REGION`, then `AWS_DEFAULT_REGION`.
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
        c.sts_endpoint = env(ENV_ENDPOINT_STS).or_else(|| env(ENV_ENDPOINT_ALL));
        if let Some(n) = env("AWS_MAX_ATTEMPTS") {
            let n: u32 = n.parse().map_err(|_| Error::Config(format!("AWS_MAX_ATTEMPTS={n:?} is not a number")))?;
            c = c.with_max_attempts(n);
        }
        c.endpoint = c.endpoint.as_deref().map(normalize_endpoint).transpose()?;
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

    /// The endpoint URL requests go to.
    pub fn endpoint_url(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| default_endpoint("elasticloadbalancing", &self.region))
    }
}

/// Command-line flags for the client's endpoint and knobs; all but `--elb-endpoint` are also
/// read from an `ELB_*` environment variable. The operator's `run` command flattens this into
/// its arguments, and [`ElbArgs::client_config`] turns it into a [`ClientConfig`].
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ElbArgs {
    /// Override the ELB endpoint URL (e.g. a local moto server). Without it the endpoint comes
    /// from AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING, then AWS_ENDPOINT_URL, then the region.
    // No `env`: those variables are read with the rest of the AWS environment, in
    // `ClientConfig::from_vars`.
    #[arg(long = "elb-endpoint")]
    pub endpoint: Option<String>,
    /// Timeout of one ELB HTTP attempt, in seconds.
    #[arg(long = "elb-timeout-seconds", env = "ELB_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub timeout_seconds: f64,
    /// Attempts per ELB call, the first included. Default: AWS_MAX_ATTEMPTS, else 3 (AWS
    /// standard retry mode).
    // An `Option` with no clap default: a `3` given on purpose must beat AWS_MAX_ATTEMPTS,
    // which a default value cannot tell apart from the flag left out.
    #[arg(long = "elb-max-attempts", env = "ELB_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
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
    /// The client configuration for `region` (empty: `AWS_REGION`, then `AWS_DEFAULT_REGION`):
    /// the AWS environment as `env` looks it up ([`ClientConfig::from_vars`]), then the flags
    /// over it. The endpoint is `--elb-endpoint`, else `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING`,
    /// else `AWS_ENDPOINT_URL`, else the region's; the attempts are `--elb-max-attempts` (or
    /// `ELB_MAX_ATTEMPTS`), else `AWS_MAX_ATTEMPTS`, else 3. The caller attaches metrics.
    pub fn client_config(&self, region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        self.apply(ClientConfig::from_vars(region, env)?)
    }

    /// [`client_config`](Self::client_config) over the process environment, where an empty
    /// variable counts as unset (as in the AWS SDKs).
    pub fn client_config_from_env(&self, region: &str) -> Result<ClientConfig, Error> {
        self.client_config(region, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Applies the flags to a configuration; a flag left out keeps what `config` holds.
    fn apply(&self, mut config: ClientConfig) -> Result<ClientConfig, Error> {
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds.is_finite()) {
            return Err(Error::Config(format!("--elb-timeout-seconds must be positive, got {}", self.timeout_seconds)));
        }
        for (flag, rate) in [("--elb-describe-rate", self.describe_rate), ("--elb-mutate-rate", self.mutate_rate)] {
            if rate.is_nan() || rate <= 0.0 {
                return Err(Error::Config(format!("{flag} must be positive, got {rate}")));
            }
        }
        // An empty `--elb-endpoint=` (a chart value left blank) means "not given".
        if let Some(endpoint) = self.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            config.endpoint = Some(normalize_endpoint(endpoint)?);
        }
        if let Some(attempts) = self.max_attempts {
            config = config.with_max_attempts(attempts);
        }
        Ok(config.with_timeout(Duration::from_secs_f64(self.timeout_seconds)).with_rate_limit(RateLimitConfig {
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

/// An endpoint override checked to be an http(s) URL, without its trailing slashes (the
/// client appends the path).
fn normalize_endpoint(e: &str) -> Result<String, Error> {
    let u = url::Url::parse(e).map_err(|err| Error::Config(format!("endpoint {e:?}: {err}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Error::Config(format!("endpoint {e:?} is not an http(s) URL")));
    }
    Ok(e.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    /// The flags as `elb-operator run` parses them.
    fn flags(flags: &[&str]) -> ElbArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            elb: ElbArgs,
        }
        Cli::try_parse_from(["x"].iter().chain(flags)).expect("flags parse").elb
    }

    /// [`ElbArgs::client_config`] for `us-east-1` with static keys and the given variables.
    fn config(args: &[&str], more_vars: &[(&str, &str)]) -> Result<ClientConfig, Error> {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")];
        let all: Vec<(&str, &str)> = keys.into_iter().chain(more_vars.iter().copied()).collect();
        flags(args).client_config("us-east-1", &vars(&all))
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
        let base = ClientConfig::for_endpoint("us-east-1", "http://127.0.0.1:1", "AK", "SK");
        let applied = flags(&[]).apply(base.clone()).unwrap();
        assert_eq!(applied.endpoint, base.endpoint);
        assert_eq!(applied.timeout, base.timeout);
        assert_eq!(applied.retry, base.retry);
        assert_eq!(applied.rate_limit, base.rate_limit);
        let args = flags(&["--elb-max-attempts", "5", "--elb-mutate-rate", "0.5", "--elb-timeout-seconds", "2.5"]);
        let applied = args.apply(base.clone()).unwrap();
        assert_eq!(applied.retry.max_attempts, 5);
        assert_eq!(applied.rate_limit.mutate.per_second, 0.5);
        assert_eq!(applied.timeout, Duration::from_millis(2500));
        assert!(flags(&["--elb-describe-rate", "0"]).apply(base).is_err());
    }

    #[test]
    fn elb_flags_reach_the_client_config() {
        let c = config(
            &[
                "--elb-timeout-seconds=1.5",
                "--elb-max-attempts=6",
                "--elb-describe-rate=2",
                "--elb-describe-burst=5",
                "--elb-mutate-rate=0.25",
                "--elb-mutate-burst=1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.retry.max_attempts, 6);
        assert_eq!((c.rate_limit.describe.per_second, c.rate_limit.describe.burst), (2.0, 5));
        assert_eq!((c.rate_limit.mutate.per_second, c.rate_limit.mutate.burst), (0.25, 1));
        assert!(c.metrics.is_none(), "the caller attaches its metrics");
        assert!(matches!(config(&["--elb-mutate-rate=0"], &[]), Err(Error::Config(_))));
        assert!(matches!(config(&["--elb-timeout-seconds=0"], &[]), Err(Error::Config(_))));
    }

    #[test]
    fn aws_max_attempts_applies_unless_the_flag_sets_another_value() {
        assert_eq!(config(&[], &[]).unwrap().retry.max_attempts, 3);
        assert_eq!(config(&[], &[("AWS_MAX_ATTEMPTS", "5")]).unwrap().retry.max_attempts, 5);
        assert_eq!(config(&["--elb-max-attempts=2"], &[("AWS_MAX_ATTEMPTS", "5")]).unwrap().retry.max_attempts, 2);
    }

    #[test]
    fn an_explicit_max_attempts_equal_to_the_default_still_beats_aws_max_attempts() {
        // The flag bug: `3` given on purpose used to count as "left at the default".
        assert_eq!(config(&["--elb-max-attempts=3"], &[("AWS_MAX_ATTEMPTS", "5")]).unwrap().retry.max_attempts, 3);
    }

    #[test]
    fn the_endpoint_flag_wins_over_the_environment() {
        let vars = [(ENV_ENDPOINT_ELB, "http://127.0.0.1:1")];
        assert_eq!(config(&[], &vars).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let c = config(&["--elb-endpoint=http://127.0.0.1:2/"], &vars).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:2"));
        // Blank is "not given"; anything else must be an http(s) URL.
        assert_eq!(config(&["--elb-endpoint="], &vars).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(matches!(config(&["--elb-endpoint=ftp://127.0.0.1:2"], &vars), Err(Error::Config(_))));
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
