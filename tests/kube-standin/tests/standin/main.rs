//! Tests of the Kubernetes API stand-in: its semantics through the kube-rs client, the
//! kube-rs runtime (watcher, Controller, finalizer helper, Recorder), the real kubectl, the
//! binary, and the injected faults. One test binary; each test starts its own server (cheap: one thread).

mod binary;
mod client;
mod common;
mod faults;
mod kubectl;
mod networking;
mod openapi;
mod requests;
mod runtime;
mod ssa;
mod watch;
