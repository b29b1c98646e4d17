//! IAM Identity Center (SSO) profiles, as the AWS CLI leaves them after `aws sso login`: the
//! access token in the SSO token cache (`~/.aws/sso/cache/<sha1>.json`) is exchanged for the
//! profile's role credentials at the SSO portal (`GetRoleCredentials`, a GET with the token
//! as bearer; no signature). The token is never refreshed here: when it has expired the
//! error says to run `aws sso login` again, which is what the AWS CLI asks too once its
//! refresh token is gone.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::profile::Section;
use super::{parse_time, Credentials, ProvideCredentials};
use crate::aws::exchange::{self, snippet};
use crate::aws::Error;

/// The SSO settings of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoProfile {
    pub profile: String,
    /// The cache key: the `sso_session` name, or for a legacy profile its start URL.
    pub cache_key: String,
    pub region: String,
    pub account_id: String,
    pub role_name: String,
}

impl SsoProfile {
    /// The SSO settings of profile `name`, with its `[sso-session]` section when it names one
    /// (`sessions` holds them by session name). `None`: not an SSO profile.
    pub fn of(name: &str, section: &Section, sessions: &dyn Fn(&str) -> Option<Section>) -> Result<Option<SsoProfile>, Error> {
        let missing = |key: &str| Error::Credentials(format!("SSO profile {name} has no {key}"));
        let (cache_key, region) = if let Some(session) = section.get("sso_session") {
            let s = sessions(session).ok_or_else(|| Error::Credentials(format!("profile {name}: no [sso-session {session}] section")))?;
            (session.clone(), s.get("sso_region").cloned().ok_or_else(|| missing("sso_region (in its sso-session)"))?)
        } else if let Some(url) = section.get("sso_start_url") {
            (url.clone(), section.get("sso_region").cloned().ok_or_else(|| missing("sso_region"))?)
        } else {
            return Ok(None);
        };
        Ok(Some(SsoProfile {
            profile: name.to_string(),
            cache_key,
            region,
            account_id: section.get("sso_account_id").cloned().ok_or_else(|| missing("sso_account_id"))?,
            role_name: section.get("sso_role_name").cloned().ok_or_else(|| missing("sso_role_name"))?,
        }))
    }
}

/// Where the AWS CLI caches the token of `cache_key`: `<home>/.aws/sso/cache/<sha1 hex>.json`.
pub fn cache_file(home: &std::path::Path, cache_key: &str) -> PathBuf {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cache_key.as_bytes());
    home.join(".aws/sso/cache").join(format!("{}.json", hex::encode(digest.as_ref())))
}

/// Role credentials from the SSO portal.
#[derive(Debug, Clone)]
pub struct SsoCredentials {
    pub sso: SsoProfile,
    pub cache_file: PathBuf,
    /// The portal's URL: `https://portal.sso.<region>.amazonaws.com`, or an override.
    pub endpoint: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl SsoCredentials {
    pub fn new(sso: SsoProfile, home: &std::path::Path, endpoint: Option<String>) -> Result<Self, Error> {
        let endpoint = endpoint.unwrap_or_else(|| format!("https://portal.sso.{}.amazonaws.com", sso.region));
        Ok(SsoCredentials {
            cache_file: cache_file(home, &sso.cache_key),
            sso,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
            http: exchange::http_client(Duration::from_secs(3))?,
        })
    }

    fn login_again(&self, why: &str) -> Error {
        Error::Credentials(format!("SSO profile {}: {why}; run `aws sso login --profile {}`", self.sso.profile, self.sso.profile))
    }

    /// The cached access token, unless missing or expired.
    fn token(&self) -> Result<String, Error> {
        let text = std::fs::read_to_string(&self.cache_file).map_err(|_| self.login_again("no cached SSO token"))?;
        let cached: serde_json::Value = serde_json::from_str(&text).map_err(|_| self.login_again("the SSO token cache is not JSON"))?;
        let token = cached["accessToken"].as_str().filter(|t| !t.is_empty()).ok_or_else(|| self.login_again("the cache holds no token"))?;
        let expires = cached["expiresAt"].as_str().and_then(parse_time).ok_or_else(|| self.login_again("the token has no expiry"))?;
        if expires <= SystemTime::now() {
            return Err(self.login_again("the SSO session has expired"));
        }
        Ok(token.to_string())
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for SsoCredentials {
    async fn provide(&self) -> Result<Credentials, Error> {
        let token = self.token()?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("account_id", &self.sso.account_id)
            .append_pair("role_name", &self.sso.role_name)
            .finish();
        let request = self.http.get(format!("{}/federation/credentials?{query}", self.endpoint)).header("x-amz-sso_bearer_token", token);
        let response = exchange::send(request, self.timeout)
            .await
            .map_err(|e| Error::Credentials(format!("SSO GetRoleCredentials for profile {}: {e}", self.sso.profile)))?;
        if response.status == 401 || response.status == 403 {
            return Err(self.login_again(&format!("the portal refused the token (HTTP {})", response.status)));
        }
        if !response.is_success() {
            return Err(Error::Credentials(format!(
                "SSO GetRoleCredentials for profile {} failed (HTTP {}): {}",
                self.sso.profile,
                response.status,
                snippet(&response.body)
            )));
        }
        parse_role_credentials(&response.body)
            .ok_or_else(|| Error::Credentials(format!("SSO GetRoleCredentials for profile {}: unexpected answer", self.sso.profile)))
    }

    fn identity(&self) -> String {
        format!("sso:{}/{}", self.sso.account_id, self.sso.role_name)
    }
}

/// `{"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}}`,
/// the expiration in milliseconds since the epoch.
pub fn parse_role_credentials(body: &str) -> Option<Credentials> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let c = &value["roleCredentials"];
    let expires = c["expiration"].as_u64().map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
    Some(Credentials::new(c["accessKeyId"].as_str()?, c["secretAccessKey"].as_str()?, c["sessionToken"].as_str(), expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_are_named_by_the_sha1_of_their_key() {
        // SHA-1 test vectors (FIPS 180): the names `aws sso login` gives the cache files.
        let home = std::path::Path::new("/h");
        assert_eq!(cache_file(home, ""), home.join(".aws/sso/cache/da39a3ee5e6b4b0d3255bfef95601890afd80709.json"));
        assert_eq!(cache_file(home, "abc"), home.join(".aws/sso/cache/a9993e364706816aba3e25717850c26c9cd0d89d.json"));
    }

    #[test]
    fn profiles_name_their_session_or_start_url() {
        let section = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Section>();
        let sessions = |name: &str| (name == "corp").then(|| section(&[("sso_region", "eu-west-1"), ("sso_start_url", "https://corp")]));
        let modern = section(&[("sso_session", "corp"), ("sso_account_id", "123456789012"), ("sso_role_name", "Admin")]);
        let p = SsoProfile::of("dev", &modern, &sessions).unwrap().unwrap();
        assert_eq!((p.cache_key.as_str(), p.region.as_str(), p.role_name.as_str()), ("corp", "eu-west-1", "Admin"));
        let legacy =
            section(&[("sso_start_url", "https://x"), ("sso_region", "us-east-2"), ("sso_account_id", "1"), ("sso_role_name", "R")]);
        assert_eq!(SsoProfile::of("old", &legacy, &sessions).unwrap().unwrap().cache_key, "https://x");
        assert_eq!(SsoProfile::of("keys", &section(&[("aws_access_key_id", "A")]), &sessions).unwrap(), None);
        let no_role = section(&[("sso_session", "corp"), ("sso_account_id", "1")]);
        assert!(SsoProfile::of("p", &no_role, &sessions).unwrap_err().to_string().contains("sso_role_name"));
        let unknown = section(&[("sso_session", "other"), ("sso_account_id", "1"), ("sso_role_name", "R")]);
        assert!(SsoProfile::of("p", &unknown, &sessions).unwrap_err().to_string().contains("[sso-session other]"));
    }

    #[test]
    fn parses_the_portal_answer() {
        let c = parse_role_credentials(
            r#"{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"s","sessionToken":"t","expiration":1900000000000}}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIASSO");
        assert_eq!(c.expires, Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000)));
        assert!(parse_role_credentials(r#"{"message":"nope"}"#).is_none());
    }
}
