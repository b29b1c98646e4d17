//! The custom resources: `LoadBalancer`, `HealthCheck` and the cluster-scoped
//! `LoadBalancerClass` (group `elb.operator.dev`, version `v1alpha1`). Doc comments on these
//! types become the `kubectl explain` text.

pub mod attributes;
pub mod backends;
pub mod checks;
pub mod description;
pub mod dns;
pub mod healthcheck;
pub mod listener;
pub mod loadbalancer;
pub mod loadbalancerclass;
pub mod rules;
pub mod tags;

pub use attributes::*;
pub use backends::*;
pub use dns::Dns;
pub use healthcheck::{HealthCheck, HealthCheckSpec, HealthCheckStatus};
pub use listener::*;
pub use loadbalancer::*;
pub use loadbalancerclass::{Adoption, LoadBalancerClass, LoadBalancerClassSpec, DEFAULT_CLASS_ANNOTATION};

/// The API group of the resources.
pub const GROUP: &str = "elb.operator.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// The finalizer the LoadBalancer controller puts on the objects whose ELB it manages.
pub const FINALIZER: &str = "elb.operator.dev/cleanup";
/// The break-glass annotation: `"true"` on a LoadBalancer stops every AWS write and every
/// finalizer action for it (a deletion waits) until it is removed; status is still observed.
pub const PAUSED_ANNOTATION: &str = "elb.operator.dev/paused";

/// Condition types written by the controllers.
pub mod condition {
    /// The ELB exists, matches the spec, and at least one registered instance is InService
    /// (or the spec selects no backends at all).
    pub const READY: &str = "Ready";
    /// The last reconcile applied the spec to the ELB without error.
    pub const SYNCED: &str = "Synced";
    /// An ELB with the wanted name exists and is not owned by this resource.
    pub const CONFLICT: &str = "Conflict";
    /// Every enabled zone has InService instances, evenly enough for ELB's equal split
    /// between zones. Informational: it does not change `Ready`.
    pub const ZONES_BALANCED: &str = "ZonesBalanced";
    /// The registered instances' security groups admit the ELB on every instance port and
    /// the health check port (the optional EC2 check). Informational: it does not change `Ready`.
    pub const BACKENDS_REACHABLE: &str = "BackendsReachable";
    /// The DNSEndpoint for `spec.dns.hostnames` is written (ExternalDNS publishes it).
    pub const DNS_PUBLISHED: &str = "DNSPublished";

    /// `Synced=False`: the LoadBalancer carries the pause annotation; nothing is written to
    /// AWS for it (also a Normal event reason).
    pub const REASON_PAUSED: &str = "Paused";
    /// `DNSPublished=True`: the DNSEndpoint holds one CNAME per hostname.
    pub const REASON_DNS_PUBLISHED: &str = "Published";
    /// `DNSPublished=False`: the DNSEndpoint CRD (ExternalDNS) is not installed.
    pub const REASON_EXTERNAL_DNS_NOT_INSTALLED: &str = "ExternalDNSNotInstalled";
    /// `DNSPublished=False`: the DNSEndpoint could not be written (the Kubernetes error).
    pub const REASON_DNS_ENDPOINT_FAILED: &str = "DNSEndpointWriteFailed";

    /// The status of a condition (of a LoadBalancer, a HealthCheck, a pod or a node), as
    /// Kubernetes spells it: `True`, `False` or `Unknown`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Status {
        True,
        False,
        /// The controller could not tell.
        Unknown,
    }

    impl Status {
        /// The condition's `status` field.
        pub fn as_str(self) -> &'static str {
            match self {
                Status::True => "True",
                Status::False => "False",
                Status::Unknown => "Unknown",
            }
        }

        /// A condition's `status` field; anything but `True` or `False` is `Unknown`.
        pub fn of(status: &str) -> Status {
            match status {
                "True" => Status::True,
                "False" => Status::False,
                _ => Status::Unknown,
            }
        }
    }

    impl From<bool> for Status {
        fn from(b: bool) -> Status {
            if b {
                Status::True
            } else {
                Status::False
            }
        }
    }

    impl std::fmt::Display for Status {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.as_str())
        }
    }
}

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs, as `crds/` holds them: HealthCheck first (LoadBalancers reference it), then
/// LoadBalancer and LoadBalancerClass, with each description paragraph on one line (the
/// `kubectl explain` text, [`description::unwrap`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![HealthCheck::crd(), LoadBalancer::crd(), LoadBalancerClass::crd()];
    crds.iter_mut().for_each(description::unwrap_crd);
    crds
}

/// The YAML of one CRD, exactly as checked in under `crds/<name>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // Serialising a derived CRD cannot fail: it is plain data without maps keyed by
    // non-strings.
    serde_yaml::to_string(crd).expect("a CRD serialises to YAML")
}

/// The CRDs as one multi-document YAML stream, for `elb-operator crdgen | kubectl apply -f -`.
pub fn crdgen_yaml() -> String {
    crds().iter().map(|crd| format!("---\n{}", crd_yaml(crd))).collect()
}

/// The plurals of the custom resources the API server does not serve (empty when all are
/// installed), found through discovery, which every authenticated client may read.
pub async fn missing_crds(client: &kube::Client) -> Result<Vec<String>, kube::Error> {
    use kube::Resource;
    let wanted = [LoadBalancer::plural(&()).to_string(), HealthCheck::plural(&()).to_string(), LoadBalancerClass::plural(&()).to_string()];
    let served: Vec<String> = match client.list_api_group_resources(&format!("{GROUP}/{VERSION}")).await {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(wanted.into_iter().filter(|w| !served.contains(w)).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn tutorial_lb() -> LoadBalancer {
        let spec: LoadBalancerSpec = serde_json::from_value(serde_json::json!({
            "availabilityZones": ["us-east-1a", "us-east-1b"],
            "listeners": [
                {"port": 80, "instancePort": 8080, "protocol": "HTTP"},
                {"port": 443, "instancePort": 8443, "protocol": "TCP"},
            ],
            "healthCheckRef": {"name": "instance-health"},
        }))
        .unwrap();
        LoadBalancer::new("my-lb", spec)
    }

    fn messages(result: Result<(), kube::core::cel::ValidationErrors>) -> Vec<String> {
        result.err().map(|e| e.iter().map(|e| e.message.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn typed_tutorial_objects_pass_the_cel_rules() {
        assert_eq!(messages(tutorial_lb().validate_cel()), Vec::<String>::new());
        let hc = HealthCheck::new(
            "instance-health",
            serde_json::from_value(serde_json::json!({"target": "HTTP:8080/health", "intervalSeconds": 20})).unwrap(),
        );
        assert_eq!(messages(hc.validate_cel()), Vec::<String>::new());
    }

    #[test]
    fn defaults_take_part_in_the_timeout_rule() {
        // timeoutSeconds defaults to 5, which is not less than an interval of 5.
        let spec: HealthCheckSpec = serde_json::from_value(serde_json::json!({"target": "TCP:80", "intervalSeconds": 5})).unwrap();
        assert_eq!(spec.timeout_seconds, 5);
        let got = messages(HealthCheck::new("hc", spec).validate_cel());
        assert_eq!(got, ["timeoutSeconds must be less than intervalSeconds"]);
    }

    #[test]
    fn listener_rules_on_typed_objects() {
        let mut lb = tutorial_lb();
        lb.spec.listeners[1].protocol = Protocol::SSL;
        lb.spec.listeners[0].instance_protocol = Some(Protocol::TCP);
        let got = messages(lb.validate_cel());
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().any(|m| m.starts_with("HTTPS and SSL listeners need sslCertificateId")), "{got:?}");
        assert!(got.iter().any(|m| m.starts_with("instanceProtocol does not fit protocol")), "{got:?}");
    }

    #[test]
    fn immutable_fields_on_typed_updates() {
        let old = tutorial_lb();
        let mut new = old.clone();
        new.spec.listeners.pop();
        new.spec.scheme = Some(Scheme::InternetFacing);
        assert_eq!(messages(new.validate_cel_update(&old)), Vec::<String>::new());

        new.spec.scheme = Some(Scheme::Internal);
        new.spec.load_balancer_name = Some("my-lb".into());
        let got = messages(new.validate_cel_update(&old));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().any(|m| m.starts_with("scheme is immutable")), "{got:?}");
        assert!(got.iter().any(|m| m.starts_with("loadBalancerName is immutable")), "{got:?}");
        // The same object is valid on creation: only the change is refused.
        assert_eq!(messages(new.validate_cel()), Vec::<String>::new());
    }

    #[test]
    fn condition_and_instance_states_keep_their_spelling() {
        for s in [condition::Status::True, condition::Status::False, condition::Status::Unknown] {
            assert_eq!(condition::Status::of(s.as_str()), s);
        }
        assert_eq!(condition::Status::of(""), condition::Status::Unknown);
        assert_eq!(condition::Status::from(true), condition::Status::True);
        for word in ["InService", "OutOfService", "Unknown", "Draining"] {
            let status: InstanceStatus = serde_json::from_value(serde_json::json!({"instanceId": "i-1", "state": word})).unwrap();
            assert_eq!(serde_json::to_value(&status).unwrap()["state"], word);
            assert_eq!(status.state.as_str(), word);
        }
        assert_eq!(InstanceState::from("InService"), InstanceState::InService);
        assert_eq!(InstanceState::from("Draining"), InstanceState::Other("Draining".into()));
    }

    #[test]
    fn crdgen_yaml_is_three_documents() {
        let yaml = crdgen_yaml();
        assert_eq!(yaml.matches("---\n").count(), 3);
        assert!(yaml.contains("name: healthchecks.elb.operator.dev"));
        assert!(yaml.contains("name: loadbalancers.elb.operator.dev"));
        assert!(yaml.contains("name: loadbalancerclasses.elb.operator.dev"));
    }

    #[test]
    fn the_class_is_cluster_scoped_and_the_others_namespaced() {
        let scopes: Vec<(String, String)> = crds().into_iter().map(|c| (c.spec.names.kind, c.spec.scope)).collect();
        assert_eq!(
            scopes,
            [
                ("HealthCheck".to_string(), "Namespaced".to_string()),
                ("LoadBalancer".to_string(), "Namespaced".to_string()),
                ("LoadBalancerClass".to_string(), "Cluster".to_string()),
            ]
        );
    }

    #[test]
    fn class_name_is_immutable_on_typed_updates() {
        let old = tutorial_lb();
        let mut named = old.clone();
        named.spec.class_name = Some("team-a".into());
        // Valid on creation; setting it later, changing it and removing it are refused.
        assert_eq!(messages(named.validate_cel()), Vec::<String>::new());
        let mut other = named.clone();
        other.spec.class_name = Some("team-b".into());
        for (new, old) in [(&named, &old), (&other, &named), (&old, &named)] {
            let got = messages(new.validate_cel_update(old));
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].starts_with("className is immutable"), "{got:?}");
        }
        assert_eq!(messages(named.validate_cel_update(&named)), Vec::<String>::new());
        assert_eq!(messages(old.validate_cel_update(&old)), Vec::<String>::new());
    }

    #[test]
    fn class_rules_on_typed_objects() {
        let class = |spec: serde_json::Value| LoadBalancerClass::new("team-a", serde_json::from_value(spec).unwrap());
        let good = class(serde_json::json!({
            "namespaceSelector": {"matchLabels": {"team": "a"}},
            "roleArns": ["arn:aws:iam::123456789012:role/team-a-*", "arn:aws:iam::*:role/elb"],
            "regions": ["us-east-1", "eu-west-1"],
            "schemes": ["internal"],
            "adoption": "Allowed",
            "requiredResourceTags": {"team": "a"},
            "tags": {"cost-center": "42"},
            "deletionPolicy": "Retain",
        }));
        assert_eq!(messages(good.validate_cel()), Vec::<String>::new());
        assert_eq!(good.spec.adoption, Adoption::Allowed);
        // Every field is optional; adoption defaults to Forbidden.
        let empty = class(serde_json::json!({}));
        assert_eq!(empty.spec.adoption, Adoption::Forbidden);
        assert_eq!(messages(empty.validate_cel()), Vec::<String>::new());

        for (spec, says) in [
            (serde_json::json!({"regions": ["us-east-1a"]}), "regions must be AWS region names"),
            (serde_json::json!({"roleArns": ["arn:aws:iam::123456789012:user/bob"]}), "roleArns must be IAM role ARNs"),
            (serde_json::json!({"roleArns": ["arn:aws:iam::12345:role/x"]}), "roleArns must be IAM role ARNs"),
            (serde_json::json!({"tags": {"elb.operator.dev/x": "y"}}), "reserved for the operator"),
            (serde_json::json!({"tags": {"aws:x": "y"}}), "reserved by AWS"),
            (serde_json::json!({"tags": {"team": "a;b"}}), "tag values may only contain"),
            (serde_json::json!({"requiredResourceTags": {"": "a"}}), "requiredResourceTags keys must be 1-128"),
        ] {
            let got = messages(class(spec.clone()).validate_cel());
            assert!(got.len() == 1 && got[0].contains(says), "{spec}: {got:?}");
        }
        let many: BTreeMap<String, String> = (0..=tags::MAX_USER_TAGS).map(|i| (format!("k{i}"), "v".to_string())).collect();
        let got = messages(class(serde_json::json!({ "tags": many })).validate_cel());
        assert!(got.len() == 1 && got[0].starts_with("at most 47 tags"), "{got:?}");
    }

    #[test]
    fn the_default_class_is_the_annotated_one() {
        let mut class = LoadBalancerClass::new("shared", LoadBalancerClassSpec::default());
        assert!(!class.is_default());
        class.metadata.annotations = Some([(DEFAULT_CLASS_ANNOTATION.to_string(), "false".to_string())].into());
        assert!(!class.is_default());
        class.metadata.annotations = Some([(DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())].into());
        assert!(class.is_default());
    }

    #[test]
    fn user_tag_limit_leaves_room_for_ownership_tags() {
        assert_eq!(tags::MAX_USER_TAGS + tags::OPERATOR_TAG_ROOM, tags::MAX_ELB_TAGS);
        assert_eq!(tags::MAX_USER_TAGS, 47);
        for key in [tags::CLUSTER_TAG, tags::RESOURCE_TAG] {
            assert!(key.starts_with(tags::RESERVED_TAG_PREFIX));
        }
    }
}
