//! The AutoScaling client (`autoscaling::Client`) against moto's Auto Scaling, ELB and EC2:
//! groups read in bulk (unknown names left out, batches of 50 counted), and a group attached
//! to and detached from a Classic ELB, with AWS (moto) registering and deregistering the
//! group's instances. The call path is the ELB client's, tested in the other files.

use elb_operator::autoscaling::{self, AutoScalingApi, NAMES_BATCH};
use elb_operator::elb::{CreateLoadBalancerInput, ElbApi};
use elb_operator::telemetry::Metrics;
use test_support::metrics::{ElbCalls, AUTOSCALING_CALLS};

use crate::common::{client, config, MOTO};

/// Its own region: the other files launch instances elsewhere.
const REGION: &str = "eu-west-3";

fn counted() -> (autoscaling::Client, Metrics) {
    let metrics = Metrics::new();
    let config =
        autoscaling::client_config(&config(REGION), Some(&MOTO.endpoint), &|_| None).unwrap().with_metrics(metrics.autoscaling.clone());
    (autoscaling::Client::new(config).expect("client"), metrics)
}

fn calls(metrics: &Metrics) -> ElbCalls {
    ElbCalls::parse_family(&metrics.encode(), AUTOSCALING_CALLS)
}

async fn registered(elb: &dyn ElbApi, name: &str) -> Vec<String> {
    let mut ids = elb.describe_load_balancers(&[name.to_string()]).await.unwrap().remove(0).instances;
    ids.sort();
    ids
}

#[tokio::test]
async fn a_group_is_read_attached_and_detached() {
    let ids = MOTO.create_auto_scaling_group("asg-rt-web", &format!("{REGION}a"), 2);
    let elb = client(REGION);
    let input = CreateLoadBalancerInput::http("asg-rt-lb", &format!("{REGION}a"), 8080);
    elb.create_load_balancer(&input).await.unwrap();
    let lb = ["asg-rt-lb".to_string()];
    let (c, metrics) = counted();

    let groups = c.describe_auto_scaling_groups(&["asg-rt-web".into(), "asg-rt-missing".into()]).await.unwrap();
    assert_eq!(groups.len(), 1, "an unknown name is left out, not an error: {groups:?}");
    let mut instances: Vec<String> = groups[0].instances.iter().map(|i| i.instance_id.clone()).collect();
    instances.sort();
    assert_eq!(instances, ids);
    let zone = format!("{REGION}a");
    assert!(
        groups[0].instances.iter().all(|i| i.lifecycle_state == "InService" && i.availability_zone.as_deref() == Some(zone.as_str())),
        "{groups:?}"
    );
    assert!(groups[0].load_balancer_names.is_empty());

    c.attach_load_balancers("asg-rt-web", &lb).await.unwrap();
    assert_eq!(registered(&elb, "asg-rt-lb").await, ids, "AWS registers the group's instances");
    assert_eq!(MOTO.group_load_balancers(REGION, "asg-rt-web"), lb);
    let groups = c.describe_auto_scaling_groups(&["asg-rt-web".into()]).await.unwrap();
    assert!(groups[0].is_attached_to("ASG-RT-LB"), "{groups:?}");

    c.detach_load_balancers("asg-rt-web", &lb).await.unwrap();
    assert!(registered(&elb, "asg-rt-lb").await.is_empty(), "AWS deregisters them");
    assert!(MOTO.group_load_balancers(REGION, "asg-rt-web").is_empty());

    let counted = calls(&metrics);
    assert_eq!(counted.outcome("DescribeAutoScalingGroups", "success"), 2);
    assert_eq!((counted.outcome("AttachLoadBalancers", "success"), counted.outcome("DetachLoadBalancers", "success")), (1, 1));
    assert_eq!(ElbCalls::parse(&metrics.encode()).total(), 0, "Auto Scaling calls are not counted as ELB calls");

    // Nothing asked, nothing sent (an unfiltered describe would list every group); more
    // names than one call takes, one call per batch.
    assert!(c.describe_auto_scaling_groups(&[]).await.unwrap().is_empty());
    let mut many: Vec<String> = (0..NAMES_BATCH).map(|i| format!("asg-rt-none-{i}")).collect();
    many.push("asg-rt-web".into());
    assert_eq!(c.describe_auto_scaling_groups(&many).await.unwrap().len(), 1);
    assert_eq!(calls(&metrics).since(&counted).attempts("DescribeAutoScalingGroups"), 2);
}

#[tokio::test]
async fn a_group_carries_its_tags() {
    MOTO.create_auto_scaling_group("asg-tags-web", &format!("{REGION}b"), 1);
    MOTO.create_auto_scaling_group("asg-tags-bare", &format!("{REGION}b"), 1);
    MOTO.autoscaling(
        REGION,
        &[
            ("Action", "CreateOrUpdateTags"),
            ("Tags.member.1.ResourceId", "asg-tags-web"),
            ("Tags.member.1.ResourceType", "auto-scaling-group"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "payments"),
            ("Tags.member.1.PropagateAtLaunch", "true"),
            ("Tags.member.2.ResourceId", "asg-tags-web"),
            ("Tags.member.2.ResourceType", "auto-scaling-group"),
            ("Tags.member.2.Key", "env"),
            ("Tags.member.2.Value", "prod"),
            ("Tags.member.2.PropagateAtLaunch", "false"),
        ],
    );
    let (c, _) = counted();
    let mut groups = c.describe_auto_scaling_groups(&["asg-tags-web".into(), "asg-tags-bare".into()]).await.unwrap();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["asg-tags-bare", "asg-tags-web"]);
    assert!(groups[0].tags.is_empty(), "{groups:?}");
    let want: std::collections::BTreeMap<String, String> =
        [("env", "prod"), ("team", "payments")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    assert_eq!(groups[1].tags, want);
}
