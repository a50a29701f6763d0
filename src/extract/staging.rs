//! Where unpacked bytes wait (how they move into place: [`super::commit`]).
//!
//! Staging lives *inside* the extraction root (`ROOT/.oci-dl-staging-PID-N/t`), so it is on the
//! target's filesystem (no EXDEV at a mount point) and needs no write access to the root's parent.
//! The staging directory is 0700 and holds a lock for as long as its run lives; the next run
//! removes staging directories of its own user whose lock nobody holds (a killed run's leftovers).
//!
//! The staging directory is held open from its creation, and everything below it is reached
//! through that handle (`/proc/self/fd/N/t`), never by its name in ROOT: whoever may write in
//! ROOT can rename the name away or plant a symlink under it, but not redirect what oci-dl writes.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::commit::Policy;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held;

const STAGING_PREFIX: &str = ".oci-dl-staging-";
/// A staging directory is set up under this name and renamed to its real one with its lock held,
/// so a sweeper never sees a staging directory whose lock is not taken yet.
const SETUP_PREFIX: &str = ".oci-dl-setup-";
/// A directory still being set up is another run's until it is this old.
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// A private staging directory inside the extraction root; removed unless committed.
pub struct Staging {
    /// Its name in the root, and the root: for the final `rmdir` only.
    root: held::Dir,
    name: OsString,
    fd: OwnedFd,
    /// The tree to commit, reached through the held handle: `/proc/self/fd/N/t`.
    pub tree: PathBuf,
    _lock: File,
}

/// Open `name` in `dir` as a directory, not following a symlink.
fn open_dir_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
}

/// Whether the open directory `fd` is a private one of this user (0700, ours).
fn is_private(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstat(fd)
        .is_ok_and(|st| st.st_uid == rustix::process::geteuid().as_raw() && st.st_mode & 0o077 == 0)
}

/// The path that reaches what `fd` holds whatever happens to its name.
fn through(fd: BorrowedFd<'_>) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Staging {
    /// Make a staging directory inside `root` (created if missing), after removing what killed
    /// runs left there.
    pub fn inside(root: &Path, obs: &dyn Observer) -> Result<Staging, Error> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create directory", root, e))?;
        let dir = held::Dir::open(root)?;
        sweep(&dir, obs);
        for n in 0..1000u32 {
            let id = format!("{}-{n}", std::process::id());
            let setup = OsString::from(format!("{SETUP_PREFIX}{id}"));
            let name = OsString::from(format!("{STAGING_PREFIX}{id}"));
            let shown = dir.show(&name);
            match rustix::fs::mkdirat(dir.fd(), &setup, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(Error::io("create staging directory", &shown, e.into())),
            }
            let fd = open_dir_at(dir.fd(), &setup)
                .map_err(|e| Error::io("open staging directory", &shown, e.into()))?;
            if !is_private(fd.as_fd()) {
                continue; // swapped between mkdir and open: not ours
            }
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
            let lock = rustix::fs::openat(
                &fd,
                "lock",
                flags | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map(File::from)
            .map_err(|e| Error::io("create", &shown.join("lock"), e.into()))?;
            lock.try_lock().map_err(|e| Error::io("lock", &shown.join("lock"), e.into()))?;
            rustix::fs::mkdirat(&fd, "t", Mode::from_raw_mode(0o777))
                .map_err(|e| Error::io("create directory", &shown.join("t"), e.into()))?;
            let named = rustix::fs::renameat_with(
                dir.fd(),
                &setup,
                dir.fd(),
                &name,
                RenameFlags::NOREPLACE,
            );
            if named.is_err() {
                remove_staging(&dir, &setup, fd.as_fd());
                continue;
            }
            let tree = through(fd.as_fd()).join("t");
            if !tree.is_dir() {
                return Err(Error::new(
                    ErrorKind::Other,
                    "extraction needs /proc (it reaches its staging directory through /proc/self/fd)",
                ));
            }
            return Ok(Staging { root: dir, name, fd, tree, _lock: lock });
        }
        Err(Error::new(
            ErrorKind::Other,
            format!("no free staging directory in {}", root.display()),
        ))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Committed or not, whatever is left is ours and no longer wanted: emptied through the
        // handle, and the name removed only while it still names this directory.
        remove_staging(&self.root, &self.name, self.fd.as_fd());
    }
}

fn remove_staging(root: &held::Dir, name: &std::ffi::OsStr, fd: BorrowedFd<'_>) {
    let inside = through(fd);
    let _ = std::fs::remove_dir_all(inside.join("t"));
    let _ = std::fs::remove_file(inside.join("lock"));
    let same = match (
        rustix::fs::fstat(fd),
        rustix::fs::statat(root.fd(), name, AtFlags::SYMLINK_NOFOLLOW),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    };
    if same {
        let _ = rustix::fs::unlinkat(root.fd(), name, AtFlags::REMOVEDIR);
    }
}

/// Remove the staging directories in `root` that are this user's own and whose run is gone
/// (nobody holds their lock). Anything else with the name — another user's directory, a
/// symlink, a lock that is not a regular file — is left alone.
fn sweep(root: &held::Dir, obs: &dyn Observer) {
    let Ok(entries) = std::fs::read_dir(through(root.fd())) else { return };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let setup = name.as_bytes().starts_with(SETUP_PREFIX.as_bytes());
        if !setup && !name.as_bytes().starts_with(STAGING_PREFIX.as_bytes()) {
            continue;
        }
        let Ok(fd) = open_dir_at(root.fd(), &name) else { continue };
        if !is_private(fd.as_fd()) {
            continue;
        }
        let lock_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let old_enough = || {
            rustix::fs::fstat(&fd)
                .ok()
                .and_then(|st| {
                    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(st.st_mtime.max(0) as u64);
                    SystemTime::now().duration_since(t).ok()
                })
                .is_some_and(|age| age > UNLOCKED_GRACE)
        };
        let stale = match rustix::fs::openat(&fd, "lock", lock_flags, Mode::empty()) {
            Ok(_) if setup => old_enough(),
            Ok(lock) => {
                let lock = File::from(lock);
                lock.metadata().is_ok_and(|m| m.is_file()) && lock.try_lock().is_ok()
            }
            Err(Errno::NOENT) => old_enough(),
            Err(_) => false,
        };
        if stale {
            remove_staging(root, &name, fd.as_fd());
            removed += 1;
        }
    }
    if removed > 0 {
        obs.log(
            Level::Info,
            format!(
                "removed {removed} staging director{} an interrupted run left in {}",
                if removed == 1 { "y" } else { "ies" },
                root.show(std::ffi::OsStr::new("")).display()
            ),
        );
    }
}

/// Bytes unpacked into a staging directory, waiting for [`Staged::commit`] (after the blob's
/// digest checked out). Dropping it removes them.
pub struct Staged {
    pub(super) staging: Staging,
    /// For a single decompressed file: the file inside the staging tree.
    pub(super) file: Option<PathBuf>,
}

impl Staged {
    /// Move what was unpacked to `root/rel` (`rel` empty: into `root` itself), merging into
    /// existing directories and treating existing files as `policy` says.
    pub fn commit(self, root: &Path, rel: &Path, policy: Policy<'_>) -> Result<(), Error> {
        let from = self.file.as_deref().unwrap_or(&self.staging.tree);
        super::commit::commit(from, root, rel, policy)
    }

    /// Every entry the commit would write, relative to its target (a single file: the empty
    /// path), each with where it is staged and whether it is a directory. The staging tree is
    /// private to this process (see [`Staging`]), so it is read by path.
    pub fn entries(&self) -> Result<Vec<StagedEntry>, Error> {
        if let Some(file) = &self.file {
            return Ok(vec![StagedEntry { rel: PathBuf::new(), at: file.clone(), dir: false }]);
        }
        let mut out = Vec::new();
        let mut todo = vec![PathBuf::new()];
        while let Some(rel) = todo.pop() {
            let dir = self.staging.tree.join(&rel);
            for e in std::fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))? {
                let e = e.map_err(|e| Error::io("read directory", &dir, e))?;
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                let entry = StagedEntry { rel: rel.join(e.file_name()), at: e.path(), dir: is_dir };
                if is_dir {
                    todo.push(entry.rel.clone());
                }
                out.push(entry);
            }
        }
        Ok(out)
    }
}

/// One entry of a [`Staged`] archive, as [`Staged::entries`] lists it.
#[derive(Debug, Clone)]
pub struct StagedEntry {
    /// Relative to the commit's target.
    pub rel: PathBuf,
    /// Where it is staged now.
    pub at: PathBuf,
    /// A directory (merged with others of its name), not a file or a link.
    pub dir: bool,
}
