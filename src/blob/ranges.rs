//! Big blobs over several connections: the blob is cut into ranges that workers take from one
//! shared queue and write in place with positional writes, while this thread hashes the
//! contiguous prefix in order as it grows (reading it back from the page cache). `--jobs` counts
//! connections: every range request takes a slot of the client's gate. A server that ignores
//! `Range` sends us back to the single stream.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::resume::{self, Record};
use super::{BlobSpec, Transfer};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind};

/// Ranges are used only when at least this much is left to fetch...
const THRESHOLD: u64 = 32 * 1024 * 1024;
/// ...and one connection delivered less than this many bytes per second over its first second
/// (on a fast link extra connections only add work: a hash must then re-read the bytes)...
const SLOW_BELOW: u64 = 48 * 1024 * 1024;
/// ...or less than this over its first quarter second: a link that slow is no startup blip,
/// and every moment on one stream leaves the other connections idle. A rate between the two is
/// watched for the whole second (several pulls sharing two cores start that slow on loopback).
const CLEARLY_SLOW: u64 = 24 * 1024 * 1024;
const EARLY: std::time::Duration = std::time::Duration::from_millis(250);
const PROBE_FOR: std::time::Duration = std::time::Duration::from_secs(1);
/// Ranges are at most this big (fewer requests while much is left)...
const RANGE_MAX: u64 = 16 * 1024 * 1024;
/// ...and at least this big (the last ones are cut finer so no connection idles at the end).
const RANGE_MIN: u64 = 1024 * 1024;
const BUF: usize = 256 * 1024;
/// The resume record is rewritten as the hashed prefix grows by this much.
const CHECKPOINT_EVERY: u64 = 8 * 1024 * 1024;

/// Watches a file transfer's first second (a clearly slow one's first quarter) to decide whether
/// ranges would help.
pub(crate) struct Probe {
    started: std::time::Instant,
    from: u64,
}

impl Probe {
    /// Start watching a stream that begins at byte `from`.
    pub fn start(from: u64) -> Probe {
        Probe { started: std::time::Instant::now(), from }
    }

    /// `None` while watching; then whether the rest of a `size`-byte blob, `written` bytes in,
    /// should come in ranges.
    pub fn decide(&self, written: u64, size: u64) -> Option<bool> {
        let elapsed = self.started.elapsed();
        if elapsed < EARLY {
            return None;
        }
        let rate = (written - self.from) as f64 / elapsed.as_secs_f64();
        let slow = if rate < CLEARLY_SLOW as f64 {
            true
        } else if elapsed < PROBE_FOR {
            return None;
        } else {
            rate < SLOW_BELOW as f64
        };
        Some(slow && size - written >= THRESHOLD)
    }
}

/// What a ranged fetch works on.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub t: Transfer<'a>,
    /// The `.part`, whose first `Rest::start` bytes are in.
    pub file: &'a File,
    pub part: &'a Path,
}

/// Where the single stream stopped: its offset, its hash state, and the unpacking tap.
pub(crate) struct Rest<'a> {
    pub start: u64,
    pub hasher: Hasher,
    pub tap: Option<&'a mut super::tee::Tap>,
}

pub(crate) enum Ranged {
    /// Every byte is in and hashed to this digest.
    Done(Digest),
    /// The server does not serve ranges: use one stream.
    Unsupported,
}

struct Shared {
    done: Mutex<Vec<bool>>,
    cv: Condvar,
    stop: AtomicBool,
    unsupported: AtomicBool,
    error: Mutex<Option<Error>>,
}

/// Fetch the rest of `spec` (of known size) from byte `start` into `file`, whose first `start`
/// bytes are in and fed to `hasher`, over up to `session.client.concurrency()` connections. On failure
/// the resume record already names the good prefix.
pub(crate) fn fetch(ctx: &Ctx<'_>, rest: Rest<'_>) -> Result<Ranged, Error> {
    let Ctx { t: Transfer { session, spec, .. }, file, part } = *ctx;
    let Rest { start, hasher, mut tap } = rest;
    let size = spec.size.expect("ranged fetches need a size");
    let workers = session.client.concurrency();
    let ranges = plan(start, size, workers);
    let chunks = ranges.len();
    // From here the file is full-length with holes: only the record's prefix may be trusted.
    save(file, spec, start);
    file.set_len(size).map_err(|e| Error::io("allocate", part, e))?;
    let shared = Shared {
        done: Mutex::new(vec![false; chunks]),
        cv: Condvar::new(),
        stop: AtomicBool::new(false),
        unsupported: AtomicBool::new(false),
        error: Mutex::new(None),
    };
    let next = AtomicUsize::new(0);
    let workers = workers.min(chunks);
    let mut hasher = hasher;
    let mut prefix = start;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| worker(ctx, &shared, &next, &ranges));
        }
        let mut buf = vec![0u8; BUF];
        let mut since_checkpoint = 0;
        for i in 0..chunks {
            {
                let mut done = shared.done.lock().unwrap_or_else(|p| p.into_inner());
                while !done[i] && !shared.stop.load(Ordering::SeqCst) {
                    done = shared.cv.wait(done).unwrap_or_else(|p| p.into_inner());
                }
                if !done[i] {
                    break;
                }
            }
            let (from, end) = ranges[i];
            let mut at = from;
            while at < end {
                let n = ((end - at) as usize).min(BUF);
                if let Err(e) = file.read_exact_at(&mut buf[..n], at) {
                    stop(&shared, Error::io("read back", part, e));
                    break;
                }
                hasher.update(&buf[..n]);
                if let Some(t) = tap.as_deref_mut() {
                    t.send(&buf[..n]);
                }
                at += n as u64;
            }
            if at < end {
                break;
            }
            prefix = end;
            since_checkpoint += end - from;
            if since_checkpoint >= CHECKPOINT_EVERY {
                save(file, spec, prefix);
                since_checkpoint = 0;
            }
        }
        shared.stop.store(true, Ordering::SeqCst);
        shared.cv.notify_all();
    });
    if shared.unsupported.load(Ordering::SeqCst) {
        return Ok(Ranged::Unsupported);
    }
    if let Some(e) = shared.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        save(file, spec, prefix);
        return Err(e);
    }
    Ok(Ranged::Done(hasher.finish()))
}

fn save(file: &File, spec: BlobSpec<'_>, written: u64) {
    resume::save(file, &Record::ranged(spec.digest, spec.size, written));
}

/// Range `i` of those that cover `start..size`.
/// Cut `start..size` into ranges for `workers` connections, largest first: each is half of an
/// even share of what is left, within [`RANGE_MIN`, `RANGE_MAX`], so the connections finish
/// close together (guided self-scheduling).
fn plan(start: u64, size: u64, workers: usize) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < size {
        let share = (size - at) / (2 * workers.max(1) as u64);
        let len = (share / RANGE_MIN * RANGE_MIN).clamp(RANGE_MIN, RANGE_MAX);
        let end = (at + len).min(size);
        out.push((at, end));
        at = end;
    }
    out
}

fn stop(shared: &Shared, e: Error) {
    let mut slot = shared.error.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(e);
    }
    shared.stop.store(true, Ordering::SeqCst);
    shared.cv.notify_all();
}

fn worker(ctx: &Ctx<'_>, shared: &Shared, next: &AtomicUsize, ranges: &[(u64, u64)]) {
    let Ctx { t: Transfer { session, spec, who }, .. } = *ctx;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= ranges.len() {
            return;
        }
        let (start, end) = ranges[i];
        let mut pos = start;
        let what = format!("{} ({} bytes {start}-{})", who.name, spec.digest.short(), end - 1);
        let r = session
            .client
            .retrying(Some(who.index), &what, |_| range(ctx, &mut pos, end, &shared.stop));
        match r {
            Ok(true) => {
                shared.done.lock().unwrap_or_else(|p| p.into_inner())[i] = true;
                shared.cv.notify_all();
            }
            Ok(false) => {
                shared.unsupported.store(true, Ordering::SeqCst);
                shared.stop.store(true, Ordering::SeqCst);
                shared.cv.notify_all();
                return;
            }
            Err(e) => {
                stop(shared, e);
                return;
            }
        }
    }
}

/// One attempt at bytes `pos..end`, continuing from `pos` on a retry. `Ok(false)`: the server
/// answered without honouring the range.
fn range(ctx: &Ctx<'_>, pos: &mut u64, end: u64, stop: &AtomicBool) -> Result<bool, Error> {
    let Ctx { t: Transfer { session, spec, who }, file, part } = *ctx;
    let reply =
        session.client.blob_range(spec.repository, spec.digest, *pos, Some(end - 1), None)?;
    if reply.status() != 206 {
        return Ok(false);
    }
    reply.starts_at(*pos, spec.digest)?;
    let mut reader = reply.into_reader();
    let mut buf = vec![0u8; BUF];
    while *pos < end {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::new(ErrorKind::Interrupted, "stopped"));
        }
        session.cancel().check()?;
        let want = ((end - *pos) as usize).min(BUF);
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!("blob {}: range ended at {pos} of {end}", spec.digest),
                )
                .transient(true));
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!("blob {}: read failed at {pos}", spec.digest),
                )
                .with_source(e)
                .transient(true));
            }
        };
        file.write_all_at(&buf[..n], *pos).map_err(|e| Error::io("write", part, e))?;
        *pos += n as u64;
        who.progress.add(n as u64);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_rest_and_shrink_towards_the_end() {
        const M: u64 = 1024 * 1024;
        for (start, size, workers) in [(16 * M, 256 * M, 4), (0, 33 * M, 2), (5, 40 * M + 7, 16)] {
            let r = plan(start, size, workers);
            assert_eq!(r[0].0, start);
            assert_eq!(r.last().unwrap().1, size);
            assert!(r.windows(2).all(|w| w[0].1 == w[1].0), "contiguous: {r:?}");
            let lens: Vec<u64> = r.iter().map(|(a, b)| b - a).collect();
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "never growing: {lens:?}");
            assert!(lens.iter().all(|l| *l <= RANGE_MAX), "{lens:?}");
            assert!(lens[..lens.len() - 1].iter().all(|l| *l >= RANGE_MIN), "{lens:?}");
        }
        let r = plan(16 * M, 256 * M, 4);
        assert_eq!(r[0].1 - r[0].0, RANGE_MAX, "big while much is left");
        assert_eq!(r.last().map(|(a, b)| b - a), Some(RANGE_MIN), "fine at the end");
    }
}
