//! Decoders against documentation-shaped fixtures (the response examples of the Classic
//! ELB API reference), and the request encoders.

use super::*;
use crate::aws::query::{self, Shape};

/// A documented answer's result element and request id.
fn parse_result(action: &str, body: &str) -> Result<(Element, Option<String>), String> {
    query::parse_result(Shape::Wrapped, action, body)
}

const DESCRIBE: &str = r#"<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">
  <DescribeLoadBalancersResult>
    <NextMarker>abc123</NextMarker>
    <LoadBalancerDescriptions>
      <member>
        <Subnets/>
        <CanonicalHostedZoneNameID>Z3DZXE0EXAMPLE</CanonicalHostedZoneNameID>
        <CanonicalHostedZoneName>my-loadbalancer-1234567890.us-west-2.elb.amazonaws.com</CanonicalHostedZoneName>
        <ListenerDescriptions>
          <member>
            <Listener>
              <InstancePort>80</InstancePort>
              <InstanceProtocol>HTTP</InstanceProtocol>
              <LoadBalancerPort>80</LoadBalancerPort>
              <Protocol>HTTP</Protocol>
            </Listener>
            <PolicyNames><member>sticky</member></PolicyNames>
          </member>
          <member>
            <Listener>
              <InstancePort>443</InstancePort>
              <SSLCertificateId>arn:aws:iam::123456789012:server-certificate/cert</SSLCertificateId>
              <InstanceProtocol>https</InstanceProtocol>
              <LoadBalancerPort>443</LoadBalancerPort>
              <Protocol>HTTPS</Protocol>
            </Listener>
            <PolicyNames/>
          </member>
        </ListenerDescriptions>
        <HealthCheck>
          <Interval>90</Interval>
          <Target>HTTP:80/</Target>
          <HealthyThreshold>2</HealthyThreshold>
          <Timeout>60</Timeout>
          <UnhealthyThreshold>10</UnhealthyThreshold>
        </HealthCheck>
        <VPCId>vpc-a01106c2</VPCId>
        <BackendServerDescriptions>
          <member><InstancePort>80</InstancePort><PolicyNames><member>proxy</member></PolicyNames></member>
        </BackendServerDescriptions>
        <Instances>
          <member><InstanceId>i-e4cbe38d</InstanceId></member>
        </Instances>
        <DNSName>my-loadbalancer-1234567890.us-west-2.elb.amazonaws.com</DNSName>
        <SecurityGroups><member>sg-a61988c3</member></SecurityGroups>
        <Policies>
          <AppCookieStickinessPolicies><member><PolicyName>app</PolicyName><CookieName>SID</CookieName></member></AppCookieStickinessPolicies>
          <LBCookieStickinessPolicies><member><PolicyName>sticky</PolicyName><CookieExpirationPeriod>60</CookieExpirationPeriod></member></LBCookieStickinessPolicies>
          <OtherPolicies><member>proxy</member></OtherPolicies>
        </Policies>
        <LoadBalancerName>my-loadbalancer</LoadBalancerName>
        <CreatedTime>2013-05-24T21:15:31.280Z</CreatedTime>
        <AvailabilityZones><member>us-west-2a</member></AvailabilityZones>
        <Scheme>internet-facing</Scheme>
        <SourceSecurityGroup><OwnerAlias>amazon-elb</OwnerAlias><GroupName>amazon-elb-sg</GroupName></SourceSecurityGroup>
      </member>
    </LoadBalancerDescriptions>
  </DescribeLoadBalancersResult>
  <ResponseMetadata><RequestId>83c88b9d-12b7-11e3-8b82-87b12EXAMPLE</RequestId></ResponseMetadata>
</DescribeLoadBalancersResponse>"#;

#[test]
fn describe_load_balancers_fixture() {
    let (result, rid) = parse_result("DescribeLoadBalancers", DESCRIBE).unwrap();
    assert_eq!(rid.as_deref(), Some("83c88b9d-12b7-11e3-8b82-87b12EXAMPLE"));
    let (lbs, marker) = describe_load_balancers(&result).unwrap();
    assert_eq!(marker.as_deref(), Some("abc123"));
    assert_eq!(lbs.len(), 1);
    let lb = &lbs[0];
    assert_eq!(lb.name, "my-loadbalancer");
    assert_eq!(lb.dns_name, "my-loadbalancer-1234567890.us-west-2.elb.amazonaws.com");
    assert_eq!(lb.canonical_hosted_zone_name_id.as_deref(), Some("Z3DZXE0EXAMPLE"));
    assert_eq!(lb.scheme, Scheme::InternetFacing);
    assert_eq!(lb.listeners.len(), 2);
    assert_eq!(lb.listeners[0].policy_names, vec!["sticky"]);
    assert_eq!(
        lb.listeners[1].listener,
        Listener {
            load_balancer_port: 443,
            protocol: Protocol::HTTPS,
            instance_port: 443,
            // `https` in the document: protocols are read in any case.
            instance_protocol: Protocol::HTTPS,
            ssl_certificate_id: Some("arn:aws:iam::123456789012:server-certificate/cert".into()),
        }
    );
    assert_eq!(
        lb.health_check,
        Some(HealthCheck { target: "HTTP:80/".into(), interval: 90, timeout: 60, healthy_threshold: 2, unhealthy_threshold: 10 })
    );
    assert_eq!(lb.vpc_id.as_deref(), Some("vpc-a01106c2"));
    assert!(lb.subnets.is_empty());
    assert_eq!(lb.instances, vec!["i-e4cbe38d"]);
    assert_eq!(lb.security_groups, vec!["sg-a61988c3"]);
    assert_eq!(
        lb.source_security_group,
        Some(SourceSecurityGroup { owner_alias: "amazon-elb".into(), group_name: "amazon-elb-sg".into() })
    );
    assert_eq!(lb.availability_zones, vec!["us-west-2a"]);
    assert_eq!(lb.backend_server_descriptions, vec![BackendServerDescription { instance_port: 80, policy_names: vec!["proxy".into()] }]);
    assert_eq!(lb.policies.app_cookie_stickiness[0].cookie_name, "SID");
    assert_eq!(lb.policies.lb_cookie_stickiness[0].cookie_expiration_period, Some(60));
    assert_eq!(lb.policies.other_policies, vec!["proxy"]);
    assert_eq!(lb.created_time.as_deref(), Some("2013-05-24T21:15:31.280Z"));
}

/// [`DESCRIBE`] with one value replaced (the first occurrence of `from`).
fn describe_with(from: &str, to: &str) -> Result<(Vec<LoadBalancerDescription>, Option<String>), DecodeError> {
    assert!(DESCRIBE.contains(from), "{from}");
    let (result, _) = parse_result("DescribeLoadBalancers", &DESCRIBE.replacen(from, to, 1)).unwrap();
    describe_load_balancers(&result)
}

#[test]
fn unknown_and_absent_enum_values_decode() {
    let lb = |from: &str, to: &str| describe_with(from, to).unwrap().0.remove(0);
    assert_eq!(lb("<Scheme>internet-facing</Scheme>", "<Scheme>internal</Scheme>").scheme, Scheme::Internal);
    assert_eq!(lb("<Scheme>internet-facing</Scheme>", "").scheme, Scheme::InternetFacing, "AWS's default");
    assert_eq!(lb("<Scheme>internet-facing</Scheme>", "<Scheme>dual</Scheme>").scheme, Scheme::Other("dual".into()));
    let no_source = "<SourceSecurityGroup><OwnerAlias>amazon-elb</OwnerAlias><GroupName>amazon-elb-sg</GroupName></SourceSecurityGroup>";
    assert_eq!(lb(no_source, "").source_security_group, None);
    assert_eq!(lb(no_source, "<SourceSecurityGroup/>").source_security_group, None, "an empty element names no group");
    let quic = lb("<Protocol>HTTP</Protocol>", "<Protocol>QUIC</Protocol>");
    assert_eq!(quic.listeners[0].listener.protocol, Protocol::Other("QUIC".into()));
}

#[test]
fn malformed_numbers_in_a_description_are_errors_not_zeros() {
    let malformed = |element: &str, text: &str, expected| DecodeError::Malformed { element: element.into(), text: text.into(), expected };
    assert_eq!(
        describe_with("<LoadBalancerPort>80</LoadBalancerPort>", "<LoadBalancerPort>eighty</LoadBalancerPort>"),
        Err(malformed("LoadBalancerPort", "eighty", "u16"))
    );
    assert_eq!(
        describe_with("<InstancePort>443</InstancePort>", "<InstancePort>-1</InstancePort>"),
        Err(malformed("InstancePort", "-1", "u16"))
    );
    assert_eq!(describe_with("<Interval>90</Interval>", "<Interval>1.5</Interval>"), Err(malformed("Interval", "1.5", "i32")));
    assert_eq!(
        describe_with("<CookieExpirationPeriod>60</CookieExpirationPeriod>", "<CookieExpirationPeriod/>"),
        Err(malformed("CookieExpirationPeriod", "", "i64"))
    );
    // A backend port of 70000 does not fit a port.
    assert_eq!(
        describe_with("<member><InstancePort>80</InstancePort><PolicyNames>", "<member><InstancePort>70000</InstancePort><PolicyNames>"),
        Err(malformed("InstancePort", "70000", "u16"))
    );
    // A number the field needs may not be left out either.
    assert_eq!(describe_with("<Timeout>60</Timeout>", ""), Err(DecodeError::Missing { element: "Timeout".into() }));
}

#[test]
fn malformed_attribute_values_are_errors() {
    let attributes = |inner: &str| {
        let doc = format!(
            "<DescribeLoadBalancerAttributesResponse><DescribeLoadBalancerAttributesResult><LoadBalancerAttributes>{inner}\
             </LoadBalancerAttributes></DescribeLoadBalancerAttributesResult></DescribeLoadBalancerAttributesResponse>"
        );
        load_balancer_attributes(&parse_result("DescribeLoadBalancerAttributes", &doc).unwrap().0)
    };
    assert_eq!(
        attributes("<ConnectionSettings><IdleTimeout>sixty</IdleTimeout></ConnectionSettings>"),
        Err(DecodeError::Malformed { element: "IdleTimeout".into(), text: "sixty".into(), expected: "i32" })
    );
    for bad in [
        "<ConnectionDraining><Enabled>true</Enabled><Timeout>x</Timeout></ConnectionDraining>",
        "<AccessLog><Enabled>true</Enabled><EmitInterval>5m</EmitInterval></AccessLog>",
        "<CrossZoneLoadBalancing><Enabled>yes</Enabled></CrossZoneLoadBalancing>",
    ] {
        assert!(matches!(attributes(bad), Err(DecodeError::Malformed { .. })), "{bad}");
    }
    // Absent values stay absent; moto's capitalised booleans read as booleans.
    assert_eq!(
        attributes(
            "<CrossZoneLoadBalancing><Enabled>True</Enabled></CrossZoneLoadBalancing>\
             <ConnectionDraining><Enabled>false</Enabled></ConnectionDraining>"
        ),
        Ok(LoadBalancerAttributes {
            cross_zone_load_balancing: Some(true),
            connection_draining: Some(ConnectionDraining { enabled: false, timeout: None }),
            ..Default::default()
        })
    );
}

#[test]
fn result_of_another_action_is_rejected() {
    assert!(parse_result("DescribeTags", DESCRIBE).is_err());
}

#[test]
fn instance_health_fixture() {
    let doc = r#"<DescribeInstanceHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">
  <DescribeInstanceHealthResult>
    <InstanceStates>
      <member><Description>N/A</Description><InstanceId>i-207d9717</InstanceId><ReasonCode>N/A</ReasonCode><State>InService</State></member>
      <member><Description>Instance has failed at least the UnhealthyThreshold number of health checks consecutively.</Description><InstanceId>i-afefb49b</InstanceId><ReasonCode>Instance</ReasonCode><State>OutOfService</State></member>
    </InstanceStates>
  </DescribeInstanceHealthResult>
  <ResponseMetadata><RequestId>1549581b-12b7-11e3-895e-1334aEXAMPLE</RequestId></ResponseMetadata>
</DescribeInstanceHealthResponse>"#;
    let (r, _) = parse_result("DescribeInstanceHealth", doc).unwrap();
    let s = instance_states(&r);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].state, HealthState::InService);
    assert_eq!(s[1].instance_id, "i-afefb49b");
    assert_eq!(s[1].state, HealthState::OutOfService);
    assert_eq!(s[1].reason_code.as_deref(), Some("Instance"));
}

#[test]
fn register_instances_fixture() {
    let doc = r#"<RegisterInstancesWithLoadBalancerResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">
  <RegisterInstancesWithLoadBalancerResult>
    <Instances><member><InstanceId>i-315b7e51</InstanceId></member><member><InstanceId>i-a</InstanceId></member></Instances>
  </RegisterInstancesWithLoadBalancerResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</RegisterInstancesWithLoadBalancerResponse>"#;
    let (r, _) = parse_result("RegisterInstancesWithLoadBalancer", doc).unwrap();
    assert_eq!(instance_ids(&r), vec!["i-315b7e51", "i-a"]);
}

#[test]
fn attributes_fixture() {
    let doc = r#"<DescribeLoadBalancerAttributesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">
  <DescribeLoadBalancerAttributesResult>
    <LoadBalancerAttributes>
      <AccessLog><Enabled>true</Enabled><S3BucketName>my-bucket</S3BucketName><EmitInterval>60</EmitInterval><S3BucketPrefix>prefix</S3BucketPrefix></AccessLog>
      <CrossZoneLoadBalancing><Enabled>true</Enabled></CrossZoneLoadBalancing>
      <ConnectionDraining><Enabled>true</Enabled><Timeout>60</Timeout></ConnectionDraining>
      <ConnectionSettings><IdleTimeout>30</IdleTimeout></ConnectionSettings>
    </LoadBalancerAttributes>
  </DescribeLoadBalancerAttributesResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeLoadBalancerAttributesResponse>"#;
    let (r, _) = parse_result("DescribeLoadBalancerAttributes", doc).unwrap();
    assert_eq!(
        load_balancer_attributes(&r).unwrap(),
        LoadBalancerAttributes {
            cross_zone_load_balancing: Some(true),
            connection_draining: Some(ConnectionDraining { enabled: true, timeout: Some(60) }),
            idle_timeout: Some(30),
            access_log: Some(AccessLog {
                enabled: true,
                s3_bucket_name: Some("my-bucket".into()),
                s3_bucket_prefix: Some("prefix".into()),
                emit_interval: Some(60)
            }),
        }
    );
}

#[test]
fn tags_and_policies_fixtures() {
    let doc = r#"<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>
  <member><Tags><member><Value>lima</Value><Key>project</Key></member><member><Key>bare</Key></member></Tags><LoadBalancerName>my-test-loadbalancer</LoadBalancerName></member>
</TagDescriptions></DescribeTagsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTagsResponse>"#;
    let (r, _) = parse_result("DescribeTags", doc).unwrap();
    let t = tag_descriptions(&r);
    assert_eq!(
        t["my-test-loadbalancer"],
        vec![Tag { key: "project".into(), value: Some("lima".into()) }, Tag { key: "bare".into(), value: None }]
    );

    let doc = r#"<DescribeLoadBalancerPoliciesResponse><DescribeLoadBalancerPoliciesResult><PolicyDescriptions>
  <member><PolicyName>EnableProxyProtocol</PolicyName><PolicyTypeName>ProxyProtocolPolicyType</PolicyTypeName>
    <PolicyAttributeDescriptions><member><AttributeName>ProxyProtocol</AttributeName><AttributeValue>true</AttributeValue></member></PolicyAttributeDescriptions></member>
</PolicyDescriptions></DescribeLoadBalancerPoliciesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancerPoliciesResponse>"#;
    let (r, _) = parse_result("DescribeLoadBalancerPolicies", doc).unwrap();
    assert_eq!(
        policy_descriptions(&r),
        vec![PolicyDescription {
            policy_name: "EnableProxyProtocol".into(),
            policy_type_name: "ProxyProtocolPolicyType".into(),
            attributes: vec![PolicyAttribute { name: "ProxyProtocol".into(), value: "true".into() }],
        }]
    );
}

#[test]
fn create_load_balancer_encoding() {
    let input = CreateLoadBalancerInput {
        name: "my lb".into(),
        listeners: vec![Listener {
            load_balancer_port: 443,
            protocol: Protocol::HTTPS,
            instance_port: 80,
            instance_protocol: Protocol::HTTP,
            ssl_certificate_id: Some("arn:x/y".into()),
        }],
        availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
        subnets: vec![],
        security_groups: vec!["sg-1".into()],
        scheme: Some(Scheme::Internal),
        tags: vec![Tag { key: "k".into(), value: None }, Tag { key: "a&b".into(), value: Some("c=d".into()) }],
    };
    let p = create_load_balancer(&input);
    assert_eq!(p.get("Action"), Some("CreateLoadBalancer"));
    assert_eq!(p.get("Version"), Some("2012-06-01"));
    assert_eq!(p.get("Listeners.member.1.SSLCertificateId"), Some("arn:x/y"));
    assert_eq!(p.get("Listeners.member.1.LoadBalancerPort"), Some("443"));
    assert_eq!((p.get("Listeners.member.1.Protocol"), p.get("Listeners.member.1.InstanceProtocol")), (Some("HTTPS"), Some("HTTP")));
    assert_eq!(p.get("Scheme"), Some("internal"));
    assert_eq!(p.get("AvailabilityZones.member.2"), Some("us-east-1b"));
    assert_eq!(p.get("SecurityGroups.member.1"), Some("sg-1"));
    assert_eq!(p.get("Subnets.member.1"), None);
    assert_eq!(p.get("Tags.member.1.Key"), Some("k"));
    assert_eq!(p.get("Tags.member.1.Value"), None);
    let body = p.encode();
    assert!(body.starts_with("Action=CreateLoadBalancer&Version=2012-06-01&LoadBalancerName=my%20lb&"), "{body}");
    assert!(body.contains("Tags.member.2.Key=a%26b&Tags.member.2.Value=c%3Dd"), "{body}");
    assert!(body.contains("SSLCertificateId=arn%3Ax%2Fy"), "{body}");
}

#[test]
fn attributes_encoding_leaves_unset_alone() {
    let mut p = params("ModifyLoadBalancerAttributes");
    attributes(
        &mut p,
        &LoadBalancerAttributes {
            idle_timeout: Some(30),
            connection_draining: Some(ConnectionDraining { enabled: false, timeout: None }),
            ..Default::default()
        },
    );
    assert_eq!(p.get("LoadBalancerAttributes.ConnectionSettings.IdleTimeout"), Some("30"));
    assert_eq!(p.get("LoadBalancerAttributes.ConnectionDraining.Enabled"), Some("false"));
    assert_eq!(p.get("LoadBalancerAttributes.ConnectionDraining.Timeout"), None);
    assert_eq!(p.get("LoadBalancerAttributes.CrossZoneLoadBalancing.Enabled"), None);
    assert_eq!(p.get("LoadBalancerAttributes.AccessLog.Enabled"), None);
}
