//! `pull`: resolve, select, then fetch every selected layer over one worker pool.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::conventions::{self, HelmChart};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Level, Observer, Progress};
use crate::extract::{self, Format, Hint, Limit, Policy, StageError, Unpack};
use crate::fsx;
use crate::manifest::{Descriptor, Manifest, Platform};
use crate::pool;
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::{ResolvedManifest, resolve};
pub use crate::select::Overwrite;
use crate::select::{Filter, safe_relative_path};

mod rootfs;
mod signed;

use crate::blob::{self, BlobSpec};
use rootfs::{is_image, pull_rootfs};
use signed::{hold_signed, land, trust_checks};

/// Everything a pull needs besides the registry connection.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// What to pull.
    pub reference: Reference,
    /// For an index; defaults to the host's platform.
    pub platform: Option<Platform>,
    /// Where the files go; nothing is written outside it.
    pub output: Output,
    /// Which layers to fetch.
    pub filter: Filter,
    /// Keep only the base name of titles.
    pub flatten: bool,
    /// What to do about existing files with other content.
    pub overwrite: Overwrite,
    /// Connections in flight at once (at least 1).
    pub jobs: usize,
    /// Resolve and select only; write nothing.
    pub dry_run: bool,
    /// What to unpack, and where.
    pub extract: ExtractOptions,
    /// Publishers' keys: with any, nothing gets its final name unless its signature verifies.
    pub verify: Vec<crate::trust::VerifyKey>,
    /// Also (or only) pull the newest referrer of a type (`--referrer`).
    pub referrer: Option<ReferrerPull>,
}

/// Where a pull's files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Into this directory (created if missing).
    Dir(PathBuf),
    /// The one selected layer, streamed to a writer ([`crate::pull_stream`]).
    Stdout,
}

impl Output {
    /// The directory, unless the output is stdout.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Output::Dir(d) => Some(d),
            Output::Stdout => None,
        }
    }
}

/// The output directory of a pull that writes files; stdout is refused here, not turned into a
/// path named `-`.
fn output_dir(req: &PullRequest) -> Result<&Path, Error> {
    req.output.dir().ok_or_else(|| {
        Error::new(ErrorKind::Usage, "this pull writes files: give an output directory, not -")
    })
}

/// `pull --referrer`: which attached artifact to pull.
#[derive(Debug, Clone)]
pub struct ReferrerPull {
    /// Its artifact type, e.g. `application/spdx+json`.
    pub artifact_type: String,
    /// Pull the subject's own files too.
    pub with_subject: bool,
}

/// What to unpack, and where.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Unpack archive layers (`--extract`); an image's layers become its root filesystem.
    pub extract: bool,
    /// Where to unpack (default: the output directory).
    pub to: Option<PathBuf>,
    /// Keep the downloaded archive next to the extracted files.
    pub keep_archive: bool,
    /// Unpack layers that oras marked `io.deis.oras.content.unpack=true` (a pushed directory).
    pub oras_unpack: bool,
    /// The most one archive (or one image, all layers together) may unpack to; default
    /// [`Limit::for_blob`].
    pub max_unpacked: Option<u64>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            extract: false,
            to: None,
            keep_archive: false,
            oras_unpack: true,
            max_unpacked: None,
        }
    }
}

/// The outcome of a pull: the resolved manifest and every file.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The manifest the layers came from.
    pub manifest: ResolvedManifest,
    /// Every selected file, in manifest order.
    pub files: Vec<FileReport>,
}

/// One selected layer and where it goes.
struct Job {
    layer: Descriptor,
    name: String,
    rel: PathBuf,
    /// Every path it may write (see `claimed_paths`).
    claims: Vec<PathBuf>,
}

/// Resolve and select: the manifest and the layers to fetch, with their safe paths.
fn plan(
    client: &Client,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<(ResolvedManifest, Vec<Job>), Error> {
    let filter = req.filter.compile()?;
    let platform = req.platform.clone().unwrap_or_else(Platform::host);
    let resolved = resolve(client, &req.reference, Some(&platform), obs)
        .map_err(|e| crate::resolve::blob_hint(client, &req.reference, e))?;
    let Manifest::Image(image) = &resolved.manifest else {
        unreachable!("resolve follows an index when given a platform");
    };
    let helm = HelmChart::of(client, req.reference.repository(), image)?;
    let mut layers: Vec<&Descriptor> = Vec::new();
    for layer in &image.layers {
        if conventions::is_empty_descriptor(layer) {
            obs.log(
                Level::Debug,
                format!("skipping the empty descriptor {}", layer.digest.short()),
            );
        } else {
            layers.push(layer);
        }
    }
    let names: Vec<String> = layers.iter().map(|l| layer_name(l, helm.as_ref())).collect();
    let mut jobs: Vec<Job> = Vec::new();
    let mut claims: Vec<Vec<PathBuf>> = Vec::new();
    for (layer, name) in layers.iter().zip(&names) {
        if !filter.matches(name, &layer.media_type) {
            continue;
        }
        if jobs.iter().any(|j| j.layer.digest == layer.digest && j.name == *name) {
            continue; // the same blob under the same name twice: one download serves both
        }
        let rel = safe_relative_path(name, req.flatten)?;
        let mut job = Job { layer: (*layer).clone(), name: name.clone(), rel, claims: Vec::new() };
        if req.output.dir().is_some() {
            job.claims = claimed_paths(req, &job)?;
            claims.push(job.claims.clone());
        }
        jobs.push(job);
    }
    if layers.is_empty() && req.filter.is_empty() {
        // oras pull exits 0 on an artifact of annotations only; so do we, saying so.
        obs.log(Level::Info, format!("nothing to pull: {} has no files", req.reference));
        return Ok((resolved, jobs));
    }
    if jobs.is_empty() {
        let list = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no layer of {} matches the filters; layers: {list}", req.reference),
        ));
    }
    check_collisions(&jobs, &claims)?;
    Ok((resolved, jobs))
}

pub(crate) fn pull(
    client: &Client,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let (resolved, jobs) = plan(client, req, obs)?;
    let checks = trust_checks(client, req, &resolved, &jobs, obs)?;
    if req.dry_run {
        let path = |j: &Job| match &req.output {
            Output::Dir(d) => d.join(&j.rel),
            Output::Stdout => PathBuf::from("-"),
        };
        if req.output == Output::Stdout {
            one_layer(&jobs)?;
        }
        let files = jobs.iter().map(|j| report(&path(j), &j.layer, FileStatus::Planned)).collect();
        return Ok(PullReport { manifest: resolved, files });
    }
    let out = output_dir(req)?;
    if jobs.is_empty() {
        return Ok(PullReport { manifest: resolved, files: Vec::new() });
    }
    prepare_output(out)?;
    obs.event(&Event::Planned {
        files: jobs.len(),
        bytes: jobs.iter().map(|j| j.layer.size).sum(),
    });
    // Signed or nothing: files whose signature covers their bytes are held and verified first.
    let held = Mutex::new(hold_signed(client, req, &jobs, &checks, obs)?);
    if req.extract.extract && is_image(&jobs) {
        return pull_rootfs(client, req, resolved, jobs, obs);
    }
    let claimed: HashSet<PathBuf> = jobs.iter().flat_map(|j| j.claims.iter().cloned()).collect();
    let results = pool::run(jobs, req.jobs, |index, job| {
        if let Some(done) = held.lock().unwrap_or_else(|p| p.into_inner()).remove(&index) {
            return done;
        }
        let others: HashSet<PathBuf> =
            claimed.iter().filter(|p| !job.claims.contains(p)).cloned().collect();
        let r =
            fetch_layer(client, req, &job, index, &others, obs).map_err(|e| e.in_layer(&job.name));
        if let Err(e) = &r {
            obs.event(&Event::Failed { index, name: &job.name, error: e });
        }
        r
    });
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(f) => files.push(f),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::many(errors));
    }
    Ok(PullReport { manifest: resolved, files })
}

/// Stream the one selected layer to `out`, verifying as it goes.
pub(crate) fn pull_stream(
    client: &Client,
    req: &PullRequest,
    out: &mut dyn Write,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    // Signed or nothing: a stream's bytes reach the reader before the blob's digest is checked
    // at its end, so no signature can vouch for them yet.
    if !req.verify.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            "-o - streams bytes before they are verified: with --verify-key, use -o DIR",
        ));
    }
    let (resolved, jobs) = plan(client, req, obs)?;
    let Some(job) = one_layer(&jobs)? else {
        return Ok(PullReport { manifest: resolved, files: Vec::new() });
    };
    let progress = Progress::default();
    obs.event(&Event::Started {
        index: 0,
        name: &job.name,
        size: Some(job.layer.size),
        progress: &progress,
    });
    let spec = BlobSpec {
        repository: req.reference.repository(),
        digest: &job.layer.digest,
        size: Some(job.layer.size),
    };
    let who = blob::Report { index: 0, name: &job.name, progress: &progress, obs };
    blob::to_writer(client, spec, out, who)
        .map_err(|e| e.context(&job.name).in_layer(&job.name))?;
    let file = report(Path::new("-"), &job.layer, FileStatus::Downloaded);
    obs.event(&Event::Finished {
        index: 0,
        name: &job.name,
        path: Path::new("-"),
        digest: &job.layer.digest,
        size: job.layer.size,
        status: FileStatus::Downloaded,
    });
    Ok(PullReport { manifest: resolved, files: vec![file] })
}

/// The one layer a stream to stdout writes (none: nothing to pull); more is a usage error.
fn one_layer(jobs: &[Job]) -> Result<Option<&Job>, Error> {
    if jobs.len() > 1 {
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "-o - writes one layer, but {} are selected: {}; narrow it with a filter",
                jobs.len(),
                names.join(", ")
            ),
        ));
    }
    Ok(jobs.first())
}

fn report(path: &Path, layer: &Descriptor, status: FileStatus) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        title: layer.title().map(str::to_owned),
        digest: layer.digest.clone(),
        size: layer.size,
        media_type: layer.media_type.clone(),
        status,
    }
}

/// A layer's file name: its title, else the name its publisher's client gives it (Helm), else
/// its digest's hex.
fn layer_name(d: &Descriptor, helm: Option<&HelmChart>) -> String {
    d.title()
        .map(str::to_owned)
        .or_else(|| helm.and_then(|h| h.layer_name(d)))
        .unwrap_or_else(|| d.digest.hex().to_owned())
}

/// Every path a job may write, derived names included, each checked like a title: its file
/// (and `.part`), the name it decompresses to, the directory an oras layer unpacks to.
fn claimed_paths(req: &PullRequest, job: &Job) -> Result<Vec<PathBuf>, Error> {
    let out = output_dir(req)?;
    let base = req.extract.to.as_deref().unwrap_or(out);
    let file = out.join(&job.rel);
    let mut out = vec![file.clone(), blob::part_path(&file)];
    if is_oras_dir(req, &job.layer) {
        out.push(base.join(&job.rel));
        if req.extract.keep_archive {
            let kept = PathBuf::from(format!("{}.{}", file.display(), oras_suffix(&job.layer)));
            out.push(blob::part_path(&kept));
            out.push(kept);
        }
    } else if req.extract.extract && Hint::of(&job.layer.media_type, &job.name).single {
        let derived = decompressed_name(&job.rel);
        let rel = safe_relative_path(&derived, false)
            .map_err(|e| e.context(format!("{} decompresses to {derived:?}", job.name)))?;
        out.push(base.join(rel));
    }
    Ok(out)
}

/// No two layers may claim one path, nor one a parent directory of another's.
fn check_collisions(jobs: &[Job], claims: &[Vec<PathBuf>]) -> Result<(), Error> {
    let mut seen: HashMap<&Path, usize> = HashMap::new();
    for (i, paths) in claims.iter().enumerate() {
        for p in paths {
            if let Some(other) = seen.insert(p, i).filter(|o| *o != i) {
                return Err(collision(jobs, other, i, p));
            }
        }
    }
    for (i, paths) in claims.iter().enumerate() {
        for p in paths {
            if let Some(other) =
                p.ancestors().skip(1).find_map(|a| seen.get(a)).filter(|o| **o != i)
            {
                return Err(collision(jobs, *other, i, p));
            }
        }
    }
    Ok(())
}

fn collision(jobs: &[Job], a: usize, b: usize, path: &Path) -> Error {
    Error::new(
        ErrorKind::Other,
        format!(
            "two layers ({} {:?} and {} {:?}) would both be written to {:?}; pull them separately with a filter",
            jobs[a].layer.digest.short(),
            jobs[a].name,
            jobs[b].layer.digest.short(),
            jobs[b].name,
            path
        ),
    )
}

fn prepare_output(dir: &Path) -> Result<(), Error> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::new(
            ErrorKind::Usage,
            format!("output {} exists and is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create output directory", dir, e))
        }
        Err(e) => Err(Error::io("inspect output directory", dir, e)),
    }
}

fn fetch_layer(
    client: &Client,
    req: &PullRequest,
    job: &Job,
    index: usize,
    others: &HashSet<PathBuf>,
    obs: &dyn Observer,
) -> Result<FileReport, Error> {
    let layer = &job.layer;
    // Its directory is made when the file is written, under a held handle (fsx).
    let dest = output_dir(req)?.join(&job.rel);
    let after = after_download(req, job, &dest)?;
    let finished = |path: &Path, status| {
        obs.event(&Event::Finished {
            index,
            name: &job.name,
            path,
            digest: &layer.digest,
            size: layer.size,
            status,
        });
        Ok(report(path, layer, status))
    };
    let After::Unpack { hint, root, rel, content_digest, archive } = after else {
        let status = download(client, req, job, index, &dest, obs, None)?;
        return finished(&dest, status);
    };
    let unpack = Unpack {
        hint,
        root: &root,
        content_digest: content_digest.as_ref(),
        name: &job.name,
        limit: Limit::for_blob(layer.size, req.extract.max_unpacked),
        prefix: is_oras_dir(req, layer).then_some(job.rel.as_path()),
        cancel: Some(client.cancel()),
    };
    // One pass: unpack into staging from a tap on the download; commit once the blob verified.
    let (mut tap, mut reader) = blob::Tap::channel(8);
    let (status, staged, intact) = std::thread::scope(|s| {
        let unpacking = s.spawn(|| extract::stage(&mut reader, &unpack, obs));
        let status = download(client, req, job, index, &archive, obs, Some(&mut tap));
        let intact = status.is_ok() && tap.intact(layer.size);
        drop(tap); // the end of the stream for the unpacking thread
        let staged = unpacking.join().unwrap_or_else(|_| {
            Err(StageError::Failed(Error::new(ErrorKind::Other, "unpacking thread panicked")))
        });
        (status, staged, intact)
    });
    let status = status?;
    if status == FileStatus::Skipped {
        return finished(&archive, status);
    }
    // Already on disk, the stream broke (a restart from zero), or a zip: unpack from the
    // verified file.
    let intact = intact && !matches!(staged, Err(StageError::NeedsFile));
    let staged = if intact {
        obs.log(Level::Debug, format!("{}: unpacked while downloading", job.name));
        staged
    } else {
        drop(staged);
        obs.log(Level::Debug, format!("{}: unpacking from the downloaded file", job.name));
        let mut file = std::fs::File::open(&archive).map_err(|e| Error::io("open", &archive, e))?;
        extract::stage_file(&mut file, &unpack, obs)
    };
    match staged {
        Ok(st) => {
            let policy = Policy { overwrite: req.overwrite, obs, claimed: Some(others) };
            let r = st.commit(&root, &rel, policy);
            drop_archive(req, &archive, &dest);
            r.map_err(|e| e.context(&job.name))?;
            finished(&root.join(&rel), FileStatus::Extracted)
        }
        Err(StageError::NotArchive | StageError::NeedsFile) => {
            let status = not_an_archive(req, job, &archive, &dest, obs)?;
            finished(&dest, status)
        }
        Err(StageError::Failed(e)) => {
            drop_archive(req, &archive, &dest);
            // The unpacker's own errors already start with the layer's name.
            let named = e.to_string().starts_with(&format!("{}: ", job.name));
            Err(if named { e } else { e.context(&job.name) })
        }
    }
}

/// Bring the layer's verified bytes to `path`, unless they are there already.
fn download(
    client: &Client,
    req: &PullRequest,
    job: &Job,
    index: usize,
    path: &Path,
    obs: &dyn Observer,
    tap: Option<&mut blob::Tap>,
) -> Result<FileStatus, Error> {
    let layer = &job.layer;
    // Every path here is the output directory joined with a checked relative path. Its
    // directory is opened once, without following symlinks, and held until the final rename.
    let out = output_dir(req)?;
    let rel = path.strip_prefix(out).ok().filter(|r| r.file_name().is_some());
    let Some(rel) = rel else {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} is not a file below {}", path.display(), out.display()),
        ));
    };
    let dir = fsx::open_beneath(out, rel.parent().unwrap_or(Path::new("")))?;
    let dest = blob::Dest { dir: &dir, name: rel.file_name().unwrap_or_default() };
    if let Some(status) = existing(dest, &layer.digest, Some(layer.size), req.overwrite, obs)? {
        return Ok(status);
    }
    let progress = Progress::default();
    obs.event(&Event::Started {
        index,
        name: &job.name,
        size: Some(layer.size),
        progress: &progress,
    });
    let spec = BlobSpec {
        repository: req.reference.repository(),
        digest: &layer.digest,
        size: Some(layer.size),
    };
    let who = blob::Report { index, name: &job.name, progress: &progress, obs };
    let outcome =
        blob::to_file_tapped(client, spec, dest, who, tap).map_err(|e| e.context(&job.name))?;
    Ok(match outcome {
        o if o.from_cache => FileStatus::Cached,
        o if o.resumed_from > 0 => FileStatus::Resumed,
        _ => FileStatus::Downloaded,
    })
}

/// What happens to a layer once it is verified.
enum After {
    /// Saved under its name.
    Keep,
    /// Unpacked to `root/rel` (`rel` empty: a tar merged into `root`) from `archive`, where the
    /// blob is downloaded (its own name when kept, else a hidden one that is removed).
    Unpack {
        hint: Hint,
        root: PathBuf,
        rel: PathBuf,
        content_digest: Option<Digest>,
        archive: PathBuf,
    },
}

const ORAS_UNPACK: &str = "io.deis.oras.content.unpack";
const ORAS_DIGEST: &str = "io.deis.oras.content.digest";

/// The suffix of the archive an oras directory is kept as (`--keep-archive`).
fn oras_suffix(layer: &Descriptor) -> &'static str {
    Format::guess(&layer.media_type, "").filter(|f| f.is_tar()).map_or("tar.gz", Format::suffix)
}

/// A directory pushed by oras, to be unpacked as `oras pull` does.
fn is_oras_dir(req: &PullRequest, layer: &Descriptor) -> bool {
    req.extract.oras_unpack && layer.annotations.get(ORAS_UNPACK).is_some_and(|v| v == "true")
}

fn after_download(req: &PullRequest, job: &Job, dest: &Path) -> Result<After, Error> {
    let layer = &job.layer;
    let x = &req.extract;
    let out = output_dir(req)?;
    let root = x.to.clone().unwrap_or_else(|| out.to_path_buf());
    let hidden = out.join(format!("{}{}", extract::RESERVED_PREFIX, layer.digest.hex()));
    if is_oras_dir(req, layer) {
        let content_digest = match layer.annotations.get(ORAS_DIGEST) {
            Some(d) => Some(
                d.parse::<Digest>()
                    .map_err(|e| e.context(format!("{}: {ORAS_DIGEST}", job.name)))?,
            ),
            None => None,
        };
        let suffix = Format::guess(&layer.media_type, "")
            .filter(|f| f.is_tar())
            .map_or("tar.gz", Format::suffix);
        let kept = PathBuf::from(format!("{}.{suffix}", dest.display()));
        let archive = if x.keep_archive { kept } else { hidden };
        let hint = Hint { tar: true, single: false };
        return Ok(After::Unpack { hint, root, rel: job.rel.clone(), content_digest, archive });
    }
    if !x.extract || Format::guess(&layer.media_type, &job.name).is_none() {
        return Ok(After::Keep);
    }
    let archive = if x.keep_archive { dest.to_path_buf() } else { hidden };
    let hint = Hint::of(&layer.media_type, &job.name);
    // A single compressed file lands under its name without the suffix (checked when planned,
    // and again here as a title is); a tar is merged into the root.
    let rel = if hint.single {
        safe_relative_path(&decompressed_name(&job.rel), false)?
    } else {
        PathBuf::new()
    };
    Ok(After::Unpack { hint, root, rel, content_digest: None, archive })
}

/// The name a single compressed file decompresses to: its own without the suffix.
fn decompressed_name(rel: &Path) -> String {
    extract::decompressed_name(&rel.display().to_string())
}

/// A layer that claimed to be an archive but is not: keep it as a file under its name, as the
/// overwrite policy allows for what is there.
fn not_an_archive(
    req: &PullRequest,
    job: &Job,
    archive: &Path,
    dest: &Path,
    obs: &dyn Observer,
) -> Result<FileStatus, Error> {
    // Said out loud only when the layer claimed to be one: oras's generic type claims nothing.
    let hint = Hint::of(&job.layer.media_type, &job.name);
    let level = if hint.tar || hint.single { Level::Info } else { Level::Debug };
    obs.log(level, format!("{} is not an archive; kept as a file", job.name));
    if archive == dest {
        return Ok(FileStatus::Downloaded);
    }
    land(req, &job.layer, archive, dest, false, obs)
}

fn drop_archive(req: &PullRequest, archive: &Path, dest: &Path) {
    if !req.extract.keep_archive && archive != dest {
        let _ = std::fs::remove_file(archive);
    }
}

/// Decide about a file already at `dest`: `Some(status)` when nothing needs fetching, `None` to
/// download (the rename replaces it), an error when the policy forbids touching it.
pub(crate) fn existing(
    dest: blob::Dest<'_>,
    digest: &Digest,
    size: Option<u64>,
    policy: Overwrite,
    obs: &dyn Observer,
) -> Result<Option<FileStatus>, Error> {
    let path = dest.dir.show(dest.name);
    let Some(node) = dest.dir.entry(dest.name)? else { return Ok(None) };
    if node.is_file()
        && size.is_none_or(|s| s == node.size)
        && let Some(file) = dest.dir.open_existing_regular(dest.name, false)?
    {
        let (got, _) = blob::hash_file(&file, &path, digest.algorithm())?;
        if &got == digest {
            return Ok(Some(FileStatus::UpToDate));
        }
    }
    if !node.is_file() && !node.is_symlink() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("{} exists and is not a regular file", path.display()),
        ));
    }
    Ok(if policy.allows(&path, obs)? { None } else { Some(FileStatus::Skipped) })
}
