//! One attempt after another at a blob's bytes, each continuing from what is written: receive →
//! write → hash, through the pipeline (`blob::pipeline`) for big blobs, on the caller's thread
//! for small ones.

use std::io::Read;

use std::io::Write;
use std::path::Path;

use super::pipeline::{self, Watch, fill};
use super::resume::BUF;
use super::sink::{Sink, StreamSink};
use super::verify::State;
use super::{BlobSpec, Outcome, Requester, Transfer};
use crate::error::{Error, ErrorKind};
use crate::events::Level;
use crate::session::Session;

/// Below this many bytes the pipeline's threads cost more than they save.
const PIPELINE_MIN: u64 = 4 * 1024 * 1024;

/// A failed transfer, with the bytes written so far and the ETag, for the resume record.
pub(super) struct Failure {
    pub error: Error,
    /// Bytes written before it, for the checkpoint.
    pub written: u64,
    /// The ETag they were fetched under.
    pub etag: Option<String>,
}

impl Failure {
    /// A failure that leaves nothing worth a checkpoint.
    pub fn bare(error: Error) -> Failure {
        Failure { error, written: 0, etag: None }
    }
}

/// Stream `spec` into `out` (stdout), verifying as it goes. The bytes are already written when a
/// mismatch shows at the end, so the caller must report the integrity error after the stream.
pub fn to_writer(
    session: &Session,
    spec: BlobSpec<'_>,
    out: &mut dyn Write,
    who: Requester<'_>,
) -> Result<Outcome, Error> {
    let mut state = State::new(spec.digest.algorithm());
    let mut sink = StreamSink { out };
    let outcome = fetch(Transfer { session, spec, who }, &mut sink, &mut state)
        .and_then(|()| super::verify::finished(spec, state))
        .map_err(|f| f.error);
    sink.out.flush().map_err(|e| Error::io("write", Path::new("<stdout>"), e))?;
    outcome
}

/// All attempts: each resumes at `state.written`.
pub(super) fn fetch(
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
) -> Result<(), Failure> {
    let Transfer { session, spec, who } = t;
    let what = format!("{} ({})", who.name, spec.digest.short());
    session
        .client
        .retrying(Some(who.index), &what, |_| attempt(t, sink, state))
        .map_err(|error| Failure { error, written: state.written, etag: state.etag.clone() })
}

fn attempt(t: Transfer<'_>, sink: &mut dyn Sink, state: &mut State) -> Result<(), Error> {
    let Transfer { session, spec, who } = t;
    if spec.size.is_some_and(|s| state.written >= s) {
        return Ok(()); // everything is on disk already; the digest check decides
    }
    let what = format!("blob {}", spec.digest);
    let from = state.written;
    let reply = session.client.blob(spec.repository, spec.digest, from, state.etag.as_deref())?;
    let status = reply.status();
    let len = reply.content_length();
    if from > 0 && status == 206 {
        reply.starts_at(from, spec.digest)?;
    } else if from > 0 {
        // The server ignored the Range (or the ETag changed): start over.
        who.obs.log(
            Level::Debug,
            format!("{}: server answered {status} to a range request; restarting from 0", who.name),
        );
        if sink.restart()? {
            *state = State::new(spec.digest.algorithm());
            who.progress.set(0);
        } else {
            return skip_then_copy(reply, t, sink, state);
        }
    }
    if state.etag.is_none() {
        state.etag =
            reply.header("etag").filter(|e| crate::registry::strong_etag(e)).map(str::to_owned);
    }
    if let (Some(expected), Some(len)) = (spec.size, len)
        && state.written + len != expected
    {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{what}: server announced {} bytes, the descriptor says {expected}",
                state.written + len
            ),
        ));
    }
    let mut reader = reply.into_reader();
    copy(&mut reader, t, sink, state)
}

/// A stream cannot rewind: read past the bytes already sent, then copy the rest.
fn skip_then_copy(
    reply: crate::registry::Reply,
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
) -> Result<(), Error> {
    let spec = t.spec;
    let skip = state.written;
    let mut reader = reply.into_reader();
    let skipped =
        std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(|e| {
            Error::new(ErrorKind::Network, format!("blob {}: read failed", spec.digest))
                .with_source(e)
                .transient(true)
        })?;
    if skipped != skip {
        return Err(Error::new(
            ErrorKind::Network,
            format!("blob {}: connection closed early", spec.digest),
        )
        .transient(true));
    }
    copy(&mut reader, t, sink, state)
}

/// Copy, hashing every byte, refusing to read past the expected size, checkpointing: a big
/// transfer through the pipeline (`blob::pipeline`), a small one on this thread.
pub(super) fn copy(
    reader: &mut (dyn Read + Send),
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
) -> Result<(), Error> {
    let Transfer { session, spec, .. } = t;
    let remaining = spec.size.map(|s| s.saturating_sub(state.written));
    if remaining.is_some_and(|r| r < PIPELINE_MIN) {
        return pump(reader, t, sink, state);
    }
    let streaming = session.pool.stream();
    pipeline::run(reader, t, sink, state, &streaming)?;
    if sink.switched() {
        return Ok(()); // the rest comes in ranges
    }
    check_complete(spec, state)
}

/// The small-transfer path: read, write and hash on this thread.
fn pump(
    reader: &mut dyn Read,
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
) -> Result<(), Error> {
    let Transfer { session, spec, who } = t;
    let cancel = session.cancel();
    let mut buf = vec![0u8; BUF];
    let watch = Watch { cancel, progress: who.progress };
    loop {
        let (n, err) = fill(reader, &mut buf, spec, state.written, watch);
        sink.write(&buf[..n])?;
        state.absorb(&buf[..n]);
        match err {
            Some(e) => return Err(e),
            None if n == 0 => break,
            None => {}
        }
    }
    check_complete(spec, state)
}

/// A clean end before the promised size means the server's content is short (a cut
/// connection surfaces as a read error instead).
fn check_complete(spec: BlobSpec<'_>, state: &State) -> Result<(), Error> {
    match spec.size {
        Some(expected) if state.written < expected => Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "blob {}: body ended after {} of the {expected} bytes the descriptor promises",
                spec.digest, state.written
            ),
        )),
        _ => Ok(()),
    }
}
