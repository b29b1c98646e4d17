//! EC2 instance metadata (IMDSv2): a session token from `PUT /latest/api/token`, then the
//! role's credentials from `/latest/meta-data/iam/security-credentials/`.

use std::time::Duration;

use super::container::parse_json;
use super::{Credentials, ProvideCredentials};
use crate::aws::exchange;
use crate::aws::Error;

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_TTL_SECONDS: &str = "21600";

#[derive(Debug, Clone)]
pub struct Imds {
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`.
    pub endpoint: String,
    pub timeout: Duration,
    http: reqwest::Client,
}

impl Imds {
    pub fn new(endpoint: &str) -> Result<Self, Error> {
        Ok(Imds {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            // Off EC2 nothing answers: fail fast.
            timeout: Duration::from_secs(2),
            http: exchange::http_client(Duration::from_secs(1))?,
        })
    }

    /// The body of a 200 answer to `req`; `what` names the step in errors.
    async fn text(&self, req: reqwest::RequestBuilder, what: &str) -> Result<String, Error> {
        match exchange::send(req, self.timeout).await {
            Ok(response) if response.status == 200 => Ok(response.body),
            Ok(response) => Err(Error::Credentials(format!("IMDS {what}: HTTP {}", response.status))),
            Err(e) => Err(Error::Credentials(format!("IMDS {what}: {e}"))),
        }
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for Imds {
    async fn provide(&self) -> Result<Credentials, Error> {
        let token = self
            .text(
                self.http
                    .put(format!("{}/latest/api/token", self.endpoint))
                    .header("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS),
                "token",
            )
            .await?;
        let base = format!("{}/latest/meta-data/iam/security-credentials/", self.endpoint);
        let roles = self.text(self.http.get(&base).header("x-aws-ec2-metadata-token", token.trim()), "role").await?;
        let role =
            roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or_else(|| Error::Credentials("IMDS: no instance role".into()))?;
        let doc = self.text(self.http.get(format!("{base}{role}")).header("x-aws-ec2-metadata-token", token.trim()), "credentials").await?;
        parse_json(&doc, "IMDS credentials")
    }

    fn identity(&self) -> String {
        format!("imds:{}", self.endpoint)
    }
}
