//! Which ELBv2 load balancer replaces a Classic ELB: an ALB for HTTP and HTTPS listeners, an
//! NLB for TCP and SSL ones, both (split by listener) for a mix; `--target` forces one.

use serde::Serialize;

use crate::crd::{ListenerSpec, Protocol};

/// An ELBv2 load balancer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Application Load Balancer, through an `Ingress` of class `alb`.
    Alb,
    /// Network Load Balancer, through a `Service` of type LoadBalancer.
    Nlb,
}

impl Target {
    /// `alb` or `nlb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Alb => "alb",
            Target::Nlb => "nlb",
        }
    }
}

impl From<crate::cli::MigrateTarget> for Target {
    fn from(t: crate::cli::MigrateTarget) -> Self {
        match t {
            crate::cli::MigrateTarget::Alb => Target::Alb,
            crate::cli::MigrateTarget::Nlb => Target::Nlb,
        }
    }
}

/// The listeners (by index into `spec.listeners`) each load balancer takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub alb: Vec<usize>,
    pub nlb: Vec<usize>,
    /// Why, in one sentence for the report.
    pub reason: String,
}

impl Split {
    /// The load balancers that take at least one listener.
    pub fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        if !self.alb.is_empty() {
            t.push(Target::Alb);
        }
        if !self.nlb.is_empty() {
            t.push(Target::Nlb);
        }
        t
    }
}

/// The split of `listeners`: by their protocol's layer, or all to `forced`.
pub fn choose(listeners: &[ListenerSpec], forced: Option<Target>) -> Split {
    let all: Vec<usize> = (0..listeners.len()).collect();
    let ports = |idx: &[usize]| idx.iter().map(|&i| listeners[i].port.to_string()).collect::<Vec<_>>().join(", ");
    match forced {
        Some(Target::Alb) => Split { alb: all, nlb: vec![], reason: "--target alb: every listener goes to an ALB".into() },
        Some(Target::Nlb) => Split { alb: vec![], nlb: all, reason: "--target nlb: every listener goes to an NLB".into() },
        None => {
            let (alb, nlb): (Vec<usize>, Vec<usize>) = all.into_iter().partition(|&i| listeners[i].protocol.is_http_family());
            let reason = match (alb.is_empty(), nlb.is_empty()) {
                (false, true) => "all listeners are HTTP or HTTPS: an ALB".to_string(),
                (true, false) => "all listeners are TCP or SSL: an NLB".to_string(),
                _ => format!(
                    "mixed listeners: HTTP/HTTPS ({}) go to an ALB, TCP/SSL ({}) to an NLB; the two have separate DNS names",
                    ports(&alb),
                    ports(&nlb)
                ),
            };
            Split { alb, nlb, reason }
        }
    }
}

/// The ELBv2 listener protocol of a Classic one on `target`: SSL is TLS on an NLB; an HTTP
/// listener forced onto an NLB is TCP, HTTPS is TLS. `None`: the ALB has no such listener.
pub fn elbv2_protocol(protocol: Protocol, target: Target) -> Option<&'static str> {
    match (target, protocol) {
        (Target::Alb, Protocol::HTTP) => Some("HTTP"),
        (Target::Alb, Protocol::HTTPS) => Some("HTTPS"),
        (Target::Alb, Protocol::TCP | Protocol::SSL) => None,
        (Target::Nlb, Protocol::TCP | Protocol::HTTP) => Some("TCP"),
        (Target::Nlb, Protocol::SSL | Protocol::HTTPS) => Some("TLS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(port: i32, protocol: Protocol) -> ListenerSpec {
        ListenerSpec {
            port,
            protocol,
            instance_port: 8080,
            instance_protocol: None,
            ssl_certificate_id: None,
            stickiness: None,
            proxy_protocol: false,
            ssl_policy: None,
        }
    }

    #[test]
    fn http_goes_to_an_alb_tcp_to_an_nlb_and_a_mix_is_split() {
        let web = [listener(80, Protocol::HTTP), listener(443, Protocol::HTTPS)];
        assert_eq!(choose(&web, None).targets(), [Target::Alb]);
        let l4 = [listener(443, Protocol::SSL), listener(22, Protocol::TCP)];
        assert_eq!(choose(&l4, None).targets(), [Target::Nlb]);
        let mixed = [listener(80, Protocol::HTTP), listener(443, Protocol::TCP)];
        let split = choose(&mixed, None);
        assert_eq!((split.alb.as_slice(), split.nlb.as_slice()), (&[0][..], &[1][..]));
        assert!(split.reason.contains("HTTP/HTTPS (80)") && split.reason.contains("TCP/SSL (443)"), "{}", split.reason);
    }

    #[test]
    fn a_forced_target_takes_every_listener() {
        let mixed = [listener(80, Protocol::HTTP), listener(443, Protocol::TCP)];
        assert_eq!(choose(&mixed, Some(Target::Nlb)).nlb, [0, 1]);
        assert_eq!(choose(&mixed, Some(Target::Alb)).alb, [0, 1]);
        assert_eq!(elbv2_protocol(Protocol::SSL, Target::Nlb), Some("TLS"));
        assert_eq!(elbv2_protocol(Protocol::HTTPS, Target::Nlb), Some("TLS"));
        assert_eq!(elbv2_protocol(Protocol::TCP, Target::Alb), None);
    }
}
