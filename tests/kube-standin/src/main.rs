//! `kube-standin --port <p|0> --kubeconfig <path>`: serves the stand-in until SIGINT/SIGTERM.

use std::path::PathBuf;

use clap::Parser;

/// Command line.
#[derive(Parser, Debug)]
#[command(name = "kube-standin", about = "In-memory stand-in for the Kubernetes API (tests and demo)")]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the kubeconfig for the server.
    #[arg(long)]
    kubeconfig: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = listener.local_addr()?;
    std::fs::write(&args.kubeconfig, kube_standin::kubeconfig_yaml(&format!("http://{addr}")))?;
    println!("listening on http://{addr}");
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    kube_standin::serve(listener, addr, stop).await;
    Ok(())
}
