//! One planned AWS call and its arguments, as `elb-operator plan` prints them: the API
//! action (the name in the ELB or Auto Scaling API reference, and in the operator's
//! `elb_operator_elb_calls_total` metric) and its parameters in the API's own names.

use serde::Serialize;
use serde_json::{json, Value};

use crate::elb::{HealthCheck, Listener, LoadBalancerAttributes, Tag};
use crate::sync::plan::Action;
use crate::sync::removal::RemovalCall;

/// One planned call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// The API action, e.g. `CreateLoadBalancer`.
    pub action: &'static str,
    /// Its parameters (the load balancer's name included), in the API's names.
    pub arguments: Value,
}

impl Call {
    /// The call of a sync's `action` on the ELB `elb`.
    pub fn of(action: &Action, elb: &str) -> Call {
        let with = |extra: Value| {
            let mut args = json!({"LoadBalancerName": elb});
            if let (Value::Object(args), Value::Object(extra)) = (&mut args, extra) {
                args.extend(extra);
            }
            args
        };
        let arguments = match action {
            Action::Create(i) => json!({
                "LoadBalancerName": i.name,
                "Listeners": i.listeners.iter().map(listener).collect::<Vec<_>>(),
                "AvailabilityZones": i.availability_zones,
                "Subnets": i.subnets,
                "SecurityGroups": i.security_groups,
                "Scheme": i.scheme.as_ref().map(|s| s.as_str()),
                "Tags": tags(&i.tags),
            }),
            Action::AddTags(t) => with(json!({"Tags": tags(t)})),
            Action::RemoveTags(keys) => with(json!({"Tags": keys.iter().map(|k| json!({"Key": k})).collect::<Vec<_>>()})),
            Action::EnableZones(z) | Action::DisableZones(z) => with(json!({"AvailabilityZones": z})),
            Action::AttachSubnets(s) | Action::DetachSubnets(s) => with(json!({"Subnets": s})),
            Action::ApplySecurityGroups(g) => with(json!({"SecurityGroups": g})),
            Action::DeleteListener(port) => with(json!({"LoadBalancerPorts": [port]})),
            Action::CreateListeners(l) => with(json!({"Listeners": l.iter().map(listener).collect::<Vec<_>>()})),
            Action::SetListenerCertificate { port, certificate_id } => {
                with(json!({"LoadBalancerPort": port, "SSLCertificateId": certificate_id}))
            }
            Action::ConfigureHealthCheck(h) => with(json!({"HealthCheck": health_check(h)})),
            Action::ModifyAttributes(a) => with(json!({"LoadBalancerAttributes": attributes(a)})),
            Action::RegisterInstances(ids) | Action::DeregisterInstances(ids) => {
                with(json!({"Instances": ids.iter().map(|id| json!({"InstanceId": id})).collect::<Vec<_>>()}))
            }
            Action::AttachGroup(g) | Action::DetachGroup(g) => json!({"AutoScalingGroupName": g, "LoadBalancerNames": [elb]}),
            Action::CreateLbCookiePolicy { policy_name, expiration_seconds } => {
                with(json!({"PolicyName": policy_name, "CookieExpirationPeriod": expiration_seconds}))
            }
            Action::CreateAppCookiePolicy { policy_name, cookie_name } => {
                with(json!({"PolicyName": policy_name, "CookieName": cookie_name}))
            }
            Action::CreateProxyProtocolPolicy { policy_name } => {
                with(json!({"PolicyName": policy_name, "PolicyTypeName": "ProxyProtocolPolicyType"}))
            }
            Action::CreateSslNegotiationPolicy { policy_name, reference } => with(json!({
                "PolicyName": policy_name,
                "PolicyTypeName": "SSLNegotiationPolicyType",
                "PolicyAttributes": [{"AttributeName": "Reference-Security-Policy", "AttributeValue": reference}],
            })),
            Action::SetListenerPolicies { port, policy_names } => with(json!({"LoadBalancerPort": port, "PolicyNames": policy_names})),
            Action::SetBackendPolicies { instance_port, policy_names } => {
                with(json!({"InstancePort": instance_port, "PolicyNames": policy_names}))
            }
            Action::DeletePolicy { policy_name } => with(json!({"PolicyName": policy_name})),
        };
        Call { action: action.api_action(), arguments }
    }

    /// The call of a removal step on the ELB `elb`.
    pub fn of_removal(call: &RemovalCall, elb: &str) -> Call {
        match call {
            RemovalCall::DetachGroup(g) => {
                Call { action: "DetachLoadBalancers", arguments: json!({"AutoScalingGroupName": g, "LoadBalancerNames": [elb]}) }
            }
            RemovalCall::DeleteLoadBalancer => Call { action: "DeleteLoadBalancer", arguments: json!({"LoadBalancerName": elb}) },
            RemovalCall::MarkRetained => Call {
                action: "AddTags",
                arguments: json!({"LoadBalancerNames": [elb], "Tags": [{"Key": crate::crd::tags::RETAINED_TAG, "Value": "true"}]}),
            },
        }
    }

    /// The arguments on one line, `Name=value` (JSON values), for the table.
    pub fn arguments_line(&self) -> String {
        match &self.arguments {
            Value::Object(m) => m
                .iter()
                .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        }
    }
}

fn listener(l: &Listener) -> Value {
    let mut v = json!({
        "LoadBalancerPort": l.load_balancer_port,
        "Protocol": l.protocol.as_str(),
        "InstancePort": l.instance_port,
        "InstanceProtocol": l.instance_protocol.as_str(),
    });
    if let Some(id) = &l.ssl_certificate_id {
        v["SSLCertificateId"] = json!(id);
    }
    v
}

fn tags(tags: &[Tag]) -> Vec<Value> {
    tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect()
}

fn health_check(h: &HealthCheck) -> Value {
    json!({
        "Target": h.target,
        "Interval": h.interval,
        "Timeout": h.timeout,
        "HealthyThreshold": h.healthy_threshold,
        "UnhealthyThreshold": h.unhealthy_threshold,
    })
}

fn attributes(a: &LoadBalancerAttributes) -> Value {
    json!({
        "CrossZoneLoadBalancing": a.cross_zone_load_balancing.map(|enabled| json!({"Enabled": enabled})),
        "ConnectionDraining": a.connection_draining.as_ref().map(|d| json!({"Enabled": d.enabled, "Timeout": d.timeout})),
        "ConnectionSettings": a.idle_timeout.map(|t| json!({"IdleTimeout": t})),
        "AccessLog": a.access_log.as_ref().map(|l| json!({
            "Enabled": l.enabled,
            "S3BucketName": l.s3_bucket_name,
            "S3BucketPrefix": l.s3_bucket_prefix,
            "EmitInterval": l.emit_interval,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_carry_the_api_action_and_its_parameters() {
        let call = Call::of(&Action::RegisterInstances(vec!["i-1".into(), "i-2".into()]), "web");
        assert_eq!(call.action, "RegisterInstancesWithLoadBalancer");
        assert_eq!(call.arguments, json!({"LoadBalancerName": "web", "Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]}));
        assert_eq!(call.arguments_line(), r#"Instances=[{"InstanceId":"i-1"},{"InstanceId":"i-2"}] LoadBalancerName="web""#);
        let group = Call::of(&Action::AttachGroup("asg".into()), "web");
        assert_eq!(
            (group.action, group.arguments),
            ("AttachLoadBalancers", json!({"AutoScalingGroupName": "asg", "LoadBalancerNames": ["web"]}))
        );
        assert_eq!(Call::of_removal(&RemovalCall::DeleteLoadBalancer, "web").action, "DeleteLoadBalancer");
    }
}
