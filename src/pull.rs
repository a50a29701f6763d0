//! `pull`: resolve, select, then fetch every selected layer over one worker pool.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Level, Observer, Progress};
use crate::extract::{self, Format, StageError};
use crate::fsx;
use crate::manifest::{Descriptor, Manifest, Platform};
use crate::pool;
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::{ResolvedManifest, resolve};
use crate::select::{Filter, prepare_parent, safe_relative_path};
use crate::transfer::{self, BlobSpec};

/// What to do when a file exists with other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail that file (exit 1) and leave it untouched.
    Error,
    /// Leave it and go on.
    Skip,
    /// Replace it.
    Force,
    /// Ask the observer.
    Prompt,
}

/// Everything a pull needs besides the registry connection.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// What to pull.
    pub reference: Reference,
    /// For an index; defaults to the host's platform.
    pub platform: Option<Platform>,
    /// The directory files go to (created if missing); nothing is written outside it.
    pub output: PathBuf,
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
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions { extract: false, to: None, keep_archive: false, oras_unpack: true }
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
}

/// Resolve and select: the manifest and the layers to fetch, with their safe paths.
fn plan(
    client: &Client,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<(ResolvedManifest, Vec<Job>), Error> {
    let filter = req.filter.compile()?;
    let platform = req.platform.clone().unwrap_or_else(Platform::host);
    let resolved = resolve(client, &req.reference, Some(&platform), obs)?;
    let Manifest::Image(image) = &resolved.manifest else {
        unreachable!("resolve follows an index when given a platform");
    };
    let names: Vec<String> = image.layers.iter().map(layer_name).collect();
    let mut jobs: Vec<Job> = Vec::new();
    for (layer, name) in image.layers.iter().zip(&names) {
        if !filter.matches(name, &layer.media_type) {
            continue;
        }
        if jobs.iter().any(|j| j.layer.digest == layer.digest && j.name == *name) {
            continue; // the same blob under the same name twice: one download serves both
        }
        let rel = safe_relative_path(name, req.flatten)?;
        jobs.push(Job { layer: layer.clone(), name: name.clone(), rel });
    }
    if jobs.is_empty() {
        let list = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no layer of {} matches the filters; layers: {list}", req.reference),
        ));
    }
    check_collisions(&jobs)?;
    Ok((resolved, jobs))
}

pub(crate) fn pull(
    client: &Client,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let (resolved, jobs) = plan(client, req, obs)?;
    if req.dry_run {
        let files = jobs
            .iter()
            .map(|j| report(&req.output.join(&j.rel), &j.layer, FileStatus::Planned))
            .collect();
        return Ok(PullReport { manifest: resolved, files });
    }
    prepare_output(&req.output)?;
    obs.event(&Event::Planned {
        files: jobs.len(),
        bytes: jobs.iter().map(|j| j.layer.size).sum(),
    });
    if req.extract.extract && is_image(&jobs) {
        return pull_rootfs(client, req, resolved, jobs, obs);
    }
    let results = pool::run(jobs, req.jobs, |index, job| {
        let r = fetch_layer(client, req, &job, index, obs);
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
    let (resolved, jobs) = plan(client, req, obs)?;
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
    let job = &jobs[0];
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
    let who = transfer::Report { index: 0, name: &job.name, progress: &progress, obs };
    transfer::to_writer(client, spec, out, who).map_err(|e| e.context(&job.name))?;
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

/// A layer's file name: its title, else its digest's hex.
fn layer_name(d: &Descriptor) -> String {
    d.title().map_or_else(|| d.digest.hex().to_owned(), str::to_owned)
}

/// Two layers must not land on one path, nor one on another's `.part` or parent directory.
fn check_collisions(jobs: &[Job]) -> Result<(), Error> {
    let mut seen: HashMap<&Path, &Job> = HashMap::new();
    for j in jobs {
        if let Some(other) = seen.insert(&j.rel, j) {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "two layers ({} and {}) would both be written to {:?}; pull them separately with a filter",
                    other.layer.digest.short(),
                    j.layer.digest.short(),
                    j.rel
                ),
            ));
        }
    }
    for j in jobs {
        let part = transfer::part_path(&j.rel);
        let clash = seen.contains_key(part.as_path())
            || j.rel.ancestors().skip(1).any(|a| seen.contains_key(a));
        if clash {
            return Err(Error::new(
                ErrorKind::Other,
                format!("layer path {:?} collides with another layer's path", j.rel),
            ));
        }
    }
    Ok(())
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
    obs: &dyn Observer,
) -> Result<FileReport, Error> {
    let layer = &job.layer;
    let dest = prepare_parent(&req.output, &job.rel)?;
    let after = after_download(req, job, &dest)?;
    let archive = match &after {
        After::Keep => dest.clone(),
        After::Unpack { archive, .. } | After::Decompress { archive, .. } => archive.clone(),
    };
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
    let (format, target, content_digest) = match after {
        After::Keep => {
            let status = download(client, req, job, index, &archive, obs, None)?;
            return finished(&archive, status);
        }
        After::Unpack { format, target, content_digest, .. } => (format, target, content_digest),
        After::Decompress { format, dest: out, .. } => (format, out, None),
    };
    // One pass: unpack into staging from a tap on the download; commit once the blob verified.
    let (mut tap, mut reader) = transfer::Tap::channel(8);
    let (status, staged, intact) = std::thread::scope(|s| {
        let (target, digest) = (&target, content_digest.as_ref());
        let unpacking =
            s.spawn(move || extract::stage(&mut reader, format, target, digest, &job.name, obs));
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
    // Already on disk, or the stream broke (a restart from zero): unpack from the verified file.
    let staged = if intact {
        obs.log(Level::Debug, format!("{}: unpacked while downloading", job.name));
        staged
    } else {
        drop(staged);
        obs.log(Level::Debug, format!("{}: unpacking from the downloaded file", job.name));
        let mut file = std::fs::File::open(&archive).map_err(|e| Error::io("open", &archive, e))?;
        extract::stage(&mut file, format, &target, content_digest.as_ref(), &job.name, obs)
    };
    match staged {
        Ok(st) => {
            let r = st.commit(&target);
            drop_archive(req, &archive, &dest);
            r.map_err(|e| e.context(&job.name))?;
            finished(&target, FileStatus::Extracted)
        }
        Err(StageError::NotArchive) => not_an_archive(&archive, &dest, &job.name, obs)
            .and_then(|()| finished(&dest, FileStatus::Downloaded)),
        Err(StageError::Failed(e)) => {
            drop_archive(req, &archive, &dest);
            Err(e.context(&job.name))
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
    tap: Option<&mut transfer::Tap>,
) -> Result<FileStatus, Error> {
    let layer = &job.layer;
    // Every path here is `req.output` joined with a checked relative path. Its directory is
    // opened once, without following symlinks, and held until the final rename.
    let rel = path.strip_prefix(&req.output).ok().filter(|r| r.file_name().is_some());
    let Some(rel) = rel else {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} is not a file below {}", path.display(), req.output.display()),
        ));
    };
    let dir = fsx::open_beneath(&req.output, rel.parent().unwrap_or(Path::new("")))?;
    let dest = transfer::Dest { dir: &dir, name: rel.file_name().unwrap_or_default() };
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
    let who = transfer::Report { index, name: &job.name, progress: &progress, obs };
    let outcome =
        transfer::to_file_tapped(client, spec, dest, who, tap).map_err(|e| e.context(&job.name))?;
    Ok(match outcome {
        o if o.from_cache => FileStatus::Cached,
        o if o.resumed_from > 0 => FileStatus::Resumed,
        _ => FileStatus::Downloaded,
    })
}

/// An image's layers (untitled tar layers) applied in order into one root filesystem.
fn pull_rootfs(
    client: &Client,
    req: &PullRequest,
    resolved: ResolvedManifest,
    jobs: Vec<Job>,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let target = req.extract.to.clone().unwrap_or_else(|| req.output.clone());
    let path_of = |j: &Job| {
        if req.extract.keep_archive {
            req.output.join(&j.rel)
        } else {
            req.output.join(format!(".oci-dl-{}", j.layer.digest.hex()))
        }
    };
    let format_of = |j: &Job| Format::guess(&j.layer.media_type, "").unwrap_or(Format::Tar);
    // One pass where it can be had: the layer the applier waits for streams into the staged
    // root filesystem while it downloads; the others are applied from their files, in order.
    let line = Line {
        slots: Mutex::new((0..jobs.len()).map(|_| Slot::Pending).collect()),
        cv: Condvar::new(),
        next: AtomicUsize::new(0),
    };
    let (results, streamed) = std::thread::scope(|s| {
        let applier = s.spawn(|| apply_in_order(&line, &jobs, &target, &path_of, &format_of, obs));
        let results = pool::run(jobs.iter().collect(), req.jobs, |index, job: &Job| {
            let mut tap = None;
            if line.next.load(Ordering::SeqCst) == index {
                let (t, reader) = transfer::Tap::channel(8);
                tap = Some(t);
                line.set(index, Slot::Streaming(reader));
            }
            let r = download(client, req, job, index, &path_of(job), obs, tap.as_mut());
            let intact = tap.as_ref().is_none_or(|t| t.intact(job.layer.size));
            drop(tap); // the end of the stream for the applier
            line.set(index, if r.is_ok() { Slot::Downloaded { intact } } else { Slot::Failed });
            if let Err(e) = &r {
                obs.event(&Event::Failed { index, name: &job.name, error: e });
            }
            r
        });
        (results, applier.join().unwrap_or(None))
    });
    let errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    let layers: Vec<(PathBuf, Format)> = jobs.iter().map(|j| (path_of(j), format_of(j))).collect();
    let cleanup = || {
        if !req.extract.keep_archive {
            for (p, _) in &layers {
                let _ = std::fs::remove_file(p);
            }
        }
    };
    if !errors.is_empty() {
        cleanup();
        return Err(Error::many(errors));
    }
    let result = match streamed {
        Some(stage) => {
            obs.log(Level::Debug, "root filesystem unpacked while downloading".into());
            stage.commit(&target)
        }
        None => {
            obs.log(
                Level::Debug,
                "unpacking the root filesystem from the downloaded layers".into(),
            );
            layers
                .iter()
                .try_for_each(|(p, f)| {
                    if f.confirm(&extract::head(p)?) {
                        Ok(())
                    } else {
                        Err(Error::new(
                            ErrorKind::Other,
                            format!("{} is not a {f:?} archive", p.display()),
                        ))
                    }
                })
                .and_then(|()| extract::rootfs(&layers, &target, obs))
        }
    };
    cleanup();
    result?;
    let files = jobs
        .iter()
        .enumerate()
        .map(|(index, j)| {
            obs.event(&Event::Finished {
                index,
                name: &j.name,
                path: &target,
                digest: &j.layer.digest,
                size: j.layer.size,
                status: FileStatus::Extracted,
            });
            report(&target, &j.layer, FileStatus::Extracted)
        })
        .collect();
    Ok(PullReport { manifest: resolved, files })
}

/// Hand-over between the downloads of an image's layers and the thread applying them in order.
struct Line {
    slots: Mutex<Vec<Slot>>,
    cv: Condvar,
    /// The layer the applier waits for; a download that starts it streams it.
    next: AtomicUsize,
}

enum Slot {
    Pending,
    /// Downloading, with a tap the applier may read.
    Streaming(transfer::TapReader),
    /// The applier took the stream.
    Taken,
    /// Downloaded and verified; `intact`: any stream handed out saw every byte in order.
    Downloaded {
        intact: bool,
    },
    Failed,
}

impl Line {
    fn set(&self, i: usize, slot: Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots[i] = slot;
        self.cv.notify_all();
    }
}

/// Apply the layers in order as they become available. `None` when the one pass could not be
/// completed (a stream broke, a download failed, an entry was refused): the caller then applies
/// every layer from its verified file, which also reports any real refusal.
fn apply_in_order(
    line: &Line,
    jobs: &[Job],
    target: &Path,
    path_of: &dyn Fn(&Job) -> PathBuf,
    format_of: &dyn Fn(&Job) -> Format,
    obs: &dyn Observer,
) -> Option<extract::RootfsStage> {
    let mut stage = extract::RootfsStage::beside(target).ok()?;
    for (i, job) in jobs.iter().enumerate() {
        line.next.store(i, Ordering::SeqCst);
        let mut slots = line.slots.lock().unwrap_or_else(|p| p.into_inner());
        while matches!(slots[i], Slot::Pending) {
            slots = line.cv.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
        let taken = std::mem::replace(&mut slots[i], Slot::Taken);
        drop(slots);
        let applied = match taken {
            Slot::Streaming(mut reader) => {
                let ok = stage.apply(&mut reader, format_of(job), &job.name, obs).is_ok();
                let mut slots = line.slots.lock().unwrap_or_else(|p| p.into_inner());
                while matches!(slots[i], Slot::Taken) {
                    slots = line.cv.wait(slots).unwrap_or_else(|p| p.into_inner());
                }
                ok && matches!(slots[i], Slot::Downloaded { intact: true })
            }
            Slot::Downloaded { .. } => {
                let path = path_of(job);
                std::fs::File::open(&path)
                    .is_ok_and(|mut f| stage.apply(&mut f, format_of(job), &job.name, obs).is_ok())
            }
            _ => false,
        };
        if !applied {
            line.next.store(usize::MAX, Ordering::SeqCst);
            return None;
        }
    }
    line.next.store(usize::MAX, Ordering::SeqCst);
    Some(stage)
}

/// An image (untitled tar layers), as opposed to an artifact of named files.
fn is_image(jobs: &[Job]) -> bool {
    jobs.iter().all(|j| {
        j.layer.title().is_none()
            && Format::guess(&j.layer.media_type, "").is_some_and(Format::is_tar)
    })
}

/// What happens to a layer once it is verified.
enum After {
    /// Saved under its name.
    Keep,
    /// A tar archive unpacked into `target`.
    Unpack { format: Format, target: PathBuf, content_digest: Option<Digest>, archive: PathBuf },
    /// A single compressed file decompressed to `dest`.
    Decompress { format: Format, dest: PathBuf, archive: PathBuf },
}

const ORAS_UNPACK: &str = "io.deis.oras.content.unpack";
const ORAS_DIGEST: &str = "io.deis.oras.content.digest";

fn after_download(req: &PullRequest, job: &Job, dest: &Path) -> Result<After, Error> {
    let layer = &job.layer;
    let x = &req.extract;
    let base = x.to.clone().unwrap_or_else(|| req.output.clone());
    // Where the archive goes: its own name when kept, else a hidden name that is removed.
    let hidden = req.output.join(format!(".oci-dl-{}", layer.digest.hex()));
    let oras_dir = x.oras_unpack && layer.annotations.get(ORAS_UNPACK).is_some_and(|v| v == "true");
    if oras_dir {
        let format =
            Format::guess(&layer.media_type, "").filter(|f| f.is_tar()).unwrap_or(Format::TarGzip);
        let content_digest = match layer.annotations.get(ORAS_DIGEST) {
            Some(d) => Some(
                d.parse::<Digest>()
                    .map_err(|e| e.context(format!("{}: {ORAS_DIGEST}", job.name)))?,
            ),
            None => None,
        };
        let suffix = match format {
            Format::Tar => "tar",
            Format::TarZstd => "tar.zst",
            _ => "tar.gz",
        };
        let kept = PathBuf::from(format!("{}.{suffix}", dest.display()));
        let archive = if x.keep_archive { kept } else { hidden };
        return Ok(After::Unpack { format, target: base.join(&job.rel), content_digest, archive });
    }
    if !x.extract {
        return Ok(After::Keep);
    }
    let archive = if x.keep_archive { dest.to_path_buf() } else { hidden };
    Ok(match Format::guess(&layer.media_type, &job.name) {
        Some(format) if format.is_tar() => {
            std::fs::create_dir_all(&base).map_err(|e| Error::io("create directory", &base, e))?;
            After::Unpack { format, target: base, content_digest: None, archive }
        }
        Some(format) => {
            let name = format.decompressed_name(&job.rel.display().to_string());
            let out = prepare_parent(&base, Path::new(&name))?;
            After::Decompress { format, dest: out, archive }
        }
        None => After::Keep,
    })
}

/// A layer that claimed to be an archive but is not: keep it as a file under its name.
fn not_an_archive(
    archive: &Path,
    dest: &Path,
    name: &str,
    obs: &dyn Observer,
) -> Result<(), Error> {
    if archive != dest {
        std::fs::rename(archive, dest).map_err(|e| Error::io("rename into place", dest, e))?;
    }
    obs.log(Level::Info, format!("{name} is not an archive; kept as a file"));
    Ok(())
}

fn drop_archive(req: &PullRequest, archive: &Path, dest: &Path) {
    if !req.extract.keep_archive && archive != dest {
        let _ = std::fs::remove_file(archive);
    }
}

/// Decide about a file already at `dest`: `Some(status)` when nothing needs fetching, `None` to
/// download (the rename replaces it), an error when the policy forbids touching it.
pub(crate) fn existing(
    dest: transfer::Dest<'_>,
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
        let (got, _) = transfer::hash_file(&file, &path, digest.algorithm())?;
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
    let replace = match policy {
        Overwrite::Force => true,
        Overwrite::Skip => false,
        Overwrite::Prompt => obs.confirm_overwrite(&path),
        Overwrite::Error => {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} exists with other content; use --overwrite force or skip",
                    path.display()
                ),
            ));
        }
    };
    Ok(if replace { None } else { Some(FileStatus::Skipped) })
}
