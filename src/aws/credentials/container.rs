//! Container credentials (ECS task roles, EKS Pod Identity): a GET to
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` or `http://169.254.170.2` +
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, authorised by a token (re-read from
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` on every fetch, or `..._TOKEN`).

use std::path::PathBuf;
use std::time::Duration;

use super::{parse_time, Credentials, ProvideCredentials, Secret};
use crate::aws::exchange::{self, snippet};
use crate::aws::Error;

/// The ECS agent's address for relative URIs.
pub const ECS_HOST: &str = "http://169.254.170.2";

#[derive(Debug, Clone)]
pub struct ContainerCredentials {
    pub url: String,
    pub token_file: Option<PathBuf>,
    pub token: Option<Secret>,
    pub timeout: Duration,
    http: reqwest::Client,
}

impl ContainerCredentials {
    /// From the environment; `None` when neither URI variable is set.
    pub fn from_vars(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, Error> {
        let url = if let Some(rel) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            format!("{ECS_HOST}{}", if rel.starts_with('/') { rel } else { format!("/{rel}") })
        } else if let Some(full) = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            check_full_uri(&full)?;
            full
        } else {
            return Ok(None);
        };
        Ok(Some(ContainerCredentials {
            url,
            token_file: env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(PathBuf::from),
            token: env("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(Secret::new),
            timeout: Duration::from_secs(5),
            http: exchange::http_client(Duration::from_secs(2))?,
        }))
    }
}

/// Plain HTTP is only allowed to loopback and the ECS/EKS agent addresses, as in the SDKs.
fn check_full_uri(uri: &str) -> Result<(), Error> {
    let u = url::Url::parse(uri).map_err(|e| Error::Credentials(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {e}")))?;
    if u.scheme() == "https" {
        return Ok(());
    }
    let allowed = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.octets() == [169, 254, 170, 2] || ip.octets() == [169, 254, 170, 23],
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23],
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if u.scheme() == "http" && allowed {
        Ok(())
    } else {
        Err(Error::Credentials(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI {uri:?}: plain HTTP only to loopback or the container agent")))
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for ContainerCredentials {
    async fn provide(&self) -> Result<Credentials, Error> {
        let token = match &self.token_file {
            Some(f) => Some(
                tokio::fs::read_to_string(f)
                    .await
                    .map_err(|e| Error::Credentials(format!("container authorization token file {}: {e}", f.display())))?
                    .trim()
                    .to_string(),
            ),
            None => self.token.as_ref().map(|t| t.expose().to_string()),
        };
        let mut req = self.http.get(&self.url);
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let response = exchange::send(req, self.timeout).await.map_err(|e| Error::Credentials(format!("container credentials: {e}")))?;
        if response.status != 200 {
            // The body of a failure carries no secret; of a success it does, so it is
            // never echoed.
            return Err(Error::Credentials(format!("container credentials: HTTP {}: {}", response.status, snippet(&response.body))));
        }
        parse_json(&response.body, "container credentials")
    }

    fn identity(&self) -> String {
        format!("container:{}", self.url)
    }
}

/// The JSON document of container and instance credentials:
/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`.
pub fn parse_json(text: &str, source: &str) -> Result<Credentials, Error> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| Error::Credentials(format!("{source}: response is not JSON")))?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str());
    if let Some(code) = get("Code").filter(|c| *c != "Success") {
        return Err(Error::Credentials(format!("{source}: {code}")));
    }
    let (Some(ak), Some(sk)) = (get("AccessKeyId"), get("SecretAccessKey")) else {
        return Err(Error::Credentials(format!("{source}: AccessKeyId or SecretAccessKey missing")));
    };
    Ok(Credentials::new(ak, sk, get("Token"), get("Expiration").and_then(parse_time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri_rules() {
        assert!(check_full_uri("http://127.0.0.1:8080/creds").is_ok());
        assert!(check_full_uri("http://169.254.170.23/v1/credentials").is_ok());
        assert!(check_full_uri("http://[fd00:ec2::23]/v1/credentials").is_ok());
        assert!(check_full_uri("https://example.com/creds").is_ok());
        assert!(check_full_uri("http://example.com/creds").is_err());
    }

    #[test]
    fn relative_uri_goes_to_the_ecs_agent() {
        let env = |k: &str| (k == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").then(|| "/v2/credentials/abc".to_string());
        let c = ContainerCredentials::from_vars(&env).unwrap().unwrap();
        assert_eq!(c.url, "http://169.254.170.2/v2/credentials/abc");
        assert!(ContainerCredentials::from_vars(&|_| None).unwrap().is_none());
    }

    #[test]
    fn parses_credentials_json() {
        let c = parse_json(r#"{"AccessKeyId":"AK","SecretAccessKey":"SK","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#, "x").unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert!(c.expires.is_some());
        assert!(parse_json(r#"{"Code":"AssumeRoleUnauthorizedAccess"}"#, "x").is_err());
        assert!(parse_json("<html>", "x").is_err());
    }
}
