//! STS `AssumeRole` for `spec.roleArn`: the operator's own credentials (the default chain)
//! sign the request; the role's temporary credentials come back, cached per (role, external id, tenant) by
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
    /// Session tags (`Tags.member.N`): the role's trust policy can condition on them
    /// (`aws:RequestTag/…`), and they show in CloudTrail.
    pub tags: Vec<(String, String)>,
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
            tags: Vec::new(),
            source,
            sts_endpoint: sts_endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            timeout: Duration::from_secs(10),
            http: exchange::http_client(Duration::from_secs(3))?,
        })
    }

    /// The session tags sent with every AssumeRole.
    pub fn with_tags(mut self, tags: Vec<(String, String)>) -> Self {
        self.tags = tags;
        self
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
            for (i, (key, value)) in self.tags.iter().enumerate() {
                form.append_pair(&format!("Tags.member.{}.Key", i + 1), key);
                form.append_pair(&format!("Tags.member.{}.Value", i + 1), value);
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

/// The longest `RoleSessionName` STS accepts.
pub const MAX_SESSION_NAME: usize = 64;

/// A role session name from `parts` (the cluster, the namespace): `elb-operator-` and the
/// parts joined by `-`, with anything outside STS's `[\w+=,.@-]` turned into `-`. A name
/// longer than [`MAX_SESSION_NAME`] is cut and ends in `-` and 8 hex digits of a hash of the
/// parts, so that long names that share their first 55 characters stay distinct.
pub fn session_name(parts: &[&str]) -> String {
    let raw = format!("elb-operator-{}", parts.join("-"));
    let clean: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' }).collect();
    if clean.len() <= MAX_SESSION_NAME {
        return clean;
    }
    use sha2::Digest;
    // The parts apart (`\0` is in no name), so ("a-b", "c") and ("a", "b-c") differ.
    let hash = hex::encode(sha2::Sha256::digest(parts.join("\0").as_bytes()));
    format!("{}-{}", &clean[..MAX_SESSION_NAME - 9], &hash[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name(&["prod eu/1"]), "elb-operator-prod-eu-1");
        assert_eq!(session_name(&["prod", "team-a"]), "elb-operator-prod-team-a");
        let valid =
            |n: &str| (2..=MAX_SESSION_NAME).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        let long = "x".repeat(100);
        let name = session_name(&[&long]);
        assert!(valid(&name), "{name}");
        assert_eq!(name.len(), MAX_SESSION_NAME);
        assert!(name.starts_with("elb-operator-xxxx"), "{name}");
    }

    #[test]
    fn long_names_that_share_a_prefix_stay_distinct() {
        let cluster = "c".repeat(40);
        let (a, b) = (format!("{}-a", "n".repeat(40)), format!("{}-b", "n".repeat(40)));
        let (na, nb) = (session_name(&[&cluster, &a]), session_name(&[&cluster, &b]));
        assert_eq!((na.len(), nb.len()), (MAX_SESSION_NAME, MAX_SESSION_NAME));
        assert_ne!(na, nb, "cut names keep a hash of the whole");
        assert_eq!(na, session_name(&[&cluster, &a]), "stable");
        assert_eq!(&na[..MAX_SESSION_NAME - 9], &nb[..MAX_SESSION_NAME - 9]);
    }
}
