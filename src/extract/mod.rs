//! Unpacking: tar, tar+gzip, tar+zstd and single `.gz` / `.zst` files, and image root filesystems
//! with OCI whiteouts. Archives are hostile input: nothing is created, overwritten or followed
//! outside the target, and what they unpack is bounded ([`Limit`]); everything lands in a private
//! staging directory inside the target ([`staging`]) and moves into place only when the whole
//! archive succeeded, under the overwrite policy.

mod staging;
mod tar;
mod zip;

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind};
use crate::events::Observer;
use staging::Staging;
pub use staging::{Policy, RESERVED_PREFIX};
use tar::{DirMeta, Kind, Unpacker, finish_dirs};

/// A compression around a stream, found by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar, maybe compressed: unpacked while it downloads.
    Tar(Compression),
    /// One compressed file, decompressed to its name without the suffix.
    Single(Compression),
    /// A zip: its directory is at the end, so it is unpacked from the verified file.
    Zip,
}

/// The media type `oras push` gives every file (oras-go `content/file/file.go`).
pub const ORAS_FILE_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const ZIP_MAGICS: [&[u8]; 3] = [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"];

/// Names by suffix, longest first where one ends another.
const SUFFIXES: [(&str, Format); 14] = [
    (".tar.gz", Format::Tar(Compression::Gzip)),
    (".tgz", Format::Tar(Compression::Gzip)),
    (".tar.zst", Format::Tar(Compression::Zstd)),
    (".tzst", Format::Tar(Compression::Zstd)),
    (".tar.xz", Format::Tar(Compression::Xz)),
    (".txz", Format::Tar(Compression::Xz)),
    (".tar.bz2", Format::Tar(Compression::Bzip2)),
    (".tbz2", Format::Tar(Compression::Bzip2)),
    (".tbz", Format::Tar(Compression::Bzip2)),
    (".tar", Format::Tar(Compression::None)),
    (".zip", Format::Zip),
    (".gz", Format::Single(Compression::Gzip)),
    (".zst", Format::Single(Compression::Zstd)),
    (".xz", Format::Single(Compression::Xz)),
];
/// Single-file suffixes (and `.bz2`, which does not fit the table above's tar rows).
const SINGLE_SUFFIXES: [&str; 4] = [".gz", ".zst", ".xz", ".bz2"];

impl Format {
    /// Guess from the media type, then the name's suffix.
    pub fn guess(media_type: &str, name: &str) -> Option<Format> {
        let mt = media_type.to_ascii_lowercase();
        let by_type = if mt.ends_with(".tar+gzip")
            || mt.ends_with("tar.gzip")
            || mt == "application/x-gtar"
        {
            Some(Format::Tar(Compression::Gzip))
        } else if mt.ends_with(".tar+zstd") {
            Some(Format::Tar(Compression::Zstd))
        } else if mt.ends_with("tar+xz") {
            Some(Format::Tar(Compression::Xz))
        } else if mt.ends_with("tar+bzip2") {
            Some(Format::Tar(Compression::Bzip2))
        } else if mt.ends_with(".tar") || mt == "application/x-tar" {
            Some(Format::Tar(Compression::None))
        } else if mt == "application/zip" || mt == "application/x-zip-compressed" {
            Some(Format::Zip)
        } else if mt == "application/gzip" || mt == "application/x-gzip" {
            Some(Format::Single(Compression::Gzip))
        } else if mt == "application/zstd" {
            Some(Format::Single(Compression::Zstd))
        } else if mt == "application/x-xz" {
            Some(Format::Single(Compression::Xz))
        } else if mt == "application/x-bzip2" {
            Some(Format::Single(Compression::Bzip2))
        } else {
            None
        };
        by_type.or_else(|| {
            let n = name.to_ascii_lowercase();
            SUFFIXES
                .iter()
                .find(|(s, _)| n.ends_with(s))
                .map(|(_, f)| *f)
                .or_else(|| n.ends_with(".bz2").then_some(Format::Single(Compression::Bzip2)))
        })
    }

    pub fn is_tar(self) -> bool {
        matches!(self, Format::Tar(_))
    }

    /// The suffix an archive of this format is kept under.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Tar(Compression::None) => "tar",
            Format::Tar(Compression::Zstd) => "tar.zst",
            Format::Tar(Compression::Xz) => "tar.xz",
            Format::Tar(Compression::Bzip2) => "tar.bz2",
            Format::Zip => "zip",
            _ => "tar.gz",
        }
    }
}

/// The name a single compressed file decompresses to: its own without the suffix.
pub fn decompressed_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    SINGLE_SUFFIXES
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(name.to_owned(), |s| name[..name.len() - s.len()].to_owned())
}

/// What a layer's media type and name say about its bytes. Only a hint: [`sniff`] decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hint {
    /// The media type or name says tar: an all-zero first block is an empty tar.
    pub tar: bool,
    /// The name ends in a compression suffix (`.gz`, `.zst`, `.xz`, `.bz2`): a compressed
    /// stream that is not a tar is one file, decompressed to the name without the suffix.
    pub single: bool,
}

impl Hint {
    /// The hint for a layer.
    pub fn of(media_type: &str, name: &str) -> Hint {
        // `oras push` gives every file the plain layer type: it says nothing about the bytes.
        let typed = if media_type == ORAS_FILE_TYPE { "" } else { media_type };
        let single = matches!(Format::guess("", name), Some(Format::Single(_)));
        Hint { tar: !single && Format::guess(typed, name).is_some_and(Format::is_tar), single }
    }
}

/// The most memory an xz stream may make the decoder take (`xz -9` needs 65 MiB).
const XZ_MEMORY: u64 = 256 << 20;

/// A format found by [`sniff`], and the decompressed stream from its first byte.
type Sniffed<'a> = (Format, Box<dyn Read + 'a>);

/// Decide what the bytes of `input` are by their magic: the compression by the stream's own
/// first bytes, a tar by "ustar" in the decompressed first block (the media type `oras push`
/// gives every file, `…layer.v1.tar`, says nothing). `None`: not an archive. The reader yields
/// the decompressed stream from its first byte.
fn sniff<'a>(input: impl Read + 'a, hint: Hint, name: &str) -> Result<Option<Sniffed<'a>>, Error> {
    let mut input = input;
    let mut head = Vec::with_capacity(512);
    (&mut input).take(512).read_to_end(&mut head).map_err(|e| decode_error(name, e))?;
    if ZIP_MAGICS.iter().any(|m| head.starts_with(m)) {
        return Ok(Some((Format::Zip, Box::new(std::io::Cursor::new(head).chain(input)))));
    }
    let compression = if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Compression::Bzip2
    } else {
        Compression::None
    };
    let raw = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(input));
    let mut decoded: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| Error::new(ErrorKind::Other, "start zstd decoder").with_source(e))?,
        ),
        // A hostile stream may ask for a dictionary of gigabytes: bounded as xz's own presets.
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| Error::new(ErrorKind::Other, "start xz decoder").with_source(e))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(raw, stream))
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(raw)),
    };
    let mut block = Vec::with_capacity(512);
    (&mut decoded).take(512).read_to_end(&mut block).map_err(|e| decode_error(name, e))?;
    // POSIX and GNU tars have "ustar" at 257; an empty tar is all zeros.
    let tar = block.get(257..262) == Some(b"ustar")
        || (hint.tar && block.len() >= 512 && block.iter().all(|b| *b == 0));
    let format = match (compression, tar) {
        (c, true) => Format::Tar(c),
        (Compression::None, false) => return Ok(None),
        (c, false) if hint.single => Format::Single(c),
        _ => return Ok(None),
    };
    Ok(Some((format, Box::new(std::io::Cursor::new(block).chain(decoded)))))
}

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
        Error::new(
            ErrorKind::Other,
            format!(
                "{name}: unpacks to more than {} bytes; refusing it (raise the limit with --max-unpacked-size)",
                self.bytes
            ),
        )
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

/// Bytes unpacked into a staging directory, waiting for [`Staged::commit`] (after the blob's
/// digest checked out). Dropping it removes them.
pub struct Staged {
    staging: Staging,
    /// For a single decompressed file: the file inside the staging tree.
    file: Option<PathBuf>,
}

impl Staged {
    /// Move what was unpacked to `root/rel` (`rel` empty: into `root` itself), merging into
    /// existing directories and treating existing files as `policy` says.
    pub fn commit(self, root: &Path, rel: &Path, policy: Policy<'_>) -> Result<(), Error> {
        let from = self.file.as_deref().unwrap_or(&self.staging.tree);
        staging::commit(from, root, rel, policy)
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
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        copy_bounded(&mut reader, &mut out, &tmp, name, u.limit, &mut 0)?;
        return Ok(Staged { staging, file: Some(tmp) });
    }
    let mut hashing =
        HashingReader { inner: reader, hasher: u.content_digest.map(|d| d.algorithm().hasher()) };
    let mut unpacker = Unpacker::new(&staging.tree, Kind::Archive, u.limit, obs);
    unpacker.prefix = u.prefix.map(Path::to_path_buf);
    unpacker.apply(&mut hashing, name).map_err(|e| over_limit(e, name, u.limit))?;
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| over_limit(decode_error(name, e), name, u.limit))?;
    finish_dirs(&mut unpacker.dirs);
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
    let zip = file.try_clone().map_err(|e| decode_error(u.name, e))?;
    unpacker.apply_zip(zip, u.name)?;
    finish_dirs(&mut unpacker.dirs);
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
    layers: &[PathBuf],
    root: &Path,
    limit: Limit,
    policy: Policy<'_>,
) -> Result<u64, Error> {
    let mut stage = RootfsStage::inside(root, limit, policy.obs)?;
    for path in layers {
        let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        stage.apply(&mut file, &path.display().to_string(), policy.obs)?;
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
}

impl RootfsStage {
    /// A staging directory inside `root`; `limit` counts all layers together.
    pub fn inside(root: &Path, limit: Limit, obs: &dyn Observer) -> Result<RootfsStage, Error> {
        Ok(RootfsStage {
            staging: Staging::inside(root, obs)?,
            limit,
            streamed: 0,
            written: 0,
            count: 0,
            dirs: Vec::new(),
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
            let hint = Hint { tar: true, single: false };
            let Some((_, reader)) = sniff(&mut *input, hint, name)? else {
                return Err(Error::new(ErrorKind::Other, format!("{name} is not a tar archive")));
            };
            let left = self.limit.bytes.saturating_sub(self.streamed);
            let mut reader = Counted { inner: reader, left };
            let mut unpacker = Unpacker::new(&self.staging.tree, Kind::Rootfs, self.limit, obs);
            unpacker.written = self.written;
            unpacker.dirs = std::mem::take(&mut self.dirs);
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
        finish_dirs(&mut self.dirs);
        staging::commit(&self.staging.tree, root, Path::new(""), policy)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_guessing_table() {
        use Compression::*;
        let oct = "application/octet-stream";
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar+gzip", "x", Some(Format::Tar(Gzip))),
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", "x", Some(Format::Tar(Gzip))),
            ("application/vnd.oci.image.layer.v1.tar+zstd", "x", Some(Format::Tar(Zstd))),
            ("application/vnd.oci.image.layer.v1.tar", "x", Some(Format::Tar(None))),
            ("application/zip", "x", Some(Format::Zip)),
            ("application/x-xz", "x", Some(Format::Single(Xz))),
            ("application/x-bzip2", "x", Some(Format::Single(Bzip2))),
            (oct, "a.tar.gz", Some(Format::Tar(Gzip))),
            (oct, "a.TGZ", Some(Format::Tar(Gzip))),
            (oct, "a.tar.zst", Some(Format::Tar(Zstd))),
            (oct, "a.tzst", Some(Format::Tar(Zstd))),
            (oct, "a.tar.xz", Some(Format::Tar(Xz))),
            (oct, "a.txz", Some(Format::Tar(Xz))),
            (oct, "a.tar.bz2", Some(Format::Tar(Bzip2))),
            (oct, "a.tbz2", Some(Format::Tar(Bzip2))),
            (oct, "a.tbz", Some(Format::Tar(Bzip2))),
            (oct, "a.tar", Some(Format::Tar(None))),
            (oct, "a.zip", Some(Format::Zip)),
            (oct, "a.gz", Some(Format::Single(Gzip))),
            (oct, "a.zst", Some(Format::Single(Zstd))),
            (oct, "a.xz", Some(Format::Single(Xz))),
            (oct, "a.bz2", Some(Format::Single(Bzip2))),
            (oct, "a.txt", Option::None),
        ];
        for (mt, name, want) in cases {
            assert_eq!(Format::guess(mt, name), want, "{mt} {name}");
        }
        assert_eq!(decompressed_name("notes.txt.XZ"), "notes.txt");
        assert_eq!(decompressed_name("a.bz2"), "a");
    }

    #[test]
    fn magic_bytes_decide() {
        let tar = {
            let mut b = ::tar::Builder::new(Vec::new());
            let mut h = ::tar::Header::new_gnu();
            h.set_size(2);
            h.set_cksum();
            b.append_data(&mut h, "a", &b"hi"[..]).unwrap();
            b.into_inner().unwrap()
        };
        let gz = |d: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, d).unwrap();
            e.finish().unwrap()
        };
        let zst = |d: &[u8]| zstd::encode_all(d, 1).unwrap();
        let xz = |d: &[u8]| {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            std::io::Write::write_all(&mut w, d).unwrap();
            w.finish().unwrap()
        };
        let bz = |d: &[u8]| {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            std::io::Write::write_all(&mut w, d).unwrap();
            w.finish().unwrap()
        };
        let none = Hint::default();
        let single = Hint { tar: false, single: true };
        let cases: Vec<(&str, Vec<u8>, Hint, Option<Format>)> = vec![
            ("tar, no hint", tar.clone(), none, Some(Format::Tar(Compression::None))),
            ("tar.gz, no hint", gz(&tar), none, Some(Format::Tar(Compression::Gzip))),
            ("tar.zst, no hint", zst(&tar), none, Some(Format::Tar(Compression::Zstd))),
            ("tar.xz, no hint", xz(&tar), none, Some(Format::Tar(Compression::Xz))),
            ("tar.bz2, no hint", bz(&tar), none, Some(Format::Tar(Compression::Bzip2))),
            ("tar.gz named .gz", gz(&tar), single, Some(Format::Tar(Compression::Gzip))),
            (
                "gzip of text named .gz",
                gz(b"text"),
                single,
                Some(Format::Single(Compression::Gzip)),
            ),
            (
                "zstd of text named .zst",
                zst(b"text"),
                single,
                Some(Format::Single(Compression::Zstd)),
            ),
            ("xz of text named .xz", xz(b"text"), single, Some(Format::Single(Compression::Xz))),
            (
                "bzip2 of text named .bz2",
                bz(b"text"),
                single,
                Some(Format::Single(Compression::Bzip2)),
            ),
            ("xz of text, no suffix", xz(b"text"), none, None),
            ("gzip of text, no suffix", gz(b"text"), none, None),
            ("text", b"just text".to_vec(), Hint { tar: true, single: true }, None),
            (
                "zeros named .tar",
                vec![0; 1024],
                Hint { tar: true, single: false },
                Some(Format::Tar(Compression::None)),
            ),
            ("zeros, no hint", vec![0; 1024], none, None),
            ("zip", b"PK\x03\x04rest".to_vec(), none, Some(Format::Zip)),
        ];
        for (what, bytes, hint, want) in cases {
            let got = sniff(&bytes[..], hint, "x").unwrap().map(|(f, mut r)| {
                let mut out = Vec::new();
                r.read_to_end(&mut out).unwrap();
                assert!(!out.is_empty(), "{what}: the stream starts at its first byte");
                f
            });
            assert_eq!(got, want, "{what}");
        }
    }
}
