//! Auto Scaling calls to moto that the tests need (groups of instances to attach to load
//! balancers), sent as SigV4-signed Query requests like the EC2 ones ([`crate::ec2`]).

use crate::ec2::{region_of_zone, xml_values, MOTO_AMI};
use crate::moto::Moto;

impl Moto {
    /// An Auto Scaling Query action with moto's default test keys; panics on an error status.
    pub fn autoscaling(&self, region: &str, params: &[(&str, &str)]) -> String {
        let mut all = params.to_vec();
        all.push(("Version", "2011-01-01"));
        let (status, body) = self.signed_query("autoscaling", region, &all, "test", "test");
        assert_eq!(status, 200, "AutoScaling {params:?} failed: {body}");
        body
    }

    /// Creates a launch configuration and the group `name` of `size` instances in
    /// `availability_zone` (moto launches them at once); returns their ids, sorted.
    pub fn create_auto_scaling_group(&self, name: &str, availability_zone: &str, size: usize) -> Vec<String> {
        let region = region_of_zone(availability_zone);
        let config = format!("{name}-lc");
        let n = size.to_string();
        self.autoscaling(
            &region,
            &[
                ("Action", "CreateLaunchConfiguration"),
                ("LaunchConfigurationName", &config),
                ("ImageId", MOTO_AMI),
                ("InstanceType", "t3.micro"),
            ],
        );
        self.autoscaling(
            &region,
            &[
                ("Action", "CreateAutoScalingGroup"),
                ("AutoScalingGroupName", name),
                ("LaunchConfigurationName", &config),
                ("MinSize", &n),
                ("MaxSize", &n),
                ("DesiredCapacity", &n),
                ("AvailabilityZones.member.1", availability_zone),
            ],
        );
        let body = self.autoscaling(&region, &[("Action", "DescribeAutoScalingGroups"), ("AutoScalingGroupNames.member.1", name)]);
        let mut ids = xml_values(&body, "InstanceId");
        ids.sort();
        assert_eq!(ids.len(), size, "the group's instances: {body}");
        ids
    }

    /// The Classic load balancers attached to a group, as AutoScaling's own
    /// DescribeLoadBalancers reports them (not the call the operator reads them with).
    pub fn group_load_balancers(&self, region: &str, group: &str) -> Vec<String> {
        let body = self.autoscaling(region, &[("Action", "DescribeLoadBalancers"), ("AutoScalingGroupName", group)]);
        xml_values(&body, "LoadBalancerName")
    }
}
