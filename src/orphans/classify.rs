//! The orphan decisions, pure: which ELBs of a snapshot are orphaned or retained, and
//! what in an ELB's tags keeps it from a deletion.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::crd::tags::{CLUSTER_TAG, RESOURCE_TAG, RETAINED_TAG};
use crate::sync::inventory::Snapshot;
use crate::sync::ownership::{self, CLUSTER_UID_TAG};

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
    /// The cluster UID its [`CLUSTER_UID_TAG`] names (ELBs made before the tag have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_uid: Option<String>,
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
    pub fn extend(&mut self, other: Orphans) {
        self.orphaned.extend(other.orphaned);
        self.retained.extend(other.retained);
    }
}

/// Whether the tags mark an ELB kept on purpose: retained by a `Retain` resource, or
/// adopted (the operator did not create it, so only its resource may delete it).
pub fn is_retained(tags: &BTreeMap<String, String>) -> bool {
    tags.get(RETAINED_TAG).is_some_and(|v| v.eq_ignore_ascii_case("true")) || ownership::is_adopted(tags)
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
            cluster_uid: tags.get(CLUSTER_UID_TAG).cloned(),
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

/// Why an orphan of `resource` must not be deleted after all, from its tags as they are
/// now; `cluster_uid` is the current kube context's cluster UID.
pub fn reason_to_keep(tags: &BTreeMap<String, String>, cluster: &str, resource: &str, cluster_uid: &str) -> Option<String> {
    if tags.get(CLUSTER_TAG).map(String::as_str) != Some(cluster) || tags.get(RESOURCE_TAG).map(String::as_str) != Some(resource) {
        Some("its ownership tags changed".to_string())
    } else if let Some(uid) = tags.get(CLUSTER_UID_TAG).filter(|u| *u != cluster_uid) {
        Some(format!("its {CLUSTER_UID_TAG} tag names cluster {uid}, not this one ({cluster_uid})"))
    } else if ownership::is_adopted(tags) {
        Some(format!("tagged {}", ownership::ADOPTED_TAG))
    } else if is_retained(tags) {
        Some(format!("tagged {RETAINED_TAG}"))
    } else {
        None
    }
}

/// The candidates for deletion whose cluster UID tag names another cluster than
/// `cluster_uid` (the current kube context's), one line each: `--delete` refuses them all.
/// A wrong context with another cluster's `--cluster-name` would otherwise delete that
/// cluster's live ELBs. A candidate without the tag (made before it) is not a mismatch.
pub fn cluster_mismatches(candidates: &[Orphan], cluster_uid: &str) -> Vec<String> {
    candidates
        .iter()
        .filter_map(|o| {
            let uid = o.cluster_uid.as_deref().filter(|u| *u != cluster_uid)?;
            Some(format!("{} ({}) is tagged {CLUSTER_UID_TAG}={uid}", o.name, o.region))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elb::LoadBalancerDescription;
    use crate::sync::inventory::Seen;
    use crate::sync::ownership::ADOPTED_TAG;

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
            seen("adopted", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/adopted"), (ADOPTED_TAG, "true")])),
            seen("with-uid", Some(&[(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/with-uid"), (CLUSTER_UID_TAG, "uid-1")])),
        ]);
        let live: BTreeSet<String> = ["web/live".to_string()].into();
        let all = classify(&snapshot, "us-east-1", "prod", &live, None);
        assert_eq!(names(&all.orphaned), ["gone", "other-ns", "retained-false", "with-uid"]);
        assert_eq!(names(&all.retained), ["adopted", "kept"], "an adopted ELB is only its resource's to delete");
        assert_eq!(all.orphaned[3].cluster_uid.as_deref(), Some("uid-1"));
        assert_eq!(
            all.orphaned[0],
            Orphan {
                name: "gone".into(),
                region: "us-east-1".into(),
                resource: "web/gone".into(),
                created_time: Some("2024-05-01T10:00:00.000Z".into()),
                instances: vec!["i-1".into()],
                cluster_uid: None,
            }
        );
        let web = classify(&snapshot, "us-east-1", "prod", &live, Some("web"));
        assert_eq!(names(&web.orphaned), ["gone", "retained-false", "with-uid"], "another namespace's ELBs are not this caller's to judge");
        let staging = classify(&snapshot, "us-east-1", "staging", &BTreeSet::new(), None);
        assert_eq!(names(&staging.orphaned), ["other-cluster"]);
    }

    #[test]
    fn the_tags_read_right_before_a_delete_can_still_keep_it() {
        let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let ours = [(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/gone")];
        assert_eq!(reason_to_keep(&tags(&ours), "prod", "web/gone", "uid-1"), None);
        let retained = [ours[0], ours[1], (RETAINED_TAG, "True")];
        assert_eq!(reason_to_keep(&tags(&retained), "prod", "web/gone", "uid-1").as_deref(), Some("tagged elb.operator.dev/retained"));
        for changed in
            [vec![(CLUSTER_TAG, "prod"), (RESOURCE_TAG, "web/other")], vec![(CLUSTER_TAG, "staging"), (RESOURCE_TAG, "web/gone")], vec![]]
        {
            assert_eq!(
                reason_to_keep(&tags(&changed), "prod", "web/gone", "uid-1").as_deref(),
                Some("its ownership tags changed"),
                "{changed:?}"
            );
        }
        let adopted = [ours[0], ours[1], (ADOPTED_TAG, "true")];
        assert_eq!(reason_to_keep(&tags(&adopted), "prod", "web/gone", "uid-1").as_deref(), Some("tagged elb.operator.dev/adopted"));
        let same_uid = [ours[0], ours[1], (CLUSTER_UID_TAG, "uid-1")];
        assert_eq!(reason_to_keep(&tags(&same_uid), "prod", "web/gone", "uid-1"), None);
        let other_uid = [ours[0], ours[1], (CLUSTER_UID_TAG, "uid-2")];
        assert_eq!(
            reason_to_keep(&tags(&other_uid), "prod", "web/gone", "uid-1").as_deref(),
            Some("its elb.operator.dev/cluster-uid tag names cluster uid-2, not this one (uid-1)")
        );
    }

    #[test]
    fn a_candidate_of_another_cluster_uid_is_a_mismatch() {
        let orphan = |name: &str, uid: Option<&str>| Orphan {
            name: name.into(),
            region: "us-east-1".into(),
            resource: format!("web/{name}"),
            created_time: None,
            instances: vec![],
            cluster_uid: uid.map(String::from),
        };
        let candidates = [orphan("ours", Some("uid-1")), orphan("before-the-tag", None), orphan("theirs", Some("uid-2"))];
        assert_eq!(cluster_mismatches(&candidates, "uid-1"), ["theirs (us-east-1) is tagged elb.operator.dev/cluster-uid=uid-2"]);
        assert_eq!(cluster_mismatches(&candidates[..2], "uid-1"), Vec::<String>::new());
    }
}
