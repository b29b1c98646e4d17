//! The invariants a campaign ends on, computed independently of the operator's code: what
//! each live LoadBalancer's ELB must be is derived here from the objects in the API (spec,
//! HealthCheck, pods, nodes) and compared with what moto reports.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::Value;
use test_support::moto::Moto;

use elb_operator::crd::tags::{CLUSTER_TAG, RESOURCE_TAG};
use elb_operator::elb::{Client, ElbApi, LoadBalancerDescription};
use elb_operator::sync::ownership::CLUSTER_UID_TAG;

use crate::harness::{panics, Services, REGION};

/// What the driver knows that the API no longer shows.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub namespace: String,
    pub cluster: String,
    /// LoadBalancers deleted and not created again: they must be gone (finalizer done).
    pub deleted: BTreeSet<String>,
    /// Deleted `Retain` LoadBalancers: (resource `ns/name`, ELB name); the ELB must exist.
    pub retained: Vec<(String, String)>,
    /// The LoadBalancer whose wanted name a foreign ELB has.
    pub conflicting: String,
    pub foreign_elb: String,
    /// The foreign ELB's raw answers before the campaign (request ids removed).
    pub foreign_before: Vec<String>,
    /// Must appear in no log and no event.
    pub secret: String,
}

/// The foreign ELB as moto answers about it: DescribeLoadBalancers, DescribeTags,
/// DescribeLoadBalancerAttributes and DescribeInstanceHealth, raw XML without request ids.
pub fn foreign_snapshot(moto: &Moto, name: &str) -> Vec<String> {
    let actions = ["DescribeLoadBalancers", "DescribeTags", "DescribeLoadBalancerAttributes", "DescribeInstanceHealth"];
    actions
        .iter()
        .map(|action| {
            let key =
                if action.ends_with("Tags") || action.ends_with("Balancers") { "LoadBalancerNames.member.1" } else { "LoadBalancerName" };
            let params = [("Action", *action), ("Version", "2012-06-01"), (key, name)];
            let (status, body) =
                tokio::task::block_in_place(|| moto.signed_query("elasticloadbalancing", REGION, &params, "AKIDCHECKER", "checker"));
            assert_eq!(status, 200, "{action} {name}: {body}");
            strip_request_ids(&body)
        })
        .collect()
}

fn strip_request_ids(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("<RequestId>") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</RequestId>") {
            Some(j) => rest = &rest[i + j + "</RequestId>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Figures a check reports besides its problems.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// ELBs whose DescribeLoadBalancers lists an instance more than once (moto's quirk
    /// after a repeated RegisterInstances).
    pub duplicate_listings: usize,
    pub live: usize,
    pub elbs: usize,
}

/// Every invariant on the cluster and moto; an empty list means all hold.
pub async fn invariants(s: &Services, elb: &Client, e: &Expect) -> (Vec<String>, Seen) {
    let mut problems = Vec::new();
    let mut seen = Seen::default();
    let ns = e.namespace.as_str();
    let lbs = match s.custom(ns, "LoadBalancer").list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(err) => return (vec![format!("list LoadBalancers: {err}")], seen),
    };
    let hcs: BTreeMap<String, Value> = match s.custom(ns, "HealthCheck").list(&ListParams::default()).await {
        Ok(l) => l.items.into_iter().map(|o| (o.metadata.name.clone().unwrap_or_default(), o.data["spec"].clone())).collect(),
        Err(err) => return (vec![format!("list HealthChecks: {err}")], seen),
    };
    let pods = Api::<Pod>::namespaced(s.kube.clone(), ns).list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    // The cluster's identity, which the ownership tags carry beside its name.
    let cluster_uid = Api::<Namespace>::all(s.kube.clone()).get("kube-system").await.ok().and_then(|n| n.metadata.uid);
    let nodes = Api::<Node>::all(s.kube.clone()).list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    let all = match elb.describe_load_balancers(&[]).await {
        Ok(v) => v,
        Err(err) => return (vec![format!("describe every ELB at moto: {err}")], seen),
    };
    seen.elbs = all.len();
    let names: Vec<String> = all.iter().map(|d| d.name.clone()).collect();
    let tags: BTreeMap<String, BTreeMap<String, String>> = match elb.describe_tags(&names).await {
        Ok(t) => t.into_iter().map(|(n, v)| (n, v.into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect())).collect(),
        Err(err) => return (vec![format!("describe tags at moto: {err}")], seen),
    };
    let by_name: BTreeMap<&str, &LoadBalancerDescription> = all.iter().map(|d| (d.name.as_str(), d)).collect();
    for d in &all {
        let mut ids = d.instances.clone();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        if ids.len() != before {
            seen.duplicate_listings += 1;
        }
    }

    // Live resources: exactly one ELB each, matching the spec.
    let mut wanted: BTreeMap<String, String> = BTreeMap::new(); // ELB name -> resource
    for lb in &lbs {
        let name = lb.metadata.name.clone().unwrap_or_default();
        let resource = format!("{ns}/{name}");
        seen.live += 1;
        if lb.metadata.deletion_timestamp.is_some() {
            problems.push(format!("{resource}: still being deleted (finalizer not done)"));
            continue;
        }
        if e.deleted.contains(&name) {
            problems.push(format!("{resource}: deleted by the driver but still there"));
        }
        let spec = &lb.data["spec"];
        let status = &lb.data["status"];
        let elb_name = spec["loadBalancerName"].as_str().map(str::to_string).unwrap_or_else(|| elb_operator::naming::elb_name(ns, &name));
        let generation = lb.metadata.generation;
        if status["observedGeneration"].as_i64() != generation {
            problems.push(format!("{resource}: observedGeneration {} != generation {generation:?}", status["observedGeneration"]));
        }
        let cond =
            |ty: &str| status["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == ty).cloned()).unwrap_or(Value::Null);
        let owned_by_it: Vec<&str> = tags
            .iter()
            .filter(|(_, t)| t.get(RESOURCE_TAG) == Some(&resource) && t.get(CLUSTER_TAG) == Some(&e.cluster))
            .map(|(n, _)| n.as_str())
            .collect();
        if name == e.conflicting {
            if cond("Conflict")["status"] != "True" || cond("Ready")["status"] != "False" {
                problems.push(format!("{resource}: wants the foreign ELB's name and must say Conflict: {}", status["conditions"]));
            }
            if !owned_by_it.is_empty() {
                problems.push(format!("{resource}: conflicting, yet ELBs carry its tags: {owned_by_it:?}"));
            }
            continue;
        }
        wanted.insert(elb_name.clone(), resource.clone());
        if cond("Ready")["status"] != "True" {
            problems.push(format!("{resource}: not Ready: {}", cond("Ready")));
        }
        if owned_by_it != [elb_name.as_str()] {
            problems.push(format!("{resource}: ELBs with its tags: {owned_by_it:?}, want exactly [{elb_name}]"));
        }
        if status["loadBalancerName"].as_str() != Some(elb_name.as_str()) {
            problems.push(format!("{resource}: status.loadBalancerName {} != {elb_name}", status["loadBalancerName"]));
        }
        let Some(d) = by_name.get(elb_name.as_str()) else {
            problems.push(format!("{resource}: no ELB {elb_name}"));
            continue;
        };
        let want = expected(spec, &hcs, &pods, &nodes, ns);
        let got_listeners: BTreeSet<(u16, String, u16, String)> = d
            .listeners
            .iter()
            .map(|l| {
                (
                    l.listener.load_balancer_port,
                    l.listener.protocol.as_str().to_uppercase(),
                    l.listener.instance_port,
                    l.listener.instance_protocol.as_str().to_uppercase(),
                )
            })
            .collect();
        if got_listeners != want.listeners {
            problems.push(format!("{resource}: listeners {got_listeners:?}, spec {:?}", want.listeners));
        }
        let zones: BTreeSet<String> = d.availability_zones.iter().cloned().collect();
        if zones != want.zones {
            problems.push(format!("{resource}: zones {zones:?}, want {:?}", want.zones));
        }
        let instances: BTreeSet<String> = d.instances.iter().cloned().collect();
        if instances != want.instances {
            problems.push(format!("{resource}: instances {instances:?}, want {:?}", want.instances));
        }
        let hc = d.health_check.as_ref().map(|h| (h.target.clone(), h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold));
        if hc != want.health_check {
            problems.push(format!("{resource}: health check {hc:?}, want {:?}", want.health_check));
        }
        let mut want_tags = want.tags.clone();
        want_tags.insert(CLUSTER_TAG.into(), e.cluster.clone());
        want_tags.insert(RESOURCE_TAG.into(), resource.clone());
        if let Some(uid) = &cluster_uid {
            want_tags.insert(CLUSTER_UID_TAG.into(), uid.clone());
        }
        if tags.get(&elb_name) != Some(&want_tags) {
            problems.push(format!("{resource}: tags {:?}, want {want_tags:?}", tags.get(&elb_name)));
        }
        if want.attributes != Attrs::default() {
            match elb.describe_load_balancer_attributes(&elb_name).await {
                Ok(a) => {
                    let got = Attrs {
                        cross_zone: want.attributes.cross_zone.and(a.cross_zone_load_balancing),
                        idle_timeout: want.attributes.idle_timeout.and(a.idle_timeout),
                        draining: want.attributes.draining.and(a.connection_draining.map(|c| (c.enabled, c.timeout))),
                    };
                    if got != want.attributes {
                        problems.push(format!("{resource}: attributes {got:?}, want {:?}", want.attributes));
                    }
                }
                Err(err) => problems.push(format!("{resource}: describe attributes: {err}")),
            }
        }
        // Status tells the truth about the instances, once each.
        let listed: Vec<String> =
            status["instances"].as_array().into_iter().flatten().filter_map(|i| i["instanceId"].as_str().map(str::to_string)).collect();
        let distinct: BTreeSet<String> = listed.iter().cloned().collect();
        if distinct.len() != listed.len() {
            problems.push(format!("{resource}: status.instances lists an instance twice: {listed:?}"));
        }
        if distinct != want.instances {
            problems.push(format!("{resource}: status.instances {distinct:?}, want {:?}", want.instances));
        }
    }
    // No ELB of this cluster without a live resource, except retained ones (which must exist).
    let retained: BTreeMap<&str, &str> = e.retained.iter().map(|(r, n)| (n.as_str(), r.as_str())).collect();
    for (elb_name, t) in &tags {
        if t.get(CLUSTER_TAG) != Some(&e.cluster) {
            continue;
        }
        let resource = t.get(RESOURCE_TAG).cloned().unwrap_or_default();
        let live = wanted.get(elb_name) == Some(&resource);
        let kept = retained.get(elb_name.as_str()) == Some(&resource.as_str());
        if !live && !kept {
            problems.push(format!("leaked ELB {elb_name} (tags name {resource}, which has no live resource wanting it)"));
        }
    }
    for (resource, elb_name) in &e.retained {
        if !by_name.contains_key(elb_name.as_str()) {
            problems.push(format!("the retained ELB {elb_name} of deleted {resource} is gone"));
        }
    }

    // The foreign ELB, byte for byte.
    if !e.foreign_elb.is_empty() {
        let now = foreign_snapshot(&s.moto, &e.foreign_elb);
        for (before, after) in e.foreign_before.iter().zip(&now) {
            if before != after {
                problems.push(format!("the foreign ELB {} changed:\nbefore: {before}\nafter:  {after}", e.foreign_elb));
            }
        }
    }

    // The secret key reaches no event.
    let events = Api::<Event>::namespaced(s.kube.clone(), ns).list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    for ev in &events {
        if serde_json::to_string(ev).unwrap_or_default().contains(&e.secret) {
            problems.push(format!("an event holds the secret key: {:?}", ev.metadata.name));
        }
    }
    (problems, seen)
}

/// No panic and no secret in any of these logs.
pub fn logs_clean(logs: &[(std::path::PathBuf, String)], secret: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, text) in logs {
        for line in panics(text) {
            problems.push(format!("{}: {line}", path.display()));
        }
        if text.contains(secret) {
            problems.push(format!("{}: contains the AWS secret key", path.display()));
        }
    }
    problems
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Attrs {
    cross_zone: Option<bool>,
    idle_timeout: Option<i32>,
    draining: Option<(bool, Option<i32>)>,
}

struct Want {
    listeners: BTreeSet<(u16, String, u16, String)>,
    zones: BTreeSet<String>,
    instances: BTreeSet<String>,
    health_check: Option<(String, i32, i32, i32, i32)>,
    attributes: Attrs,
    tags: BTreeMap<String, String>,
}

fn matches_labels(selector: &Value, labels: Option<&BTreeMap<String, String>>) -> bool {
    let Some(want) = selector["matchLabels"].as_object() else { return false };
    if want.is_empty() {
        return false;
    }
    want.iter().all(|(k, v)| labels.and_then(|l| l.get(k)).map(String::as_str) == v.as_str())
}

fn provider(node: &Node) -> Option<(String, String)> {
    let p = node.spec.as_ref()?.provider_id.as_deref()?;
    let rest = p.strip_prefix("aws:///")?;
    let (zone, id) = rest.split_once('/')?;
    Some((zone.to_string(), id.to_string()))
}

/// The ELB a spec asks for, from the objects as they are now.
fn expected(spec: &Value, hcs: &BTreeMap<String, Value>, pods: &[Pod], nodes: &[Node], _ns: &str) -> Want {
    let listeners = spec["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let protocol = l["protocol"].as_str().unwrap_or_default().to_uppercase();
            let http = protocol == "HTTP" || protocol == "HTTPS";
            let instance_protocol =
                l["instanceProtocol"].as_str().map(str::to_uppercase).unwrap_or_else(|| if http { "HTTP".into() } else { "TCP".into() });
            (l["port"].as_u64().unwrap_or(0) as u16, protocol, l["instancePort"].as_u64().unwrap_or(0) as u16, instance_protocol)
        })
        .collect();
    let backends = &spec["backends"];
    let node_by_name: BTreeMap<&str, &Node> = nodes.iter().filter_map(|n| Some((n.metadata.name.as_deref()?, n))).collect();
    let mut instances: BTreeMap<String, Option<String>> = BTreeMap::new();
    if backends["podSelector"].is_object() {
        for pod in pods {
            if pod.metadata.deletion_timestamp.is_some() || !matches_labels(&backends["podSelector"], pod.metadata.labels.as_ref()) {
                continue;
            }
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).and_then(|n| node_by_name.get(n));
            if let (true, Some((zone, id))) = (ready, node.and_then(|n| provider(n))) {
                instances.insert(id, Some(zone));
            }
        }
    }
    if backends["nodeSelector"].is_object() {
        for node in nodes {
            if matches_labels(&backends["nodeSelector"], node.metadata.labels.as_ref()) {
                if let Some((zone, id)) = provider(node) {
                    instances.insert(id, Some(zone));
                }
            }
        }
    }
    for id in backends["instanceIds"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        instances.entry(id.to_string()).or_insert(None);
    }
    let zones = match spec["availabilityZones"].as_array() {
        Some(z) if !z.is_empty() => z.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => instances.values().flatten().cloned().collect(),
    };
    let health_check = spec["healthCheckRef"]["name"].as_str().and_then(|n| hcs.get(n)).map(|h| {
        let int = |k: &str, d: i64| h[k].as_i64().unwrap_or(d) as i32;
        (
            h["target"].as_str().unwrap_or_default().to_string(),
            int("intervalSeconds", 30),
            int("timeoutSeconds", 5),
            int("healthyThreshold", 3),
            int("unhealthyThreshold", 5),
        )
    });
    let a = &spec["attributes"];
    let attributes = Attrs {
        cross_zone: a["crossZone"].as_bool(),
        idle_timeout: a["idleTimeoutSeconds"].as_i64().map(|v| v as i32),
        draining: a["connectionDraining"].is_object().then(|| {
            (
                a["connectionDraining"]["enabled"].as_bool().unwrap_or(false),
                a["connectionDraining"]["timeoutSeconds"].as_i64().map(|v| v as i32),
            )
        }),
    };
    let tags =
        spec["tags"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
    Want { listeners, zones, instances: instances.into_keys().collect(), health_check, attributes, tags }
}
