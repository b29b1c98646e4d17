//! Pod readiness gates: a pod that opts in with
//! `spec.readinessGates: [{conditionType: elb.operator.dev/in-service}]` becomes Ready only
//! once its node's instance is InService on **every** LoadBalancer that selects it, so a
//! rolling update never takes the last InService backend out before its replacement serves.
//!
//! The operator sets that condition through the pods/status subresource (a strategic merge
//! patch, so other conditions are untouched), and only on pods that carry the gate
//! ([`super::backends::has_gate`]). Such a pod counts as a backend while the gate is its one
//! missing piece ([`super::backends::pod_counts`]), or the gate could never turn True.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, warn};

use super::backends::{has_gate, parse_provider_id, selects_pod, IN_SERVICE};
use super::context::Context;
use crate::crd::condition::Status;
use crate::crd::{InstanceState, LoadBalancer, LoadBalancerStatus};

/// The gate's condition for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// The gate of a pod whose node's instance is `instance`, selected by `selecting`
/// (namespace/name of each LoadBalancer, with its status). Pure.
pub fn gate(instance: Option<&str>, selecting: &[(String, Option<&LoadBalancerStatus>)]) -> Gate {
    let Some(instance) = instance else {
        return Gate {
            status: false,
            reason: "NoInstance".into(),
            message: "the pod's node has no AWS providerID (aws:///<zone>/<instance-id>)".into(),
        };
    };
    for (lb, status) in selecting {
        match status.and_then(|s| s.instances.iter().find(|i| i.instance_id == instance)) {
            None => {
                return Gate {
                    status: false,
                    reason: "NotRegistered".into(),
                    message: format!("instance {instance} is not registered on LoadBalancer {lb} yet"),
                }
            }
            Some(i) if i.state != InstanceState::InService => {
                let why = i.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                return Gate {
                    status: false,
                    reason: i.state.to_string(),
                    message: format!("instance {instance} is {} on LoadBalancer {lb}{why}", i.state),
                };
            }
            Some(_) => {}
        }
    }
    let names = selecting.iter().map(|(lb, _)| lb.as_str()).collect::<Vec<_>>().join(", ");
    Gate { status: true, reason: "InService".into(), message: format!("instance {instance} is InService on LoadBalancer {names}") }
}

/// Brings the gate of every gated pod that `lb` selects up to date, with `status` as the
/// newest status of `lb` (the cache may not hold it yet). Failures are logged: a gate is
/// retried on the next reconcile, never a reason to fail this one.
pub async fn update(ctx: &Context, lb: &LoadBalancer, status: Option<&LoadBalancerStatus>) {
    let ns = lb.namespace().unwrap_or_default();
    let key = ObjectRef::from_obj(lb);
    let Some(selector) = lb.spec.backends.as_ref().and_then(|b| b.pod_selector.as_ref()) else { return };
    // Through the indexes: the pods this selector could match, and for each the
    // LoadBalancers that select it, rather than every pod and every LoadBalancer.
    for pod in ctx.stores.selectable_pods(&ns, selector) {
        if !has_gate(&pod) || !selects_pod(lb.spec.backends.as_ref(), &ns, &pod) {
            continue;
        }
        let others = ctx.stores.loadbalancers_selecting(&pod);
        let mut selecting: Vec<(String, Option<&LoadBalancerStatus>)> = others
            .iter()
            .filter(|other| ObjectRef::from_obj(&***other) != key)
            .map(|other| (format!("{ns}/{}", other.name_any()), other.status.as_ref()))
            .collect();
        selecting.push((format!("{ns}/{}", lb.name_any()), status));
        selecting.sort_by(|a, b| a.0.cmp(&b.0));
        let wanted = gate(instance_of(ctx, &pod).as_deref(), &selecting);
        if let Err(e) = write(ctx, &pod, &wanted).await {
            warn!(pod = %pod.name_any(), error = %e, "could not set the readiness gate");
        }
    }
}

fn instance_of(ctx: &Context, pod: &Pod) -> Option<String> {
    let node_name = pod.spec.as_ref()?.node_name.as_deref()?;
    let node: Arc<Node> = ctx.stores.nodes.get(&ObjectRef::new(node_name))?;
    parse_provider_id(node.spec.as_ref()?.provider_id.as_deref()?).map(|(_, id)| id)
}

/// Patches the pod's condition when it differs; keeps its transition time while its status
/// does not change.
async fn write(ctx: &Context, pod: &Pod, wanted: &Gate) -> Result<(), kube::Error> {
    // The shard of the LoadBalancer being reconciled was lost: its new holder sets gates.
    if !crate::aws::fence::writes_allowed() {
        return Ok(());
    }
    let current = pod.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == IN_SERVICE));
    let status = Status::from(wanted.status);
    let same_status = |c: &PodCondition| Status::of(&c.status) == status;
    if current
        .is_some_and(|c| same_status(c) && c.reason.as_deref() == Some(&wanted.reason) && c.message.as_deref() == Some(&wanted.message))
    {
        return Ok(());
    }
    let transition = match current {
        Some(c) if same_status(c) => c.last_transition_time.clone().map(|t| t.0).unwrap_or_else(Timestamp::now),
        _ => Timestamp::now(),
    };
    let patch = serde_json::json!({"status": {"conditions": [{
        "type": IN_SERVICE,
        "status": status.as_str(),
        "reason": wanted.reason,
        "message": crate::controller::status::truncate(&wanted.message, 1024),
        "lastTransitionTime": transition.to_string(),
    }]}});
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let params = PatchParams { field_manager: Some(crate::controller::status::FIELD_MANAGER.to_string()), ..Default::default() };
    api.patch_status(&pod.name_any(), &params, &Patch::Strategic(&patch)).await?;
    debug!(pod = %pod.name_any(), %status, reason = %wanted.reason, "readiness gate set");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::InstanceStatus;

    fn status(list: &[(&str, &str, Option<&str>)]) -> LoadBalancerStatus {
        LoadBalancerStatus {
            instances: list
                .iter()
                .map(|(id, s, d)| InstanceStatus {
                    instance_id: id.to_string(),
                    state: (*s).into(),
                    description: d.map(String::from),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn in_service_on_every_selecting_load_balancer() {
        let a = status(&[("i-1", "InService", None)]);
        let b = status(&[(
            "i-1",
            "OutOfService",
            Some("Instance has failed at least the UnhealthyThreshold number of health checks consecutively."),
        )]);
        let c = status(&[]);
        let both = gate(Some("i-1"), &[("ns/a".into(), Some(&a)), ("ns/b".into(), Some(&b))]);
        assert_eq!((both.status, both.reason.as_str()), (false, "OutOfService"));
        assert!(both.message.contains("ns/b") && both.message.contains("UnhealthyThreshold"), "{}", both.message);
        let unregistered = gate(Some("i-1"), &[("ns/a".into(), Some(&a)), ("ns/c".into(), Some(&c))]);
        assert_eq!(unregistered.reason, "NotRegistered");
        let fresh = gate(Some("i-1"), &[("ns/a".into(), None)]);
        assert_eq!(fresh.reason, "NotRegistered", "no status yet");
        let ok = gate(Some("i-1"), &[("ns/a".into(), Some(&a))]);
        assert!(ok.status, "{ok:?}");
        assert_eq!(gate(None, &[("ns/a".into(), Some(&a))]).reason, "NoInstance");
    }
}
