//! `spec.dns`: DNS names for the ELB, published through ExternalDNS. The operator keeps a
//! `DNSEndpoint` (`externaldns.k8s.io/v1alpha1`) owned by the LoadBalancer, and ExternalDNS
//! writes its records to the DNS provider.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A hostname: lowercase DNS labels of letters, digits and inner hyphens (at most 63
/// characters each) joined by dots, at least two labels, optionally a leading `*.`
/// wildcard; no trailing dot.
pub const HOSTNAMES_RULE: &str =
    r"self.all(h, h.matches('^([*][.])?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?[.])+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'))";

/// DNS names that point to the ELB, published through ExternalDNS (which must be installed
/// with its CRD source: `--source=crd`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dns {
    /// Hostnames (such as `www.example.com`; a leading `*.` for a wildcard) that get a CNAME
    /// record to the ELB's DNS name (status.dnsName). The operator keeps a DNSEndpoint of the
    /// LoadBalancer's name in its namespace, owned by it, with one endpoint per hostname;
    /// removing spec.dns removes it. 1-16 hostnames of at most 253 characters, no duplicates.
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 253)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new(HOSTNAMES_RULE)
        .message("hostnames must be lowercase DNS names such as www.example.com (optionally *.example.com), without a trailing dot"))]
    pub hostnames: Vec<String>,

    /// The records' TTL in seconds, 1-86400. Unset: the DNS provider's default, through
    /// ExternalDNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub ttl: Option<i64>,
}
