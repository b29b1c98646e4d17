//! After apply: `spec.dns` through ExternalDNS. The operator keeps one `DNSEndpoint`
//! (`externaldns.k8s.io/v1alpha1`, a dynamic object: ExternalDNS's CRD, no crate of its
//! types) of the LoadBalancer's name in its namespace, owned by it (so it goes with it),
//! with one CNAME endpoint per hostname to `status.dnsName`. It is written once the DNS name
//! is known (server-side apply: a change of hostnames, TTL or DNS name updates it), and
//! deleted when `spec.dns` is removed. Condition `DNSPublished` says how it went; without
//! ExternalDNS's CRD it is False (`ExternalDNSNotInstalled`) and re-checked every resync.
//! Kubernetes writes only: no AWS call.

use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};
use tracing::debug;

use super::next_status::Observation;
use super::report::{write_status, StatusWrite};
use crate::controller::context::Context;
use crate::controller::schedule::jittered;
use crate::controller::sharding::fenced;
use crate::controller::status::{Verdict, FIELD_MANAGER};
use crate::crd::condition::{DNS_PUBLISHED, REASON_DNS_ENDPOINT_FAILED, REASON_DNS_PUBLISHED, REASON_EXTERNAL_DNS_NOT_INSTALLED};
use crate::crd::{Dns, LoadBalancer};
use crate::{Error, Result};

/// ExternalDNS's API group, version, kind and resource.
pub const GROUP: &str = "externaldns.k8s.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "DNSEndpoint";
pub const PLURAL: &str = "dnsendpoints";

/// How soon to look again when the sync's status (with the DNS name) is not in the cache yet.
const CACHE_WAIT: Duration = Duration::from_secs(1);

/// The DNSEndpoint resource, for a dynamic API.
pub fn api_resource() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.into(),
        plural: PLURAL.into(),
    }
}

/// The DNSEndpoint that publishes `dns` for `lb`, pointing at `target` (pure).
pub fn endpoint(lb: &LoadBalancer, dns: &Dns, target: &str) -> Value {
    let endpoints: Vec<Value> = dns
        .hostnames
        .iter()
        .map(|host| {
            let mut e = json!({"dnsName": host, "recordType": "CNAME", "targets": [target]});
            if let Some(ttl) = dns.ttl {
                e["recordTTL"] = json!(ttl);
            }
            e
        })
        .collect();
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {
            "name": lb.name_any(),
            "namespace": lb.namespace(),
            "labels": {"app.kubernetes.io/managed-by": "elb-operator"},
            "ownerReferences": lb.controller_owner_ref(&()).into_iter().collect::<Vec<_>>(),
        },
        "spec": {"endpoints": endpoints},
    })
}

/// Brings the DNSEndpoint of `lb` and its `DNSPublished` condition up to date. Returns the
/// requeue it needs, if any: soon when the DNS name is not in the cached status yet, after
/// the resync interval while ExternalDNS's CRD is missing.
pub async fn publish(lb: &LoadBalancer, ctx: &Context) -> Result<Option<Action>> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &lb.namespace().unwrap_or_default(), &api_resource());
    let recorded = lb.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == DNS_PUBLISHED));
    let Some(dns) = lb.spec.dns.as_ref().filter(|d| !d.hostnames.is_empty()) else {
        if !recorded {
            return Ok(None);
        }
        // spec.dns removed: the DNSEndpoint goes (already gone, or no CRD, is done), then
        // the condition.
        match fenced("dnsendpoint", api.delete(&lb.name_any(), &DeleteParams::default())).await? {
            Ok(_) => debug!("DNSEndpoint deleted"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(Error::Kube(e)),
        }
        return status(lb, ctx, None).await;
    };
    let Some(target) = lb.status.as_ref().and_then(|s| s.dns_name.clone()).filter(|n| !n.is_empty()) else {
        // The ELB is new: its sync's status write reaches the cache in a moment.
        return Ok(Some(Action::requeue(jittered(CACHE_WAIT))));
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written = fenced("dnsendpoint", api.patch(&lb.name_any(), &params, &Patch::Apply(endpoint(lb, dns, &target)))).await?;
    let n = dns.hostnames.len();
    let (verdict, then) = match written {
        Ok(_) => (
            Verdict::new(
                DNS_PUBLISHED,
                true,
                REASON_DNS_PUBLISHED,
                format!("DNSEndpoint {} holds {n} CNAME record(s) to {target}", lb.name_any()),
            ),
            None,
        ),
        // The resource is not served: ExternalDNS's CRD is not installed.
        Err(kube::Error::Api(e)) if e.code == 404 => {
            let message =
                format!("the {KIND} CRD ({GROUP}/{VERSION}) is not installed: install ExternalDNS with its CRD source to publish spec.dns");
            let verdict = Verdict::new(DNS_PUBLISHED, false, REASON_EXTERNAL_DNS_NOT_INSTALLED, message);
            (verdict, Some(Action::requeue(jittered(ctx.config.resync_interval))))
        }
        Err(e) => {
            let verdict =
                Verdict::new(DNS_PUBLISHED, false, REASON_DNS_ENDPOINT_FAILED, format!("writing DNSEndpoint {}: {e}", lb.name_any()));
            status(lb, ctx, Some(&verdict)).await?;
            return Err(Error::Kube(e));
        }
    };
    Ok(status(lb, ctx, Some(&verdict)).await?.or(then))
}

/// Writes the `DNSPublished` condition (`None` removes it), only over the status it was
/// computed from: a sync may just have written a newer one the cache has not seen.
async fn status(lb: &LoadBalancer, ctx: &Context, verdict: Option<&Verdict>) -> Result<Option<Action>> {
    match write_status(lb, ctx, Observation::Dns(verdict), StatusWrite { if_current: true, ..StatusWrite::default() }).await {
        Ok(()) => Ok(None),
        Err(Error::Kube(kube::Error::Api(e))) if e.code == 409 => Ok(Some(Action::requeue(jittered(CACHE_WAIT)))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::next_status::next;
    use super::*;
    use crate::crd::condition::SYNCED;
    use crate::crd::LoadBalancerStatus;

    /// The other status writers keep the condition; only the DNS step changes or removes it.
    #[test]
    fn dns_published_survives_other_status_writes_until_removed() {
        let published = Verdict::new(DNS_PUBLISHED, true, REASON_DNS_PUBLISHED, "m");
        let status = next(&LoadBalancerStatus::default(), Some(1), &Observation::Dns(Some(&published)));
        let failed = Observation::Failed {
            synced: Verdict::new(SYNCED, false, "Throttling", "slow down"),
            conflict: None,
            resolved: None,
            transient: true,
        };
        let after = next(&status, Some(2), &failed);
        let kept = after.conditions.iter().find(|c| c.type_ == DNS_PUBLISHED).expect("kept by a failed sync's status");
        assert_eq!((kept.status.as_str(), kept.reason.as_str()), ("True", REASON_DNS_PUBLISHED));
        let removed = next(&after, Some(3), &Observation::Dns(None));
        assert!(removed.conditions.iter().all(|c| c.type_ != DNS_PUBLISHED) && removed.conditions.len() == after.conditions.len() - 1);
    }

    #[test]
    fn one_cname_per_hostname_owned_by_the_load_balancer() {
        let mut lb = LoadBalancer::new("web", serde_json::from_value(json!({"listeners": []})).unwrap());
        lb.metadata.namespace = Some("shop".into());
        lb.metadata.uid = Some("u-1".into());
        let dns = Dns { hostnames: vec!["www.example.com".into(), "shop.example.com".into()], ttl: Some(60) };
        let e = endpoint(&lb, &dns, "web-1.us-east-1.elb.amazonaws.com");
        assert_eq!(e["metadata"]["name"], "web");
        assert_eq!(e["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(e["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            e["spec"]["endpoints"],
            json!([
                {"dnsName": "www.example.com", "recordType": "CNAME", "targets": ["web-1.us-east-1.elb.amazonaws.com"], "recordTTL": 60},
                {"dnsName": "shop.example.com", "recordType": "CNAME", "targets": ["web-1.us-east-1.elb.amazonaws.com"], "recordTTL": 60},
            ])
        );
        let no_ttl = endpoint(&lb, &Dns { ttl: None, ..dns }, "t");
        assert!(no_ttl["spec"]["endpoints"][0].get("recordTTL").is_none());
    }
}
