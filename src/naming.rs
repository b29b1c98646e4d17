//! The ELB name of a LoadBalancer resource.

/// The default ELB name for `namespace/name`: deterministic, at most 32 characters of
/// letters, digits and hyphens, not starting or ending with a hyphen.
/// (Placeholder: the real derivation with a short hash lands with the CRD work.)
pub fn elb_name(namespace: &str, name: &str) -> String {
    let s: String = format!("{namespace}-{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(32)
        .collect();
    s.trim_matches('-').to_string()
}
