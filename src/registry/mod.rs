//! The only place URLs are built and requests sent. One [`Client`] talks to one registry over one
//! shared agent (connection reuse for the whole run); auth is a layer inside [`Client::send`].

mod auth;
pub mod challenge;
pub mod credentials;
mod referrers;
mod sources;
mod status;
mod tags;
mod transport;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::{self, Response};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{ACCEPT, MAX_MANIFEST_BYTES};
use crate::reference::Reference;
use crate::retry::{Cancel, Gate, RetryPolicy};

pub use credentials::Credentials;
pub(crate) use sources::{blob_key, manifest_key};
use status::*;
use tags::*;
pub use tags::{MAX_TAG_BYTES, MAX_TAGS};
pub use transport::Pin;
use transport::*;

/// Error bodies are read up to this size, then cut.
const MAX_ERROR_BODY: u64 = 64 * 1024;
const MAX_REDIRECTS: usize = 10;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Use `http://` even for non-loopback hosts.
    pub plain_http: bool,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Extra PEM root certificates.
    pub ca_file: Option<PathBuf>,
    /// Explicit credentials; when `None`, `sources` are consulted.
    pub credentials: Option<Credentials>,
    /// Where else credentials may come from (tokens in the environment, config files, helpers).
    pub sources: credentials::Sources,
    /// A read that delivers nothing for this long fails (default 30 s).
    pub timeout: Option<Duration>,
    /// A small answer (headers, manifest, token, tag list, error body) must be complete within
    /// this (default 60 s), however steadily it trickles in.
    pub deadline: Option<Duration>,
    /// Pinned addresses, as curl's `--resolve`: `(host, port) → address`.
    pub resolve: Vec<Pin>,
    /// How hard to retry transient failures.
    pub retry: RetryPolicy,
    /// Set by the front end's signal handler to stop the run.
    pub cancel: Cancel,
    /// The shared blob cache, if any.
    pub cache: Option<PathBuf>,
    /// Mirrors and remapped locations (`registries.conf`, `--mirror`).
    pub mirrors: crate::mirrors::Mirrors,
}

/// A client for one registry.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    host: String,
    auth: auth::Auth,
    log: Arc<dyn Observer>,
    retry: RetryPolicy,
    cancel: Cancel,
    gate: Gate,
    quota_warned: std::sync::atomic::AtomicBool,
    cache: Option<crate::cache::Cache>,
    deadline: Duration,
    sources: sources::Sources,
    _watch: CancelWatch,
}

/// Closes every connection of an agent once the cancel flag is set, so that no blocked read
/// (headers, bodies, a TLS handshake) outlives a Ctrl-C or SIGTERM. Stops when dropped.
struct CancelWatch {
    alive: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CancelWatch {
    fn start(agent: ureq::Agent, cancel: Cancel) -> CancelWatch {
        use std::sync::atomic::Ordering;
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let still = alive.clone();
        let thread = std::thread::spawn(move || {
            while still.load(Ordering::Relaxed) {
                if cancel.is_set() {
                    agent.shutdown();
                    return;
                }
                std::thread::park_timeout(Duration::from_millis(50));
            }
        });
        CancelWatch { alive, thread: Some(thread) }
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        self.alive.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// What a request fetches, which decides how long it may take as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// A manifest or tag list: the whole answer within the deadline.
    Small,
    /// A blob: any length, as long as it keeps moving (only its headers have a deadline).
    Blob,
}

/// A manifest body as served, with the headers that say what it is.
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`, when the registry sent it.
    pub served_digest: Option<String>,
}

/// A response whose status was 2xx.
pub struct Reply {
    pub response: Response<ureq::Body>,
    pub url: String,
    deadline: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Read at most `cap` bytes of the body; a failure is a (retryable) network error.
    pub fn read_body(self, cap: u64, what: &str) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        self.response.into_body().into_reader().take(cap).read_to_end(&mut body).map_err(|e| {
            body_error(&format!("GET {}: reading {what}", self.url), e, self.deadline)
        })?;
        Ok(body)
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// Check that a 206 answer to a range request for `digest` from byte `from` starts there; a
    /// server that sends another range is a (retryable) network error.
    pub fn starts_at(&self, from: u64, digest: &Digest) -> Result<(), Error> {
        let start = self.header("content-range").and_then(content_range_start);
        if start == Some(from) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Network,
            format!("blob {digest}: asked for bytes from {from}, got range {start:?}"),
        )
        .transient(true))
    }
}

/// `Content-Range: bytes START-END/TOTAL` → START (the one parser of it).
fn content_range_start(v: &str) -> Option<u64> {
    v.trim().strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Whether `host` (with optional port) is a loopback name or address, served over plain HTTP.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `reference`'s registry alone. Credentials: explicit ones, else the Docker
    /// config.
    pub(super) fn direct(
        reference: &Reference,
        opts: &ClientOptions,
        log: Arc<dyn Observer>,
    ) -> Result<Client, Error> {
        let host = reference.api_host().to_owned();
        let plain = opts.plain_http || is_loopback(&host);
        let scheme = if plain { "http" } else { "https" };
        let credentials = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => {
                let found = opts.sources.find(reference.registry())?;
                if let Some(f) = &found {
                    log.log(
                        Level::Debug,
                        format!("using credentials for {} from {}", reference.registry(), f.source),
                    );
                }
                found.map(|f| f.credentials)
            }
        };
        let tls = if plain { TlsConfig::default() } else { tls_config(opts)? };
        let deadline = opts.deadline.unwrap_or(DEFAULT_DEADLINE);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("oci-dl/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(opts.timeout.unwrap_or(Duration::from_secs(30))))
            .timeout_recv_response(Some(deadline))
            .input_buffer_size(256 * 1024)
            .max_idle_connections_per_host(16)
            .tls_config(tls)
            .proxy(proxy_for(scheme, &host, &*log)?)
            .build();
        let resolver = PinnedResolver { pins: opts.resolve.clone(), system: Default::default() };
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            resolver,
        );
        Ok(Client {
            _watch: CancelWatch::start(agent.clone(), opts.cancel.clone()),
            agent,
            base: format!("{scheme}://{host}"),
            host,
            auth: auth::Auth::new(credentials, !plain, deadline),
            log,
            retry: opts.retry.clone(),
            cancel: opts.cancel.clone(),
            gate: Gate::new(1),
            quota_warned: Default::default(),
            cache: opts.cache.clone().map(crate::cache::Cache::new),
            deadline,
            sources: Default::default(),
        })
    }

    /// Allow `n` transfers in flight (the pull's `--jobs`); a 429 lowers it for a while.
    pub fn with_concurrency(mut self, n: usize) -> Client {
        self.gate = Gate::new(n);
        self
    }

    /// Run `attempt` under the client's retry policy, cancel flag and concurrency gate; its
    /// retries are reported as those of transfer `index` (`None`: no file's request).
    pub fn retrying<T>(
        &self,
        index: Option<usize>,
        what: &str,
        attempt: impl FnMut(u32) -> Result<T, Error>,
    ) -> Result<T, Error> {
        crate::retry::run(&self.retry, &self.cancel, &self.gate, &*self.log, (index, what), attempt)
    }

    /// How many transfers may be in flight at once (`--jobs`).
    pub fn concurrency(&self) -> usize {
        self.gate.capacity()
    }

    /// The blob cache, when one is in use.
    pub fn cache(&self) -> Option<&crate::cache::Cache> {
        self.cache.as_ref()
    }

    /// The run's cancel flag.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn debug(&self, message: String) {
        self.log.log(Level::Debug, message);
    }

    /// GET a manifest by tag or digest. Returns the raw body and its content type. The body is
    /// capped at [`MAX_MANIFEST_BYTES`] and, when fetched by digest, verified against it.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<RawManifest, Error> {
        self.retrying(None, &format!("manifest {repo}:{reference}"), |_| {
            self.each_source(sources::manifest_key(repo, reference), repo, |c, repo| {
                c.manifest_once(repo, reference)
            })
        })
    }

    fn manifest_once(&self, repo: &str, reference: &str) -> Result<RawManifest, Error> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let reply = self.get(&path, repo, &[("accept", ACCEPT)], Body::Small)?;
        if let Some(len) = reply.content_length()
            && len > MAX_MANIFEST_BYTES
        {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "GET {}: manifest is {len} bytes, over the {MAX_MANIFEST_BYTES}-byte cap",
                    reply.url
                ),
            ));
        }
        let content_type = reply.header("content-type").map(str::to_owned);
        let served_digest = reply.header("docker-content-digest").map(str::to_owned);
        let url = reply.url.clone();
        let body = reply.read_body(MAX_MANIFEST_BYTES + 1, "manifest")?;
        if body.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(Error::new(
                ErrorKind::Other,
                format!("GET {url}: manifest is over the {MAX_MANIFEST_BYTES}-byte cap"),
            ));
        }
        Ok(RawManifest { bytes: body, content_type, served_digest })
    }

    /// Every tag of `repo`, handed to `on_tag` page by page as they arrive, following
    /// `Link: <…>; rel="next"` pagination within the bounds of [`TagWalk`]. Returns the count.
    pub fn tags(
        &self,
        repo: &str,
        on_tag: &mut dyn FnMut(&str) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut path = format!("/v2/{repo}/tags/list?n=1000");
        let mut walk = TagWalk::new(repo);
        walk.visit(&path)?;
        loop {
            let (next, url, body) = self.retrying(None, &format!("tags of {repo}"), |_| {
                let reply =
                    self.get(&path, repo, &[("accept", "application/json")], Body::Small)?;
                let next = reply.header("link").and_then(next_link);
                let url = reply.url.clone();
                Ok((next, url, reply.read_body(MAX_MANIFEST_BYTES, "tags")?))
            })?;
            let page: Page = serde_json::from_slice(&body).map_err(|e| {
                Error::new(ErrorKind::Other, format!("GET {url}: not a tag list ({e})"))
            })?;
            let tags = page.tags.unwrap_or_default();
            walk.page(body.len(), tags.len())?;
            for t in &tags {
                on_tag(t)?;
            }
            path = match next {
                Some(n) if n.starts_with('/') => n,
                Some(n) if n.starts_with(&self.base) => n[self.base.len()..].to_owned(),
                Some(n) => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("tag list points to another host: {n}"),
                    ));
                }
                None => return Ok(walk.tags),
            };
            walk.visit(&path)?;
        }
    }

    /// GET a blob, optionally from byte `from`. Redirects (to CDNs) are followed without our
    /// credentials. Each call starts at the registry URL, so a retry never reuses an expired signed
    /// `Location`. With `from > 0` a `Range` is sent, and `If-Range` when an ETag is known.
    pub fn blob(
        &self,
        repo: &str,
        digest: &Digest,
        from: u64,
        if_range: Option<&str>,
    ) -> Result<Reply, Error> {
        self.blob_range(repo, digest, from, None, if_range)
    }

    /// A small blob (a config, a signature, a checksum list) into memory, retried, and checked
    /// against its descriptor's size and digest. Callers cap `d.size` first.
    pub fn small_blob(
        &self,
        repo: &str,
        d: &crate::manifest::Descriptor,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        loop {
            let bytes = self.retrying(None, &format!("blob {what}"), |_| {
                self.blob(repo, &d.digest, 0, None)?.read_body(d.size + 1, what)
            })?;
            let got = Digest::of(d.digest.algorithm(), &bytes);
            if bytes.len() as u64 == d.size && got == d.digest {
                return Ok(bytes);
            }
            let e = Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: got {} bytes hashing to {got}, expected {} and {}",
                    bytes.len(),
                    d.size,
                    d.digest
                ),
            );
            // Bad bytes from a mirror: the next source is asked.
            if !self.distrust(&sources::blob_key(&d.digest), &e) {
                return Err(e);
            }
        }
    }

    /// GET bytes `from..=to` (or `from..` without `to`) of a blob; see [`Client::blob`].
    pub fn blob_range(
        &self,
        repo: &str,
        digest: &Digest,
        from: u64,
        to: Option<u64>,
        if_range: Option<&str>,
    ) -> Result<Reply, Error> {
        self.each_source(sources::blob_key(digest), repo, |c, repo| {
            c.blob_range_once(repo, digest, from, to, if_range)
        })
    }

    fn blob_range_once(
        &self,
        repo: &str,
        digest: &Digest,
        from: u64,
        to: Option<u64>,
        if_range: Option<&str>,
    ) -> Result<Reply, Error> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let range = match (from, to) {
            (0, None) => None,
            (f, None) => Some(format!("bytes={f}-")),
            (f, Some(t)) => Some(format!("bytes={f}-{t}")),
        };
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(r) = &range {
            headers.push(("range", r));
            if let Some(etag) = if_range.filter(|e| strong_etag(e)) {
                headers.push(("if-range", etag));
            }
        }
        self.get(&path, repo, &headers, Body::Blob)
    }

    /// GET `path` with auth and redirects, and turn non-2xx answers into errors.
    fn get(
        &self,
        path: &str,
        repo: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Reply, Error> {
        let scope = format!("repository:{repo}:pull");
        let mut url = format!("{}{}", self.base, path);
        let mut retried_auth = false;
        let mut hops = 0;
        loop {
            let same_host = url_authority(&url).is_some_and(|a| a.eq_ignore_ascii_case(&self.host))
                && url.starts_with(&self.base);
            let what = |u: &str| format!("GET {}", display_url(u, same_host));
            let mut req = self.agent.get(&url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if same_host && let Some(value) = self.auth.header_for(&scope) {
                req = req.header("authorization", value);
            }
            if body == Body::Small {
                req = req.config().timeout_global(Some(self.deadline)).build();
            }
            let started = Instant::now();
            let until = started + self.deadline;
            let resp = req.call().map_err(|e| {
                network(&format!("GET {}", display_url(&url, same_host)), e, self.deadline)
            })?;
            let status = resp.status().as_u16();
            self.debug(format!(
                "GET {} -> {status} in {} ms",
                display_url(&url, same_host),
                started.elapsed().as_millis()
            ));
            match status {
                200..=299 => {
                    if let Some(q) = rate_limit(resp.headers()) {
                        self.debug(format!(
                            "ratelimit-limit {} ratelimit-remaining {}",
                            q.limit, q.remaining
                        ));
                        if q.low()
                            && !self.quota_warned.swap(true, std::sync::atomic::Ordering::Relaxed)
                        {
                            self.log.log(Level::Warn, q.describe());
                        }
                    }
                    return Ok(Reply { response: resp, url, deadline: self.deadline });
                }
                401 if same_host && !retried_auth => {
                    retried_auth = true;
                    let challenges: Vec<String> = resp
                        .headers()
                        .get_all("www-authenticate")
                        .iter()
                        .filter_map(|v| v.to_str().ok().map(str::to_owned))
                        .collect();
                    if challenges.is_empty() {
                        return Err(status_error(resp, &what(&url), until));
                    }
                    // Drain the small 401 body so its connection can be reused for the retry.
                    read_error_body(resp, until);
                    self.auth.authenticate(&self.agent, &challenges, &scope, &*self.log)?;
                }
                301 | 302 | 303 | 307 | 308 => {
                    hops += 1;
                    let location = resp.headers().get("location").and_then(|v| v.to_str().ok());
                    let Some(location) = location.filter(|_| hops <= MAX_REDIRECTS) else {
                        return Err(Error::new(
                            ErrorKind::Network,
                            format!(
                                "GET {}: {status} redirect without a usable Location (or more than {MAX_REDIRECTS})",
                                display_url(&url, same_host)
                            ),
                        ));
                    };
                    url = resolve_location(&url, location)?;
                }
                _ => return Err(status_error(resp, &what(&url), until)),
            }
        }
    }
}

/// Whether `s` is a strong entity-tag (RFC 9110 8.8.3: `"` visible ASCII but `"` `"`), the only
/// kind `If-Range` may carry. Anything else from a registry or a resume record is ignored.
pub(crate) fn strong_etag(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with('"')
        && s.ends_with('"')
        && s[1..s.len() - 1].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
}

/// The authority (`host[:port]`) of an absolute http(s) URL.
pub(crate) fn url_authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Another host's URL may be signed: keep its query out of logs and errors.
fn display_url(url: &str, same_host: bool) -> &str {
    if same_host { url } else { url.split('?').next().unwrap_or(url) }
}

fn resolve_location(base: &str, location: &str) -> Result<String, Error> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_owned());
    }
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let origin_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{}{rest}", &base[..scheme_end]));
    }
    if location.starts_with('/') {
        return Ok(format!("{}{location}", &base[..origin_end]));
    }
    Err(Error::new(ErrorKind::Network, format!("unsupported redirect Location {location:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_starts() {
        assert_eq!(content_range_start("bytes 5-9/10"), Some(5));
        assert_eq!(content_range_start(" bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */10"), None);
        assert_eq!(content_range_start("items 5-9/10"), None);
        assert_eq!(content_range_start("bytes -5/10"), None);
    }

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:5000",
            "LOCALHOST:1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com", "[::2]:5000", "128.0.0.1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn resolve_pins_parse() {
        let p: Pin = "registry.test:5443:127.0.0.1".parse().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.addr.to_string().as_str()),
            ("registry.test", 5443, "127.0.0.1")
        );
        let p: Pin = "Reg.Test:443:[::1]".parse().unwrap();
        assert_eq!((p.host.as_str(), p.addr.to_string().as_str()), ("reg.test", "::1"));
        for bad in
            ["x", "x:1", ":1:127.0.0.1", "x:port:127.0.0.1", "x:1:not-an-ip", "x:70000:127.0.0.1"]
        {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://a/p>; rel="prev", <https://a/n>; rel="next""#).as_deref(),
            Some("https://a/n")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }

    #[test]
    fn tag_walks_refuse_loops_and_stop_at_their_caps() {
        let mut w = TagWalk::new("x");
        w.visit("/v2/x/tags/list?n=2").unwrap();
        w.visit("/v2/x/tags/list?n=2&last=b").unwrap();
        w.visit("/v2/x/tags/list?n=2&last=d").unwrap();
        let e = w.visit("/v2/x/tags/list?n=2").unwrap_err();
        assert!(e.to_string().contains("points back to a page already read"), "{e}");
        let e = w.visit("/v2/x/tags/list?last=b&n=3").unwrap_err();
        assert!(e.to_string().contains("already read"), "the same cursor elsewhere: {e}");

        let mut w = TagWalk { max_tags: 5, max_bytes: 100, ..TagWalk::new("x") };
        w.page(40, 5).unwrap();
        assert_eq!(w.page(10, 1).unwrap_err().to_string(), "tags of x: more than 5 tags");
        let mut w = TagWalk { max_tags: 5, max_bytes: 100, ..TagWalk::new("x") };
        w.page(100, 1).unwrap();
        let e = w.page(1, 0).unwrap_err();
        assert_eq!(e.to_string(), "tags of x: more than 100 bytes of tag lists");
    }

    #[test]
    fn only_strong_entity_tags_pass() {
        for ok in [r#""abc""#, r#""""#, r#""sha256:0f/x-y!""#] {
            assert!(strong_etag(ok), "{ok}");
        }
        for bad in [
            r#"W/"weak""#,
            "abc",
            r#""a b""#,
            "\"a\"\r\nx-injected: 1",
            "\"a\tb\"",
            "\"\u{e9}\"",
            r#""a"b""#,
            "\"",
            "",
        ] {
            assert!(!strong_etag(bad), "{bad:?}");
        }
    }

    #[test]
    fn quota_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("ratelimit-limit", "100;w=21600".parse().unwrap());
        h.insert("ratelimit-remaining", "3;w=21600".parse().unwrap());
        let q = rate_limit(&h).unwrap();
        assert!(q.low());
        assert!(
            q.describe().starts_with("pull quota: 3 of 100 per 6 h window left;"),
            "{}",
            q.describe()
        );
        assert!(rate_limit(&http::HeaderMap::new()).is_none());
    }

    #[test]
    fn no_proxy_table() {
        let cases = [
            ("localhost,127.0.0.1", "127.0.0.1", true),
            ("example.com", "registry.example.com", true),
            (".example.com", "example.com", true),
            ("*.example.com", "a.example.com", true),
            ("example.com", "notexample.com", false),
            ("*", "anything", true),
            ("", "x", false),
            ("[::1]", "::1", true),
        ];
        for (list, host, want) in cases {
            assert_eq!(no_proxy_matches(list, host), want, "{list} {host}");
        }
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/sha256:x";
        assert_eq!(
            resolve_location(base, "/other?x=1").unwrap(),
            "http://127.0.0.1:5000/other?x=1"
        );
        assert_eq!(
            resolve_location(base, "https://cdn.example/b").unwrap(),
            "https://cdn.example/b"
        );
        assert_eq!(resolve_location(base, "//cdn.example/b").unwrap(), "http://cdn.example/b");
        assert!(resolve_location(base, "relative").is_err());
    }

    #[test]
    fn error_bodies_are_decoded() {
        let b =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(describe_error_body(b).unwrap(), "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(describe_error_body(b"<html><body>502</body></html>"), None);
        assert_eq!(describe_error_body(b"  "), None);
        assert_eq!(describe_error_body(b"denied\nmore").unwrap(), "denied");
    }

    #[test]
    fn signed_urls_are_not_shown_for_other_hosts() {
        assert_eq!(display_url("https://cdn/x?sig=abc", false), "https://cdn/x");
        assert_eq!(display_url("https://reg/v2/?n=1", true), "https://reg/v2/?n=1");
        assert_eq!(url_authority("https://a.b:5/x?y"), Some("a.b:5"));
    }
}
