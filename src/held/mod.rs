//! Files reached through held directory handles. A directory is opened once; every later create,
//! rename, link and removal in it is relative to that handle, so swapping a directory on the way
//! for a symlink after the check cannot redirect a write. Below the directory the caller opens,
//! nothing follows a symlink, and only regular files are opened for writing.
//!
//! Ownership is judged in one place, [`Node::private`]: a file or directory is the running
//! user's alone when the user owns it and neither its group nor others may write it. A `Dir`
//! remembers whether it and every directory walked to reach it from the one the caller opened
//! were, so a file below can be trusted only when nobody else could have put it there.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

mod confined;
mod copy;
mod node;
pub(crate) use confined::{
    RESERVED_PREFIX, TEMP_PREFIX, hidden_archive, safe_relative_path, temp_name,
};
pub(crate) use copy::copy;
pub(crate) use node::Node;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, ErrorKind};

/// A directory held open. Its path is for messages only: nothing resolves it again.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    /// It and every directory walked to reach it are [`Node::private`].
    private: bool,
}

/// Open `root` (the user's own directory: a symlink there is followed), then walk `rel` below it
/// one component at a time without following symlinks, creating missing directories.
pub(crate) fn open_beneath(root: &Path, rel: &Path) -> Result<Dir, Error> {
    Dir::open(root)?.open_beneath(rel)
}

/// The directory holding the user-named file `path` (followed like any path the user gives),
/// and the file's name in it.
pub(crate) fn parent_of(path: &Path) -> Result<(Dir, OsString), Error> {
    let name = match path.components().next_back() {
        Some(Component::Normal(n)) => n.to_owned(),
        _ => {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{} does not name a file", path.display()),
            ));
        }
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((Dir::open(parent)?, name))
}

/// Create the user-named directory `path` and any missing parents with `mode` (less the
/// umask), so that a directory oci-dl makes for itself is never writable by others.
pub(crate) fn make_dir_all(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| Error::io("create directory", path, e))
}

impl Dir {
    /// Open the directory `path` as the user named it.
    pub fn open(path: &Path) -> Result<Dir, Error> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rfs::open(path, flags, Mode::empty())
            .map_err(|e| Error::io("open directory", path, e.into()))?;
        let private = rfs::fstat(&fd).is_ok_and(|st| Node::of(&st).private());
        Ok(Dir { fd, path: path.to_path_buf(), private })
    }

    /// Whether this directory and every one walked to reach it (from the one the caller
    /// opened, included) are the running user's alone ([`Node::private`]).
    pub fn private(&self) -> bool {
        self.private
    }

    /// The directory `name` below this one, if there is one; never through a symlink (an
    /// error names it), never creating anything.
    pub fn existing_child(&self, name: &OsStr) -> Result<Option<Dir>, Error> {
        match self.child(name, None) {
            Ok(d) => Ok(Some(d)),
            Err(_) if self.entry(name)?.is_none() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Dir::existing_child`] along each component of `rel`.
    pub fn existing_beneath(&self, rel: &Path) -> Result<Option<Dir>, Error> {
        let mut cur = self.child(OsStr::new("."), None)?;
        for c in rel.components() {
            let Component::Normal(name) = c else { continue };
            match cur.existing_child(name)? {
                Some(d) => cur = d,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// The names in this directory (not `.` and `..`), in no particular order.
    pub fn names(&self) -> Result<Vec<OsString>, Error> {
        use std::os::unix::ffi::OsStrExt;
        let read = |e: Errno| Error::io("read directory", &self.path, e.into());
        let mut out = Vec::new();
        for e in rfs::Dir::read_from(&self.fd).map_err(read)? {
            let name = e.map_err(read)?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(&name).to_owned());
            }
        }
        Ok(out)
    }

    /// `name` in this directory, for messages.
    pub fn show(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// Walk `rel` (normal components only) below this directory without following a symlink,
    /// creating missing directories (mode 0777 less the umask).
    pub fn open_beneath(&self, rel: &Path) -> Result<Dir, Error> {
        self.open_beneath_with(rel, 0o777)
    }

    /// [`Dir::open_beneath`], creating missing directories with `mode` less the umask.
    pub fn open_beneath_with(&self, rel: &Path, mode: u32) -> Result<Dir, Error> {
        let mut cur = self.child(OsStr::new("."), None)?;
        for c in rel.components() {
            match c {
                Component::Normal(name) => cur = cur.child(name, Some(mode))?,
                Component::CurDir => {}
                _ => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("refusing path {} below {}", rel.display(), self.path.display()),
                    ));
                }
            }
        }
        Ok(cur)
    }

    /// Open the directory `name`, creating it with `create` (a mode) when missing.
    fn child(&self, name: &OsStr, create: Option<u32>) -> Result<Dir, Error> {
        let path = if name == "." { self.path.clone() } else { self.path.join(name) };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut made = false;
        loop {
            match rfs::openat(&self.fd, name, flags, Mode::empty()) {
                Ok(fd) => {
                    let mine = rfs::fstat(&fd).is_ok_and(|st| Node::of(&st).private());
                    return Ok(Dir { fd, path, private: self.private && mine });
                }
                Err(Errno::NOENT) if create.is_some() && !made => {
                    let mode = Mode::from_raw_mode(create.unwrap_or(0o755));
                    match rfs::mkdirat(&self.fd, name, mode) {
                        Ok(()) | Err(Errno::EXIST) => made = true,
                        Err(e) => return Err(Error::io("create directory", &path, e.into())),
                    }
                }
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    let what = match self.entry(name) {
                        Ok(Some(n)) if n.is_symlink() => "symlink",
                        _ => {
                            return Err(Error::new(
                                ErrorKind::Other,
                                format!("{} exists and is not a directory", path.display()),
                            ));
                        }
                    };
                    // A walk that creates is on its way to write; one that does not only reads.
                    let verb = if create.is_some() { "write through" } else { "follow" };
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("refusing to {verb} {what} {}", path.display()),
                    ));
                }
                Err(e) => return Err(Error::io("open directory", &path, e.into())),
            }
        }
    }

    /// What is at `name`, not following a symlink; `None` when nothing is.
    pub fn entry(&self, name: &OsStr) -> Result<Option<Node>, Error> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Node::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(Error::io("inspect", &self.show(name), e.into())),
        }
    }

    /// Create `name` for reading and writing with `mode` less the umask. It must not exist
    /// (`O_EXCL`), so nothing planted there — a symlink, a hard link, a FIFO — is ever opened.
    pub fn create_new_file(&self, name: &OsStr, mode: u32) -> std::io::Result<File> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rfs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode))?))
    }

    /// Open the regular file `name`, never through a symlink and never blocking on a FIFO;
    /// `None` when there is nothing. Anything but a regular file is an error; so is, when
    /// `write`, a file with other hard links (writing would change them too).
    pub fn open_existing_regular(&self, name: &OsStr, write: bool) -> Result<Option<File>, Error> {
        let path = self.show(name);
        let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
        let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let file = match rfs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("refusing to open symlink {}", path.display()),
                ));
            }
            Err(e) => return Err(Error::io("open", &path, e.into())),
        };
        let node = Node::of_file(&file).map_err(|e| Error::io("inspect", &path, e))?;
        if !node.is_file() {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{} is not a regular file", path.display()),
            ));
        }
        if write && node.nlink != 1 {
            return Err(Error::new(
                ErrorKind::Other,
                format!("refusing to write into {}: it has other hard links", path.display()),
            ));
        }
        Ok(Some(file))
    }

    /// Give `name` the content `bytes` (a small file: a stamp, a record) through a new file
    /// under a temporary name and an atomic rename, so a reader never sees it half-written and
    /// nothing planted at either name is written through.
    pub fn replace_with(&self, name: &OsStr, bytes: &[u8], mode: u32) -> Result<(), Error> {
        use std::io::Write;
        let tmp = temp_name(name);
        let written = self.create_new_file(&tmp, mode).and_then(|mut f| f.write_all(bytes));
        written.and_then(|()| self.rename(&tmp, name)).map_err(|e| {
            let _ = self.remove_file(&tmp);
            Error::io("write", &self.show(name), e)
        })
    }

    /// Remove the entry `name` (a file, or a symlink itself: never what it points to).
    pub fn remove_file(&self, name: &OsStr) -> std::io::Result<()> {
        Ok(rfs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// The handle, for `*at` calls this module does not wrap.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Rename `from` in this directory to `to_name` in `to`, replacing a file there.
    pub fn rename_into(&self, from: &OsStr, to: &Dir, to_name: &OsStr) -> std::io::Result<()> {
        Ok(rfs::renameat(&self.fd, from, to.fd.as_fd(), to_name)?)
    }

    /// Rename `from` to `to`, both in this directory.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> std::io::Result<()> {
        Ok(rfs::renameat(&self.fd, from, &self.fd, to)?)
    }
}

/// `mode` with execute bits wherever it has read bits: 0644 → 0755, 0600 → 0700, so an
/// executable keeps the umask its file was created with.
pub(crate) fn executable(mode: u32) -> u32 {
    let mode = mode & 0o7777;
    mode | ((mode & 0o444) >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_never_pass_through_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("link")).unwrap();
        let e = open_beneath(&out, Path::new("link")).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        open_beneath(&out, Path::new("a/b")).unwrap();
        assert!(out.join("a/b").is_dir());
        std::fs::write(out.join("file"), "x").unwrap();
        assert!(open_beneath(&out, Path::new("file")).is_err());
    }

    #[test]
    fn a_held_directory_is_written_even_after_it_is_swapped_for_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let (out, victim) = (d.path().join("out"), d.path().join("victim"));
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let sub = open_beneath(&out, Path::new("a/sub")).unwrap();
        std::fs::rename(out.join("a/sub"), out.join("a/moved")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("a/sub")).unwrap();
        sub.create_new_file(OsStr::new("f.part"), 0o644).unwrap();
        sub.rename(OsStr::new("f.part"), OsStr::new("f")).unwrap();
        assert!(out.join("a/moved/f").is_file());
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
        let e = open_beneath(&out, Path::new("a/sub")).unwrap_err();
        assert!(e.to_string().contains("refusing to write through symlink"), "{e}");
    }

    #[test]
    fn nothing_planted_is_opened_for_writing() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "v").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("sym")).unwrap();
        std::fs::hard_link(&victim, d.path().join("hard")).unwrap();
        let fifo = std::process::Command::new("mkfifo").arg(d.path().join("fifo")).status();
        for name in ["sym", "hard", "fifo", "victim"] {
            let n = OsStr::new(name);
            if name == "fifo" && !fifo.as_ref().is_ok_and(|s| s.success()) {
                continue;
            }
            assert!(dir.create_new_file(n, 0o644).is_err(), "{name}: O_EXCL");
            let unfit = dir.entry(n).unwrap().unwrap().unfit();
            assert!(unfit.is_some(), "{name}: not ours to take over");
            if name != "victim" {
                assert!(dir.open_existing_regular(n, true).is_err(), "{name}");
            }
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"v");
        assert_eq!(executable(0o644), 0o755);
        assert_eq!(executable(0o600), 0o700);
    }

    #[test]
    fn a_directory_is_private_only_if_every_one_walked_is() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(d.path(), 0o755);
        let root = Dir::open(d.path()).unwrap();
        assert!(
            root.private() && root.open_beneath_with(Path::new("a/b"), 0o755).unwrap().private()
        );
        mode(&d.path().join("a"), 0o775);
        assert!(!root.open_beneath(Path::new("a/b")).unwrap().private(), "a is group-writable");
        assert!(!root.existing_beneath(Path::new("a/b")).unwrap().unwrap().private());
        mode(&d.path().join("a"), 0o755);
        assert!(root.existing_beneath(Path::new("a/b")).unwrap().unwrap().private());
        assert!(root.existing_beneath(Path::new("a/none")).unwrap().is_none(), "nothing made");
        assert!(!d.path().join("a/none").exists());
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("link")).unwrap();
        assert!(root.existing_child(OsStr::new("link")).is_err(), "never through a symlink");
        let mut names = root.names().unwrap();
        names.sort();
        assert_eq!(names, ["a", "link"]);
    }
}
