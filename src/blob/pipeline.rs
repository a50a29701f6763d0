//! The pipeline of a big stream: a thread receives into a few recycled buffers while the worker
//! writes them. While the run's streams leave a core spare a third thread hashes what was
//! written; else the worker hashes each cache-sized piece right after writing it. A stream
//! takes that thread, or gives it back, as other streams start and end (see
//! [`crate::pool::Streaming::spare_core`]). `blob::stream` decides when a transfer is big enough.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use super::resume::{BUF, CHECKPOINT_EVERY};
use super::sink::Sink;
use super::verify::State;
use super::{BlobSpec, Transfer};
use crate::digest::{Algorithm, Hasher};
use crate::error::{Error, ErrorKind};
use crate::events::Progress;
use crate::pool::Streaming;
use crate::retry::Cancel;

/// Pipelined transfers pass chunks of at most this size between their threads...
const CHUNK: usize = 1024 * 1024;
/// ...and at least this size...
const CHUNK_MIN: usize = 128 * 1024;
/// ...sized so that this many bytes of buffers serve all `--jobs` transfers together...
const PIPELINE_BUDGET: usize = 20 * 1024 * 1024;
/// ...with this many queued between two stages (each transfer owns `DEPTH + 1` buffers).
const PIPELINE_DEPTH: usize = 4;

/// A received chunk and how many of its bytes are filled.
type Full = (Vec<u8>, usize);

/// Copy the body through the pipeline until it ends, fails, or the sink switches to ranges.
/// Returns what ended it; the caller checks the size.
pub(super) fn run(
    reader: &mut (dyn Read + Send),
    t: Transfer<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    streaming: &Streaming<'_>,
) -> Result<(), Error> {
    let Transfer { session, spec, who } = t;
    let cancel = session.cancel();
    let chunk = chunk_size(session.client.concurrency());
    let (free_tx, free_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH + 1);
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Full>(PIPELINE_DEPTH);
    for _ in 0..=PIPELINE_DEPTH {
        let _ = free_tx.send(vec![0u8; chunk]);
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let start = state.written;
    std::thread::scope(|s| {
        let watch = Watch { cancel, progress: who.progress };
        let receiving =
            s.spawn(move || receive(reader, &free_rx, &full_tx, stop, spec, start, watch));
        let algorithm = spec.digest.algorithm();
        let mut writer = Writer { free: free_tx, hashing: None, spare: streaming, algorithm };
        let written = writer.write_all(s, &full_rx, sink, state);
        // Stop the receiver if this side quit early: it sees the flag or a closed channel.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(full_rx);
        writer.hash_here(state);
        drop(writer);
        let received = receiving.join().expect("receiving thread");
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
    free: &Receiver<Vec<u8>>,
    full: &SyncSender<Full>,
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

/// The writing stage, on the worker.
struct Writer<'scope, 'a> {
    /// Where written buffers go back to the receiver.
    free: SyncSender<Vec<u8>>,
    /// The hashing thread, while the stream has one: written buffers go to it, and from it
    /// back to the receiver.
    hashing: Option<(SyncSender<Full>, ScopedJoinHandle<'scope, Hasher>)>,
    spare: &'a Streaming<'a>,
    algorithm: Algorithm,
}

impl<'scope> Writer<'scope, '_> {
    /// Write each received buffer, checkpoint, and pass it on; stop early when the sink
    /// switches to ranges. Before each buffer, take a hashing thread if a core is spare, or
    /// give it back if not: in order, so the hash sees every byte once and in sequence.
    fn write_all(
        &mut self,
        s: &'scope Scope<'scope, '_>,
        full: &Receiver<Full>,
        sink: &mut dyn Sink,
        state: &mut State,
    ) -> Result<(), Error> {
        for (buf, n) in full {
            match (self.spare.spare_core(), self.hashing.is_some()) {
                (true, false) => self.hash_apart(s, state),
                (false, true) => self.hash_here(state),
                _ => {}
            }
            match &self.hashing {
                Some(_) => {
                    sink.write(&buf[..n])?;
                    state.note(&buf[..n]);
                }
                // Cache-sized pieces: each is hashed while the write just left it in cache.
                None => {
                    for piece in buf[..n].chunks(BUF) {
                        sink.write(piece)?;
                        state.absorb(piece);
                    }
                }
            }
            if state.written / CHECKPOINT_EVERY != (state.written - n as u64) / CHECKPOINT_EVERY {
                sink.checkpoint(state.written, state.etag.as_deref());
            }
            // A closed channel means the other side stopped; the loop ends with `full`.
            match &self.hashing {
                Some((hash, _)) => drop(hash.send((buf, n))),
                None => drop(self.free.send(buf)),
            }
            if sink.wants_ranges(state.written) {
                break;
            }
        }
        Ok(())
    }

    /// Move the hash to a thread of its own, fed the buffers written from now on.
    fn hash_apart(&mut self, s: &'scope Scope<'scope, '_>, state: &mut State) {
        let mut hasher = std::mem::replace(&mut state.hasher, self.algorithm.hasher());
        let (tx, rx) = std::sync::mpsc::sync_channel::<Full>(PIPELINE_DEPTH);
        let free = self.free.clone();
        let thread = s.spawn(move || {
            for (buf, n) in rx {
                hasher.update(&buf[..n]);
                let _ = free.send(buf);
            }
            hasher
        });
        self.hashing = Some((tx, thread));
    }

    /// Take the hash back once the hashing thread has caught up (and ended).
    fn hash_here(&mut self, state: &mut State) {
        if let Some((tx, thread)) = self.hashing.take() {
            drop(tx);
            state.hasher = thread.join().expect("hashing thread");
        }
    }
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
mod switches;

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
