//! What of an AWS error a tenant may read. Status conditions and events are read by
//! whoever can read the LoadBalancer, but AWS's messages name the operator's own principal
//! (`User: arn:aws:sts::…:assumed-role/operator/…`) and account ids: the operator's log
//! keeps the full text, status and events get [`redact`]ed text.

use std::sync::LazyLock;

use regex::Regex;

/// Replaces a principal ARN.
pub const PRINCIPAL: &str = "<principal>";
/// Replaces an account id.
pub const ACCOUNT: &str = "<account>";
/// Replaces an encoded authorization failure message (`sts:DecodeAuthorizationMessage`
/// turns it into the full request context, principal included).
pub const ENCODED: &str = "<encoded>";

/// An IAM or STS ARN (a user, role, assumed-role session, root, ...), up to the next
/// character an ARN does not hold.
static PRINCIPAL_ARN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"arn:aws[-a-z]*:(?:iam|sts)::\d{12}:[\w+=,.@/:-]*[\w+=@/-]").expect("principal pattern"));
/// A bare 12-digit account id (not part of a longer number or word).
static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{12}\b").expect("account pattern"));
/// EC2's `Encoded authorization failure message: <blob>`.
static ENCODED_MESSAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(encoded authorization failure message:\s*)[\w-]+").expect("encoded pattern"));

/// `text` with every principal ARN, account id and encoded authorization message replaced
/// by [`PRINCIPAL`], [`ACCOUNT`] and [`ENCODED`].
pub fn redact(text: &str) -> String {
    let text = PRINCIPAL_ARN.replace_all(text, PRINCIPAL);
    let text = ENCODED_MESSAGE.replace_all(&text, format!("${{1}}{ENCODED}"));
    ACCOUNT_ID.replace_all(&text, ACCOUNT).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_access_denied_loses_both_principals_and_keeps_the_action() {
        let text = "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/op/i-0abc is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role/x";
        assert_eq!(redact(text), "AccessDenied: User: <principal> is not authorized to perform: sts:AssumeRole on resource: <principal>");
    }

    #[test]
    fn partitions_paths_users_and_trailing_punctuation() {
        let text = "User: arn:aws-us-gov:iam::123456789012:user/ops/deploy@corp, and arn:aws-cn:sts::123456789012:federated-user/bob.";
        assert_eq!(redact(text), "User: <principal>, and <principal>.");
        assert_eq!(redact("root arn:aws:iam::123456789012:root"), "root <principal>");
    }

    #[test]
    fn bare_account_ids_go_other_numbers_and_other_arns_stay() {
        assert_eq!(redact("account 123456789012 is not subscribed"), "account <account> is not subscribed");
        assert_eq!(
            redact("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/web"),
            "arn:aws:elasticloadbalancing:us-east-1:<account>:loadbalancer/web"
        );
        assert_eq!(redact("port 8080 of i-0123456789abcdef0 (1234567890123)"), "port 8080 of i-0123456789abcdef0 (1234567890123)");
    }

    #[test]
    fn encoded_authorization_messages_go() {
        let text = "You are not authorized to perform this operation. Encoded authorization failure message: AbC-dEf_123";
        assert_eq!(redact(text), "You are not authorized to perform this operation. Encoded authorization failure message: <encoded>");
    }
}
