//! One layer: what is already there, the download (unpacking while it streams where it can),
//! then what happens to the verified file: kept, decompressed, unpacked, or held for signatures.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::commit::{Landed, Pending};
use super::plan::{Job, ORAS_DIGEST, decompressed_name, existing, is_oras_dir, oras_suffix};
use super::signed::land;
use super::{PullRequest, output_dir, report};
use crate::blob::{self, BlobSpec};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileStatus, Level, Observer, Progress};
use crate::extract::{self, Format, Hint, Limit, StageError, Unpack};
use crate::held::{self, safe_relative_path};
use crate::session::Session;
use crate::trust::minisign::describes_other_files;

pub(super) fn fetch_layer(
    session: &Session,
    req: &PullRequest,
    job: &Job,
    index: usize,
    others: &HashSet<PathBuf>,
    obs: &dyn Observer,
) -> Result<Landed, Error> {
    let layer = &job.layer;
    // Its directory is made when the file is written, under a held handle (held).
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
        Ok(Landed::Done(report(path, layer, status)))
    };
    let After::Unpack { hint, root, rel, content_digest, archive } = after else {
        let status = download(session, req, job, index, &dest, obs, None)?;
        return finished(&dest, status);
    };
    let unpack = Unpack {
        hint,
        root: &root,
        content_digest: content_digest.as_ref(),
        name: &job.name,
        limit: Limit::for_blob(layer.size, req.extract.max_unpacked),
        prefix: is_oras_dir(req, layer).then_some(job.rel.as_path()),
        cancel: Some(session.cancel()),
    };
    let (status, staged) =
        stage_while_downloading(session, req, job, index, &archive, &unpack, obs)?;
    if status == FileStatus::Skipped {
        return finished(&archive, status);
    }
    match staged {
        Ok(staged) => {
            // Moved into place with the pull's other archives, once all are staged.
            drop_archive(req, &archive, &dest);
            Ok(Landed::Unpacked(Box::new(Pending {
                index,
                name: job.name.clone(),
                layer: layer.clone(),
                staged,
                root,
                rel,
                others: others.clone(),
            })))
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

/// One pass: unpack into staging from a tap on the download of `archive` (committed only once
/// the blob verified). Where that cannot serve — the file was already on disk, the stream broke
/// (a restart from zero), or a zip — the verified file is unpacked instead.
fn stage_while_downloading(
    session: &Session,
    req: &PullRequest,
    job: &Job,
    index: usize,
    archive: &Path,
    unpack: &Unpack<'_>,
    obs: &dyn Observer,
) -> Result<(FileStatus, Result<extract::Staged, StageError>), Error> {
    let (mut tap, mut reader) = blob::Tap::channel(8);
    let (status, staged, intact) = std::thread::scope(|s| {
        let unpacking = s.spawn(|| extract::stage(&mut reader, unpack, obs));
        let status = download(session, req, job, index, archive, obs, Some(&mut tap));
        let intact = status.is_ok() && tap.intact(job.layer.size);
        drop(tap); // the end of the stream for the unpacking thread
        let staged = unpacking.join().unwrap_or_else(|_| {
            Err(StageError::Failed(Error::new(ErrorKind::Other, "unpacking thread panicked")))
        });
        (status, staged, intact)
    });
    let status = status?;
    if status == FileStatus::Skipped {
        return Ok((status, Err(StageError::NotArchive)));
    }
    if intact && !matches!(staged, Err(StageError::NeedsFile)) {
        obs.log(Level::Debug, format!("{}: unpacked while downloading", job.name));
        return Ok((status, staged));
    }
    drop(staged);
    obs.log(Level::Debug, format!("{}: unpacking from the downloaded file", job.name));
    let mut file = std::fs::File::open(archive).map_err(|e| Error::io("open", archive, e))?;
    Ok((status, extract::stage_file(&mut file, unpack, obs)))
}

/// Bring the layer's verified bytes to `path`, unless they are there already.
pub(super) fn download(
    session: &Session,
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
    let dir = held::open_beneath(out, rel.parent().unwrap_or(Path::new("")))?;
    let dest = blob::Dest { dir: &dir, name: rel.file_name().unwrap_or_default() };
    let what = (&layer.digest, Some(layer.size));
    if let Some(status) = existing(dest, what, session.cache.as_ref(), req.overwrite, obs)? {
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
    let who = blob::Requester { index, name: &job.name, progress: &progress, obs };
    let outcome =
        blob::to_file_tapped(session, spec, dest, who, tap).map_err(|e| e.context(&job.name))?;
    Ok(outcome.status())
}

/// What happens to a layer once it is verified.
pub(super) enum After {
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

pub(super) fn after_download(req: &PullRequest, job: &Job, dest: &Path) -> Result<After, Error> {
    let layer = &job.layer;
    let x = &req.extract;
    let out = output_dir(req)?;
    let root = x.to.clone().unwrap_or_else(|| out.to_path_buf());
    let hidden = held::hidden_archive(out, &layer.digest);
    if describes_other_files(&job.name) {
        return Ok(After::Keep);
    }
    if is_oras_dir(req, layer) {
        let content_digest = match layer.annotations.get(ORAS_DIGEST) {
            Some(d) => Some(
                d.parse::<Digest>()
                    .map_err(|e| e.context(format!("{}: {ORAS_DIGEST}", job.name)))?,
            ),
            None => None,
        };
        let kept = PathBuf::from(format!("{}.{}", dest.display(), oras_suffix(layer)));
        let archive = if x.keep_archive { kept } else { hidden };
        let hint = Hint::TAR;
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

/// A layer that claimed to be an archive but is not: keep it as a file under its name, as the
/// overwrite policy allows for what is there.
pub(super) fn not_an_archive(
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

pub(super) fn drop_archive(req: &PullRequest, archive: &Path, dest: &Path) {
    if !req.extract.keep_archive && archive != dest {
        let _ = std::fs::remove_file(archive);
    }
}
