//! Where one reference is read from: its mirrors in order, then the registry (see
//! [`crate::mirrors`]). Manifests and blobs try each live mirror before the registry. A mirror
//! that fails to connect, answers an error other than 404, or serves bytes that fail their
//! digest is dropped for the rest of the run, so a dead one costs one attempt, not one a blob.
//! Tag lists and referrers lists ask the registry only (containers-registries.conf(5): mirrors
//! serve pulls, not other lookups).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::mirrors::Source;

/// A client per mirror, and who served what.
#[derive(Default)]
pub(super) struct Sources {
    mirrors: Vec<Mirror>,
    /// The registry's own repository for the reference's, when `location` rewrites it.
    origin: Option<(String, String)>,
    /// `blob DIGEST` / `manifest REPO@REF` → the mirror that served it last (`None`: the
    /// registry), to blame when its bytes do not verify.
    served: Mutex<HashMap<String, Option<usize>>>,
}

struct Mirror {
    client: Client,
    /// Logical → this mirror's repository.
    repo: (String, String),
    dead: AtomicBool,
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
        list: &[Source],
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
                ..opts.clone()
            };
            let client = Client::direct(&s.reference, &opts, log.clone())?;
            let repo = (logical.repository().to_owned(), s.reference.repository().to_owned());
            mirrors.push(Mirror { client, repo, dead: AtomicBool::new(false) });
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
        let list = opts.mirrors.sources_for(reference, reference.digest().is_some())?;
        let origin = list.last().expect("the registry is always a source");
        let direct = ClientOptions {
            insecure: opts.insecure || origin.insecure,
            insecure_registry: origin.insecure,
            ..opts.clone()
        };
        let mut client = Client::direct(&origin.reference, &direct, log.clone())?;
        client.sources = sources::Sources::new(reference, &list, opts, &log)?;
        Ok(client)
    }

    /// The registry's name for the repository `repo` (a `location` may rewrite it).
    pub(crate) fn origin_repo(&self, repo: &str) -> String {
        rename(&self.sources.origin, repo)
    }

    /// One attempt at `what` (`blob DIGEST`, `manifest REPO@REF`): each live mirror, then the
    /// registry. `fetch` makes the request on a client with that source's repository.
    pub(super) fn each_source<T>(
        &self,
        what: String,
        repo: &str,
        fetch: impl Fn(&Client, &str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        for (i, m) in self.sources.mirrors.iter().enumerate() {
            if m.dead.load(Ordering::Relaxed) {
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
        if served.get(&what) != Some(&source) {
            self.debug(format!("{what} from {host}"));
            served.insert(what, source);
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

    /// `what`'s bytes failed their digest: drop the mirror that served them. `true` when that
    /// mirror was still in use, so another attempt goes elsewhere.
    pub(crate) fn distrust(&self, what: &str, why: &Error) -> bool {
        let served =
            self.sources.served.lock().unwrap_or_else(|p| p.into_inner()).get(what).copied();
        match served {
            Some(Some(i)) => self.drop_mirror(i, &format!("{what}: {why}")),
            _ => false,
        }
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
