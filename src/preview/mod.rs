//! `elb-operator plan`: what the controller's next sync of each LoadBalancer would do,
//! found with read-only calls. It runs the controller's own steps on what it lists from the
//! cluster: [`resolve`] (from stores filled by one list of each kind, instead of the
//! watches), [`validate`], [`build`], then [`execute::preview`] (the sync engine's
//! observation, ownership check and plan, without applying); for an object being deleted,
//! [`cleanup::intent`] and [`removal::preview`]. So its output is the controller's next
//! action, call for call. Nothing here writes to AWS or to Kubernetes.
//!
//! [`resolve`]: crate::controller::loadbalancer::resolve::resolve
//! [`validate`]: crate::controller::loadbalancer::validate::validate
//! [`build`]: crate::controller::loadbalancer::build::build
//! [`cleanup::intent`]: crate::controller::loadbalancer::cleanup::intent

mod calls;
pub mod cli;
mod render;

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde::Serialize;
use tracing::{debug_span, Instrument};

pub use self::calls::Call;
pub use self::cli::main;
pub use self::render::table;
use crate::aws;
use crate::controller::cache::Stores;
use crate::controller::groups::groups_named;
use crate::controller::index::{Index, Indexes, Synced};
use crate::controller::loadbalancer::cleanup::{intent, Intent};
use crate::controller::loadbalancer::validate::{validate, Policy};
use crate::controller::loadbalancer::{build, has_finalizer, resolve};
use crate::controller::{ClientsByScope, Config, Context, Scope};
use crate::crd::{HealthCheck, LoadBalancer, LoadBalancerClass};
use crate::sync::execute::{self, Failure, Known, Preview};
use crate::sync::removal;

/// Why the plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command line that cannot be run as given.
    #[error("{0}")]
    Usage(String),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] aws::Error),

    #[error("reading the cluster: {0}")]
    Kube(#[from] kube::Error),

    #[error("more than {0} pages of {1}")]
    TooManyPages(usize, &'static str),
}

/// Which LoadBalancers to plan.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// One LoadBalancer of `namespace`.
    pub name: Option<String>,
}

/// The plan of every LoadBalancer selected.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(rename = "loadBalancers")]
    pub load_balancers: Vec<Entry>,
}

impl Report {
    /// Whether a sync would change anything in AWS (the exit code 2 of the command).
    pub fn changes(&self) -> bool {
        self.load_balancers.iter().any(|e| !e.calls().is_empty())
    }

    /// Whether the plan of some LoadBalancer failed (the exit code 1 of the command).
    pub fn failed(&self) -> bool {
        self.load_balancers.iter().any(|e| matches!(e.plan, Plan::Error { .. }))
    }
}

/// The plan of one LoadBalancer.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub namespace: String,
    pub name: String,
    /// The ELB's name and region.
    pub elb: String,
    pub region: String,
    #[serde(flatten)]
    pub plan: Plan,
}

impl Entry {
    /// The AWS calls the plan makes (none for a plan that changes nothing).
    pub fn calls(&self) -> &[Call] {
        self.plan.calls()
    }
}

impl Plan {
    /// The AWS calls of the next sync (none while paused, or for a plan that changes nothing).
    pub fn calls(&self) -> &[Call] {
        match self {
            Plan::Create { calls } | Plan::Adopt { calls } | Plan::Change { calls } | Plan::Delete { calls, .. } => calls,
            _ => &[],
        }
    }
}

/// What a sync of one LoadBalancer would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Plan {
    /// The ELB matches the spec.
    InSync,
    /// The ELB does not exist: created, then configured.
    Create {
        calls: Vec<Call>,
    },
    /// An unclaimed ELB with the name exists and `spec.adopt` takes it over.
    Adopt {
        calls: Vec<Call>,
    },
    Change {
        calls: Vec<Call>,
    },
    /// Being deleted: what the deletion policy does (`outcome`), with its calls.
    Delete {
        outcome: String,
        calls: Vec<Call>,
    },
    /// An ELB with the name belongs to someone else: nothing is changed.
    #[serde(rename_all = "camelCase")]
    Conflict {
        reason: String,
        claimed_by: Option<String>,
    },
    /// The spec or the operator's policy refuses it (the `Synced=False` reason): no AWS write.
    Refused {
        reason: String,
        message: String,
    },
    /// The pause annotation is set: no AWS write (a deletion waits). `onResume`: the calls
    /// the sync (or the deletion) would make once the annotation is removed.
    #[serde(rename_all = "camelCase")]
    Paused {
        deleting: bool,
        on_resume: Vec<Call>,
    },
    /// The plan could not be made (an AWS read failed).
    Error {
        message: String,
    },
}

/// Bound on pages of one kind listed.
const MAX_LIST_PAGES: usize = 10_000;

/// Every object of `api`, page by page (bounded).
async fn list_all<K>(api: Api<K>, kind: &'static str) -> Result<Vec<K>, Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut all = Vec::new();
    let mut params = ListParams::default().limit(500);
    for _ in 0..MAX_LIST_PAGES {
        let page = api.list(&params).await?;
        all.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => return Ok(all),
        }
    }
    Err(Error::TooManyPages(MAX_LIST_PAGES, kind))
}

/// A store holding `objects`, as a reflector's would after its first list.
/// Feeds `objects` to one of the controller's indexes, as its watch would.
fn index_all<I: Index<K>, K: Clone>(index: &std::sync::RwLock<Synced<I>>, objects: &[K]) {
    for o in objects {
        Indexes::observe(index, &watcher::Event::Apply(o.clone()));
    }
}

fn store_of<K>(objects: Vec<K>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, mut writer) = reflector::store();
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(o));
    }
    store
}

/// The namespaced API of `K` in `namespace`, or of every namespace.
fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Reads what the controller's caches would hold for `selection`, then plans each selected
/// LoadBalancer as the controller's next sync would. `config` holds the policy the operator
/// runs with (cluster name, default region, allowed roles, `--require-class`).
pub async fn plan(client: kube::Client, mut config: Config, aws: Arc<dyn ClientsByScope>, selection: &Selection) -> Result<Report, Error> {
    // The ownership tags carry the cluster's UID: read as the controller reads it (an
    // unreadable kube-system gives none, there as here).
    if config.cluster_uid.is_none() {
        config.cluster_uid = crate::crd::tags::cluster_uid(&client).await.ok().flatten();
    }
    let ns = selection.namespace.as_deref();
    let lbs: Vec<LoadBalancer> = match &selection.name {
        Some(name) => {
            let ns = ns.map(str::to_string).unwrap_or_else(|| client.default_namespace().to_string());
            vec![Api::<LoadBalancer>::namespaced(client.clone(), &ns).get(name).await?]
        }
        None => list_all(api(&client, ns), "LoadBalancers").await?,
    };
    let namespaces: BTreeSet<String> = lbs.iter().filter_map(|lb| lb.namespace()).collect();
    // One namespace asked for (or the one of the LoadBalancer named): only its objects are
    // read, as by a controller watching that namespace.
    let scoped = match &selection.name {
        Some(_) => lbs.first().and_then(|lb| lb.namespace()),
        None => selection.namespace.clone(),
    };
    let scoped = scoped.as_deref();
    let namespace_objects = match scoped {
        Some(one) => vec![Api::<Namespace>::all(client.clone()).get(one).await?],
        None => list_all(Api::<Namespace>::all(client.clone()), "Namespaces").await?,
    };
    let pods = match namespaces.is_empty() {
        true => Vec::new(),
        false => list_all(api::<Pod>(&client, scoped), "Pods").await?,
    };
    let nodes = list_all(Api::<Node>::all(client.clone()), "Nodes").await?;
    // The controller's backend indexes, over the same lists.
    let indexes = Arc::new(Indexes::default());
    index_all(&indexes.pods, &pods);
    index_all(&indexes.nodes, &nodes);
    index_all(&indexes.loadbalancers, &lbs);
    let stores = Stores {
        loadbalancers: store_of(lbs.clone()),
        healthchecks: store_of(list_all(api::<HealthCheck>(&client, scoped), "HealthChecks").await?),
        pods: store_of(pods),
        nodes: store_of(nodes),
        classes: store_of(list_all(Api::<LoadBalancerClass>::all(client.clone()), "LoadBalancerClasses").await?),
        namespaces: store_of(namespace_objects),
        synced: Vec::new(),
        indexes,
    };
    // The context resolve and the cleanup's intent read from; its recorder, schedule and
    // triggers are never used here.
    let recorder = Recorder::new(client.clone(), Reporter { controller: config.reporter.clone(), instance: None });
    let (triggers, _) = futures::channel::mpsc::unbounded();
    let ctx = Context::new(client, config, aws, crate::telemetry::Metrics::new(), recorder, stores, triggers);
    let mut entries = Vec::new();
    for lb in &lbs {
        let key = format!("{}/{}", lb.namespace().unwrap_or_default(), lb.name_any());
        let entry = plan_one(lb, &ctx).instrument(debug_span!("plan", kind = "LoadBalancer", object = %key)).await;
        entries.extend(entry);
    }
    Ok(Report { load_balancers: entries })
}

/// The plan of one LoadBalancer; `None` for one deleted before it reached AWS (it is gone
/// as soon as the API server sees no finalizer).
async fn plan_one(lb: &LoadBalancer, ctx: &Context) -> Option<Entry> {
    let deleting = lb.metadata.deletion_timestamp.is_some();
    if deleting && !has_finalizer(lb) {
        return None;
    }
    let scope = Scope::of(lb, &ctx.config.default_region, &ctx.config.cluster_name);
    let entry = |plan| Entry {
        namespace: lb.namespace().unwrap_or_default(),
        name: lb.name_any(),
        elb: lb.load_balancer_name(),
        region: scope.region.clone(),
        plan,
    };
    let plan = match deleting {
        true => plan_deletion(lb, ctx, &scope).await,
        false => plan_sync(lb, ctx).await,
    };
    let plan = plan.unwrap_or_else(|e| Plan::Error { message: e.to_string() });
    // Paused: nothing is written now; what resuming would do is shown beside it.
    let plan = match plan {
        Plan::Error { .. } => plan,
        plan if lb.paused() => Plan::Paused { deleting, on_resume: plan.calls().to_vec() },
        plan => plan,
    };
    Some(entry(plan))
}

/// The controller's steps up to the plan (resolve → validate → build → observe and plan).
async fn plan_sync(lb: &LoadBalancer, ctx: &Context) -> Result<Plan, aws::Error> {
    let referenced = resolve::resolve(lb, ctx).await?;
    let inputs = match validate(lb, referenced, &Policy::of(&ctx.config)) {
        Ok(validated) => build::build(validated),
        Err(refusal) => return Ok(Plan::Refused { reason: refusal.reason.to_string(), message: refusal.message }),
    };
    let elb = ctx.aws.for_scope(&inputs.scope)?;
    let autoscaling = ctx.aws.autoscaling_for_scope(&inputs.scope)?;
    let apis = execute::Apis { elb: &*elb, autoscaling: autoscaling.as_deref() };
    // What the sync is given from status, as the controller's apply step gives it.
    let recorded_groups = lb.status.as_ref().map(|s| s.auto_scaling_groups.as_slice()).unwrap_or_default();
    let written: Option<BTreeSet<String>> =
        lb.status.as_ref().and_then(|s| s.managed_tag_keys.as_ref()).map(|k| k.iter().cloned().collect());
    let known = Known { recorded_groups, written_tags: written.as_ref(), ..Known::default() };
    match execute::preview(apis, &inputs.desired, &inputs.owner, lb.spec.adopt, known).await {
        Ok(Preview::Conflict { claimed_by, reason }) => Ok(Plan::Conflict { reason: reason.as_str().to_string(), claimed_by }),
        Ok(Preview::Planned { actions, exists, adopt }) => {
            let calls: Vec<Call> = actions.iter().map(|a| Call::of(a, &inputs.desired.name)).collect();
            Ok(match (exists, adopt) {
                _ if calls.is_empty() => Plan::InSync,
                (false, _) => Plan::Create { calls },
                (true, true) => Plan::Adopt { calls },
                (true, false) => Plan::Change { calls },
            })
        }
        // The controller reports these as Synced=False with the plan error's reason.
        Err(Failure::Plan(p)) => Ok(Plan::Refused { reason: p.reason().to_string(), message: p.to_string() }),
        Err(Failure::Elb(e)) => Err(e),
    }
}

/// What the cleanup of a LoadBalancer being deleted would do.
async fn plan_deletion(lb: &LoadBalancer, ctx: &Context, scope: &Scope) -> Result<Plan, aws::Error> {
    let name = lb.load_balancer_name();
    let (retain, explicit) = match intent(lb, ctx) {
        Intent::LeaveOutOfScope(refusal) => {
            return Ok(Plan::Delete { outcome: format!("left in place: {}", refusal.message), calls: Vec::new() });
        }
        Intent::Retain { .. } => (true, false),
        Intent::Delete { explicit } => (false, explicit),
    };
    let elb = ctx.aws.for_scope(scope)?;
    let autoscaling = ctx.aws.autoscaling_for_scope(scope)?;
    let apis = execute::Apis { elb: &*elb, autoscaling: autoscaling.as_deref() };
    let owner = Policy::of(&ctx.config).owner_of(lb);
    let (outcome, removal) = removal::preview(apis, &name, &owner, &groups_named(lb), retain, explicit).await?;
    let outcome = match (outcome, retain) {
        (execute::Deleted::AlreadyGone, _) => "already gone".to_string(),
        (_, true) => "retained: left in place".to_string(),
        (execute::Deleted::Deleted, _) => "deleted".to_string(),
        (execute::Deleted::KeptAdopted, _) => "kept: adopted, and the spec does not say deletionPolicy: Delete".to_string(),
        (execute::Deleted::Foreign { .. }, _) => "left in place: not owned by this resource".to_string(),
    };
    let calls = removal.iter().map(|c| Call::of_removal(c, &name)).collect();
    Ok(Plan::Delete { outcome, calls })
}
