//! Backend reachability: do the registered instances' security groups admit the load
//! balancer on the instance ports and the health check port? When they do not, every
//! instance is OutOfService and nothing in ELB says why.
//!
//! [`reachability`] is the decision, pure: instances, their groups' inbound rules, what the
//! load balancer's traffic comes from (its security groups, its subnets' ranges) and the
//! ports → the `instance:port` pairs no rule opens. [`check_backends`] makes the EC2 reads
//! it needs, few and batched, and never modifies a security group.
//!
//! The check is optional: without the EC2 read permissions it reports
//! [`CheckError::NotAllowed`], and the operator says "Unknown" instead of guessing.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use crate::aws;
use crate::ec2::{Ec2Api, InstanceNetwork, IpPermission, IpProtocol, SecurityGroup};
use crate::elb::{LoadBalancerDescription, SourceSecurityGroup};

/// The condition reason when some port is closed.
pub const PORTS_CLOSED: &str = "PortsClosed";
/// The most `instance:port` pairs a message lists.
pub const MESSAGE_PAIRS: usize = 10;

/// Where a load balancer's traffic to its instances comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ElbSource {
    /// Security group ids: the load balancer's `SecurityGroups` (what `spec.securityGroups`
    /// applied), to which the caller may add more.
    pub group_ids: BTreeSet<String>,
    /// The group AWS names as its source, by name: resolved to an id only when a port is
    /// still closed without it (in a VPC it is usually one of `group_ids` already).
    pub source_group: Option<SourceSecurityGroup>,
    pub vpc_id: Option<String>,
    /// Its subnets: the load balancer's nodes take their addresses there, so a CIDR rule
    /// admits it when it covers them.
    pub subnets: Vec<String>,
}

impl ElbSource {
    pub fn of(description: &LoadBalancerDescription) -> ElbSource {
        ElbSource {
            group_ids: description.security_groups.iter().cloned().collect(),
            source_group: description.source_security_group.clone(),
            vpc_id: description.vpc_id.clone(),
            subnets: description.subnets.clone(),
        }
    }
}

/// The ports the load balancer reaches its instances on: every listener's instance port and
/// the health check's port.
pub fn backend_ports(description: &LoadBalancerDescription) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = description.listeners.iter().map(|l| l.listener.instance_port).collect();
    ports.extend(description.health_check.as_ref().and_then(|h| health_check_port(&h.target)));
    ports
}

/// The port of a health check target: `HTTP:8080/health` → 8080, `TCP:22` → 22.
pub fn health_check_port(target: &str) -> Option<u16> {
    crate::elb::HealthTarget::parse_described(target).ok().map(|t| t.port)
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reachability {
    /// The `(instance, port)` pairs no rule of the instance's groups opens to the load
    /// balancer, by instance, then port.
    pub closed: Vec<(String, u16)>,
    /// How many instances were checked.
    pub checked: usize,
    /// Registered instances that were not checked: unknown to EC2, or terminated.
    pub unchecked: Vec<String>,
    /// The ports checked.
    pub ports: BTreeSet<u16>,
}

impl Reachability {
    /// Every checked instance admits the load balancer on every port.
    pub fn is_reachable(&self) -> bool {
        self.closed.is_empty()
    }

    /// The condition message: up to [`MESSAGE_PAIRS`] closed `instance:port` pairs and how
    /// many more, or what was found open.
    pub fn message(&self) -> String {
        let ports = self.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let mut m = if self.closed.is_empty() {
            let n = self.checked;
            format!("the security groups of {n} instance{} admit the load balancer on port{} {ports}", plural(n), plural(self.ports.len()))
        } else {
            let listed = self.closed.iter().take(MESSAGE_PAIRS).map(|(i, p)| format!("{i}:{p}")).collect::<Vec<_>>().join(", ");
            let more = self.closed.len().saturating_sub(MESSAGE_PAIRS);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("no security group rule admits the load balancer on {listed}{more}")
        };
        if !self.unchecked.is_empty() {
            let n = self.unchecked.len();
            m.push_str(&format!(" ({n} registered instance{} unknown to EC2 or terminated, not checked)", plural(n)));
        }
        m
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether a rule lets TCP in on `port` (from somewhere).
fn opens(rule: &IpPermission, port: u16) -> bool {
    matches!(rule.protocol, IpProtocol::Tcp | IpProtocol::All) && rule.ports.is_none_or(|r| r.contains(port))
}

/// Every IPv4 address. Classic ELB talks to instances over IPv4, so `::/0` does not count.
fn is_everywhere(net: &IpNet) -> bool {
    matches!(net, IpNet::V4(n) if n.prefix_len() == 0)
}

/// The decision. A port of an instance is open when some inbound rule of one of the
/// instance's groups lets TCP in on it (protocol `tcp` or `-1`, a range covering the port)
/// and names one of `elb_groups`, or `0.0.0.0/0`; or when each of `elb_cidrs` (the load
/// balancer's subnet ranges; empty when unknown) is covered by such a rule's CIDR.
///
/// A group missing from `groups` counts as having no rules. Ranges are not merged: two /25
/// rules do not cover a /24 subnet (a false "closed", never a false "open").
pub fn reachability(
    instances: &[InstanceNetwork],
    groups: &[SecurityGroup],
    elb_groups: &BTreeSet<String>,
    elb_cidrs: &[IpNet],
    ports: &BTreeSet<u16>,
) -> Reachability {
    let by_id: BTreeMap<&str, &SecurityGroup> = groups.iter().map(|g| (g.group_id.as_str(), g)).collect();
    let mut closed = Vec::new();
    for instance in instances {
        let rules: Vec<&IpPermission> =
            instance.security_groups.iter().filter_map(|g| by_id.get(g.as_str())).flat_map(|g| g.ingress.iter()).collect();
        for &port in ports {
            let open_rules: Vec<&IpPermission> = rules.iter().copied().filter(|r| opens(r, port)).collect();
            let by_group_or_everywhere =
                open_rules.iter().any(|r| r.groups.iter().any(|g| elb_groups.contains(&g.group_id)) || r.cidrs.iter().any(is_everywhere));
            let by_cidrs =
                !elb_cidrs.is_empty() && elb_cidrs.iter().all(|c| open_rules.iter().any(|r| r.cidrs.iter().any(|rc| rc.contains(c))));
            if !by_group_or_everywhere && !by_cidrs {
                closed.push((instance.instance_id.clone(), port));
            }
        }
    }
    closed.sort();
    Reachability { closed, checked: instances.len(), unchecked: Vec::new(), ports: ports.clone() }
}

/// Why the check could not decide.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// IAM does not allow an EC2 read the check needs (`UnauthorizedOperation`,
    /// `AccessDenied`). The check is optional: report Unknown until the action is granted.
    #[error("the backend reachability check needs ec2:{action}, which the operator's credentials may not call: {source}")]
    NotAllowed {
        action: &'static str,
        #[source]
        source: aws::Error,
    },
    /// Anything else: throttling, timeouts, 5xx, bad credentials. Worth another try later
    /// (`source.kind()` tells which).
    #[error("the backend reachability check failed: {0}")]
    Failed(#[source] aws::Error),
}

impl CheckError {
    /// A condition reason: `EC2NotAllowed` or `EC2CheckFailed`.
    pub fn reason(&self) -> &'static str {
        match self {
            CheckError::NotAllowed { .. } => "EC2NotAllowed",
            CheckError::Failed(_) => "EC2CheckFailed",
        }
    }
}

impl From<aws::Error> for CheckError {
    fn from(e: aws::Error) -> CheckError {
        if e.is_not_allowed() {
            CheckError::NotAllowed { action: e.action().unwrap_or("Describe*"), source: e }
        } else {
            CheckError::Failed(e)
        }
    }
}

/// Instance states whose security groups no longer matter.
const GONE: [&str; 2] = ["shutting-down", "terminated"];

/// Checks the registered `instance_ids` of a load balancer whose traffic comes from `elb` on
/// `ports` (see [`backend_ports`]). Reads, in order and only while some port is still
/// closed: the instances (DescribeInstances), their groups (DescribeSecurityGroups), the
/// source group by name (DescribeSecurityGroups), the subnets' ranges (DescribeSubnets).
/// Each is batched by the client ([`crate::ec2::FILTER_BATCH`] per call). No instances or
/// no ports: no call.
pub async fn check_backends(
    ec2: &dyn Ec2Api,
    instance_ids: &[String],
    elb: &ElbSource,
    ports: &BTreeSet<u16>,
) -> Result<Reachability, CheckError> {
    let wanted: BTreeSet<&String> = instance_ids.iter().collect();
    if wanted.is_empty() || ports.is_empty() {
        let unchecked = if ports.is_empty() { Vec::new() } else { wanted.into_iter().cloned().collect() };
        return Ok(Reachability { ports: ports.clone(), unchecked, ..Default::default() });
    }
    let ids: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
    let instances: Vec<InstanceNetwork> = ec2
        .describe_instances(&ids)
        .await?
        .into_iter()
        .filter(|i| wanted.contains(&i.instance_id) && !GONE.contains(&i.state.as_str()))
        .collect();
    let seen: BTreeSet<&str> = instances.iter().map(|i| i.instance_id.as_str()).collect();
    let unchecked: Vec<String> = ids.iter().filter(|i| !seen.contains(i.as_str())).cloned().collect();

    let group_ids: BTreeSet<String> = instances.iter().flat_map(|i| i.security_groups.iter().cloned()).collect();
    let groups = ec2.describe_security_groups(&group_ids.into_iter().collect::<Vec<_>>()).await?;
    let mut sources = elb.group_ids.clone();
    let mut cidrs: Vec<IpNet> = Vec::new();
    let mut result = reachability(&instances, &groups, &sources, &cidrs, ports);

    if !result.is_reachable() {
        if let Some(source) = &elb.source_group {
            let named = ec2.describe_security_groups_by_name(std::slice::from_ref(&source.group_name), elb.vpc_id.as_deref()).await?;
            let before = sources.len();
            sources.extend(named.into_iter().filter(|g| g.group_name == source.group_name).map(|g| g.group_id));
            if sources.len() > before {
                result = reachability(&instances, &groups, &sources, &cidrs, ports);
            }
        }
    }
    if !result.is_reachable() && !elb.subnets.is_empty() {
        cidrs = ec2.describe_subnets(&elb.subnets).await?.into_iter().flat_map(|s| s.cidrs).collect();
        if !cidrs.is_empty() {
            result = reachability(&instances, &groups, &sources, &cidrs, ports);
        }
    }
    result.unchecked = unchecked;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ec2::{GroupPair, PortRange, Subnet};
    use crate::elb::{HealthCheck, Listener, ListenerDescription, Protocol};

    fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
        v.iter().cloned().collect()
    }

    fn strings(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn instance(id: &str, groups: &[&str]) -> InstanceNetwork {
        InstanceNetwork {
            instance_id: id.into(),
            state: "running".into(),
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    /// A rule: protocol, port range (`None`: all), source CIDRs, source groups.
    fn rule(protocol: &str, ports: Option<(u16, u16)>, cidrs: &[&str], groups: &[&str]) -> IpPermission {
        IpPermission {
            protocol: protocol.into(),
            ports: ports.map(|(from, to)| PortRange { from, to }),
            cidrs: cidrs.iter().map(|c| net(c)).collect(),
            groups: groups.iter().map(|g| GroupPair { group_id: g.to_string(), user_id: None, group_name: None }).collect(),
            prefix_lists: vec![],
        }
    }

    fn group(id: &str, ingress: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup { group_id: id.into(), group_name: format!("{id}-name"), ingress, ..Default::default() }
    }

    const ELB_SG: &str = "sg-elb";

    #[test]
    fn decision_table() {
        let subnets = [net("10.0.1.0/24"), net("10.0.2.0/24")];
        // (case, the instance group's rules, the load balancer's subnet ranges, closed ports of 8080 and 8443)
        type Case<'a> = (&'a str, Vec<IpPermission>, &'a [IpNet], Vec<u16>);
        let cases: Vec<Case> = vec![
            (
                "the ELB's group on both ports",
                vec![rule("tcp", Some((8080, 8080)), &[], &[ELB_SG]), rule("tcp", Some((8443, 8443)), &[], &[ELB_SG])],
                &[],
                vec![],
            ),
            ("the ELB's group on one port", vec![rule("tcp", Some((8080, 8080)), &[], &[ELB_SG])], &[], vec![8443]),
            ("a range covering both", vec![rule("tcp", Some((8000, 9000)), &[], &[ELB_SG])], &[], vec![]),
            ("protocol -1 opens every port", vec![rule("-1", None, &[], &[ELB_SG])], &[], vec![]),
            ("udp opens nothing to TCP", vec![rule("udp", None, &[], &[ELB_SG])], &[], vec![8080, 8443]),
            ("icmp opens nothing", vec![rule("icmp", None, &["0.0.0.0/0"], &[])], &[], vec![8080, 8443]),
            ("another group is not the ELB", vec![rule("tcp", None, &[], &["sg-other"])], &[], vec![8080, 8443]),
            ("0.0.0.0/0 always covers", vec![rule("tcp", Some((8080, 8443)), &["0.0.0.0/0"], &[])], &[], vec![]),
            ("::/0 does not: the ELB talks IPv4", vec![rule("tcp", None, &["::/0"], &[])], &[], vec![8080, 8443]),
            ("the VPC range covers both subnets", vec![rule("tcp", None, &["10.0.0.0/16"], &[])], &subnets, vec![]),
            ("a range covering one subnet only", vec![rule("tcp", None, &["10.0.1.0/24"], &[])], &subnets, vec![8080, 8443]),
            (
                "two rules covering a subnet each",
                vec![rule("tcp", None, &["10.0.1.0/24"], &[]), rule("tcp", None, &["10.0.2.0/25", "10.0.2.0/24"], &[])],
                &subnets,
                vec![],
            ),
            (
                "the second subnet covered on one port only",
                vec![rule("tcp", None, &["10.0.1.0/24"], &[]), rule("tcp", Some((8080, 8080)), &["10.0.2.0/24"], &[])],
                &subnets,
                vec![8443],
            ),
            ("halves are not merged", vec![rule("tcp", None, &["10.0.1.0/25", "10.0.1.128/25"], &[])], &subnets[..1], vec![8080, 8443]),
            ("a CIDR rule when the ELB's ranges are unknown", vec![rule("tcp", None, &["10.0.0.0/8"], &[])], &[], vec![8080, 8443]),
            ("no rules", vec![], &[], vec![8080, 8443]),
        ];
        for (case, rules, cidrs, want) in cases {
            let r = reachability(&[instance("i-1", &["sg-a"])], &[group("sg-a", rules)], &strings(&[ELB_SG]), cidrs, &set(&[8080, 8443]));
            let got: Vec<u16> = r.closed.iter().map(|(_, p)| *p).collect();
            assert_eq!(got, want, "case {case}");
            assert_eq!(r.checked, 1, "case {case}");
        }
    }

    #[test]
    fn any_group_of_the_instance_may_open_a_port_and_unknown_groups_open_none() {
        let groups = [
            group("sg-a", vec![rule("tcp", Some((22, 22)), &["0.0.0.0/0"], &[])]),
            group("sg-b", vec![rule("tcp", Some((80, 80)), &[], &[ELB_SG])]),
        ];
        let instances =
            [instance("i-1", &["sg-a", "sg-b"]), instance("i-2", &["sg-a"]), instance("i-3", &["sg-gone"]), instance("i-4", &[])];
        let r = reachability(&instances, &groups, &strings(&[ELB_SG]), &[], &set(&[80]));
        assert_eq!(r.closed, [("i-2".to_string(), 80), ("i-3".to_string(), 80), ("i-4".to_string(), 80)]);
        assert!(!r.is_reachable());
    }

    #[test]
    fn messages_list_ten_pairs_and_count_the_rest() {
        let instances: Vec<InstanceNetwork> = (1..=6).map(|i| instance(&format!("i-{i}"), &[])).collect();
        let r = reachability(&instances, &[], &BTreeSet::new(), &[], &set(&[80, 443]));
        assert_eq!(r.closed.len(), 12);
        assert_eq!(
            r.message(),
            "no security group rule admits the load balancer on i-1:80, i-1:443, i-2:80, i-2:443, i-3:80, i-3:443, i-4:80, i-4:443, \
             i-5:80, i-5:443 and 2 more"
        );
        let one = Reachability { closed: vec![("i-1".into(), 80)], checked: 1, unchecked: vec!["i-9".into()], ports: set(&[80]) };
        assert_eq!(
            one.message(),
            "no security group rule admits the load balancer on i-1:80 (1 registered instance unknown to EC2 or terminated, not checked)"
        );
        let open = Reachability { checked: 2, ports: set(&[80, 8080]), ..Default::default() };
        assert_eq!(open.message(), "the security groups of 2 instances admit the load balancer on ports 80, 8080");
    }

    #[test]
    fn ports_are_the_instance_ports_and_the_health_check_port() {
        let listener = |port| ListenerDescription {
            listener: Listener {
                load_balancer_port: 80,
                protocol: Protocol::HTTP,
                instance_port: port,
                instance_protocol: Protocol::HTTP,
                ssl_certificate_id: None,
            },
            policy_names: vec![],
        };
        let d = LoadBalancerDescription {
            listeners: vec![listener(8080), listener(8443), listener(8080)],
            health_check: Some(HealthCheck {
                target: "HTTP:9000/health".into(),
                interval: 30,
                timeout: 5,
                healthy_threshold: 3,
                unhealthy_threshold: 5,
            }),
            ..Default::default()
        };
        assert_eq!(backend_ports(&d), set(&[8080, 8443, 9000]));
        assert_eq!(health_check_port("TCP:22"), Some(22));
        assert_eq!(health_check_port("HTTPS:443/"), Some(443));
        assert_eq!(health_check_port("HTTP:eighty/"), None);
    }

    /// An `Ec2Api` from fixed answers that records the calls it gets.
    #[derive(Default)]
    struct Fake {
        instances: Vec<InstanceNetwork>,
        groups: Vec<SecurityGroup>,
        subnets: Vec<Subnet>,
        deny: Option<&'static str>,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn answer<T>(&self, action: &'static str, detail: String, value: T) -> Result<T, aws::Error> {
            self.calls.lock().unwrap().push(format!("{action} {detail}"));
            if self.deny == Some(action) {
                let code = "UnauthorizedOperation".into();
                return Err(aws::Error::Api {
                    action,
                    code,
                    message: "You are not authorized to perform this operation.".into(),
                    request_id: None,
                    status: 403,
                });
            }
            Ok(value)
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl Ec2Api for Fake {
        fn region(&self) -> &str {
            "us-east-1"
        }
        async fn describe_instances(&self, ids: &[String]) -> Result<Vec<InstanceNetwork>, aws::Error> {
            let found = self.instances.iter().filter(|i| ids.contains(&i.instance_id)).cloned().collect();
            self.answer("DescribeInstances", ids.join(","), found)
        }
        async fn describe_security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroup>, aws::Error> {
            let found = self.groups.iter().filter(|g| ids.contains(&g.group_id)).cloned().collect();
            self.answer("DescribeSecurityGroups", ids.join(","), found)
        }
        async fn describe_security_groups_by_name(&self, names: &[String], vpc: Option<&str>) -> Result<Vec<SecurityGroup>, aws::Error> {
            let found = self.groups.iter().filter(|g| names.contains(&g.group_name)).cloned().collect();
            self.answer("DescribeSecurityGroups", format!("name={} vpc={}", names.join(","), vpc.unwrap_or("-")), found)
        }
        async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, aws::Error> {
            let found = self.subnets.iter().filter(|s| ids.contains(&s.subnet_id)).cloned().collect();
            self.answer("DescribeSubnets", ids.join(","), found)
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn elb(groups: &[&str], source: Option<&str>, subnets: &[&str]) -> ElbSource {
        ElbSource {
            group_ids: strings(groups),
            source_group: source.map(|n| SourceSecurityGroup { owner_alias: "123456789012".into(), group_name: n.into() }),
            vpc_id: Some("vpc-1".into()),
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn an_open_port_needs_two_reads_and_nothing_more() {
        let fake = Fake {
            instances: vec![instance("i-1", &["sg-a"]), instance("i-2", &["sg-a"])],
            groups: vec![group("sg-a", vec![rule("tcp", Some((80, 80)), &[], &[ELB_SG])])],
            ..Default::default()
        };
        let r =
            check_backends(&fake, &ids(&["i-2", "i-1", "i-1"]), &elb(&[ELB_SG], Some("elb-sg"), &["subnet-1"]), &set(&[80])).await.unwrap();
        assert!(r.is_reachable(), "{r:?}");
        assert_eq!(r.checked, 2);
        assert_eq!(fake.calls(), ["DescribeInstances i-1,i-2", "DescribeSecurityGroups sg-a"], "no name lookup, no subnets");
    }

    #[tokio::test]
    async fn the_source_group_is_resolved_by_name_and_the_subnets_read_only_while_a_port_is_closed() {
        let fake = Fake {
            instances: vec![instance("i-1", &["sg-a"]), instance("i-2", &["sg-b"])],
            groups: vec![
                group("sg-a", vec![rule("tcp", Some((80, 80)), &[], &["sg-src"])]),
                group("sg-b", vec![rule("tcp", Some((80, 80)), &["10.0.0.0/16"], &[])]),
                SecurityGroup { group_id: "sg-src".into(), group_name: "elb-sg".into(), ..Default::default() },
            ],
            subnets: vec![Subnet { subnet_id: "subnet-1".into(), cidrs: vec![net("10.0.1.0/24")], ..Default::default() }],
            ..Default::default()
        };
        let r = check_backends(&fake, &ids(&["i-1", "i-2"]), &elb(&[], Some("elb-sg"), &["subnet-1"]), &set(&[80])).await.unwrap();
        assert!(r.is_reachable(), "{r:?}");
        assert_eq!(
            fake.calls(),
            [
                "DescribeInstances i-1,i-2",
                "DescribeSecurityGroups sg-a,sg-b",
                "DescribeSecurityGroups name=elb-sg vpc=vpc-1",
                "DescribeSubnets subnet-1"
            ]
        );
    }

    #[tokio::test]
    async fn unknown_and_terminated_instances_are_not_checked_and_say_so() {
        let mut gone = instance("i-gone", &[]);
        gone.state = "terminated".into();
        let fake = Fake {
            instances: vec![instance("i-1", &["sg-a"]), gone],
            groups: vec![group("sg-a", vec![rule("tcp", None, &["0.0.0.0/0"], &[])])],
            ..Default::default()
        };
        let r = check_backends(&fake, &ids(&["i-1", "i-gone", "i-unknown"]), &elb(&[], None, &[]), &set(&[80])).await.unwrap();
        assert!(r.is_reachable());
        assert_eq!((r.checked, r.unchecked.clone()), (1, ids(&["i-gone", "i-unknown"])));
        assert!(r.message().contains("2 registered instances unknown to EC2 or terminated"), "{}", r.message());
    }

    #[tokio::test]
    async fn nothing_registered_or_no_ports_makes_no_call() {
        let fake = Fake::default();
        assert!(check_backends(&fake, &[], &elb(&[], None, &[]), &set(&[80])).await.unwrap().is_reachable());
        assert!(check_backends(&fake, &ids(&["i-1"]), &elb(&[], None, &[]), &BTreeSet::new()).await.unwrap().is_reachable());
        assert!(fake.calls().is_empty());
    }

    #[tokio::test]
    async fn a_denied_read_is_not_allowed_and_other_failures_are_not() {
        for action in ["DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets"] {
            let fake = Fake {
                instances: vec![instance("i-1", &["sg-a"])],
                groups: vec![group("sg-a", vec![])],
                deny: Some(action),
                ..Default::default()
            };
            let e = check_backends(&fake, &ids(&["i-1"]), &elb(&[], None, &["subnet-1"]), &set(&[80])).await.unwrap_err();
            assert!(matches!(&e, CheckError::NotAllowed { action: a, .. } if *a == action), "{action}: {e:?}");
            assert_eq!(e.reason(), "EC2NotAllowed");
            assert!(e.to_string().contains(&format!("ec2:{action}")), "{e}");
        }
        let throttled = aws::Error::Api {
            action: "DescribeInstances",
            code: "RequestLimitExceeded".into(),
            message: String::new(),
            request_id: None,
            status: 503,
        };
        let e = CheckError::from(throttled);
        assert!(matches!(&e, CheckError::Failed(s) if s.kind() == aws::ErrorKind::Throttled), "{e:?}");
        assert_eq!(e.reason(), "EC2CheckFailed");
    }
}
