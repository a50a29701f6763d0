//! Applying a tar stream to a staging tree: entries are confined, links checked, whiteouts
//! honoured, sizes bounded. Nothing here ever follows a link.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Limit, copy_bounded, decode_error, umask};
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held::RESERVED_PREFIX;

/// How entries are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A release archive: absolute symlink targets point outside, so they are refused.
    Archive,
    /// An image layer: absolute symlink targets mean the image's own root; whiteouts apply.
    Rootfs,
}

/// One entry's place: its path in the staging tree (`rel`, reached as `dest`), its name as the
/// archive wrote it (for messages), and the mode and mtime it asks for.
struct At {
    rel: PathBuf,
    raw: PathBuf,
    dest: PathBuf,
    mode: u32,
    mtime: Option<SystemTime>,
}

/// A directory whose mode and mtime are set after all its entries were written.
pub type DirMeta = (PathBuf, u32, Option<SystemTime>);

/// Unpacks tar streams into one staging tree, counting what it writes against a limit.
pub struct Unpacker<'a> {
    pub root: &'a Path,
    pub kind: Kind,
    pub obs: &'a dyn Observer,
    pub limit: Limit,
    /// Bytes of file content written so far (a sparse file counts by its full size).
    pub written: u64,
    /// Entries applied so far.
    pub count: u64,
    /// Directories whose modes are set by [`finish_dirs`] once every layer is in.
    pub dirs: Vec<DirMeta>,
    /// Entries must lie below this prefix, which is stripped (an oras directory's title).
    pub prefix: Option<PathBuf>,
    /// Checked before every entry: Ctrl-C and SIGTERM stop an unpack too.
    pub cancel: Option<crate::retry::Cancel>,
}

impl<'a> Unpacker<'a> {
    pub fn new(root: &'a Path, kind: Kind, limit: Limit, obs: &'a dyn Observer) -> Unpacker<'a> {
        Unpacker {
            root,
            kind,
            obs,
            limit,
            written: 0,
            count: 0,
            dirs: Vec::new(),
            prefix: None,
            cancel: None,
        }
    }

    /// Apply one tar stream (`name` is the layer, for messages).
    pub fn apply(&mut self, reader: &mut dyn Read, name: &str) -> Result<(), Error> {
        let root = self.root;
        let mut archive = tar::Archive::new(reader);
        let mut this_layer: HashSet<PathBuf> = HashSet::new();
        let entries = archive.entries().map_err(|e| decode_error(name, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| decode_error(name, e))?;
            self.check_cancel(name)?;
            let raw = entry.path().map_err(|e| decode_error(name, e))?.into_owned();
            check_size(name, &raw)?;
            let Some(rel) = sanitize(name, &raw)? else { continue };
            let Some(rel) = self.under_prefix(rel, &raw, name)? else { continue };
            let header = entry.header();
            // No setuid/setgid; the umask applies as it does for any file a user creates.
            let mode = header.mode().unwrap_or(0o644) & 0o1777 & !umask();
            let mtime =
                header.mtime().ok().map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
            let etype = header.entry_type();
            let file_name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");

            if self.kind == Kind::Rootfs && file_name.starts_with(".wh.") {
                self.whiteout(&rel, &raw, file_name, name, &this_layer)?;
                continue;
            }

            let dest = parents(root, &rel, name, &raw)?;
            this_layer.insert(rel.clone());
            let at = At { rel, raw, dest, mode, mtime };
            let applied = match etype {
                tar::EntryType::Directory => self.directory(&at).map(|()| true),
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => {
                    self.write_file(&mut entry, &at.dest, name, mode, mtime).map(|()| true)
                }
                tar::EntryType::Symlink => self.symlink(&entry, &at, name).map(|()| true),
                tar::EntryType::Link => self.hard_link(&entry, &at, name).map(|()| true),
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let shown = at.raw.display().to_string();
                    self.obs.log(Level::Warn, format!("{name}: skipped device or FIFO {shown:?}"));
                    Ok(false)
                }
                _ => Ok(false), // pax/GNU metadata entries are handled by the tar crate
            };
            if applied? {
                self.count += 1;
            }
        }
        Ok(())
    }

    /// A directory entry: made (or kept, when one is there), writable while it fills; its mode
    /// and mtime come at the end ([`finish_dirs`]).
    fn directory(&mut self, at: &At) -> Result<(), Error> {
        let dest = &at.dest;
        match std::fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                clear(dest)?;
                std::fs::create_dir(dest).map_err(|e| Error::io("create directory", dest, e))?;
            }
            Err(_) => {
                std::fs::create_dir(dest).map_err(|e| Error::io("create directory", dest, e))?
            }
        }
        let _ = std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755));
        self.dirs.push((at.rel.clone(), at.mode, at.mtime));
        Ok(())
    }

    /// A symlink entry, refused when its target leads outside (see [`check_symlink`]).
    fn symlink<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        at: &At,
        name: &str,
    ) -> Result<(), Error> {
        let target = link_target(entry, name)?;
        if let Err(why) = check_symlink(&at.rel, &target, self.kind) {
            let what = format!("symlink to {:?} {why}", target.display().to_string());
            return Err(refuse(name, &at.raw, &what));
        }
        clear(&at.dest)?;
        std::os::unix::fs::symlink(&target, &at.dest).map_err(|e| Error::io("symlink", &at.dest, e))
    }

    /// A hard link entry: only to a regular file this unpack wrote before it, inside the target.
    fn hard_link<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        at: &At,
        name: &str,
    ) -> Result<(), Error> {
        let target = link_target(entry, name)?;
        let shown = target.display().to_string();
        let outside =
            || refuse(name, &at.raw, &format!("hard link to {shown:?} points outside the target"));
        let target_rel = match sanitize(name, &target).map_err(|_| outside())? {
            Some(t) => self.under_prefix(t, &at.raw, name)?,
            None => None,
        };
        let Some(target_rel) = target_rel else {
            return Err(refuse(name, &at.raw, "hard link without a target"));
        };
        let src = parents(self.root, &target_rel, name, &at.raw)?;
        if !std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_file()) {
            let why = format!("hard link to {shown:?}, which is not a file extracted before it");
            return Err(refuse(name, &at.raw, &why));
        }
        clear(&at.dest)?;
        std::fs::hard_link(&src, &at.dest).map_err(|e| Error::io("hard link", &at.dest, e))
    }

    /// Write a regular file's content to `dest` (whatever was there goes; a new file, never
    /// through a link), within the limit, then give it `mode` and `mtime`.
    pub(super) fn write_file(
        &mut self,
        from: &mut dyn Read,
        dest: &Path,
        name: &str,
        mode: u32,
        mtime: Option<SystemTime>,
    ) -> Result<(), Error> {
        clear(dest)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(0o600)
            .open(dest)
            .map_err(|e| Error::io("create", dest, e))?;
        copy_bounded(from, &mut f, dest, name, self.limit, &mut self.written)?;
        if let Some(t) = mtime {
            let _ = f.set_modified(t);
        }
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("chmod", dest, e))
    }

    /// An interrupted run stops between entries.
    pub(super) fn check_cancel(&self, name: &str) -> Result<(), Error> {
        if self.cancel.as_ref().is_some_and(|c| c.is_set()) {
            return Err(Error::new(
                ErrorKind::Interrupted,
                format!("{name}: interrupted while unpacking"),
            ));
        }
        Ok(())
    }

    /// `rel` taken below the prefix (`None`: the prefix itself), refused outside it.
    pub(super) fn under_prefix(
        &self,
        rel: PathBuf,
        raw: &Path,
        name: &str,
    ) -> Result<Option<PathBuf>, Error> {
        let Some(prefix) = &self.prefix else { return Ok(Some(rel)) };
        match rel.strip_prefix(prefix) {
            Ok(r) if r.as_os_str().is_empty() => Ok(None),
            Ok(r) => Ok(Some(r.to_path_buf())),
            Err(_) => {
                let why = format!("it is outside of {:?}", prefix.display().to_string());
                Err(refuse(name, raw, &why))
            }
        }
    }

    /// An OCI whiteout: `.wh.NAME` deletes NAME, `.wh..wh..opq` hides what lower layers put in
    /// the directory. Only a single normal name can be whited out.
    fn whiteout(
        &mut self,
        rel: &Path,
        raw: &Path,
        file_name: &str,
        name: &str,
        this_layer: &HashSet<PathBuf>,
    ) -> Result<(), Error> {
        let root = self.root;
        let dir = parents(root, rel, name, raw)?;
        let dir = dir.parent().unwrap_or(root).to_path_buf();
        if file_name == ".wh..wh..opq" {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for child in rd.flatten() {
                    let rel_child =
                        child.path().strip_prefix(root).map(Path::to_path_buf).unwrap_or_default();
                    if !this_layer.contains(&rel_child) {
                        clear(&child.path())?;
                    }
                }
            }
            return Ok(());
        }
        let victim = &file_name[4..];
        if victim.starts_with(".wh.") {
            return Ok(()); // other aufs metadata (`.wh..wh.plnk`, …) carries no deletion
        }
        if matches!(victim, "" | "." | "..") {
            return Err(refuse(name, raw, "a whiteout must name one file"));
        }
        clear(&dir.join(victim))
    }
}

/// Set the directories' own modes and mtimes, deepest first, once everything is in. Each is
/// reached from `root` without following a link: a later entry may have replaced a directory
/// (or one above it) with a symlink to anywhere, and that one is skipped.
pub fn finish_dirs(root: &Path, dirs: &mut Vec<DirMeta>) {
    use rustix::fs::{Mode, OFlags};
    let mut dirs = std::mem::take(dirs);
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0.components().count()));
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(top) = rustix::fs::open(root, flags, Mode::empty()) else { return };
    for (rel, mode, mtime) in dirs {
        let mut fd = None;
        for c in rel.components() {
            let at = fd.as_ref().unwrap_or(&top);
            match rustix::fs::openat(at, c.as_os_str(), flags, Mode::empty()) {
                Ok(next) => fd = Some(next),
                Err(_) => {
                    fd = None;
                    break;
                }
            }
        }
        let Some(fd) = fd else { continue };
        let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode));
        if let Some(t) = mtime {
            let _ = File::from(fd).set_modified(t);
        }
    }
}

/// Names longer than this are refused (Linux's `PATH_MAX`)...
const MAX_NAME: usize = 4096;
/// ...and so are paths this deep: each level costs every later entry a lookup.
const MAX_DEPTH: usize = 256;

/// An entry's name within what any real archive holds.
pub(super) fn check_size(name: &str, raw: &Path) -> Result<(), Error> {
    if raw.as_os_str().len() > MAX_NAME {
        return Err(refuse(name, raw, &format!("the name is over {MAX_NAME} bytes")));
    }
    if raw.components().count() > MAX_DEPTH {
        return Err(refuse(name, raw, &format!("the path is over {MAX_DEPTH} levels deep")));
    }
    Ok(())
}

pub(super) fn refuse(name: &str, entry: &Path, why: &str) -> Error {
    // An entry's name comes from the archive: one line, shortened.
    let mut shown = entry.display().to_string();
    if shown.len() > 200 {
        let cut = (0..=200).rev().find(|i| shown.is_char_boundary(*i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    Error::new(ErrorKind::Other, format!("{name}: refusing entry {shown:?}: {why}"))
}

/// A link entry's target, as written in the archive.
fn link_target<R: Read>(entry: &tar::Entry<'_, R>, name: &str) -> Result<PathBuf, Error> {
    Ok(entry
        .link_name()
        .map_err(|e| decode_error(name, e))?
        .map(|c| c.into_owned())
        .unwrap_or_default())
}

/// A member path made relative and checked: no root, no `..`, not a name oci-dl reserves.
pub fn sanitize(name: &str, raw: &Path) -> Result<Option<PathBuf>, Error> {
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
    let first = out.components().next().and_then(|c| c.as_os_str().to_str());
    if first.is_some_and(|f| f.starts_with(RESERVED_PREFIX)) {
        return Err(refuse(name, raw, "names are reserved for oci-dl's own files"));
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Create the parents of `root/rel`, refusing to pass through a symlink or a file.
pub(super) fn parents(root: &Path, rel: &Path, name: &str, entry: &Path) -> Result<PathBuf, Error> {
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
pub(super) fn clear(path: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| Error::io("replace", path, e))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| Error::io("replace", path, e)),
        Err(_) => Ok(()),
    }
}

/// Whether a symlink at `rel` pointing to `target` provably stays inside the root, whatever
/// other links the tree holds: `..` may only lead the target (climbing the link's own parents,
/// which are real directories), and never above the root. A `..` after a name could climb out of
/// a directory that is itself a link (`y -> x/up/..` with `x/up -> ..`), so it is refused.
pub(super) fn check_symlink(rel: &Path, target: &Path, kind: Kind) -> Result<(), &'static str> {
    let mut depth: i64 = rel.components().count() as i64 - 1;
    if target.is_absolute() {
        if kind == Kind::Archive {
            return Err("points outside the target");
        }
        depth = 0; // inside an image, "/" is the image's root
    }
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::ParentDir if descended => return Err("climbs back out of a directory"),
            Component::ParentDir if target.is_absolute() => {} // "/.." is "/"
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => {
                depth += 1;
                descended = true;
            }
            _ => {}
        }
        if depth < 0 {
            return Err("points outside the target");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_containment() {
        let p = Path::new;
        let ok = |rel, t, k| check_symlink(p(rel), p(t), k).is_ok();
        assert!(ok("a/b/link", "../c", Kind::Archive));
        assert!(ok("a/link", "../x", Kind::Archive));
        assert!(ok("x/up", "..", Kind::Archive));
        assert!(ok("a/link", "./b/./c", Kind::Archive));
        assert!(!ok("link", "../x", Kind::Archive));
        assert!(!ok("a/link", "../../x", Kind::Archive));
        assert!(!ok("a/link", "b/../../../x", Kind::Archive));
        assert!(!ok("y", "x/up/..", Kind::Archive), "lexically inside, but x/up may be a link");
        assert!(!ok("a/b/y", "../c/../d", Kind::Archive));
        assert!(!ok("link", "/etc/passwd", Kind::Archive));
        assert!(ok("bin/sh", "/bin/busybox", Kind::Rootfs));
        assert!(ok("lib", "/../usr/lib", Kind::Rootfs));
        assert!(!ok("a", "/usr/../..", Kind::Rootfs));
        assert!(!ok("a/b", "../../x", Kind::Rootfs));
    }

    #[test]
    fn reserved_and_unsafe_names() {
        let p = Path::new;
        assert_eq!(sanitize("l", p("./a/b")).unwrap(), Some(PathBuf::from("a/b")));
        assert_eq!(sanitize("l", p("./")).unwrap(), None);
        assert!(sanitize("l", p("../a")).is_err());
        assert!(sanitize("l", p("/a")).is_err());
        assert!(sanitize("l", p(".oci-dl-staging-1-0/t/x")).is_err());
        assert!(sanitize("l", p("./.oci-dl-abc")).is_err());
        assert!(sanitize("l", p("sub/.oci-dl-abc")).unwrap().is_some(), "only at the top");
    }
}
