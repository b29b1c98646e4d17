//! `elb-operator plan` as a process: the clients from the flags (as `run` builds them),
//! the plan, the output, the exit code.

use std::process::ExitCode;
use std::sync::Arc;

use super::{plan, render, Error, Report, Selection};
use crate::aws;
use crate::cli::{OutputFormat, PlanArgs};
use crate::controller::{AwsClients, Config};

/// Exit code: something would change.
pub const EXIT_CHANGES: u8 = 2;

/// `elb-operator plan`: the report, or why none could be made.
pub async fn run(args: &PlanArgs) -> Result<Report, Error> {
    let cluster = args.cluster_name.trim();
    if cluster.is_empty() {
        return Err(Error::Usage("--cluster-name (or ELB_OPERATOR_CLUSTER_NAME) must name the cluster the operator runs for".into()));
    }
    // Credentials as the AWS CLI resolves them: this runs on a laptop, with its profiles.
    let elb_config = args.elb.cli_client_config_from_env(&args.region).map_err(Error::ElbConfig)?;
    let ec2_config = crate::ec2::client_config_from_env(&elb_config, args.ec2_endpoint.as_deref()).map_err(Error::ElbConfig)?;
    let autoscaling_config = crate::autoscaling::client_config_from_env(&elb_config, None).map_err(Error::ElbConfig)?;
    let session = aws::credentials::assume_role::session_name(&[cluster]);
    let elb = crate::elb::Clients::new(elb_config).with_session_name(session);
    let clients = AwsClients { ec2: Some(elb.beside::<crate::ec2::Client>(ec2_config)), autoscaling: elb.beside(autoscaling_config), elb };
    let kube = kube::Client::try_default().await?;
    let config = Config {
        cluster_name: cluster.to_string(),
        default_region: args.region.clone(),
        allowed_role_arns: args.allowed_role_arns.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
        require_class: args.require_class,
        ..Config::default()
    };
    let namespace = args.namespace.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    let selection = Selection { namespace, name: args.name.clone() };
    plan(kube, config, Arc::new(clients), &selection).await
}

/// `elb-operator plan` as a process: exit 0 when nothing would change, 2 when something
/// would, 1 on an error (the report is still printed when only some plans failed).
pub async fn main(args: PlanArgs) -> ExitCode {
    aws::install_crypto_provider();
    let report = match run(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("elb-operator plan: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.output {
        OutputFormat::Table => crate::cli::print_out(&render::table(&report)),
        OutputFormat::Json => crate::cli::print_out(&(serde_json::to_string_pretty(&report).expect("the report serializes") + "\n")),
    }
    match (report.failed(), report.changes()) {
        (true, _) => ExitCode::FAILURE,
        (false, true) => ExitCode::from(EXIT_CHANGES),
        (false, false) => ExitCode::SUCCESS,
    }
}
