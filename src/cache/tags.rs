//! What earlier pulls on this machine resolved tags to (`tags/<id>`, one small record a tag),
//! the referrers lists a registry's API gave (as `tags/` records of an index kept with the manifests),
//! and manifests kept by digest (`manifests/<alg>/<hex>`, apart from the blobs so that the blob
//! store holds only what pulls copy out of it).
//! A record steers only which cached manifest a tag means — `--offline` resolves a tag from it,
//! and a re-pull of an unchanged tag asks the registry a HEAD instead of a GET — so it is
//! trusted only under the stamps' rule: the record and every directory above it belong to the
//! running user and nobody else may write them. Manifest bytes are hashed on every use.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::Path;

use super::{Cache, read_small};
use crate::digest::{Algorithm, Digest};
use crate::error::Error;

/// A manifest read back from the cache is at most this big (the registry's cap).
const MAX_MANIFEST: u64 = crate::manifest::MAX_MANIFEST_BYTES;

/// Where manifests of `d`'s algorithm are kept, below the root.
pub(crate) fn manifest_dir(d: &Digest) -> std::path::PathBuf {
    Path::new("manifests").join(d.algorithm().name())
}

/// The record's name: a digest of what it is about, so any registry, repository and tag make a
/// plain file name.
fn record_name(name: &str) -> OsString {
    OsString::from(Digest::of(Algorithm::Sha256, name.as_bytes()).hex().to_owned())
}

/// The pseudo-tag a referrers list is remembered under.
fn referrers_record(subject: &Digest) -> String {
    format!("referrers/{subject}")
}

impl Cache {
    /// Remember that `registry/repo:tag` named `digest` just now.
    pub(crate) fn remember_tag(
        &self,
        registry: &str,
        repo: &str,
        tag: &str,
        digest: &Digest,
    ) -> Result<(), Error> {
        let name = format!("{registry}/{repo}:{tag}");
        let dir = self.make_dir(Path::new("tags"))?;
        let text = format!("v1 {digest} {name}\n");
        dir.replace_with(&record_name(&name), text.as_bytes(), 0o644)
    }

    /// The digest an earlier pull resolved `registry/repo:tag` to, from a record only the
    /// running user could have written.
    pub(crate) fn remembered_tag(&self, registry: &str, repo: &str, tag: &str) -> Option<Digest> {
        let name = format!("{registry}/{repo}:{tag}");
        let dir = self.existing_dir(Path::new("tags"))?;
        let text = read_small(&dir, &record_name(&name))?;
        let (digest, named) = text.strip_prefix("v1 ")?.trim_end().split_once(' ')?;
        (named == name).then(|| digest.parse().ok())?
    }

    /// Remember that the referrers API of `registry` listed, for `repo@subject`, the index
    /// `list` (kept with the manifests), so that `--offline` answers the same list. Kept as a
    /// tag record under a name no tag can have (a tag holds no `/`), so the same rule guards it.
    pub(crate) fn remember_referrers(
        &self,
        registry: &str,
        repo: &str,
        subject: &Digest,
        list: &Digest,
    ) -> Result<(), Error> {
        self.remember_tag(registry, repo, &referrers_record(subject), list)
    }

    /// The index of referrers the registry last listed for `repo@subject`, as remembered.
    pub(crate) fn remembered_referrers(
        &self,
        registry: &str,
        repo: &str,
        subject: &Digest,
    ) -> Option<Digest> {
        self.remembered_tag(registry, repo, &referrers_record(subject))
    }

    /// The manifest `d`, when the cache holds bytes that hash to it.
    pub(crate) fn manifest(&self, d: &Digest) -> Option<Vec<u8>> {
        let dir = self.existing_dir(&manifest_dir(d))?;
        let file = dir.open_existing_regular(OsStr::new(d.hex()), false).ok()??;
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= MAX_MANIFEST && Digest::of(d.algorithm(), &bytes) == *d)
            .then_some(bytes)
    }

    /// Keep `bytes`, which hash to `d`, as the entry for `d`.
    pub(crate) fn put_manifest(&self, d: &Digest, bytes: &[u8]) -> Result<(), Error> {
        debug_assert_eq!(Digest::of(d.algorithm(), bytes), *d);
        let dir = self.make_dir(&manifest_dir(d))?;
        dir.replace_with(OsStr::new(d.hex()), bytes, 0o644)
    }
}
