//! The referrers API of a local store, which has no server to ask (distribution-spec "Listing
//! Referrers", image-spec `manifest.md` `subject`):
//!
//! - offline, the cache answers the list the registry's API gave the online pull that kept it
//!   (`Cache::remember_referrers`), under the tag records' ownership rule; none kept, and the
//!   fallback tag `sha256-<hex>` is asked next, as of a registry without the API;
//! - an OCI layout that tags the fallback index `sha256-<hex>` (as `pull --include-referrers`
//!   writes it) is read through that tag, as before; one without it is walked: every manifest
//!   `index.json` lists, and those its indexes list, that names the digest as its `subject`.
//!   That is the shape oras-go's store gives a layout (`oras copy -r --to-oci-layout`): its
//!   `content/oci/oci.go` `Push` tags each manifest by its digest, and `saveIndex` writes every
//!   such manifest into `index.json` as an untagged entry — referrers included, no fallback tag.
//!
//! The list is untrusted like any answer: each referrer is fetched again by digest and checked
//! to name the subject (`Client::referrer_of`), and its signatures are verified from scratch.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Read;

use serde::Deserialize;

use super::Reply;
use super::store::{REF_NAME, Store, Tags, local_reply, missing};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES, OCI_INDEX};

/// Manifests read at most to answer one subject's referrers from a layout.
const MAX_WALKED: usize = 4096;

/// What a walk reads of each manifest: enough to list it as a referrer, or to walk on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Config>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    subject: Option<Subject>,
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    media_type: String,
}

#[derive(Deserialize)]
struct Subject {
    digest: Digest,
}

/// Answer `GET /v2/REPO/referrers/SUBJECT` (`head`: without the body) from `store`.
pub(super) fn answer(
    store: &Store,
    repo: &str,
    subject: &Digest,
    head: bool,
) -> Result<Reply, Error> {
    let no_api = || missing(format!("{}: no referrers API", store.name));
    let bytes = match &store.tags {
        Tags::Remembered { registry } => {
            let cache = crate::cache::Cache::new(&store.root);
            let list = cache.remembered_referrers(registry, repo, subject).ok_or_else(no_api)?;
            cache.manifest(&list).ok_or_else(no_api)?
        }
        Tags::IndexJson => {
            let tag = format!("{}-{}", subject.algorithm().name(), subject.hex());
            let index = store.index()?;
            if index.manifests.iter().any(|d| d.annotations.get(REF_NAME) == Some(&tag)) {
                return Err(no_api());
            }
            let listed = walk(store, index.manifests, subject)?;
            let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed});
            serde_json::to_vec(&index).expect("descriptors serialize")
        }
    };
    let d = Digest::of(crate::digest::Algorithm::Sha256, &bytes);
    let len = bytes.len() as u64;
    Ok(local_reply(200, &d, None, len, head, Box::new(std::io::Cursor::new(bytes))))
}

/// The manifests below `roots` (breadth first, each once) whose `subject` is `subject`, listed
/// as the referrers API lists them: the manifest's media type, digest and size, its
/// `artifactType` (else its config's media type) and its annotations.
fn walk(store: &Store, roots: Vec<Descriptor>, subject: &Digest) -> Result<Vec<Descriptor>, Error> {
    let mut queue = VecDeque::from(roots);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while let Some(d) = queue.pop_front() {
        if !seen.insert(d.digest.clone()) {
            continue;
        }
        if seen.len() > MAX_WALKED {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "{}: more than {MAX_WALKED} manifests to look through for referrers of {subject}",
                    store.name
                ),
            ));
        }
        // Missing, over the cap, not its digest or not a manifest: not a referrer, and nothing
        // below it to walk (the pull itself says so if it needs it).
        let Some(bytes) = manifest(store, &d.digest) else { continue };
        let Ok(node) = serde_json::from_slice::<Node>(&bytes) else { continue };
        queue.extend(node.manifests.unwrap_or_default());
        if node.subject.is_some_and(|s| s.digest == *subject) {
            let artifact_type = node.artifact_type.or(node.config.map(|c| c.media_type));
            let mut listed = d.clone();
            listed.media_type = node.media_type.unwrap_or(d.media_type);
            listed.size = bytes.len() as u64;
            listed.artifact_type = artifact_type;
            listed.annotations = node.annotations;
            listed.platform = None;
            listed.other = BTreeMap::new();
            out.push(listed);
        }
    }
    Ok(out)
}

/// The bytes of manifest `d` in the layout, when they are there whole and hash to it.
fn manifest(store: &Store, d: &Digest) -> Option<Vec<u8>> {
    let (file, len) = store.blob(d, "manifest").ok()?;
    if len > MAX_MANIFEST_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes).ok()?;
    (Digest::of(d.algorithm(), &bytes) == *d).then_some(bytes)
}
