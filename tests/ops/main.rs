//! Integration tests of the operator's runtime around the reconcile loops: leader election,
//! the HTTP endpoints, the command line (and `elb-operator orphans`), two operator processes,
//! and the files kept in step with the code (IAM policy, RBAC requirements, chart flags). The
//! Kubernetes API is the stand-in (`kube_standin`); waits are `test_support::poll`.

mod cli;
mod cli_credentials;
mod http;
mod leader;
mod orphans;
mod plan;
mod standin;
mod sync_files;
mod troubleshooting;

use std::time::Duration;

/// A stand-in of the test's own (stopped on drop) with the operator's CRDs installed, and a
/// client of it.
pub async fn standin_with_crds() -> (kube_standin::StandIn, kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, PostParams};
    let standin = kube_standin::StandIn::start().await.expect("stand-in starts");
    let client = kube::Client::try_from(kube::Config::new(standin.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in elb_operator::crd::crds() {
        crds.create(&PostParams::default(), &crd).await.expect("create CRD");
    }
    (standin, client)
}

/// A plain HTTP/1.1 GET on loopback: (status code, body).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).to_string();
        let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((code, body))
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTP GET timed out")))
}
