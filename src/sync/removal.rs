//! Removing an ELB when its resource goes: detach its Auto Scaling groups, delete it, or
//! keep it (foreign, adopted, retained), with the ownership and adoption checked on the
//! tags read right before the delete.

use std::collections::BTreeMap;

use tracing::warn;

use super::calls::{apply_to, describe, observe_groups, tags_of, Apis};
use super::ownership::{self, Owner, Ownership};
use super::plan::Action;
use crate::aws;
use crate::elb::{self, ElbApi};

/// What deleting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// There was nothing to delete.
    AlreadyGone,
    /// The ELB is not this resource's; it was left in place.
    Foreign {
        claimed_by: Option<String>,
    },
    /// The ELB was adopted ([`ownership::ADOPTED_TAG`]) and the resource did not say
    /// `deletionPolicy: Delete` itself: it was left in place, marked retained (best effort).
    KeptAdopted,
}

/// Marks an ELB that this resource owns as retained ([`crate::crd::tags::RETAINED_TAG`]).
/// Returns whether it was marked; a missing or foreign ELB is left alone.
pub async fn mark_retained(elb: &dyn ElbApi, name: &str, owner: &Owner) -> Result<bool, aws::Error> {
    let Some(tags) = owned_tags(elb, name, owner).await? else {
        return Ok(false);
    };
    if tags.get(crate::crd::tags::RETAINED_TAG).is_some_and(|v| v == "true") {
        return Ok(true);
    }
    let tag = elb::Tag { key: crate::crd::tags::RETAINED_TAG.into(), value: Some("true".into()) };
    elb.add_tags(&[name.to_string()], &[tag]).await?;
    Ok(true)
}

/// The tags of the ELB if it exists and this resource owns it, else `None`.
async fn owned_tags(elb: &dyn ElbApi, name: &str, owner: &Owner) -> Result<Option<BTreeMap<String, String>>, aws::Error> {
    let tags = match tags_of(elb, name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok((!tags.is_empty() && owner.ownership(&tags) == Ownership::Owned).then_some(tags))
}

/// Before the ELB is deleted: detaches it from the Auto Scaling groups among `groups` that
/// are attached to it (a group would otherwise keep naming a load balancer that is gone),
/// if, and only if, this resource owns it and [`delete`] will delete it (an adopted ELB
/// without `explicit_delete` is kept, with its groups). Returns the groups detached; no
/// groups, no call.
pub async fn detach_groups(
    apis: Apis<'_>,
    name: &str,
    owner: &Owner,
    groups: &[String],
    explicit_delete: bool,
) -> Result<Vec<String>, aws::Error> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    match owned_tags(apis.elb, name, owner).await? {
        Some(tags) if explicit_delete || !ownership::is_adopted(&tags) => {}
        _ => return Ok(Vec::new()),
    }
    let observed = observe_groups(apis.autoscaling, name, groups.iter().cloned().collect()).await?;
    let mut detached = Vec::new();
    for group in observed.iter().filter(|(_, g)| g.attached).map(|(n, _)| n) {
        apply_to(apis, &observed, name, &Action::DetachGroup(group.clone())).await?;
        detached.push(group.clone());
    }
    Ok(detached)
}

/// What [`delete_unless`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome<K> {
    Deleted,
    /// There was nothing to delete.
    AlreadyGone,
    /// The check found a reason, in the tags as they were right before the delete, to keep it.
    Kept(K),
}

/// Deletes the ELB unless `keep` finds a reason in its tags, read right before the delete
/// (a change since the caller last looked is seen). Already gone is success.
pub async fn delete_unless<K>(
    elb: &dyn ElbApi,
    name: &str,
    keep: impl FnOnce(&BTreeMap<String, String>) -> Option<K>,
) -> Result<DeleteOutcome<K>, aws::Error> {
    if describe(elb, name).await?.is_none() {
        return Ok(DeleteOutcome::AlreadyGone);
    }
    if let Some(reason) = keep(&tags_of(elb, name).await?) {
        return Ok(DeleteOutcome::Kept(reason));
    }
    match elb.delete_load_balancer(name).await {
        Ok(()) => Ok(DeleteOutcome::Deleted),
        Err(e) if e.is_not_found() => Ok(DeleteOutcome::AlreadyGone),
        Err(e) => Err(e),
    }
}

/// Why [`delete`] keeps an ELB.
enum Keep {
    Foreign(Option<String>),
    Adopted,
}

/// Whether [`delete`] keeps an ELB with `tags`: the one rule of both it and [`preview`].
fn keep(tags: &BTreeMap<String, String>, owner: &Owner, explicit_delete: bool) -> Option<Keep> {
    match owner.ownership(tags) {
        Ownership::Foreign { claimed_by } => Some(Keep::Foreign(claimed_by)),
        Ownership::Owned if ownership::is_adopted(tags) && !explicit_delete => Some(Keep::Adopted),
        Ownership::Owned => None,
    }
}

/// One call a removal makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalCall {
    /// AutoScaling DetachLoadBalancers of the ELB from this group.
    DetachGroup(String),
    DeleteLoadBalancer,
    /// AddTags of the retained marker ([`crate::crd::tags::RETAINED_TAG`]).
    MarkRetained,
}

/// What removing an ELB would do, found with reads only: the outcome and the calls of
/// [`detach_groups`] then [`delete`] (or, with `retain`, of [`mark_retained`]), in order.
/// Same rules as those; `Deleted::Deleted` with `retain` never occurs.
pub async fn preview(
    apis: Apis<'_>,
    name: &str,
    owner: &Owner,
    groups: &[String],
    retain: bool,
    explicit_delete: bool,
) -> Result<(Deleted, Vec<RemovalCall>), aws::Error> {
    if describe(apis.elb, name).await?.is_none() {
        return Ok((Deleted::AlreadyGone, Vec::new()));
    }
    let tags = tags_of(apis.elb, name).await?;
    if retain {
        let owned = !tags.is_empty() && owner.ownership(&tags) == Ownership::Owned;
        let marked = tags.get(crate::crd::tags::RETAINED_TAG).is_some_and(|v| v == "true");
        let calls = if owned && !marked { vec![RemovalCall::MarkRetained] } else { Vec::new() };
        return Ok((Deleted::KeptAdopted, calls));
    }
    match keep(&tags, owner, explicit_delete) {
        Some(Keep::Foreign(claimed_by)) => Ok((Deleted::Foreign { claimed_by }, Vec::new())),
        Some(Keep::Adopted) => {
            let marked = tags.get(crate::crd::tags::RETAINED_TAG).is_some_and(|v| v == "true");
            Ok((Deleted::KeptAdopted, if marked { Vec::new() } else { vec![RemovalCall::MarkRetained] }))
        }
        None => {
            let mut calls = Vec::new();
            if !groups.is_empty() {
                let observed = observe_groups(apis.autoscaling, name, groups.iter().cloned().collect()).await?;
                calls.extend(observed.iter().filter(|(_, g)| g.attached).map(|(n, _)| RemovalCall::DetachGroup(n.clone())));
            }
            calls.push(RemovalCall::DeleteLoadBalancer);
            Ok((Deleted::Deleted, calls))
        }
    }
}

/// Deletes the ELB if, and only if, this resource owns it, and, when the ELB carries
/// [`ownership::ADOPTED_TAG`], only with `explicit_delete` (the resource itself says
/// `deletionPolicy: Delete`): the tag decides, not a status that may be lost. Already gone
/// is success. An adopted ELB kept is marked retained for the orphan report (best effort).
pub async fn delete(elb: &dyn ElbApi, name: &str, owner: &Owner, explicit_delete: bool) -> Result<Deleted, aws::Error> {
    Ok(match delete_unless(elb, name, |tags| keep(tags, owner, explicit_delete)).await? {
        DeleteOutcome::Deleted => Deleted::Deleted,
        DeleteOutcome::AlreadyGone => Deleted::AlreadyGone,
        DeleteOutcome::Kept(Keep::Foreign(claimed_by)) => Deleted::Foreign { claimed_by },
        DeleteOutcome::Kept(Keep::Adopted) => {
            if let Err(e) = mark_retained(elb, name, owner).await {
                warn!(elb = name, error = %e, "could not tag the kept adopted load balancer");
            }
            Deleted::KeptAdopted
        }
    })
}
