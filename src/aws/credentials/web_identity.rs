//! Web identity (IRSA): STS `AssumeRoleWithWebIdentity` with the token file, re-read on
//! every refresh because the kubelet rotates it.

use std::path::PathBuf;
use std::time::Duration;

use super::{parse_time, Credentials, ProvideCredentials};
use crate::aws::exchange::{self, snippet};
use crate::aws::{query, signing, xml, Error};

/// Settings of the web identity source.
#[derive(Debug, Clone)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token_file: PathBuf,
    pub session_name: String,
    /// STS endpoint URL (`AWS_ENDPOINT_URL_STS`, else the regional endpoint).
    pub sts_endpoint: String,
    pub timeout: Duration,
    http: reqwest::Client,
}

impl WebIdentity {
    pub fn new(role_arn: &str, token_file: PathBuf, session_name: Option<String>, sts_endpoint: &str) -> Result<Self, Error> {
        Ok(WebIdentity {
            role_arn: role_arn.to_string(),
            token_file,
            session_name: session_name.unwrap_or_else(|| format!("elb-operator-{}", chrono::Utc::now().timestamp_millis())),
            sts_endpoint: sts_endpoint.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
            http: exchange::http_client(Duration::from_secs(3))?,
        })
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for WebIdentity {
    async fn provide(&self) -> Result<Credentials, Error> {
        let token = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| Error::Credentials(format!("web identity token file {}: {e}", self.token_file.display())))?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "AssumeRoleWithWebIdentity")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", &self.role_arn)
            .append_pair("RoleSessionName", &self.session_name)
            .append_pair("WebIdentityToken", token.trim())
            .finish();
        // Unsigned: the web identity token is the proof.
        let request = self.http.post(format!("{}/", self.sts_endpoint)).header("content-type", signing::CONTENT_TYPE).body(body);
        let response =
            exchange::send(request, self.timeout).await.map_err(|e| Error::Credentials(format!("STS AssumeRoleWithWebIdentity: {e}")))?;
        if !response.is_success() {
            let detail = query::parse_error(&response.body)
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| format!("unexpected body: {}", snippet(&response.body)));
            return Err(Error::Credentials(format!("STS AssumeRoleWithWebIdentity failed (HTTP {}): {detail}", response.status)));
        }
        parse_credentials(&response.body, "AssumeRoleWithWebIdentityResult")
    }

    fn identity(&self) -> String {
        format!("web-identity:{}", self.role_arn)
    }
}

/// Reads `<result>/Credentials` of an STS answer (`AssumeRoleWithWebIdentityResult`,
/// `AssumeRoleResult`).
pub fn parse_credentials(text: &str, result: &str) -> Result<Credentials, Error> {
    let bad = || Error::Credentials(format!("STS: unexpected response (no {result}/Credentials)"));
    let root = xml::parse(text).map_err(|_| bad())?;
    let c = root.path(&[result, "Credentials"]).ok_or_else(bad)?;
    let ak = c.text_of("AccessKeyId").ok_or_else(bad)?;
    let sk = c.text_of("SecretAccessKey").ok_or_else(bad)?;
    let token = c.text_of("SessionToken");
    let expires = c.text_of("Expiration").as_deref().and_then(parse_time);
    Ok(Credentials::new(&ak, &sk, token.as_deref(), expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_response() {
        let doc = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;
        let c = parse_credentials(doc, "AssumeRoleWithWebIdentityResult").unwrap();
        assert_eq!(c.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
        assert_eq!(c.secret_access_key.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
        assert!(c.session_token.is_some());
        assert_eq!(c.expires, parse_time("2014-10-24T23:00:23Z"));
        assert!(c.expires.is_some());
        assert!(parse_credentials("<html/>", "AssumeRoleWithWebIdentityResult").is_err());
        assert!(parse_credentials(doc, "AssumeRoleResult").is_err(), "another result element");
    }
}
