//! EC2 calls to moto that the tests need (instances behind load balancers), sent as
//! SigV4-signed Query requests over plain HTTP/1.0.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::moto::Moto;

/// An AMI id from moto's default AMI list (`moto/ec2/resources/amis.json`).
pub const MOTO_AMI: &str = "ami-12c6146b";

/// The region the helpers use unless told otherwise.
pub const REGION: &str = "us-east-1";

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Text of every `<name>` element in document order (enough for moto's small responses).
pub fn xml_values(body: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

impl Moto {
    /// A SigV4-signed Query POST (signed with `access_key`/`secret_key`, scoped to
    /// `service`/`region`); returns (HTTP status, body).
    pub fn signed_query(&self, service: &str, region: &str, params: &[(&str, &str)], access_key: &str, secret_key: &str) -> (u16, String) {
        let body = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let url = format!("{}/", self.endpoint);
        let identity: Identity = aws_credential_types::Credentials::new(access_key, secret_key, None, None, "test").into();
        let sp = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let ct = "application/x-www-form-urlencoded; charset=utf-8";
        let req = SignableRequest::new("POST", &url, [("content-type", ct)].into_iter(), SignableBody::Bytes(body.as_bytes())).unwrap();
        let (instr, _) = sign(req, &sp).unwrap().into_parts();
        let mut headers = format!("Content-Type: {ct}\r\n");
        for (k, v) in instr.headers() {
            headers.push_str(&format!("{k}: {v}\r\n"));
        }
        let raw = self.raw("POST", "/", &headers, &body).expect("moto query");
        split_response(&raw)
    }

    /// An EC2 Query action with moto's default test keys; panics on an error status.
    pub fn ec2(&self, region: &str, params: &[(&str, &str)]) -> String {
        let mut all = params.to_vec();
        all.push(("Version", "2016-11-15"));
        let (status, body) = self.signed_query("ec2", region, &all, "test", "test");
        assert_eq!(status, 200, "EC2 {params:?} failed: {body}");
        body
    }

    /// Launches `count` instances in `availability_zone` (region derived from the zone
    /// name) and returns their ids.
    pub fn run_instances(&self, count: usize, availability_zone: &str) -> Vec<String> {
        self.run_instances_in_groups(count, availability_zone, &[])
    }

    /// [`run_instances`](Self::run_instances) in the given security groups (ids; none: the
    /// VPC's default group), one reservation.
    pub fn run_instances_in_groups(&self, count: usize, availability_zone: &str, group_ids: &[String]) -> Vec<String> {
        let region = region_of_zone(availability_zone);
        let n = count.to_string();
        let keys: Vec<String> = (1..=group_ids.len()).map(|i| format!("SecurityGroupId.{i}")).collect();
        let mut params = vec![
            ("Action", "RunInstances"),
            ("ImageId", MOTO_AMI),
            ("InstanceType", "t3.micro"),
            ("MinCount", n.as_str()),
            ("MaxCount", n.as_str()),
            ("Placement.AvailabilityZone", availability_zone),
        ];
        params.extend(keys.iter().map(String::as_str).zip(group_ids.iter().map(String::as_str)));
        let body = self.ec2(&region, &params);
        let ids = xml_values(&body, "instanceId");
        assert_eq!(ids.len(), count, "RunInstances returned {body}");
        ids
    }

    fn instance_action(&self, action: &str, region: &str, ids: &[String]) {
        let keys: Vec<String> = (1..=ids.len()).map(|i| format!("InstanceId.{i}")).collect();
        let mut params: Vec<(&str, &str)> = vec![("Action", action)];
        params.extend(keys.iter().map(String::as_str).zip(ids.iter().map(String::as_str)));
        self.ec2(region, &params);
    }

    /// Stops instances (in [`REGION`]).
    pub fn stop_instances(&self, ids: &[String]) {
        self.instance_action("StopInstances", REGION, ids);
    }

    /// Starts stopped instances (in [`REGION`]).
    pub fn start_instances(&self, ids: &[String]) {
        self.instance_action("StartInstances", REGION, ids);
    }

    /// Stops instances in another region.
    pub fn stop_instances_in(&self, region: &str, ids: &[String]) {
        self.instance_action("StopInstances", region, ids);
    }

    /// Terminates instances in a region.
    pub fn terminate_instances_in(&self, region: &str, ids: &[String]) {
        self.instance_action("TerminateInstances", region, ids);
    }

    /// The default VPC's subnet ids of a region (moto creates one per zone).
    pub fn default_subnets(&self, region: &str) -> Vec<String> {
        let body = self.ec2(region, &[("Action", "DescribeSubnets")]);
        xml_values(&body, "subnetId")
    }

    /// Creates a security group in the default VPC and returns its id.
    pub fn create_security_group(&self, region: &str, name: &str) -> String {
        let body = self.ec2(region, &[("Action", "CreateSecurityGroup"), ("GroupName", name), ("GroupDescription", name)]);
        xml_values(&body, "groupId").into_iter().next().expect("groupId")
    }

    /// Adds an inbound rule to a group: `protocol` (`tcp`, `udp`, `-1`) on ports
    /// `from..=to` from `source`, a group id (`sg-…`), an IPv4 CIDR or an IPv6 CIDR.
    pub fn authorize_ingress(&self, region: &str, group_id: &str, protocol: &str, from: i32, to: i32, source: &str) {
        let (from, to) = (from.to_string(), to.to_string());
        let source_key = if source.starts_with("sg-") {
            "IpPermissions.1.Groups.1.GroupId"
        } else if source.contains(':') {
            "IpPermissions.1.Ipv6Ranges.1.CidrIpv6"
        } else {
            "IpPermissions.1.IpRanges.1.CidrIp"
        };
        self.ec2(
            region,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", group_id),
                ("IpPermissions.1.IpProtocol", protocol),
                ("IpPermissions.1.FromPort", &from),
                ("IpPermissions.1.ToPort", &to),
                (source_key, source),
            ],
        );
    }

    /// The security groups `ids` of a region as DescribeSecurityGroups answers them, to
    /// compare before and after something that must not change them. Only those: tests
    /// running beside change groups of their own.
    pub fn security_groups_document(&self, region: &str, ids: &[&str]) -> String {
        let keys: Vec<String> = (1..=ids.len()).map(|i| format!("GroupId.{i}")).collect();
        let mut params = vec![("Action", "DescribeSecurityGroups")];
        params.extend(keys.iter().map(String::as_str).zip(ids.iter().copied()));
        let body = self.ec2(region, &params);
        // The request id differs between calls; the groups must not.
        let mut rest = body.as_str();
        let mut out = String::new();
        while let Some(i) = rest.find("<requestId>") {
            out.push_str(&rest[..i]);
            rest = rest[i..].split_once("</requestId>").map(|(_, r)| r).unwrap_or("");
        }
        out.push_str(rest);
        out
    }

    /// The id of the security group named `name` in the default VPC.
    pub fn security_group_id(&self, region: &str, name: &str) -> String {
        let (vpc, _) = self.default_vpc(region);
        let body = self.ec2(
            region,
            &[
                ("Action", "DescribeSecurityGroups"),
                ("Filter.1.Name", "group-name"),
                ("Filter.1.Value.1", name),
                ("Filter.2.Name", "vpc-id"),
                ("Filter.2.Value.1", &vpc),
            ],
        );
        // The group's own id comes first; rules naming groups follow it.
        xml_values(&body, "groupId").into_iter().next().unwrap_or_else(|| panic!("no group named {name}: {body}"))
    }

    /// The default VPC of a region: (id, IPv4 CIDR).
    pub fn default_vpc(&self, region: &str) -> (String, String) {
        let body = self.ec2(region, &[("Action", "DescribeVpcs"), ("Filter.1.Name", "is-default"), ("Filter.1.Value.1", "true")]);
        let id = xml_values(&body, "vpcId").into_iter().next().expect("a default VPC");
        let cidr = xml_values(&body, "cidrBlock").into_iter().next().expect("its CIDR");
        (id, cidr)
    }
}

/// `us-east-1a` → `us-east-1`.
pub fn region_of_zone(zone: &str) -> String {
    zone.trim_end_matches(|c: char| c.is_ascii_lowercase()).to_string()
}

/// Splits a raw HTTP response into status and body.
pub fn split_response(raw: &str) -> (u16, String) {
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
