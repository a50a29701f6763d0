//! One attempt after another at a blob's bytes, each continuing from what is written: receive →
//! write → hash, as a three-thread pipeline for big blobs, on the caller's thread for small ones.

use std::io::Read;

use std::io::Write;
use std::path::Path;

use super::resume::{BUF, CHECKPOINT_EVERY};
use super::sink::{Sink, StreamSink};
use super::verify::State;
use super::{BlobSpec, Outcome, Report, Transfer};
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Progress};
use crate::retry::Cancel;
use crate::session::Session;

/// Pipelined transfers pass chunks of at most this size between their threads...
const CHUNK: usize = 1024 * 1024;
/// ...and at least this size...
const CHUNK_MIN: usize = 128 * 1024;
/// ...sized so that this many bytes of buffers serve all `--jobs` transfers together...
const PIPELINE_BUDGET: usize = 20 * 1024 * 1024;
/// ...with this many queued between two stages (each transfer owns `DEPTH + 1` buffers).
const PIPELINE_DEPTH: usize = 4;
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
    who: Report<'_>,
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

/// The receiving stage: read the body into free buffers and pass them on, until it ends, fails
/// or the writer stops. Returns the error that ended the body, if any; bytes read before it are
/// passed on first.
fn receive(
    reader: &mut (dyn Read + Send),
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
    full: &std::sync::mpsc::SyncSender<(Vec<u8>, usize)>,
    stop: &std::sync::atomic::AtomicBool,
    spec: BlobSpec<'_>,
    start: u64,
    watch: Watch<'_>,
) -> Option<Error> {
    let mut at = start;
    loop {
        let Ok(mut buf) = free.recv() else { return None };
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let (n, err) = fill(reader, &mut buf, spec, at, watch);
        at += n as u64;
        if n > 0 && full.send((buf, n)).is_err() {
            return None;
        }
        if n == 0 || err.is_some() {
            return err;
        }
    }
}

/// Where the writing stage passes a written buffer.
enum Next<'a> {
    /// To the hashing thread.
    Hash(&'a std::sync::mpsc::SyncSender<(Vec<u8>, usize)>),
    /// Hashed here, right after the write read it, and back to the receiver.
    Free(&'a std::sync::mpsc::SyncSender<Vec<u8>>),
}

/// The writing stage: write each received buffer, checkpoint, and pass it on (see [`Next`]);
/// stop early when the sink switches to ranges.
fn write_and_pass(
    full: &std::sync::mpsc::Receiver<(Vec<u8>, usize)>,
    sink: &mut dyn Sink,
    state: &mut State,
    next: Next<'_>,
) -> Result<(), Error> {
    for (buf, n) in full {
        sink.write(&buf[..n])?;
        match next {
            Next::Hash(_) => state.note(&buf[..n]),
            Next::Free(_) => state.absorb(&buf[..n]),
        }
        if state.written / CHECKPOINT_EVERY != (state.written - n as u64) / CHECKPOINT_EVERY {
            sink.checkpoint(state.written, state.etag.as_deref());
        }
        let _ = match next {
            Next::Hash(hash) => hash.send((buf, n)).is_ok(),
            Next::Free(free) => free.send(buf).is_ok(),
        };
        if sink.wants_ranges(state.written) {
            break;
        }
    }
    Ok(())
}

/// Copy, hashing every byte, refusing to read past the expected size, checkpointing. Large
/// transfers run as a pipeline over a few recycled buffers: a thread receives while this
/// thread writes. While the run's streams leave a core spare, a third thread hashes what was
/// written (with receiving and writing on one thread, that thread was the slow stage and a
/// core sat idle); once every core has a stream, this thread hashes each cache-sized buffer
/// right after writing it, which costs fewer switches and no second trip to memory.
pub(super) fn copy(
    reader: &mut (dyn Read + Send),
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
) -> Result<(), Error> {
    let Transfer { session, spec, who } = t;
    let cancel = session.cancel();
    let remaining = spec.size.map(|s| s.saturating_sub(state.written));
    if remaining.is_some_and(|r| r < PIPELINE_MIN) {
        return pump(reader, t, sink, state);
    }
    let streaming = session.pool.stream();
    let spread = streaming.spread;
    // Cache-sized when this thread hashes what it just wrote; within the budget either way.
    let chunk = chunk_size(session.client.concurrency());
    let chunk = if spread { chunk } else { chunk.min(BUF) };
    let algorithm = spec.digest.algorithm();
    let hasher = spread.then(|| std::mem::replace(&mut state.hasher, algorithm.hasher()));
    let (free_tx, free_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH + 1);
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(PIPELINE_DEPTH);
    let (hash_tx, hash_rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(PIPELINE_DEPTH);
    for _ in 0..=PIPELINE_DEPTH {
        let _ = free_tx.send(vec![0u8; chunk]);
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let start = state.written;
    std::thread::scope(|s| {
        // The receiver's supply ends when the last holder of `free_tx` is done with it.
        let mut free_tx = Some(free_tx);
        let hashing = hasher.map(|mut hasher| {
            let free = free_tx.take().expect("one sender");
            s.spawn(move || {
                for (buf, n) in hash_rx {
                    hasher.update(&buf[..n]);
                    let _ = free.send(buf);
                }
                hasher
            })
        });
        let watch = Watch { cancel, progress: who.progress };
        let receiving =
            s.spawn(move || receive(reader, &free_rx, &full_tx, stop, spec, start, watch));
        let next = match &free_tx {
            Some(free) => Next::Free(free),
            None => Next::Hash(&hash_tx),
        };
        let written = write_and_pass(&full_rx, sink, state, next);
        // Stop the receiver if this side quit early: it sees the flag or a closed channel.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(full_rx);
        drop(hash_tx);
        drop(free_tx);
        let received = receiving.join().expect("receiving thread");
        if let Some(h) = hashing {
            state.hasher = h.join().expect("hashing thread");
        }
        // The receiver counts bytes as they arrive; some may never have been written.
        who.progress.set(state.written);
        match received {
            // Whatever ended the stream, the ranges take over from what was written.
            Some(e) if !sink.switched() => written.and(Err(e)),
            _ => written,
        }
    })?;
    if sink.switched() {
        return Ok(()); // the rest comes in ranges
    }
    check_complete(spec, state)
}

/// The pipeline's chunk size when `jobs` transfers may run at once: memory stays near
/// [`PIPELINE_BUDGET`] whatever `--jobs` is, down to [`CHUNK_MIN`] per chunk.
fn chunk_size(jobs: usize) -> usize {
    let share = PIPELINE_BUDGET / (jobs.max(1) * (PIPELINE_DEPTH + 1));
    (share / CHUNK_MIN * CHUNK_MIN).clamp(CHUNK_MIN, CHUNK)
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

/// What a read loop reports to and obeys: the progress counter (moved per read, so bars move
/// on slow links too) and the cancel flag.
#[derive(Clone, Copy)]
struct Watch<'a> {
    cancel: &'a Cancel,
    progress: &'a Progress,
}

/// Read until `buf` is full or the body ends. Bytes that arrived before an error are returned
/// with it, so that a retry resumes after them; bytes past the expected size are an error.
/// A cancel stops it between reads, with the bytes so far.
fn fill(
    reader: &mut dyn Read,
    buf: &mut [u8],
    spec: BlobSpec<'_>,
    written: u64,
    watch: Watch<'_>,
) -> (usize, Option<Error>) {
    let mut n = 0;
    let mut err = None;
    while n < buf.len() {
        // Checked per read, not per chunk: a chunk can take seconds on a slow link.
        if let Err(e) = watch.cancel.check() {
            err = Some(e);
            break;
        }
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                watch.progress.add(k as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let at = written + n as u64;
                err = Some(
                    Error::new(
                        ErrorKind::Network,
                        format!("blob {}: read failed after {at} bytes", spec.digest),
                    )
                    .with_source(e)
                    .transient(true),
                );
                break;
            }
        }
    }
    if let Some(expected) = spec.size
        && written + n as u64 > expected
    {
        let e = Error::new(
            ErrorKind::Integrity,
            format!(
                "blob {}: server sent more than the {expected} bytes the descriptor promises",
                spec.digest
            ),
        );
        return (0, Some(e));
    }
    (n, err)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_buffers_stay_within_the_budget_for_any_jobs() {
        assert_eq!(chunk_size(1), CHUNK);
        assert_eq!(chunk_size(4), CHUNK, "the default --jobs keeps full-size chunks");
        let mut last = CHUNK;
        for jobs in 1..=64 {
            let c = chunk_size(jobs);
            assert!(c <= last && c >= CHUNK_MIN && c.is_multiple_of(CHUNK_MIN), "jobs {jobs}: {c}");
            if c > CHUNK_MIN {
                assert!(c * (PIPELINE_DEPTH + 1) * jobs <= PIPELINE_BUDGET, "jobs {jobs}: {c}");
            }
            last = c;
        }
        assert_eq!(chunk_size(64), CHUNK_MIN);
    }
}
