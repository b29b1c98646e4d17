//! The EC2 client (`ec2::Client`) against moto's EC2: every read round-tripped, batching and
//! pagination counted from its own metrics family, unknown ids left out, and a read IAM
//! does not allow reported as "not allowed". The call path is the ELB client's, so signing,
//! retries and timeouts are tested once, in the other files of this binary.

use elb_operator::aws::{ClientConfig, RateLimitConfig};
use elb_operator::ec2::{self, Ec2Api, IpProtocol, PortRange};
use elb_operator::telemetry::Metrics;
use test_support::ec2::xml_values;
use test_support::metrics::{ElbCalls, EC2_CALLS};

use crate::common::MOTO;

/// Its own region: other tests of this binary launch instances in us-east-1.
const REGION: &str = "eu-west-2";

fn config() -> ClientConfig {
    ClientConfig::for_endpoint(REGION, &MOTO.endpoint, "test", "test").with_rate_limit(RateLimitConfig::unlimited())
}

/// An EC2 client recording into metrics of its own.
fn counted(config: ClientConfig) -> (ec2::Client, Metrics) {
    let metrics = Metrics::new();
    (ec2::Client::new(config.with_metrics(metrics.ec2.clone())).expect("client"), metrics)
}

fn ec2_calls(metrics: &Metrics) -> ElbCalls {
    ElbCalls::parse_family(&metrics.encode(), EC2_CALLS)
}

#[tokio::test]
async fn instances_groups_and_subnets_round_trip() {
    let (vpc, vpc_cidr) = MOTO.default_vpc(REGION);
    let web = MOTO.create_security_group(REGION, "ec2-rt-web");
    let lb = MOTO.create_security_group(REGION, "ec2-rt-lb");
    MOTO.authorize_ingress(REGION, &web, "tcp", 8000, 8100, &lb);
    MOTO.authorize_ingress(REGION, &web, "tcp", 443, 443, &vpc_cidr);
    MOTO.authorize_ingress(REGION, &web, "tcp", 443, 443, "::/0");
    MOTO.authorize_ingress(REGION, &web, "-1", -1, -1, &web);
    let mut ids = MOTO.run_instances_in_groups(2, &format!("{REGION}b"), &[web.clone(), lb.clone()]);
    ids.sort();
    let (c, metrics) = counted(config());

    let mut asked = ids.clone();
    asked.push("i-0123456789abcdef0".into());
    let mut found = c.describe_instances(&asked).await.unwrap();
    found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    assert_eq!(found.iter().map(|i| i.instance_id.clone()).collect::<Vec<_>>(), ids, "an unknown id is left out, not an error");
    for i in &found {
        assert_eq!(i.security_groups, [web.clone(), lb.clone()]);
        assert_eq!(i.vpc_id.as_deref(), Some(vpc.as_str()));
        assert_eq!(i.availability_zone.as_deref(), Some("eu-west-2b"));
        assert_eq!(i.state, "running");
        assert!(i.subnet_id.as_deref().is_some_and(|s| s.starts_with("subnet-")), "{i:?}");
        assert!(i.private_ip.is_some(), "{i:?}");
    }

    let groups = c.describe_security_groups(&[web.clone(), "sg-0000000000unknown".into()]).await.unwrap();
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!((g.group_id.as_str(), g.group_name.as_str(), g.vpc_id.as_deref()), (web.as_str(), "ec2-rt-web", Some(vpc.as_str())));
    let rule = |pred: &dyn Fn(&ec2::IpPermission) -> bool| {
        g.ingress.iter().find(|r| pred(r)).cloned().unwrap_or_else(|| panic!("{:#?}", g.ingress))
    };
    let from_lb = rule(&|r| r.groups.iter().any(|p| p.group_id == lb));
    assert_eq!((from_lb.protocol, from_lb.ports), (IpProtocol::Tcp, Some(PortRange { from: 8000, to: 8100 })));
    let https = rule(&|r| r.ports == Some(PortRange { from: 443, to: 443 }));
    let mut cidrs: Vec<String> =
        g.ingress.iter().filter(|r| r.ports == https.ports).flat_map(|r| r.cidrs.iter().map(|c| c.to_string())).collect();
    cidrs.sort();
    let mut want = vec!["::/0".to_string(), vpc_cidr.clone()];
    want.sort();
    assert_eq!(cidrs, want);
    let all = rule(&|r| r.protocol == IpProtocol::All);
    assert_eq!((all.ports, all.groups[0].group_id.as_str()), (None, web.as_str()));

    let by_name = c.describe_security_groups_by_name(&["ec2-rt-lb".into()], Some(&vpc)).await.unwrap();
    assert_eq!(by_name.iter().map(|g| g.group_id.clone()).collect::<Vec<_>>(), std::slice::from_ref(&lb));
    let defaults = c.describe_security_groups_by_name(&["default".into()], Some(&vpc)).await.unwrap();
    assert_eq!(defaults.len(), 1, "one default group per VPC: {defaults:?}");

    let subnet = found[0].subnet_id.clone().unwrap();
    let subnets = c.describe_subnets(&[subnet.clone(), "subnet-unknown".into()]).await.unwrap();
    assert_eq!(subnets.len(), 1);
    assert_eq!((subnets[0].subnet_id.as_str(), subnets[0].vpc_id.as_deref()), (subnet.as_str(), Some(vpc.as_str())));
    let vpc_net: ipnet::IpNet = vpc_cidr.parse().unwrap();
    assert!(subnets[0].cidrs.iter().any(|c| vpc_net.contains(c)), "{subnets:?} inside {vpc_cidr}");

    let counted = ec2_calls(&metrics);
    assert_eq!(counted.outcome("DescribeInstances", "success"), 1);
    assert_eq!(counted.outcome("DescribeSecurityGroups", "success"), 3);
    assert_eq!(counted.outcome("DescribeSubnets", "success"), 1);
    assert_eq!(ElbCalls::parse(&metrics.encode()).matching(|_| true), 0, "EC2 calls are not counted as ELB calls");

    // Nothing asked, nothing sent: an unfiltered describe would list the region.
    assert!(c.describe_instances(&[]).await.unwrap().is_empty());
    assert!(c.describe_security_groups(&[]).await.unwrap().is_empty());
    assert_eq!(ec2_calls(&metrics).matching(|_| true), 5);
}

#[tokio::test]
async fn long_lists_are_batched_and_pages_followed() {
    // Twelve reservations (moto pages DescribeInstances by reservation) of 10 instances:
    // 120 ids are two filter batches, and the first (10 reservations) takes two pages of 5.
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.extend(MOTO.run_instances(10, &format!("{REGION}a")));
    }
    let (c, metrics) = counted(config().with_page_size(5));
    let found = c.describe_instances(&ids).await.unwrap();
    let mut got: Vec<String> = found.into_iter().map(|i| i.instance_id).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(ec2::FILTER_BATCH, 100);
    // Batch 1 (ids 1-100): two pages; batch 2 (ids 101-120): one.
    assert_eq!(ec2_calls(&metrics).attempts("DescribeInstances"), 3);
}

#[tokio::test]
async fn a_read_iam_does_not_allow_is_not_allowed_and_not_retried() {
    let (moto, ak, sk) = &*crate::credentials::AUTH_MOTO;
    // A user allowed ELB only, created with the all-powerful user's keys.
    let iam = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        all.push(("Version", "2010-05-08"));
        let (status, body) = moto.signed_query("iam", "us-east-1", &all, ak, sk);
        assert_eq!(status, 200, "IAM {params:?}: {body}");
        body
    };
    iam(&[("Action", "CreateUser"), ("UserName", "elb-only")]);
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", "elb-only")]);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"*"}]}"#;
    iam(&[("Action", "PutUserPolicy"), ("UserName", "elb-only"), ("PolicyName", "elb"), ("PolicyDocument", policy)]);
    let (elb_ak, elb_sk) = (xml_values(&key, "AccessKeyId").remove(0), xml_values(&key, "SecretAccessKey").remove(0));

    let config = ClientConfig::for_endpoint("us-east-1", &moto.endpoint, &elb_ak, &elb_sk).with_rate_limit(RateLimitConfig::unlimited());
    let (c, metrics) = counted(config);
    let err = c.describe_instances(&["i-0123456789abcdef0".into()]).await.unwrap_err();
    assert!(err.is_not_allowed(), "{err:?}");
    assert_eq!(err.action(), Some("DescribeInstances"));
    assert_eq!(ec2_calls(&metrics).attempts("DescribeInstances"), 1, "a refusal is not retried");
    let source = elb_operator::reachability::ElbSource::default();
    let ports = [8080].into();
    let check = elb_operator::reachability::check_backends(&c, &["i-0123456789abcdef0".into()], &source, &ports).await;
    match check {
        Err(e @ elb_operator::reachability::CheckError::NotAllowed { action: "DescribeInstances", .. }) => {
            assert_eq!(e.reason(), "EC2NotAllowed");
            println!("{e}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

/// `ids` tagged with `tags` through CreateTags (the call the platform team's tooling makes).
fn create_tags(ids: &[&str], tags: &[(&str, &str)]) {
    let mut keys = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        keys.push((format!("ResourceId.{}", n + 1), id.to_string()));
    }
    for (n, (k, v)) in tags.iter().enumerate() {
        keys.push((format!("Tag.{}.Key", n + 1), k.to_string()));
        keys.push((format!("Tag.{}.Value", n + 1), v.to_string()));
    }
    let mut params: Vec<(&str, &str)> = vec![("Action", "CreateTags")];
    params.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    MOTO.ec2(REGION, &params);
}

#[tokio::test]
async fn instances_groups_and_subnets_carry_their_tags() {
    let group = MOTO.create_security_group(REGION, "ec2-tags-web");
    let ids = MOTO.run_instances_in_groups(2, &format!("{REGION}c"), std::slice::from_ref(&group));
    let c = ec2::Client::new(config()).unwrap();
    let subnet = c.describe_instances(&ids[..1]).await.unwrap()[0].subnet_id.clone().expect("a subnet");
    // The subnet is the zone's default one, which other tests of this region read too: a
    // key of this test's own.
    create_tags(&[&ids[0], &group, &subnet], &[("ec2-tags/team", "payments"), ("ec2-tags/env", "prod ")]);
    create_tags(&[&ids[1]], &[("ec2-tags/team", "search")]);

    let want = |team: &str, env: Option<&str>| {
        let mut t = std::collections::BTreeMap::from([("ec2-tags/team".to_string(), team.to_string())]);
        t.extend(env.map(|e| ("ec2-tags/env".to_string(), e.to_string())));
        t
    };
    let mut instances = c.describe_instances(&ids).await.unwrap();
    instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let by_id = |id: &str| instances.iter().find(|i| i.instance_id == id).unwrap_or_else(|| panic!("{id}: {instances:?}"));
    assert_eq!(by_id(&ids[0]).tags, want("payments", Some("prod ")), "values are read exactly, trailing space and all");
    assert_eq!(by_id(&ids[1]).tags, want("search", None));

    let groups = c.describe_security_groups(std::slice::from_ref(&group)).await.unwrap();
    assert_eq!(groups[0].tags, want("payments", Some("prod ")));
    let subnets = c.describe_subnets(std::slice::from_ref(&subnet)).await.unwrap();
    let mine: std::collections::BTreeMap<String, String> =
        subnets[0].tags.iter().filter(|(k, _)| k.starts_with("ec2-tags/")).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(mine, want("payments", Some("prod ")));

    // An untagged group reads as no tags, not as a failure.
    let bare = MOTO.create_security_group(REGION, "ec2-tags-bare");
    assert!(c.describe_security_groups(std::slice::from_ref(&bare)).await.unwrap()[0].tags.is_empty());

    // What the class check reads: one call per kind, the unknown instance not found, and
    // the class's verdict on what moto holds.
    use elb_operator::controller::loadbalancer::resource_tags::{self, Wanted};
    use elb_operator::tenancy::{Grant, ResourceKind};
    let (counted_client, metrics) = counted(config());
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
    let wanted = Wanted {
        instances: set(&[&ids[0], &ids[1], "i-0123456789abcdef0"]),
        security_groups: set(&[&group, &bare]),
        subnets: set(&[&subnet]),
        ..Wanted::default()
    };
    let read = resource_tags::read(Some(&counted_client), None, &wanted).await.unwrap();
    let calls = ec2_calls(&metrics);
    assert_eq!(
        ["DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets"].map(|a| calls.attempts(a)),
        [1, 1, 1],
        "one read per kind"
    );
    assert_eq!(read.tags(ResourceKind::Instance, "i-0123456789abcdef0"), None);
    let grant = Grant { required_resource_tags: want("payments", None), ..Grant::default() };
    let out = read.instances_not_allowed(&grant, wanted.instances.iter().map(String::as_str));
    let mut want_out = vec![ids[1].clone(), "i-0123456789abcdef0".to_string()];
    want_out.sort();
    assert_eq!(out, want_out, "the other team's instance and the unknown one are left out");
    let named = Wanted { instances: set(&[&ids[0]]), security_groups: set(&[&group]), subnets: set(&[&subnet]), ..Wanted::default() };
    assert_eq!(read.check_named(&grant, &named), Ok(()));
    let r = read.check_named(&grant, &Wanted { security_groups: set(&[&bare]), ..named }).unwrap_err();
    assert_eq!(r.reason.as_str(), "ResourceNotAllowed");
    assert!(r.message.contains(&bare), "{}", r.message);
}
