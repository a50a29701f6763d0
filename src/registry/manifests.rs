//! Manifests through the client: from the cache when it holds them (by digest, or by a tag a
//! HEAD says has not moved: Docker Hub counts manifest GETs against the pull quota, not HEADs),
//! else fetched from the sources in order and kept (and small blobs a check read into memory
//! kept beside them, for `--offline`); and the check that a local store holds a
//! pull's blobs whole before anything is written.

use super::endpoint::Endpoint;
use super::send::Body;
use super::{ACCEPT, Client, Key, RawManifest};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::manifest::MAX_MANIFEST_BYTES;

impl Client {
    /// A manifest by tag or digest: the raw body and its content type. The body is capped at
    /// [`MAX_MANIFEST_BYTES`]; the caller checks it against a digest it asked for, under
    /// `Client::fail_over` (as `resolve::fetch` and `Client::referrer_of` do). With a cache, a
    /// manifest by digest that is cached is not asked for at all, and a tag whose last digest is
    /// cached is asked with a HEAD (free of Docker Hub's pull quota): when it still names that
    /// digest, no GET is made. Every manifest fetched is kept by digest, and a tag's digest
    /// remembered.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<RawManifest, Error> {
        let by_digest = reference.parse::<Digest>().ok();
        let cache = self.manifests.as_ref();
        let cached = |d: &Digest| {
            let bytes = cache?.manifest(d)?;
            Some(RawManifest { bytes, content_type: None, served_digest: Some(d.to_string()) })
        };
        if let Some(hit) = by_digest.as_ref().and_then(cached) {
            self.debug(format!("manifest {repo}@{reference} from the cache"));
            return Ok(hit);
        }
        let last = cache.and_then(|c| c.remembered_tag(&self.registry_name, repo, reference));
        if by_digest.is_none()
            && let Some((d, hit)) = last.and_then(|d| cached(&d).map(|hit| (d, hit)))
        {
            match self.manifest_digest(repo, reference) {
                Ok(Some(now)) if now == d => {
                    self.debug(format!(
                        "manifest {repo}:{reference} unchanged ({d}): from the cache"
                    ));
                    return Ok(hit);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => return Err(e),
                _ => {} // moved, no digest told, or the HEAD failed: the GET says what is what
            }
        }
        let raw = self.fetch_manifest(repo, reference)?;
        if let Some(c) = cache {
            let alg =
                by_digest.as_ref().map_or(crate::digest::Algorithm::Sha256, Digest::algorithm);
            let d = Digest::of(alg, &raw.bytes);
            let kept = c.put_manifest(&d, &raw.bytes);
            let named = match by_digest {
                Some(_) => Ok(()),
                None => c.remember_tag(&self.registry_name, repo, reference, &d),
            };
            if let Err(e) = kept.and(named) {
                self.debug(format!("manifest {d} not kept in the cache: {}", e.to_string_full()));
            }
        }
        Ok(raw)
    }

    /// Keep the verified small blob `bytes` (`d`) in the cache, if there is one (see
    /// `Cache::put_bytes`); failing to is said at `-v`, never an error.
    pub(super) fn keep_small(&self, d: &Digest, bytes: &[u8]) {
        if let Some(Err(e)) = self.manifests.as_ref().map(|c| c.put_bytes(d, bytes)) {
            self.debug(format!("blob {d} not kept in the cache: {}", e.to_string_full()));
        }
    }

    /// For a local store (a layout, the cache offline): that every blob of `blobs` is there,
    /// whole. Nothing to do for a registry.
    pub(crate) fn check_local<'a>(
        &self,
        blobs: impl IntoIterator<Item = &'a crate::manifest::Descriptor>,
    ) -> Result<(), Error> {
        let Some(store) = &self.registry.store else { return Ok(()) };
        blobs.into_iter().try_for_each(|d| store.check(d))
    }

    /// The digest `reference` names now, by a HEAD (`None`: the registry did not say).
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<Digest>, Error> {
        self.retrying(None, &format!("manifest {repo}:{reference}"), |_| {
            let by_digest = reference.parse::<Digest>().is_ok();
            let key = Key::manifest(repo, reference);
            self.each_source(&key, repo, by_digest, |e, repo| e.manifest_digest(repo, reference))
        })
    }

    fn fetch_manifest(&self, repo: &str, reference: &str) -> Result<RawManifest, Error> {
        self.retrying(None, &format!("manifest {repo}:{reference}"), |_| {
            let by_digest = reference.parse::<Digest>().is_ok();
            let key = Key::manifest(repo, reference);
            self.each_source(&key, repo, by_digest, |e, repo| e.manifest(repo, reference))
        })
    }
}

impl Endpoint {
    /// GET a manifest from this host, capped at [`MAX_MANIFEST_BYTES`].
    fn manifest(&self, repo: &str, reference: &str) -> Result<RawManifest, Error> {
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
}
