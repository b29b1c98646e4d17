//! `elb-operator migrate` as a command: reads the LoadBalancers, their HealthChecks and the
//! LoadBalancerClasses through the kube client, translates each, writes the manifests (one
//! file per LoadBalancer) and prints the report or the cutover plan.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use kube::api::{Api, ListParams};
use kube::ResourceExt;

use super::report::{self, Report};
use super::{fields, manifests, Migration};
use crate::cli::{MigrateArgs, OutputFormat};
use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};

/// Why `elb-operator migrate` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the cluster: {0}")]
    Kube(#[from] kube::Error),

    #[error("LoadBalancer {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },

    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("more than {0} pages of {1}")]
    TooManyPages(usize, &'static str),
}

/// Bound on pages listed of one kind.
const MAX_LIST_PAGES: usize = 10_000;

async fn list_all<K>(api: &Api<K>, what: &'static str) -> Result<Vec<K>, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    for _ in 0..MAX_LIST_PAGES {
        let page = api.list(&params).await?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => return Ok(out),
        }
    }
    Err(Error::TooManyPages(MAX_LIST_PAGES, what))
}

/// The LoadBalancers asked for: one by name, a namespace's, or all.
async fn load_balancers(client: &kube::Client, args: &MigrateArgs) -> Result<Vec<LoadBalancer>, Error> {
    let namespace = args.namespace.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = &args.name {
        let ns = namespace.map(str::to_string).unwrap_or_else(|| client.default_namespace().to_string());
        let api: Api<LoadBalancer> = Api::namespaced(client.clone(), &ns);
        return match api.get_opt(name).await? {
            Some(lb) => Ok(vec![lb]),
            None => Err(Error::NotFound { namespace: ns, name: name.clone() }),
        };
    }
    let api: Api<LoadBalancer> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut lbs = list_all(&api, "LoadBalancers").await?;
    lbs.sort_by_key(|lb| (lb.namespace(), lb.name_any()));
    Ok(lbs)
}

/// Translates every LoadBalancer asked for and writes their manifests.
pub async fn run(args: &MigrateArgs) -> Result<(Report, BTreeMap<String, Option<String>>), Error> {
    let client = kube::Client::try_default().await?;
    let lbs = load_balancers(&client, args).await?;
    let classes = list_all(&Api::<LoadBalancerClass>::all(client.clone()), "LoadBalancerClasses").await?;
    let mut migrations: Vec<Migration> = Vec::new();
    let mut dns_names = BTreeMap::new();
    for lb in &lbs {
        let ns = lb.namespace().unwrap_or_default();
        let health_check = match &lb.spec.health_check_ref {
            Some(r) => Api::<HealthCheck>::namespaced(client.clone(), &ns).get_opt(&r.name).await?,
            None => None,
        };
        // A class that does not exist (or two defaults) is the controller's refusal to report;
        // the translation then carries no class.
        let class = crate::tenancy::choose_class(lb.spec.class_name.as_deref(), &classes, false).ok().flatten();
        let m = fields::migrate(fields::Input {
            lb,
            health_check: health_check.as_ref().map(|h| &h.spec),
            class,
            forced: args.target.map(Into::into),
        });
        dns_names.insert(report::file_name(&m), lb.status.as_ref().and_then(|s| s.dns_name.clone()));
        migrations.push(m);
    }
    let dir = &args.out_dir;
    if !migrations.is_empty() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.display().to_string(), source })?;
    }
    for m in &migrations {
        let path = Path::new(dir).join(report::file_name(m));
        std::fs::write(&path, manifests::to_yaml(&m.manifests))
            .map_err(|source| Error::Write { path: path.display().to_string(), source })?;
    }
    Ok((Report { load_balancers: migrations, manifests_dir: Some(dir.display().to_string()) }, dns_names))
}

/// `elb-operator migrate` as a process: the report (or the cutover plan) on stdout, errors on
/// stderr. Exit code 0 when every field mapped exactly, 3 when something was approximated
/// or not carried, 1 on an error.
pub async fn main(args: MigrateArgs) -> ExitCode {
    crate::aws::install_crypto_provider();
    let (report, dns_names) = match run(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("elb-operator migrate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = if args.cutover_plan {
        let plans = report.load_balancers.iter().map(|m| {
            let file = Path::new(&args.out_dir).join(report::file_name(m));
            let dns = dns_names.get(&report::file_name(m)).cloned().flatten();
            report::cutover_plan(m, &file.display().to_string(), dns.as_deref())
        });
        plans.collect::<Vec<_>>().join("\n")
    } else {
        match args.output {
            OutputFormat::Table => report::table(&report),
            OutputFormat::Json => serde_json::to_string_pretty(&report).expect("the report serializes") + "\n",
        }
    };
    crate::cli::print_out(&text);
    ExitCode::from(report.exit_code())
}
