//! `fault-proxy`: the fault-injecting ELB proxy of `test_support::fault_proxy` as a
//! program, for trying the operator by hand against a misbehaving moto:
//!
//! ```sh
//! cargo run -p test-support --bin fault-proxy -- --upstream http://127.0.0.1:5000 --rate 0.3 --seed 7
//! elb-operator run --elb-endpoint http://127.0.0.1:<printed port> ...
//! ```
//!
//! Flags: `--upstream URL` (required, loopback), `--port N` (0: any), `--rate P`,
//! `--seed N`, `--delay-seconds S` (the `timeout` fault's wait), `--kinds a,b` (of
//! throttle-400, unavailable-503, html-500, reset, timeout), `--phases before,after`.
//! It prints its URL, then one line per request; Ctrl-C stops it.

use std::time::Duration;

use test_support::fault_proxy::{FaultKind, FaultProxy, Phase, ProxyConfig};

fn main() {
    let mut upstream = None;
    let mut port = 0u16;
    let mut config = ProxyConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--upstream" => upstream = Some(value()),
            "--port" => port = value().parse().unwrap_or_else(|_| usage("--port: a number")),
            "--rate" => config.rate = value().parse().unwrap_or_else(|_| usage("--rate: a number in 0..1")),
            "--seed" => config.seed = value().parse().unwrap_or_else(|_| usage("--seed: a number")),
            "--delay-seconds" => {
                config.delay = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage("--delay-seconds: a number")))
            }
            "--kinds" => {
                config.kinds =
                    value().split(',').map(|k| FaultKind::parse(k).unwrap_or_else(|| usage(&format!("unknown fault kind {k}")))).collect()
            }
            "--phases" => {
                config.phases = value()
                    .split(',')
                    .map(|p| match p {
                        "before" => Phase::Before,
                        "after" => Phase::After,
                        other => usage(&format!("unknown phase {other}")),
                    })
                    .collect()
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let upstream = upstream.unwrap_or_else(|| usage("--upstream is required"));
    let proxy = FaultProxy::start_on(port, &upstream, config, true).unwrap_or_else(|e| usage(&format!("cannot start: {e}")));
    println!("{}", proxy.url());
    // Serves until killed; the figures go out every minute.
    for _ in 0..u64::MAX {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("fault-proxy: {}", proxy.summary());
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("fault-proxy: {problem}");
    }
    eprintln!("usage: fault-proxy --upstream http://127.0.0.1:PORT [--port N] [--rate P] [--seed N] [--delay-seconds S] [--kinds k1,k2] [--phases before,after]");
    std::process::exit(2)
}
