//! Big blobs over several connections: the blob is cut into ranges, fetched as one group of the
//! session's pool (the caller and whatever workers are spare) and written in place with
//! positional writes; whichever worker finds the next piece on disk hashes the contiguous
//! prefix in order (reading it back from the page cache). `--jobs` counts connections: every
//! range request takes a slot of the client's gate. A server that ignores `Range` sends us
//! back to the single stream; the first failed range stops the group.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::resume::{self, BUF, CHECKPOINT_EVERY, Record};
use super::{BlobSpec, Transfer};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind};
use crate::pool::Stop;

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

/// Why a group of range fetches stopped early.
enum Halt {
    Failed(Error),
    /// The server answered a range request with the whole blob.
    Unsupported,
}

/// The in-order half of a ranged fetch: whichever worker finds the next piece on disk reads
/// it back and hashes it (feeding the tap), while the others go on fetching. No thread waits
/// for a piece: a worker that finds the hashing taken leaves it to its holder, which looks
/// again after letting go, and the caller drains what is left when the group ends.
struct Order<'a> {
    done: Vec<AtomicBool>,
    /// How far each piece is on disk, for the record: a rerun keeps what a piece got.
    reached: Vec<AtomicU64>,
    /// The first piece not hashed yet.
    next: AtomicUsize,
    hashing: Mutex<Hashing<'a>>,
}

struct Hashing<'a> {
    hasher: Hasher,
    tap: Option<&'a mut super::tee::Tap>,
    /// The end of the hashed prefix.
    prefix: u64,
    since_checkpoint: u64,
    buf: Vec<u8>,
}

/// Fetch the rest of `spec` (of known size) from byte `start` into `file`, whose first `start`
/// bytes are in and fed to `hasher`, as one group of the session's pool: up to `--jobs`
/// workers, each range request in a slot of the gate. On failure the resume record already
/// names the good prefix.
pub(crate) fn fetch(ctx: &Ctx<'_>, rest: Rest<'_>) -> Result<Ranged, Error> {
    let Ctx { t: Transfer { session, spec, .. }, file, part } = *ctx;
    let Rest { start, hasher, tap, have } = rest;
    let size = spec.size.expect("ranged fetches need a size");
    let ranges = plan(start, size, session.client.concurrency(), &have);
    // From here the file is full-length with holes: only the record's prefix is hashed.
    resume::save(file, &Record::ranged(spec.digest, spec.size, start, have));
    file.set_len(size).map_err(|e| Error::io("allocate", part, e))?;
    let order = Order {
        done: ranges.iter().map(|p| AtomicBool::new(p.have)).collect(),
        reached: ranges
            .iter()
            .map(|p| AtomicU64::new(if p.have { p.end } else { p.from }))
            .collect(),
        next: AtomicUsize::new(0),
        hashing: Mutex::new(Hashing {
            hasher,
            tap,
            prefix: start,
            since_checkpoint: 0,
            buf: vec![0u8; BUF],
        }),
    };
    let unsupported = AtomicBool::new(false);
    let fetches: Vec<usize> = (0..ranges.len()).filter(|&i| !ranges[i].have).collect();
    let r = session.pool.try_run(fetches, |_, i, stop: &Stop| {
        match fetch_piece(ctx, ranges[i], &order.reached[i], stop) {
            Err(Halt::Unsupported) => unsupported.store(true, Ordering::SeqCst),
            other => other?,
        }
        order.done[i].store(true, Ordering::SeqCst);
        order.advance(ctx, &ranges).map_err(Halt::Failed)
    });
    // Every piece is in or the group stopped: hash what the workers left.
    let r = r.and_then(|_| order.advance(ctx, &ranges).map_err(Halt::Failed));
    if unsupported.load(Ordering::SeqCst) {
        return Ok(Ranged::Unsupported);
    }
    let hashing = order.hashing.into_inner().unwrap_or_else(|p| p.into_inner());
    match r {
        Ok(()) => Ok(Ranged::Done(hashing.hasher.finish())),
        Err(Halt::Failed(e)) => {
            save(file, spec, hashing.prefix, &ranges, &order.reached);
            Err(e)
        }
        Err(Halt::Unsupported) => Ok(Ranged::Unsupported),
    }
}

impl Order<'_> {
    /// Hash the pieces on disk that follow the hashed prefix, unless another worker is at it.
    fn advance(&self, ctx: &Ctx<'_>, ranges: &[Piece]) -> Result<(), Error> {
        loop {
            let mut h = match self.hashing.try_lock() {
                Ok(h) => h,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
            };
            let mut i = self.next.load(Ordering::SeqCst);
            while i < ranges.len() && self.done[i].load(Ordering::SeqCst) {
                h.absorb(ctx, ranges[i])?;
                i += 1;
                self.next.store(i, Ordering::SeqCst);
                if h.since_checkpoint >= CHECKPOINT_EVERY {
                    save(ctx.file, ctx.t.spec, h.prefix, ranges, &self.reached);
                    h.since_checkpoint = 0;
                }
            }
            drop(h);
            // A piece finished while this worker held the hashing found it taken: look again.
            let i = self.next.load(Ordering::SeqCst);
            if i >= ranges.len() || !self.done[i].load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }
}

impl Hashing<'_> {
    /// Read piece `p` back from the page cache, hash it and pass it to the tap.
    fn absorb(&mut self, ctx: &Ctx<'_>, p: Piece) -> Result<(), Error> {
        let mut at = p.from;
        while at < p.end {
            let n = ((p.end - at) as usize).min(BUF);
            let buf = &mut self.buf[..n];
            ctx.file.read_exact_at(buf, at).map_err(|e| Error::io("read back", ctx.part, e))?;
            self.hasher.update(buf);
            if let Some(t) = self.tap.as_deref_mut() {
                t.send(buf);
            }
            at += n as u64;
        }
        self.prefix = p.end;
        self.since_checkpoint += p.end - p.from;
        Ok(())
    }
}

/// Record the hashed prefix and every piece past it, as far as each got on disk.
fn save(file: &File, spec: BlobSpec<'_>, prefix: u64, ranges: &[Piece], reached: &[AtomicU64]) {
    let have = ranges
        .iter()
        .zip(reached)
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

/// Fetch piece `p`, retrying from where each attempt stopped.
fn fetch_piece(ctx: &Ctx<'_>, p: Piece, reached: &AtomicU64, stop: &Stop) -> Result<(), Halt> {
    let Ctx { t: Transfer { session, spec, who }, .. } = *ctx;
    let Piece { from, end, .. } = p;
    let mut pos = from;
    let what = format!("{} ({} bytes {from}-{})", who.name, spec.digest.short(), end - 1);
    let r = session
        .client
        .retrying(Some(who.index), &what, |_| range(ctx, &mut pos, end, stop, reached));
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err(Halt::Unsupported),
        Err(e) => Err(Halt::Failed(e)),
    }
}

/// One attempt at bytes `pos..end`, continuing from `pos` on a retry. `Ok(false)`: the server
/// answered without honouring the range.
fn range(
    ctx: &Ctx<'_>,
    pos: &mut u64,
    end: u64,
    stop: &Stop,
    reached: &AtomicU64,
) -> Result<bool, Error> {
    let Ctx { t: Transfer { session, spec, who }, file, part } = *ctx;
    let reply =
        session.client.blob_range(spec.repository, spec.digest, *pos, Some(end - 1), None)?;
    if reply.status() != 206 {
        return Ok(false);
    }
    reply.starts_at(*pos, spec.digest)?;
    let mut reader = reply.into_reader();
    // One per connection: no bigger than what a read returns, so `--jobs` of them stay small.
    let size = session.client.read_size();
    let mut buf = vec![0u8; size];
    while *pos < end {
        if stop.is_set() {
            return Err(Error::new(ErrorKind::Interrupted, "stopped"));
        }
        session.cancel().check()?;
        let want = ((end - *pos) as usize).min(size);
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
