//! SigV4 signing of a form-encoded POST with the `aws-sigv4` crate.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::credentials::Credentials;
use super::Error;

pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Returns the headers to add to a POST of `body` to `url`: `authorization`, `x-amz-date`
/// and, with temporary credentials, `x-amz-security-token`.
pub fn sign_post(
    url: &str,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    let identity: Identity = credentials.to_sdk().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Error::Config(format!("signing parameters: {e}")))?
        .into();
    let headers = [("content-type", CONTENT_TYPE)];
    let request = SignableRequest::new("POST", url, headers.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| Error::Config(format!("request cannot be signed: {e}")))?;
    let (instructions, _) = sign(request, &params).map_err(|e| Error::Config(format!("signing failed: {e}")))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_session_token_and_scope() {
        let c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Some("TOKEN"), None);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let h = sign_post("https://elasticloadbalancing.us-east-1.amazonaws.com/", b"Action=X", &c, "us-east-1", "elasticloadbalancing", t)
            .unwrap();
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/elasticloadbalancing/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date"), "{auth}");
        assert_eq!(get("x-amz-date").unwrap(), "20150830T123600Z");
        assert_eq!(get("x-amz-security-token").unwrap(), "TOKEN");
        // Same input, same signature; another secret, another signature.
        let again =
            sign_post("https://elasticloadbalancing.us-east-1.amazonaws.com/", b"Action=X", &c, "us-east-1", "elasticloadbalancing", t)
                .unwrap();
        assert_eq!(h, again);
        let other = Credentials::new("AKIDEXAMPLE", "other", Some("TOKEN"), None);
        let h2 =
            sign_post("https://elasticloadbalancing.us-east-1.amazonaws.com/", b"Action=X", &other, "us-east-1", "elasticloadbalancing", t)
                .unwrap();
        assert_ne!(h2, h);
    }
}
