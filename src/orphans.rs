//! Orphaned ELBs: ELBs that carry this cluster's ownership tags but that no LoadBalancer
//! resource claims any more (a namespace deleted while the operator was down, a finalizer
//! removed by hand). They cost money and nobody reconciles them.
//!
//! [`classify`] is the decision, pure: an inventory snapshot of a region (with every ELB's
//! tags), the cluster name and the LoadBalancer resources that exist → the orphaned ELBs,
//! and apart from them the ELBs a `deletionPolicy: Retain` resource left behind on purpose
//! ([`RETAINED_TAG`]), which are never deleted. The running operator exports their count
//! after each inventory pass; [`run`] is `elb-operator orphans`, which prints them and, with
//! `--delete --yes`, deletes the orphaned ones.
//!
//! An ELB is claimed when a LoadBalancer with the `namespace/name` of its resource tag
//! exists, whatever ELB that resource manages now: the report errs towards keeping.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::cli::{OrphansArgs, OutputFormat};
use crate::crd::tags::{CLUSTER_TAG, RESOURCE_TAG, RETAINED_TAG};
use crate::crd::LoadBalancer;
use crate::elb::{self, ElbApi};
use crate::sync::execute::{self, DeleteOutcome};
use crate::sync::inventory::{self, Snapshot};

/// An ELB of this cluster that no resource claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    pub name: String,
    pub region: String,
    /// `namespace/name` of the resource its ownership tag names.
    pub resource: String,
    /// RFC 3339, as ELB reports it.
    pub created_time: Option<String>,
    /// Registered instance ids.
    pub instances: Vec<String>,
}

/// The ELBs of this cluster that no resource claims, in one or more regions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Orphans {
    /// Left behind by accident: what `--delete` deletes.
    pub orphaned: Vec<Orphan>,
    /// Left behind on purpose (a `Retain` resource was deleted): listed, never deleted.
    pub retained: Vec<Orphan>,
}

impl Orphans {
    fn extend(&mut self, other: Orphans) {
        self.orphaned.extend(other.orphaned);
        self.retained.extend(other.retained);
    }
}

/// Whether the tags mark an ELB kept on purpose.
pub fn is_retained(tags: &BTreeMap<String, String>) -> bool {
    tags.get(RETAINED_TAG).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The ELBs of `snapshot` (taken in `region`) tagged for `cluster` whose resource is not in
/// `live` (`namespace/name` of every LoadBalancer that exists). With `namespace`, only ELBs
/// whose resource is in that namespace are considered: a caller that sees one namespace
/// cannot tell about the others. ELBs whose tags the snapshot did not read are skipped
/// (take it with `all_tags`). Sorted by name.
pub fn classify(snapshot: &Snapshot, region: &str, cluster: &str, live: &BTreeSet<String>, namespace: Option<&str>) -> Orphans {
    let mut out = Orphans::default();
    for seen in snapshot.iter() {
        let Some(tags) = &seen.tags else { continue };
        let (Some(c), Some(resource)) = (tags.get(CLUSTER_TAG), tags.get(RESOURCE_TAG)) else { continue };
        if c != cluster || live.contains(resource) {
            continue;
        }
        if namespace.is_some_and(|ns| resource.split_once('/').map(|(n, _)| n) != Some(ns)) {
            continue;
        }
        let d = &seen.description;
        let orphan = Orphan {
            name: d.name.clone(),
            region: region.to_string(),
            resource: resource.clone(),
            created_time: d.created_time.clone(),
            instances: d.instances.clone(),
        };
        if is_retained(tags) {
            out.retained.push(orphan);
        } else {
            out.orphaned.push(orphan);
        }
    }
    out.orphaned.sort_by(|a, b| a.name.cmp(&b.name));
    out.retained.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `3d`, `5h`, `12m`, `40s` since `created` (RFC 3339); `-` when unknown.
pub fn age(created: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(t) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "-".into();
    };
    let s = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// What `--delete` did to one orphan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub name: String,
    pub region: String,
    /// `deleted`, `already gone`, `kept: <why>`, or `failed: <error>`.
    pub result: String,
}

impl Deletion {
    fn failed(&self) -> bool {
        self.result.starts_with("failed")
    }
}

/// What `elb-operator orphans` found (and did).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cluster: String,
    pub regions: Vec<String>,
    #[serde(flatten)]
    pub orphans: Orphans,
    /// With `--delete`: one entry per orphaned ELB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<Deletion>>,
}

/// The report as tables: the orphaned ELBs, the retained ones, and what was deleted.
pub fn table(report: &Report, now: chrono::DateTime<chrono::Utc>) -> String {
    let rows = |list: &[Orphan]| -> Vec<[String; 5]> {
        list.iter()
            .map(|o| {
                [o.name.clone(), o.region.clone(), o.resource.clone(), age(o.created_time.as_deref(), now), o.instances.len().to_string()]
            })
            .collect()
    };
    let mut out = Vec::new();
    let sections = [
        ("orphaned", &report.orphans.orphaned, " (no LoadBalancer resource claims them)"),
        ("retained", &report.orphans.retained, " (deletionPolicy: Retain; never deleted)"),
    ];
    for (title, list, note) in sections {
        if list.is_empty() {
            out.push(format!("No {title} load balancers of cluster {} in {}.\n", report.cluster, report.regions.join(", ")));
        } else {
            let header = format!("{} load balancers{note}:\n", capitalized(title));
            out.push(header + &columns(&["NAME", "REGION", "RESOURCE", "AGE", "INSTANCES"], &rows(list)));
        }
    }
    if let Some(deleted) = &report.deleted {
        let lines: String = deleted.iter().map(|d| format!("{} ({}): {}\n", d.name, d.region, d.result)).collect();
        out.push(format!("Deletions:\n{}", if lines.is_empty() { "none\n".to_string() } else { lines }));
    }
    out.join("\n")
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Left-aligned columns, three spaces apart, as `kubectl get` prints them.
fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("   ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Why `elb-operator orphans` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command line that cannot be run as given.
    #[error("{0}")]
    Usage(String),

    #[error("ELB client configuration: {0}")]
    ElbConfig(#[source] elb::Error),

    /// Without the list of LoadBalancers, every tagged ELB would look orphaned.
    #[error("listing the LoadBalancer resources: {0}")]
    Kube(#[from] kube::Error),

    #[error("the inventory of {region}: {source}")]
    Inventory {
        region: String,
        #[source]
        source: elb::Error,
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

/// Why an orphan of `resource` must not be deleted after all, from its tags as they are now.
fn reason_to_keep(tags: &BTreeMap<String, String>, cluster: &str, resource: &str) -> Option<String> {
    if tags.get(CLUSTER_TAG).map(String::as_str) != Some(cluster) || tags.get(RESOURCE_TAG).map(String::as_str) != Some(resource) {
        Some("its ownership tags changed".to_string())
    } else if is_retained(tags) {
        Some(format!("tagged {RETAINED_TAG}"))
    } else {
        None
    }
}

/// Deletes one orphan, unless in the meantime a LoadBalancer claims it again, or its tags
/// no longer name this cluster and resource, or mark it retained (both read right before
/// the delete, as the controller's cleanup does).
async fn delete(elb: &dyn ElbApi, client: &kube::Client, cluster: &str, orphan: &Orphan) -> Deletion {
    let (ns, name) = orphan.resource.split_once('/').unwrap_or(("", &orphan.resource));
    let api: Api<LoadBalancer> = Api::namespaced(client.clone(), ns);
    let keep = |tags: &BTreeMap<String, String>| reason_to_keep(tags, cluster, &orphan.resource);
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
        let config = args.elb.client_config_from_env(region).map_err(Error::ElbConfig)?;
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
        let mut done = Vec::new();
        for orphan in &orphans.orphaned {
            let client = clients.iter().find(|c| c.region() == orphan.region).expect("every orphan comes from a client's region");
            done.push(delete(client, &kube, cluster, orphan).await);
        }
        deleted = Some(done);
    }
    Ok(Report { cluster: cluster.to_string(), regions, orphans, deleted })
}

/// `elb-operator orphans` as a process: the report on stdout, errors on stderr. Exit code 0
/// when the report (and every deletion asked for) succeeded, 1 when something failed, 2 for
/// a command line that cannot run.
pub async fn main(args: OrphansArgs) -> ExitCode {
    elb::install_crypto_provider();
    let report = match run(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("elb-operator orphans: {e}");
            return ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 });
        }
    };
    match args.output {
        OutputFormat::Table => print!("{}", table(&report, chrono::Utc::now())),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("the report serializes")),
    }
    if report.deleted.iter().flatten().any(Deletion::failed) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elb::LoadBalancerDescription;
    use crate::sync::inventory::Seen;

    fn seen(name: &str, tags: Option<&[(&str, &str)]>) -> Seen {
        Seen {
            description: LoadBalancerDescription {
                name: name.into(),
                created_time: Some("2024-05-01T10:00:00.000Z".into()),
                instances: vec!["i-1".into()],
                ..Default::default()
            },
            tags: tags.map(|t| t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        }
    }

    fn names(list: &[Orphan]) -> Vec<&str> {
        list.iter().map(|o| o.name.as_str()).collect()
    }

    #[test]
    fn classification_table() {
        let snapshot = Snapshot::from_seen(vec![
            seen("gone", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/gone")])),
            seen("live", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/live")])),
            seen("kept", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/kept"), (RETAINED_TAG, "true")])),
            seen("kept-but-live", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/live"), (RETAINED_TAG, "true")])),
            seen("other-cluster", Some(&[(CLUSTER_TAG, "staging"), (RESOURCE_TAG, "web/gone")])),
            seen("foreign", Some(&[("team", "x")])),
            seen("cluster-tag-only", Some(&[(CLUSTER_TAG, "prod")])),
            seen("untagged", Some(&[])),
            seen("tags-not-read", None),
            seen("other-ns", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "api/gone")])),
            seen("retained-false", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/x"), (RETAINED_TAG, "false")])),
        ]);
        let live: BTreeSet<String> = ["web/live".to_string()].into();
        let all = classify(&snapshot, "us-east-1", "prod", &live, None);
        assert_eq!(names(&all.orphaned), ["gone", "other-ns", "retained-false"]);
        assert_eq!(names(&all.retained), ["kept"]);
        assert_eq!(
            all.orphaned[0],
            Orphan {
                name: "gone".into(),
                region: "us-east-1".into(),
                resource: "web/gone".into(),
                created_time: Some("2024-05-01T10:00:00.000Z".into()),
                instances: vec!["i-1".into()],
            }
        );
        let web = classify(&snapshot, "us-east-1", "prod", &live, Some("web"));
        assert_eq!(names(&web.orphaned), ["gone", "retained-false"], "another namespace's ELBs are not this caller's to judge");
        let staging = classify(&snapshot, "us-east-1", "staging", &BTreeSet::new(), None);
        assert_eq!(names(&staging.orphaned), ["other-cluster"]);
    }

    #[test]
    fn the_tags_read_right_before_a_delete_can_still_keep_it() {
        let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let ours = [(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/gone")];
        assert_eq!(reason_to_keep(&tags(&ours), "prod", "web/gone"), None);
        let retained = [ours[0], ours[1], (RETAINED_TAG, "True")];
        assert_eq!(reason_to_keep(&tags(&retained), "prod", "web/gone").as_deref(), Some("tagged elb.operator.dev/retained"));
        for changed in
            [vec![(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/other")], vec![(CLUSTER_TAG, "staging"), (RESOURCE_TAG, "web/gone")], vec![]]
        {
            assert_eq!(reason_to_keep(&tags(&changed), "prod", "web/gone").as_deref(), Some("its ownership tags changed"), "{changed:?}");
        }
    }

    #[test]
    fn ages_in_the_largest_whole_unit() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-04T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(age(Some("2024-05-01T10:00:00.000Z"), now), "3d");
        assert_eq!(age(Some("2024-05-04T09:30:00Z"), now), "2h");
        assert_eq!(age(Some("2024-05-04T11:59:15+00:00"), now), "45s");
        assert_eq!(age(Some("2024-05-04T11:15:00Z"), now), "45m");
        assert_eq!(age(Some("2024-05-05T00:00:00Z"), now), "0s", "a clock ahead is not a negative age");
        assert_eq!((age(None, now), age(Some("yesterday"), now)), ("-".into(), "-".into()));
    }

    #[test]
    fn the_table_lists_both_sections_and_the_deletions() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-04T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let orphan = |name: &str, resource: &str, instances: usize| Orphan {
            name: name.into(),
            region: "us-east-1".into(),
            resource: resource.into(),
            created_time: Some("2024-05-01T10:00:00Z".into()),
            instances: (0..instances).map(|i| format!("i-{i}")).collect(),
        };
        let report = Report {
            cluster: "prod".into(),
            regions: vec!["us-east-1".into()],
            orphans: Orphans { orphaned: vec![orphan("web-gone-lb-1a2b3c4d", "web/gone-lb", 2)], retained: vec![] },
            deleted: Some(vec![Deletion { name: "web-gone-lb-1a2b3c4d".into(), region: "us-east-1".into(), result: "deleted".into() }]),
        };
        assert_eq!(
            table(&report, now),
            "Orphaned load balancers (no LoadBalancer resource claims them):\n\
             NAME                   REGION      RESOURCE      AGE   INSTANCES\n\
             web-gone-lb-1a2b3c4d   us-east-1   web/gone-lb   3d    2\n\
             \n\
             No retained load balancers of cluster prod in us-east-1.\n\
             \n\
             Deletions:\n\
             web-gone-lb-1a2b3c4d (us-east-1): deleted\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["orphaned"][0]["resource"], "web/gone-lb");
        assert_eq!(json["orphaned"][0]["createdTime"], "2024-05-01T10:00:00Z");
        assert_eq!(json["retained"], serde_json::json!([]));
        assert_eq!(json["deleted"][0]["result"], "deleted");
    }
}
