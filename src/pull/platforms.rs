//! `pull --platform A --platform B` and `--platform all`: the platforms of one index, each
//! platform's files in a directory of its own, `OUTPUT/`[`Platform::dir_name`], so that two
//! platforms' files never meet in one path (their layers often share titles).
//!
//! The index is fetched once and every platform is resolved from it by digest, so a tag moved
//! mid-run cannot mix two releases. Every platform is planned (resolved, filtered, named,
//! claimed, its signatures checked) before any file is written; then each is fetched in turn
//! over the one worker pool. A failed platform does not stop the others; every failure is
//! reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::plan::Job;
use super::{Planned, PullReport, PullRequest, fetch_planned, output_dir, plan_checked, tag_key};
use crate::error::{Error, ErrorKind, Hint};
use crate::events::{Event, FileReport, Observer};
use crate::held;
use crate::held::safe_relative_path;
use crate::manifest::{Index, Manifest, Platform};
use crate::reference::Reference;
use crate::resolve::{ResolvedManifest, blob_hint, resolve};
use crate::session::Session;

/// Which platforms of an index a pull takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platforms {
    /// This machine's ([`Platform::host`]), into the output directory itself.
    #[default]
    Host,
    /// This one, into the output directory itself.
    One(Platform),
    /// Each of these, into `OUTPUT/`[`Platform::dir_name`] (named after the ask).
    Each(Vec<Platform>),
    /// Every platform the index lists, each into `OUTPUT/`[`Platform::dir_name`] (named after
    /// the entry). Attestations and entries without a platform are left out.
    All,
}

impl Platforms {
    /// The one platform a single pull resolves an index to.
    pub(crate) fn single(&self) -> Result<Platform, Error> {
        match self {
            Platforms::Host => Ok(Platform::host()),
            Platforms::One(p) => Ok(p.clone()),
            Platforms::Each(_) | Platforms::All => Err(Error::hinted(
                ErrorKind::Usage,
                "several platforms go each into a directory of its own: ",
                Hint::SeveralPlatforms,
                "",
            )),
        }
    }

    /// More than one platform (or all): files go into a directory per platform.
    pub fn is_several(&self) -> bool {
        matches!(self, Platforms::Each(_) | Platforms::All)
    }
}

/// One platform's share of the pull, planned and its signatures checked.
struct Part {
    platform: Platform,
    /// Its directory, relative to the output directory (and to `--extract-to`).
    dir: PathBuf,
    req: PullRequest,
    planned: Planned,
}

/// Pull every platform `req.platforms` names from the index `req.reference` names.
pub(crate) fn pull_each(
    session: &Session,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let out = output_dir(req)?;
    // A mirror's index for the tag that no signature covers: the mirror is dropped and the tag
    // asked of the next source, as for one platform.
    let (top, parts) = session
        .client
        .fail_over(&tag_key(req), ErrorKind::Signature, || plan_parts(session, req, obs))?;
    let jobs: Vec<&Job> = parts.iter().flat_map(|p| &p.planned.jobs).collect();
    if !req.dry_run && !jobs.is_empty() {
        super::prepare_output(out)?;
        // One announcement for every platform's files; each part's own is held back.
        let bytes = jobs.iter().map(|j| j.layer.size).sum();
        obs.event(&Event::Planned { files: jobs.len(), bytes });
    }
    let part_obs = PartObserver(obs);
    let mut failed = Failures::default();
    let mut files = Vec::new();
    for part in parts {
        let made = if req.dry_run || part.planned.jobs.is_empty() {
            Ok(())
        } else {
            own_directory(out, &part.dir, req.extract.to.as_deref())
        };
        let fetched =
            made.and_then(|()| fetch_planned(session, &part.req, part.planned, &part_obs));
        match fetched {
            Ok(report) => files.extend(
                report
                    .files
                    .into_iter()
                    .map(|f| FileReport { platform: Some(Box::new(part.platform.clone())), ..f }),
            ),
            Err(e) => failed.add(&part.platform, e),
        }
    }
    failed.check()?;
    Ok(PullReport { manifest: top, files })
}

/// Fetch the index, then plan every platform from it by digest and check its signatures,
/// before anything is written.
fn plan_parts(
    session: &Session,
    req: &PullRequest,
    obs: &dyn Observer,
) -> Result<(ResolvedManifest, Vec<Part>), Error> {
    let out = output_dir(req)?;
    let top = resolve(&session.client, &req.reference, None, obs)
        .map_err(|e| blob_hint(&session.client, &req.reference, e))?;
    let Manifest::Index(index) = &top.manifest else {
        let what = format!("{} is one manifest, not an index of platforms: ", req.reference);
        return Err(Error::hinted(ErrorKind::NotFound, &what, Hint::OnePlatform, ""));
    };
    let pinned = req.reference.with_digest(top.descriptor.digest.clone());
    let asked = asked(&req.platforms, index)?;
    let dirs = directories(&asked)?;
    let mut parts = Vec::new();
    let mut failed = Failures::default();
    for (platform, dir) in asked.into_iter().zip(dirs) {
        let sub = sub_request(req, &pinned, &platform, out, &dir);
        match plan_checked(session, &sub, obs) {
            Ok(planned) => parts.push(Part { platform, dir, req: sub, planned }),
            Err(e) => failed.add(&platform, e),
        }
    }
    failed.check()?;
    Ok((top, parts))
}

/// What one platform's pull reports: everything but its own [`Event::Planned`], since the
/// whole pull announced every platform's files at once (a progress view keeps one total).
struct PartObserver<'a>(&'a dyn Observer);

impl Observer for PartObserver<'_> {
    fn event(&self, event: &Event<'_>) {
        if !matches!(event, Event::Planned { .. }) {
            self.0.event(event);
        }
    }

    fn confirm_overwrite(&self, path: &Path) -> bool {
        self.0.confirm_overwrite(path)
    }
}

/// Every failure of every platform, each named after its platform.
#[derive(Default)]
struct Failures {
    errors: Vec<Error>,
    platforms: usize,
}

impl Failures {
    fn add(&mut self, platform: &Platform, e: Error) {
        self.platforms += 1;
        self.errors.extend(e.into_errors().into_iter().map(|x| x.context(platform)));
    }

    fn check(&mut self) -> Result<(), Error> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let errors = std::mem::take(&mut self.errors);
        let title = format!("{} failures in {} platform(s)", errors.len(), self.platforms);
        Err(Error::many_titled(errors, title))
    }
}

/// The platforms to pull, each once: the asks as given, or every entry's platform
/// (normalised, with its OS version and features, so that it picks that very entry).
fn asked(platforms: &Platforms, index: &Index) -> Result<Vec<Platform>, Error> {
    let all: Vec<Platform> = match platforms {
        Platforms::Each(ps) => ps.clone(),
        Platforms::All => index
            .platform_entries()
            .filter_map(|d| d.platform.as_ref())
            .map(Platform::normalized)
            .collect(),
        Platforms::Host | Platforms::One(_) => unreachable!("pull_each takes several platforms"),
    };
    let mut out: Vec<Platform> = Vec::new();
    for p in all {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        let what = "no entry of the index names a platform: ";
        return Err(Error::hinted(ErrorKind::NotFound, what, Hint::OnePlatform, ""));
    }
    Ok(out)
}

/// Each platform's directory name, checked like a title: two platforms that would share one
/// (they differ only in OS features, say) are refused before anything is written.
fn directories(platforms: &[Platform]) -> Result<Vec<PathBuf>, Error> {
    let mut seen: HashMap<PathBuf, &Platform> = HashMap::new();
    let mut out = Vec::new();
    for p in platforms {
        let dir = safe_relative_path(&p.dir_name(), false)?;
        if let Some(other) = seen.insert(dir.clone(), p) {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "platforms {other} and {p} would both be written to {}; pull them separately",
                    dir.display()
                ),
            ));
        }
        out.push(dir);
    }
    Ok(out)
}

/// The pull of one platform: its own directory (and unpack directory), the index by digest.
fn sub_request(
    req: &PullRequest,
    pinned: &Reference,
    platform: &Platform,
    out: &Path,
    dir: &Path,
) -> PullRequest {
    let mut extract = req.extract.clone();
    extract.to = extract.to.map(|to| to.join(dir));
    PullRequest {
        reference: pinned.clone(),
        platforms: Platforms::One(platform.clone()),
        output: super::Output::Dir(out.join(dir)),
        extract,
        ..req.clone()
    }
}

/// Create the platform's directory `dir` below the output directory (and below `--extract-to`)
/// without following a symlink there, so that nothing planted in DIR sends a platform's files
/// outside it.
fn own_directory(out: &Path, dir: &Path, extract_to: Option<&Path>) -> Result<(), Error> {
    held::open_beneath(out, dir)?;
    if let Some(to) = extract_to {
        std::fs::create_dir_all(to).map_err(|e| Error::io("create directory", to, e))?;
        held::open_beneath(to, dir)?;
    }
    Ok(())
}
