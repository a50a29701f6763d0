//! The only place URLs are built and requests sent. One [`Client`] talks to one registry over one
//! shared agent (connection reuse for the whole run); auth is a layer around each send (send.rs).

mod archive_in;
mod auth;
pub mod challenge;
pub mod credentials;
mod floor;
mod manifests;
mod origin;
mod referrers;
mod remembered;
mod send;
mod sources;
mod status;
pub mod store;
mod tags;
mod transport;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::TlsConfig;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{ACCEPT, MAX_MANIFEST_BYTES};
use crate::reference::Reference;
use crate::retry::{Cancel, Gate, RetryPolicy};

pub use credentials::Credentials;
use send::Body;
pub use send::Reply;
pub(crate) use sources::{blob_key, manifest_key};
pub use tags::{MAX_TAG_BYTES, MAX_TAGS};
use tags::{TagWalk, next_link};
pub use transport::Pin;
use transport::{CancelWatch, PinnedResolver, proxy_for, tls_config};

/// Error bodies are read up to this size, then cut.
const MAX_ERROR_BODY: u64 = 64 * 1024;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// How to reach a registry. The default is anonymous (no credentials, no credential files
/// read: [`CredentialSources::from_env`](crate::CredentialSources::from_env) reads them as the CLI does), with no blob cache
/// ([`Cache::default_dir`](crate::Cache::default_dir) is the CLI's), no mirrors and the default
/// timeouts and retries; set the fields you need on it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Use `http://` even for non-loopback hosts.
    pub plain_http: bool,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// A registry `registries.conf` marks `insecure`: besides skipping verification, it may be
    /// reached over plain HTTP when it does not speak TLS, as loopback registries are
    /// (containers-registries.conf(5)). Set per source by the mirror table.
    pub insecure_registry: bool,
    /// Extra PEM root certificates.
    pub ca_file: Option<PathBuf>,
    /// Explicit credentials; when `None`, `sources` are consulted.
    pub credentials: Option<Credentials>,
    /// Where else credentials may come from (tokens in the environment, config files, helpers).
    pub sources: credentials::CredentialSources,
    /// A read that delivers nothing for this long fails (default 30 s).
    pub timeout: Option<Duration>,
    /// A small answer (headers, manifest, token, tag list, error body) must be complete within
    /// this (default 60 s), however steadily it trickles in.
    pub deadline: Option<Duration>,
    /// How long a connection may take to be accepted (default 30 s; a mirror gets at most 1 s).
    pub connect_timeout: Option<Duration>,
    /// Pinned addresses, as curl's `--resolve`: `(host, port) → address`.
    pub resolve: Vec<Pin>,
    /// How hard to retry transient failures.
    pub retry: RetryPolicy,
    /// The caller's token to stop the run (see [`Cancel`]).
    pub cancel: Cancel,
    /// The shared blob cache, if any.
    pub cache: Option<PathBuf>,
    /// Read from this directory instead of the network: an OCI layout, or the cache alone.
    pub store: Option<store::Store>,
    /// Mirrors and remapped locations (`registries.conf`, `--mirror`).
    pub mirrors: crate::mirrors::Mirrors,
}

/// A client for one registry.
pub struct Client {
    agent: ureq::Agent,
    origin: origin::Origin,
    memory: remembered::Memory,
    host: String,
    auth: auth::Auth,
    log: Arc<dyn Observer>,
    retry: RetryPolicy,
    cancel: Cancel,
    gate: Gate,
    quota_warned: std::sync::atomic::AtomicBool,
    deadline: Duration,
    /// `--timeout`: the longest a read may wait.
    read_timeout: Duration,
    sources: sources::Sources,
    /// For a mirror's own client: the flag that drops it for the run, raised by its blob
    /// bodies when they fall under the floor (see [`send::Floor`]).
    mirror_dead: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// For a mirror's own client: the registry it stands in for, sent as `ns=` on every
    /// request.
    mirror_of: Option<String>,
    /// A directory answering instead of the network (an OCI layout, or the cache offline).
    store: Option<store::Store>,
    /// Manifests kept by digest and the digests tags last named, for re-pulls that ask only a
    /// HEAD (none for a mirror's own client, a local store, or without a cache).
    manifests: Option<crate::cache::Cache>,
    /// The reference's registry, as the cache remembers tags under it.
    registry: String,
    _watch: CancelWatch,
}

/// A manifest body as served, with the headers that say what it is.
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`, when the registry sent it.
    pub served_digest: Option<String>,
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
        let origin = origin::Origin::new(&host, opts.plain_http, opts.insecure_registry);
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
        let tls = if opts.plain_http { TlsConfig::default() } else { tls_config(opts)? };
        let deadline = opts.deadline.unwrap_or(DEFAULT_DEADLINE);
        let read_timeout = opts.timeout.unwrap_or(Duration::from_secs(30));
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("oci-dl/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(opts.connect_timeout.unwrap_or(Duration::from_secs(30))))
            .timeout_per_read(Some(read_timeout))
            .timeout_recv_response(Some(deadline))
            .input_buffer_size(256 * 1024)
            .max_idle_connections_per_host(16)
            .tls_config(tls)
            .proxy(proxy_for(origin.first_scheme(), &host, &*log)?)
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
            origin,
            memory: remembered::Memory::load(opts.cache.as_deref(), &host),
            host,
            auth: auth::Auth::new(credentials, deadline),
            log,
            retry: opts.retry.clone(),
            cancel: opts.cancel.clone(),
            gate: Gate::new(1),
            quota_warned: Default::default(),
            deadline,
            read_timeout,
            sources: Default::default(),
            mirror_dead: None,
            mirror_of: None,
            store: opts.store.clone().map(|s| s.for_registry(reference.registry())),
            manifests: opts
                .cache
                .as_ref()
                .filter(|_| opts.store.is_none())
                .map(crate::cache::Cache::new),
            registry: reference.registry().to_owned(),
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

    /// The run's cancel flag.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn debug(&self, message: String) {
        self.log.log(Level::Debug, message);
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
                Some(ref n) if let Some(p) = n.strip_prefix(self.origin.base()) => p.to_owned(),
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

    /// GET bytes `from..=to` (or `from..` without `to`) of a blob; see [`Client::blob`].
    pub fn blob_range(
        &self,
        repo: &str,
        digest: &Digest,
        from: u64,
        to: Option<u64>,
        if_range: Option<&str>,
    ) -> Result<Reply, Error> {
        self.each_source(sources::blob_key(digest), repo, true, |c, repo| {
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
        let mut reply = self.get(&path, repo, &headers, Body::Blob)?;
        reply.floor = self.mirror_dead.clone().map(|dead| floor::Floor {
            dead,
            host: self.host.clone(),
            window: self.read_timeout * 2,
            log: self.log.clone(),
        });
        Ok(reply)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
