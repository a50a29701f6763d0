//! One blob named by digest, to a file or a writer (`oci-dl blob`): no manifest, one transfer
//! with index 0 whose events follow the order [`Event`] documents, as a pull's layers do —
//! `Started`, then exactly one of `Finished` or `Failed`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::plan::existing;
use crate::blob::{self, BlobSpec, Dest};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Observer, Progress};
use crate::extract::Overwrite;
use crate::held;
use crate::reference::Reference;
use crate::registry::ClientOptions;
use crate::session::Session;

/// Download the blob `reference` names to `output`, verified, via `output.part`; a file there
/// already is judged by `overwrite`.
pub(crate) fn to_file(
    reference: &Reference,
    output: &Path,
    overwrite: Overwrite,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<FileReport, Error> {
    let digest = named_digest(reference)?;
    let session = Session::open(reference, opts, obs.clone(), 1)?;
    let name = output.display().to_string();
    let (dir, file_name) = held::parent_of(output)?;
    let dest = Dest { dir: &dir, name: &file_name };
    let spec = BlobSpec { repository: reference.repository(), digest, size: None };
    let fetched = fetch(&session, spec, dest, overwrite, &name, &*obs);
    let (size, status) = ended(fetched, &name, &*obs)?;
    obs.event(&Event::Finished { index: 0, name: &name, path: output, digest, size, status });
    Ok(FileReport {
        path: output.to_path_buf(),
        title: None,
        digest: digest.clone(),
        size,
        media_type: "application/octet-stream".into(),
        status,
        platform: None,
    })
}

/// Stream the blob `reference` names to `out`; the bytes are written as they arrive, and an
/// integrity error comes after the stream when they did not match.
pub(crate) fn to_writer(
    reference: &Reference,
    out: &mut dyn Write,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<u64, Error> {
    let digest = named_digest(reference)?;
    let session = Session::open(reference, opts, obs.clone(), 1)?;
    let progress = Progress::default();
    let name = digest.short();
    obs.event(&Event::Started { index: 0, name: &name, size: None, progress: &progress });
    let spec = BlobSpec { repository: reference.repository(), digest, size: None };
    let who = blob::Requester { index: 0, name: &name, progress: &progress, obs: &*obs };
    let size = ended(blob::to_writer(&session, spec, out, who), &name, &*obs)?.size;
    let (path, status) = (Path::new("-"), FileStatus::Downloaded);
    obs.event(&Event::Finished { index: 0, name: &name, path, digest, size, status });
    Ok(size)
}

/// The file's size and status: kept as it was, or transferred (announced by `Started`).
fn fetch(
    session: &Session,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    overwrite: Overwrite,
    name: &str,
    obs: &dyn Observer,
) -> Result<(u64, FileStatus), Error> {
    let cache = session.cache.as_ref();
    if let Some(status) = existing(dest, (spec.digest, None), cache, overwrite, obs)? {
        return Ok((dest.dir.entry(dest.name)?.map_or(0, |n| n.size), status));
    }
    let progress = Progress::default();
    obs.event(&Event::Started { index: 0, name, size: None, progress: &progress });
    let who = blob::Requester { index: 0, name, progress: &progress, obs };
    let outcome = blob::to_file(session, spec, dest, who)?;
    Ok((outcome.size, outcome.status()))
}

/// `result`, after telling the observer of a failure: the transfer's last event.
pub(super) fn ended<T>(
    result: Result<T, Error>,
    name: &str,
    obs: &dyn Observer,
) -> Result<T, Error> {
    if let Err(e) = &result {
        obs.event(&Event::Failed { index: 0, name, error: e });
    }
    result
}

/// The digest a blob reference must carry.
fn named_digest(reference: &Reference) -> Result<&Digest, Error> {
    reference.digest().ok_or_else(|| {
        Error::new(ErrorKind::Usage, format!("{reference} names no blob: use REPOSITORY@sha256:…"))
    })
}
