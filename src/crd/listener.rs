//! Listeners: the ports an ELB listens on, where it forwards them, and their TLS and
//! stickiness settings.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::*;

/// One listener: traffic on `port` with `protocol` goes to `instancePort` on every instance.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new(LISTENER_CERT_RULE)
    .message("HTTPS and SSL listeners need sslCertificateId (the ARN of an ACM or IAM server certificate)")
    .reason(Reason::FieldValueRequired)
    .field_path(".sslCertificateId"))]
#[x_kube(validation = Rule::new("!has(self.sslCertificateId) || self.protocol in ['HTTPS', 'SSL']")
    .message("sslCertificateId only applies to HTTPS and SSL listeners: HTTP and TCP listeners do not terminate TLS")
    .field_path(".sslCertificateId"))]
#[x_kube(validation = Rule::new(LISTENER_PAIR_RULE)
    .message("instanceProtocol does not fit protocol: HTTP and HTTPS forward to HTTP or HTTPS, TCP and SSL forward to TCP or SSL")
    .field_path(".instanceProtocol"))]
#[x_kube(validation = Rule::new("!has(self.stickiness) || self.protocol in ['HTTP', 'HTTPS']")
    .message("stickiness needs an HTTP or HTTPS listener")
    .field_path(".stickiness"))]
#[x_kube(validation = Rule::new("!has(self.sslPolicy) || self.protocol in ['HTTPS', 'SSL']")
    .message("sslPolicy needs an HTTPS or SSL listener")
    .field_path(".sslPolicy"))]
#[x_kube(validation = Rule::new(LISTENER_PROXY_RULE)
    .message("proxyProtocol needs a TCP or SSL instance protocol")
    .field_path(".proxyProtocol"))]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// The front-end port the ELB listens on: 1-65535, unique among the listeners. (The
    /// shorter EC2-Classic list, 25, 80, 443, 465, 587 and 1024-65535, no longer applies:
    /// EC2-Classic is retired and every Classic ELB lives in a VPC.)
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// The front-end protocol: HTTP, HTTPS, TCP or SSL.
    pub protocol: Protocol,

    /// The port on the instances traffic is sent to (1-65535).
    #[schemars(range(min = 1, max = 65535))]
    pub instance_port: i32,

    /// The protocol to the instances. Default: HTTP for HTTP/HTTPS listeners, TCP for
    /// TCP/SSL listeners. HTTP/HTTPS pairs only with HTTP/HTTPS, TCP/SSL with TCP/SSL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_protocol: Option<Protocol>,

    /// ARN of the server certificate: an ACM certificate
    /// (`arn:aws:acm:<region>:<account>:certificate/<id>`, in the load balancer's region) or
    /// an IAM server certificate (`arn:aws:iam::<account>:server-certificate/<name>`).
    /// Required for HTTPS and SSL listeners, refused on HTTP and TCP ones. Whether the
    /// certificate exists only AWS knows: a missing one shows in the Synced condition and a
    /// Warning event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new(CERTIFICATE_ARN_RULE).message(
        "sslCertificateId must be the ARN of an ACM certificate (arn:aws:acm:<region>:<account>:certificate/<id>) or of an IAM server certificate (arn:aws:iam::<account>:server-certificate/<name>)"
    ))]
    pub ssl_certificate_id: Option<String>,

    /// Cookie stickiness for HTTP/HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,

    /// Send the PROXY protocol header to the instance port (TCP/SSL back ends).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proxy_protocol: bool,

    /// The TLS negotiation policy of an HTTPS or SSL listener: the name of an AWS predefined
    /// security policy, such as `ELBSecurityPolicy-TLS-1-2-2017-01`. The operator creates
    /// its own SSLNegotiationPolicyType policy referencing it and sets it on the listener,
    /// in place of the predefined one AWS attached; removing the field removes that policy.
    /// Unset: the listener keeps whatever policy AWS or someone else set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^ELB[A-Za-z0-9-]+$"))]
    pub ssl_policy: Option<String>,
}

/// A listener protocol.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Protocol {
    HTTP,
    HTTPS,
    TCP,
    SSL,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HTTP => "HTTP",
            Protocol::HTTPS => "HTTPS",
            Protocol::TCP => "TCP",
            Protocol::SSL => "SSL",
        }
    }

    /// Layer 7 protocols (HTTP/HTTPS) versus layer 4 (TCP/SSL).
    pub fn is_http_family(self) -> bool {
        matches!(self, Protocol::HTTP | Protocol::HTTPS)
    }
}

/// Session stickiness on a listener: either the application's cookie (`cookieName`) or
/// the ELB's own cookie (`expirationSeconds`, or neither field for a session cookie).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("!(has(self.cookieName) && has(self.expirationSeconds))")
    .message("stickiness takes either cookieName (the application's cookie) or expirationSeconds (the ELB's cookie), not both"))]
#[serde(rename_all = "camelCase")]
pub struct Stickiness {
    /// Follow the application's own cookie with this name (app-cookie stickiness): a
    /// non-empty cookie name of letters, digits and ``!#$%&'*+-.^_`|~`` (an RFC 6265 token).
    /// When unset, the ELB issues its own cookie (lb-cookie stickiness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // maxLength bounds the rule's cost: browsers keep at most 4096 bytes of a cookie.
    #[schemars(length(max = 4096))]
    #[x_kube(validation = Rule::new(COOKIE_NAME_RULE).message(
        "cookieName must be a cookie name: not empty, only letters, digits and !#$%&'*+-.^_`|~ (no spaces, quotes, commas, semicolons or =)"
    ))]
    pub cookie_name: Option<String>,

    /// Lifetime of the ELB's cookie in seconds (lb-cookie stickiness), at least 1. Unset:
    /// the browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub expiration_seconds: Option<i64>,
}
