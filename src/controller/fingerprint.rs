//! Fingerprints: a hash of a value's derived `Hash`, to tell whether what a decision depends
//! on changed (the inputs of a sync, the fields of a node that backends read). Compared only
//! within this process, never stored.

use std::hash::{Hash, Hasher};

/// A hash of `value`, the same for equal values within this process.
pub fn fingerprint<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::backends::Resolved;
    use crate::controller::scope::Scope;
    use crate::sync::plan::{Desired, Placement};

    fn desired(instances: &[&str]) -> Desired {
        Desired {
            name: "lb".into(),
            scheme: None,
            listeners: vec![],
            placement: Placement::Zones(["a".to_string()].into()),
            security_groups: None,
            health_check: None,
            attributes: Default::default(),
            tags: Default::default(),
            instances: instances.iter().map(|s| s.to_string()).collect(),
            auto_scaling_groups: Default::default(),
            stickiness: Default::default(),
            proxy_protocol_ports: Default::default(),
            ssl_policies: Default::default(),
        }
    }

    /// The inputs of a LoadBalancer's sync (generation, adopt, scope, desired state and
    /// resolved backends) hash through their derived `Hash`: equal inputs, equal prints; a
    /// change anywhere, a new print.
    #[test]
    fn sync_inputs_print_follows_their_values() {
        let scope = Scope { region: "r".into(), role: None };
        let resolved = Resolved::of_instances(&[("i-1", Some("a"))]);
        let print = |generation: i64, d: &Desired, r: &Resolved| fingerprint(&(Some(generation), false, &scope, d, r));
        let base = print(1, &desired(&["i-1"]), &resolved);
        assert_eq!(base, print(1, &desired(&["i-1"]), &resolved.clone()));
        assert_ne!(base, print(2, &desired(&["i-1"]), &resolved), "generation");
        assert_ne!(base, print(1, &desired(&["i-1", "i-2"]), &resolved), "desired instances");
        assert_ne!(base, print(1, &desired(&["i-1"]), &Resolved::of_instances(&[("i-1", Some("b"))])), "a backend's zone");
        let mut attributes = desired(&["i-1"]);
        attributes.attributes.idle_timeout = Some(30);
        assert_ne!(base, print(1, &attributes, &resolved), "attributes");
    }
}
