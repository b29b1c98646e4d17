//! STS `AssumeRole` for `spec.roleArn`: the operator's own credentials (the default chain)
//! sign the request; the role's temporary credentials come back, cached per role by
//! [`super::SharedCredentials`] and refreshed before they expire.

use std::time::{Duration, SystemTime};

use super::{Credentials, ProvideCredentials, SharedCredentials};
use crate::aws::exchange::{self, snippet};
use crate::aws::{query, signing, Error};

/// How long assumed credentials live (AWS's default and the minimum every role allows).
const DURATION_SECONDS: u32 = 3600;

/// One role to assume.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    /// `RoleSessionName`: shows in the role's CloudTrail records.
    pub session_name: String,
    source: SharedCredentials,
    /// The STS endpoint URL.
    sts_endpoint: String,
    region: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl AssumeRole {
    pub fn new(
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
        source: SharedCredentials,
        sts_endpoint: &str,
        region: &str,
    ) -> Result<Self, Error> {
        Ok(AssumeRole {
            role_arn: role_arn.to_string(),
            external_id: external_id.map(String::from),
            session_name: session_name.to_string(),
            source,
            sts_endpoint: sts_endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            timeout: Duration::from_secs(10),
            http: exchange::http_client(Duration::from_secs(3))?,
        })
    }

    fn failed(&self, message: impl Into<String>) -> Error {
        Error::AssumeRoleFailed { role_arn: self.role_arn.clone(), message: message.into() }
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for AssumeRole {
    async fn provide(&self) -> Result<Credentials, Error> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "AssumeRole")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", &self.role_arn)
                .append_pair("RoleSessionName", &self.session_name)
                .append_pair("DurationSeconds", &DURATION_SECONDS.to_string());
            if let Some(id) = &self.external_id {
                form.append_pair("ExternalId", id);
            }
            form.finish()
        };
        let url = format!("{}/", self.sts_endpoint);
        let source = self.source.get().await?;
        let headers = signing::sign_post(&url, body.as_bytes(), &source, &self.region, "sts", SystemTime::now())?;
        let mut request = self.http.post(&url).header("content-type", signing::CONTENT_TYPE).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let response = exchange::send(request, self.timeout).await.map_err(|e| self.failed(e.to_string()))?;
        if !response.is_success() {
            let detail = query::parse_error(&response.body)
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| format!("HTTP {}: {}", response.status, snippet(&response.body)));
            return Err(self.failed(detail));
        }
        super::web_identity::parse_credentials(&response.body, "AssumeRoleResult").map_err(|_| self.failed("unexpected STS response"))
    }

    fn identity(&self) -> String {
        format!("assume-role:{}", self.role_arn)
    }
}

/// A role session name from `parts` (the cluster, ...): STS allows 2-64 characters of
/// `[\w+=,.@-]`; anything else becomes `-`.
pub fn session_name(parts: &[&str]) -> String {
    let raw = format!("elb-operator-{}", parts.join("-"));
    let clean: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' }).collect();
    clean.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name(&["prod eu/1"]), "elb-operator-prod-eu-1");
        assert_eq!(session_name(&[&"x".repeat(100)]).len(), 64);
    }
}
