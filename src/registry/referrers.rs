//! OCI 1.1 referrers of a manifest: `GET /v2/NAME/referrers/DIGEST` (distribution-spec
//! "Listing Referrers"), and the fallback tag schema `sha256-<hex>` for registries without it.

use super::tags::Page;
use super::{Client, Key};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::manifest::{Descriptor, Manifest, OCI_INDEX};

/// Pages of a referrers answer followed at most.
const MAX_PAGES: usize = 16;

impl Client {
    /// The manifest of the referrer `d` of `subject`, when it really is one: it can be had (by
    /// digest, checked against it, from the next source when a mirror's bytes fail) and names
    /// `subject` as its `subject`. A list (the API's answer, or
    /// the fallback tag's index, which anyone who can push a tag writes) may name manifests
    /// attached to something else, of another type than it says, or gone: each such one is
    /// `None`, and said at `-v`.
    pub(crate) fn referrer_of(
        &self,
        repo: &str,
        d: &Descriptor,
        subject: &Digest,
    ) -> Result<Option<crate::manifest::ImageManifest>, Error> {
        let skip = |why: String| {
            self.debug(format!("referrer {} skipped: {why}", d.digest.short()));
            Ok(None)
        };
        // By digest, so checked against it: unchecked, a source (a mirror is asked digests
        // too) would choose whom a listed referrer is attached to, and the pull that follows,
        // checked and failing over to the next source, would fetch the genuine one anyway.
        let want = d.digest.to_string();
        let fetched = self.fail_over(&[Key::manifest(repo, &want)], ErrorKind::Integrity, || {
            let raw = self.manifest(repo, &want)?;
            let got = Digest::of(d.digest.algorithm(), &raw.bytes);
            if got != d.digest {
                let e = format!("manifest {repo}@{want}: content hashes to {got}");
                return Err(Error::new(ErrorKind::Integrity, e));
            }
            Ok(raw)
        });
        let raw = match fetched {
            Ok(raw) => raw,
            Err(e) if e.kind() == ErrorKind::NotFound => return skip(format!("listed, but {e}")),
            Err(e) => return Err(e),
        };
        // Asked by digest: bytes that are not it (a mirror's, a damaged cache's) are no referrer.
        let got = Digest::of(d.digest.algorithm(), &raw.bytes);
        if got != d.digest {
            return skip(format!("its bytes hash to {got}"));
        }
        let image = match Manifest::parse(&raw.bytes, raw.content_type.as_deref()) {
            Ok((Manifest::Image(m), _)) => m,
            _ => return skip("not an image manifest".into()),
        };
        // The list's word on its type is the list's author's: the manifest's own is the one
        // that counts (the API lists it so), else a pull of one type takes another's files.
        if let Some(listed) = d.artifact_type.as_deref()
            && listed != image.listed_type()
        {
            return skip(format!("listed as {listed}, it is {}", image.listed_type()));
        }
        match image.subject.as_ref().map(|s| &s.digest) {
            Some(s) if s == subject => Ok(Some(image)),
            Some(s) => skip(format!("it is attached to {s}, not {subject}")),
            None => skip("it names no subject".into()),
        }
    }

    /// The referrers API's list for `digest`, following `Link` pages; `None` when the registry
    /// has no such API (it answers 404, as the spec asks of one without it). With a cache, the
    /// list is kept there, so that `--offline` is answered the same list.
    pub(crate) fn referrers_api(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, Error> {
        let list = self.referrers_pages(repo, digest)?;
        if let (Some(list), Some(cache)) = (&list, &self.manifests) {
            let index =
                serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list});
            let bytes = serde_json::to_vec(&index).expect("descriptors serialize");
            let d = Digest::of(crate::digest::Algorithm::Sha256, &bytes);
            let kept = cache.put_manifest(&d, &bytes);
            let named = cache.remember_referrers(&self.registry_name, repo, digest, &d);
            if let Err(e) = kept.and(named) {
                self.debug(format!(
                    "referrers of {digest} not kept in the cache: {}",
                    e.to_string_full()
                ));
            }
        }
        Ok(list)
    }

    fn referrers_pages(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, Error> {
        let repo = &self.origin_repo(repo);
        let mut path = format!("/v2/{repo}/referrers/{digest}");
        let mut out = Vec::new();
        for page in 0.. {
            if page == MAX_PAGES {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("referrers of {digest}: more than {MAX_PAGES} pages"),
                ));
            }
            let got = self.retrying(None, &format!("referrers of {digest}"), |_| {
                self.registry.page(&path, repo, OCI_INDEX, "referrers list")
            });
            let got: Page = match got {
                Ok(g) => g,
                Err(e) if e.kind() == ErrorKind::NotFound && page == 0 => return Ok(None),
                Err(e) => return Err(e),
            };
            match Manifest::parse(&got.body, Some(OCI_INDEX)) {
                Ok((Manifest::Index(i), _)) => out.extend(i.manifests),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("GET {}: not an image index of referrers", got.url),
                    ));
                }
            }
            match got.next()? {
                Some(n) => path = n,
                None => break,
            }
        }
        Ok(Some(out))
    }

    /// The referrers of `digest` by the fallback tag schema: the index at the tag
    /// `<alg>-<hex>`; empty when there is no such tag.
    pub(crate) fn referrers_tag(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Vec<Descriptor>, Error> {
        let tag = format!("{}-{}", digest.algorithm().name(), digest.hex());
        match self.manifest(repo, &tag) {
            Ok(raw) => match Manifest::parse(&raw.bytes, raw.content_type.as_deref()) {
                Ok((Manifest::Index(i), _)) => Ok(i.manifests),
                _ => Err(Error::new(
                    ErrorKind::Other,
                    format!("{repo}:{tag}, the referrers tag of {digest}, is not an index"),
                )),
            },
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}
