//! What a pull will do before it does anything: resolve, filter, name every layer safely, and
//! claim every path it may write, so that two layers never meet in one file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{PullRequest, output_dir};
use crate::blob;
use crate::cache::{Before, Cache};
use crate::conventions::{self, HelmChart};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{FileStatus, Level, Observer};
use crate::extract::Overwrite;
use crate::extract::{self, Format, Hint};
use crate::held::safe_relative_path;
use crate::manifest::{Descriptor, Manifest};
use crate::resolve::{ResolvedManifest, resolve};
use crate::session::Session;
use crate::trust::minisign::describes_other_files;

/// One selected layer and where it goes.
pub(super) struct Job {
    pub layer: Descriptor,
    pub name: String,
    pub rel: PathBuf,
    /// Every path it may write (see `claimed_paths`).
    pub claims: Vec<PathBuf>,
}

/// Resolve and select: the manifest and the layers to fetch, with their safe paths.
pub(super) fn plan(
    session: &Session,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<(ResolvedManifest, Vec<Job>), Error> {
    let filter = req.filter.compile()?;
    let platform = req.platforms.single()?;
    let resolved = resolve(&session.client, &req.reference, Some(&platform), obs)
        .map_err(|e| crate::resolve::blob_hint(&session.client, &req.reference, e))?;
    let Manifest::Image(image) = &resolved.manifest else {
        unreachable!("resolve follows an index when given a platform");
    };
    let helm = HelmChart::of(&session.client, req.reference.repository(), image)?;
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
    // A set, not a scan of the jobs so far: a 4 MiB manifest holds ~20 000 layers.
    let mut planned: HashSet<(&Digest, &str)> = HashSet::new();
    for (layer, name) in layers.iter().zip(&names) {
        if !filter.matches(name, &layer.media_type) {
            continue;
        }
        if !planned.insert((&layer.digest, name)) {
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

/// A layer's file name: its title, else the name its publisher's client gives it (Helm), else
/// its digest's hex.
pub(super) fn layer_name(d: &Descriptor, helm: Option<&HelmChart>) -> String {
    d.title()
        .map(str::to_owned)
        .or_else(|| helm.and_then(|h| h.layer_name(d)))
        .unwrap_or_else(|| d.digest.hex().to_owned())
}

/// Every path a job may write, derived names included, each checked like a title: its file
/// (and `.part`), the name it decompresses to, the directory an oras layer unpacks to.
pub(super) fn claimed_paths(req: &PullRequest, job: &Job) -> Result<Vec<PathBuf>, Error> {
    let out = output_dir(req)?;
    let base = req.extract.to.as_deref().unwrap_or(out);
    let file = out.join(&job.rel);
    let mut out = vec![file.clone(), blob::part_path(&file)];
    if describes_other_files(&job.name) {
        // Never unpacked (see `after_download`): it writes its own name only.
    } else if is_oras_dir(req, &job.layer) {
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
pub(super) fn check_collisions(jobs: &[Job], claims: &[Vec<PathBuf>]) -> Result<(), Error> {
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

const ORAS_UNPACK: &str = "io.deis.oras.content.unpack";
pub(super) const ORAS_DIGEST: &str = "io.deis.oras.content.digest";

/// The suffix of the archive an oras directory is kept as (`--keep-archive`).
pub(super) fn oras_suffix(layer: &Descriptor) -> &'static str {
    Format::guess(&layer.media_type, "").filter(|f| f.is_tar()).map_or("tar.gz", Format::suffix)
}

/// A directory pushed by oras, to be unpacked as `oras pull` does.
pub(super) fn is_oras_dir(req: &PullRequest, layer: &Descriptor) -> bool {
    req.extract.oras_unpack && layer.annotations.get(ORAS_UNPACK).is_some_and(|v| v == "true")
}

/// The name a single compressed file decompresses to: its own without the suffix.
pub(super) fn decompressed_name(rel: &Path) -> String {
    extract::decompressed_name(&rel.display().to_string())
}

/// Decide about a file already at `dest`: `Some(status)` when nothing needs fetching, `None` to
/// download (the rename replaces it), an error when the policy forbids touching it. A file the
/// `cache` remembers as verified (see `crate::cache`) is up to date without hashing it again.
pub(crate) fn existing(
    dest: blob::Dest<'_>,
    (digest, size): (&Digest, Option<u64>),
    cache: Option<&Cache>,
    policy: Overwrite,
    obs: &dyn Observer,
) -> Result<Option<FileStatus>, Error> {
    let path = dest.dir.show(dest.name);
    let Some(node) = dest.dir.entry(dest.name)? else { return Ok(None) };
    if node.is_file()
        && size.is_none_or(|s| s == node.size)
        && let Some(file) = dest.dir.open_existing_regular(dest.name, false)?
    {
        if cache.is_some_and(|c| c.output_holds(&file, digest)) {
            obs.log(Level::Debug, format!("{} is unchanged since it verified", path.display()));
            return Ok(Some(FileStatus::UpToDate));
        }
        let before = Before::settled(&file);
        let (got, _) = blob::hash_file(&file, &path, digest.algorithm())?;
        // Right bytes in a file that is not the user's alone (another user's, one others may
        // write, one with other links) could change after the pull: the same bytes go in a
        // file of the user's own (the rename replaces it), whatever the policy for other content.
        if &got == digest
            && let Some(why) = node.unfit()
        {
            obs.log(
                Level::Debug,
                format!("{} {why}: replaced by a file of your own", path.display()),
            );
            return Ok(None);
        }
        if &got == digest {
            if let Some(c) = cache {
                c.remember_output(&file, digest, before);
            }
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
