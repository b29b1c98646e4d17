//! A fault-injecting HTTP proxy for the ELB Query API: it sits on 127.0.0.1 between a
//! client (the operator) and moto, forwards each request's bytes unchanged (the SigV4
//! signature, the `Host` header and the form body included: moto does not check
//! signatures and finds the service in the `Authorization` header's credential scope),
//! and, at a configurable rate and seed, answers with a fault instead:
//!
//! | [`FaultKind`] | what the client sees |
//! |---|---|
//! | `Throttle` | HTTP 400 with an ELB `Throttling` error document |
//! | `Unavailable` | HTTP 503 with an ELB `ServiceUnavailable` error document |
//! | `InternalHtml` | HTTP 500 with an HTML body (no ELB document at all) |
//! | `Reset` | the connection reset (RST), no answer |
//! | `Timeout` | no answer until [`ProxyConfig::delay`] (past the client's timeout), then the connection closes |
//!
//! Each fault happens in one [`Phase`]: **before** forwarding (moto never sees the call) or
//! **after** it (moto applied the call, the client sees the fault: the dangerous case for
//! writes, whose retry meets the already-changed state).
//!
//! [`Hold`]s delay chosen requests (by action, by mutating-or-not, by access key id) before
//! forwarding them, for tests that need a call to stay in flight. Every request is recorded
//! ([`Record`]): arrival time (wall clock, comparable with Kubernetes timestamps written on
//! the same machine), access key id, action, load balancer, the fault or hold applied.
//!
//! The proxy runs on a thread and runtime of its own (like the Kubernetes API stand-in), so
//! blocking test code cannot stall it; it stops on drop.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The faults the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// HTTP 400, ELB XML, code `Throttling`.
    Throttle,
    /// HTTP 503, ELB XML, code `ServiceUnavailable`.
    Unavailable,
    /// HTTP 500 with an HTML page.
    InternalHtml,
    /// A TCP reset, no answer.
    Reset,
    /// No answer for [`ProxyConfig::delay`], then the connection is closed.
    Timeout,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] =
        [FaultKind::Throttle, FaultKind::Unavailable, FaultKind::InternalHtml, FaultKind::Reset, FaultKind::Timeout];

    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle-400",
            FaultKind::Unavailable => "unavailable-503",
            FaultKind::InternalHtml => "html-500",
            FaultKind::Reset => "reset",
            FaultKind::Timeout => "timeout",
        }
    }

    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.label() == s || format!("{k:?}").eq_ignore_ascii_case(s))
    }
}

/// When a fault happens relative to forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// moto never sees the call.
    Before,
    /// moto applied the call; the client sees the fault instead of moto's answer.
    After,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::After => "after",
        }
    }
}

/// How often and which faults are injected.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Probability that a request gets a fault, 0.0 ..= 1.0.
    pub rate: f64,
    /// Seed of the decision stream (the same seed and request order give the same faults).
    pub seed: u64,
    /// The kinds drawn from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// The phases drawn from, uniformly.
    pub phases: Vec<Phase>,
    /// How long a `Timeout` fault keeps the client waiting (set it past the client's timeout).
    pub delay: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            rate: 0.0,
            seed: 1,
            kinds: FaultKind::ALL.to_vec(),
            phases: vec![Phase::Before, Phase::After],
            delay: Duration::from_secs(15),
        }
    }
}

/// Delays matching requests before they are forwarded (they reach moto late; the client
/// waits). The first matching hold acts.
#[derive(Debug, Clone, Default)]
pub struct Hold {
    /// Only this action (`RegisterInstancesWithLoadBalancer`, ...).
    pub action: Option<String>,
    /// Only mutating actions (everything but `Describe*`).
    pub mutating_only: bool,
    /// Only requests signed with this access key id.
    pub access_key: Option<String>,
    /// How long to hold each matching request.
    pub delay: Duration,
    /// Act on the next `n` matching requests only.
    pub times: Option<u64>,
}

impl Hold {
    fn matches(&self, r: &RequestInfo) -> bool {
        self.action.as_deref().is_none_or(|a| a == r.action)
            && (!self.mutating_only || is_mutating(&r.action))
            && self.access_key.as_deref().is_none_or(|k| k == r.access_key)
    }
}

/// Whether an ELB action changes anything (all but the `Describe*` reads).
pub fn is_mutating(action: &str) -> bool {
    !action.starts_with("Describe") && !action.is_empty()
}

/// What the proxy did with one request.
#[derive(Debug, Clone)]
pub struct Record {
    /// Arrival order, from 1.
    pub seq: u64,
    /// When the request's first bytes arrived (wall clock).
    pub at: SystemTime,
    /// When the request's first bytes arrived, since the proxy started.
    pub elapsed: Duration,
    /// The access key id of the SigV4 `Authorization` header ("" without one).
    pub access_key: String,
    /// The form's `Action`.
    pub action: String,
    /// `LoadBalancerName`, or the first `LoadBalancerNames.member.N`.
    pub load_balancer: Option<String>,
    /// The fault injected, if any.
    pub fault: Option<(FaultKind, Phase)>,
    /// How long a [`Hold`] delayed it before forwarding.
    pub held: Duration,
    /// Whether moto received it.
    pub forwarded: bool,
    /// moto's HTTP status, when forwarded and answered.
    pub upstream_status: Option<u16>,
}

impl Record {
    pub fn is_mutating(&self) -> bool {
        is_mutating(&self.action)
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        write!(
            f,
            "#{} t={}.{:06} +{:.3}s key={} {}",
            self.seq,
            at.as_secs(),
            at.subsec_micros(),
            self.elapsed.as_secs_f64(),
            self.access_key,
            self.action
        )?;
        if let Some(lb) = &self.load_balancer {
            write!(f, " lb={lb}")?;
        }
        if !self.held.is_zero() {
            write!(f, " held={:?}", self.held)?;
        }
        if let Some((k, p)) = self.fault {
            write!(f, " fault={}/{}", k.label(), p.label())?;
        }
        write!(f, " forwarded={}", self.forwarded)?;
        if let Some(s) = self.upstream_status {
            write!(f, " moto={s}")?;
        }
        Ok(())
    }
}

/// SplitMix64: a small seeded generator (no dependency; good enough for fault decisions).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n) (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct State {
    config: ProxyConfig,
    rng: Rng,
    holds: Vec<(u64, Hold, u64)>,
    next_hold: u64,
    records: Vec<Record>,
}

struct Shared {
    state: Mutex<State>,
    upstream: SocketAddr,
    started: Instant,
    seq: AtomicU64,
    in_flight: AtomicUsize,
    stopping: AtomicBool,
    /// Write one line per request to stderr.
    log: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Names one [`Hold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldId(u64);

/// A running proxy; stops on drop.
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts on a free loopback port, forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, config: ProxyConfig) -> std::io::Result<FaultProxy> {
        Self::start_on(0, upstream, config, false)
    }

    /// Starts on `port` (0: any free one); `log` writes one line per request to stderr.
    pub fn start_on(port: u16, upstream: &str, config: ProxyConfig, log: bool) -> std::io::Result<FaultProxy> {
        let upstream = upstream.trim_end_matches('/');
        let hostport = upstream
            .strip_prefix("http://")
            .ok_or_else(|| std::io::Error::other(format!("upstream {upstream:?}: only http:// is proxied")))?;
        let upstream: SocketAddr = hostport.parse().map_err(|e| std::io::Error::other(format!("upstream {hostport:?}: {e}")))?;
        assert!(upstream.ip().is_loopback(), "the proxy forwards to loopback only");
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State { rng: Rng::new(config.seed), config, holds: Vec::new(), next_hold: 0, records: Vec::new() }),
            upstream,
            started: Instant::now(),
            seq: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            log,
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let serving = shared.clone();
        let thread = std::thread::Builder::new().name(format!("fault-proxy-{}", addr.port())).spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tokio::select! {
                    _ = accept_loop(listener, serving) => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        })?;
        ready_rx.recv_timeout(Duration::from_secs(10)).map_err(std::io::Error::other)??;
        Ok(FaultProxy { shared, addr, stop: Some(stop_tx), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the fault rate (0 stops injecting faults; holds stay).
    pub fn set_rate(&self, rate: f64) {
        self.shared.lock().config.rate = rate.clamp(0.0, 1.0);
    }

    /// Changes the configuration (the decision stream goes on; its seed is not reread).
    pub fn configure(&self, change: impl FnOnce(&mut ProxyConfig)) {
        change(&mut self.shared.lock().config);
    }

    pub fn config(&self) -> ProxyConfig {
        self.shared.lock().config.clone()
    }

    /// Adds a hold after those already there.
    pub fn hold(&self, hold: Hold) -> HoldId {
        let mut s = self.shared.lock();
        s.next_hold += 1;
        let id = s.next_hold;
        s.holds.push((id, hold, 0));
        HoldId(id)
    }

    /// Removes a hold (requests already held finish their wait); answers how many it held.
    pub fn remove_hold(&self, id: HoldId) -> u64 {
        let mut s = self.shared.lock();
        let pos = s.holds.iter().position(|(i, _, _)| *i == id.0);
        pos.map(|p| s.holds.remove(p).2).unwrap_or(0)
    }

    /// Everything recorded so far, in arrival order.
    pub fn records(&self) -> Vec<Record> {
        let mut r = self.shared.lock().records.clone();
        r.sort_by_key(|r| r.seq);
        r
    }

    /// Requests being handled right now (held, forwarded, or waiting out a fault).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Injected faults per `kind/phase` label.
    pub fn fault_counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in self.shared.lock().records.iter() {
            if let Some((k, p)) = r.fault {
                *out.entry(format!("{}/{}", k.label(), p.label())).or_default() += 1;
            }
        }
        out
    }

    /// One line of figures: requests, forwarded, faults by kind and phase.
    pub fn summary(&self) -> String {
        let records = self.records();
        let forwarded = records.iter().filter(|r| r.forwarded).count();
        let faults: Vec<String> = self.fault_counts().into_iter().map(|(k, n)| format!("{k}={n}")).collect();
        let total: u64 = self.fault_counts().values().sum();
        format!("requests={} forwarded={} faults={} [{}]", records.len(), forwarded, total, faults.join(" "))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = serve_connection(stream, shared).await;
        });
    }
}

/// The largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Bound on one exchange with moto.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on waiting for the next request of a kept-alive client connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// An HTTP message read off a stream: the raw head (through the blank line), the body,
/// and the parsed parts the proxy needs.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    start_line: String,
    headers: Vec<(String, String)>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one message. `Ok(None)` at a clean EOF before any byte. `first_byte` is set when
/// the first byte arrived. `until_eof` (responses without a length) reads the body to EOF.
async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    first_byte: &mut Option<(SystemTime, Instant)>,
    response: bool,
) -> std::io::Result<Option<Message>> {
    let end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        if first_byte.is_none() {
            *first_byte = Some((SystemTime::now(), Instant::now()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head: Vec<u8> = buf.drain(..end).collect();
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    let mut msg = Message { head, body: Vec::new(), start_line, headers };
    let chunked = msg.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = msg.header("content-length").and_then(|v| v.parse::<usize>().ok());
    if chunked {
        msg.body = read_chunked(stream, buf).await?;
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(std::io::Error::other("body too large"));
        }
        while buf.len() < n {
            let mut chunk = [0u8; 8192];
            let got = stream.read(&mut chunk).await?;
            if got == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..got]);
        }
        msg.body = buf.drain(..n).collect();
    } else if response {
        // No length: the body runs to EOF (HTTP/1.0 style).
        let mut rest = std::mem::take(buf);
        stream.take(MAX_BODY as u64).read_to_end(&mut rest).await?;
        msg.body = rest;
    }
    Ok(Some(msg))
}

async fn read_chunked<R: AsyncRead + Unpin>(stream: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    for _ in 0..1_000_000 {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(std::io::Error::other)?;
        buf.drain(..line_end + 2);
        // The chunk and its CRLF (for the last chunk: optional trailers then CRLF).
        let need = size + 2;
        while buf.len() < need {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if size == 0 {
            buf.drain(..2.min(buf.len()));
            return Ok(body);
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..need);
        if body.len() > MAX_BODY {
            return Err(std::io::Error::other("body too large"));
        }
    }
    Err(std::io::Error::other("too many chunks"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What the proxy reads from a request to decide and record.
struct RequestInfo {
    access_key: String,
    action: String,
    load_balancer: Option<String>,
}

fn request_info(msg: &Message) -> RequestInfo {
    let access_key = msg
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_string();
    let mut action = String::new();
    let mut lb = None;
    let mut first_member = None;
    for pair in msg.body.split(|b| *b == b'&') {
        let text = String::from_utf8_lossy(pair);
        let (k, v) = text.split_once('=').unwrap_or((&text, ""));
        let v = percent_decode(v);
        match k {
            "Action" => action = v,
            "LoadBalancerName" => lb = Some(v),
            "LoadBalancerNames.member.1" => first_member = Some(v),
            _ => {}
        }
    }
    RequestInfo { access_key, action, load_balancer: lb.or(first_member) }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(mut client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::new();
    for _ in 0..1_000_000u32 {
        let mut first = None;
        let msg = match tokio::time::timeout(IDLE_TIMEOUT, read_message(&mut client, &mut buf, &mut first, false)).await {
            Ok(Ok(Some(m))) => m,
            _ => return Ok(()),
        };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlight(&shared);
        let (at, arrived) = first.unwrap_or((SystemTime::now(), Instant::now()));
        let info = request_info(&msg);
        let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let (fault, hold, delay) = {
            let mut s = shared.lock();
            let State { config, rng, holds, .. } = &mut *s;
            let fault = if config.rate > 0.0 && !config.kinds.is_empty() && !config.phases.is_empty() && rng.chance(config.rate) {
                Some((*rng.pick(&config.kinds), *rng.pick(&config.phases)))
            } else {
                None
            };
            let mut hold = Duration::ZERO;
            if let Some((_, h, hits)) = holds.iter_mut().find(|(_, h, hits)| h.matches(&info) && h.times.is_none_or(|t| *hits < t)) {
                *hits += 1;
                hold = h.delay;
            }
            (fault, hold, config.delay)
        };
        let mut record = Record {
            seq,
            at,
            elapsed: arrived.duration_since(shared.started),
            access_key: info.access_key.clone(),
            action: info.action.clone(),
            load_balancer: info.load_balancer.clone(),
            fault,
            held: hold,
            forwarded: false,
            upstream_status: None,
        };
        // Recorded at once (a test may look while the request is held).
        shared.lock().records.push(record.clone());
        let update = |r: &Record| {
            let mut s = shared.lock();
            if let Some(slot) = s.records.iter_mut().rev().find(|x| x.seq == r.seq) {
                *slot = r.clone();
            }
            if shared.log {
                eprintln!("fault-proxy: {r}");
            }
        };
        let keep_alive =
            !msg.start_line.ends_with("HTTP/1.0") && !msg.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));

        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        if let Some((kind, Phase::Before)) = fault {
            update(&record);
            return inject(&mut client, kind, delay, &info, seq).await;
        }
        let answer = forward(&shared, &msg).await;
        record.forwarded = true;
        record.upstream_status = answer.as_ref().ok().map(|(s, _)| *s);
        update(&record);
        if let Some((kind, Phase::After)) = fault {
            return inject(&mut client, kind, delay, &info, seq).await;
        }
        match answer {
            Ok((_, response)) => {
                client.write_all(&response).await?;
                if !keep_alive {
                    return Ok(());
                }
            }
            Err(_) => {
                // moto itself failed: say so as a gateway would.
                let body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
                write_response(&mut client, 502, "Bad Gateway", "text/html", body).await?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Sends the raw request to moto and reads its answer; returns (status, re-framed response).
async fn forward(shared: &Shared, msg: &Message) -> std::io::Result<(u16, Vec<u8>)> {
    let exchange = async {
        let mut up = TcpStream::connect(shared.upstream).await?;
        up.write_all(&msg.head).await?;
        up.write_all(&msg.body).await?;
        up.flush().await?;
        let mut buf = Vec::new();
        let mut first = None;
        let resp = read_message(&mut up, &mut buf, &mut first, true)
            .await?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        let status: u16 = resp.start_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let reason = resp.start_line.splitn(3, ' ').nth(2).unwrap_or("").to_string();
        // Re-framed with a length, so the client connection can be kept alive.
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (k, v) in &resp.headers {
            if ["content-length", "transfer-encoding", "connection", "keep-alive"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
                continue;
            }
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", resp.body.len()).as_bytes());
        out.extend_from_slice(&resp.body);
        Ok((status, out))
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

async fn write_response(client: &mut TcpStream, status: u16, reason: &str, content_type: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await?;
    client.write_all(body.as_bytes()).await?;
    client.flush().await
}

fn elb_error(kind: &str, code: &str, message: &str, seq: u64) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy-{seq:08}</RequestId></ErrorResponse>"
    )
}

/// Answers (or not) with the fault; the client connection ends afterwards.
async fn inject(client: &mut TcpStream, kind: FaultKind, delay: Duration, info: &RequestInfo, seq: u64) -> std::io::Result<()> {
    match kind {
        FaultKind::Throttle => {
            write_response(client, 400, "Bad Request", "text/xml", &elb_error("Sender", "Throttling", "Rate exceeded", seq)).await
        }
        FaultKind::Unavailable => {
            write_response(
                client,
                503,
                "Service Unavailable",
                "text/xml",
                &elb_error("Receiver", "ServiceUnavailable", "Service is unavailable. Please try again later.", seq),
            )
            .await
        }
        FaultKind::InternalHtml => {
            let body = format!("<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>{} failed (fault-proxy #{seq})</p></body></html>", info.action);
            write_response(client, 500, "Internal Server Error", "text/html", &body).await
        }
        FaultKind::Reset => {
            client.set_zero_linger()?;
            Ok(())
        }
        FaultKind::Timeout => {
            // Nothing comes back before the client gives up; then the connection closes.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(delay, async {
                // Returns early only if the client closed its side.
                loop {
                    match client.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_stream_is_seeded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(8).next_u64(), xs[0]);
        let mut r = Rng::new(3);
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2700..3300).contains(&hits), "{hits}");
    }

    #[test]
    fn percent_decoding_and_request_info() {
        assert_eq!(percent_decode("a%2Fb+c%3D"), "a/b c=");
        assert_eq!(percent_decode("100%"), "100%");
        let msg = Message {
            head: Vec::new(),
            body: b"Action=RegisterInstancesWithLoadBalancer&LoadBalancerName=my-lb&Version=2012-06-01".to_vec(),
            start_line: "POST / HTTP/1.1".into(),
            headers: vec![(
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKIDX/20240101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=00"
                    .into(),
            )],
        };
        let info = request_info(&msg);
        assert_eq!(
            (info.access_key.as_str(), info.action.as_str(), info.load_balancer.as_deref()),
            ("AKIDX", "RegisterInstancesWithLoadBalancer", Some("my-lb"))
        );
        assert!(Hold { mutating_only: true, access_key: Some("AKIDX".into()), ..Hold::default() }.matches(&info));
        assert!(!Hold { action: Some("DescribeTags".into()), ..Hold::default() }.matches(&info));
        assert!(is_mutating("CreateLoadBalancer") && !is_mutating("DescribeLoadBalancers"));
    }
}
