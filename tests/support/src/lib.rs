//! Test harness shared by the integration and end-to-end tests: it starts real local
//! servers (moto for ELB/EC2/STS, a fault-injecting proxy in front of moto) on free loopback
//! ports and stops them on drop, and reads the operator's ELB call counts from its metrics
//! ([`metrics::ElbCalls`]).

pub mod autoscaling;
pub mod ec2;
pub mod fault_proxy;
pub mod metrics;
pub mod moto;

use std::path::PathBuf;

/// The repository root (tests run with the package directory as CWD, which differs
/// between the root package and workspace members).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`; `None` when the
/// limit passed. The one bounded wait the async tests build their own assertions on.
pub async fn poll<T, F, Fut>(limit: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}
