//! `pull --format oci-layout|oci-archive`: what was pulled, as an OCI image layout. Without a
//! platform the manifest the reference names is taken whole (an index with every platform's
//! manifest, config and layers); with one, that platform's manifest alone. Every blob goes the
//! way of any pull's (`crate::blob::to_file`: the cache, `.part` and resume, verify, rename),
//! every manifest is fetched by the digest its parent names, and `index.json` is written only
//! once everything it names is in place (`crate::layout`).

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::attached::attach;
use super::existing;
use crate::blob::{self, BlobSpec};
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Observer, Progress};
use crate::extract::Overwrite;
use crate::layout::{Layout, archive};
use crate::manifest::{Descriptor, Manifest, Platform};
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::{self, MAX_INDEX_DEPTH, ResolvedManifest};
use crate::session::Session;

/// A pull into an OCI image layout.
#[derive(Debug, Clone)]
pub struct LayoutRequest {
    /// What to pull; its tag (if any) names the entry in `index.json`.
    pub reference: Reference,
    /// Only this platform's manifest of an index; `None`: the whole index.
    pub platform: Option<Platform>,
    /// The layout directory, or the archive file.
    pub target: LayoutTarget,
    /// Connections in flight at once (at least 1).
    pub jobs: usize,
    /// Also the artifacts attached to what is pulled: referrers (the API, or the fallback tag
    /// `<alg>-<hex>`) and cosign's `.sig`, `.att` and `.sbom` tags.
    pub include_referrers: bool,
    /// Fetch the manifests and list the blobs (`blobs/<alg>/<hex>`, status planned); write
    /// nothing, not even the layout directory.
    pub dry_run: bool,
}

/// Where a layout pull writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutTarget {
    /// An OCI image layout directory, created or added to (`--format oci-layout`).
    Dir(PathBuf),
    /// A tar of the layout, created or added to (`--format oci-archive`).
    Archive(PathBuf),
}

/// The outcome of a layout pull.
#[derive(Debug, Clone)]
pub struct LayoutReport {
    /// The manifest the reference names (resolved to the platform, when one was asked).
    pub manifest: ResolvedManifest,
    /// The tag its `index.json` entry carries; `None` for a pull by digest.
    pub tag: Option<String>,
    /// Every blob that is not a manifest: configs and layers.
    pub blobs: Vec<FileReport>,
    /// How many manifests (indexes included) the layout now holds for this pull.
    pub manifests: usize,
    /// How many attached artifacts were added (`include_referrers`).
    pub attached: usize,
}

/// A manifest fetched and verified, to be stored.
pub(super) struct Fetched {
    pub desc: Descriptor,
    pub bytes: Vec<u8>,
}

/// Everything a layout pull stores: manifests (each after what it names), the other blobs
/// once each, and the `index.json` entries besides the reference's own.
#[derive(Default)]
pub(super) struct Graph {
    pub manifests: Vec<Fetched>,
    pub blobs: Vec<Descriptor>,
    pub seen: HashSet<Digest>,
    pub entries: Vec<(Descriptor, Option<String>)>,
}

/// Manifests one layout pull stores at most (an index of 4 MiB lists ~25 000): a bound on what
/// a hostile registry can make a run fetch.
const MAX_MANIFESTS: usize = 4096;

impl Graph {
    /// Add the verified manifest `desc` (`bytes`, decoded as `manifest`) and, through indexes,
    /// every manifest and blob below it, each fetched by the digest its parent names.
    pub fn add(
        &mut self,
        client: &Client,
        repo: &str,
        fetched: Fetched,
        manifest: &Manifest,
        depth: usize,
    ) -> Result<(), Error> {
        if !self.seen.insert(fetched.desc.digest.clone()) {
            return Ok(());
        }
        if self.seen.len() > MAX_MANIFESTS {
            return Err(Error::new(
                ErrorKind::Other,
                format!("more than {MAX_MANIFESTS} manifests below {}", fetched.desc.digest),
            ));
        }
        match manifest {
            Manifest::Image(m) => {
                for b in std::iter::once(&m.config).chain(&m.layers) {
                    if !self.blobs.iter().any(|x| x.digest == b.digest) {
                        self.blobs.push(b.clone());
                    }
                }
            }
            Manifest::Index(index) => {
                if depth >= MAX_INDEX_DEPTH {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!(
                            "indexes nested more than {MAX_INDEX_DEPTH} deep at {}",
                            fetched.desc.digest
                        ),
                    ));
                }
                for child in &index.manifests {
                    if self.seen.contains(&child.digest) {
                        continue;
                    }
                    let what = child.digest.to_string();
                    let r =
                        resolve::fetch(client, repo, &what, Some(&child.digest), Some(child.size))?;
                    let desc = Descriptor { platform: child.platform.clone(), ..r.descriptor };
                    self.add(
                        client,
                        repo,
                        Fetched { desc, bytes: r.bytes },
                        &r.manifest,
                        depth + 1,
                    )?;
                }
            }
        }
        self.manifests.push(fetched);
        Ok(())
    }
}

/// Pull `req` into its layout or archive.
pub(crate) fn pull(
    session: &Session,
    req: &LayoutRequest,
    obs: &dyn Observer,
) -> Result<LayoutReport, Error> {
    match (&req.target, req.dry_run) {
        (LayoutTarget::Dir(dir), _) => into_layout(session, req, dir, obs),
        // A dry run writes nothing: no staging directory, no lock beside the archive.
        (LayoutTarget::Archive(_), true) => into_layout(session, req, Path::new(""), obs),
        (LayoutTarget::Archive(file), false) => {
            archive::write(file, session.cancel(), obs, |staging| {
                into_layout(session, req, staging, obs)
            })
        }
    }
}

fn into_layout(
    session: &Session,
    req: &LayoutRequest,
    dir: &Path,
    obs: &dyn Observer,
) -> Result<LayoutReport, Error> {
    let client = &session.client;
    let repo = req.reference.repository();
    Layout::check(dir)?;
    let top = resolve::resolve(client, &req.reference, req.platform.as_ref(), obs)
        .map_err(|e| resolve::blob_hint(client, &req.reference, e))?;
    let mut graph = Graph::default();
    let desc = Descriptor { platform: top.platform.clone(), ..top.descriptor.clone() };
    let fetched = Fetched { desc: desc.clone(), bytes: top.bytes.clone() };
    graph.add(client, repo, fetched, &top.manifest, top.chain.len())?;
    let attached = match req.include_referrers {
        true => attach(client, &req.reference, &mut graph, obs)?,
        false => 0,
    };
    if req.dry_run {
        return Ok(planned(top, tag_of(req), graph, attached));
    }
    // Opened (created, locked, index.json read) only now: a pull that fails to resolve leaves
    // no directory behind.
    let mut layout = Layout::open(dir, session.cancel(), obs)?;
    // Checked once here, so a `blobs` directory that cannot be had is one error, not one a blob.
    let algorithms: BTreeSet<Algorithm> = graph
        .blobs
        .iter()
        .map(|b| &b.digest)
        .chain(graph.manifests.iter().map(|m| &m.desc.digest))
        .map(Digest::algorithm)
        .collect();
    for a in algorithms {
        layout.blobs(a)?;
    }
    let blobs = fetch_blobs(session, req, &layout, &graph.blobs, obs)?;
    for m in &graph.manifests {
        layout.put_bytes(&m.desc.digest, &m.bytes)?;
    }
    let tag = tag_of(req);
    layout.add(&desc, tag.as_deref());
    for (d, name) in &graph.entries {
        layout.add(d, name.as_deref());
    }
    layout.commit()?;
    Ok(LayoutReport { manifest: top, tag, blobs, manifests: graph.manifests.len(), attached })
}

/// The tag of the `index.json` entry: a pull by digest alone names none; `REPO:TAG@DIGEST` is
/// tagged TAG.
fn tag_of(req: &LayoutRequest) -> Option<String> {
    req.reference.tag().map(str::to_owned)
}

/// A dry run's report: every config and layer as it would be stored, nothing fetched.
fn planned(
    top: ResolvedManifest,
    tag: Option<String>,
    graph: Graph,
    attached: usize,
) -> LayoutReport {
    let blobs = graph
        .blobs
        .iter()
        .map(|d| FileReport {
            path: Path::new("blobs").join(d.digest.algorithm().name()).join(d.digest.hex()),
            title: d.title().map(str::to_owned),
            digest: d.digest.clone(),
            size: d.size,
            media_type: d.media_type.clone(),
            status: FileStatus::Planned,
            platform: None,
        })
        .collect();
    LayoutReport { manifest: top, tag, blobs, manifests: graph.manifests.len(), attached }
}

/// Every config and layer into `blobs/<alg>/<hex>`, over one pool; one failure fails the pull
/// (after the others finished) and keeps `index.json` as it was.
fn fetch_blobs(
    session: &Session,
    req: &LayoutRequest,
    layout: &Layout,
    blobs: &[Descriptor],
    obs: &dyn Observer,
) -> Result<Vec<FileReport>, Error> {
    obs.event(&Event::Planned { files: blobs.len(), bytes: blobs.iter().map(|b| b.size).sum() });
    let repo = req.reference.repository();
    let results = session.pool.run(blobs.iter().collect(), |index, d: &Descriptor| {
        let name = d.title().map_or_else(|| d.digest.short(), str::to_owned);
        let r = fetch_blob(session, layout, repo, (index, &name), d, obs)
            .map_err(|e| e.in_layer(&name));
        if let Err(e) = &r {
            obs.event(&Event::Failed { index, name: &name, error: e });
        }
        r
    });
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(f) => files.push(f),
            Err(e) => errors.push(e),
        }
    }
    match errors.is_empty() {
        true => Ok(files),
        false => Err(Error::many(errors)),
    }
}

/// One blob into the layout: kept when it is there and verifies, else fetched (or taken from
/// the cache) and verified under a `.part` name, then renamed into place.
fn fetch_blob(
    session: &Session,
    layout: &Layout,
    repo: &str,
    (index, name): (usize, &str),
    d: &Descriptor,
    obs: &dyn Observer,
) -> Result<FileReport, Error> {
    let dir = layout.blobs(d.digest.algorithm())?;
    let hex = OsStr::new(d.digest.hex());
    let path = dir.show(hex);
    let dest = blob::Dest { dir: &dir, name: hex };
    // A blob with other bytes under a digest's name is damage, never the user's: replaced.
    let cache = session.cache.as_ref();
    let status = match existing(dest, (&d.digest, Some(d.size)), cache, Overwrite::Force, obs)? {
        Some(status) => status,
        // The empty JSON object (oras's config and placeholder) is known by its digest.
        None if d.size == 2 && d.digest == Digest::of(d.digest.algorithm(), b"{}") => {
            dir.replace_with(hex, b"{}", 0o644)?;
            FileStatus::Downloaded
        }
        None => {
            let progress = Progress::default();
            obs.event(&Event::Started { index, name, size: Some(d.size), progress: &progress });
            let spec = BlobSpec { repository: repo, digest: &d.digest, size: Some(d.size) };
            let who = blob::Requester { index, name, progress: &progress, obs };
            let outcome = blob::to_file(session, spec, dest, who)?;
            if outcome.executable {
                not_executable(&dir, hex, &path)?;
            }
            outcome.status()
        }
    };
    let digest = &d.digest;
    obs.event(&Event::Finished { index, name, path: &path, digest, size: d.size, status });
    Ok(FileReport {
        path,
        title: d.title().map(str::to_owned),
        digest: d.digest.clone(),
        size: d.size,
        media_type: d.media_type.clone(),
        status,
        platform: None,
    })
}

/// A blob is data in a layout, never a program: the execute bits a pull gives an ELF file go.
fn not_executable(dir: &crate::held::Dir, name: &OsStr, path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let Some(file) = dir.open_existing_regular(name, false)? else { return Ok(()) };
    let mode = file.metadata().map_err(|e| Error::io("inspect", path, e))?.permissions().mode();
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o666))
        .map_err(|e| Error::io("chmod", path, e))
}

/// The digest `alg-hex` tags are built from, in the fallback tag schema and cosign's.
pub(super) fn digest_tag(d: &Digest) -> String {
    format!("{}-{}", d.algorithm().name(), d.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_tags_are_alg_dash_hex() {
        let d = Digest::of(Algorithm::Sha256, b"{}");
        assert_eq!(digest_tag(&d), format!("sha256-{}", d.hex()));
    }
}
