//! The ELB client's command-line flags: endpoint, timeout, attempts and its budget.

use std::time::Duration;

use super::wire::SERVICE;
use crate::aws::config::normalize_endpoint;
use crate::aws::{Bucket, ClientConfig, Error, RateLimitConfig};

/// Command-line flags for the client's endpoint and knobs; each is also read from an
/// `ELB_OPERATOR_ELB_*` environment variable. The operator's `run` command flattens this into
/// its arguments, and [`ElbArgs::client_config`] turns it into a [`ClientConfig`].
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ElbArgs {
    /// Override the ELB endpoint URL (e.g. a local moto server). Without it the endpoint comes
    /// from AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING, then AWS_ENDPOINT_URL, then the region.
    // The AWS variables are read with the rest of the AWS environment, in
    // `ClientConfig::from_vars`; this one, like the flag, wins over them.
    #[arg(long = "elb-endpoint", env = "ELB_OPERATOR_ELB_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Timeout of one ELB HTTP attempt, in seconds.
    #[arg(long = "elb-timeout-seconds", env = "ELB_OPERATOR_ELB_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub timeout_seconds: f64,
    /// Attempts per ELB call, the first included. Default: AWS_MAX_ATTEMPTS, else 3 (AWS
    /// standard retry mode).
    // An `Option` with no clap default: a `3` given on purpose must beat AWS_MAX_ATTEMPTS,
    // which a default value cannot tell apart from the flag left out.
    #[arg(long = "elb-max-attempts", env = "ELB_OPERATOR_ELB_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// Sustained Describe* calls per second, per credentials and region.
    #[arg(long = "elb-describe-rate", env = "ELB_OPERATOR_ELB_DESCRIBE_RATE", default_value_t = 10.0)]
    pub describe_rate: f64,
    /// Describe* calls allowed in a burst.
    #[arg(long = "elb-describe-burst", env = "ELB_OPERATOR_ELB_DESCRIBE_BURST", default_value_t = 20)]
    pub describe_burst: u32,
    /// Sustained mutating calls per second, per credentials and region.
    #[arg(long = "elb-mutate-rate", env = "ELB_OPERATOR_ELB_MUTATE_RATE", default_value_t = 4.0)]
    pub mutate_rate: f64,
    /// Mutating calls allowed in a burst.
    #[arg(long = "elb-mutate-burst", env = "ELB_OPERATOR_ELB_MUTATE_BURST", default_value_t = 8)]
    pub mutate_burst: u32,
}

/// The variables of the ELB client's flags before every flag's variable was named
/// `ELB_OPERATOR_*`, and their new names.
pub const RENAMED_VARIABLES: [(&str, &str); 6] = [
    ("ELB_TIMEOUT_SECONDS", "ELB_OPERATOR_ELB_TIMEOUT_SECONDS"),
    ("ELB_MAX_ATTEMPTS", "ELB_OPERATOR_ELB_MAX_ATTEMPTS"),
    ("ELB_DESCRIBE_RATE", "ELB_OPERATOR_ELB_DESCRIBE_RATE"),
    ("ELB_DESCRIBE_BURST", "ELB_OPERATOR_ELB_DESCRIBE_BURST"),
    ("ELB_MUTATE_RATE", "ELB_OPERATOR_ELB_MUTATE_RATE"),
    ("ELB_MUTATE_BURST", "ELB_OPERATOR_ELB_MUTATE_BURST"),
];

/// A variable under its old name is refused rather than ignored: silently dropping a rate
/// limit or a timeout someone set on purpose would surface only under load. (clap's `env`
/// reads one name, so the old names cannot simply stay aliases.)
fn refuse_renamed_variables(env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let renamed: Vec<String> =
        RENAMED_VARIABLES.iter().filter(|(old, _)| env(old).is_some()).map(|(old, new)| format!("{old} is now {new}")).collect();
    if renamed.is_empty() {
        return Ok(());
    }
    Err(Error::Config(format!("renamed environment variables (docs/upgrade.md): {}", renamed.join(", "))))
}

impl ElbArgs {
    /// The client configuration for `region` (empty: `AWS_REGION`, then `AWS_DEFAULT_REGION`):
    /// the AWS environment as `env` looks it up ([`ClientConfig::from_vars`]), then the flags
    /// over it. The endpoint is `--elb-endpoint`, else `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING`,
    /// else `AWS_ENDPOINT_URL`, else the region's; the attempts are `--elb-max-attempts` (or
    /// `ELB_OPERATOR_ELB_MAX_ATTEMPTS`), else `AWS_MAX_ATTEMPTS`, else 3. The caller attaches metrics.
    pub fn client_config(&self, region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        refuse_renamed_variables(env)?;
        self.apply(ClientConfig::from_vars(&SERVICE, region, env)?)
    }

    /// [`client_config`](Self::client_config) over the process environment, where an empty
    /// variable counts as unset (as in the AWS SDKs).
    pub fn client_config_from_env(&self, region: &str) -> Result<ClientConfig, Error> {
        self.client_config(region, &crate::aws::config::process_env)
    }

    /// [`client_config_from_env`](Self::client_config_from_env) for the command-line commands:
    /// credentials resolved as the AWS CLI resolves a profile (`source_profile` roles,
    /// `credential_process`, SSO; [`crate::aws::credentials::cli_chain`]).
    pub fn cli_client_config_from_env(&self, region: &str) -> Result<ClientConfig, Error> {
        self.cli_client_config(region, &crate::aws::config::process_env)
    }

    /// [`cli_client_config_from_env`](Self::cli_client_config_from_env) with the variables
    /// `env` looks up.
    /// Without a region (flag, `AWS_REGION`, `AWS_DEFAULT_REGION`), the profile's `region`
    /// applies, as in the AWS CLI.
    pub fn cli_client_config(&self, region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, Error> {
        refuse_renamed_variables(env)?;
        let from_profile;
        let region = if region.is_empty() && env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
            from_profile = crate::aws::credentials::profile::load(env).1.remove("region").unwrap_or_default();
            from_profile.as_str()
        } else {
            region
        };
        self.apply(ClientConfig::from_vars_for_cli(&SERVICE, region, env)?)
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
    fn the_old_variable_names_are_refused_with_their_new_names() {
        for (old, new) in RENAMED_VARIABLES {
            match config(&[], &[(old, "5")]) {
                Err(Error::Config(message)) => assert!(message.contains(&format!("{old} is now {new}")), "{message}"),
                other => panic!("{old}: {other:?}"),
            }
        }
        assert!(config(&[], &[("ELB_OPERATOR_ELB_MUTATE_RATE", "5")]).is_ok());
    }

    #[test]
    fn the_cli_takes_its_region_from_the_profile_last() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[profile ops]\nregion = eu-central-1\naws_access_key_id = AK\naws_secret_access_key = SK\n",
        )
        .unwrap();
        let file = dir.path().join("config").display().to_string();
        let base = [("AWS_CONFIG_FILE", file.as_str()), ("AWS_PROFILE", "ops"), ("HOME", "/nonexistent-home")];
        let region = |region: &str, more: &[(&str, &str)]| {
            let all: Vec<(&str, &str)> = base.iter().chain(more).copied().collect();
            flags(&[]).cli_client_config(region, &vars(&all)).map(|c| c.region)
        };
        assert_eq!(region("", &[]).unwrap(), "eu-central-1");
        assert_eq!(region("", &[("AWS_DEFAULT_REGION", "ap-south-1")]).unwrap(), "ap-south-1");
        assert_eq!(region("", &[("AWS_REGION", "us-west-2"), ("AWS_DEFAULT_REGION", "ap-south-1")]).unwrap(), "us-west-2");
        assert_eq!(region("sa-east-1", &[]).unwrap(), "sa-east-1");
    }

    #[test]
    fn the_endpoint_flag_wins_over_the_environment() {
        let vars = [(SERVICE.endpoint_env, "http://127.0.0.1:1")];
        assert_eq!(config(&[], &vars).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let c = config(&["--elb-endpoint=http://127.0.0.1:2/"], &vars).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:2"));
        // Blank is "not given"; anything else must be an http(s) URL.
        assert_eq!(config(&["--elb-endpoint="], &vars).unwrap().endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(matches!(config(&["--elb-endpoint=ftp://127.0.0.1:2"], &vars), Err(Error::Config(_))));
    }
}
