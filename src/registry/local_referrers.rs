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

/// Bytes read at most by one walk. Each manifest may be [`MAX_MANIFEST_BYTES`], but a layout's
/// sparse files cost their author nothing: without a budget of its own, a 1 MiB layout made
/// the walk read and hash 16 GiB (real manifests are a few KiB; 4096 of them fit many times).
const MAX_WALKED_BYTES: u64 = 64 << 20;

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
    let mut budget = MAX_WALKED_BYTES;
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
        // Missing, over the cap, not its size or digest, or not a manifest: not a referrer, nothing
        // below it to walk (the pull itself says so if it needs it).
        let Some(bytes) = manifest(store, &d, &mut budget, subject)? else { continue };
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

/// The bytes of manifest `d` in the layout, when they are there whole, of the descriptor's size
/// and hash to it; what is read is taken from `budget`, and running out of it is an error.
fn manifest(
    store: &Store,
    d: &Descriptor,
    budget: &mut u64,
    subject: &Digest,
) -> Result<Option<Vec<u8>>, Error> {
    let Ok((file, len)) = store.blob(&d.digest, "manifest") else { return Ok(None) };
    // The size first, as `Store::check` does: a file its descriptor does not size is not read.
    if len > MAX_MANIFEST_BYTES || len != d.size {
        return Ok(None);
    }
    *budget = budget.checked_sub(len).ok_or_else(|| {
        let mib = MAX_WALKED_BYTES >> 20;
        let why = format!("more than {mib} MiB of manifests to look through for referrers");
        Error::new(ErrorKind::Other, format!("{}: {why} of {subject}", store.name))
    })?;
    let mut bytes = Vec::new();
    if file.take(len).read_to_end(&mut bytes).is_err() {
        return Ok(None);
    }
    Ok((Digest::of(d.digest.algorithm(), &bytes) == d.digest).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::digest::Algorithm;
    use crate::manifest::{Manifest, OCI_MANIFEST};

    /// Write `v` as a blob of the layout at `root`; its descriptor.
    fn blob(root: &Path, v: &Value) -> Value {
        let bytes = serde_json::to_vec(v).unwrap();
        let d = Digest::of(Algorithm::Sha256, &bytes);
        std::fs::write(root.join("blobs/sha256").join(d.hex()), &bytes).unwrap();
        json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": bytes.len()})
    }

    fn manifest(subject: Option<&Value>, artifact_type: Option<&str>, config: &str) -> Value {
        let mut m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config, "digest": format!("sha256:{}", "0".repeat(64)), "size": 2},
            "layers": [], "annotations": {"n": config}});
        if let Some(s) = subject {
            m["subject"] = s.clone();
        }
        if let Some(t) = artifact_type {
            m["artifactType"] = json!(t);
        }
        m
    }

    fn listed(store: &Store, subject: &Digest) -> Result<Vec<Descriptor>, Error> {
        let body = answer(store, "x", subject, false)?.read_body(MAX_MANIFEST_BYTES, "list")?;
        match Manifest::parse(&body, Some(OCI_INDEX)) {
            Ok((Manifest::Index(i), _)) => Ok(i.manifests),
            _ => panic!("not an index"),
        }
    }

    /// The referrers of a layout's manifest: untagged entries (oras-go's shape) and manifests an
    /// index lists, each as the API lists it; not one of another subject, nor one whose bytes
    /// are not its digest; and through the fallback tag when the layout has one.
    #[test]
    fn a_layout_lists_the_manifests_that_name_the_subject() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let s = blob(root, &manifest(None, None, "application/vnd.oci.image.config.v1+json"));
        let r1 = blob(root, &manifest(Some(&s), Some("application/x-sig"), "application/a"));
        let r2 = blob(root, &manifest(Some(&s), None, "application/x-sbom"));
        let nested = blob(
            root,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [r2.clone()]}),
        );
        let other = blob(root, &manifest(Some(&r1), Some("application/x-sig"), "application/b"));
        let bad = blob(root, &manifest(Some(&s), Some("application/x-sig"), "application/c"));
        let bad_path = bad["digest"].as_str().unwrap().replace("sha256:", "blobs/sha256/");
        std::fs::write(root.join(bad_path), b"{}").unwrap();
        let mut tagged = s.clone();
        tagged["annotations"] = json!({REF_NAME: "v1"});
        let index = |extra: Option<Value>| {
            let mut m =
                vec![tagged.clone(), r1.clone(), nested.clone(), other.clone(), bad.clone()];
            m.extend(extra);
            let i = json!({"schemaVersion": 2, "manifests": m});
            std::fs::write(root.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
        };
        index(None);
        let store = Store::layout(root).unwrap();
        let subject: Digest = s["digest"].as_str().unwrap().parse().unwrap();
        let got = listed(&store, &subject).unwrap();
        let digests: Vec<String> = got.iter().map(|d| d.digest.to_string()).collect();
        assert_eq!(digests, [r1["digest"].as_str().unwrap(), r2["digest"].as_str().unwrap()]);
        assert_eq!(got[0].artifact_type.as_deref(), Some("application/x-sig"));
        assert_eq!(got[1].artifact_type.as_deref(), Some("application/x-sbom"), "the config's");
        assert_eq!(got[1].annotations.get("n").map(String::as_str), Some("application/x-sbom"));
        assert_eq!(got[1].media_type, OCI_MANIFEST);
        // A layout that tags the fallback index is read through it, as a registry without the API.
        let mut fallback = nested.clone();
        fallback["annotations"] = json!({REF_NAME: format!("sha256-{}", subject.hex())});
        index(Some(fallback));
        let e = listed(&store, &subject).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }

    /// A walk reads a bounded amount, whatever the layout's descriptors say: sparse files of the
    /// manifest cap (nothing on disk) listed by the thousand are refused once 64 MiB are read,
    /// and a referrer whose descriptor gives another size than its file's is not read at all,
    /// nor a FIFO or a symlink to a device listed as a manifest.
    #[test]
    fn a_walk_reads_a_bounded_amount_of_a_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let s = blob(root, &manifest(None, None, "application/vnd.oci.image.config.v1+json"));
        let mut lying = blob(root, &manifest(Some(&s), Some("application/x-sig"), "a/b"));
        lying["size"] = json!(lying["size"].as_u64().unwrap() + 1);
        let index = |m: &[Value]| {
            let i = json!({"schemaVersion": 2, "manifests": m});
            std::fs::write(root.join("index.json"), serde_json::to_vec(&i).unwrap()).unwrap();
        };
        // A FIFO (opened without blocking, refused) and a symlink to a device: not read.
        let odd = |seed: &[u8]| {
            let d = Digest::of(Algorithm::Sha256, seed);
            (
                root.join("blobs/sha256").join(d.hex()),
                json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": 0}),
            )
        };
        let (fifo, fifo_d) = odd(b"fifo");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, 0o644.into(), 0)
            .unwrap();
        let (link, link_d) = odd(b"link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        index(&[s.clone(), lying, fifo_d, link_d]);
        let store = Store::layout(root).unwrap();
        let subject: Digest = s["digest"].as_str().unwrap().parse().unwrap();
        assert!(listed(&store, &subject).unwrap().is_empty(), "a size lie is not listed");
        let mut m = vec![s.clone()];
        for i in 0..20u32 {
            let d = Digest::of(Algorithm::Sha256, &i.to_le_bytes());
            let f = std::fs::File::create(root.join("blobs/sha256").join(d.hex())).unwrap();
            f.set_len(MAX_MANIFEST_BYTES).unwrap();
            m.push(json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": MAX_MANIFEST_BYTES}));
        }
        index(&m);
        let e = listed(&store, &subject).unwrap_err();
        assert!(e.to_string().contains("more than 64 MiB of manifests"), "{e}");
    }
}
