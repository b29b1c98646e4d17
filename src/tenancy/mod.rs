//! Tenancy: what a LoadBalancer may reach in AWS, decided from the LoadBalancerClass that
//! applies to it. Pure: the caller reads the classes, the namespace's labels and the tags of
//! the AWS resources the spec names, and passes them in; nothing here calls Kubernetes or
//! AWS.
//!
//! The validate step calls [`admit`] with the spec; on success the [`Grant`] says what the
//! class adds (ELB tags, a default deletion policy) and what it still requires of the AWS
//! resources the spec names or resolves ([`Grant::check_resource`],
//! [`Grant::instances_not_allowed`]). On refusal, the [`Refusal`]'s reason goes into the
//! `Synced=False` condition and nothing is written to AWS.
//!
//! Choosing the class: `spec.className` names it (a missing class is refused). Unset, the
//! class annotated `elb.operator.dev/is-default-class: "true"` applies; when several are,
//! the LoadBalancer is refused rather than given one of them at random, as Kubernetes
//! refuses an Ingress without a class when several IngressClasses are the default. When no
//! class is the default, the built-in rules apply (`--allowed-role-arns` alone, no
//! adoption), unless the operator runs with `--require-class`.

use std::collections::BTreeMap;

use crate::crd::tags::{MAX_USER_TAGS, RESERVED_TAG_PREFIX};
use crate::crd::{Adoption, DeletionPolicy, LoadBalancerClass, LoadBalancerSpec, Scheme};

pub mod glob;
mod refusal;
mod resources;
pub mod selector;

pub use refusal::{Refusal, RefusalReason};
pub use resources::{missing_required_tags, resource_refusal, ResourceKind, INSTANCE_NOT_ALLOWED};

use refusal::who;
use RefusalReason::*;

/// The operator-wide inputs of the decision: the classes in the cluster and the flags.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// Every LoadBalancerClass in the cluster.
    pub classes: &'a [LoadBalancerClass],
    /// `--allowed-role-arns`: role globs, an upper bound over every class.
    pub allowed_role_arns: &'a [String],
    /// `--require-class`: refuse LoadBalancers that no class applies to.
    pub require_class: bool,
    /// `--region`: the region of a LoadBalancer without `spec.region`.
    pub operator_region: &'a str,
}

/// What an admitted LoadBalancer gets from its class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// The class that applies; `None` under the built-in rules.
    pub class_name: Option<String>,
    /// Tags the class adds to the ELB (disjoint from `spec.tags`: [`admit`] refuses a
    /// shared key).
    pub tags: BTreeMap<String, String>,
    /// The class's default for a LoadBalancer without `spec.deletionPolicy`.
    pub deletion_policy: Option<DeletionPolicy>,
    /// Whether the class allows adoption (`spec.adopt`); never under the built-in rules.
    pub adoption_allowed: bool,
    /// Tags every AWS resource the LoadBalancer names or resolves must carry.
    pub required_resource_tags: BTreeMap<String, String>,
}

impl Grant {
    /// The ELB's user tags: `spec.tags` plus the class's tags.
    pub fn elb_tags(&self, spec_tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = spec_tags.clone();
        tags.extend(self.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        tags
    }

    /// The deletion policy in force: the spec's, else the class's, else `Retain` for an
    /// adopted ELB and `Delete` for one the operator created.
    pub fn deletion_policy(&self, spec: Option<DeletionPolicy>, adopted: bool) -> DeletionPolicy {
        spec.or(self.deletion_policy).unwrap_or(if adopted { DeletionPolicy::Retain } else { DeletionPolicy::Delete })
    }
}

/// Admits `spec` (of a LoadBalancer in `namespace`, labelled `namespace_labels`) under
/// `policy`, or says why not. Checks, in order: the class, the namespace, the role, the
/// region ([`admit_scope`]), then the scheme, adoption and the tags; the first refusal is
/// returned.
pub fn admit(
    spec: &LoadBalancerSpec,
    namespace: &str,
    namespace_labels: &BTreeMap<String, String>,
    policy: &Policy<'_>,
) -> Result<Grant, Refusal> {
    let class = admit_scope(spec, namespace, namespace_labels, policy)?;
    let Some(class) = class else {
        if spec.adopt {
            return Err(Refusal::new(
                AdoptionNotAllowed,
                "spec.adopt needs a LoadBalancerClass that allows adoption (spec.adoption: Allowed), and no class applies to this LoadBalancer",
            ));
        }
        admit_tags(None, &BTreeMap::new(), &spec.tags)?;
        return Ok(Grant::default());
    };
    let name = name_of(class);
    let c = &class.spec;
    let scheme = spec.scheme.unwrap_or(Scheme::InternetFacing);
    if let Some(schemes) = &c.schemes {
        if !schemes.contains(&scheme) {
            let allowed: Vec<&str> = schemes.iter().map(|s| s.as_str()).collect();
            return Err(Refusal::new(
                SchemeNotAllowed,
                format!("scheme {} is not one of LoadBalancerClass {name}'s schemes ({})", scheme.as_str(), list(&allowed)),
            ));
        }
    }
    if spec.adopt && c.adoption != Adoption::Allowed {
        return Err(Refusal::new(
            AdoptionNotAllowed,
            format!("LoadBalancerClass {name} does not allow adoption (spec.adoption: {}): spec.adopt is refused", c.adoption.as_str()),
        ));
    }
    admit_tags(Some(class), &c.tags, &spec.tags)?;
    Ok(Grant {
        class_name: Some(name.to_string()),
        tags: c.tags.clone(),
        deletion_policy: c.deletion_policy,
        adoption_allowed: c.adoption == Adoption::Allowed,
        required_resource_tags: c.required_resource_tags.clone(),
    })
}

/// Where the operator may act for `spec` at all: the class that applies, the namespace it
/// selects, the role and the region. Cleanup obeys these too (a deletion never assumes a
/// role or reaches a region the class does not grant); the class that applies is returned.
pub fn admit_scope<'a>(
    spec: &LoadBalancerSpec,
    namespace: &str,
    namespace_labels: &BTreeMap<String, String>,
    policy: &Policy<'a>,
) -> Result<Option<&'a LoadBalancerClass>, Refusal> {
    let class = choose_class(spec.class_name.as_deref(), policy.classes, policy.require_class)?;
    if let Some(class) = class {
        admit_namespace(class, namespace, namespace_labels)?;
    }
    admit_role(class, spec.role_arn.as_deref(), policy.allowed_role_arns)?;
    let Some(class) = class else { return Ok(None) };
    let region = spec.region.as_deref().unwrap_or(policy.operator_region);
    if let Some(regions) = &class.spec.regions {
        if !regions.iter().any(|r| r == region) {
            let whose = if spec.region.is_some() { "" } else { " (the operator's region: spec.region is unset)" };
            return Err(Refusal::new(
                RegionNotAllowed,
                format!("region {region}{whose} is not one of LoadBalancerClass {}'s regions ({})", name_of(class), list(regions)),
            ));
        }
    }
    Ok(Some(class))
}

/// The class that applies: the one `class_name` names, else the default one, else none
/// (the built-in rules), unless `require_class`.
pub fn choose_class<'a>(
    class_name: Option<&str>,
    classes: &'a [LoadBalancerClass],
    require_class: bool,
) -> Result<Option<&'a LoadBalancerClass>, Refusal> {
    if let Some(wanted) = class_name {
        return match classes.iter().find(|c| name_of(c) == wanted) {
            Some(class) => Ok(Some(class)),
            None => Err(Refusal::new(ClassNotAllowed, format!("LoadBalancerClass {wanted} does not exist"))),
        };
    }
    let mut defaults: Vec<&LoadBalancerClass> = classes.iter().filter(|c| c.is_default()).collect();
    match defaults.len() {
        0 if require_class => Err(Refusal::new(
            ClassNotAllowed,
            "no LoadBalancerClass applies (spec.className is unset and no class is annotated elb.operator.dev/is-default-class: \"true\") and the operator runs with --require-class",
        )),
        0 => Ok(None),
        1 => Ok(defaults.pop()),
        _ => {
            let mut names: Vec<&str> = defaults.iter().map(|c| name_of(c)).collect();
            names.sort_unstable();
            Err(Refusal::new(
                ClassNotAllowed,
                format!(
                    "spec.className is unset and several LoadBalancerClasses are annotated elb.operator.dev/is-default-class: \"true\" ({}): ask the cluster administrator to keep one default",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// Whether `class`'s namespaceSelector selects `namespace` (labelled `labels`). An invalid
/// selector selects nothing.
pub fn admit_namespace(class: &LoadBalancerClass, namespace: &str, labels: &BTreeMap<String, String>) -> Result<(), Refusal> {
    let Some(selector) = &class.spec.namespace_selector else { return Ok(()) };
    let name = name_of(class);
    match selector::matches(selector, labels) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::new(ClassNotAllowed, format!("namespace {namespace} is not selected by LoadBalancerClass {name}"))),
        Err(why) => Err(Refusal::new(
            ClassNotAllowed,
            format!("namespace {namespace} is not selected by LoadBalancerClass {name}: its namespaceSelector is invalid ({why})"),
        )),
    }
}

/// Whether the LoadBalancer may be managed as `role_arn` (`spec.roleArn`). With a class, the
/// role must match one of its roleArns (a class without roleArns grants no role) and
/// `--allowed-role-arns`; without one, `--allowed-role-arns` alone decides. No role (the
/// operator's own credentials) is always allowed.
pub fn admit_role(class: Option<&LoadBalancerClass>, role_arn: Option<&str>, allowed_role_arns: &[String]) -> Result<(), Refusal> {
    let Some(role) = role_arn else { return Ok(()) };
    if let Some(class) = class {
        let name = name_of(class);
        match &class.spec.role_arns {
            None => {
                return Err(Refusal::new(
                    RoleNotAllowed,
                    format!("LoadBalancerClass {name} grants no role (its roleArns is unset): spec.roleArn {role} is refused; without spec.roleArn the operator's own credentials are used"),
                ))
            }
            Some(globs) if !glob::matches_any(globs, role) => {
                return Err(Refusal::new(
                    RoleNotAllowed,
                    format!("role {role} is not one of LoadBalancerClass {name}'s roleArns ({})", list(globs)),
                ))
            }
            Some(_) => {}
        }
    }
    if !glob::matches_any(allowed_role_arns, role) {
        let allowed = if allowed_role_arns.is_empty() { "empty: no role is allowed".to_string() } else { allowed_role_arns.join(", ") };
        let by =
            class.map(|c| format!(" (granted by LoadBalancerClass {}, but the flag bounds every class)", name_of(c))).unwrap_or_default();
        return Err(Refusal::new(
            RoleNotAllowed,
            format!("role {role} is not allowed by the operator's --allowed-role-arns ({allowed}){by}; ask its administrator to allow it"),
        ));
    }
    Ok(())
}

/// `spec.tags` beside the class's tags: no shared key, no reserved key, at most
/// [`MAX_USER_TAGS`] together.
fn admit_tags(
    class: Option<&LoadBalancerClass>,
    class_tags: &BTreeMap<String, String>,
    spec_tags: &BTreeMap<String, String>,
) -> Result<(), Refusal> {
    let by = who(class.map(name_of));
    if let Some(key) = spec_tags.keys().find(|k| k.starts_with(RESERVED_TAG_PREFIX)) {
        return Err(Refusal::new(
            TagNotAllowed,
            format!("spec.tags key {key}: keys starting with {RESERVED_TAG_PREFIX} are reserved for the operator"),
        ));
    }
    if let Some(key) = spec_tags.keys().find(|k| class_tags.contains_key(*k)) {
        return Err(Refusal::new(
            TagNotAllowed,
            format!("spec.tags key {key} is set by {by}, which puts it on every ELB of the class; remove it from spec.tags"),
        ));
    }
    let total = spec_tags.len() + class_tags.len();
    if total > MAX_USER_TAGS {
        return Err(Refusal::new(
            TagNotAllowed,
            format!(
                "spec.tags has {} tags and {by} adds {}: at most {MAX_USER_TAGS} fit on an ELB beside the operator's markers",
                spec_tags.len(),
                class_tags.len()
            ),
        ));
    }
    Ok(())
}

fn name_of(class: &LoadBalancerClass) -> &str {
    class.metadata.name.as_deref().unwrap_or_default()
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
