//! A registry that is a directory on this machine: an OCI image layout (`pull --oci-layout`,
//! the air-gapped install) or the blob cache (`--offline`). It answers the same requests the
//! network would (`/v2/NAME/manifests/REF`, `/v2/NAME/blobs/DIGEST` with `Range`, tags, and
//! referrers: `local_referrers.rs`), so
//! resolving, filtering, `-x` and signature checks run unchanged, and every byte is verified
//! against its digest as from any registry: a layout is untrusted input.
//!
//! Everything is read through held directory handles without following a link (`held`): a blob
//! path or `index.json` that is a symlink out of the directory is refused, and only names that
//! are digests are opened below `blobs/`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Reply;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::held::Dir;
use crate::manifest::{Descriptor, Index, MAX_MANIFEST_BYTES, Manifest};

/// The annotation a layout's `index.json` names its tags with (image-spec `annotations.md`).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where a local registry's tags come from.
#[derive(Debug, Clone)]
pub enum Tags {
    /// An OCI layout's `index.json`: each entry's [`REF_NAME`].
    IndexJson,
    /// The digests earlier pulls on this machine resolved tags to, kept in the cache.
    Remembered {
        /// The registry the tags are of.
        registry: String,
    },
}

/// A directory that answers as a registry.
#[derive(Debug, Clone)]
pub struct Store {
    /// The directory holding `blobs/<alg>/<hex>`.
    pub root: PathBuf,
    /// Where its tags come from.
    pub tags: Tags,
    /// What it is, for messages: `OCI layout DIR` or `the cache (offline)`.
    pub name: String,
    /// An archive's layout, unpacked into a private directory that goes with the last copy.
    unpacked: Option<std::sync::Arc<super::archive_in::Unpacked>>,
}

impl Store {
    /// An OCI image layout at `root` — a directory, or a tar of one (an `oci-archive`); it
    /// must say it is one (`oci-layout`).
    pub fn layout(root: &Path) -> Result<Store, Error> {
        if std::fs::metadata(root).is_ok_and(|m| m.is_file()) {
            let unpacked = super::archive_in::unpack(root)?;
            let name = format!("OCI archive {}", root.display());
            let mut store = Store::layout_dir(&unpacked.dir, name)?;
            store.unpacked = Some(std::sync::Arc::new(unpacked));
            return Ok(store);
        }
        Store::layout_dir(root, format!("OCI layout {}", root.display()))
    }

    fn layout_dir(root: &Path, name: String) -> Result<Store, Error> {
        let dir = Dir::open(root).map_err(|e| e.context(&name))?;
        let marker = read_capped(&dir, "oci-layout", 4096)
            .map_err(|e| e.context(&name))?
            .ok_or_else(|| missing(format!("{name} has no oci-layout file: not an OCI layout")))?;
        let version: serde_json::Value = serde_json::from_slice(&marker).unwrap_or_default();
        if version["imageLayoutVersion"].as_str().is_none_or(|v| !v.starts_with("1.")) {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{name}: oci-layout does not name image layout version 1.x"),
            ));
        }
        Ok(Store { root: root.to_path_buf(), tags: Tags::IndexJson, name, unpacked: None })
    }

    /// The cache at `root`, read alone (no network): tags through what earlier pulls remembered
    /// (of the registry the client is for, filled in by `Store::for_registry`).
    pub fn offline(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            tags: Tags::Remembered { registry: String::new() },
            name: "the cache (offline)".to_owned(),
            unpacked: None,
        }
    }

    /// This store as the client for `registry` uses it.
    pub(super) fn for_registry(mut self, registry: &str) -> Store {
        if let Tags::Remembered { registry: r } = &mut self.tags {
            *r = registry.to_owned();
        }
        self
    }

    /// Answer a GET or HEAD of `path` (`/v2/REPO/…`, query ignored) with `headers` (`Range`).
    pub(super) fn answer(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        head: bool,
    ) -> Result<Reply, Error> {
        let path = path.split('?').next().unwrap_or(path);
        let rest = path.strip_prefix("/v2/").unwrap_or(path);
        if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
            let digest = match reference.parse::<Digest>() {
                Ok(d) => d,
                Err(_) => self.tag(repo, reference)?,
            };
            let (file, len) = self.manifest_file(&digest)?;
            if len > MAX_MANIFEST_BYTES {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "{}: manifest {digest} is over the {MAX_MANIFEST_BYTES}-byte cap",
                        self.name
                    ),
                ));
            }
            let mut bytes = Vec::new();
            (&file).take(len).read_to_end(&mut bytes).map_err(|e| self.io(&digest, e))?;
            let body = Box::new(std::io::Cursor::new(bytes));
            return Ok(local_reply(200, &digest, None, len, head, body));
        }
        if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
            let digest: Digest = digest.parse()?;
            let (mut file, len) = self.blob(&digest, "blob")?;
            let range = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("range"));
            let from = range
                .and_then(|(_, v)| v.strip_prefix("bytes="))
                .and_then(|r| r.split('-').next())
                .and_then(|a| a.parse::<u64>().ok())
                .filter(|a| *a < len);
            let to = range
                .and_then(|(_, v)| v.split('-').nth(1))
                .and_then(|b| b.parse::<u64>().ok())
                .map_or(len, |b| (b + 1).min(len));
            return Ok(match from {
                Some(a) => {
                    file.seek(SeekFrom::Start(a)).map_err(|e| self.io(&digest, e))?;
                    let part = Box::new(file.take(to - a));
                    local_reply(206, &digest, Some((a, to, len)), to - a, head, part)
                }
                None => local_reply(200, &digest, None, len, head, Box::new(file)),
            });
        }
        if let Some((repo, subject)) = rest.rsplit_once("/referrers/") {
            let subject: Digest = subject.parse()?;
            return super::local_referrers::answer(self, repo, &subject, head);
        }
        Err(missing(format!("{}: nothing answers {path}", self.name)))
    }

    /// The digest `tag` names in `repo`.
    fn tag(&self, repo: &str, tag: &str) -> Result<Digest, Error> {
        match &self.tags {
            Tags::IndexJson => {
                let index = self.index()?;
                let mut hits = index
                    .manifests
                    .iter()
                    .filter(|d| d.annotations.get(REF_NAME).is_some_and(|n| n == tag));
                let hit = hits.next();
                // One tag naming two manifests: which one is meant is the layout author's
                // guess, not ours (image-spec: a ref.name should be unique).
                if let (Some(a), Some(b)) =
                    (hit, hits.find(|d| Some(&d.digest) != hit.map(|h| &h.digest)))
                {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!(
                            "{} tags two manifests {tag:?} ({} and {}): pull one by its digest",
                            self.name, a.digest, b.digest
                        ),
                    ));
                }
                match hit {
                    Some(d) => Ok(d.digest.clone()),
                    None => {
                        let names: Vec<&str> = index
                            .manifests
                            .iter()
                            .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                            .collect();
                        let names = if names.is_empty() { "none".into() } else { names.join(", ") };
                        Err(missing(format!(
                            "{} has no manifest tagged {tag:?} (tags: {names})",
                            self.name
                        )))
                    }
                }
            }
            Tags::Remembered { registry } => {
                let cache = crate::cache::Cache::new(&self.root);
                cache.remembered_tag(registry, repo, tag).ok_or_else(|| {
                    missing(format!(
                        "offline: {registry}/{repo}:{tag} was never pulled on this machine (no digest remembered for it)"
                    ))
                })
            }
        }
    }

    /// That the blob `d` is here whole: its size and digest. Checked for every selected file
    /// before a pull from a local store writes anything, so a missing or damaged blob leaves
    /// nothing half-done (the copy is verified again as it is made).
    pub(super) fn check(&self, d: &Descriptor) -> Result<(), Error> {
        let (mut file, len) = self.blob(&d.digest, "blob")?;
        // The size first: a sparse file of any size costs its author nothing to plant.
        if len != d.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{}: blob {} is damaged ({len} bytes; the manifest says {} bytes)",
                    self.name, d.digest, d.size
                ),
            ));
        }
        let mut hasher = d.digest.algorithm().hasher();
        let mut buf = vec![0u8; 256 * 1024];
        let mut file = (&mut file).take(len); // nor what the author appends meanwhile
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(&d.digest, e)),
            }
        }
        let got = hasher.finish();
        if got != d.digest {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{}: blob {} is damaged (its {len} bytes hash to {got})",
                    self.name, d.digest
                ),
            ));
        }
        Ok(())
    }

    /// The layout's `index.json`, untrusted: a regular file, at most 4 MiB, an image index.
    pub fn index(&self) -> Result<Index, Error> {
        let dir = Dir::open(&self.root)?;
        let bytes = read_capped(&dir, "index.json", MAX_MANIFEST_BYTES)
            .map_err(|e| e.context(&self.name))?
            .ok_or_else(|| missing(format!("{} has no index.json", self.name)))?;
        match Manifest::parse(&bytes, None) {
            Ok((Manifest::Index(i), _)) => Ok(i),
            _ => Err(Error::new(
                ErrorKind::Other,
                format!("{}: index.json is not an image index", self.name),
            )),
        }
    }

    /// The tags of the layout (its `index.json` names), for `tags`.
    pub fn tag_names(&self) -> Result<Vec<String>, Error> {
        let index = self.index()?;
        Ok(index
            .manifests
            .iter()
            .filter_map(|d: &Descriptor| d.annotations.get(REF_NAME).cloned())
            .collect())
    }

    /// A manifest: in a layout a blob like any other; offline, the cache keeps manifests apart.
    fn manifest_file(&self, d: &Digest) -> Result<(File, u64), Error> {
        if let Tags::Remembered { .. } = self.tags {
            let dir = Dir::open(&self.root)?;
            let kept = dir.existing_beneath(&crate::cache::manifest_dir(d))?.and_then(|m| {
                m.open_existing_regular(std::ffi::OsStr::new(d.hex()), false).ok()?
            });
            if let Some(file) = kept {
                let len = file.metadata().map_err(|e| self.io(d, e))?.len();
                return Ok((file, len));
            }
        }
        self.blob(d, "manifest")
    }

    /// `blobs/<alg>/<hex>`, opened below held handles without following a link.
    pub(super) fn blob(&self, d: &Digest, what: &str) -> Result<(File, u64), Error> {
        let dir = Dir::open(&self.root)?;
        let rel = Path::new("blobs").join(d.algorithm().name());
        let not_here = || missing(format!("{}: {what} {d} is not in it", self.name));
        let Some(blobs) = dir.existing_beneath(&rel).map_err(|e| e.context(&self.name))? else {
            return Err(not_here());
        };
        let file = blobs
            .open_existing_regular(std::ffi::OsStr::new(d.hex()), false)
            .map_err(|e| e.context(&self.name))?
            .ok_or_else(not_here)?;
        let len = file.metadata().map_err(|e| self.io(d, e))?.len();
        Ok((file, len))
    }

    fn io(&self, d: &Digest, e: std::io::Error) -> Error {
        Error::io("read", &self.root.join("blobs").join(d.algorithm().name()).join(d.hex()), e)
    }
}

pub(super) fn missing(msg: String) -> Error {
    Error::new(ErrorKind::NotFound, msg)
}

/// A small file of `dir`, at most `cap` bytes; `None` when there is none.
fn read_capped(dir: &Dir, name: &str, cap: u64) -> Result<Option<Vec<u8>>, Error> {
    let Some(file) = dir.open_existing_regular(std::ffi::OsStr::new(name), false)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", &dir.show(std::ffi::OsStr::new(name)), e))?;
    if bytes.len() as u64 > cap {
        return Err(Error::new(ErrorKind::Other, format!("{name} is over {cap} bytes")));
    }
    Ok(Some(bytes))
}

/// The answer a registry would give, made locally.
pub(super) fn local_reply(
    status: u16,
    digest: &Digest,
    range: Option<(u64, u64, u64)>,
    len: u64,
    head: bool,
    body: Box<dyn Read + Send + Sync>,
) -> Reply {
    let mut b = ureq::http::Response::builder()
        .status(status)
        .header("docker-content-digest", digest.to_string())
        .header("content-length", len.to_string());
    if let Some((a, to, total)) = range {
        b = b.header("content-range", format!("bytes {a}-{}/{total}", to.saturating_sub(1)));
    }
    let body = if head {
        ureq::Body::builder().data(Vec::new())
    } else {
        ureq::Body::builder().limit(len).reader(body)
    };
    let response = b.body(body).expect("a well-formed local answer");
    Reply::local(response)
}
