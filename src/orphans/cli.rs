//! `elb-operator orphans` as a command: lists the LoadBalancers through the kube client,
//! takes an inventory of each region, checks the cluster before deleting, and deletes.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use kube::api::{Api, ListParams};

use super::classify::{classify, cluster_mismatches, reason_to_keep, Orphan, Orphans};
use super::{render, Deletion, Report, CLUSTER_UID_TAG};
use crate::aws;
use crate::cli::{OrphansArgs, OutputFormat};
use crate::crd::LoadBalancer;
use crate::elb::{self, ElbApi};
use crate::sync::execute::{self, DeleteOutcome};
use crate::sync::inventory;

/// Why `elb-operator orphans` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command line that cannot be run as given.
    #[error("{0}")]
    Usage(String),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] aws::Error),

    /// Without the list of LoadBalancers, every tagged ELB would look orphaned.
    #[error("listing the LoadBalancer resources: {0}")]
    Kube(#[from] kube::Error),

    /// The cluster of the current kube context cannot be told, so nothing is deleted.
    #[error("reading the kube-system namespace to learn the cluster's UID (nothing deleted): {0}")]
    ClusterUid(String),

    /// A candidate belongs to another cluster than the current kube context's.
    #[error(
        "refusing to delete: the current kube context's cluster has {CLUSTER_UID_TAG} {current}, but {}; \
         check the kube context and --cluster-name (nothing deleted)",
        .mismatches.join("; ")
    )]
    ClusterMismatch { current: String, mismatches: Vec<String> },

    #[error("the inventory of {region}: {source}")]
    Inventory {
        region: String,
        #[source]
        source: aws::Error,
    },
}

/// Bound on pages of LoadBalancers listed.
const MAX_LIST_PAGES: usize = 10_000;

/// `namespace/name` of every LoadBalancer (of `namespace`, or of all), page by page.
async fn live_resources(client: &kube::Client, namespace: Option<&str>) -> Result<BTreeSet<String>, Error> {
    let api: Api<LoadBalancer> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut live = BTreeSet::new();
    let mut params = ListParams::default().limit(500);
    for _ in 0..MAX_LIST_PAGES {
        // Metadata only: an object whose spec no longer decodes still claims its ELB.
        let page = api.list_metadata(&params).await?;
        for o in &page.items {
            if let (Some(ns), Some(name)) = (&o.metadata.namespace, &o.metadata.name) {
                live.insert(format!("{ns}/{name}"));
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => return Ok(live),
        }
    }
    Err(Error::Usage(format!("more than {MAX_LIST_PAGES} pages of LoadBalancers")))
}

/// Deletes one orphan, unless in the meantime a LoadBalancer claims it again, or its tags
/// no longer name this cluster and resource, or mark it retained (both read right before
/// the delete, as the controller's cleanup does).
async fn delete(elb: &dyn ElbApi, client: &kube::Client, cluster: &str, cluster_uid: &str, orphan: &Orphan) -> Deletion {
    let (ns, name) = orphan.resource.split_once('/').unwrap_or(("", &orphan.resource));
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), ns);
    let keep = |tags: &BTreeMap<String, String>| reason_to_keep(tags, cluster, &orphan.resource, cluster_uid);
    let result = match api.get_metadata_opt(name).await {
        Err(e) => format!("failed: reading LoadBalancer {}: {e}", orphan.resource),
        Ok(Some(_)) => format!("kept: LoadBalancer {} exists again", orphan.resource),
        Ok(None) => match execute::delete_unless(elb, &orphan.name, keep).await {
            Ok(DeleteOutcome::Deleted) => "deleted".to_string(),
            Ok(DeleteOutcome::AlreadyGone) => "already gone".to_string(),
            Ok(DeleteOutcome::Kept(why)) => format!("kept: {why}"),
            Err(e) => format!("failed: {e}"),
        },
    };
    Deletion { name: orphan.name.clone(), region: orphan.region.clone(), result }
}

/// The UID of the current kube context's `kube-system` namespace: the cluster's identity,
/// as the operator tags its ELBs with it.
async fn cluster_uid(client: &kube::Client) -> Result<String, Error> {
    let uid = crate::crd::tags::cluster_uid(client).await.map_err(|e| Error::ClusterUid(e.to_string()))?;
    uid.ok_or_else(|| Error::ClusterUid("the kube-system namespace has no uid".into()))
}

/// `elb-operator orphans`: the report of every region asked for, and the deletions.
pub async fn run(args: &OrphansArgs) -> Result<Report, Error> {
    if args.delete && !args.yes {
        return Err(Error::Usage(
            "--delete deletes load balancers: add --yes to confirm (run without --delete first to see what it would delete)".into(),
        ));
    }
    let cluster = args.cluster_name.trim();
    if cluster.is_empty() {
        return Err(Error::Usage("--cluster-name (or ELB_OPERATOR_CLUSTER_NAME) must name the cluster the operator runs for".into()));
    }
    let namespace = args.namespace.as_deref().map(str::trim).filter(|n| !n.is_empty());
    // The flag, else AWS_REGION / AWS_DEFAULT_REGION (an empty region resolves them).
    let wanted: BTreeSet<&str> = args.regions.iter().map(|r| r.trim()).collect();
    let wanted = if wanted.is_empty() { BTreeSet::from([""]) } else { wanted };
    let mut clients = Vec::new();
    for region in wanted {
        // Credentials as the AWS CLI resolves them: this runs on a laptop, with its profiles.
        let config = args.elb.cli_client_config_from_env(region).map_err(Error::ElbConfig)?;
        clients.push(elb::Client::new(config).map_err(Error::ElbConfig)?);
    }

    let kube = kube::Client::try_default().await?;
    let live = live_resources(&kube, namespace).await?;
    let mut orphans = Orphans::default();
    let mut regions = Vec::new();
    for client in &clients {
        let region = client.region().to_string();
        let snapshot =
            inventory::take(client, &BTreeSet::new(), true).await.map_err(|source| Error::Inventory { region: region.clone(), source })?;
        orphans.extend(classify(&snapshot, &region, cluster, &live, namespace));
        regions.push(region);
    }

    let mut deleted = None;
    if args.delete {
        let current = cluster_uid(&kube).await?;
        let mismatches = cluster_mismatches(&orphans.orphaned, &current);
        if !mismatches.is_empty() {
            return Err(Error::ClusterMismatch { current, mismatches });
        }
        let mut done = Vec::new();
        for orphan in &orphans.orphaned {
            let client = clients.iter().find(|c| c.region() == orphan.region).expect("every orphan comes from a client's region");
            done.push(delete(client, &kube, cluster, &current, orphan).await);
        }
        deleted = Some(done);
    }
    Ok(Report { cluster: cluster.to_string(), regions, orphans, deleted })
}

/// `elb-operator orphans` as a process: the report on stdout, errors on stderr. Exit code 0
/// when the report (and every deletion asked for) succeeded, 1 when something failed, 2 for
/// a command line that cannot run.
pub async fn main(args: OrphansArgs) -> ExitCode {
    aws::install_crypto_provider();
    let report = match run(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("elb-operator orphans: {e}");
            return ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 });
        }
    };
    match args.output {
        OutputFormat::Table => crate::cli::print_out(&render::table(&report, chrono::Utc::now())),
        OutputFormat::Json => crate::cli::print_out(&(serde_json::to_string_pretty(&report).expect("the report serializes") + "\n")),
    }
    if report.deleted.iter().flatten().any(Deletion::failed) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
