//! One blob to one file (or writer): stream into `NAME.part` while hashing, check size and digest
//! at EOF, and only then rename to `NAME`. A final name never holds partial or unverified bytes.
//!
//! Transient failures are retried from the bytes already written (a `Range` request), and a
//! `.part` left by an earlier run is continued when its resume record names the same digest.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use xattr::FileExt as _;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, ErrorKind};
use crate::events::{Event, Level, Observer, Progress};
use crate::fsx::{self, Dir, Node};
use crate::registry::Client;
use crate::resume::{self, Loaded, Record};
use crate::retry::Cancel;
pub use crate::spec::{BlobSpec, Report};
pub use crate::tee::{Tap, TapReader};

/// Bytes per read: large reads keep syscalls and hashing calls few.
const BUF: usize = 256 * 1024;
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
/// The resume record is rewritten at least this often.
const CHECKPOINT_EVERY: u64 = 8 * 1024 * 1024;
/// Bytes kept from the start of a blob to tell an executable by.
const HEAD: usize = 8;

/// Whether a file starting with `head` is an executable a user runs: ELF, or Mach-O (thin, or
/// universal: `cafebabe` followed by a small architecture count — a Java class has its version
/// there, 45 or more, as `file(1)` tells them apart).
fn is_executable(head: &[u8]) -> bool {
    const MACHO: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    let Some(magic) = head.get(..4) else { return false };
    if magic == b"\x7fELF" || MACHO.iter().any(|m| m == magic) {
        return true;
    }
    let fat = magic == [0xca, 0xfe, 0xba, 0xbe] || magic == [0xca, 0xfe, 0xba, 0xbf];
    let count = head.get(4..8).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    fat && count.is_some_and(|n| (1..30).contains(&n))
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

/// `path` with `.part` appended to its file name.
pub fn part_path(path: &Path) -> PathBuf {
    PathBuf::from(part_name(path.as_os_str()))
}

fn part_name(name: &OsStr) -> OsString {
    let mut s = name.to_owned();
    s.push(".part");
    s
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

/// Where the bytes go.
trait Sink {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error>;
    /// Start over from byte 0; `false` when the sink cannot (a stream already sent).
    fn restart(&mut self) -> Result<bool, Error>;
    /// Save the resume record (no-op for streams).
    fn checkpoint(&mut self, _written: u64, _etag: Option<&str>) {}
    /// Whether to stop this stream and fetch the rest in ranges (see [`crate::ranged`]).
    fn wants_ranges(&mut self, _written: u64) -> bool {
        false
    }
    fn switched(&self) -> bool {
        false
    }
}

/// Watches a file transfer's first second to decide whether ranges would help.
struct Probe {
    started: std::time::Instant,
    from: u64,
}

struct FileSink<'a> {
    file: File,
    path: &'a Path,
    digest: &'a Digest,
    size: Option<u64>,
    xattrs: bool,
    /// Set while a switch to ranges may still happen.
    probe: Option<Probe>,
    switched: bool,
    tap: Option<&'a mut Tap>,
}

impl Sink for FileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.file.write_all(buf).map_err(|e| Error::io("write", self.path, e))?;
        if let Some(t) = self.tap.as_deref_mut() {
            t.send(buf);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<bool, Error> {
        if let Some(t) = self.tap.as_deref_mut()
            && t.sent > 0
        {
            t.cut();
        }
        self.file.set_len(0).map_err(|e| Error::io("truncate", self.path, e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", self.path, e))?;
        Ok(true)
    }

    fn switched(&self) -> bool {
        self.switched
    }

    fn wants_ranges(&mut self, written: u64) -> bool {
        let (Some(p), Some(size)) = (&self.probe, self.size) else { return false };
        let elapsed = p.started.elapsed();
        if elapsed < std::time::Duration::from_secs(1) {
            return false;
        }
        let rate = (written - p.from) as f64 / elapsed.as_secs_f64();
        self.probe = None; // decide once
        self.switched =
            rate < crate::ranged::SLOW_BELOW as f64 && size - written >= crate::ranged::THRESHOLD;
        self.switched
    }

    fn checkpoint(&mut self, written: u64, etag: Option<&str>) {
        if self.xattrs {
            resume::save(&self.file, &Record::stream(self.digest, self.size, written, etag));
        }
    }
}

struct StreamSink<'a> {
    out: &'a mut dyn Write,
}

impl Sink for StreamSink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.out.write_all(buf).map_err(|e| Error::io("write", Path::new("<stdout>"), e))
    }

    fn restart(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Hashing state that survives between attempts.
struct State {
    hasher: Hasher,
    written: u64,
    head: [u8; HEAD],
    etag: Option<String>,
}

impl State {
    fn new(algorithm: Algorithm) -> State {
        State { hasher: algorithm.hasher(), written: 0, head: [0; HEAD], etag: None }
    }

    fn absorb(&mut self, buf: &[u8]) {
        self.hasher.update(buf);
        self.note(buf);
    }

    /// Count bytes written (and keep the first few) without hashing them.
    fn note(&mut self, buf: &[u8]) {
        if self.written < HEAD as u64 {
            let at = self.written as usize;
            let take = (HEAD - at).min(buf.len());
            self.head[at..at + take].copy_from_slice(&buf[..take]);
        }
        self.written += buf.len() as u64;
    }
}

/// Download `spec` to `dest` via `dest.part`, resuming and retrying. ELF and Mach-O files get mode 0755
/// (less the umask).
pub fn to_file(
    client: &Client,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Report<'_>,
) -> Result<Outcome, Error> {
    to_file_tapped(client, spec, dest, who, None)
}

/// [`to_file`], also handing every byte, in order, to `tap`.
pub fn to_file_tapped(
    client: &Client,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Report<'_>,
    mut tap: Option<&mut Tap>,
) -> Result<Outcome, Error> {
    if let Some(cache) = client.cache()
        && let Some(cached) = cache.get(spec.digest)
    {
        match restore(&cached, spec, dest, who, client, tap.as_deref_mut()) {
            Ok(o) => return Ok(o),
            Err(e) if e.kind() == ErrorKind::Integrity => {
                if let Some(t) = tap.as_deref_mut() {
                    t.cut();
                }
                cache.remove(spec.digest);
                who.obs.log(
                    Level::Warn,
                    format!(
                        "cached {} was damaged ({e}); dropped it, downloading",
                        spec.digest.short()
                    ),
                );
            }
            Err(e) => return Err(e),
        }
    }
    let (outcome, file) = download(client, spec, dest, who, tap)?;
    if let Some(cache) = client.cache()
        && let Err(e) = cache.put(spec.digest, dest.dir, dest.name, &file)
    {
        who.obs.log(Level::Debug, format!("not cached: {}", e.to_string_full()));
    }
    Ok(outcome)
}

/// Open (or create) the `.part` `name` in `dir` for writing and hold an exclusive lock on it: a
/// second `oci-dl` pulling the same file into the same place waits instead of writing into the
/// same bytes. Only a file oci-dl may take over is reused (see [`Node::unfit`]); anything else
/// there — a symlink, a hard link, a FIFO, another user's file — is removed (the entry only,
/// never what it points to) and a new file is created with `O_EXCL`. `true` when the file
/// existed. After the wait the name may hold another file (the first process renamed its
/// `.part` into place), so the lock only counts if the name still holds the locked file.
fn open_part(dir: &Dir, name: &OsStr, obs: &dyn Observer) -> Result<(File, bool), Error> {
    let part = dir.show(name);
    for _ in 0..100 {
        let (file, existed) = match dir.entry(name)? {
            None => match dir.create_new_file(name, 0o644) {
                Ok(f) => (f, false),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("create", &part, e)),
            },
            Some(node) => {
                if let Some(why) = node.unfit() {
                    remove_unfit(dir, name, &node, &why, obs)?;
                    continue;
                }
                let Some(f) = dir.open_existing_regular(name, true)? else { continue };
                match Node::of_file(&f) {
                    Ok(n) if n.same(&node) && n.unfit().is_none() => (f, true),
                    _ => continue, // replaced between the look and the open: look again
                }
            }
        };
        if file.try_lock().is_err() {
            obs.log(
                Level::Info,
                format!("{} is being written by another process; waiting for it", part.display()),
            );
            file.lock().map_err(|e| Error::io("lock", &part, e))?;
        }
        let locked = Node::of_file(&file).map_err(|e| Error::io("inspect", &part, e))?;
        if dir.entry(name)?.is_some_and(|now| now.same(&locked)) {
            return Ok((file, existed));
        }
    }
    Err(Error::new(
        ErrorKind::Other,
        format!("{} keeps changing while oci-dl opens it", part.display()),
    ))
}

/// Take `name` out of the way: it is not a file oci-dl may write into.
fn remove_unfit(
    dir: &Dir,
    name: &OsStr,
    node: &Node,
    why: &str,
    obs: &dyn Observer,
) -> Result<(), Error> {
    let part = dir.show(name);
    if node.is_dir() {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} exists and is not a file oci-dl can replace", part.display()),
        ));
    }
    // Only what was judged: if the name changed meanwhile, the caller looks again.
    if !dir.entry(name)?.is_some_and(|now| now.same(node)) {
        return Ok(());
    }
    match dir.remove_file(name) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "{} {why} and cannot be removed ({e}); remove it or use another output directory",
                    part.display()
                ),
            ));
        }
    }
    obs.log(
        Level::Warn,
        format!("{} {why}; not resuming it, starting over in a new file", part.display()),
    );
    Ok(())
}

/// Unlink our `.part` before unlocking it, so a waiting process never adopts a doomed file; only
/// if the name still holds it.
fn remove_part(dir: &Dir, name: &OsStr, file: &File) {
    if let (Ok(ours), Ok(Some(now))) = (Node::of_file(file), dir.entry(name))
        && ours.same(&now)
    {
        let _ = dir.remove_file(name);
    }
}

/// Give a verified `.part` its mode and its final name, under the directory held since the
/// check. Returns the file, still locked.
fn finish(file: File, dest: Dest<'_>, part_name: &OsStr, outcome: &Outcome) -> Result<File, Error> {
    let part = dest.dir.show(part_name);
    let _ = file.remove_xattr(resume::XATTR);
    let node = Node::of_file(&file).map_err(|e| Error::io("inspect", &part, e))?;
    if outcome.executable {
        file.set_permissions(std::fs::Permissions::from_mode(fsx::executable(node.mode)))
            .map_err(|e| Error::io("chmod", &part, e))?;
    }
    // Only the file that was verified may take the final name.
    if !dest.dir.entry(part_name)?.is_some_and(|now| now.same(&node)) {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} was replaced while it was written", part.display()),
        ));
    }
    // Rename before unlocking (dropping), so a waiting process never writes into the final name.
    dest.dir
        .rename(part_name, dest.name)
        .map_err(|e| Error::io("rename into place", &dest.path(), e))?;
    Ok(file)
}

/// Write `bytes` to the user-named file `path` through `path.part` and a rename under its held
/// directory: never through a planted link or FIFO, never half-written.
pub fn write_atomic(path: &Path, bytes: &[u8], obs: &dyn Observer) -> Result<(), Error> {
    let (dir, name) = fsx::parent_of(path)?;
    let part_name = part_name(&name);
    let part = dir.show(&part_name);
    let (mut file, existed) = open_part(&dir, &part_name, obs)?;
    let written = (|| {
        if existed {
            file.set_len(0)?;
            let _ = file.remove_xattr(resume::XATTR);
        }
        file.write_all(bytes)
    })();
    if let Err(e) = written {
        remove_part(&dir, &part_name, &file);
        return Err(Error::io("write", &part, e));
    }
    let outcome =
        Outcome { size: bytes.len() as u64, executable: false, resumed_from: 0, from_cache: false };
    finish(file, Dest { dir: &dir, name: &name }, &part_name, &outcome)?;
    Ok(())
}

/// Bring a cached blob into place: verify it in one read (feeding the tap on the way), then
/// hard-link it in where the filesystem allows, else copy it, under a temporary name renamed
/// onto `dest`.
fn restore(
    cached: &crate::cache::Entry,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Report<'_>,
    client: &Client,
    tap: Option<&mut Tap>,
) -> Result<Outcome, Error> {
    let mut state = State::new(spec.digest.algorithm());
    let mut src = cached.file.try_clone().map_err(|e| Error::io("open", &cached.path, e))?;
    src.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", &cached.path, e))?;
    who.progress.set(0);
    let mut sink = VerifySink { tap };
    let outcome = copy(&mut src, spec, &mut sink, &mut state, who, client)
        .map_err(|e| (e, 0, None))
        .and_then(|()| verify(spec, state))
        .map_err(|(e, _, _)| e.context(format!("cached {}", cached.path.display())))?;
    let tmp = OsString::from(format!(
        ".{}.oci-dl-{}-{}",
        dest.name.to_string_lossy(),
        std::process::id(),
        &spec.digest.hex()[..12]
    ));
    let _ = dest.dir.remove_file(&tmp); // a leftover (or a plant): the entry only
    let placed = fsx::place(&cached.dir, &cached.name, &cached.file, dest.dir, &tmp)?;
    if outcome.executable
        && let Ok(n) = Node::of_file(&placed)
    {
        let _ = placed.set_permissions(std::fs::Permissions::from_mode(fsx::executable(n.mode)));
    }
    dest.dir.rename(&tmp, dest.name).map_err(|e| {
        let _ = dest.dir.remove_file(&tmp);
        Error::io("rename into place", &dest.path(), e)
    })?;
    Ok(Outcome { from_cache: true, ..outcome })
}

/// Where a cached blob's bytes go while it is verified: nowhere but the tap.
struct VerifySink<'a> {
    tap: Option<&'a mut Tap>,
}

impl Sink for VerifySink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        if let Some(t) = self.tap.as_deref_mut() {
            t.send(buf);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
}

/// The network path: resume a `.part` if one is there, retry, verify, rename. Returns the final
/// file, still locked.
fn download(
    client: &Client,
    spec: BlobSpec<'_>,
    dest: Dest<'_>,
    who: Report<'_>,
    mut tap: Option<&mut Tap>,
) -> Result<(Outcome, File), Error> {
    let part_name = part_name(dest.name);
    let part = dest.dir.show(&part_name);
    let (file, _) = open_part(dest.dir, &part_name, who.obs)?;
    let len = file.metadata().map_err(|e| Error::io("inspect", &part, e))?.len();
    let loaded = resume::load(&file);
    let mut state = State::new(spec.digest.algorithm());
    let mut offset = resume::resume_offset(&loaded, len, spec.digest, spec.size);
    if offset > 0 {
        match rehash(&file, &part, offset, &mut state) {
            Ok(()) => {
                if let Loaded::Found(r) = &loaded {
                    state.etag = r.etag.clone().filter(|e| crate::registry::strong_etag(e));
                }
                if loaded == Loaded::Unsupported {
                    who.obs.log(
                        Level::Debug,
                        format!(
                            "{}: no xattrs on this filesystem; resuming from the .part length",
                            who.name
                        ),
                    );
                }
                who.obs.event(&Event::Resumed { index: who.index, name: who.name, offset });
            }
            Err(_) => {
                state = State::new(spec.digest.algorithm());
                offset = 0;
            }
        }
    }
    let mut sink = FileSink {
        file,
        path: &part,
        digest: spec.digest,
        size: spec.size,
        xattrs: true,
        probe: None,
        switched: false,
        tap: None,
    };
    if offset == 0 && len > 0 {
        sink.restart()?;
    }
    if let Some(t) = tap.as_deref_mut()
        && offset > 0
    {
        feed_prefix(&sink.file, &part, offset, t)?;
    }
    sink.tap = tap;
    sink.file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io("seek", &part, e))?;
    if offset < len && offset > 0 {
        // A ranged download's holes past its hashed prefix.
        sink.file.set_len(offset).map_err(|e| Error::io("truncate", &part, e))?;
    }
    sink.xattrs = loaded != Loaded::Unsupported
        && resume::save(
            &sink.file,
            &Record::stream(spec.digest, spec.size, offset, state.etag.as_deref()),
        );
    who.progress.set(offset);
    loop {
        // A slow single stream may hand the rest to several connections; that needs the record.
        if sink.xattrs && client.concurrency() > 1 {
            sink.probe = Some(Probe { started: std::time::Instant::now(), from: offset });
        }
        let e = match complete(client, spec, &mut sink, &mut state, who, offset) {
            Ok(outcome) => {
                let file = finish(sink.file, dest, &part_name, &outcome)?;
                return Ok((outcome, file));
            }
            Err(Ended::Kept(e)) => return Err(e),
            Err(Ended::Failed((e, _, _))) if e.kind() == ErrorKind::Integrity && offset > 0 => e,
            Err(Ended::Failed((e, written, etag))) => {
                if e.kind() == ErrorKind::Integrity || written == 0 {
                    remove_part(dest.dir, &part_name, &sink.file);
                    drop(sink);
                } else {
                    sink.checkpoint(written, etag.as_deref());
                }
                return Err(e);
            }
        };
        // The bytes on disk were bad (the record matched, the content did not): the registry
        // is not to blame until a download from zero fails too.
        who.obs.log(
            Level::Info,
            format!(
                "{}: the partial file did not verify; restarting the download from 0 ({e})",
                who.name
            ),
        );
        sink.restart()?;
        state = State::new(spec.digest.algorithm());
        offset = 0;
        who.progress.set(0);
        sink.checkpoint(0, None);
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
    client: &Client,
    spec: BlobSpec<'_>,
    sink: &mut FileSink<'_>,
    state: &mut State,
    who: Report<'_>,
    offset: u64,
) -> Result<Outcome, Ended> {
    sink.switched = false;
    let mut fetched = fetch(client, spec, sink, state, who);
    if fetched.is_ok() && sink.switched {
        sink.switched = false;
        let start = state.written;
        who.obs.log(
            Level::Debug,
            format!("{}: one connection is slow; fetching the rest in ranges", who.name),
        );
        let ctx = crate::ranged::Ctx { client, spec, file: &sink.file, part: sink.path, who };
        let rest = crate::ranged::Rest {
            start,
            hasher: state.hasher.clone(),
            tap: sink.tap.as_deref_mut(),
        };
        match crate::ranged::fetch(&ctx, rest) {
            Ok(crate::ranged::Ranged::Done(got)) => {
                if &got != spec.digest {
                    return Err(Ended::Failed((
                        Error::new(
                            ErrorKind::Integrity,
                            format!("blob {}: content hashes to {got}", spec.digest),
                        ),
                        0,
                        None,
                    )));
                }
                let size = spec.size.unwrap_or(0);
                let executable = is_executable(&state.head[..(size as usize).min(HEAD)]);
                return Ok(Outcome { size, executable, resumed_from: offset, from_cache: false });
            }
            Ok(crate::ranged::Ranged::Unsupported) => {
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
                fetched = fetch(client, spec, sink, state, who);
            }
            Err(e) => return Err(Ended::Kept(e)),
        }
    }
    let algorithm = spec.digest.algorithm();
    fetched
        .and_then(|()| verify(spec, std::mem::replace(state, State::new(algorithm))))
        .map(|o| Outcome { resumed_from: offset, ..o })
        .map_err(Ended::Failed)
}

/// Stream `spec` into `out` (stdout), verifying as it goes. The bytes are already written when a
/// mismatch shows at the end, so the caller must report the integrity error after the stream.
pub fn to_writer(
    client: &Client,
    spec: BlobSpec<'_>,
    out: &mut dyn Write,
    who: Report<'_>,
) -> Result<Outcome, Error> {
    let mut state = State::new(spec.digest.algorithm());
    let mut sink = StreamSink { out };
    let outcome = fetch(client, spec, &mut sink, &mut state, who)
        .and_then(|()| verify(spec, state))
        .map_err(|(e, _, _)| e);
    sink.out.flush().map_err(|e| Error::io("write", Path::new("<stdout>"), e))?;
    outcome
}

/// A failed transfer, with the bytes written so far and the ETag, for the resume record.
type Failure = (Error, u64, Option<String>);

/// Hand the first `offset` bytes of a resumed `.part` to `tap`, so its stream starts at zero.
fn feed_prefix(file: &File, path: &Path, offset: u64, tap: &mut Tap) -> Result<(), Error> {
    let mut buf = vec![0u8; BUF];
    let mut at = 0;
    while at < offset {
        let n = ((offset - at) as usize).min(BUF);
        file.read_exact_at(&mut buf[..n], at).map_err(|e| Error::io("read", path, e))?;
        tap.send(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

/// Feed the first `offset` bytes already in `file` to the hasher.
fn rehash(file: &File, path: &Path, offset: u64, state: &mut State) -> Result<(), Error> {
    let mut r = file.try_clone().map_err(|e| Error::io("open", path, e))?;
    r.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", path, e))?;
    let mut r = r.take(offset);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = r.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        state.absorb(&buf[..n]);
    }
    if state.written != offset {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} shrank while reading it", path.display()),
        ));
    }
    Ok(())
}

/// All attempts: each resumes at `state.written`.
fn fetch(
    client: &Client,
    spec: BlobSpec<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    who: Report<'_>,
) -> Result<(), Failure> {
    let what = format!("{} ({})", who.name, spec.digest.short());
    client
        .retrying(Some(who.index), &what, |_| attempt(client, spec, sink, state, who))
        .map_err(|e| (e, state.written, state.etag.clone()))
}

fn attempt(
    client: &Client,
    spec: BlobSpec<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    who: Report<'_>,
) -> Result<(), Error> {
    if spec.size.is_some_and(|s| state.written >= s) {
        return Ok(()); // everything is on disk already; the digest check decides
    }
    let what = format!("blob {}", spec.digest);
    let from = state.written;
    let reply = client.blob(spec.repository, spec.digest, from, state.etag.as_deref())?;
    let status = reply.response.status().as_u16();
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
            return skip_then_copy(reply, spec, sink, state, who, client);
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
    let mut reader = reply.response.into_body().into_with_config().limit(u64::MAX).reader();
    copy(&mut reader, spec, sink, state, who, client)
}

/// A stream cannot rewind: read past the bytes already sent, then copy the rest.
fn skip_then_copy(
    reply: crate::registry::Reply,
    spec: BlobSpec<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    who: Report<'_>,
    client: &Client,
) -> Result<(), Error> {
    let skip = state.written;
    let mut reader = reply.response.into_body().into_with_config().limit(u64::MAX).reader();
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
    copy(&mut reader, spec, sink, state, who, client)
}

/// Copy, hashing every byte, refusing to read past the expected size, checkpointing. Large
/// transfers run as a three-stage pipeline over a few recycled buffers: a thread receives, this
/// thread writes, a third hashes what was written. With receiving and writing on one thread,
/// that thread was the slow stage and a core sat idle while the others waited for it.
fn copy(
    reader: &mut (dyn Read + Send),
    spec: BlobSpec<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    who: Report<'_>,
    client: &Client,
) -> Result<(), Error> {
    let cancel = client.cancel();
    let remaining = spec.size.map(|s| s.saturating_sub(state.written));
    if remaining.is_some_and(|r| r < PIPELINE_MIN) {
        return pump(reader, spec, sink, state, who, cancel);
    }
    let chunk = chunk_size(client.concurrency());
    let algorithm = spec.digest.algorithm();
    let hasher = std::mem::replace(&mut state.hasher, algorithm.hasher());
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
        let hashing = s.spawn(move || {
            let mut hasher = hasher;
            for (buf, n) in hash_rx {
                hasher.update(&buf[..n]);
                let _ = free_tx.send(buf);
            }
            hasher
        });
        let watch = Watch { cancel, progress: who.progress };
        // Returns the error that ended the body, if any; bytes read before it are sent first.
        let receiving = s.spawn(move || {
            let mut at = start;
            loop {
                let Ok(mut buf) = free_rx.recv() else { return None };
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let (n, err) = fill(reader, &mut buf, spec, at, watch);
                at += n as u64;
                if n > 0 && full_tx.send((buf, n)).is_err() {
                    return None;
                }
                if n == 0 || err.is_some() {
                    return err;
                }
            }
        });
        let written = (|| {
            for (buf, n) in &full_rx {
                sink.write(&buf[..n])?;
                state.note(&buf[..n]);
                if state.written / CHECKPOINT_EVERY != (state.written - n as u64) / CHECKPOINT_EVERY
                {
                    sink.checkpoint(state.written, state.etag.as_deref());
                }
                let _ = hash_tx.send((buf, n));
                if sink.wants_ranges(state.written) {
                    break;
                }
            }
            Ok(())
        })();
        // Stop the receiver if this side quit early: it sees the flag or a closed channel.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(full_rx);
        drop(hash_tx);
        let received = receiving.join().expect("receiving thread");
        state.hasher = hashing.join().expect("hashing thread");
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
    spec: BlobSpec<'_>,
    sink: &mut dyn Sink,
    state: &mut State,
    who: Report<'_>,
    cancel: &Cancel,
) -> Result<(), Error> {
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

/// Check size and digest once every byte is in.
fn verify(spec: BlobSpec<'_>, state: State) -> Result<Outcome, Failure> {
    let fail = |e: Error| (e, 0, None);
    let what = format!("blob {}", spec.digest);
    if let Some(expected) = spec.size
        && state.written != expected
    {
        return Err(fail(Error::new(
            ErrorKind::Integrity,
            format!("{what}: got {} bytes, the descriptor says {expected}", state.written),
        )));
    }
    let (written, head) = (state.written, state.head);
    let got = state.hasher.finish();
    if &got != spec.digest {
        return Err(fail(Error::new(
            ErrorKind::Integrity,
            format!("{what}: content hashes to {got}"),
        )));
    }
    Ok(Outcome {
        size: written,
        executable: is_executable(&head[..(written as usize).min(HEAD)]),
        resumed_from: 0,
        from_cache: false,
    })
}

/// Hash an open file from its start with `algorithm`, returning its digest and size; `path` names
/// it in errors.
pub fn hash_file(f: &File, path: &Path, algorithm: Algorithm) -> Result<(Digest, u64), Error> {
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = f.read_at(&mut buf, total).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finish(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_by_their_magic() {
        let cases: [(&[u8], bool); 11] = [
            (b"\x7fELF\x02\x01\x01\0", true),
            (&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1], true), // Mach-O 64, little-endian (arm64, x86_64)
            (&[0xce, 0xfa, 0xed, 0xfe, 7, 0, 0, 0], true), // Mach-O 32
            (&[0xfe, 0xed, 0xfa, 0xcf, 0, 0, 0, 0x12], true), // big-endian
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2], true), // universal, two architectures
            (&[0xca, 0xfe, 0xba, 0xbf, 0, 0, 0, 2], true), // universal, 64-bit offsets
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52], false), // a Java 8 class file
            (&[0xca, 0xfe, 0xba, 0xbe], false),
            (b"\x7fEL", false),
            (b"#!/bin/sh\n", false),
            (b"", false),
        ];
        for (head, want) in cases {
            assert_eq!(is_executable(head), want, "{head:02x?}");
        }
    }

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
