//! The `.part` file: opened without following links and locked, re-hashed on resume, given its
//! final name only once verified, unlinked before it is unlocked when it is doomed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use xattr::FileExt as _;

use super::resume::{self, BUF};
use super::tee::Tap;
use super::verify::State;
use super::{Dest, Outcome};
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held::{self, Dir, Node};

/// `path` with `.part` appended to its file name; a name too long for five bytes more keeps its
/// first 200 bytes and a hash of the whole before `.part`.
pub fn part_path(path: &Path) -> PathBuf {
    match path.file_name() {
        Some(name) => path.with_file_name(part_name(name)),
        None => PathBuf::from(part_name(path.as_os_str())),
    }
}

/// The file system's limit on one name (`NAME_MAX` on Linux).
const NAME_MAX: usize = 255;

/// `name.part`, or for a name too long to take five bytes more, its first 200 bytes, a hash
/// of the whole name and `.part`: still one name per file, the same in every run (so a later
/// run resumes it), and one the file system can create.
pub(super) fn part_name(name: &OsStr) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let mut s = name.to_owned();
    if name.len() + ".part".len() > NAME_MAX {
        let bytes = name.as_bytes();
        let hash = crate::digest::Digest::of(crate::digest::Algorithm::Sha256, bytes);
        s = OsStr::from_bytes(&bytes[..200]).to_owned();
        s.push(format!("-{}", &hash.hex()[..16]));
    }
    s.push(".part");
    s
}

/// Open (or create) the `.part` `name` in `dir` for writing and hold an exclusive lock on it: a
/// second `oci-dl` pulling the same file into the same place waits instead of writing into the
/// same bytes. Only a file oci-dl may take over is reused (see [`Node::unfit`]); anything else
/// there — a symlink, a hard link, a FIFO, another user's file — is removed (the entry only,
/// never what it points to) and a new file is created with `O_EXCL`. `true` when the file
/// existed. After the wait the name may hold another file (the first process renamed its
/// `.part` into place), so the lock only counts if the name still holds the locked file.
pub(super) fn open_part(
    dir: &Dir,
    name: &OsStr,
    obs: &dyn Observer,
) -> Result<(File, bool), Error> {
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
pub(super) fn remove_part(dir: &Dir, name: &OsStr, file: &File) {
    if let (Ok(ours), Ok(Some(now))) = (Node::of_file(file), dir.entry(name))
        && ours.same(&now)
    {
        let _ = dir.remove_file(name);
    }
}

/// Give a verified `.part` its mode and its final name, under the directory held since the
/// check. Returns the file, still locked.
pub(super) fn finish(
    file: File,
    dest: Dest<'_>,
    part_name: &OsStr,
    outcome: &Outcome,
) -> Result<File, Error> {
    let part = dest.dir.show(part_name);
    let _ = file.remove_xattr(resume::XATTR);
    let node = Node::of_file(&file).map_err(|e| Error::io("inspect", &part, e))?;
    if outcome.executable {
        file.set_permissions(std::fs::Permissions::from_mode(held::executable(node.mode)))
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
    let (dir, name) = held::parent_of(path)?;
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

/// Hand the first `offset` bytes of a resumed `.part` to `tap`, so its stream starts at zero.
pub(super) fn feed_prefix(
    file: &File,
    path: &Path,
    offset: u64,
    tap: &mut Tap,
) -> Result<(), Error> {
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
pub(super) fn rehash(
    file: &File,
    path: &Path,
    offset: u64,
    state: &mut State,
) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::{NAME_MAX, part_name, part_path};
    use std::ffi::OsStr;
    use std::path::Path;

    #[test]
    fn part_names_fit_the_name_limit_and_stay_apart() {
        assert_eq!(part_name(OsStr::new("tool")), "tool.part");
        assert_eq!(part_path(Path::new("out/tool")), Path::new("out/tool.part"));
        let a = format!("{}a", "n".repeat(254));
        let b = format!("{}b", "n".repeat(254));
        let (pa, pb) = (part_name(OsStr::new(&a)), part_name(OsStr::new(&b)));
        assert!(pa.len() <= NAME_MAX && pb.len() <= NAME_MAX);
        assert_ne!(pa, pb, "two long names sharing a prefix keep their own .part");
        assert_eq!(pa, part_name(OsStr::new(&a)), "the same in every run, so a later one resumes");
        assert_eq!(part_name(OsStr::new(&"n".repeat(250))).len(), 255);
    }
}
