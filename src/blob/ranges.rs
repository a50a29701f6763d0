//! Big blobs over several connections: the blob is cut into ranges that workers take from one
//! shared queue and write in place with positional writes, while this thread hashes the
//! contiguous prefix in order as it grows (reading it back from the page cache). `--jobs` counts
//! connections: every range request takes a slot of the client's gate. A server that ignores
//! `Range` sends us back to the single stream.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
        self.decide_after(self.started.elapsed(), written, size)
    }

    /// [`Probe::decide`] `elapsed` after the start: the rule apart from the clock.
    pub(crate) fn decide_after(
        &self,
        elapsed: std::time::Duration,
        written: u64,
        size: u64,
    ) -> Option<bool> {
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
    /// Intervals past `start` already on disk (a resumed ranged download's record): read back
    /// and hashed in order, never fetched again.
    pub have: Vec<(u64, u64)>,
}

/// One piece of the blob past the hashed prefix: `from..end`, already on disk or to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    from: u64,
    end: u64,
    have: bool,
}

pub(crate) enum Ranged {
    /// Every byte is in and hashed to this digest.
    Done(Digest),
    /// The server does not serve ranges: use one stream.
    Unsupported,
}

struct Shared {
    done: Mutex<Vec<bool>>,
    /// How far each piece is on disk, for the record: a rerun keeps what a piece got.
    reached: Vec<AtomicU64>,
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
    let Rest { start, hasher, mut tap, have } = rest;
    let size = spec.size.expect("ranged fetches need a size");
    let workers = session.client.concurrency();
    let ranges = plan(start, size, workers, &have);
    let chunks = ranges.len();
    // From here the file is full-length with holes: only the record's prefix is hashed.
    resume::save(file, &Record::ranged(spec.digest, spec.size, start, have));
    file.set_len(size).map_err(|e| Error::io("allocate", part, e))?;
    let shared = Shared {
        done: Mutex::new(ranges.iter().map(|p| p.have).collect()),
        reached: ranges
            .iter()
            .map(|p| AtomicU64::new(if p.have { p.end } else { p.from }))
            .collect(),
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
            let Piece { from, end, .. } = ranges[i];
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
                save(file, spec, prefix, &ranges, &shared);
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
        save(file, spec, prefix, &ranges, &shared);
        return Err(e);
    }
    Ok(Ranged::Done(hasher.finish()))
}

/// Record the hashed prefix and every piece past it, as far as each got on disk.
fn save(file: &File, spec: BlobSpec<'_>, prefix: u64, ranges: &[Piece], shared: &Shared) {
    let have = ranges
        .iter()
        .zip(&shared.reached)
        .map(|(p, r)| (p.from, r.load(Ordering::SeqCst)))
        .filter(|&(from, to)| from >= prefix && to > from)
        .collect();
    resume::save(file, &Record::ranged(spec.digest, spec.size, prefix, have));
}

/// Cut `start..size` into pieces for `workers` connections: the intervals in `have` (on disk
/// already) as they are, and each hole between them into ranges, largest first: each is half of
/// an even share of what is left to fetch, within [`RANGE_MIN`, `RANGE_MAX`], so the connections
/// finish close together (guided self-scheduling).
fn plan(start: u64, size: u64, workers: usize, have: &[(u64, u64)]) -> Vec<Piece> {
    let mut kept: Vec<(u64, u64)> =
        have.iter().map(|&(a, b)| (a.max(start), b.min(size))).filter(|(a, b)| a < b).collect();
    kept.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in kept {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut left = (size - start) - merged.iter().map(|(a, b)| b - a).sum::<u64>();
    let mut out = Vec::new();
    let mut at = start;
    for hole_end in merged.iter().map(|m| m.0).chain([size]) {
        while at < hole_end {
            let share = left / (2 * workers.max(1) as u64);
            let len = (share / RANGE_MIN * RANGE_MIN).clamp(RANGE_MIN, RANGE_MAX);
            let end = (at + len).min(hole_end);
            out.push(Piece { from: at, end, have: false });
            left -= end - at;
            at = end;
        }
        if let Some(&(a, b)) = merged.iter().find(|m| m.0 == hole_end) {
            out.push(Piece { from: a, end: b, have: true });
            at = b;
        }
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

fn worker(ctx: &Ctx<'_>, shared: &Shared, next: &AtomicUsize, ranges: &[Piece]) {
    let Ctx { t: Transfer { session, spec, who }, .. } = *ctx;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= ranges.len() {
            return;
        }
        let Piece { from: start, end, have } = ranges[i];
        if have {
            continue;
        }
        let mut pos = start;
        let what = format!("{} ({} bytes {start}-{})", who.name, spec.digest.short(), end - 1);
        let reached = &shared.reached[i];
        let r = session
            .client
            .retrying(Some(who.index), &what, |_| range(ctx, &mut pos, end, shared, reached));
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
fn range(
    ctx: &Ctx<'_>,
    pos: &mut u64,
    end: u64,
    shared: &Shared,
    reached: &AtomicU64,
) -> Result<bool, Error> {
    let stop = &shared.stop;
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
        reached.store(*pos, Ordering::SeqCst);
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
        let plain = |start, size, workers| -> Vec<(u64, u64)> {
            plan(start, size, workers, &[]).iter().map(|p| (p.from, p.end)).collect()
        };
        for (start, size, workers) in [(16 * M, 256 * M, 4), (0, 33 * M, 2), (5, 40 * M + 7, 16)] {
            let r = plain(start, size, workers);
            assert_eq!(r[0].0, start);
            assert_eq!(r.last().unwrap().1, size);
            assert!(r.windows(2).all(|w| w[0].1 == w[1].0), "contiguous: {r:?}");
            let lens: Vec<u64> = r.iter().map(|(a, b)| b - a).collect();
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "never growing: {lens:?}");
            assert!(lens.iter().all(|l| *l <= RANGE_MAX), "{lens:?}");
            assert!(lens[..lens.len() - 1].iter().all(|l| *l >= RANGE_MIN), "{lens:?}");
        }
        let r = plain(16 * M, 256 * M, 4);
        assert_eq!(r[0].1 - r[0].0, RANGE_MAX, "big while much is left");
        assert_eq!(r.last().map(|(a, b)| b - a), Some(RANGE_MIN), "fine at the end");
    }

    #[test]
    fn pieces_on_disk_are_kept_and_only_the_holes_are_fetched() {
        const M: u64 = 1024 * 1024;
        let have = [(40 * M, 56 * M), (50 * M, 60 * M), (100 * M, 300 * M), (5, 5)];
        let p = plan(16 * M, 128 * M, 4, &have);
        assert_eq!(p[0].from, 16 * M);
        assert_eq!(p.last().unwrap().end, 128 * M);
        assert!(p.windows(2).all(|w| w[0].end == w[1].from), "contiguous: {p:?}");
        let kept: Vec<(u64, u64)> = p.iter().filter(|x| x.have).map(|x| (x.from, x.end)).collect();
        assert_eq!(kept, [(40 * M, 60 * M), (100 * M, 128 * M)], "merged, clamped");
        let fetched: u64 = p.iter().filter(|x| !x.have).map(|x| x.end - x.from).sum();
        assert_eq!(fetched, (40 - 16 + 100 - 60) * M, "only the holes");
        assert!(p.iter().filter(|x| !x.have).all(|x| x.end - x.from <= RANGE_MAX), "{p:?}");
    }
}
