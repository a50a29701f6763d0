//! The life of one blob, on one page: [`to_file`] goes cache → `.part` and resume → stream →
//! ranges? → verify → rename; [`to_writer`] streams to stdout with the same checks. A final name
//! never holds partial or unverified bytes.
//!
//! - `part`: the `.part` file (open + lock, re-hash on resume, finish/unlink) and `resume`, its
//!   checkpoint record in an xattr;
//! - `stream`: one HTTP attempt after another, each continuing from the bytes already written,
//!   big ones through the `pipeline`;
//! - `ranges`: several connections over one big blob, when one connection proves slow;
//! - `verify`: size, digest and the executable bit — the one check every path ends in;
//! - `tee`: the tap that hands the bytes, in order, to an unpacker while they download.
//!
//! Threads and buffers, per transfer (the caller's thread is the one that writes the file):
//! - small blobs (< 4 MiB): that thread reads, writes and hashes with one 256 KiB buffer;
//! - bigger ones: a receiving thread reads the body into `DEPTH + 1` recycled chunks, the caller
//!   writes them, and a hashing thread hashes what was written while the run's streams leave a
//!   core spare (else the caller hashes each 256 KiB piece right after writing it; a stream
//!   switches between the two as other streams start and end); the chunk size shrinks with
//!   `--jobs` so that all transfers together stay within a 20 MiB budget;
//! - ranges: a group of the session's pool (the caller plus spare workers, at most `--jobs`)
//!   fetches ranges (16 MiB down to 1 MiB) and writes them in place; whichever worker finds the
//!   next one on disk hashes the contiguous prefix (read back from the page cache) and feeds the
//!   tap. Every request takes a slot of the client's gate. The run's threads: `session`.
//! - a tap is a bounded channel (8 chunks) to the unpacking thread the pull started.

mod cached;
mod part;
mod pipeline;
mod ranges;
mod restart;
mod resume;
mod sink;
mod stream;
mod tee;
mod verify;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileStatus, Level, Observer, Progress};
use crate::held::Dir;
use crate::registry::Key;
use crate::session::Session;
use part::{feed_prefix, finish, open_part, part_name, rehash, remove_part};
pub use part::{part_path, write_atomic};
use restart::{attempt, restart};
use resume::{Loaded, Record};
use sink::{FileSink, Sink};
use stream::Failure;
pub use stream::to_writer;
pub use tee::{Tap, TapReader};
use verify::State;
pub use verify::hash_file;

/// The blob to fetch: where it lives and what it must hash to.
#[derive(Debug, Clone, Copy)]
pub struct BlobSpec<'a> {
    pub repository: &'a str,
    pub digest: &'a Digest,
    /// The size the descriptor promises; `None` when only the digest is known (`oci-dl blob`).
    pub size: Option<u64>,
}

/// One transfer: the session it runs in, what it fetches, and who it is for. Every step of a
/// blob's life takes it whole.
#[derive(Clone, Copy)]
pub(crate) struct Transfer<'a> {
    pub session: &'a Session,
    pub spec: BlobSpec<'a>,
    pub who: Requester<'a>,
}

/// Who is asking for the blob: the index and name its events carry, the byte counter a view
/// polls, and the observer the events go to.
#[derive(Clone, Copy)]
pub struct Requester<'a> {
    pub index: usize,
    pub name: &'a str,
    pub progress: &'a Progress,
    pub obs: &'a dyn Observer,
}

/// What a finished transfer learnt about the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub size: u64,
    /// ELF or Mach-O: the file gets its execute bits.
    pub executable: bool,
    /// Bytes taken from an earlier run's `.part`.
    pub resumed_from: u64,
    /// Copied from the blob cache, not downloaded.
    pub from_cache: bool,
}

impl Outcome {
    /// How the file came to be, as its report and `Finished` event say.
    pub fn status(&self) -> FileStatus {
        match self {
            o if o.from_cache => FileStatus::Cached,
            o if o.resumed_from > 0 => FileStatus::Resumed,
            _ => FileStatus::Downloaded,
        }
    }
}

/// Where a file transfer ends: `name` in a directory held open from its check to the rename.
#[derive(Clone, Copy)]
pub struct Dest<'a> {
    pub dir: &'a Dir,
    pub name: &'a OsStr,
}

impl Dest<'_> {
    fn path(&self) -> PathBuf {
        self.dir.show(self.name)
    }
}

/// Download `spec` to `dest` via `dest.part`, resuming and retrying. ELF and Mach-O files get mode 0755
/// (less the umask).
pub fn to_file(
    session: &Session,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Requester<'_>,
) -> Result<Outcome, Error> {
    to_file_tapped(session, spec, dest, who, None)
}

/// [`to_file`], also handing every byte, in order, to `tap`.
pub fn to_file_tapped(
    session: &Session,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Requester<'_>,
    mut tap: Option<&mut Tap>,
) -> Result<Outcome, Error> {
    let cache = session.cache.as_ref();
    // Our own file, just verified, is remembered as such for a re-pull (see `crate::cache`)
    // before anything else could change it; not an archive being unpacked (it goes away).
    let unpacked = tap.is_some();
    let remember = |cache: &crate::cache::Cache, file: &File| {
        if !unpacked {
            cache.remember_output(file, spec.digest, crate::cache::Before::ours(file));
        }
    };
    if let Some(cache) = cache
        && let Some(cached) = cache.get(spec.digest)
    {
        match cached::restore(&cached, Transfer { session, spec, who }, dest, tap.as_deref_mut()) {
            Ok((outcome, file)) => {
                remember(cache, &file);
                return Ok(outcome);
            }
            Err(e) if e.kind() == ErrorKind::Integrity => {
                if let Some(t) = tap.as_deref_mut() {
                    t.cut();
                }
                cache.drop_entry(spec.digest, &cached);
                who.obs.log(Level::Warn, format!("{e}; dropped it, downloading"));
            }
            Err(e) => return Err(e),
        }
    }
    let (outcome, file) = download(Transfer { session, spec, who }, dest, tap)?;
    if let Some(cache) = cache {
        remember(cache, &file);
        if let Err(e) = cache.put(spec.digest, &file, &dest.path()) {
            who.obs.log(Level::Debug, format!("not cached: {}", e.to_string_full()));
        }
    }
    Ok(outcome)
}

/// Where a `.part` left off: the hash of its kept prefix, its length, and the ranges past it.
struct Resume {
    state: State,
    offset: u64,
    have: Vec<(u64, u64)>,
}

/// Read the `.part`'s record and rehash what it says is in (nothing, when that fails).
fn resume_point(
    t: Transfer<'_>,
    file: &File,
    part: &std::path::Path,
    loaded: &Loaded,
    len: u64,
) -> Resume {
    let Transfer { spec, who, .. } = t;
    let fresh =
        || Resume { state: State::new(spec.digest.algorithm()), offset: 0, have: Vec::new() };
    let offset = resume::resume_offset(loaded, len, spec.digest, spec.size);
    let have = match loaded {
        Loaded::Found(r) if r.digest == spec.digest.to_string() => r.kept_ranges(len),
        _ => Vec::new(),
    };
    if offset == 0 {
        return Resume { have, ..fresh() };
    }
    let mut state = State::new(spec.digest.algorithm());
    if rehash(file, part, offset, &mut state).is_err() {
        return fresh();
    }
    if let Loaded::Found(r) = loaded {
        state.etag = r.etag.clone().filter(|e| crate::registry::strong_etag(e));
    }
    if *loaded == Loaded::Unsupported {
        let why = "no xattrs on this filesystem; resuming from the .part length";
        who.obs.log(Level::Debug, format!("{}: {why}", who.name));
    }
    who.obs.event(&Event::Resumed { index: who.index, name: who.name, offset });
    Resume { state, offset, have }
}

/// Where a resumed `.part` stands, for [`ready_part`].
struct At<'a> {
    offset: u64,
    len: u64,
    etag: Option<&'a str>,
    loaded: &'a Loaded,
}

/// Make the `.part` ready to write at `at.offset`: emptied when nothing is kept, the kept
/// prefix fed to the tap, holes past a prefix cut (unless ranges past it are kept), and a
/// record of what it holds.
fn ready_part<'a>(
    sink: &mut FileSink<'a>,
    mut tap: Option<&'a mut Tap>,
    spec: BlobSpec<'_>,
    at: At<'_>,
) -> Result<(), Error> {
    let At { offset, len, etag, loaded } = at;
    let part = sink.path;
    if offset == 0 && len > 0 && sink.have.is_empty() {
        sink.restart()?;
    }
    if let Some(t) = tap.as_deref_mut()
        && offset > 0
    {
        feed_prefix(&sink.file, part, offset, t)?;
    }
    sink.tap = tap;
    sink.file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io("seek", part, e))?;
    if offset < len && offset > 0 && sink.have.is_empty() {
        // A ranged download's holes past its hashed prefix, with nothing kept past it.
        sink.file.set_len(offset).map_err(|e| Error::io("truncate", part, e))?;
    }
    let record = match sink.have.is_empty() {
        true => Record::stream(spec.digest, spec.size, offset, etag),
        false => Record::ranged(spec.digest, spec.size, offset, sink.have.clone()),
    };
    sink.xattrs = *loaded != Loaded::Unsupported && resume::save(&sink.file, &record);
    Ok(())
}

/// The network path: resume a `.part` if one is there, retry, verify, rename. Returns the final
/// file, still locked.
fn download(
    t: Transfer<'_>,
    dest: Dest<'_>,
    tap: Option<&mut Tap>,
) -> Result<(Outcome, File), Error> {
    let Transfer { session, spec, who } = t;
    let part_name = part_name(dest.name);
    let part = dest.dir.show(&part_name);
    let (file, _) = open_part(dest.dir, &part_name, who.obs)?;
    let len = file.metadata().map_err(|e| Error::io("inspect", &part, e))?.len();
    let loaded = resume::load(&file);
    let Resume { mut state, mut offset, have } = resume_point(t, &file, &part, &loaded, len);
    // Bytes this run did not fetch: a hashed prefix, or ranges past a prefix of 0.
    let mut kept = offset > 0 || !have.is_empty();
    let mut sink = FileSink {
        file,
        path: &part,
        digest: spec.digest,
        size: spec.size,
        xattrs: true,
        probe: None,
        switched: false,
        tap: None,
        have,
    };
    let at = At { offset, len, etag: state.etag.as_deref(), loaded: &loaded };
    ready_part(&mut sink, tap, spec, at)?;
    who.progress.set(offset);
    // Bad bytes from a mirror: its bytes go, and the next source is asked from zero.
    let mut again = false;
    let key = Key::Blob(spec.digest.clone());
    let ended = session.client.fail_over(&[key], ErrorKind::Integrity, || {
        if std::mem::replace(&mut again, true) {
            let why = "restarting the download from the next source";
            restart(t, &mut sink, &mut state, why).map_err(Ended::Kept)?;
            (offset, kept) = (0, false);
        }
        attempt(t, &mut sink, &mut state, (offset, kept))
    });
    match ended {
        Ok(outcome) => {
            let file = finish(sink.file, dest, &part_name, &outcome)?;
            Ok((outcome, file))
        }
        Err(Ended::Kept(e)) => Err(e),
        Err(Ended::Failed(Failure { error: e, written, etag })) => {
            if e.kind() == ErrorKind::Integrity || written == 0 {
                remove_part(dest.dir, &part_name, &sink.file);
                drop(sink);
            } else {
                sink.checkpoint(written, etag.as_deref());
            }
            Err(e)
        }
    }
}

/// How a transfer into a `.part` ended without a verified file.
enum Ended {
    /// With the bytes written so far and the ETag, for the checkpoint.
    Failed(Failure),
    /// The ranged fetch kept its own record; nothing more to do.
    Kept(Error),
}

/// Fetch what the `.part` lacks past `offset` (in ranges if one stream is slow) and verify it.
fn complete(
    t: Transfer<'_>,
    sink: &mut FileSink<'_>,
    state: &mut State,
    offset: u64,
) -> Result<Outcome, Ended> {
    let Transfer { spec, who, .. } = t;
    // A resumed ranged download goes on in ranges around what it has.
    let resumed = !sink.have.is_empty();
    sink.switched = resumed;
    let mut fetched = if resumed { Ok(()) } else { stream::fetch(t, sink, state) };
    if fetched.is_ok() && sink.switched {
        sink.switched = false;
        let start = state.written;
        let why = if resumed { "around the ranges it has" } else { "one connection is slow" };
        who.obs.log(Level::Debug, format!("{}: {why}; fetching the rest in ranges", who.name));
        let ctx = ranges::Ctx { t, file: &sink.file, part: sink.path };
        let have = std::mem::take(&mut sink.have);
        let rest = ranges::Rest {
            start,
            hasher: state.hasher.clone(),
            tap: sink.tap.as_deref_mut(),
            have,
        };
        match ranges::fetch(&ctx, rest) {
            Ok(ranges::Ranged::Done(got)) => {
                let size = spec.size.unwrap_or(0);
                return verify::check(spec, size, got, &state.head)
                    .map(|o| Outcome { resumed_from: offset, ..o })
                    .map_err(|e| Ended::Failed(Failure::bare(e)));
            }
            Ok(ranges::Ranged::Unsupported) => {
                who.obs.log(
                    Level::Debug,
                    format!("{}: the server ignores Range; staying on one connection", who.name),
                );
                if let Some(t) = sink.tap.as_deref_mut()
                    && t.sent != start
                {
                    t.cut();
                }
                let part = sink.path;
                sink.file
                    .set_len(start)
                    .map_err(|e| Ended::Kept(Error::io("truncate", part, e)))?;
                sink.file
                    .seek(SeekFrom::Start(start))
                    .map_err(|e| Ended::Kept(Error::io("seek", part, e)))?;
                sink.checkpoint(start, state.etag.as_deref());
                fetched = stream::fetch(t, sink, state);
            }
            Err(e) => return Err(Ended::Kept(e)),
        }
    }
    let algorithm = spec.digest.algorithm();
    fetched
        .and_then(|()| verify::finished(spec, std::mem::replace(state, State::new(algorithm))))
        .map(|o| Outcome { resumed_from: offset, ..o })
        .map_err(Ended::Failed)
}
