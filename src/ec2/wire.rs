//! The wire format of the EC2 reads over the Query protocol (`crate::aws::query`): filters →
//! form parameters, answers (fields under the root, lists of `item`, lower-camel names) →
//! typed values. Nothing here does I/O, so every decoder is unit-tested from
//! documentation-shaped fixtures.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::model::*;
use crate::aws::query::Params;
use crate::aws::xml::Element;
use crate::aws::DecodeError;

/// `Filter.1.Name=name`, `Filter.1.Value.N=values[N-1]`: the lookup every read here uses,
/// because an unknown value in a filter matches nothing where an unknown id fails the call.
pub fn filter(p: &mut Params, index: usize, name: &str, values: &[impl AsRef<str>]) {
    p.put(format!("Filter.{index}.Name"), name);
    p.flat_list(&format!("Filter.{index}.Value"), values);
}

/// The `nextToken` of a page; `None` on the last one.
pub fn next_token(root: &Element) -> Option<String> {
    root.text_of("nextToken").filter(|t| !t.is_empty())
}

fn non_empty(e: &Element, name: &str) -> Option<String> {
    e.text_of(name).filter(|s| !s.is_empty())
}

/// A CIDR range of a rule or subnet; anything else is a malformed answer, not "no range".
fn cidr(e: &Element, name: &str) -> Result<Option<IpNet>, DecodeError> {
    let Some(text) = non_empty(e, name) else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| DecodeError::Malformed { element: name.to_string(), text, expected: "CIDR" })
}

/// The tags of a resource: `tagSet/item/{key,value}`. The text is kept untrimmed: a tag
/// value may end in a space, and a class's required value must match it exactly. A tag
/// without a key is skipped; one without a value has the empty value, as EC2 allows.
pub fn tags(e: &Element) -> BTreeMap<String, String> {
    let raw = |t: &Element, name: &str| t.child(name).map(|c| c.text.clone()).unwrap_or_default();
    e.items("tagSet").into_iter().map(|t| (raw(t, "key"), raw(t, "value"))).filter(|(k, _)| !k.is_empty()).collect()
}

/// DescribeInstances: the instances of every reservation of one page.
pub fn describe_instances(root: &Element) -> Vec<InstanceNetwork> {
    root.items("reservationSet")
        .into_iter()
        .flat_map(|r| r.items("instancesSet"))
        .map(|i| InstanceNetwork {
            instance_id: i.string("instanceId"),
            state: i.child("instanceState").map(|s| s.string("name")).unwrap_or_default(),
            security_groups: i.items("groupSet").into_iter().map(|g| g.string("groupId")).filter(|g| !g.is_empty()).collect(),
            vpc_id: non_empty(i, "vpcId"),
            subnet_id: non_empty(i, "subnetId"),
            availability_zone: i.child("placement").and_then(|p| non_empty(p, "availabilityZone")),
            private_ip: non_empty(i, "privateIpAddress"),
            tags: tags(i),
        })
        .collect()
}

fn port_range(p: &Element) -> Result<Option<PortRange>, DecodeError> {
    let from = p.number::<i32>("fromPort")?;
    let to = p.number::<i32>("toPort")?;
    let port = |name: &str, n: i32| {
        u16::try_from(n).map_err(|_| DecodeError::Malformed { element: name.to_string(), text: n.to_string(), expected: "port" })
    };
    match (from, to) {
        // Absent, or -1 (every port, or every ICMP type).
        (None, _) | (_, None) | (Some(-1), _) | (_, Some(-1)) => Ok(None),
        (Some(from), Some(to)) => Ok(Some(PortRange { from: port("fromPort", from)?, to: port("toPort", to)? })),
    }
}

fn ip_permission(p: &Element) -> Result<IpPermission, DecodeError> {
    let protocol = IpProtocol::from(p.string("ipProtocol").as_str());
    let mut cidrs = Vec::new();
    for r in p.items("ipRanges") {
        cidrs.extend(cidr(r, "cidrIp")?);
    }
    for r in p.items("ipv6Ranges") {
        cidrs.extend(cidr(r, "cidrIpv6")?);
    }
    Ok(IpPermission {
        ports: if protocol == IpProtocol::All { None } else { port_range(p)? },
        protocol,
        cidrs,
        groups: p
            .items("groups")
            .into_iter()
            .map(|g| GroupPair { group_id: g.string("groupId"), user_id: non_empty(g, "userId"), group_name: non_empty(g, "groupName") })
            .collect(),
        prefix_lists: p.items("prefixListIds").into_iter().map(|l| l.string("prefixListId")).collect(),
    })
}

/// DescribeSecurityGroups: the groups of one page, with their inbound rules.
pub fn describe_security_groups(root: &Element) -> Result<Vec<SecurityGroup>, DecodeError> {
    root.items("securityGroupInfo")
        .into_iter()
        .map(|g| {
            Ok(SecurityGroup {
                group_id: g.string("groupId"),
                group_name: g.string("groupName"),
                owner_id: g.string("ownerId"),
                vpc_id: non_empty(g, "vpcId"),
                ingress: g.items("ipPermissions").into_iter().map(ip_permission).collect::<Result<_, _>>()?,
                tags: tags(g),
            })
        })
        .collect()
}

/// DescribeSubnets: the subnets of one page, with their IPv4 and IPv6 ranges.
pub fn describe_subnets(root: &Element) -> Result<Vec<Subnet>, DecodeError> {
    root.items("subnetSet")
        .into_iter()
        .map(|s| {
            let mut cidrs: Vec<IpNet> = cidr(s, "cidrBlock")?.into_iter().collect();
            for a in s.items("ipv6CidrBlockAssociationSet") {
                cidrs.extend(cidr(a, "ipv6CidrBlock")?);
            }
            Ok(Subnet {
                subnet_id: s.string("subnetId"),
                vpc_id: non_empty(s, "vpcId"),
                availability_zone: non_empty(s, "availabilityZone"),
                cidrs,
                tags: tags(s),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::query::{self, Shape};

    fn root(action: &str, doc: &str) -> Element {
        query::parse_result(Shape::Bare, action, doc).expect("a documented answer").0
    }

    const INSTANCES: &str = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1234567890abcdef0</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-1234567890abcdef0</instanceId>
          <imageId>ami-bff32ccc</imageId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <placement><availabilityZone>eu-west-1c</availabilityZone><groupName/><tenancy>default</tenancy></placement>
          <subnetId>subnet-56f5f633</subnetId>
          <vpcId>vpc-11112222</vpcId>
          <privateIpAddress>192.168.1.88</privateIpAddress>
          <groupSet>
            <item><groupId>sg-e4076980</groupId><groupName>SecurityGroup1</groupName></item>
            <item><groupId>sg-0b1c2d3e</groupId><groupName>nodes</groupName></item>
          </groupSet>
          <networkInterfaceSet>
            <item>
              <networkInterfaceId>eni-0f62d866</networkInterfaceId>
              <tagSet><item><key>eni-only</key><value>x</value></item></tagSet>
              <groupSet><item><groupId>sg-e4076980</groupId><groupName>SecurityGroup1</groupName></item></groupSet>
            </item>
          </networkInterfaceSet>
          <tagSet>
            <item><key>Name</key><value>web-1</value></item>
            <item><key>team</key><value>payments </value></item>
            <item><key>empty</key><value/></item>
          </tagSet>
        </item>
        <item>
          <instanceId>i-0598c7d356eba48d7</instanceId>
          <instanceState><code>80</code><name>stopped</name></instanceState>
          <placement><availabilityZone>eu-west-1a</availabilityZone></placement>
          <groupSet/>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>eyJ2IjoiMSJ9</nextToken>
</DescribeInstancesResponse>"#;

    #[test]
    fn describe_instances_fixture() {
        let r = root("DescribeInstances", INSTANCES);
        assert_eq!(next_token(&r).as_deref(), Some("eyJ2IjoiMSJ9"));
        let i = describe_instances(&r);
        assert_eq!(
            i[0],
            InstanceNetwork {
                instance_id: "i-1234567890abcdef0".into(),
                state: "running".into(),
                security_groups: vec!["sg-e4076980".into(), "sg-0b1c2d3e".into()],
                vpc_id: Some("vpc-11112222".into()),
                subnet_id: Some("subnet-56f5f633".into()),
                availability_zone: Some("eu-west-1c".into()),
                private_ip: Some("192.168.1.88".into()),
                tags: [("Name", "web-1"), ("team", "payments "), ("empty", "")].map(|(k, v)| (k.to_string(), v.to_string())).into(),
            }
        );
        assert_eq!(
            i[1],
            InstanceNetwork {
                instance_id: "i-0598c7d356eba48d7".into(),
                state: "stopped".into(),
                availability_zone: Some("eu-west-1a".into()),
                ..Default::default()
            }
        );
        assert_eq!(i.len(), 2);
    }

    const GROUPS: &str = r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <securityGroupInfo>
    <item>
      <ownerId>123456789012</ownerId>
      <groupId>sg-1a2b3c4d</groupId>
      <groupName>WebServers</groupName>
      <groupDescription>Web Servers</groupDescription>
      <vpcId>vpc-614cc409</vpcId>
      <ipPermissions>
        <item>
          <ipProtocol>-1</ipProtocol>
          <groups><item><userId>123456789012</userId><groupId>sg-1a2b3c4d</groupId></item></groups>
          <ipRanges/>
          <ipv6Ranges/>
          <prefixListIds/>
        </item>
        <item>
          <ipProtocol>tcp</ipProtocol>
          <fromPort>8000</fromPort>
          <toPort>8080</toPort>
          <groups/>
          <ipRanges><item><cidrIp>10.0.0.0/16</cidrIp><description>VPC</description></item></ipRanges>
          <ipv6Ranges><item><cidrIpv6>2001:db8::/32</cidrIpv6></item></ipv6Ranges>
          <prefixListIds><item><prefixListId>pl-12345678</prefixListId></item></prefixListIds>
        </item>
        <item>
          <ipProtocol>icmp</ipProtocol>
          <fromPort>-1</fromPort>
          <toPort>-1</toPort>
          <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>
        </item>
      </ipPermissions>
      <ipPermissionsEgress>
        <item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>
      </ipPermissionsEgress>
      <tagSet><item><key>team</key><value>payments</value></item></tagSet>
    </item>
  </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;

    #[test]
    fn describe_security_groups_fixture() {
        let r = root("DescribeSecurityGroups", GROUPS);
        assert_eq!(next_token(&r), None);
        let g = describe_security_groups(&r).unwrap();
        assert_eq!(g.len(), 1);
        let g = &g[0];
        assert_eq!((g.group_id.as_str(), g.group_name.as_str(), g.owner_id.as_str()), ("sg-1a2b3c4d", "WebServers", "123456789012"));
        assert_eq!(g.vpc_id.as_deref(), Some("vpc-614cc409"));
        assert_eq!(g.ingress.len(), 3, "egress rules are not inbound rules");
        assert_eq!(g.tags, BTreeMap::from([("team".to_string(), "payments".to_string())]));
        assert_eq!(
            g.ingress[0],
            IpPermission {
                protocol: IpProtocol::All,
                ports: None,
                cidrs: vec![],
                groups: vec![GroupPair { group_id: "sg-1a2b3c4d".into(), user_id: Some("123456789012".into()), group_name: None }],
                prefix_lists: vec![],
            }
        );
        assert_eq!(
            g.ingress[1],
            IpPermission {
                protocol: IpProtocol::Tcp,
                ports: Some(PortRange { from: 8000, to: 8080 }),
                cidrs: vec!["10.0.0.0/16".parse().unwrap(), "2001:db8::/32".parse().unwrap()],
                groups: vec![],
                prefix_lists: vec!["pl-12345678".into()],
            }
        );
        assert_eq!((g.ingress[2].protocol.clone(), g.ingress[2].ports), (IpProtocol::Icmp, None));
    }

    #[test]
    fn malformed_ranges_and_ports_are_errors_not_defaults() {
        let bad_cidr = GROUPS.replace("10.0.0.0/16", "10.0.0.0/99");
        assert!(matches!(
            describe_security_groups(&root("DescribeSecurityGroups", &bad_cidr)),
            Err(DecodeError::Malformed { expected: "CIDR", .. })
        ));
        let bad_port = GROUPS.replace("<fromPort>8000</fromPort>", "<fromPort>eighty</fromPort>");
        assert!(describe_security_groups(&root("DescribeSecurityGroups", &bad_port)).is_err());
        let big_port = GROUPS.replace("<toPort>8080</toPort>", "<toPort>70000</toPort>");
        assert!(describe_security_groups(&root("DescribeSecurityGroups", &big_port)).is_err());
    }

    #[test]
    fn describe_subnets_fixture() {
        let doc = r#"<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <subnetSet>
    <item>
      <subnetId>subnet-9d4a7b6c</subnetId>
      <state>available</state>
      <vpcId>vpc-1a2b3c4d</vpcId>
      <cidrBlock>10.0.1.0/24</cidrBlock>
      <ipv6CidrBlockAssociationSet>
        <item><ipv6CidrBlock>2001:db8:1234:1a00::/64</ipv6CidrBlock><associationId>a</associationId></item>
      </ipv6CidrBlockAssociationSet>
      <availabilityZone>us-east-1c</availabilityZone>
      <tagSet><item><key>kubernetes.io/role/elb</key><value>1</value></item></tagSet>
    </item>
    <item><subnetId>subnet-untagged</subnetId><cidrBlock>10.0.2.0/24</cidrBlock></item>
  </subnetSet>
</DescribeSubnetsResponse>"#;
        let s = describe_subnets(&root("DescribeSubnets", doc)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            Subnet {
                subnet_id: "subnet-9d4a7b6c".into(),
                vpc_id: Some("vpc-1a2b3c4d".into()),
                availability_zone: Some("us-east-1c".into()),
                cidrs: vec!["10.0.1.0/24".parse().unwrap(), "2001:db8:1234:1a00::/64".parse().unwrap()],
                tags: BTreeMap::from([("kubernetes.io/role/elb".to_string(), "1".to_string())]),
            }
        );
        assert_eq!((s[1].subnet_id.as_str(), s[1].tags.len()), ("subnet-untagged", 0), "no tagSet, no tags");
    }

    #[test]
    fn filters_are_numbered_from_one() {
        let mut p = Params::new(&super::super::SERVICE, "DescribeInstances");
        filter(&mut p, 1, "instance-id", &["i-1", "i-2"]);
        filter(&mut p, 2, "vpc-id", &["vpc-1"]);
        assert_eq!(
            p.encode(),
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-id&Filter.1.Value.1=i-1&Filter.1.Value.2=i-2\
             &Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1"
        );
    }
}
