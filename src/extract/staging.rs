//! Where unpacked bytes wait, and how they move into place.
//!
//! Staging lives *inside* the extraction root (`ROOT/.oci-dl-staging-PID-N/t`), so it is on the
//! target's filesystem (no EXDEV at a mount point) and needs no write access to the root's parent.
//! The staging directory is 0700 and holds a lock for as long as its run lives; the next run
//! removes staging directories of its own user whose lock nobody holds (a killed run's leftovers).
//!
//! The staging directory is held open from its creation, and everything below it is reached
//! through that handle (`/proc/self/fd/N/t`), never by its name in ROOT: whoever may write in
//! ROOT can rename the name away or plant a symlink under it, but not redirect what oci-dl writes.
//!
//! The commit walks the target under directory handles opened without following links, so what
//! was checked is what is written to, and plans every move before the first one: an existing path
//! is merged (directories), kept (same content), or replaced only as the overwrite policy allows.
//! A directory oci-dl did not create is never removed, nor is a symlink replaced or followed, nor
//! a path that another layer of the same pull claims.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::fsx;
use crate::select::Overwrite;

pub use crate::select::RESERVED_PREFIX;
const STAGING_PREFIX: &str = ".oci-dl-staging-";
/// A staging directory is set up under this name and renamed to its real one with its lock held,
/// so a sweeper never sees a staging directory whose lock is not taken yet.
const SETUP_PREFIX: &str = ".oci-dl-setup-";
/// A directory still being set up is another run's until it is this old.
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// A private staging directory inside the extraction root; removed unless committed.
pub struct Staging {
    /// Its name in the root, and the root: for the final `rmdir` only.
    root: fsx::Dir,
    name: OsString,
    fd: OwnedFd,
    /// The tree to commit, reached through the held handle: `/proc/self/fd/N/t`.
    pub tree: PathBuf,
    _lock: File,
}

fn io(e: Errno) -> std::io::Error {
    e.into()
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
        let dir = fsx::Dir::open(root)?;
        sweep(&dir, obs);
        for n in 0..1000u32 {
            let id = format!("{}-{n}", std::process::id());
            let setup = OsString::from(format!("{SETUP_PREFIX}{id}"));
            let name = OsString::from(format!("{STAGING_PREFIX}{id}"));
            let shown = dir.show(&name);
            match rustix::fs::mkdirat(dir.fd(), &setup, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(Error::io("create staging directory", &shown, io(e))),
            }
            let fd = open_dir_at(dir.fd(), &setup)
                .map_err(|e| Error::io("open staging directory", &shown, io(e)))?;
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
            .map_err(|e| Error::io("create", &shown.join("lock"), io(e)))?;
            lock.try_lock().map_err(|e| Error::io("lock", &shown.join("lock"), e.into()))?;
            rustix::fs::mkdirat(&fd, "t", Mode::from_raw_mode(0o777))
                .map_err(|e| Error::io("create directory", &shown.join("t"), io(e)))?;
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

fn remove_staging(root: &fsx::Dir, name: &std::ffi::OsStr, fd: BorrowedFd<'_>) {
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
fn sweep(root: &fsx::Dir, obs: &dyn Observer) {
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

/// How the commit treats paths that already exist in the target.
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    /// For a path whose content differs.
    pub overwrite: Overwrite,
    /// Asked when `overwrite` is `Prompt`; says `Skipped` for every path it keeps.
    pub obs: &'a dyn Observer,
    /// Paths other layers of the same pull write: never replaced, whatever `overwrite` says.
    pub claimed: Option<&'a HashSet<PathBuf>>,
}

/// One planned move: `src` (in staging) to `name` in the directory `dst`.
struct Move {
    src: PathBuf,
    dst: Arc<OwnedFd>,
    name: OsString,
    /// Where, for messages.
    shown: PathBuf,
    /// What is there now must go first (a file, replaced as the policy allows).
    replace: Option<FileType>,
}

/// Move `staged` to `root/rel` (`rel` empty: merge the staged directory into `root` itself).
/// `root` is the user's own directory and is followed if it is a symlink; nothing below it is.
pub fn commit(staged: &Path, root: &Path, rel: &Path, policy: Policy<'_>) -> Result<(), Error> {
    let root_dir = fsx::Dir::open(root)?;
    let root_fd = Arc::new(dup(&root_dir, root)?);
    let mut moves = Vec::new();
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            _ => return Err(Error::new(ErrorKind::Other, format!("unsafe target {rel:?}"))),
        }
    }
    match parts.split_last() {
        None => plan_children(staged, &root_fd, root, policy, &mut moves)?,
        Some((last, dirs)) => {
            // Missing parents are made (mode 0777 less the umask), none is followed.
            let parent = root_dir.open_beneath(&dirs.iter().collect::<PathBuf>())?;
            let fd = Arc::new(dup(&parent, root)?);
            let shown = root.join(rel);
            plan_entry(staged, &fd, last.into(), &shown, policy, &mut moves)?;
        }
    }
    for m in moves {
        if let Some(kind) = m.replace {
            let flags =
                if kind == FileType::Directory { AtFlags::REMOVEDIR } else { AtFlags::empty() };
            rustix::fs::unlinkat(&*m.dst, &m.name, flags)
                .map_err(|e| Error::io("replace", &m.shown, e.into()))?;
        }
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &m.src,
            &*m.dst,
            &m.name,
            RenameFlags::NOREPLACE,
        )
        .map_err(|e| Error::io("move into place", &m.shown, e.into()))?;
    }
    Ok(())
}

fn dup(dir: &fsx::Dir, shown: &Path) -> Result<OwnedFd, Error> {
    dir.fd().try_clone_to_owned().map_err(|e| Error::io("open directory", shown, e))
}

fn open_dir(at: impl AsFd, path: &Path, shown: &Path) -> Result<OwnedFd, Error> {
    open_dir_at(at.as_fd(), path.as_os_str()).map_err(|e| {
        if matches!(e, Errno::LOOP | Errno::NOTDIR) {
            Error::new(
                ErrorKind::Conflict,
                format!("{} is not a directory; refusing to write through it", shown.display()),
            )
        } else {
            Error::io("open directory", shown, e.into())
        }
    })
}

fn plan_children(
    src_dir: &Path,
    dst: &Arc<OwnedFd>,
    shown: &Path,
    policy: Policy<'_>,
    moves: &mut Vec<Move>,
) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(src_dir)
        .map_err(|e| Error::io("read directory", src_dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io("read directory", src_dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        plan_entry(&e.path(), dst, name.clone(), &shown.join(&name), policy, moves)?;
    }
    Ok(())
}

fn plan_entry(
    src: &Path,
    dst: &Arc<OwnedFd>,
    name: OsString,
    shown: &Path,
    policy: Policy<'_>,
    moves: &mut Vec<Move>,
) -> Result<(), Error> {
    let there = match rustix::fs::statat(&**dst, &name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => FileType::from_raw_mode(st.st_mode),
        Err(Errno::NOENT) => {
            if let Some(hit) = policy.claimed.and_then(|c| claimed_below(src, shown, c)) {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} is another layer's file in this pull; pull them separately with a filter",
                        hit.display()
                    ),
                ));
            }
            let m = Move {
                src: src.into(),
                dst: dst.clone(),
                name,
                shown: shown.into(),
                replace: None,
            };
            moves.push(m);
            return Ok(());
        }
        Err(e) => return Err(Error::io("inspect", shown, e.into())),
    };
    let mine = std::fs::symlink_metadata(src).map_err(|e| Error::io("inspect", src, e))?;
    let refuse =
        |why: &str| Err(Error::new(ErrorKind::Conflict, format!("{} {why}", shown.display())));
    match there {
        _ if policy.claimed.is_some_and(|c| c.contains(shown)) && !mine.is_dir() => {
            refuse("is another layer's file in this pull; pull them separately with a filter")
        }
        FileType::Directory if mine.is_dir() => {
            let sub = Arc::new(open_dir(&**dst, Path::new(&name), shown)?);
            plan_children(src, &sub, shown, policy, moves)
        }
        FileType::Directory => {
            refuse("is a directory oci-dl did not create; refusing to replace it with a file")
        }
        FileType::Symlink => {
            let same = mine.file_type().is_symlink()
                && rustix::fs::readlinkat(&**dst, &name, Vec::new()).is_ok_and(|t| {
                    std::fs::read_link(src).is_ok_and(|s| s.as_os_str().as_bytes() == t.as_bytes())
                });
            if same { Ok(()) } else { refuse("is a symlink; refusing to replace or follow it") }
        }
        FileType::RegularFile => {
            if mine.is_file() && same_content(src, dst, &name, shown)? {
                return Ok(());
            }
            let replace = match policy.overwrite {
                Overwrite::Force => true,
                Overwrite::Skip => false,
                Overwrite::Prompt => policy.obs.confirm_overwrite(shown),
                Overwrite::Error => {
                    return refuse("exists with other content; use --overwrite force or skip");
                }
            };
            if replace {
                let m = Move {
                    src: src.into(),
                    dst: dst.clone(),
                    name,
                    shown: shown.into(),
                    replace: Some(FileType::RegularFile),
                };
                moves.push(m);
            } else {
                policy.obs.log(Level::Info, format!("kept {} (--overwrite)", shown.display()));
            }
            Ok(())
        }
        _ => refuse("exists and is not a regular file"),
    }
}

/// The first path that moving the staged `src` to `shown` would write and another layer claims.
fn claimed_below(src: &Path, shown: &Path, claimed: &HashSet<PathBuf>) -> Option<PathBuf> {
    let is_dir = std::fs::symlink_metadata(src).is_ok_and(|m| m.is_dir());
    if !is_dir {
        return claimed.contains(shown).then(|| shown.to_path_buf());
    }
    let entries = std::fs::read_dir(src).ok()?;
    entries.flatten().find_map(|e| claimed_below(&e.path(), &shown.join(e.file_name()), claimed))
}

/// Whether the regular file `name` in `dst` holds exactly the bytes of `src`.
fn same_content(src: &Path, dst: &OwnedFd, name: &OsString, shown: &Path) -> Result<bool, Error> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let theirs = rustix::fs::openat(dst, name, flags, Mode::empty())
        .map_err(|e| Error::io("open", shown, e.into()))?;
    let mut theirs = File::from(theirs);
    let mut mine = File::open(src).map_err(|e| Error::io("open", src, e))?;
    let (a, b) = (mine.metadata(), theirs.metadata());
    if !matches!((&a, &b), (Ok(a), Ok(b)) if a.len() == b.len() && b.is_file()) {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut mine, &mut x).map_err(|e| Error::io("read", src, e))?;
        let m =
            read_full(&mut theirs, &mut y[..n.max(1)]).map_err(|e| Error::io("read", shown, e))?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
