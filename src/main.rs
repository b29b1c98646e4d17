//! The `elb-operator` binary: parses the command line and hands over to the library.

use clap::Parser;
use elb_operator::cli::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Crdgen => elb_operator::cli::print_out(&elb_operator::crd::crdgen_yaml()),
        Command::Orphans(args) => return elb_operator::orphans::main(*args).await,
        Command::Plan(args) => return elb_operator::preview::main(*args).await,
        Command::Migrate(args) => return elb_operator::migrate::main(*args).await,
        Command::RbacRequirements => {
            let calls = elb_operator::rbac::kube_api_calls();
            println!("{}", serde_json::to_string_pretty(&calls).expect("API calls serialize"));
        }
        Command::Run(args) => {
            // Logs first, so that even a failed start is reported in the chosen format.
            if let Err(e) = elb_operator::telemetry::init_tracing(args.log_format, &args.log_level) {
                eprintln!("elb-operator: {e}");
                return std::process::ExitCode::FAILURE;
            }
            if let Err(e) = elb_operator::operator::run(*args).await {
                tracing::error!(error = %e, "elb-operator stopped");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
