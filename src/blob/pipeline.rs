//! The pipeline of a big stream: a thread receives into a few recycled buffers while the worker
//! writes them; a third thread hashes what was written while the run's streams leave a core
//! spare, else the worker hashes each cache-sized buffer right after writing it (see
//! [`crate::pool::Pool::stream`]). `blob::stream` decides when a transfer is big enough.

use std::io::Read;

use super::resume::{BUF, CHECKPOINT_EVERY};
use super::sink::Sink;
use super::verify::State;
use super::{BlobSpec, Transfer};
use crate::error::{Error, ErrorKind};
use crate::events::Progress;
use crate::retry::Cancel;

/// Pipelined transfers pass chunks of at most this size between their threads...
const CHUNK: usize = 1024 * 1024;
/// ...and at least this size...
const CHUNK_MIN: usize = 128 * 1024;
/// ...sized so that this many bytes of buffers serve all `--jobs` transfers together...
const PIPELINE_BUDGET: usize = 20 * 1024 * 1024;
/// ...with this many queued between two stages (each transfer owns `DEPTH + 1` buffers).
const PIPELINE_DEPTH: usize = 4;

/// Copy the body through the pipeline until it ends, fails, or the sink switches to ranges;
/// `spread`: hash on a thread of its own. Returns what ended it; the caller checks the size.
pub(super) fn run(
    reader: &mut (dyn Read + Send),
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    spread: bool,
) -> Result<(), Error> {
    let Transfer { session, spec, who } = t;
    let cancel = session.cancel();
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
    })
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
        // A closed channel means the other side stopped; the loop ends with `full`.
        match next {
            Next::Hash(hash) => drop(hash.send((buf, n))),
            Next::Free(free) => drop(free.send(buf)),
        }
        if sink.wants_ranges(state.written) {
            break;
        }
    }
    Ok(())
}

/// The pipeline's chunk size when `jobs` transfers may run at once: memory stays near
/// [`PIPELINE_BUDGET`] whatever `--jobs` is, down to [`CHUNK_MIN`] per chunk.
fn chunk_size(jobs: usize) -> usize {
    let share = PIPELINE_BUDGET / (jobs.max(1) * (PIPELINE_DEPTH + 1));
    (share / CHUNK_MIN * CHUNK_MIN).clamp(CHUNK_MIN, CHUNK)
}

/// What a read loop reports to and obeys: the progress counter (moved per read, so bars move
/// on slow links too) and the cancel flag.
#[derive(Clone, Copy)]
pub(super) struct Watch<'a> {
    pub cancel: &'a Cancel,
    pub progress: &'a Progress,
}

/// Read until `buf` is full or the body ends. Bytes that arrived before an error are returned
/// with it, so that a retry resumes after them; bytes past the expected size are an error.
/// A cancel stops it between reads, with the bytes so far.
pub(super) fn fill(
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
