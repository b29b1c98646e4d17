//! The command line: `elb-operator run`, `elb-operator crdgen`, `elb-operator orphans`,
//! `elb-operator migrate` and the hidden `elb-operator rbac-requirements`.
//!
//! Every flag that configures the operator can also be set through the `ELB_OPERATOR_*`
//! environment variable named in its help, so a Deployment can configure the operator with
//! `args` or `env` alike. Only the flags of one command line's action (`orphans --delete`,
//! `--yes`, `-n`, `-o`) have none.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "elb-operator", version, about = "Declarative AWS Classic Elastic Load Balancers for Kubernetes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (what `crds/` holds).
    Crdgen,
    /// List the ELBs tagged for this cluster that no LoadBalancer resource claims (and, with
    /// --delete --yes, delete them). Runs with your kubeconfig and AWS credentials.
    Orphans(Box<OrphansArgs>),
    /// Print what the operator's next sync of each LoadBalancer would do (create, adopt,
    /// change with each call, delete, conflict, refusal), with read-only AWS calls. Exit code
    /// 0: nothing would change; 2: something would; 1: an error.
    Plan(Box<PlanArgs>),
    /// Translate LoadBalancers (and their HealthChecks) into the manifests of the AWS Load
    /// Balancer Controller (ALB Ingress, NLB Service, TargetGroupBinding), write them, and
    /// report each field as exact, approximated or not carried. Exit code 0: all exact; 3:
    /// something approximated or not carried; 1: an error. Runs with your kubeconfig.
    Migrate(Box<MigrateArgs>),
    /// Print, as JSON, every Kubernetes API call the operator makes (what the Helm chart's
    /// RBAC rules must allow). Used by the chart tests.
    #[command(hide = true)]
    RbacRequirements,
}

/// Log output format (telemetry's: the logs are set up there).
pub use crate::telemetry::LogFormat;

/// Flags of `elb-operator run`; every flag can also be set through its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Default AWS region for LoadBalancers without spec.region. Default: AWS_REGION, then
    /// AWS_DEFAULT_REGION, then us-east-1.
    // The default is read when the command line is parsed, so that `AWS_DEFAULT_REGION` alone
    // is honoured as the AWS CLI and SDKs honour it; `--help` shows the region it resolved.
    #[arg(long, env = "ELB_OPERATOR_REGION", default_value_t = default_region(&crate::aws::config::process_env))]
    pub region: String,

    /// Watch only this namespace. Without it (or with an empty value) every namespace is
    /// watched.
    #[arg(long, env = "ELB_OPERATOR_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,

    /// Name of this Kubernetes cluster, written into the ownership tags of every ELB the
    /// operator creates. Must be unique among the clusters sharing an AWS account.
    #[arg(long, env = "ELB_OPERATOR_CLUSTER_NAME")]
    pub cluster_name: String,

    /// IAM roles LoadBalancers may name in spec.roleArn, comma-separated; `*` matches any run
    /// of characters (arn:aws:iam::123456789012:role/elb-*). Empty: no role.
    #[arg(long, env = "ELB_OPERATOR_ALLOWED_ROLE_ARNS", value_delimiter = ',')]
    pub allowed_role_arns: Vec<String>,

    /// Refuse LoadBalancers that no LoadBalancerClass applies to (no spec.className and no
    /// class annotated elb.operator.dev/is-default-class: "true"), with reason
    /// ClassNotAllowed, instead of applying the built-in rules. `--require-class` alone
    /// means true.
    #[arg(long, env = "ELB_OPERATOR_REQUIRE_CLASS", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub require_class: bool,

    /// How often registered instances' health is polled (DescribeInstanceHealth).
    #[arg(long, env = "ELB_OPERATOR_HEALTH_POLL_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub health_poll_interval: Duration,

    /// How often an unchanged health observation is written to status
    /// (`instancesObservedTime`); `0` never writes one. A change is written at once, and
    /// staleness stays visible in the `elb_operator_oldest_health_observation_seconds` metric.
    #[arg(long, env = "ELB_OPERATOR_STATUS_REFRESH", default_value = "10m", value_parser = parse_refresh)]
    pub status_refresh: Duration,

    /// How often every LoadBalancer is fully re-read from ELB to correct drift.
    #[arg(long, env = "ELB_OPERATOR_RESYNC_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// How many objects are reconciled at the same time. The ELB budget, not this, paces the
    /// AWS calls; more slots let changes, status writes and Kubernetes round trips overlap.
    #[arg(long, env = "ELB_OPERATOR_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Log format.
    #[arg(long, env = "ELB_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log level or filter, in tracing's EnvFilter syntax (e.g. `info` or
    /// `info,elb_operator=debug`).
    #[arg(long, env = "ELB_OPERATOR_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "ELB_OPERATOR_HTTP_BIND", default_value = "0.0.0.0:8080")]
    pub http_bind: SocketAddr,

    /// Elect a leader through a coordination.k8s.io Lease, so that only one replica
    /// reconciles and writes. `--leader-election=false` for a single replica.
    #[arg(long, env = "ELB_OPERATOR_LEADER_ELECTION", default_value_t = true, action = ArgAction::Set)]
    pub leader_election: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "ELB_OPERATOR_LEASE_NAME", default_value = "elb-operator")]
    pub lease_name: String,

    /// Namespace of the Lease. Default: the namespace the operator runs in (in-cluster), or
    /// the kubeconfig context's namespace.
    #[arg(long, env = "ELB_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// How long a lease is valid without renewal; a standby takes over this long after the
    /// leader stops renewing. The leader gives up after 2/3 of it without a successful renewal.
    #[arg(long, env = "ELB_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = parse_lease_duration)]
    pub lease_duration: Duration,

    /// Split the LoadBalancers and HealthChecks into this many shards by a stable hash of
    /// namespace/name; each shard is held through its own Lease (`<lease-name>-shard-<i>`)
    /// by one replica at a time, and a replica reconciles only the shards it holds. 1: one
    /// leader does all the work (the Lease `<lease-name>`). Needs leader election.
    #[arg(long, env = "ELB_OPERATOR_SHARDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub shards: u32,

    /// Identity written into the Lease and events. Default: the pod name (POD_NAME, as the
    /// chart sets it) or the host name, plus a random suffix.
    #[arg(long, env = "ELB_OPERATOR_LEADER_IDENTITY")]
    pub leader_identity: Option<String>,

    /// Upper bound on graceful shutdown (finishing in-flight reconciles, releasing the lease).
    /// Keep it below the pod's terminationGracePeriodSeconds.
    #[arg(long, env = "ELB_OPERATOR_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Check that the registered instances' security groups admit each ELB on its instance
    /// and health check ports (the BackendsReachable condition), with EC2 reads
    /// (ec2:DescribeInstances, DescribeSecurityGroups, DescribeSubnets). Optional: without
    /// those permissions the condition is Unknown (EC2NotAllowed); `false` turns it off.
    #[arg(long, env = "ELB_OPERATOR_REACHABILITY_CHECK", default_value_t = true, action = ArgAction::Set)]
    pub reachability_check: bool,

    /// Override the EC2 endpoint URL of the reachability check (e.g. a local moto server).
    /// Without it the endpoint comes from AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL, then
    /// the region.
    #[arg(long = "ec2-endpoint", env = "ELB_OPERATOR_EC2_ENDPOINT")]
    pub ec2_endpoint: Option<String>,

    /// Endpoint, timeouts, retries and rate limits of the ELB client (the `--elb-*` flags).
    #[command(flatten, next_help_heading = "ELB client")]
    pub elb: crate::elb::ElbArgs,
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Columns, as `kubectl get` prints them.
    Table,
    /// One JSON document.
    Json,
}

/// Flags of `elb-operator orphans`.
#[derive(Debug, Clone, clap::Args)]
pub struct OrphansArgs {
    /// A region to look in; repeat the flag (or separate with commas) for several. Default:
    /// AWS_REGION, then AWS_DEFAULT_REGION, then the AWS profile's region.
    #[arg(long = "region", value_name = "REGION", env = "ELB_OPERATOR_REGION", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// The cluster name the operator runs with: its ELBs carry it in their ownership tag.
    #[arg(long, env = "ELB_OPERATOR_CLUSTER_NAME")]
    pub cluster_name: String,

    /// Only LoadBalancers of this namespace, and only ELBs whose resource was in it. Default:
    /// every namespace.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

    /// Delete the orphaned ELBs the report lists (never the retained ones). Needs --yes.
    #[arg(long)]
    pub delete: bool,

    /// Confirm --delete.
    #[arg(long)]
    pub yes: bool,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Endpoint, timeouts, retries and rate limits of the ELB client (the `--elb-*` flags).
    #[command(flatten, next_help_heading = "ELB client")]
    pub elb: crate::elb::ElbArgs,
}

/// Flags of `elb-operator plan`: the policy flags of `run` that change what a sync does.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Only this LoadBalancer (in --namespace, else the kube context's namespace).
    pub name: Option<String>,

    /// Only the LoadBalancers of this namespace. Default: every namespace.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

    /// The cluster name the operator runs with (its ownership tags).
    #[arg(long, env = "ELB_OPERATOR_CLUSTER_NAME")]
    pub cluster_name: String,

    /// Default AWS region for LoadBalancers without spec.region, as for `run`: AWS_REGION,
    /// then AWS_DEFAULT_REGION, else us-east-1.
    #[arg(long, env = "ELB_OPERATOR_REGION", default_value_t = default_region(&crate::aws::config::process_env))]
    pub region: String,

    /// As for `run`: the roles LoadBalancers may name in spec.roleArn.
    #[arg(long, env = "ELB_OPERATOR_ALLOWED_ROLE_ARNS", value_delimiter = ',')]
    pub allowed_role_arns: Vec<String>,

    /// As for `run`: refuse LoadBalancers that no LoadBalancerClass applies to.
    #[arg(long, env = "ELB_OPERATOR_REQUIRE_CLASS", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub require_class: bool,

    /// Override the EC2 endpoint URL (the resource tag reads of classes with
    /// requiredResourceTags).
    #[arg(long = "ec2-endpoint", env = "ELB_OPERATOR_EC2_ENDPOINT")]
    pub ec2_endpoint: Option<String>,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Endpoint, timeouts, retries and rate limits of the ELB client (the `--elb-*` flags).
    #[command(flatten, next_help_heading = "ELB client")]
    pub elb: crate::elb::ElbArgs,
}

/// The ELBv2 load balancer `elb-operator migrate --target` forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateTarget {
    /// An Application Load Balancer (Ingress): TCP and SSL listeners are not carried.
    Alb,
    /// A Network Load Balancer (Service): HTTP becomes TCP, HTTPS becomes TLS.
    Nlb,
}

/// Flags of `elb-operator migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// One LoadBalancer's name (in --namespace, else the kube context's namespace). Without
    /// it: every LoadBalancer of --namespace, or of all namespaces.
    pub name: Option<String>,

    /// Only LoadBalancers of this namespace.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

    /// Force the load balancer type instead of choosing by listener protocol (HTTP/HTTPS:
    /// ALB, TCP/SSL: NLB, a mix: both).
    #[arg(long, value_enum)]
    pub target: Option<MigrateTarget>,

    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Directory the manifests are written to, one `<namespace>_<name>.yaml` per LoadBalancer.
    #[arg(long, default_value = "elb-migrate")]
    pub out_dir: std::path::PathBuf,

    /// Print the cutover steps (apply, run side by side, move DNS, delete the LoadBalancer)
    /// with the real names instead of the report.
    #[arg(long)]
    pub cutover_plan: bool,
}

impl RunArgs {
    /// The namespace to watch, `None` for all.
    pub fn watch_namespace(&self) -> Option<String> {
        self.watch_namespace.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// The name of this process in Leases and events: `--leader-identity`, else the pod name
    /// (`POD_NAME`, which the chart sets from the downward API).
    pub fn identity(&self) -> Option<String> {
        self.leader_identity.clone().filter(|s| !s.is_empty()).or_else(|| crate::aws::config::process_env("POD_NAME"))
    }
}

/// The default of `run --region`: `AWS_REGION`, then `AWS_DEFAULT_REGION` (the AWS CLI's
/// order), then `us-east-1`.
pub fn default_region(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".to_string())
}

/// Parses a duration as Go's `time.ParseDuration` (and so kubectl and most operators) writes
/// it: one or more decimal numbers, each with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`),
/// such as `500ms`, `30s`, `1m30s`, `2h45m` or `1.5h`; or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let invalid = || format!("invalid duration {s:?}: expected e.g. 30s, 1m30s, 2h45m, 500ms");
    if s.is_empty() {
        return Err(invalid());
    }
    let mut nanos: f64 = 0.0;
    if s.bytes().all(|b| b.is_ascii_digit()) {
        nanos = s.parse::<f64>().map_err(|_| invalid())? * 1e9;
    } else {
        let mut rest = s;
        while !rest.is_empty() {
            let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
            let (number, tail) = rest.split_at(number_end);
            if number.is_empty() || number == "." {
                return Err(invalid());
            }
            let value: f64 = number.parse().map_err(|_| invalid())?;
            let unit_end = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_end);
            let scale = match unit {
                "ns" => 1.0,
                "us" | "µs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(format!("invalid duration unit {unit:?} in {s:?}: use ns, us, ms, s, m or h")),
            };
            nanos += value * scale;
            rest = tail;
        }
    }
    // Ten years: far beyond any interval the operator has, and well inside u64 nanoseconds.
    if !nanos.is_finite() || nanos > 10.0 * 365.0 * 86400e9 {
        return Err(format!("duration {s:?} is too long"));
    }
    let d = Duration::from_nanos(nanos.round() as u64);
    if d.is_zero() {
        return Err("duration must be greater than zero".into());
    }
    Ok(d)
}

/// A duration, or `0` for never.
fn parse_refresh(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "0" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

fn parse_lease_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(300) {
        return Err("lease duration must be between 1s and 5m".into());
    }
    Ok(d)
}

/// Writes a command's output to stdout. A reader that stops early (`| head`) is not an error
/// of the command, and must not make it panic, as `print!` does on a closed pipe.
pub fn print_out(text: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["elb-operator", "run", "--cluster-name", "c1"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Run(args) => *args,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_lease_duration("500ms").is_err());
    }

    #[test]
    fn go_compound_durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h45m"), Ok(Duration::from_secs(2 * 3600 + 45 * 60)));
        assert_eq!(parse_duration("1h0m0s"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("10ns"), Ok(Duration::from_nanos(10)));
        assert_eq!(parse_duration(" 45m "), Ok(Duration::from_secs(2700)));
        for bad in ["", "m", "1m30", "1.2.3s", ".s", "1m-30s", "1 m", "1M", "-1s", "0m0s", "100000000h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_lease_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_lease_duration("5m1s").is_err());
        // Every duration flag goes through the parser.
        let a = run_args(&["--resync-interval=1m30s", "--health-poll-interval=1m", "--shutdown-timeout=1m5s", "--lease-duration=1m"]);
        assert_eq!(
            (a.resync_interval, a.health_poll_interval, a.shutdown_timeout, a.lease_duration),
            (Duration::from_secs(90), Duration::from_secs(60), Duration::from_secs(65), Duration::from_secs(60))
        );
    }

    #[test]
    fn the_default_region_is_aws_region_then_aws_default_region() {
        let vars =
            |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(default_region(&vars(&[])), "us-east-1");
        assert_eq!(default_region(&vars(&[("AWS_DEFAULT_REGION", "eu-west-1")])), "eu-west-1");
        assert_eq!(default_region(&vars(&[("AWS_DEFAULT_REGION", "eu-west-1"), ("AWS_REGION", "ap-south-1")])), "ap-south-1");
    }

    #[test]
    fn flags_override_defaults() {
        let a = run_args(&[]);
        assert!(a.leader_election);
        assert_eq!(a.watch_namespace(), None);
        assert_eq!(a.log_format, LogFormat::Text);
        let a = run_args(&[
            "--leader-election=false",
            "--watch-namespace",
            "team-a",
            "--log-format",
            "json",
            "--concurrency",
            "9",
            "--lease-duration",
            "20s",
        ]);
        assert!(!a.leader_election);
        assert_eq!(a.watch_namespace().as_deref(), Some("team-a"));
        assert_eq!(a.log_format, LogFormat::Json);
        assert_eq!(a.concurrency, 9);
        assert_eq!(a.lease_duration, Duration::from_secs(20));
        assert_eq!(run_args(&["--watch-namespace", ""]).watch_namespace(), None);
        assert_eq!((run_args(&[]).shards, run_args(&["--shards=4"]).shards), (1, 4));
        assert!(Cli::try_parse_from(["elb-operator", "run", "--cluster-name=c", "--shards=0"]).is_err());
    }

    #[test]
    fn elb_client_flags_are_run_flags() {
        let a = run_args(&[
            "--elb-endpoint=http://127.0.0.1:4566",
            "--elb-timeout-seconds=2.5",
            "--elb-max-attempts=7",
            "--elb-describe-burst=3",
            "--elb-mutate-rate=0.5",
        ]);
        assert_eq!(a.elb.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(a.elb.timeout_seconds, 2.5);
        assert_eq!(a.elb.max_attempts, Some(7));
        assert_eq!(a.elb.describe_burst, 3);
        assert_eq!(a.elb.mutate_rate, 0.5);
        assert!(Cli::try_parse_from(["elb-operator", "run", "--cluster-name", "c", "--elb-max-attempts", "many"]).is_err());
        assert_eq!(run_args(&[]).elb.max_attempts, None, "left out, AWS_MAX_ATTEMPTS or 3 decides");
        let a = run_args(&["--ec2-endpoint=http://127.0.0.1:4566", "--reachability-check=false"]);
        assert_eq!((a.ec2_endpoint.as_deref(), a.reachability_check), (Some("http://127.0.0.1:4566"), false));
        assert!(run_args(&[]).reachability_check, "on by default");
    }

    #[test]
    fn orphans_flags() {
        let parse = |extra: &[&str]| {
            let argv = ["elb-operator", "orphans", "--cluster-name", "c1"].iter().chain(extra).copied();
            match Cli::try_parse_from(argv).expect("parses").command {
                Command::Orphans(args) => *args,
                other => panic!("expected orphans, got {other:?}"),
            }
        };
        let a = parse(&[]);
        assert!(a.regions.is_empty() && !a.delete && !a.yes && a.namespace.is_none());
        assert_eq!(a.output, OutputFormat::Table);
        let a = parse(&[
            "--region",
            "us-east-1",
            "--region=eu-west-1",
            "-o",
            "json",
            "--delete",
            "--yes",
            "-n",
            "web",
            "--elb-endpoint=http://127.0.0.1:1",
        ]);
        assert_eq!(a.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!((a.output, a.delete, a.yes, a.namespace.as_deref()), (OutputFormat::Json, true, true, Some("web")));
        assert_eq!(a.elb.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(Cli::try_parse_from(["elb-operator", "orphans", "-o", "yaml", "--cluster-name", "c"]).is_err());
    }

    #[test]
    fn migrate_flags() {
        let parse = |args: &[&str]| match Cli::try_parse_from(["elb-operator", "migrate"].iter().chain(args)) {
            Ok(Cli { command: Command::Migrate(a) }) => Ok(*a),
            Ok(other) => panic!("expected migrate, got {other:?}"),
            Err(e) => Err(e),
        };
        let a = parse(&[]).unwrap();
        assert_eq!((a.name, a.namespace, a.target, a.output, a.cutover_plan), (None, None, None, OutputFormat::Table, false));
        assert_eq!(a.out_dir, std::path::PathBuf::from("elb-migrate"));
        let a = parse(&["my-lb", "-n", "web", "--target", "nlb", "-o", "json", "--out-dir", "/tmp/x", "--cutover-plan"]).unwrap();
        assert_eq!((a.name.as_deref(), a.namespace.as_deref(), a.target), (Some("my-lb"), Some("web"), Some(MigrateTarget::Nlb)));
        assert!(a.cutover_plan && a.output == OutputFormat::Json);
        assert!(parse(&["--target", "clb"]).is_err());
    }

    #[test]
    fn require_class_is_off_by_default() {
        assert!(!run_args(&[]).require_class);
        assert!(run_args(&["--require-class"]).require_class);
        assert!(run_args(&["--require-class=true"]).require_class);
        assert!(!run_args(&["--require-class=false"]).require_class);
        assert!(Cli::try_parse_from(["elb-operator", "run", "--cluster-name", "c", "--require-class=maybe"]).is_err());
    }

    #[test]
    fn cluster_name_is_required_and_concurrency_bounded() {
        assert!(Cli::try_parse_from(["elb-operator", "run"]).is_err());
        assert!(Cli::try_parse_from(["elb-operator", "run", "--cluster-name", "c", "--concurrency", "0"]).is_err());
    }
}
