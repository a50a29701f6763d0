//! One host the run talks to — the registry, or one of its mirrors: its agent (connection reuse
//! for the whole run), which scheme reaches it, its auth and the challenge a cache remembers,
//! and for a mirror the registry it stands in for and the floor under its blob bodies. The
//! request path itself is in send.rs; which endpoint is asked, retries and the fail-over are the
//! [`Client`](super::Client)'s.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ureq::tls::TlsConfig;

use super::floor::Floor;
use super::proxies::{Net, Proxies};
use super::send::Body;
use super::transport::{CancelWatch, PinnedResolver, tls_config};
use super::{ClientOptions, DEFAULT_DEADLINE, Reply, auth, origin, remembered, store};
use crate::digest::Digest;
use crate::error::Error;
use crate::events::{Level, Observer};
use crate::manifest::ACCEPT;
use crate::reference::Reference;

/// All connections' read buffers together stay near this whatever `--jobs` is, each one...
const READ_BUDGET: usize = 4 * 1024 * 1024;
/// ...at most this (reads this big keep loopback fast)...
const READ_MAX: usize = 256 * 1024;
/// ...and at least this: more than the longest response head ([`HEAD_MAX`]), so that a longer
/// one is seen to be too long. A buffer of exactly `HEAD_MAX` fills up with such a head and
/// reads as a closed connection, which is retried.
const READ_MIN: usize = HEAD_MAX + 4 * 1024;
/// The longest response head taken (ureq's default, set here since [`READ_MIN`] depends on it).
const HEAD_MAX: usize = 64 * 1024;
const _: () = assert!(READ_MIN > HEAD_MAX, "a head over the limit must not fill the buffer");
/// Requests are heads and small token forms; ureq zero-fills this buffer on every connection,
/// and needs each line of a request's head (its URL, a token) to fit in it.
pub(super) const WRITE_BUFFER: usize = 32 * 1024;

/// Each connection's read buffer when `connections` are busy at once (see [`READ_BUDGET`]).
pub(super) fn read_size(connections: usize) -> usize {
    (READ_BUDGET / connections.max(1)).clamp(READ_MIN, READ_MAX)
}

/// What a mirror's endpoint carries besides a registry's.
pub(super) struct MirrorOf {
    /// The registry it stands in for, sent as `ns=` on every request.
    pub ns: String,
    /// Raised by its blob bodies when they fall under the floor (see [`Floor`]); shared with
    /// the route, which then asks it no more.
    pub dead: Arc<AtomicBool>,
}

/// One host: a registry or a mirror.
pub(super) struct Endpoint {
    pub(super) agent: ureq::Agent,
    pub(super) origin: origin::Origin,
    pub(super) memory: remembered::Memory,
    pub(super) host: String,
    pub(super) auth: auth::Auth,
    /// Each origin's proxy: the registry's is the agent's; a CDN or a token realm has its own.
    pub(super) proxies: Proxies,
    pub(super) log: Arc<dyn Observer>,
    pub(super) quota_warned: AtomicBool,
    pub(super) deadline: Duration,
    /// `--timeout`: the longest a read may wait.
    read_timeout: Duration,
    /// For a mirror: whom it stands in for, and its floor.
    pub(super) mirror: Option<MirrorOf>,
    /// A directory answering instead of the network (an OCI layout, or the cache offline).
    pub(super) store: Option<store::Store>,
    /// Each connection's read buffer (see [`read_size`]).
    pub(super) read_size: usize,
    _watch: CancelWatch,
}

impl Endpoint {
    /// The endpoint of `reference`'s registry (its API host). Credentials: explicit ones, else
    /// those `opts.sources` hold for it.
    pub(super) fn new(
        reference: &Reference,
        opts: &ClientOptions,
        log: Arc<dyn Observer>,
        mirror: Option<MirrorOf>,
    ) -> Result<Endpoint, Error> {
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
        let proxies = Proxies::new(log.clone());
        let read_size = read_size(opts.connections);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("oci-dl/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(opts.connect_timeout.unwrap_or(Duration::from_secs(30))))
            .timeout_per_read(Some(read_timeout))
            .timeout_recv_response(Some(deadline))
            .input_buffer_size(read_size)
            .max_response_header_size(HEAD_MAX)
            .output_buffer_size(WRITE_BUFFER)
            .max_idle_connections_per_host(16)
            .tls_config(tls)
            .proxy(proxies.for_url(origin.base())?)
            .build();
        let resolver = PinnedResolver { pins: opts.resolve.clone(), system: Default::default() };
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            resolver,
        );
        Ok(Endpoint {
            _watch: CancelWatch::start(agent.clone(), opts.cancel.clone()),
            agent,
            origin,
            memory: remembered::Memory::load(opts.cache.as_deref(), &host),
            host,
            auth: auth::Auth::new(credentials, deadline),
            proxies,
            log,
            quota_warned: Default::default(),
            deadline,
            read_timeout,
            mirror,
            store: opts.store.clone().map(|s| s.for_registry(reference.registry())),
            read_size,
        })
    }

    /// The agent with each origin's proxy: what any request of this endpoint is sent with.
    pub(super) fn net(&self) -> Net<'_> {
        Net { agent: &self.agent, proxies: &self.proxies }
    }

    pub(super) fn debug(&self, message: String) {
        self.log.log(Level::Debug, message);
    }

    /// GET bytes `from..=to` (or `from..` without `to`, the whole blob from 0) of a blob, with
    /// `If-Range` when an ETag is known; a mirror's body is held to the floor.
    pub(super) fn blob(
        &self,
        repo: &str,
        digest: &Digest,
        (from, to): (u64, Option<u64>),
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
            if let Some(etag) = if_range.filter(|e| super::strong_etag(e)) {
                headers.push(("if-range", etag));
            }
        }
        let mut reply = self.get(&path, repo, &headers, Body::Blob)?;
        reply.floor = self.mirror.as_ref().map(|m| Floor {
            dead: m.dead.clone(),
            host: self.host.clone(),
            window: self.read_timeout * 2,
            log: self.log.clone(),
        });
        Ok(reply)
    }

    /// HEAD a manifest: the digest it has now (`None`: the host did not say).
    pub(super) fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let reply = self.head(&path, repo, &[("accept", ACCEPT)])?;
        Ok(reply.header("docker-content-digest").and_then(|v| v.trim().parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffers_share_one_budget_above_sixteen_connections() {
        for n in [0, 1, 4, 16] {
            assert_eq!(read_size(n), READ_MAX, "{n} connections read 256 KiB at a time");
        }
        assert_eq!(read_size(32), 128 * 1024);
        assert_eq!(read_size(64), READ_MIN);
        assert_eq!(read_size(1000), READ_MIN, "a response's head must still fit");
    }
}
