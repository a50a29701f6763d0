//! An image's layers applied in order into one root filesystem, streaming the layer the
//! applier waits for while it downloads.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::layer::download;
use super::plan::Job;
use super::{PullReport, PullRequest, output_dir, report};
use crate::blob;
use crate::error::Error;
use crate::events::{Event, FileReport, FileStatus, Level, Observer};
use crate::extract::{self, Format, Limit, Policy};
use crate::manifest::Manifest;
use crate::resolve::ResolvedManifest;
use crate::session::Session;

/// An image's layers (untitled tar layers) applied in order into one root filesystem.
pub(super) fn pull_rootfs(
    session: &Session,
    req: &PullRequest,
    resolved: ResolvedManifest,
    jobs: Vec<Job>,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let out = output_dir(req)?;
    let target = req.extract.to.clone().unwrap_or_else(|| out.to_path_buf());
    let path_of = |j: &Job| {
        if req.extract.keep_archive {
            out.join(&j.rel)
        } else {
            crate::held::hidden_archive(out, &j.layer.digest)
        }
    };
    let total = jobs.iter().map(|j| j.layer.size).fold(0, u64::saturating_add);
    let limit = Limit::for_blob(total, req.extract.max_unpacked);
    let policy = Policy { overwrite: req.overwrite, obs, claimed: None };
    // The manifest's order, repeats included (a layer may come twice): downloaded once each,
    // applied at every place it has.
    let Manifest::Image(image) = &resolved.manifest else { unreachable!("an image is resolved") };
    let ordered: Vec<(PathBuf, String)> = image
        .layers
        .iter()
        .filter_map(|l| jobs.iter().find(|j| j.layer.digest == l.digest))
        .map(|j| (path_of(j), j.name.clone()))
        .collect();
    // One pass where it can be had: the layer the applier waits for streams into the staged
    // root filesystem while it downloads; the others are applied from their files, in order.
    // Not with repeats, nor when no stage can be made: then nothing ever streams.
    let stage = (ordered.len() == jobs.len())
        .then(|| extract::RootfsStage::inside(&target, limit, Some(session.cancel()), obs).ok())
        .flatten();
    let line = Line {
        slots: Mutex::new((0..jobs.len()).map(|_| Slot::Pending).collect()),
        cv: Condvar::new(),
        next: AtomicUsize::new(if stage.is_some() { 0 } else { usize::MAX }),
    };
    let (results, streamed) = std::thread::scope(|s| {
        let applier = s.spawn(|| apply_in_order(&line, &jobs, stage, &path_of, obs));
        let results = session.pool.run(jobs.iter().collect(), |index, job: &Job| {
            fetch_in_line(session, req, &line, (index, job), &path_of(job), obs)
        });
        (results, applier.join().unwrap_or(None))
    });
    let errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    let layers: Vec<PathBuf> = jobs.iter().map(&path_of).collect();
    let cleanup = || {
        if !req.extract.keep_archive {
            for p in &layers {
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
            stage.commit(&target, policy)
        }
        None => {
            let said = "unpacking the root filesystem from the downloaded layers";
            obs.log(Level::Debug, said.into());
            extract::rootfs(&ordered, &target, limit, Some(session.cancel()), policy)
        }
    };
    cleanup();
    result?;
    Ok(PullReport { manifest: resolved, files: extracted(&jobs, &target, obs) })
}

/// Every layer's report once the root filesystem is in place at `target`.
fn extracted(jobs: &[Job], target: &std::path::Path, obs: &dyn Observer) -> Vec<FileReport> {
    let done = |(index, j): (usize, &Job)| {
        let status = FileStatus::Extracted;
        let (name, digest, size) = (&j.name, &j.layer.digest, j.layer.size);
        obs.event(&Event::Finished { index, name, path: target, digest, size, status });
        report(target, &j.layer, status)
    };
    jobs.iter().enumerate().map(done).collect()
}

/// Download layer `index` to `path`; when it is the one the applier waits for, through a tap
/// the applier reads while it downloads. Its slot says how it ended.
fn fetch_in_line(
    session: &Session,
    req: &PullRequest,
    line: &Line,
    (index, job): (usize, &Job),
    path: &std::path::Path,
    obs: &dyn Observer,
) -> Result<FileStatus, Error> {
    let mut tap = None;
    if line.next.load(Ordering::SeqCst) == index {
        let (t, reader) = blob::Tap::channel(8);
        tap = Some(t);
        line.set(index, Slot::Streaming(reader));
    }
    let r = download(session, req, job, index, path, obs, tap.as_mut())
        .map_err(|e| e.in_layer(&job.name));
    let intact = tap.as_ref().is_none_or(|t| t.intact(job.layer.size));
    drop(tap); // the end of the stream for the applier
    line.set(index, if r.is_ok() { Slot::Downloaded { intact } } else { Slot::Failed });
    if let Err(e) = &r {
        obs.event(&Event::Failed { index, name: &job.name, error: e });
    }
    r
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
    Streaming(blob::TapReader),
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
    stage: Option<extract::RootfsStage>,
    path_of: &dyn Fn(&Job) -> PathBuf,
    obs: &dyn Observer,
) -> Option<extract::RootfsStage> {
    let mut stage = stage?;
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
                let ok = stage.apply(&mut reader, &job.name, obs).is_ok();
                let mut slots = line.slots.lock().unwrap_or_else(|p| p.into_inner());
                while matches!(slots[i], Slot::Taken) {
                    slots = line.cv.wait(slots).unwrap_or_else(|p| p.into_inner());
                }
                ok && matches!(slots[i], Slot::Downloaded { intact: true })
            }
            Slot::Downloaded { .. } => {
                let path = path_of(job);
                std::fs::File::open(&path)
                    .is_ok_and(|mut f| stage.apply(&mut f, &job.name, obs).is_ok())
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
pub(super) fn is_image(jobs: &[Job]) -> bool {
    jobs.iter().all(|j| {
        j.layer.title().is_none()
            && Format::guess(&j.layer.media_type, "").is_some_and(Format::is_tar)
    })
}
