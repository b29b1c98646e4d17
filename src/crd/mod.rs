//! The custom resources: `LoadBalancer` and `HealthCheck` (group `elb.operator.dev`,
//! version `v1alpha1`). Doc comments on these types become the `kubectl explain` text.

pub mod checks;
pub mod healthcheck;
pub mod loadbalancer;
pub mod tags;

pub use healthcheck::{HealthCheck, HealthCheckSpec, HealthCheckStatus};
pub use loadbalancer::*;

/// The API group of both resources.
pub const GROUP: &str = "elb.operator.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// The finalizer the LoadBalancer controller puts on the objects whose ELB it manages.
pub const FINALIZER: &str = "elb.operator.dev/cleanup";

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

/// Both CRDs, HealthCheck first (LoadBalancers reference it), as `crds/` holds them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![HealthCheck::crd(), LoadBalancer::crd()]
}

/// The YAML of one CRD, exactly as checked in under `crds/<name>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // Serialising a derived CRD cannot fail: it is plain data without maps keyed by
    // non-strings.
    serde_yaml::to_string(crd).expect("a CRD serialises to YAML")
}

/// Both CRDs as one multi-document YAML stream, for `elb-operator crdgen | kubectl apply -f -`.
pub fn crdgen_yaml() -> String {
    crds().iter().map(|crd| format!("---\n{}", crd_yaml(crd))).collect()
}

/// The plurals of the custom resources the API server does not serve (empty when both
/// are installed), found through discovery, which every authenticated client may read.
pub async fn missing_crds(client: &kube::Client) -> Result<Vec<String>, kube::Error> {
    use kube::Resource;
    let wanted = [LoadBalancer::plural(&()).to_string(), HealthCheck::plural(&()).to_string()];
    let served: Vec<String> = match client.list_api_group_resources(&format!("{GROUP}/{VERSION}")).await {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(wanted.into_iter().filter(|w| !served.contains(w)).collect())
}

#[cfg(test)]
mod tests {
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
    fn crdgen_yaml_is_two_documents() {
        let yaml = crdgen_yaml();
        assert_eq!(yaml.matches("---\n").count(), 2);
        assert!(yaml.contains("name: healthchecks.elb.operator.dev"));
        assert!(yaml.contains("name: loadbalancers.elb.operator.dev"));
    }

    #[test]
    fn user_tag_limit_leaves_room_for_ownership_tags() {
        assert_eq!(tags::MAX_USER_TAGS + tags::OWNERSHIP_TAG_COUNT, tags::MAX_ELB_TAGS);
        for key in [tags::CLUSTER_TAG, tags::RESOURCE_TAG] {
            assert!(key.starts_with(tags::RESERVED_TAG_PREFIX));
        }
    }
}
