//! The ELB name of a LoadBalancer resource.
//!
//! ELB names are 1-32 letters, digits and hyphens, without a hyphen at either end, and are
//! unique per account and region. A LoadBalancer without `spec.loadBalancerName` gets a
//! name derived from its namespace and name: a readable prefix plus a short hash of
//! `namespace/name`, so that two resources whose prefixes truncate (or sanitise) to the
//! same text still get different ELBs.

use sha2::{Digest, Sha256};

/// The longest ELB name AWS accepts.
pub const MAX_ELB_NAME_LEN: usize = 32;

/// Hex digits of the SHA-256 of `namespace/name` at the end of a derived name.
const HASH_LEN: usize = 8;

/// The default ELB name for `namespace/name`: deterministic, at most 32 characters of
/// letters, digits and hyphens, not starting or ending with a hyphen, such as
/// `default-my-lb-1b2c3d4e`.
///
/// The prefix is `namespace-name` with every other character replaced by a hyphen, runs of
/// hyphens collapsed, cut to fit; the suffix is the first 8 hex digits of
/// SHA-256(`namespace/name`). Kubernetes names never contain `/`, so the hash input is
/// unambiguous.
pub fn elb_name(namespace: &str, name: &str) -> String {
    let hash = hex::encode(Sha256::digest(format!("{namespace}/{name}").as_bytes()));
    let hash = &hash[..HASH_LEN];

    let mut prefix = String::new();
    for c in format!("{namespace}-{name}").chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (prefix.is_empty() || prefix.ends_with('-')) {
            continue;
        }
        prefix.push(c);
    }
    // Room for the prefix, one hyphen and the hash.
    prefix.truncate(MAX_ELB_NAME_LEN - HASH_LEN - 1);
    let prefix = prefix.trim_end_matches('-');

    if prefix.is_empty() {
        hash.to_string()
    } else {
        format!("{prefix}-{hash}")
    }
}

/// Whether `name` is a valid ELB name: 1-32 ASCII letters, digits and hyphens, not
/// starting or ending with a hyphen. The CRD enforces the same rule on
/// `spec.loadBalancerName` (`crd::loadbalancer::ELB_NAME_RULE`).
pub fn is_valid_elb_name(name: &str) -> bool {
    (1..=MAX_ELB_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_names_keep_namespace_and_name_readable() {
        let n = elb_name("default", "my-lb");
        assert!(n.starts_with("default-my-lb-"), "{n}");
        assert_eq!(n.len(), "default-my-lb-".len() + HASH_LEN);
        let hash = hex::encode(Sha256::digest(b"default/my-lb"));
        assert!(n.ends_with(&hash[..HASH_LEN]), "{n}");
    }

    #[test]
    fn long_names_are_cut_and_keep_the_hash() {
        let n = elb_name("team-payments-production", "checkout-api-internal-load-balancer");
        assert_eq!(n.len(), MAX_ELB_NAME_LEN, "{n}");
        assert!(n.starts_with("team-payments-productio"), "{n}");
        assert!(is_valid_elb_name(&n), "{n}");
    }

    #[test]
    fn names_that_sanitise_alike_still_differ() {
        // Dots become hyphens, and "a-b"/"c" and "a"/"b-c" share the prefix "a-b-c".
        let names = [elb_name("a.b", "c"), elb_name("a-b", "c"), elb_name("a", "b-c"), elb_name("a", "b.c")];
        for (i, x) in names.iter().enumerate() {
            assert!(x.starts_with("a-b-c-"), "{x}");
            for y in &names[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn no_readable_characters_leaves_the_hash() {
        let n = elb_name("...", "---");
        assert_eq!(n.len(), HASH_LEN);
        assert!(is_valid_elb_name(&n), "{n}");
    }

    #[test]
    fn validity_matches_the_crd_rule() {
        let schema = serde_json::json!({
            "type": "string",
            "x-kubernetes-validations": [{"rule": crate::crd::loadbalancer::ELB_NAME_RULE}],
        });
        let validator = kube::core::cel::Validator::new();
        let long = "a".repeat(32);
        let too_long = "a".repeat(33);
        let samples = ["my-lb", "a", "A-1", "a--b", long.as_str(), too_long.as_str(), "", "-a", "a-", "-", "my_lb", "my.lb", "lb ü", "9"];
        for name in samples {
            let cel_ok = validator.validate(&schema, &serde_json::json!(name), None).is_ok();
            assert_eq!(is_valid_elb_name(name), cel_ok, "{name:?}");
        }
    }

    fn k8s_name() -> impl Strategy<Value = String> {
        // DNS-1123 names, plus some characters Kubernetes would refuse, to be safe.
        prop_oneof!["[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?", "[a-zA-Z0-9._/ -]{0,80}"]
    }

    proptest! {
        #[test]
        fn derived_names_are_valid(ns in k8s_name(), name in k8s_name()) {
            let n = elb_name(&ns, &name);
            prop_assert!(n.len() <= MAX_ELB_NAME_LEN, "{}", n);
            prop_assert!(is_valid_elb_name(&n), "{}", n);
        }

        #[test]
        fn derived_names_are_stable(ns in k8s_name(), name in k8s_name()) {
            prop_assert_eq!(elb_name(&ns, &name), elb_name(&ns.clone(), &name.clone()));
        }

        #[test]
        fn long_common_prefixes_do_not_collide(
            ns in "[a-z]{20,40}",
            common in "[a-z0-9-]{40,60}",
            a in "[a-z0-9]{1,8}",
            b in "[a-z0-9]{1,8}",
        ) {
            prop_assume!(a != b);
            let x = elb_name(&ns, &format!("{common}{a}"));
            let y = elb_name(&ns, &format!("{common}{b}"));
            // The readable parts are equal after truncation; the hash tells them apart.
            prop_assert_eq!(&x[..x.len() - HASH_LEN], &y[..y.len() - HASH_LEN]);
            prop_assert_ne!(x, y);
        }

        #[test]
        fn namespace_and_name_are_not_interchangeable(ns in "[a-z]{1,20}", name in "[a-z]{1,20}") {
            prop_assume!(ns != name);
            prop_assert_ne!(elb_name(&ns, &name), elb_name(&name, &ns));
        }
    }
}
