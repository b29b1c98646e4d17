//! The wire format of the Auto Scaling calls over the Query protocol (`crate::aws::query`):
//! answers wrapped in `<Action>Result`, lists of `member`. Nothing here does I/O, so the
//! decoders are unit-tested from documentation-shaped fixtures (and `tests/decoders.rs`).

use std::collections::BTreeMap;

use super::model::*;
use crate::aws::xml::Element;
use crate::aws::DecodeError;

/// The `NextToken` of a page; `None` on the last one.
pub fn next_token(result: &Element) -> Option<String> {
    result.text_of("NextToken").filter(|t| !t.is_empty())
}

/// The tags of a group: `Tags/member/{Key,Value}`, untrimmed (a class's required value must
/// match exactly); a tag without a key is skipped.
fn tags(group: &Element) -> BTreeMap<String, String> {
    let raw = |t: &Element, name: &str| t.child(name).map(|c| c.text.clone()).unwrap_or_default();
    group.members("Tags").into_iter().map(|t| (raw(t, "Key"), raw(t, "Value"))).filter(|(k, _)| !k.is_empty()).collect()
}

/// DescribeAutoScalingGroups: the groups of one page. A group without a name is a
/// malformed answer, not a group to attach.
pub fn describe_auto_scaling_groups(result: &Element) -> Result<Vec<AutoScalingGroup>, DecodeError> {
    result
        .members("AutoScalingGroups")
        .into_iter()
        .map(|g| {
            let name = g.string("AutoScalingGroupName");
            if name.is_empty() {
                return Err(DecodeError::Missing { element: "AutoScalingGroupName".into() });
            }
            Ok(AutoScalingGroup {
                name,
                load_balancer_names: g.member_strings("LoadBalancerNames"),
                instances: g
                    .members("Instances")
                    .into_iter()
                    .map(|i| GroupInstance {
                        instance_id: i.string("InstanceId"),
                        lifecycle_state: i.string("LifecycleState"),
                        availability_zone: i.text_of("AvailabilityZone").filter(|z| !z.is_empty()),
                    })
                    .filter(|i| !i.instance_id.is_empty())
                    .collect(),
                tags: tags(g),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::query::{parse_result, Shape};

    /// The shape of the API reference's example answer, trimmed to the fields read.
    const GROUPS: &str = r#"<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>
      <member>
        <AutoScalingGroupName>web</AutoScalingGroupName>
        <LoadBalancerNames><member>web-lb</member></LoadBalancerNames>
        <Instances>
          <member><InstanceId>i-0a</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus></member>
          <member><InstanceId>i-0b</InstanceId><LifecycleState>Pending</LifecycleState><HealthStatus>Healthy</HealthStatus></member>
        </Instances>
        <Tags>
          <member><ResourceId>web</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>team</Key><Value>payments</Value><PropagateAtLaunch>true</PropagateAtLaunch></member>
          <member><ResourceId>web</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>Name</Key><Value>web </Value><PropagateAtLaunch>false</PropagateAtLaunch></member>
        </Tags>
      </member>
      <member><AutoScalingGroupName>empty</AutoScalingGroupName><LoadBalancerNames/><Instances/></member>
    </AutoScalingGroups>
    <NextToken>tok</NextToken>
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>"#;

    #[test]
    fn groups_with_their_load_balancers_and_instances() {
        let (result, _) = parse_result(Shape::Wrapped, "DescribeAutoScalingGroups", GROUPS).unwrap();
        let groups = describe_auto_scaling_groups(&result).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].load_balancer_names, ["web-lb"]);
        assert_eq!(
            groups[0].instances.iter().map(|i| (i.instance_id.as_str(), i.lifecycle_state.as_str())).collect::<Vec<_>>(),
            [("i-0a", "InService"), ("i-0b", "Pending")]
        );
        assert_eq!(
            (groups[0].instances[0].availability_zone.as_deref(), groups[0].instances[1].availability_zone.as_deref()),
            (Some("us-east-1a"), None)
        );
        assert_eq!((groups[1].name.as_str(), groups[1].load_balancer_names.len(), groups[1].instances.len()), ("empty", 0, 0));
        let want: BTreeMap<String, String> = [("team", "payments"), ("Name", "web ")].map(|(k, v)| (k.to_string(), v.to_string())).into();
        assert_eq!(groups[0].tags, want);
        assert!(groups[1].tags.is_empty(), "no Tags, no tags");
        assert_eq!(next_token(&result).as_deref(), Some("tok"));
    }

    #[test]
    fn a_group_without_a_name_is_malformed() {
        let doc = "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups><member><Instances/></member></AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
        let (result, _) = parse_result(Shape::Wrapped, "DescribeAutoScalingGroups", doc).unwrap();
        assert!(describe_auto_scaling_groups(&result).is_err());
        let (last, _) = parse_result(Shape::Wrapped, "DescribeAutoScalingGroups", "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>").unwrap();
        assert_eq!((describe_auto_scaling_groups(&last).unwrap().len(), next_token(&last)), (0, None));
    }
}
