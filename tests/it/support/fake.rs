//! An in-process fake registry for what a real one cannot do on cue: token challenges, redirects
//! to another host, corrupt bytes. Every request is recorded; the handler decides each answer.
//! Strict by default (as xh's test server): when a `Fake` drops, the test fails if it answered a
//! request with [`Reply::unexpected`] or was never called, unless the test opted out with
//! [`Fake::allow_unexpected`] and said why. A TLS handshake gets what docker-registry (Go's
//! net/http) answers one on a plain port: `400 Bad Request`, then the connection closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Hit {
    /// The path without its query (a mirror's requests carry `?ns=REGISTRY`).
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub fault: Option<Fault>,
}

/// Misbehaviour while sending the body. Headers always announce the whole body.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Close the connection after this many body bytes.
    DropAfter(usize),
    /// Send this many body bytes, then go silent for the duration, then close.
    StallAfter(usize, std::time::Duration),
    /// Send the body at about this many bytes per second.
    Throttle(u64),
    /// Send the body one byte per interval: never stalled, never done.
    Drip(std::time::Duration),
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status, headers: Vec::new(), body: body.into(), fault: None }
    }

    /// Serve `bytes` as a blob, honouring a `Range: bytes=N-` request with a 206.
    pub fn blob(hit: &Hit, bytes: &[u8]) -> Reply {
        let range = hit
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split_once('-'));
        match range {
            Some((a, b)) => {
                let a: usize = a.parse().unwrap();
                let b: usize = if b.is_empty() {
                    bytes.len() - 1
                } else {
                    b.parse::<usize>().unwrap().min(bytes.len() - 1)
                };
                Reply::new(206, bytes[a..=b].to_vec())
                    .header("content-range", &format!("bytes {a}-{b}/{}", bytes.len()))
            }
            None => Reply::new(200, bytes.to_vec()),
        }
        .header("etag", "\"blob-etag\"")
    }

    pub fn fault(mut self, f: Fault) -> Reply {
        self.fault = Some(f);
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    /// The answer to a request the test did not expect; the fake records it as unexpected.
    pub fn unexpected() -> Reply {
        Reply::new(599, "unexpected request").header("x-fake-unexpected", "1")
    }
}

type Handler = dyn Fn(&Hit) -> Reply + Send + Sync;

pub struct Fake {
    /// `127.0.0.1:PORT`
    pub host: String,
    served: Arc<std::sync::atomic::AtomicU64>,
    connections: Arc<std::sync::atomic::AtomicU64>,
    tls_hellos: Arc<std::sync::atomic::AtomicU64>,
    hits: Arc<Mutex<Vec<Hit>>>,
    unexpected: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
    /// Set by [`Fake::allow_unexpected`]: no checks on drop.
    lenient: AtomicBool,
    /// Set by [`Fake::expect_unused`]: the drop check is that nobody called.
    unused: AtomicBool,
}

impl Fake {
    pub fn start(handler: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let unexpected = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let connections = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let tls_hellos = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (hits, unexpected, stop, served) =
                (hits.clone(), unexpected.clone(), stop.clone(), served.clone());
            let (connections, tls_hellos) = (connections.clone(), tls_hellos.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (hits, unexpected, handler, served) =
                        (hits.clone(), unexpected.clone(), handler.clone(), served.clone());
                    let (connections, tls_hellos) = (connections.clone(), tls_hellos.clone());
                    std::thread::spawn(move || {
                        if refuse_tls(&conn) {
                            tls_hellos.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        connections.fetch_add(1, Ordering::SeqCst);
                        serve(conn, &hits, &unexpected, &*handler, &served)
                    });
                }
            });
        }
        Fake {
            host,
            served,
            connections,
            tls_hellos,
            hits,
            unexpected,
            stop,
            lenient: AtomicBool::new(false),
            unused: AtomicBool::new(false),
        }
    }

    /// HTTP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections that opened with a TLS handshake (refused) so far.
    pub fn tls_hellos(&self) -> u64 {
        self.tls_hellos.load(Ordering::SeqCst)
    }

    /// Body bytes written to clients so far.
    pub fn bytes_served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn hits_to(&self, prefix: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path.starts_with(prefix)).collect()
    }

    /// Opt out of the checks on drop, for a test that truly cannot know its requests; `why` is
    /// for the reader.
    #[allow(dead_code)] // every test knows its requests today
    pub fn allow_unexpected(&self, why: &str) {
        assert!(!why.is_empty(), "say why the requests cannot be known");
        self.lenient.store(true, Ordering::SeqCst);
    }

    /// The test expects no request at all (the client must refuse before any): checked on drop.
    pub fn expect_unused(&self) {
        self.unused.store(true, Ordering::SeqCst);
    }

    /// Fails the test when the fake answered a request nobody expected (also checked on drop).
    pub fn assert_no_unexpected(&self) {
        let u = self.unexpected.lock().unwrap();
        assert!(
            u.is_empty(),
            "unexpected requests: {:?}",
            u.iter().map(|h| format!("{} {}", h.method, h.path)).collect::<Vec<_>>()
        );
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
        if std::thread::panicking() || self.lenient.load(Ordering::SeqCst) {
            return;
        }
        let hits = self.hits.lock().unwrap();
        if self.unused.load(Ordering::SeqCst) {
            let h: Vec<String> = hits.iter().map(|h| format!("{} {}", h.method, h.path)).collect();
            assert!(h.is_empty(), "the fake at {} expected no request, got {h:?}", self.host);
            return;
        }
        assert!(!hits.is_empty(), "the fake at {} was never called", self.host);
        drop(hits);
        self.assert_no_unexpected();
    }
}

/// Whether `conn` opened with a TLS record (content type 22, handshake); it then gets Go's answer
/// to a request line it cannot parse, read up to the first `\n` as Go does, and is closed as Go
/// closes it (write side first, then the rest read for a while, so that no RST eats the answer).
fn refuse_tls(conn: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    if !matches!(conn.peek(&mut first), Ok(1)) || first[0] != 0x16 {
        return false;
    }
    let mut line = Vec::new();
    let _ = BufReader::new(conn).read_until(b'\n', &mut line);
    let _ = (&*conn).write_all(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
          Connection: close\r\n\r\n400 Bad Request",
    );
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_millis(500)));
    let _ = std::io::copy(&mut (&*conn), &mut std::io::sink());
    true
}

fn serve(
    conn: TcpStream,
    hits: &Mutex<Vec<Hit>>,
    unexpected: &Mutex<Vec<Hit>>,
    handler: &Handler,
    served: &std::sync::atomic::AtomicU64,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) =
            (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let hit = Hit { method, path, headers, body };
        hits.lock().unwrap().push(hit.clone());
        let reply = handler(&hit);
        if reply.headers.iter().any(|(k, _)| k == "x-fake-unexpected") {
            unexpected.lock().unwrap().push(hit.clone());
        }
        let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
        let has_len = reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let chunked_reply =
            reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
        if !has_len && !chunked_reply {
            head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        }
        head.push_str("\r\n");
        let body = if hit.method == "HEAD" { &[][..] } else { &reply.body[..] };
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunked = reply
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
        let sent = match reply.fault {
            None if chunked => {
                let mut r = Ok(body.len());
                for c in body.chunks(8192).chain(std::iter::once(&[][..])) {
                    let framed = [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat();
                    if let Err(e) = writer.write_all(&framed) {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
            None => writer.write_all(body).map(|()| body.len()),
            Some(Fault::DropAfter(k)) => {
                writer.write_all(&body[..k.min(body.len())]).map(|()| k.min(body.len()))
            }
            Some(Fault::StallAfter(k, d)) => {
                let r = writer.write_all(&body[..k.min(body.len())]).map(|()| k.min(body.len()));
                let _ = writer.flush();
                // Counted before the stall: a test can tell when all of it was written.
                if let Ok(n) = r {
                    served.fetch_add(n as u64, Ordering::SeqCst);
                }
                std::thread::sleep(d);
                r.map(|_| 0)
            }
            Some(Fault::Throttle(rate)) => {
                let started = std::time::Instant::now();
                let mut n = 0;
                let mut r = Ok(0);
                for chunk in body.chunks(16 * 1024) {
                    if let Err(e) = writer.write_all(chunk) {
                        r = Err(e);
                        break;
                    }
                    n += chunk.len();
                    served.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    let due = std::time::Duration::from_secs_f64(n as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                r.map(|_| 0) // counted as it went
            }
            Some(Fault::Drip(every)) => {
                let mut r = Ok(0);
                for b in body {
                    if let Err(e) = writer.write_all(&[*b]).and_then(|()| writer.flush()) {
                        r = Err(e);
                        break;
                    }
                    served.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(every);
                }
                r
            }
        };
        match sent {
            Ok(n) => served.fetch_add(n as u64, Ordering::SeqCst),
            Err(_) => return,
        };
        if reply.fault.is_some() && !matches!(reply.fault, Some(Fault::Throttle(_))) {
            return; // the fault ends the connection
        }
        if has_len {
            return; // a scripted Content-Length may disagree with the body: close to end it
        }
    }
}

/// How the scripted registry guards its API.
#[derive(Debug, Clone)]
pub enum Guard {
    Open,
    /// Bearer challenge; the token endpoint at `/token` wants this `Authorization` (or none).
    Bearer {
        token_auth: Option<String>,
    },
}

pub const TOKEN: &str = "tok-3f9a";

/// A scripted registry serving repository `x`, tag `v1`: an artifact manifest over `layers`
/// (title, bytes). Blob GETs are redirected to `redirect_to` (another host) when given.
pub fn artifact(layers: Vec<(&str, Vec<u8>)>, guard: Guard, redirect_to: Option<String>) -> Fake {
    artifact_with(layers, guard, move |_, digest, bytes| match &redirect_to {
        Some(other) => Reply::new(307, "")
            .header("location", &format!("http://{other}/cdn/{digest}?sig=secret")),
        None => Reply::new(200, bytes.to_vec()),
    })
}

/// Like [`artifact`], with `blob` deciding each blob answer from (request, digest, true bytes).
pub fn artifact_with(
    layers: Vec<(&str, Vec<u8>)>,
    guard: Guard,
    blob: impl Fn(&Hit, &str, &[u8]) -> Reply + Send + Sync + 'static,
) -> Fake {
    use oci_dl::{Algorithm, Digest};
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(t, b)| {
            serde_json::json!({"mediaType": "application/octet-stream", "digest": Digest::of(Algorithm::Sha256, b).to_string(),
                "size": b.len(), "annotations": {"org.opencontainers.image.title": t}})
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::of(Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": descs,
    }))
    .unwrap();
    let manifest_digest = Digest::of(Algorithm::Sha256, &manifest).to_string();
    let blobs: Vec<(String, Vec<u8>)> = layers
        .into_iter()
        .map(|(_, b)| (Digest::of(Algorithm::Sha256, &b).to_string(), b))
        .collect();
    let me: Arc<std::sync::OnceLock<String>> = Arc::default();
    let me2 = me.clone();
    let fake = Fake::start(move |hit| {
        let host = me2.get().cloned().unwrap_or_default();
        if hit.route().starts_with("/token") {
            return match &guard {
                Guard::Bearer { token_auth }
                    if hit.header("authorization") == token_auth.as_deref() =>
                {
                    Reply::new(200, format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#))
                }
                Guard::Bearer { .. } => Reply::new(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
                ),
                Guard::Open => Reply::unexpected(),
            };
        }
        if let Guard::Bearer { .. } = &guard
            && hit.header("authorization") != Some(&format!("Bearer {TOKEN}"))
        {
            return Reply::new(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
            .header(
                "www-authenticate",
                &format!(
                    r#"Bearer realm="http://{host}/token",service="fake",scope="repository:x:pull""#
                ),
            );
        }
        if hit.route() == "/v2/x/manifests/v1" {
            // As distribution answers a GET or HEAD of a manifest.
            return Reply::new(200, manifest.clone())
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .header("docker-content-digest", &manifest_digest);
        }
        for (d, b) in &blobs {
            if hit.route() == format!("/v2/x/blobs/{d}") {
                return blob(hit, d, b);
            }
        }
        Reply::unexpected()
    });
    me.set(fake.host.clone()).unwrap();
    fake
}

/// A plain file server standing in for a CDN: serves `files` by digest under `/cdn/`.
pub fn cdn(files: Vec<Vec<u8>>) -> Fake {
    use oci_dl::{Algorithm, Digest};
    Fake::start(move |hit| {
        for b in &files {
            if hit.path.starts_with(&format!("/cdn/{}", Digest::of(Algorithm::Sha256, b))) {
                return Reply::new(200, b.clone());
            }
        }
        Reply::unexpected()
    })
}

/// A fake in front of a real registry at `upstream`: `answer` decides the requests it returns
/// `Some` for; every other GET or HEAD goes to the registry unchanged (path, `Accept`, `Range`,
/// `Authorization`), as a transparent proxy would, and its answer comes back as it was.
pub fn passthrough(
    upstream: String,
    answer: impl Fn(&Hit) -> Option<Reply> + Send + Sync + 'static,
) -> Fake {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    Fake::start(move |hit| {
        if let Some(r) = answer(hit) {
            return r;
        }
        let url = format!("http://{upstream}{}", hit.path);
        let mut req = match hit.method.as_str() {
            "GET" => agent.get(&url),
            "HEAD" => agent.head(&url),
            _ => return Reply::unexpected(),
        };
        for h in ["accept", "range", "authorization"] {
            if let Some(v) = hit.header(h) {
                req = req.header(h, v);
            }
        }
        let Ok(mut resp) = req.call() else { return Reply::new(502, "upstream unreachable") };
        let mut reply = Reply::new(resp.status().as_u16(), Vec::new());
        for h in ["content-type", "docker-content-digest", "content-range", "location", "etag"] {
            if let Some(v) = resp.headers().get(h).and_then(|v| v.to_str().ok()) {
                reply = reply.header(h, v);
            }
        }
        if hit.method == "GET" {
            reply.body = resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
        }
        reply
    })
}
