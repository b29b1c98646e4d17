//! The command line: `elb-operator run` and `elb-operator crdgen`.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "elb-operator", version, about = "Declarative AWS Classic Elastic Load Balancers for Kubernetes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML (what `crds/` holds).
    Crdgen,
}

/// Flags of `elb-operator run`; every flag can also be set through its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Default AWS region for LoadBalancers without spec.region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}
