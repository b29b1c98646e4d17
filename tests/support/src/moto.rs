//! moto's server (`moto_server`, installed into `.venv` by `scripts/setup.sh`), started on
//! a free loopback port for one test or one test binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

/// The `moto_server` executable: `$MOTO_SERVER`, else the project's `.venv`.
pub fn moto_server_path() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    crate::repo_root().join(".venv/bin/moto_server")
}

/// The Python next to `moto_server` runs moto in-process with a watchdog thread that exits
/// when the test process dies, so servers held in `static`s (never dropped) do not outlive
/// the test binary. Without that Python, `moto_server` itself is run.
fn command(exe: &std::path::Path, port: u16) -> Command {
    // Python needs its indentation: a raw string, flush left.
    const WATCHDOG: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;
    let python = exe.with_file_name("python3");
    let mut cmd = if python.exists() {
        let mut c = Command::new(python);
        c.args(["-c", WATCHDOG, "-H", "127.0.0.1", "-p", &port.to_string()]);
        c
    } else {
        let mut c = Command::new(exe);
        c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        c
    };
    cmd.stdin(Stdio::null());
    cmd
}

impl Moto {
    /// Starts moto with default settings.
    pub fn start() -> Moto {
        Self::start_with_env(&[])
    }

    /// Starts moto with extra environment variables (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let exe = moto_server_path();
        assert!(exe.exists(), "{} not found: run scripts/setup.sh first (make test does)", exe.display());
        // A port picked by bind-and-release can be taken in between; try a few.
        for _ in 0..5 {
            let port = crate::free_port();
            let mut cmd = command(&exe, port);
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("spawn moto_server");
            let mut moto = Moto { child, port, endpoint: format!("http://127.0.0.1:{port}") };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(body) = self.http("GET", "/moto-api/", "") {
                if body.starts_with("HTTP/1.") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Clears all of moto's state.
    pub fn reset(&self) {
        let r = self.http("POST", "/moto-api/reset", "").expect("moto reset");
        assert!(r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"), "moto reset failed: {r}");
    }

    /// A raw HTTP/1.0 exchange with moto; returns the whole response (status line first).
    pub fn http(&self, method: &str, path: &str, body: &str) -> std::io::Result<String> {
        self.raw(method, path, "Content-Type: application/json\r\n", body)
    }

    /// A raw HTTP/1.0 exchange with extra header lines (each ending in CRLF).
    pub fn raw(&self, method: &str, path: &str, headers: &str, body: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(s, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n{headers}\r\n{body}", self.port, body.len())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
