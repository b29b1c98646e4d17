//! One timed HTTP exchange for every outbound call of the AWS clients: the ELB and EC2
//! APIs, STS (web identity), the container credentials agent and IMDS. A caller builds its
//! request and reads the status and body; connecting, the timeout and transport errors are
//! handled here once.

use std::time::Duration;

use super::Error;

/// Installs rustls' ring provider for the process (once; "already installed" is fine).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client with the ring TLS provider and the given connect timeout.
pub(crate) fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    // reqwest is built without a default crypto provider.
    install_crypto_provider();
    reqwest::Client::builder().connect_timeout(connect_timeout).build().map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

/// A whole answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why no whole answer arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// The status or the end of the body did not arrive in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection failed (refused, reset, TLS, a broken body): reqwest's message with
    /// its sources, which name the cause ("connection refused") where reqwest's own does not.
    #[error("{0}")]
    Transport(String),
}

/// Sends `request` and reads the whole body, both within `timeout`: a server that accepts
/// and then stalls mid-body must not hold a reconcile (or a credential refresh) forever.
pub(crate) async fn send(request: reqwest::RequestBuilder, timeout: Duration) -> Result<Response, ExchangeError> {
    let exchange = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>(Response { status, body })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(ExchangeError::Timeout(timeout)),
        Ok(Err(e)) => Err(ExchangeError::Transport(transport_message(&e))),
        Ok(Ok(response)) => Ok(response),
    }
}

/// A reqwest error and its sources on one line (never a body).
fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Longest [`snippet`], in characters.
const SNIPPET_CHARS: usize = 160;

/// A body shortened for an error message: whitespace collapsed, at most [`SNIPPET_CHARS`]
/// characters and an ellipsis. Only for bodies that hold no secret (never a successful
/// credentials response).
pub(crate) fn snippet(body: &str) -> String {
    let collapsed = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(SNIPPET_CHARS).collect();
    if collapsed.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection server that answers with `reply` (written in two parts, `pause`
    /// apart, to model a stalled body) and then closes.
    async fn serve_once(reply: &'static str, split: usize, pause: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(&reply.as_bytes()[..split]).await;
            tokio::time::sleep(pause).await;
            let _ = socket.write_all(&reply.as_bytes()[split..]).await;
        });
        url
    }

    const REPLY: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 11\r\nconnection: close\r\n\r\nslow down\r\n";

    #[tokio::test]
    async fn returns_status_and_body_of_any_status() {
        let url = serve_once(REPLY, REPLY.len(), Duration::ZERO).await;
        let http = http_client(Duration::from_secs(1)).unwrap();
        let r = send(http.get(&url), Duration::from_secs(5)).await.unwrap();
        assert_eq!(r, Response { status: 503, body: "slow down\r\n".into() });
        assert!(!r.is_success());
    }

    #[tokio::test]
    async fn a_body_stalled_past_the_timeout_is_a_timeout() {
        // Headers at once, the body after the timeout: the timeout covers the body too.
        let url = serve_once(REPLY, REPLY.len() - 5, Duration::from_secs(5)).await;
        let http = http_client(Duration::from_secs(1)).unwrap();
        let timeout = Duration::from_millis(200);
        assert_eq!(send(http.get(&url), timeout).await, Err(ExchangeError::Timeout(timeout)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error_naming_the_cause() {
        // Bind and drop: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let http = http_client(Duration::from_secs(1)).unwrap();
        match send(http.get(format!("http://127.0.0.1:{port}/")), Duration::from_secs(5)).await {
            Err(ExchangeError::Transport(message)) => assert!(message.to_lowercase().contains("refused"), "{message}"),
            other => panic!("expected a transport error, got {other:?}"),
        }
    }

    #[test]
    fn snippets_collapse_whitespace_and_are_bounded() {
        assert_eq!(snippet("<html>\n  <b>Bad   Gateway</b>\n</html>"), "<html> <b>Bad Gateway</b> </html>");
        let long = snippet(&"x".repeat(1000));
        assert_eq!(long.chars().count(), SNIPPET_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
