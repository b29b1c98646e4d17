//! Typed answers of the EC2 reads the operator makes, and the [`Ec2Api`] trait that the
//! reachability check programs against. These types carry no wire detail (no `item`, no XML).

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;

use crate::aws::Error;

/// Where an instance sits on the network, as DescribeInstances reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceNetwork {
    pub instance_id: String,
    /// `pending`, `running`, `stopped`, … (empty when not reported).
    pub state: String,
    /// The security groups of its primary network interface: the traffic of a Classic ELB
    /// goes to the primary private address, so these are the groups that must admit it.
    pub security_groups: Vec<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub private_ip: Option<String>,
    /// Its tags (`tagSet`), which a class's `requiredResourceTags` are checked against.
    pub tags: BTreeMap<String, String>,
}

/// An IP protocol of a security group rule. EC2 writes the common ones by name and others
/// by number; `-1` means every protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    Tcp,
    Udp,
    Icmp,
    /// `-1`: every protocol and every port.
    All,
    Other(String),
}

impl From<&str> for IpProtocol {
    fn from(s: &str) -> IpProtocol {
        // The numbers are IANA's; EC2 answers with the name, but a rule created with the
        // number may come back as it was written.
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "6" => IpProtocol::Tcp,
            "udp" | "17" => IpProtocol::Udp,
            "icmp" | "1" => IpProtocol::Icmp,
            "-1" | "all" => IpProtocol::All,
            _ => IpProtocol::Other(s.to_string()),
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpProtocol::Tcp => "tcp",
            IpProtocol::Udp => "udp",
            IpProtocol::Icmp => "icmp",
            IpProtocol::All => "-1",
            IpProtocol::Other(p) => p,
        })
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.from..=self.to).contains(&port)
    }
}

/// A security group a rule names as its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPair {
    pub group_id: String,
    /// The account that owns the group, when another account's group is named.
    pub user_id: Option<String>,
    /// Reported for default-VPC and EC2-Classic groups only.
    pub group_name: Option<String>,
}

/// One inbound rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPermission {
    pub protocol: IpProtocol,
    /// `None`: every port (protocol `-1`, or a range of `-1`).
    pub ports: Option<PortRange>,
    /// IPv4 and IPv6 source ranges.
    pub cidrs: Vec<IpNet>,
    /// Source security groups.
    pub groups: Vec<GroupPair>,
    /// Source prefix lists (`pl-…`): their addresses are not read, so they admit nothing
    /// the reachability check can see.
    pub prefix_lists: Vec<String>,
}

/// A security group and its inbound rules, as DescribeSecurityGroups reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub owner_id: String,
    pub vpc_id: Option<String>,
    pub ingress: Vec<IpPermission>,
    /// Its tags (`tagSet`).
    pub tags: BTreeMap<String, String>,
}

/// A subnet and its address ranges, as DescribeSubnets reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: Option<String>,
    pub availability_zone: Option<String>,
    /// The IPv4 range, then any IPv6 ranges.
    pub cidrs: Vec<IpNet>,
    /// Its tags (`tagSet`).
    pub tags: BTreeMap<String, String>,
}

/// The EC2 reads the operator makes. The real implementation is `ec2::Client`; anything else
/// implementing it (a test double) never sees HTTP.
///
/// Every method looks things up with a filter, so an id EC2 does not know (an instance
/// terminated long ago) is left out of the answer instead of failing the whole call, and
/// splits long lists into batches.
#[async_trait::async_trait]
pub trait Ec2Api: Send + Sync {
    /// The region this client talks to.
    fn region(&self) -> &str;

    async fn describe_instances(&self, instance_ids: &[String]) -> Result<Vec<InstanceNetwork>, Error>;
    async fn describe_security_groups(&self, group_ids: &[String]) -> Result<Vec<SecurityGroup>, Error>;
    /// Security groups by name, within `vpc_id` when given (names are unique per VPC only).
    async fn describe_security_groups_by_name(&self, names: &[String], vpc_id: Option<&str>) -> Result<Vec<SecurityGroup>, Error>;
    async fn describe_subnets(&self, subnet_ids: &[String]) -> Result<Vec<Subnet>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_name_or_number() {
        assert_eq!(IpProtocol::from("tcp"), IpProtocol::Tcp);
        assert_eq!(IpProtocol::from("6"), IpProtocol::Tcp);
        assert_eq!(IpProtocol::from("-1"), IpProtocol::All);
        assert_eq!(IpProtocol::from("UDP"), IpProtocol::Udp);
        assert_eq!(IpProtocol::from("50"), IpProtocol::Other("50".into()));
        assert_eq!(IpProtocol::All.to_string(), "-1");
    }

    #[test]
    fn port_ranges_are_inclusive() {
        let r = PortRange { from: 8000, to: 8080 };
        assert!(r.contains(8000) && r.contains(8080) && !r.contains(7999) && !r.contains(8081));
    }
}
