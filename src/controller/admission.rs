//! The inputs of the tenancy rules ([`crate::tenancy::admit`]) for one LoadBalancer, read
//! from the caches and the operator's settings: the validate and cleanup steps ask
//! [`super::Context::admission`] and call [`Admission::admit`].

use std::collections::BTreeMap;

use super::cache::TenancyStores;
use super::config::Config;
use crate::crd::{LoadBalancerClass, LoadBalancerSpec};
use crate::tenancy::{self, Grant, Policy, Refusal};

/// What [`tenancy::admit`] needs for the LoadBalancers of one namespace.
#[derive(Clone, Debug)]
pub struct Admission<'a> {
    pub namespace: String,
    /// Every LoadBalancerClass in the cache, by name.
    pub classes: Vec<LoadBalancerClass>,
    /// The namespace's labels (none when it is not in the cache).
    pub namespace_labels: BTreeMap<String, String>,
    config: &'a Config,
}

impl<'a> Admission<'a> {
    /// The inputs for `namespace`, from `stores` and `config`.
    pub fn read(stores: &TenancyStores, config: &'a Config, namespace: &str) -> Self {
        Admission {
            namespace: namespace.to_string(),
            classes: stores.classes(),
            namespace_labels: stores.namespace_labels(namespace),
            config,
        }
    }

    /// The operator-wide half: the classes, `--allowed-role-arns`, `--require-class` and
    /// the operator's region.
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            classes: &self.classes,
            allowed_role_arns: &self.config.allowed_role_arns,
            require_class: self.config.require_class,
            operator_region: &self.config.default_region,
        }
    }

    /// [`tenancy::admit`] of `spec`, a LoadBalancer of this namespace.
    pub fn admit(&self, spec: &LoadBalancerSpec) -> Result<Grant, Refusal> {
        tenancy::admit(spec, &self.namespace, &self.namespace_labels, &self.policy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::LoadBalancerClassSpec;
    use crate::tenancy::RefusalReason;
    use k8s_openapi::api::core::v1::Namespace;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    fn spec(class: Option<&str>, role: Option<&str>) -> LoadBalancerSpec {
        serde_json::from_value(serde_json::json!({
            "listeners": [{"port": 80, "protocol": "HTTP", "instancePort": 8080}],
            "className": class,
            "roleArn": role,
        }))
        .unwrap()
    }

    /// The class's namespaceSelector is matched against the cached namespace's labels, and
    /// the operator's flags bound the class.
    #[test]
    fn admission_reads_classes_namespace_labels_and_flags() {
        let (classes, mut cw) = reflector::store();
        let selector = serde_json::json!({"matchLabels": {"tenant": "a"}});
        let class_spec: LoadBalancerClassSpec = serde_json::from_value(serde_json::json!({
            "namespaceSelector": selector,
            "roleArns": ["arn:aws:iam::123456789012:role/team-a-*"],
        }))
        .unwrap();
        cw.apply_watcher_event(&Event::Apply(LoadBalancerClass::new("team-a", class_spec)));
        let (namespaces, mut nw) = reflector::store();
        let mut ns = Namespace::default();
        ns.metadata.name = Some("apps".into());
        ns.metadata.labels = Some([("tenant".to_string(), "a".to_string())].into());
        nw.apply_watcher_event(&Event::Apply(ns));
        let stores = TenancyStores { classes, namespaces };
        let role = "arn:aws:iam::123456789012:role/team-a-web";
        let mut config = Config { allowed_role_arns: vec!["arn:aws:iam::123456789012:role/*".into()], ..Config::default() };

        let grant = Admission::read(&stores, &config, "apps").admit(&spec(Some("team-a"), Some(role))).expect("admitted");
        assert_eq!(grant.class_name.as_deref(), Some("team-a"));
        let refused = Admission::read(&stores, &config, "other").admit(&spec(Some("team-a"), None)).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::ClassNotAllowed, "a namespace without the label is not selected");

        config.allowed_role_arns.clear();
        let refused = Admission::read(&stores, &config, "apps").admit(&spec(Some("team-a"), Some(role))).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::RoleNotAllowed, "--allowed-role-arns bounds the class");

        assert!(Admission::read(&stores, &config, "apps").admit(&spec(None, None)).is_ok(), "no default class: built-in rules");
        config.require_class = true;
        let refused = Admission::read(&stores, &config, "apps").admit(&spec(None, None)).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::ClassNotAllowed, "--require-class");
    }
}
