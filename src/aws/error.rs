//! Errors of the AWS clients (ELB, EC2, and the credential sources), classified so that
//! callers decide on retries and reporting without looking at wire details.

/// How an error should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The load balancer (or another named thing) does not exist: `LoadBalancerNotFound`.
    NotFound,
    /// The thing already exists: `DuplicateLoadBalancerName`, `DuplicateListener`, ...
    Duplicate,
    /// AWS asked us to slow down: `Throttling`, `ThrottlingException`, `RequestLimitExceeded`, ...
    Throttled,
    /// Worth another try: 5xx, timeouts, connection errors.
    Retryable,
    /// Credentials or signature problems: `SignatureDoesNotMatch`, `ExpiredToken`, ...
    Auth,
    /// Anything else: validation and configuration errors that only a change can fix.
    Terminal,
}

impl ErrorKind {
    /// A short, stable label for metrics and event reasons.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Retryable => "retryable",
            ErrorKind::Auth => "auth",
            ErrorKind::Terminal => "terminal",
        }
    }
}

/// An error from an AWS client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error document.
    #[error("{action}: {code}: {message} (HTTP {status}{})", request_id.as_deref().map(|r| format!(", request id {r}")).unwrap_or_default())]
    Api { action: &'static str, code: String, message: String, request_id: Option<String>, status: u16 },

    /// The API answered with something that is not an API document (an HTML error page,
    /// truncated XML, ...).
    #[error("{action}: unexpected HTTP {status} response: {snippet}")]
    UnexpectedResponse { action: &'static str, status: u16, snippet: String },

    /// The API answered with a document holding a value its field cannot take (a port that
    /// is not a number, ...). Reading it anyway would invent a value, such as port 0.
    #[error("{action}: malformed response: {problem}")]
    MalformedResponse { action: &'static str, problem: DecodeError },

    /// A mutating call was not sent: this process may no longer hold the leader lease.
    #[error("{action}: not sent: the leader lease may be held by another replica now")]
    Fenced { action: &'static str },

    /// No answer within the request timeout.
    #[error("{action}: request timed out after {timeout:?}")]
    Timeout { action: &'static str, timeout: std::time::Duration },

    /// The connection failed before an answer arrived.
    #[error("{action}: connection error: {message}")]
    Transport { action: &'static str, message: String },

    /// No usable credentials, or the credential source failed.
    #[error("credentials: {0}")]
    Credentials(String),

    /// STS AssumeRole (`spec.roleArn`) refused or failed; `message` is AWS's, never a secret.
    #[error("assuming role {role_arn} failed: {message}")]
    AssumeRoleFailed { role_arn: String, message: String },

    /// The client is misconfigured (bad endpoint URL, unknown region, ...).
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// How this error should be treated.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { code, status, .. } => classify(code, *status),
            Error::UnexpectedResponse { status, .. } if *status >= 500 => ErrorKind::Retryable,
            Error::UnexpectedResponse { status, .. } if *status == 429 => ErrorKind::Throttled,
            Error::UnexpectedResponse { status, .. } if *status == 401 || *status == 403 => ErrorKind::Auth,
            Error::UnexpectedResponse { .. } => ErrorKind::Terminal,
            // The same document would come back: only a fix on the other side helps.
            Error::MalformedResponse { .. } => ErrorKind::Terminal,
            Error::Timeout { .. } | Error::Transport { .. } => ErrorKind::Retryable,
            Error::Credentials(_) | Error::AssumeRoleFailed { .. } => ErrorKind::Auth,
            Error::Config(_) | Error::Fenced { .. } => ErrorKind::Terminal,
        }
    }

    /// The action the error came from; `None` for credential and configuration errors,
    /// which belong to no single call.
    pub fn action(&self) -> Option<&'static str> {
        match self {
            Error::Api { action, .. }
            | Error::UnexpectedResponse { action, .. }
            | Error::MalformedResponse { action, .. }
            | Error::Fenced { action }
            | Error::Timeout { action, .. }
            | Error::Transport { action, .. } => Some(action),
            Error::Credentials(_) | Error::Config(_) | Error::AssumeRoleFailed { .. } => None,
        }
    }

    /// What status conditions and events may show: AWS's code and message with the
    /// principal ARNs, account ids and encoded authorization messages removed
    /// ([`redact`](super::redact::redact)). Tenants read status; the operator's log keeps
    /// the full text (`Display`).
    pub fn public_message(&self) -> String {
        use super::redact::redact;
        match self {
            Error::Api { action, code, message, .. } => format!("{action}: {code}: {}", redact(message)),
            // The role is the tenant's own (`spec.roleArn`); the message names the operator.
            Error::AssumeRoleFailed { message, .. } => format!("assuming spec.roleArn failed: {}", redact(message)),
            other => redact(&other.to_string()),
        }
    }

    /// The error code, when the API sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the call may have been applied although it failed: it timed out, its
    /// connection dropped, or the server failed (5xx) after the request reached it.
    /// Throttles and every API error document say AWS did not apply it.
    pub fn maybe_applied(&self) -> bool {
        self.kind() == ErrorKind::Retryable
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// The credentials work but IAM does not allow the action (`UnauthorizedOperation` from
    /// EC2, `AccessDenied` from ELB and STS). A subset of [`ErrorKind::Auth`]: it says "grant
    /// the action" rather than "fix the credentials", which matters for optional calls.
    pub fn is_not_allowed(&self) -> bool {
        matches!(self.code(), Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException"))
    }
}

/// A value of an API document that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A value the field needs is absent.
    #[error("<{element}> is missing")]
    Missing { element: String },
    /// The text is not a value of the field's type (`expected`, e.g. `u16`).
    #[error("<{element}> is {text:?}, not a valid {expected}")]
    Malformed { element: String, text: String, expected: &'static str },
}

/// Classifies an error code of ELB, EC2 or STS (and the HTTP status it came with).
pub fn classify(code: &str, status: u16) -> ErrorKind {
    match code {
        // Other *NotFound codes (ListenerNotFound, PolicyNotFound, ...) name a wrong input
        // and fall through to Terminal.
        "LoadBalancerNotFound" | "AccessPointNotFound" => ErrorKind::NotFound,
        "DuplicateLoadBalancerName" | "DuplicateAccessPointName" | "DuplicateListener" | "DuplicatePolicyName" | "DuplicateTagKeys" => {
            ErrorKind::Duplicate
        }
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "TransactionInProgressException"
        | "RequestLimitExceeded"
        | "BandwidthLimitExceeded"
        | "LimitExceededException"
        | "RequestThrottled"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException" => ErrorKind::Throttled,
        "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "Unavailable" => ErrorKind::Retryable,
        "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidAccessKeyId"
        | "AuthFailure"
        | "UnrecognizedClientException"
        | "MissingAuthenticationToken"
        | "AccessDenied"
        | "AccessDeniedException"
        | "InvalidToken"
        | "RequestExpired"
        | "OptInRequired"
        | "UnauthorizedOperation" => ErrorKind::Auth,
        _ if status >= 500 => ErrorKind::Retryable,
        _ if status == 429 => ErrorKind::Throttled,
        _ => ErrorKind::Terminal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, status: u16) -> Error {
        Error::Api { action: "DescribeInstances", code: code.into(), message: String::new(), request_id: None, status }
    }

    #[test]
    fn public_messages_keep_the_code_and_drop_principals_and_accounts() {
        let sts = "User: arn:aws:sts::123456789012:assumed-role/op/i-0abc is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role/x";
        let assume =
            Error::AssumeRoleFailed { role_arn: "arn:aws:iam::210987654321:role/x".into(), message: format!("AccessDenied: {sts}") };
        let public = assume.public_message();
        assert_eq!(
            public,
            "assuming spec.roleArn failed: AccessDenied: User: <principal> is not authorized to perform: sts:AssumeRole on resource: <principal>"
        );
        assert!(assume.to_string().contains("arn:aws:sts::123456789012:assumed-role/op/i-0abc"), "the log keeps the full text");
        let api = Error::Api {
            action: "DescribeLoadBalancers",
            code: "AccessDenied".into(),
            message: sts.replace("sts:AssumeRole", "elasticloadbalancing:DescribeLoadBalancers"),
            request_id: Some("r-1".into()),
            status: 403,
        };
        let public = api.public_message();
        assert!(public.starts_with("DescribeLoadBalancers: AccessDenied: User: <principal>"), "{public}");
        assert!(!public.contains("123456789012") && !public.contains("210987654321"), "{public}");
        let creds = Error::Credentials("web identity arn:aws:iam::123456789012:role/operator: InvalidIdentityToken".into());
        assert_eq!(creds.public_message(), "credentials: web identity <principal>: InvalidIdentityToken");
    }

    #[test]
    fn ec2_codes_are_classified() {
        assert_eq!(api("RequestLimitExceeded", 503).kind(), ErrorKind::Throttled);
        assert_eq!(api("Unavailable", 503).kind(), ErrorKind::Retryable);
        assert_eq!(api("UnauthorizedOperation", 403).kind(), ErrorKind::Auth);
        assert_eq!(api("InvalidParameterValue", 400).kind(), ErrorKind::Terminal);
    }

    #[test]
    fn not_allowed_is_an_iam_refusal_not_any_auth_failure() {
        for code in ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"] {
            assert!(api(code, 403).is_not_allowed(), "{code}");
        }
        // Bad or expired credentials are not fixed by granting an action.
        for code in ["AuthFailure", "SignatureDoesNotMatch", "ExpiredToken", "RequestLimitExceeded"] {
            assert!(!api(code, 403).is_not_allowed(), "{code}");
        }
        assert!(!Error::UnexpectedResponse { action: "X", status: 403, snippet: String::new() }.is_not_allowed());
        assert!(!Error::Credentials("none".into()).is_not_allowed());
    }
}
