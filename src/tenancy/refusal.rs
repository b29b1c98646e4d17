//! Why a LoadBalancer is refused: the reason written to its `Synced` condition and a message
//! naming what was refused and the class.

use std::fmt;

/// The reasons of a refusal, as the `Synced=False` condition carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The class is missing, does not select the namespace, or there is none under
    /// `--require-class`.
    ClassNotAllowed,
    /// `spec.roleArn` is not granted by the class or by `--allowed-role-arns`.
    RoleNotAllowed,
    /// The ELB's region is not one of the class's regions.
    RegionNotAllowed,
    /// The ELB's scheme is not one of the class's schemes.
    SchemeNotAllowed,
    /// `spec.adopt` without a class that allows adoption.
    AdoptionNotAllowed,
    /// A `spec.tags` key the class sets itself or the operator reserves, or too many tags.
    TagNotAllowed,
    /// A resource the spec names lacks the class's required tags.
    ResourceNotAllowed,
}

impl RefusalReason {
    /// The condition reason.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::ClassNotAllowed => "ClassNotAllowed",
            RefusalReason::RoleNotAllowed => "RoleNotAllowed",
            RefusalReason::RegionNotAllowed => "RegionNotAllowed",
            RefusalReason::SchemeNotAllowed => "SchemeNotAllowed",
            RefusalReason::AdoptionNotAllowed => "AdoptionNotAllowed",
            RefusalReason::TagNotAllowed => "TagNotAllowed",
            RefusalReason::ResourceNotAllowed => "ResourceNotAllowed",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A LoadBalancer the tenancy rules do not admit. Nothing is written to AWS for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    /// What was refused, by which class (or by the operator's flags), and how to fix it.
    pub message: String,
}

impl Refusal {
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Self {
        Refusal { reason, message: message.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for Refusal {}

/// How a class is named in messages: `LoadBalancerClass team-a`, or the built-in rules.
pub(crate) fn who(class: Option<&str>) -> String {
    match class {
        Some(name) => format!("LoadBalancerClass {name}"),
        None => "the built-in rules (no LoadBalancerClass applies)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_the_condition_reasons() {
        let all = [
            (RefusalReason::ClassNotAllowed, "ClassNotAllowed"),
            (RefusalReason::RoleNotAllowed, "RoleNotAllowed"),
            (RefusalReason::RegionNotAllowed, "RegionNotAllowed"),
            (RefusalReason::SchemeNotAllowed, "SchemeNotAllowed"),
            (RefusalReason::AdoptionNotAllowed, "AdoptionNotAllowed"),
            (RefusalReason::TagNotAllowed, "TagNotAllowed"),
            (RefusalReason::ResourceNotAllowed, "ResourceNotAllowed"),
        ];
        for (reason, text) in all {
            assert_eq!(reason.as_str(), text);
            assert_eq!(reason.to_string(), text);
        }
        let r = Refusal::new(RefusalReason::RegionNotAllowed, "region eu-west-1 is not allowed");
        assert_eq!(r.to_string(), "RegionNotAllowed: region eu-west-1 is not allowed");
    }
}
