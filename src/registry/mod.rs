//! The only place URLs are built, requests sent and HTTP bodies read. Two layers:
//!
//! - an [`Endpoint`](endpoint) is one host — the registry or a mirror: its agent (connection reuse
//!   for the whole run), scheme, auth and remembered challenge; the request path around it
//!   (auth → redirects → quota) is send.rs, and a [`Reply`] is a status, headers and a reader;
//! - the [`Client`] is the registry as a reference sees it: its endpoints in order (mirrors, then
//!   the registry), one retry policy, one `--jobs` gate, one cancel token, and the fail-over
//!   (route.rs): a mirror that fails, or whose bytes a caller's check refuses, is dropped for
//!   the run and the next source asked.

mod archive_in;
mod auth;
pub mod challenge;
pub mod credentials;
mod endpoint;
mod floor;
mod local_referrers;
mod manifests;
mod origin;
mod proxies;
mod referrers;
mod remembered;
mod reply;
mod route;
mod send;
mod sources;
mod status;
pub mod store;
mod tags;
mod transport;
mod urls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::digest::Digest;
use crate::error::Error;
use crate::events::Observer;
use crate::manifest::ACCEPT;
use crate::retry::{Cancel, Gate, RetryPolicy};

pub use credentials::Credentials;
use endpoint::Endpoint;
pub use reply::Reply;
pub(crate) use route::{Judged, Key};
use sources::{Mirror, RepoMap};
pub use tags::{MAX_TAG_BYTES, MAX_TAGS};
pub use transport::Pin;

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
    /// How many connections the caller keeps busy at once (its `--jobs`; 0 counts as 1). Each
    /// connection's read buffer shrinks from 256 KiB down to 68 KiB above 16 of them, so that
    /// all of them together hold about 4 MiB.
    pub connections: usize,
}

/// The registry a reference is read from: its mirrors in order, then the registry itself, behind
/// one retry policy, one concurrency gate and one cancel token.
pub struct Client {
    /// The registry itself: asked last for content, and alone for tags and referrers.
    registry: Endpoint,
    /// The mirrors, in the order [`route::Route`] asks them (its lane `i` is `mirrors[i]`).
    mirrors: Vec<Mirror>,
    route: route::Route,
    /// The registry's own repository for the reference's, when `location` rewrites it.
    origin: RepoMap,
    log: Arc<dyn Observer>,
    retry: RetryPolicy,
    cancel: Cancel,
    gate: Gate,
    /// Manifests kept by digest and the digests tags last named, for re-pulls that ask only a
    /// HEAD (none for a local store, or without a cache).
    manifests: Option<crate::cache::Cache>,
    /// The registry's name, as the cache remembers tags under it.
    registry_name: String,
}

/// A manifest body as served, with the headers that say what it is.
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`, when the registry sent it.
    pub served_digest: Option<String>,
}

impl Client {
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

    /// The most a read of a body returns at once: each connection reads into a buffer of this
    /// size, so a caller's buffer need not be larger.
    pub(crate) fn read_size(&self) -> usize {
        self.registry.read_size
    }

    /// The run's cancel flag.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn debug(&self, message: String) {
        self.log.log(crate::events::Level::Debug, message);
    }

    /// Run `check`, which fetches some of `keys` through this client and judges the bytes, again
    /// for as long as it fails with an error of kind `bad` (`Integrity`: a digest; `Signature`:
    /// no signature covers what a tag named) that a mirror which served some of them can be
    /// blamed for: each such mirror is dropped for the run and the next round asks the sources
    /// left. Without mirrors, `check` runs once. A cancel or any other error ends it.
    pub(crate) fn fail_over<T, E: Judged>(
        &self,
        keys: &[Key],
        bad: crate::error::ErrorKind,
        check: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        self.route.fail_over(keys, bad, check)
    }

    /// One attempt at `key`: each live mirror, then the registry. `fetch` makes the request on
    /// an endpoint with that source's repository. A tag (`by_digest` false) is never asked of a
    /// digest-only mirror.
    fn each_source<T>(
        &self,
        key: &Key,
        repo: &str,
        by_digest: bool,
        fetch: impl Fn(&Endpoint, &str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.route.each_source(key, by_digest, |source| match source {
            Some(i) => fetch(&self.mirrors[i].endpoint, self.mirrors[i].repo.apply(repo)),
            None => fetch(&self.registry, self.origin.apply(repo)),
        })
    }

    /// The registry's name for the repository `repo` (a `location` may rewrite it).
    pub(crate) fn origin_repo(&self, repo: &str) -> String {
        self.origin.apply(repo).to_owned()
    }

    /// GET a blob, optionally from byte `from`, from the first source that has it. Redirects (to
    /// CDNs) are followed without our credentials. Each call starts at the source's URL, so a
    /// retry never reuses an expired signed `Location`. With `from > 0` a `Range` is sent, and
    /// `If-Range` when an ETag is known.
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
        self.each_source(&Key::Blob(digest.clone()), repo, true, |e, repo| {
            e.blob(repo, digest, (from, to), if_range)
        })
    }

    /// A small blob (a config, a signature, a checksum list) into memory, retried, and checked
    /// against its descriptor's size and digest; bad bytes from a mirror are asked of the next
    /// source. Callers cap `d.size` first. With a cache, the verified bytes are kept there too,
    /// so that `--offline` finds what a signature check read.
    pub fn small_blob(
        &self,
        repo: &str,
        d: &crate::manifest::Descriptor,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        let bad = crate::error::ErrorKind::Integrity;
        self.fail_over(&[Key::Blob(d.digest.clone())], bad, || {
            let bytes = self.retrying(None, &format!("blob {what}"), |_| {
                self.blob(repo, &d.digest, 0, None)?.read_body(d.size + 1, what)
            })?;
            let got = Digest::of(d.digest.algorithm(), &bytes);
            if bytes.len() as u64 == d.size && got == d.digest {
                self.keep_small(&d.digest, &bytes);
                return Ok(bytes);
            }
            let (len, size, want) = (bytes.len(), d.size, &d.digest);
            let why = format!("got {len} bytes hashing to {got}, expected {size} and {want}");
            Err(Error::new(bad, format!("{what}: {why}")))
        })
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
