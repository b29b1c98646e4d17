//! The backend reachability check (`reachability::check_backends`) against moto's ELB and
//! EC2: instances in security groups with and without a rule that admits the load balancer,
//! the EC2 reads counted, and no security group changed.

use elb_operator::ec2;
use elb_operator::elb::{CreateLoadBalancerInput, ElbApi, HealthCheck};
use elb_operator::reachability::{backend_ports, check_backends, ElbSource};
use elb_operator::telemetry::Metrics;
use test_support::metrics::{ElbCalls, EC2_CALLS};

use crate::{client, MOTO, REGION};

fn ec2_client() -> (ec2::Client, Metrics) {
    let metrics = Metrics::new();
    (ec2::Client::new(crate::config().with_metrics(metrics.ec2.clone())).expect("EC2 client"), metrics)
}

async fn load_balancer(name: &str, security_groups: Vec<String>, instances: &[String]) -> elb_operator::elb::LoadBalancerDescription {
    let elb = client();
    let input = CreateLoadBalancerInput { security_groups, ..CreateLoadBalancerInput::http(name, &format!("{REGION}a"), 8080) };
    elb.create_load_balancer(&input).await.unwrap();
    let hc = HealthCheck { target: "HTTP:9000/health".into(), interval: 30, timeout: 5, healthy_threshold: 3, unhealthy_threshold: 5 };
    elb.configure_health_check(name, &hc).await.unwrap();
    elb.register_instances(name, instances).await.unwrap();
    elb.describe_load_balancers(&[name.to_string()]).await.unwrap().remove(0)
}

#[tokio::test]
async fn only_the_instance_whose_groups_have_no_rule_for_the_load_balancer_is_reported() {
    let (_, vpc_cidr) = MOTO.default_vpc(REGION);
    let elb_sg = MOTO.create_security_group(REGION, "reach-elb");
    let by_group = MOTO.create_security_group(REGION, "reach-by-group");
    MOTO.authorize_ingress(REGION, &by_group, "tcp", 8080, 8080, &elb_sg);
    MOTO.authorize_ingress(REGION, &by_group, "tcp", 9000, 9000, &elb_sg);
    let by_cidr = MOTO.create_security_group(REGION, "reach-by-cidr");
    MOTO.authorize_ingress(REGION, &by_cidr, "tcp", 8000, 9100, &vpc_cidr);
    let ssh_only = MOTO.create_security_group(REGION, "reach-ssh-only");
    MOTO.authorize_ingress(REGION, &ssh_only, "tcp", 22, 22, "0.0.0.0/0");
    let wrong_protocol = MOTO.create_security_group(REGION, "reach-udp");
    MOTO.authorize_ingress(REGION, &wrong_protocol, "udp", 8080, 9000, &elb_sg);
    let zone = format!("{REGION}a");
    let a = MOTO.run_instances_in_groups(1, &zone, std::slice::from_ref(&by_group)).remove(0);
    let b = MOTO.run_instances_in_groups(1, &zone, std::slice::from_ref(&by_cidr)).remove(0);
    let c = MOTO.run_instances_in_groups(1, &zone, &[ssh_only.clone(), wrong_protocol.clone()]).remove(0);
    let d = MOTO.run_instances_in_groups(1, &zone, &[ssh_only.clone(), by_group.clone()]).remove(0);
    let lb = load_balancer("reach-lb", vec![elb_sg.clone()], &[a.clone(), b.clone(), c.clone(), d.clone()]).await;
    let groups = [&elb_sg, &by_group, &by_cidr, &ssh_only, &wrong_protocol].map(String::as_str);
    let groups_before = MOTO.security_groups_document(REGION, &groups);

    let source = ElbSource::of(&lb);
    assert_eq!(source.group_ids, [elb_sg.clone()].into());
    assert!(!source.subnets.is_empty(), "moto places a zone-based ELB in the default subnets: {lb:?}");
    let ports = backend_ports(&lb);
    assert_eq!(ports, [8080, 9000].into());
    let (ec2, metrics) = ec2_client();
    let r = check_backends(&ec2, &lb.instances, &source, &ports).await.expect("the check runs");
    println!("{}", r.message());

    assert_eq!(r.closed, [(c.clone(), 8080), (c.clone(), 9000)], "a: by group, b: by the VPC range, d: by its second group");
    assert_eq!(r.checked, 4);
    assert_eq!(r.message(), format!("no security group rule admits the load balancer on {c}:8080, {c}:9000"));
    // Instances, their groups, the source group by name (a port was still closed), the subnets.
    let calls = ElbCalls::parse_family(&metrics.encode(), EC2_CALLS);
    assert_eq!(
        (calls.attempts("DescribeInstances"), calls.attempts("DescribeSecurityGroups"), calls.attempts("DescribeSubnets")),
        (1, 2, 1),
        "{calls:?}"
    );
    assert_eq!(MOTO.security_groups_document(REGION, &groups), groups_before, "no security group was modified");
}

#[tokio::test]
async fn open_ports_need_two_reads_and_the_source_group_is_found_by_name() {
    let zone = format!("{REGION}a");
    let (vpc, _) = MOTO.default_vpc(REGION);
    let web = MOTO.create_security_group(REGION, "reach-web");
    let ids = MOTO.run_instances_in_groups(2, &zone, std::slice::from_ref(&web));
    let (ec2, metrics) = ec2_client();
    // The VPC's default group as the ELB's group; moto names it as the source group, as AWS
    // names a VPC load balancer's group.
    let default_sg = MOTO.security_group_id(REGION, "default");
    let lb = load_balancer("reach-default-sg", vec![default_sg.clone()], &ids).await;
    assert_eq!(lb.source_security_group.as_ref().map(|g| g.group_name.as_str()), Some("default"));
    MOTO.authorize_ingress(REGION, &web, "tcp", 8080, 9000, &default_sg);

    let r = check_backends(&ec2, &lb.instances, &ElbSource::of(&lb), &backend_ports(&lb)).await.unwrap();
    assert!(r.is_reachable(), "{r:?}");
    assert_eq!(r.message(), "the security groups of 2 instances admit the load balancer on ports 8080, 9000");
    let calls = ElbCalls::parse_family(&metrics.encode(), EC2_CALLS);
    assert_eq!((calls.attempts("DescribeInstances"), calls.attempts("DescribeSecurityGroups"), calls.matching(|_| true)), (1, 1, 2));

    // Known by name only: the check resolves it in the load balancer's VPC.
    let by_name = ElbSource { group_ids: Default::default(), subnets: vec![], ..ElbSource::of(&lb) };
    assert_eq!(by_name.vpc_id.as_deref(), Some(vpc.as_str()));
    let r = check_backends(&ec2, &lb.instances, &by_name, &backend_ports(&lb)).await.unwrap();
    assert!(r.is_reachable(), "{r:?}");
    let calls = ElbCalls::parse_family(&metrics.encode(), EC2_CALLS);
    assert_eq!(calls.attempts("DescribeSecurityGroups"), 3, "the groups, then the source group by name");
}
