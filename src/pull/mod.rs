//! `pull`: resolve, select, then fetch every selected layer over one worker pool.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, ErrorKind, Hint};
use crate::events::{Event, FileReport, FileStatus, Observer, Progress};
pub use crate::extract::Overwrite;
use crate::manifest::Descriptor;
use crate::registry::Key;
use crate::resolve::ResolvedManifest;
use crate::session::Session;

mod attached;
pub(crate) mod by_digest;
mod commit;
mod layer;
pub(crate) mod layout;
mod plan;
mod platforms;
pub(crate) mod referrers;
mod request;
mod rootfs;
mod signed;

use crate::blob::{self, BlobSpec};
use commit::{Landed, commit_all};
use layer::fetch_layer;
pub use layout::{LayoutReport, LayoutRequest, LayoutTarget};
pub(crate) use plan::existing;
use plan::{Job, plan};
pub use platforms::Platforms;
pub(crate) use platforms::pull_each;
pub use request::{ExtractOptions, Output, PullRequest, ReferrerPull};
use rootfs::{is_image, pull_rootfs};
use signed::{hold_signed, trust_checks};

/// The output directory of a pull that writes files; stdout is refused here, not turned into a
/// path named `-`.
fn output_dir(req: &PullRequest) -> Result<&Path, Error> {
    req.output.dir().ok_or_else(|| {
        Error::new(ErrorKind::Usage, "this pull writes files: give an output directory, not -")
    })
}

/// The outcome of a pull: the resolved manifest and every file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PullReport {
    /// The manifest the layers came from.
    pub manifest: ResolvedManifest,
    /// Every selected file, in manifest order.
    pub files: Vec<FileReport>,
}

pub(crate) fn pull(
    session: &Session,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let planned = plan_checked(session, req, obs)?;
    fetch_planned(session, req, planned, obs)
}

/// A pull planned and its signatures checked, ready for [`fetch_planned`].
struct Planned {
    resolved: ResolvedManifest,
    jobs: Vec<Job>,
    checks: crate::trust::Checks,
}

/// [`plan`], then check signatures; planned again while a mirror's answer for the tag is
/// covered by no signature.
fn plan_checked(
    session: &Session,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<Planned, Error> {
    // A mirror's answer for the tag that no signature covers: like its bad bytes, it drops the
    // mirror, and the tag is asked of the next source.
    let planned = session.client.fail_over(&tag_key(req), ErrorKind::Signature, || {
        let (resolved, jobs) = plan(session, req, obs)?;
        let checks = trust_checks(session, req, &resolved, &jobs, obs)?;
        Ok::<_, Error>(Planned { resolved, jobs, checks })
    })?;
    // From a layout or the cache alone: all there and whole, or nothing is written.
    session.client.check_local(planned.jobs.iter().map(|j| &j.layer))?;
    Ok(planned)
}

/// Everything after [`plan_checked`]: fetch every job (or, in a dry run, list them).
fn fetch_planned(
    session: &Session,
    req: &PullRequest,
    planned: Planned,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let Planned { resolved, jobs, checks } = planned;
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
        // Sizes come from the manifest: 16 400 layers of 2^50 bytes must not wrap to 2^54.
        bytes: jobs.iter().map(|j| j.layer.size).fold(0, u64::saturating_add),
    });
    // Signed or nothing: files whose signature covers their bytes are held and verified first.
    let held = Mutex::new(hold_signed(session, req, &jobs, &checks, obs)?);
    if req.extract.extract && is_image(&jobs) {
        return pull_rootfs(session, req, resolved, jobs, obs);
    }
    let claimed: HashSet<PathBuf> = jobs.iter().flat_map(|j| j.claims.iter().cloned()).collect();
    let results = session.pool.run(jobs, |index, job| {
        if let Some(done) = held.lock().unwrap_or_else(|p| p.into_inner()).remove(&index) {
            return done.map(Landed::Done);
        }
        let others: HashSet<PathBuf> =
            claimed.iter().filter(|p| !job.claims.contains(p)).cloned().collect();
        let r =
            fetch_layer(session, req, &job, index, &others, obs).map_err(|e| e.in_layer(&job.name));
        if let Err(e) = &r {
            obs.event(&Event::Failed { index, name: &job.name, error: e });
        }
        r
    });
    let mut outcomes: Vec<Option<Result<FileReport, Error>>> = Vec::new();
    let mut pending = Vec::new();
    for r in results {
        match r {
            Ok(Landed::Done(f)) => outcomes.push(Some(Ok(f))),
            Ok(Landed::Unpacked(p)) => {
                outcomes.push(None);
                pending.push(*p);
            }
            Err(e) => outcomes.push(Some(Err(e))),
        }
    }
    // Stopped: nothing more moves into place (the staged trees are dropped with `pending`).
    session.cancel().check()?;
    for (i, r) in commit_all(req, pending, obs) {
        outcomes[i] = Some(r);
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for r in outcomes.into_iter().flatten() {
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

/// The pull's tag, when it asks by one (not by digest): whoever answered it is blamed when no
/// signature covers the answer.
fn tag_key(req: &PullRequest) -> Vec<Key> {
    let tag = req.reference.tag().filter(|_| req.reference.digest().is_none());
    tag.map(|t| Key::manifest(req.reference.repository(), t)).into_iter().collect()
}

/// Stream the one selected layer to `out`, verifying as it goes.
pub(crate) fn pull_stream(
    session: &Session,
    req: &PullRequest,
    out: &mut dyn Write,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    // Signed or nothing: a stream's bytes reach the reader before the blob's digest is checked
    // at its end, so no signature can vouch for them yet.
    if !req.verify.is_empty() || req.keyless.is_some() {
        return Err(Error::hinted(ErrorKind::Usage, "", Hint::StreamUnverified, ""));
    }
    let (resolved, jobs) = plan(session, req, obs)?;
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
    let who = blob::Requester { index: 0, name: &job.name, progress: &progress, obs };
    let streamed = blob::to_writer(session, spec, out, who)
        .map_err(|e| e.context(&job.name).in_layer(&job.name));
    by_digest::ended(streamed, &job.name, obs)?;
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
        let after = format!(
            ", but {} are selected: {}; narrow it with a filter",
            jobs.len(),
            names.join(", ")
        );
        return Err(Error::hinted(ErrorKind::Usage, "", Hint::StreamOneLayer, &after));
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
        platform: None,
    }
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
