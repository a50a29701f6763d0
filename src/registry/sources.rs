//! Where one reference is read from: its mirrors in order, then the registry (see
//! [`crate::mirrors`]). Manifests and blobs try each live mirror before the registry. A mirror
//! that fails to connect, answers an error other than 404, or serves bytes that fail their
//! digest is dropped for the rest of the run, so a dead one costs one attempt, not one a blob.
//! Tag lists and referrers lists ask the registry only (containers-registries.conf(5): mirrors
//! serve pulls, not other lookups).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Client, ClientOptions};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::mirrors::MirrorSource;
use crate::reference::Reference;

/// How long a mirror may take to accept a connection before it is dropped for the run (Spegel's
/// own containerd template uses 200 ms; a node-local or LAN cache answers well within this).
pub const MIRROR_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A client per mirror, and who served what.
#[derive(Default)]
pub(super) struct Sources {
    mirrors: Vec<Mirror>,
    /// The registry's own repository for the reference's, when `location` rewrites it.
    origin: Option<(String, String)>,
    /// `blob DIGEST` / `manifest REPO@REF` → who served it, to blame when its bytes do not
    /// verify.
    served: Mutex<HashMap<String, Served>>,
}

/// Who served one blob or manifest since its bytes were last judged.
#[derive(Default)]
struct Served {
    /// The source of the latest answer (`None`: the registry), for `-v`.
    last: Option<Option<usize>>,
    /// Every mirror that sent some of the bytes: a resume or a range may have come from another
    /// source than the first bytes, and each of them is to blame.
    mirrors: Vec<usize>,
}

struct Mirror {
    client: Client,
    /// Logical → this mirror's repository.
    repo: (String, String),
    /// Shared with its client, whose blob bodies raise it when they crawl.
    dead: Arc<AtomicBool>,
    /// Asked for content by digest only, never a tag (see [`MirrorSource::digest_only`]).
    digest_only: bool,
}

/// The key of a blob in [`Sources::served`].
pub(crate) fn blob_key(digest: &Digest) -> String {
    format!("blob {digest}")
}

/// The key of a manifest (by tag or digest) in [`Sources::served`].
pub(crate) fn manifest_key(repo: &str, reference: &str) -> String {
    let sep = if reference.contains(':') { '@' } else { ':' };
    format!("manifest {repo}{sep}{reference}")
}

fn rename(map: &Option<(String, String)>, repo: &str) -> String {
    match map {
        Some((logical, physical)) if logical == repo => physical.clone(),
        _ => repo.to_owned(),
    }
}

impl Sources {
    /// Clients for the mirrors of `list` (all but its last entry, the registry, whose reference
    /// `origin` is). A mirror gets only the credentials stored for its own host.
    pub(super) fn new(
        logical: &Reference,
        list: &[MirrorSource],
        opts: &ClientOptions,
        log: &Arc<dyn Observer>,
    ) -> Result<Sources, Error> {
        let rename_to = |r: &Reference| {
            (r.repository() != logical.repository())
                .then(|| (logical.repository().to_owned(), r.repository().to_owned()))
        };
        let mut mirrors = Vec::new();
        for s in &list[..list.len() - 1] {
            let opts = ClientOptions {
                credentials: None,
                insecure: opts.insecure || s.insecure,
                insecure_registry: s.insecure,
                cache: None,
                mirrors: Default::default(),
                // A mirror is a nearby cache: one that does not answer at once is no help.
                connect_timeout: Some(
                    opts.connect_timeout
                        .map_or(MIRROR_CONNECT_TIMEOUT, |t| t.min(MIRROR_CONNECT_TIMEOUT)),
                ),
                ..opts.clone()
            };
            let mut client = Client::direct(&s.reference, &opts, log.clone())?;
            let dead = Arc::new(AtomicBool::new(false));
            client.mirror_dead = Some(dead.clone());
            client.mirror_of = Some(logical.registry().to_owned());
            let repo = (logical.repository().to_owned(), s.reference.repository().to_owned());
            let digest_only = s.digest_only;
            mirrors.push(Mirror { client, repo, dead, digest_only });
        }
        let origin = list.last().and_then(|o| rename_to(&o.reference));
        Ok(Sources { mirrors, origin, served: Default::default() })
    }
}

impl Client {
    /// A client for `reference`: its registry (at its `location`), and the mirrors
    /// `opts.mirrors` lets serve this pull.
    pub fn new(
        reference: &Reference,
        opts: &ClientOptions,
        log: Arc<dyn Observer>,
    ) -> Result<Client, Error> {
        if opts.store.is_some() {
            // A directory on this machine: no mirrors, no network.
            return Client::direct(reference, opts, log);
        }
        let list = opts.mirrors.sources_for(reference, reference.digest().is_some())?;
        let origin = list.last().expect("the registry is always a source");
        let direct = ClientOptions {
            insecure: opts.insecure || origin.insecure,
            insecure_registry: origin.insecure,
            ..opts.clone()
        };
        let mut client = Client::direct(&origin.reference, &direct, log.clone())?;
        client.sources = Sources::new(reference, &list, opts, &log)?;
        Ok(client)
    }

    /// The registry's name for the repository `repo` (a `location` may rewrite it).
    pub(crate) fn origin_repo(&self, repo: &str) -> String {
        rename(&self.sources.origin, repo)
    }

    /// One attempt at `what` (`blob DIGEST`, `manifest REPO@REF`): each live mirror, then the
    /// registry. `fetch` makes the request on a client with that source's repository. Decided
    /// per request: a tag (`by_digest` false) is never asked of a digest-only mirror.
    pub(super) fn each_source<T>(
        &self,
        what: String,
        repo: &str,
        by_digest: bool,
        fetch: impl Fn(&Client, &str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        for (i, m) in self.sources.mirrors.iter().enumerate() {
            if m.dead.load(Ordering::Relaxed) || (m.digest_only && !by_digest) {
                continue;
            }
            match fetch(&m.client, &rename(&Some(m.repo.clone()), repo)) {
                Ok(t) => {
                    self.served_by(what, Some(i), &m.client.host);
                    return Ok(t);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => return Err(e),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    self.debug(format!("{what}: not on mirror {} ({e})", m.client.host));
                }
                Err(e) => {
                    self.drop_mirror(i, &e.to_string_full());
                }
            }
        }
        let t = fetch(self, &self.origin_repo(repo))?;
        self.served_by(what, None, &self.host);
        Ok(t)
    }

    fn served_by(&self, what: String, source: Option<usize>, host: &str) {
        let mut served = self.sources.served.lock().unwrap_or_else(|p| p.into_inner());
        let entry = served.entry(what.clone()).or_default();
        if entry.last != Some(source) {
            self.debug(format!("{what} from {host}"));
            entry.last = Some(source);
        }
        if let Some(i) = source.filter(|i| !entry.mirrors.contains(i)) {
            entry.mirrors.push(i);
        }
    }

    /// `true` when the mirror was still in use.
    fn drop_mirror(&self, i: usize, why: &str) -> bool {
        let m = &self.sources.mirrors[i];
        let dropped = !m.dead.swap(true, Ordering::Relaxed);
        if dropped {
            let host = &m.client.host;
            self.log.log(Level::Warn, format!("mirror {host}: {why}; using the next source"));
        }
        dropped
    }

    /// `what`'s bytes failed their digest: drop every mirror that sent some of them. `true`
    /// when one did, so the bytes are fetched again from zero from the sources left. Each `true`
    /// drops at least one mirror for good, so this ends.
    pub(crate) fn distrust(&self, what: &str, why: &Error) -> bool {
        let blamed = {
            let mut served = self.sources.served.lock().unwrap_or_else(|p| p.into_inner());
            served.get_mut(what).map(|s| std::mem::take(&mut s.mirrors)).unwrap_or_default()
        };
        for &i in &blamed {
            self.drop_mirror(i, &format!("{what}: {why}"));
        }
        !blamed.is_empty()
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
            if !self.distrust(&blob_key(&d.digest), &e) {
                return Err(e);
            }
        }
    }
}
