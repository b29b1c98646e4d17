//! The Rust twins of the CRD's CEL rules that the controller repeats (so that an object
//! stored before a rule existed is reported, not sent to AWS), plus the one check the schema
//! cannot afford: the characters of tag keys. Each twin uses the very pattern of its CEL
//! rule; the tests evaluate both on the same inputs.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the patterns here are constant and valid")
}

static REGION_NAME: LazyLock<Regex> = LazyLock::new(|| re("^[a-z]{2}(-[a-z]+)+-[0-9]+$"));
static ZONE_NAME: LazyLock<Regex> = LazyLock::new(|| re("^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$"));
static CERTIFICATE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re("^arn:aws(-[a-z]+)*:(acm:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:certificate/.+|iam::[0-9]{12}:server-certificate/.+)$")
});
static ACM_ARN: LazyLock<Regex> = LazyLock::new(|| re("^arn:[a-z-]+:acm:"));
static COOKIE_NAME: LazyLock<Regex> = LazyLock::new(|| re("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"));
static TAG_TEXT: LazyLock<Regex> = LazyLock::new(|| re(r"^[\p{L}\p{Z}\p{N}_.:/=+@-]*$"));

/// An AWS region name such as `us-east-1` ([`super::rules::REGION_NAME_RULE`]).
pub fn is_region_name(region: &str) -> bool {
    REGION_NAME.is_match(region)
}

/// An availability zone name such as `us-east-1a` ([`super::rules::ZONE_NAME_RULE`]).
pub fn is_zone_name(zone: &str) -> bool {
    ZONE_NAME.is_match(zone)
}

/// Whether `zone` is a zone of `region`: the region name plus one character; a malformed
/// region is not judged here ([`super::rules::ZONES_IN_REGION_RULE`]; CEL's `size`
/// counts code points).
pub fn is_zone_of(zone: &str, region: &str) -> bool {
    !is_region_name(region) || (zone.starts_with(region) && zone.chars().count() == region.chars().count() + 1)
}

/// The ARN of an ACM or IAM server certificate ([`super::rules::CERTIFICATE_ARN_RULE`]).
pub fn is_certificate_arn(id: &str) -> bool {
    CERTIFICATE_ARN.is_match(id)
}

/// Whether an ACM certificate ARN names another region than `region`; false for IAM
/// certificates, which are global, and for a malformed region
/// ([`super::rules::ACM_CERTIFICATE_REGION_RULE`]).
pub fn is_acm_certificate_outside(id: &str, region: &str) -> bool {
    is_region_name(region) && ACM_ARN.is_match(id) && !id.contains(&format!(":acm:{region}:"))
}

/// An application cookie name: an RFC 6265 token ([`super::rules::COOKIE_NAME_RULE`]).
pub fn is_cookie_name(name: &str) -> bool {
    COOKIE_NAME.is_match(name)
}

/// An Auto Scaling group name: 1-255 characters of ASCII 33-126 except ':'
/// ([`super::rules::AUTO_SCALING_GROUP_NAME_RULE`]).
pub fn is_auto_scaling_group_name(name: &str) -> bool {
    (1..=255).contains(&name.len()) && name.bytes().all(|b| (b'!'..=b'~').contains(&b) && b != b':')
}

/// ELB's character set of tag keys and values: Unicode letters, separators and digits, and
/// `_ . : / = + - @` ([`super::rules::TAG_VALUES_CHARSET_RULE`] for values; the schema
/// cannot check keys within the CEL cost budget, so only the controller does).
pub fn is_tag_text(text: &str) -> bool {
    TAG_TEXT.is_match(text)
}

/// What ELB refuses in a user's tag, or `None`: key 1-128 and value at most 256 characters,
/// both in [`is_tag_text`]'s set, and no key starting with `aws:`.
pub fn tag_problem(key: &str, value: &str) -> Option<String> {
    let chars = |s: &str| s.chars().count();
    if !(1..=128).contains(&chars(key)) {
        return Some(format!("tag key {key:?} must be 1-128 characters long"));
    }
    if key.starts_with("aws:") {
        return Some(format!("tag key {key:?}: keys starting with aws: are reserved by AWS"));
    }
    if !is_tag_text(key) {
        return Some(format!("tag key {key:?} may only contain letters, digits, spaces and _ . : / = + - @"));
    }
    if chars(value) > 256 {
        return Some(format!("the value of tag {key:?} must be at most 256 characters long"));
    }
    if !is_tag_text(value) {
        return Some(format!("the value of tag {key:?} may only contain letters, digits, spaces and _ . : / = + - @"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::loadbalancer as lb;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    thread_local! {
        static CEL: kube::core::cel::Validator = kube::core::cel::Validator::new();
    }

    /// Whether the CEL `rule` accepts `value`, `schema` typing `self`.
    fn cel(rule: &str, schema: Value, value: Value) -> bool {
        let mut schema = schema;
        schema["x-kubernetes-validations"] = json!([{ "rule": rule, "message": "m" }]);
        CEL.with(|v| v.validate(&schema, &value, None)).is_ok()
    }

    fn string_rule(rule: &str, value: &str) -> bool {
        cel(rule, json!({"type": "string", "maxLength": 4096}), json!(value))
    }

    fn list_rule(rule: &str, value: &str) -> bool {
        cel(rule, json!({"type": "array", "maxItems": 32, "items": {"type": "string", "maxLength": 4096}}), json!([value]))
    }

    fn tag_value_rule(value: &str) -> bool {
        let schema = json!({"type": "object", "maxProperties": 50, "additionalProperties": {"type": "string", "maxLength": 4096}});
        cel(lb::TAG_VALUES_CHARSET_RULE, schema, json!({ "k": value }))
    }

    fn spec_rule(rule: &str, spec: Value) -> bool {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "maxLength": 64},
            "availabilityZones": {"type": "array", "maxItems": 32, "items": {"type": "string", "maxLength": 64}},
            "listeners": {"type": "array", "maxItems": 100, "items": {"type": "object", "properties": {
                "sslCertificateId": {"type": "string", "maxLength": 2048}}}}}});
        cel(rule, schema, spec)
    }

    /// Inputs every twin is compared on: the examples of the docs and the near misses.
    const SAMPLES: &[&str] = &[
        "",
        "a",
        "us-east-1",
        "us-east-1a",
        "us-east-1b",
        "us-east-1-a",
        "us-east-11a",
        "us-gov-west-1a",
        "cn-north-1a",
        "eu-west-1a",
        "US-EAST-1A",
        "us-east-1ab",
        "useast1a",
        "arn:aws:acm:us-east-1:123456789012:certificate/0f6a7c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
        "arn:aws:acm:eu-west-1:123456789012:certificate/x",
        "arn:aws-cn:acm:cn-north-1:123456789012:certificate/x",
        "arn:aws:iam::123456789012:server-certificate/test-cert",
        "arn:aws:iam::123456789012:server-certificate/path/to/cert",
        "arn:aws:acm:us-east-1:12345678901:certificate/x",
        "arn:aws:acm:us-east-1:123456789012:certificate/",
        "arn:aws:iam:us-east-1:123456789012:server-certificate/x",
        "arn:aws:s3:::bucket",
        "arn:x",
        "my-cert",
        "SESSION",
        "JSESSIONID",
        "session id",
        "a=b",
        "a;b",
        "a,b",
        "\"q\"",
        "!#$%&'*+-.^_`|~",
        "é",
        "team",
        "web app",
        "a:b/c=d+e-f@g_h.i",
        "é ü 名前 ٣",
        "tab\there",
        "semi;colon",
        "star*",
        "aws:x",
    ];

    #[test]
    fn zone_twins_agree_with_their_rules() {
        for s in SAMPLES {
            assert_eq!(is_zone_name(s), list_rule(lb::ZONE_NAME_RULE, s), "{s:?}");
            assert_eq!(is_region_name(s), string_rule(lb::REGION_NAME_RULE, s), "{s:?}");
            for region in ["us-east-1", "eu-west-1", "us-gov-west-1", "US East"] {
                let spec = json!({"region": region, "availabilityZones": [s], "listeners": []});
                assert_eq!(is_zone_of(s, region), spec_rule(lb::ZONES_IN_REGION_RULE, spec), "{s:?} in {region}");
            }
        }
        assert!(is_zone_name("us-east-1a") && is_zone_of("us-east-1a", "us-east-1"));
        assert!(!is_zone_of("us-east-11a", "us-east-1"), "a longer region number is another region");
        assert!(!is_zone_of("eu-west-1a", "us-east-1"));
        assert!(is_zone_of("us-east-1a", "US East"), "a malformed region has its own message");
    }

    #[test]
    fn certificate_twins_agree_with_their_rules() {
        for s in SAMPLES {
            assert_eq!(is_certificate_arn(s), string_rule(lb::CERTIFICATE_ARN_RULE, s), "{s:?}");
            for region in ["us-east-1", "eu-west-1", "US East"] {
                let spec = json!({"region": region, "listeners": [{"sslCertificateId": s}]});
                assert_eq!(!is_acm_certificate_outside(s, region), spec_rule(lb::ACM_CERTIFICATE_REGION_RULE, spec), "{s:?} {region}");
            }
        }
        assert!(is_certificate_arn("arn:aws:iam::123456789012:server-certificate/test-cert"));
        assert!(!is_certificate_arn("arn:aws:acm:us-east-1:123:certificate/x"), "a 12-digit account");
        assert!(is_acm_certificate_outside("arn:aws:acm:eu-west-1:123456789012:certificate/x", "us-east-1"));
        assert!(!is_acm_certificate_outside("arn:aws:iam::123456789012:server-certificate/x", "us-east-1"));
    }

    #[test]
    fn cookie_and_tag_twins_agree_with_their_rules() {
        for s in SAMPLES {
            assert_eq!(is_cookie_name(s), string_rule(lb::COOKIE_NAME_RULE, s), "{s:?}");
            assert_eq!(is_tag_text(s), tag_value_rule(s), "{s:?}");
        }
        assert!(!is_cookie_name(""), "an empty cookie name");
        assert!(!is_cookie_name("session id") && !is_cookie_name("a=b"));
        assert!(is_tag_text("é ü 名前 ٣") && !is_tag_text("semi;colon") && !is_tag_text("tab\there"));
    }

    #[test]
    fn hostnames_rule_takes_dns_names_only() {
        for ok in ["www.example.com", "*.example.com", "a-b.c9.io", "x.y.z.example.org"] {
            assert!(list_rule(super::super::dns::HOSTNAMES_RULE, ok), "{ok}");
        }
        for bad in
            ["example", "WWW.example.com", "www.example.com.", "-a.example.com", "a..example.com", "a.*.example.com", "a_b.example.com"]
        {
            assert!(!list_rule(super::super::dns::HOSTNAMES_RULE, bad), "{bad}");
        }
    }

    #[test]
    fn auto_scaling_group_twin_agrees_with_its_rule() {
        let long = "g".repeat(255);
        let too_long = "g".repeat(256);
        for s in SAMPLES.iter().copied().chain([long.as_str(), too_long.as_str(), "web-asg", "a\\b]c", "~!"]) {
            assert_eq!(is_auto_scaling_group_name(s), list_rule(lb::AUTO_SCALING_GROUP_NAME_RULE, s), "{s:?}");
        }
        assert!(is_auto_scaling_group_name(&long) && !is_auto_scaling_group_name(&too_long));
        assert!(!is_auto_scaling_group_name("a:b") && !is_auto_scaling_group_name("web app") && !is_auto_scaling_group_name(""));
    }

    #[test]
    fn tag_problems_name_the_tag() {
        assert_eq!(tag_problem("team", "web"), None);
        assert_eq!(tag_problem("cost center", ""), None);
        let long = "k".repeat(129);
        for (key, value, says) in [
            ("", "v", "must be 1-128 characters"),
            (long.as_str(), "v", "must be 1-128 characters"),
            ("aws:owner", "v", "reserved by AWS"),
            ("team#1", "v", "may only contain"),
            ("team", "a;b", "value of tag \"team\" may only contain"),
        ] {
            let got = tag_problem(key, value).unwrap_or_default();
            assert!(got.contains(says), "{key:?}={value:?}: {got}");
        }
        assert!(tag_problem("team", &"v".repeat(257)).unwrap().contains("at most 256"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Strings near each pattern: the twins and the CEL rules never disagree.
        #[test]
        fn twins_agree_on_generated_strings(
            s in "(arn:aws(-cn)?:(acm|iam):([a-z]{2}-[a-z]{1,5}-[0-9])?:[0-9]{11,13}:(certificate|server-certificate)/[a-z/]{0,3})|([a-z]{2}-[a-z]{1,5}-[0-9]{1,2}[a-z]{0,2})|[ -~é名\t]{0,12}",
        ) {
            prop_assert_eq!(is_certificate_arn(&s), string_rule(lb::CERTIFICATE_ARN_RULE, &s));
            prop_assert_eq!(is_zone_name(&s), list_rule(lb::ZONE_NAME_RULE, &s));
            prop_assert_eq!(is_cookie_name(&s), string_rule(lb::COOKIE_NAME_RULE, &s));
            prop_assert_eq!(is_auto_scaling_group_name(&s), list_rule(lb::AUTO_SCALING_GROUP_NAME_RULE, &s));
            prop_assert_eq!(is_tag_text(&s), tag_value_rule(&s));
            let spec = json!({"region": "us-east-1", "availabilityZones": [&s], "listeners": [{"sslCertificateId": &s}]});
            prop_assert_eq!(is_zone_of(&s, "us-east-1"), spec_rule(lb::ZONES_IN_REGION_RULE, spec.clone()));
            prop_assert_eq!(!is_acm_certificate_outside(&s, "us-east-1"), spec_rule(lb::ACM_CERTIFICATE_REGION_RULE, spec));
        }
    }
}
