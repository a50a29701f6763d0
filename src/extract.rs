//! Unpacking: tar, tar+gzip, tar+zstd and single `.gz` / `.zst` files, and image root filesystems
//! with OCI whiteouts. Archives are hostile input: nothing is created, overwritten or followed
//! outside the target; everything lands in a staging directory beside the target and moves into
//! place only when the whole archive succeeded.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar,
    TarGzip,
    TarZstd,
    /// One gzip-compressed file.
    Gzip,
    /// One zstd-compressed file.
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Format {
    /// Guess from the media type, then the name's suffix.
    pub fn guess(media_type: &str, name: &str) -> Option<Format> {
        let mt = media_type.to_ascii_lowercase();
        let by_type = if mt.ends_with(".tar+gzip")
            || mt.ends_with("tar.gzip")
            || mt == "application/x-gtar"
        {
            Some(Format::TarGzip)
        } else if mt.ends_with(".tar+zstd") {
            Some(Format::TarZstd)
        } else if mt.ends_with(".tar") || mt == "application/x-tar" {
            Some(Format::Tar)
        } else {
            None
        };
        by_type.or_else(|| {
            let n = name.to_ascii_lowercase();
            if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
                Some(Format::TarGzip)
            } else if n.ends_with(".tar.zst") || n.ends_with(".tzst") {
                Some(Format::TarZstd)
            } else if n.ends_with(".tar") {
                Some(Format::Tar)
            } else if n.ends_with(".gz") {
                Some(Format::Gzip)
            } else if n.ends_with(".zst") {
                Some(Format::Zstd)
            } else {
                None
            }
        })
    }

    /// Whether the first bytes (at least 262 when available) agree with the format.
    pub fn confirm(self, head: &[u8]) -> bool {
        match self {
            Format::TarGzip | Format::Gzip => head.starts_with(GZIP_MAGIC),
            Format::TarZstd | Format::Zstd => head.starts_with(ZSTD_MAGIC),
            // An empty tar is all zeros; a real one has "ustar" at 257 (POSIX and GNU).
            Format::Tar => {
                head.get(257..262) == Some(b"ustar")
                    || (head.len() >= 512 && head[..512].iter().all(|b| *b == 0))
            }
        }
    }

    pub fn is_tar(self) -> bool {
        matches!(self, Format::Tar | Format::TarGzip | Format::TarZstd)
    }

    /// The file name a single compressed file decompresses to.
    pub fn decompressed_name(self, name: &str) -> String {
        let lower = name.to_ascii_lowercase();
        for suffix in [".gz", ".zst"] {
            if lower.ends_with(suffix) && name.len() > suffix.len() {
                return name[..name.len() - suffix.len()].to_owned();
            }
        }
        format!("{name}.out")
    }

    fn reader<'a>(self, inner: impl Read + 'a) -> Result<Box<dyn Read + 'a>, Error> {
        let inner = BufReader::with_capacity(256 * 1024, inner);
        Ok(match self {
            Format::Tar => Box::new(inner),
            Format::TarGzip | Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(inner)),
            Format::TarZstd | Format::Zstd => {
                Box::new(zstd::stream::read::Decoder::with_buffer(inner).map_err(|e| {
                    Error::new(ErrorKind::Other, "start zstd decoder").with_source(e)
                })?)
            }
        })
    }
}

/// The first bytes of `path`, for [`Format::confirm`].
pub fn head(path: &Path) -> Result<Vec<u8>, Error> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut buf = Vec::with_capacity(512);
    file.take(512).read_to_end(&mut buf).map_err(|e| Error::io("read", path, e))?;
    Ok(buf)
}

/// How entries are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A release archive: absolute symlink targets point outside, so they are refused.
    Archive,
    /// An image layer: absolute symlink targets mean the image's own root; whiteouts apply.
    Rootfs,
}

/// A staging directory next to the target; removed unless committed.
struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    fn beside(target: &Path) -> Result<Staging, Error> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("create directory", &parent, e))?;
        for n in 0..1000u32 {
            let path = parent.join(format!(".oci-dl-staging-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Staging { path, committed: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("create staging directory", &path, e)),
            }
        }
        Err(Error::new(
            ErrorKind::Other,
            format!("no free staging directory in {}", parent.display()),
        ))
    }

    /// Move the staged tree into `target`, merging into an existing directory.
    fn commit(self, target: &Path) -> Result<(), Error> {
        let from = self.path.clone();
        self.commit_from(&from, target)
    }

    /// Move `from` (the staging directory or something in it) to `target`.
    fn commit_from(mut self, from: &Path, target: &Path) -> Result<(), Error> {
        merge(from, target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            let _ = std::fs::remove_dir_all(&self.path); // what is left after a partial commit
        }
    }
}

/// Move `from` to `to`: directories merge, anything else replaces what is there.
fn merge(from: &Path, to: &Path) -> Result<(), Error> {
    let src = std::fs::symlink_metadata(from).map_err(|e| Error::io("inspect", from, e))?;
    match std::fs::symlink_metadata(to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::rename(from, to).map_err(|e| Error::io("move into place", to, e));
        }
        Err(e) => return Err(Error::io("inspect", to, e)),
        Ok(dst) if dst.is_dir() && src.is_dir() => {
            for entry in
                std::fs::read_dir(from).map_err(|e| Error::io("read directory", from, e))?
            {
                let entry = entry.map_err(|e| Error::io("read directory", from, e))?;
                merge(&entry.path(), &to.join(entry.file_name()))?;
            }
            let _ = std::fs::set_permissions(to, src.permissions());
            return std::fs::remove_dir(from).map_err(|e| Error::io("remove", from, e));
        }
        Ok(dst) if dst.is_dir() => {
            std::fs::remove_dir_all(to).map_err(|e| Error::io("replace", to, e))?
        }
        Ok(_) => std::fs::remove_file(to).map_err(|e| Error::io("replace", to, e))?,
    }
    std::fs::rename(from, to).map_err(|e| Error::io("move into place", to, e))
}

/// Bytes unpacked into a staging directory, waiting for [`Staged::commit`] (after the blob's
/// digest checked out). Dropping it removes them.
pub struct Staged {
    staging: Staging,
    /// For a single decompressed file: the file inside the staging directory.
    file: Option<PathBuf>,
}

impl Staged {
    /// Move what was unpacked into `target` (merging into an existing directory).
    pub fn commit(self, target: &Path) -> Result<(), Error> {
        match self.file.clone() {
            Some(f) => self.staging.commit_from(&f, target),
            None => self.staging.commit(target),
        }
    }
}

/// Why [`stage`] did not stage anything.
#[derive(Debug)]
pub enum StageError {
    /// The bytes do not start with the format's magic: keep the blob as a file.
    NotArchive,
    Failed(Error),
}

impl From<Error> for StageError {
    fn from(e: Error) -> Self {
        StageError::Failed(e)
    }
}

/// Unpack the archive read from `input` into a staging directory beside `target`: a tar format
/// into a directory, a single `.gz` / `.zst` into a file. With `content_digest`, the
/// decompressed tar stream must hash to it (oras's `io.deis.oras.content.digest`). `input` is
/// read to its end whatever happens, so a producer feeding it never blocks.
pub fn stage(
    input: &mut dyn Read,
    format: Format,
    target: &Path,
    content_digest: Option<&Digest>,
    name: &str,
    obs: &dyn Observer,
) -> Result<Staged, StageError> {
    let result = stage_inner(&mut *input, format, target, content_digest, name, obs);
    let _ = std::io::copy(input, &mut std::io::sink());
    result
}

fn stage_inner(
    input: &mut dyn Read,
    format: Format,
    target: &Path,
    content_digest: Option<&Digest>,
    name: &str,
    obs: &dyn Observer,
) -> Result<Staged, StageError> {
    let mut head = Vec::with_capacity(512);
    input.take(512).read_to_end(&mut head).map_err(|e| decode_error(name, e))?;
    if !format.confirm(&head) {
        return Err(StageError::NotArchive);
    }
    let staging = Staging::beside(target)?;
    let mut reader = format.reader(std::io::Cursor::new(head).chain(input))?;
    if !format.is_tar() {
        let tmp = staging.path.join("file");
        let mut out = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        std::io::copy(&mut reader, &mut out).map_err(|e| decode_error(name, e))?;
        return Ok(Staged { staging, file: Some(tmp) });
    }
    let mut hashing =
        HashingReader { inner: reader, hasher: content_digest.map(|d| d.algorithm().hasher()) };
    let mut dirs = Vec::new();
    apply_tar(&mut hashing, &staging.path, Kind::Archive, name, &mut dirs, obs)?;
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| decode_error(name, e))?;
    finish_dirs(dirs);
    if let (Some(want), Some(h)) = (content_digest, hashing.hasher.take()) {
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

/// Apply image layers in order into `target`, honouring whiteouts; the result is the image's
/// flattened root filesystem.
pub fn rootfs(
    layers: &[(PathBuf, Format)],
    target: &Path,
    obs: &dyn Observer,
) -> Result<u64, Error> {
    let mut stage = RootfsStage::beside(target)?;
    for (path, format) in layers {
        let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        stage.apply(&mut file, *format, &path.display().to_string(), obs)?;
    }
    stage.commit(target)
}

/// A root filesystem being built in staging, one layer at a time, in order.
pub struct RootfsStage {
    staging: Staging,
    dirs: Vec<DirMeta>,
    count: u64,
}

impl RootfsStage {
    pub fn beside(target: &Path) -> Result<RootfsStage, Error> {
        Ok(RootfsStage { staging: Staging::beside(target)?, dirs: Vec::new(), count: 0 })
    }

    /// Apply the next layer, read from `input` (read to its end whatever happens).
    pub fn apply(
        &mut self,
        input: &mut dyn Read,
        format: Format,
        name: &str,
        obs: &dyn Observer,
    ) -> Result<(), Error> {
        let result = (|| {
            let mut reader = format.reader(&mut *input)?;
            self.count += apply_tar(
                &mut reader,
                &self.staging.path,
                Kind::Rootfs,
                name,
                &mut self.dirs,
                obs,
            )?;
            std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| decode_error(name, e))?;
            Ok(())
        })();
        let _ = std::io::copy(input, &mut std::io::sink());
        result
    }

    /// Move the finished root filesystem into `target`.
    pub fn commit(self, target: &Path) -> Result<u64, Error> {
        finish_dirs(self.dirs);
        self.staging.commit(target)?;
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

fn refuse(name: &str, entry: &Path, why: &str) -> Error {
    Error::new(
        ErrorKind::Other,
        format!("{name}: refusing entry {:?}: {why}", entry.display().to_string()),
    )
}

/// A directory whose mode and mtime are set after all its entries were written.
type DirMeta = (PathBuf, u32, Option<SystemTime>);

fn finish_dirs(mut dirs: Vec<DirMeta>) {
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0.components().count()));
    for (path, mode, mtime) in dirs {
        if let (Some(t), Ok(f)) = (mtime, File::open(&path)) {
            let _ = f.set_modified(t);
        }
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
    }
}

/// A link entry's target, as written in the archive.
fn link_target<R: Read>(entry: &tar::Entry<'_, R>, name: &str) -> Result<PathBuf, Error> {
    Ok(entry
        .link_name()
        .map_err(|e| decode_error(name, e))?
        .map(|c| c.into_owned())
        .unwrap_or_default())
}

/// A tar member path made relative and checked: no root, no `..`.
fn sanitize(name: &str, raw: &Path) -> Result<Option<PathBuf>, Error> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse(name, raw, "path contains '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(name, raw, "absolute path"));
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Create the parents of `root/rel`, refusing to pass through a symlink or a file.
fn parents(root: &Path, rel: &Path, name: &str, entry: &Path) -> Result<PathBuf, Error> {
    let mut cur = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for part in parent.components() {
            cur.push(part);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse(
                        name,
                        entry,
                        &format!("it would write through the symlink {:?}", strip(root, &cur)),
                    ));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(refuse(
                        name,
                        entry,
                        &format!("{:?} is not a directory", strip(root, &cur)),
                    ));
                }
                Err(_) => {
                    std::fs::create_dir(&cur).map_err(|e| Error::io("create directory", &cur, e))?
                }
            }
        }
    }
    Ok(root.join(rel))
}

fn strip(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Remove whatever is at `path` (never following a symlink), so a new entry can take its place.
fn clear(path: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| Error::io("replace", path, e))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| Error::io("replace", path, e)),
        Err(_) => Ok(()),
    }
}

/// Whether a symlink at `rel` pointing to `target` stays inside the root.
fn link_stays_inside(rel: &Path, target: &Path, kind: Kind) -> bool {
    if target.is_absolute() {
        return kind == Kind::Rootfs; // inside an image, "/" is the image's root
    }
    let mut depth: i64 = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn apply_tar(
    reader: &mut dyn Read,
    root: &Path,
    kind: Kind,
    name: &str,
    dirs: &mut Vec<DirMeta>,
    obs: &dyn Observer,
) -> Result<u64, Error> {
    let mut archive = tar::Archive::new(reader);
    let mut count = 0;
    let mut this_layer: HashSet<PathBuf> = HashSet::new();
    let entries = archive.entries().map_err(|e| decode_error(name, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| decode_error(name, e))?;
        let raw = entry.path().map_err(|e| decode_error(name, e))?.into_owned();
        let Some(rel) = sanitize(name, &raw)? else { continue };
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o1777; // no setuid/setgid
        let mtime = header.mtime().ok().map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let etype = header.entry_type();
        let file_name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");

        if kind == Kind::Rootfs && file_name.starts_with(".wh.") {
            let dir = parents(root, &rel, name, &raw)?;
            let dir = dir.parent().unwrap_or(root).to_path_buf();
            if file_name == ".wh..wh..opq" {
                // Opaque: hide everything lower layers put in this directory.
                if let Ok(rd) = std::fs::read_dir(&dir) {
                    for child in rd.flatten() {
                        let rel_child = child
                            .path()
                            .strip_prefix(root)
                            .map(Path::to_path_buf)
                            .unwrap_or_default();
                        if !this_layer.contains(&rel_child) {
                            clear(&child.path())?;
                        }
                    }
                }
            } else {
                clear(&dir.join(&file_name[4..]))?;
            }
            continue;
        }

        let dest = parents(root, &rel, name, &raw)?;
        this_layer.insert(rel.clone());
        match etype {
            tar::EntryType::Directory => {
                match std::fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        clear(&dest)?;
                        std::fs::create_dir(&dest)
                            .map_err(|e| Error::io("create directory", &dest, e))?;
                    }
                    Err(_) => std::fs::create_dir(&dest)
                        .map_err(|e| Error::io("create directory", &dest, e))?,
                }
                // Writable while we fill it; the real mode comes at the end.
                let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755));
                dirs.push((dest, mode, mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                clear(&dest)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&dest)
                    .map_err(|e| Error::io("create", &dest, e))?;
                std::io::copy(&mut entry, &mut f).map_err(|e| decode_error(name, e))?;
                if let Some(t) = mtime {
                    let _ = f.set_modified(t);
                }
                f.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io("chmod", &dest, e))?;
            }
            tar::EntryType::Symlink => {
                let target = link_target(&entry, name)?;
                if !link_stays_inside(&rel, &target, kind) {
                    return Err(refuse(
                        name,
                        &raw,
                        &format!(
                            "symlink to {:?} points outside the target",
                            target.display().to_string()
                        ),
                    ));
                }
                clear(&dest)?;
                std::os::unix::fs::symlink(&target, &dest)
                    .map_err(|e| Error::io("symlink", &dest, e))?;
            }
            tar::EntryType::Link => {
                let target = link_target(&entry, name)?;
                let target_rel = sanitize(name, &target).map_err(|_| {
                    refuse(
                        name,
                        &raw,
                        &format!(
                            "hard link to {:?} points outside the target",
                            target.display().to_string()
                        ),
                    )
                })?;
                let Some(target_rel) = target_rel else {
                    return Err(refuse(name, &raw, "hard link without a target"));
                };
                let src = parents(root, &target_rel, name, &raw)?;
                match std::fs::symlink_metadata(&src) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        return Err(refuse(
                            name,
                            &raw,
                            &format!(
                                "hard link to {:?}, which is not a file extracted before it",
                                target.display().to_string()
                            ),
                        ));
                    }
                }
                clear(&dest)?;
                std::fs::hard_link(&src, &dest).map_err(|e| Error::io("hard link", &dest, e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                obs.log(
                    Level::Warn,
                    format!("{name}: skipped device or FIFO {:?}", raw.display().to_string()),
                );
                continue;
            }
            _ => continue, // pax/GNU metadata entries are handled by the tar crate
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_guessing_table() {
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar+gzip", "x", Some(Format::TarGzip)),
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", "x", Some(Format::TarGzip)),
            ("application/vnd.oci.image.layer.v1.tar+zstd", "x", Some(Format::TarZstd)),
            ("application/vnd.oci.image.layer.v1.tar", "x", Some(Format::Tar)),
            ("application/octet-stream", "a.tar.gz", Some(Format::TarGzip)),
            ("application/octet-stream", "a.TGZ", Some(Format::TarGzip)),
            ("application/octet-stream", "a.tar.zst", Some(Format::TarZstd)),
            ("application/octet-stream", "a.tzst", Some(Format::TarZstd)),
            ("application/octet-stream", "a.tar", Some(Format::Tar)),
            ("application/octet-stream", "a.gz", Some(Format::Gzip)),
            ("application/octet-stream", "a.zst", Some(Format::Zstd)),
            ("application/octet-stream", "a.zip", None),
        ];
        for (mt, name, want) in cases {
            assert_eq!(Format::guess(mt, name), want, "{mt} {name}");
        }
        assert_eq!(Format::Gzip.decompressed_name("tool.gz"), "tool");
        assert_eq!(Format::Zstd.decompressed_name("data.json.zst"), "data.json");
    }

    #[test]
    fn magic_bytes_confirm() {
        assert!(Format::TarGzip.confirm(&[0x1f, 0x8b, 8]));
        assert!(!Format::TarGzip.confirm(b"PK\x03\x04"));
        assert!(Format::Zstd.confirm(&[0x28, 0xb5, 0x2f, 0xfd, 0]));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        tar[0] = b'a';
        assert!(Format::Tar.confirm(&tar));
        assert!(!Format::Tar.confirm(b"just text"));
    }

    #[test]
    fn symlink_containment() {
        let p = Path::new;
        assert!(link_stays_inside(p("a/b/link"), p("../c"), Kind::Archive));
        assert!(link_stays_inside(p("a/link"), p("../x"), Kind::Archive));
        assert!(!link_stays_inside(p("link"), p("../x"), Kind::Archive));
        assert!(!link_stays_inside(p("a/link"), p("../../x"), Kind::Archive));
        assert!(!link_stays_inside(p("a/link"), p("b/../../../x"), Kind::Archive));
        assert!(!link_stays_inside(p("link"), p("/etc/passwd"), Kind::Archive));
        assert!(link_stays_inside(p("bin/sh"), p("/bin/busybox"), Kind::Rootfs));
    }
}
