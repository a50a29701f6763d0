//! Unpacking: tar (plain, gzip, zstd, xz, bzip2), zip and single compressed files, and image
//! root filesystems with OCI whiteouts, told apart by their bytes ([`detect`]). Archives are hostile input: nothing is created, overwritten or followed
//! outside the target, and what they unpack is bounded ([`Limit`]); everything lands in a private
//! staging directory inside the target ([`staging`]) and moves into place only when the whole
//! archive succeeded, under the overwrite policy.

mod commit;
mod detect;
mod overwrite;
mod staging;
mod tar;
mod zip;
mod zip_lzma;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind};
use crate::events::Observer;
use crate::retry::Cancel;
pub use commit::Policy;
pub use detect::{Format, Hint, decompressed_name};
use detect::{ZIP_MAGICS, sniff};
pub use overwrite::Overwrite;
use staging::Staging;
pub use staging::{Staged, StagedEntry};
use tar::{DirMeta, Kind, Unpacker, finish_dirs};

/// The most an archive may unpack to: file content and the decompressed stream are each
/// counted against it, so neither a compression bomb nor a sparse tar entry gets past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
}

impl Limit {
    /// Unpacked bytes allowed per compressed byte when no limit is given.
    pub const RATIO: u64 = 100;
    /// The default never goes below this (small archives of text compress well)…
    pub const FLOOR: u64 = 16 << 20;
    /// …nor above this.
    pub const CEILING: u64 = 64 << 30;

    /// The limit for archives totalling `compressed` bytes: `max` if given, else
    /// `RATIO` × `compressed`, kept between `FLOOR` and `CEILING`.
    pub fn for_blob(compressed: u64, max: Option<u64>) -> Limit {
        let bytes = max.unwrap_or_else(|| {
            compressed.saturating_mul(Self::RATIO).clamp(Self::FLOOR, Self::CEILING)
        });
        Limit { bytes }
    }

    fn exceeded(self, name: &str) -> Error {
        let what = format!("{name}: unpacks to more than {} bytes; refusing it (", self.bytes);
        Error::hinted(ErrorKind::Other, &what, crate::error::Hint::UnpackLimit, ")")
    }
}

/// The process's umask, which applies to every mode an archive asks for.
fn umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

/// Marks the error a [`Counted`] reader returns when the limit is passed.
#[derive(Debug)]
struct OverLimit;

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the unpacked-size limit")
    }
}

impl std::error::Error for OverLimit {}

/// A decompressed stream, counted against a limit.
struct Counted<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left =
            self.left.checked_sub(n as u64).ok_or_else(|| std::io::Error::other(OverLimit))?;
        Ok(n)
    }
}

/// Why [`stage`] did not stage anything.
#[derive(Debug)]
pub enum StageError {
    /// The bytes do not start with the format's magic: keep the blob as a file.
    NotArchive,
    /// A zip, which cannot be unpacked from a stream: use [`stage_file`] once it is verified.
    NeedsFile,
    Failed(Error),
}

impl From<Error> for StageError {
    fn from(e: Error) -> Self {
        StageError::Failed(e)
    }
}

/// What to unpack and where it is staged.
pub struct Unpack<'a> {
    pub hint: Hint,
    /// The extraction root: staging happens inside it.
    pub root: &'a Path,
    /// oras's `io.deis.oras.content.digest`: the decompressed tar stream must hash to it.
    pub content_digest: Option<&'a Digest>,
    /// The layer, for messages.
    pub name: &'a str,
    pub limit: Limit,
    /// Entries are taken relative to this prefix and must lie below it: oras-go
    /// `content/file/utils.go` (`resolveRelToBase`) does so with a pushed directory's title.
    pub prefix: Option<&'a Path>,
    /// The run's stop flag, checked between entries.
    pub cancel: Option<&'a Cancel>,
}

/// Unpack the archive read from `input` into a staging directory inside `u.root`: a tar format
/// into a directory, a single `.gz` / `.zst` into a file. `input` is read to its end whatever
/// happens, so a producer feeding it never blocks.
pub fn stage(
    input: &mut dyn Read,
    u: &Unpack<'_>,
    obs: &dyn Observer,
) -> Result<Staged, StageError> {
    let result = stage_inner(&mut *input, u, obs);
    let _ = std::io::copy(input, &mut std::io::sink());
    result
}

fn stage_inner(
    input: &mut dyn Read,
    u: &Unpack<'_>,
    obs: &dyn Observer,
) -> Result<Staged, StageError> {
    let name = u.name;
    let Some((format, reader)) = sniff(input, u.hint, name)? else {
        return Err(StageError::NotArchive);
    };
    if format == Format::Zip {
        return Err(StageError::NeedsFile);
    }
    let staging = Staging::inside(u.root, obs)?;
    let mut reader = Counted { inner: reader, left: u.limit.bytes };
    if !format.is_tar() {
        let tmp = staging.tree.join("file");
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        copy_bounded(&mut reader, &mut out, &tmp, name, u.limit, &mut 0)?;
        return Ok(Staged { staging, file: Some(tmp) });
    }
    let mut hashing =
        HashingReader { inner: reader, hasher: u.content_digest.map(|d| d.algorithm().hasher()) };
    let mut unpacker = Unpacker::new(&staging.tree, Kind::Archive, u.limit, obs);
    unpacker.prefix = u.prefix.map(Path::to_path_buf);
    unpacker.cancel = u.cancel.cloned();
    unpacker.apply(&mut hashing, name).map_err(|e| over_limit(e, name, u.limit))?;
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| over_limit(decode_error(name, e), name, u.limit))?;
    finish_dirs(&staging.tree, &mut unpacker.dirs);
    if let (Some(want), Some(h)) = (u.content_digest, hashing.hasher.take()) {
        let got = h.finish();
        if &got != want {
            return Err(StageError::Failed(Error::new(
                ErrorKind::Integrity,
                format!("{name}: unpacked content hashes to {got}, the annotation says {want}"),
            )));
        }
    }
    Ok(Staged { staging, file: None })
}

/// Unpack the verified file `file` into a staging directory inside `u.root`: a zip from its
/// central directory (members' declared sizes are not trusted: what is written counts), any
/// other format as a stream, as [`stage`].
pub fn stage_file(
    file: &mut File,
    u: &Unpack<'_>,
    obs: &dyn Observer,
) -> Result<Staged, StageError> {
    let mut magic = Vec::with_capacity(4);
    let rewind =
        |file: &mut File| file.seek(SeekFrom::Start(0)).map_err(|e| decode_error(u.name, e));
    (&mut *file).take(4).read_to_end(&mut magic).map_err(|e| decode_error(u.name, e))?;
    rewind(file)?;
    if !ZIP_MAGICS.iter().any(|m| magic.starts_with(m)) {
        return stage(file, u, obs);
    }
    let staging = Staging::inside(u.root, obs)?;
    let mut unpacker = Unpacker::new(&staging.tree, Kind::Archive, u.limit, obs);
    unpacker.prefix = u.prefix.map(Path::to_path_buf);
    unpacker.cancel = u.cancel.cloned();
    let zip = file.try_clone().map_err(|e| decode_error(u.name, e))?;
    unpacker.apply_zip(zip, u.name)?;
    finish_dirs(&staging.tree, &mut unpacker.dirs);
    Ok(Staged { staging, file: None })
}

/// Copy a file's content out of an archive stream, telling a bad stream from a failing disk,
/// counting what is written against `limit`.
fn copy_bounded(
    from: &mut dyn Read,
    to: &mut File,
    dest: &Path,
    name: &str,
    limit: Limit,
    written: &mut u64,
) -> Result<(), Error> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(over_limit(decode_error(name, e), name, limit)),
        };
        *written += n as u64;
        if *written > limit.bytes {
            return Err(limit.exceeded(name));
        }
        to.write_all(&buf[..n]).map_err(|e| Error::io("write", dest, e))?;
    }
}

/// A decode error caused by the [`Counted`] reader is the limit's, not a corrupt archive.
fn over_limit(e: Error, name: &str, limit: Limit) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<OverLimit>())
        {
            return limit.exceeded(name);
        }
        cause = c.source();
    }
    e
}

/// Apply image layers in order into `root`, honouring whiteouts; the result is the image's
/// flattened root filesystem.
pub fn rootfs(
    layers: &[(PathBuf, String)],
    root: &Path,
    limit: Limit,
    cancel: Option<&Cancel>,
    policy: Policy<'_>,
) -> Result<u64, Error> {
    let mut stage = RootfsStage::inside(root, limit, cancel, policy.obs)?;
    for (path, name) in layers {
        let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        stage.apply(&mut file, name, policy.obs)?;
    }
    stage.commit(root, policy)
}

/// A root filesystem being built in staging, one layer at a time, in order.
pub struct RootfsStage {
    staging: Staging,
    limit: Limit,
    /// Decompressed bytes of the layers so far.
    streamed: u64,
    written: u64,
    count: u64,
    dirs: Vec<DirMeta>,
    cancel: Option<Cancel>,
}

impl RootfsStage {
    /// A staging directory inside `root`; `limit` counts all layers together.
    pub fn inside(
        root: &Path,
        limit: Limit,
        cancel: Option<&Cancel>,
        obs: &dyn Observer,
    ) -> Result<RootfsStage, Error> {
        Ok(RootfsStage {
            staging: Staging::inside(root, obs)?,
            limit,
            streamed: 0,
            written: 0,
            count: 0,
            dirs: Vec::new(),
            cancel: cancel.cloned(),
        })
    }

    /// Apply the next layer, read from `input` (read to its end whatever happens): a tar,
    /// plain or compressed, whatever its media type says.
    pub fn apply(
        &mut self,
        input: &mut dyn Read,
        name: &str,
        obs: &dyn Observer,
    ) -> Result<(), Error> {
        let result = (|| {
            let hint = Hint::TAR;
            let Some((_, reader)) = sniff(&mut *input, hint, name)? else {
                return Err(Error::new(ErrorKind::Other, format!("{name} is not a tar archive")));
            };
            let left = self.limit.bytes.saturating_sub(self.streamed);
            let mut reader = Counted { inner: reader, left };
            let mut unpacker = Unpacker::new(&self.staging.tree, Kind::Rootfs, self.limit, obs);
            unpacker.written = self.written;
            unpacker.dirs = std::mem::take(&mut self.dirs);
            unpacker.cancel = self.cancel.clone();
            let r = unpacker.apply(&mut reader, name).and_then(|()| {
                std::io::copy(&mut reader, &mut std::io::sink())
                    .map(drop)
                    .map_err(|e| decode_error(name, e))
            });
            self.dirs = std::mem::take(&mut unpacker.dirs);
            self.written = unpacker.written;
            self.count += unpacker.count;
            self.streamed += left - reader.left;
            r.map_err(|e| over_limit(e, name, self.limit))
        })();
        let _ = std::io::copy(input, &mut std::io::sink());
        result
    }

    /// Move the finished root filesystem into `root`.
    pub fn commit(mut self, root: &Path, policy: Policy<'_>) -> Result<u64, Error> {
        finish_dirs(&self.staging.tree, &mut self.dirs);
        commit::commit(&self.staging.tree, root, Path::new(""), policy)?;
        Ok(self.count)
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn decode_error(name: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("{name}: corrupt archive")).with_source(e)
}
