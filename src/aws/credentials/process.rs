//! `credential_process`: a profile names a command that prints credentials as JSON, the way
//! the AWS CLI runs it (login helpers such as `aws-vault`, `granted`, or a company's SSO
//! wrapper). The command runs through `sh -c`, as the AWS SDKs run it; its stderr goes to the
//! terminal so it can prompt, and its stdout is parsed and never logged.

use std::process::Stdio;
use std::time::Duration;

use super::{parse_time, Credentials, ProvideCredentials};
use crate::aws::Error;

/// How long the command may take: a login helper may wait for a browser or an MFA prompt.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The credentials a `credential_process` command prints.
#[derive(Debug, Clone)]
pub struct ProcessCredentials {
    pub profile: String,
    pub command: String,
    pub timeout: Duration,
}

impl ProcessCredentials {
    pub fn new(profile: &str, command: &str) -> Self {
        ProcessCredentials { profile: profile.to_string(), command: command.to_string(), timeout: TIMEOUT }
    }

    fn failed(&self, why: impl std::fmt::Display) -> Error {
        Error::Credentials(format!("credential_process of profile {}: {why}", self.profile))
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for ProcessCredentials {
    async fn provide(&self) -> Result<Credentials, Error> {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(&self.command).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .map_err(|_| self.failed(format!("no answer within {}s", self.timeout.as_secs())))?
            .map_err(|e| self.failed(format!("cannot run it: {e}")))?;
        if !output.status.success() {
            return Err(self.failed(format!("it exited with {}", output.status)));
        }
        parse_output(&output.stdout).map_err(|why| self.failed(why))
    }

    fn identity(&self) -> String {
        format!("process:{}", self.profile)
    }
}

/// The command's JSON (`Version` 1): `AccessKeyId`, `SecretAccessKey`, and for temporary
/// credentials `SessionToken` and `Expiration` (RFC 3339). Errors never quote the output,
/// which holds secrets.
pub fn parse_output(stdout: &[u8]) -> Result<Credentials, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|_| "its output is not JSON".to_string())?;
    if value["Version"] != 1 {
        return Err(format!("its output has Version {}, expected 1", value["Version"]));
    }
    let field = |name: &str| value[name].as_str().filter(|s| !s.is_empty());
    let (Some(key), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err("its output lacks AccessKeyId or SecretAccessKey".into());
    };
    let expires = match field("Expiration") {
        Some(text) => Some(parse_time(text).ok_or_else(|| "its Expiration is not an RFC 3339 time".to_string())?),
        None => None,
    };
    Ok(Credentials::new(key, secret, field("SessionToken"), expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_aws_cli_documents() {
        let c = parse_output(
            br#"{"Version": 1, "AccessKeyId": "ASIAPROC", "SecretAccessKey": "s3cr3t", "SessionToken": "tok", "Expiration": "2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAPROC");
        assert_eq!(c.secret_access_key.expose(), "s3cr3t");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        assert_eq!(c.expires, parse_time("2030-01-02T03:04:05Z"));
        let long_term = parse_output(br#"{"Version": 1, "AccessKeyId": "AKIA", "SecretAccessKey": "s"}"#).unwrap();
        assert_eq!((long_term.session_token, long_term.expires), (None, None));
    }

    #[test]
    fn refuses_other_output_without_quoting_it() {
        for bad in [
            &br#"{"Version": 2, "AccessKeyId": "AKIA", "SecretAccessKey": "hidden-secret"}"#[..],
            br#"{"Version": 1, "AccessKeyId": "AKIA"}"#,
            br#"{"Version": 1, "AccessKeyId": "AKIA", "SecretAccessKey": "hidden-secret", "Expiration": "soon"}"#,
            b"AccessKeyId=AKIA hidden-secret",
        ] {
            let err = parse_output(bad).unwrap_err();
            assert!(!err.contains("hidden-secret"), "{err}");
        }
    }

    #[tokio::test]
    async fn runs_the_command_and_reports_its_failure() {
        let ok = ProcessCredentials::new("p", r#"printf '{"Version":1,"AccessKeyId":"AKIAP","SecretAccessKey":"s"}'"#);
        assert_eq!(ok.provide().await.unwrap().access_key_id, "AKIAP");
        let failing = ProcessCredentials::new("p", "exit 3");
        let err = failing.provide().await.unwrap_err().to_string();
        assert!(err.contains("credential_process of profile p") && err.contains("exit status: 3"), "{err}");
        let slow = ProcessCredentials { timeout: Duration::from_millis(200), ..ProcessCredentials::new("p", "sleep 5") };
        assert!(slow.provide().await.unwrap_err().to_string().contains("no answer"));
    }
}
