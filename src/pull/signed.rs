//! Signed or nothing: what `--verify-key` and `--certificate-identity` check before any download, and the files held
//! back until their bytes verified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::layer::{After, after_download, download};
use super::plan::{Job, existing};
use super::rootfs::is_image;
use super::{Overwrite, PullRequest, output_dir, report};
use crate::blob;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Level, Observer};
use crate::held;
use crate::manifest::Descriptor;
use crate::resolve::ResolvedManifest;
use crate::session::Session;

/// `--verify-key`: check what can be checked before any download (see [`crate::trust`]).
pub(super) fn trust_checks(
    session: &Session,
    req: &PullRequest,
    resolved: &ResolvedManifest,
    jobs: &[Job],
    obs: &dyn Observer,
) -> Result<crate::trust::Checks, Error> {
    if req.verify.is_empty() && req.keyless.is_none() {
        return Ok(Default::default());
    }
    let selected: Vec<(String, Descriptor)> =
        jobs.iter().map(|j| (j.name.clone(), j.layer.clone())).collect();
    crate::trust::before_download(
        &session.client,
        &req.reference,
        resolved,
        &selected,
        crate::trust::Policy { keys: &req.verify, keyless: req.keyless.as_ref() },
        obs,
    )
}

/// The files whose minisign signature covers their bytes: download each to its hidden name
/// (`.oci-dl-<hex>`, as an unpacked archive's), verify it, and only when all verified give
/// each its name. A failure removes every held file. Returns the outcome of each job done
/// here; a held archive stays under its hidden name, where its unpacking finds it.
pub(super) fn hold_signed(
    session: &Session,
    req: &PullRequest,
    jobs: &[Job],
    checks: &crate::trust::Checks,
    obs: &dyn Observer,
) -> Result<HashMap<usize, Result<FileReport, Error>>, Error> {
    let held: Vec<usize> = (0..jobs.len()).filter(|i| checks.needs_bytes(*i)).collect();
    if held.is_empty() {
        return Ok(HashMap::new());
    }
    let h = Held { out: output_dir(req)?, jobs, held };
    let statuses = match h.fetch_and_verify(session, req, checks, obs) {
        Ok(s) => s,
        Err(errors) => {
            for i in &h.held {
                let _ = std::fs::remove_file(h.hidden(&jobs[*i]));
            }
            return Err(Error::many(errors));
        }
    };
    Ok(h.give_names(req, &statuses, obs))
}

/// The files held back until their signatures verified, in the output directory `out`.
struct Held<'a> {
    out: &'a Path,
    jobs: &'a [Job],
    /// Indexes into `jobs`.
    held: Vec<usize>,
}

/// Where a verified held file went.
enum Placed {
    /// It stays where its unpacking (later) finds it.
    Later,
    /// It has its name, with this status.
    Here(PathBuf, FileStatus),
}

impl Held<'_> {
    fn hidden(&self, j: &Job) -> PathBuf {
        held::hidden_archive(self.out, &j.layer.digest)
    }

    /// Download every held blob once and verify each file (and each signature layer) from it:
    /// every file's status, or every failure.
    fn fetch_and_verify(
        &self,
        session: &Session,
        req: &PullRequest,
        checks: &crate::trust::Checks,
        obs: &dyn Observer,
    ) -> Result<HashMap<usize, FileStatus>, Vec<Error>> {
        let jobs = self.jobs;
        let ours = PullRequest { overwrite: Overwrite::Force, ..req.clone() }; // the hidden name is ours
        // One download per blob: two held layers of one digest (a signature under both of its
        // names, say) share the hidden name, and each is verified from it.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &self.held {
            match groups.iter_mut().find(|g| jobs[g[0]].layer.digest == jobs[i].layer.digest) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let results = session.pool.run(groups, |_, group| {
            let first = &jobs[group[0]];
            let path = self.hidden(first);
            let status =
                download(session, &ours, first, group[0], &path, obs, None).inspect_err(|e| {
                    obs.event(&Event::Failed { index: group[0], name: &first.name, error: e })
                })?;
            for &i in &group {
                let mut file = open_held(self.out, &path)?;
                match checks.verify_file(i, &jobs[i].name, &mut file) {
                    Ok(Some(said)) => obs.log(Level::Debug, said),
                    Ok(None) => {}
                    Err(e) => {
                        obs.event(&Event::Failed { index: i, name: &jobs[i].name, error: &e });
                        return Err(e);
                    }
                }
            }
            Ok(group.iter().map(|&i| (i, status)).collect::<Vec<_>>())
        });
        let mut statuses = HashMap::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(done) => statuses.extend(done),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors); // a file failed: the pull fails on that alone
        }
        // A signature layer lands only as a good signature of the held, verified file it signs.
        for (i, of) in checks.signature_layers() {
            let r = open_held(self.out, &self.hidden(&jobs[of])).and_then(|mut signed| {
                checks.verify_signature_layer(i, &jobs[i].name, &jobs[of].name, &mut signed)
            });
            match r {
                Ok(said) => obs.log(Level::Debug, said),
                Err(e) => {
                    obs.event(&Event::Failed { index: i, name: &jobs[i].name, error: &e });
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() { Ok(statuses) } else { Err(errors) }
    }

    /// Give every verified held file its name (or leave an archive where its unpacking finds
    /// it): each job's outcome by index.
    fn give_names(
        &self,
        req: &PullRequest,
        statuses: &HashMap<usize, FileStatus>,
        obs: &dyn Observer,
    ) -> HashMap<usize, Result<FileReport, Error>> {
        let mut done = HashMap::new();
        let image = req.extract.extract && is_image(self.jobs);
        for (n, &i) in self.held.iter().enumerate() {
            let job = &self.jobs[i];
            // Another held job still needs this blob: it gets a copy.
            let shared =
                self.held[n + 1..].iter().any(|k| self.jobs[*k].layer.digest == job.layer.digest);
            match self.place(req, job, statuses[&i], shared, image, obs) {
                Ok(Placed::Later) => {}
                Ok(Placed::Here(dest, status)) => {
                    obs.event(&Event::Finished {
                        index: i,
                        name: &job.name,
                        path: &dest,
                        digest: &job.layer.digest,
                        size: job.layer.size,
                        status,
                    });
                    done.insert(i, Ok(report(&dest, &job.layer, status)));
                }
                Err(e) => {
                    obs.event(&Event::Failed { index: i, name: &job.name, error: &e });
                    done.insert(i, Err(e));
                }
            }
        }
        done
    }

    /// One verified held file: to its name, or where its unpacking finds it.
    fn place(
        &self,
        req: &PullRequest,
        job: &Job,
        status: FileStatus,
        shared: bool,
        image: bool,
        obs: &dyn Observer,
    ) -> Result<Placed, Error> {
        let from = self.hidden(job);
        let dest = self.out.join(&job.rel);
        let (later, to) = match (image, after_download(req, job, &dest)?) {
            (true, _) if req.extract.keep_archive => (true, dest.clone()),
            (true, _) => (true, from.clone()),
            (false, After::Unpack { archive, .. }) => (true, archive),
            (false, After::Keep) => (false, dest.clone()),
        };
        let got = if to == from { status } else { land(req, &job.layer, &from, &to, shared, obs)? };
        Ok(match later {
            true => Placed::Later,
            false if got == FileStatus::Downloaded => Placed::Here(dest, status),
            false => Placed::Here(dest, got),
        })
    }
}

/// A held file, `path` at the top of the output directory `out`, opened without following
/// links.
fn open_held(out: &Path, path: &Path) -> Result<std::fs::File, Error> {
    let dir = held::open_beneath(out, Path::new(""))?;
    let name = path.file_name().unwrap_or_default();
    dir.open_existing_regular(name, false)?
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("{} vanished", path.display())))
}

/// Give `to` (a path below the output directory) the verified bytes of the hidden `from` at the
/// top of it, as the overwrite policy allows for what is there: renamed (or, when `copy`,
/// copied), both ends held as directory handles, nothing followed.
pub(super) fn land(
    req: &PullRequest,
    layer: &Descriptor,
    from: &Path,
    to: &Path,
    copy: bool,
    obs: &dyn Observer,
) -> Result<FileStatus, Error> {
    let out = output_dir(req)?;
    let top = held::Dir::open(out)?;
    let hidden = from.file_name().unwrap_or_default();
    let rel = to.strip_prefix(out).unwrap_or(to);
    let dir = held::open_beneath(out, rel.parent().unwrap_or(Path::new("")))?;
    let name = rel.file_name().unwrap_or_default();
    let decided = existing(
        blob::Dest { dir: &dir, name },
        (&layer.digest, Some(layer.size)),
        None,
        req.overwrite,
        obs,
    );
    if !matches!(decided, Ok(None)) {
        if !copy {
            let _ = top.remove_file(hidden);
        }
        return decided.map(|s| s.unwrap_or(FileStatus::Skipped));
    }
    if copy {
        use std::os::unix::fs::PermissionsExt;
        let part = blob::part_path(Path::new(name));
        let part = part.as_os_str();
        let _ = dir.remove_file(part); // a leftover (or a plant): the entry only
        let mut src = std::fs::File::open(from).map_err(|e| Error::io("open", from, e))?;
        let mode = src.metadata().map_or(0o644, |m| m.permissions().mode() & 0o777);
        let mut out =
            dir.create_new_file(part, mode).map_err(|e| Error::io("create", &dir.show(part), e))?;
        std::io::copy(&mut src, &mut out).map_err(|e| Error::io("copy to", &dir.show(part), e))?;
        dir.rename(part, name).map_err(|e| Error::io("rename into place", to, e))?;
    } else {
        top.rename_into(hidden, &dir, name).map_err(|e| Error::io("rename into place", to, e))?;
    }
    Ok(FileStatus::Downloaded)
}
