//! Where unpacked bytes wait, and how they move into place.
//!
//! Staging lives *inside* the extraction root (`ROOT/.oci-dl-staging-PID-N/t`), so it is on the
//! target's filesystem (no EXDEV at a mount point) and needs no write access to the root's parent.
//! The staging directory is 0700 and holds a lock for as long as its run lives; the next run
//! removes staging directories whose lock nobody holds (a killed run's leftovers).
//!
//! The commit walks the target under directory handles opened without following links, so what
//! was checked is what is written to, and plans every move before the first one: an existing path
//! is merged (directories), kept (same content), or replaced only as the overwrite policy allows.
//! A directory oci-dl did not create is never removed, nor is a symlink replaced or followed.

use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};

use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::pull::Overwrite;

/// Names oci-dl keeps for itself inside an output or extraction directory.
pub const RESERVED_PREFIX: &str = ".oci-dl-";
const STAGING_PREFIX: &str = ".oci-dl-staging-";
/// A staging directory without a lock file is another run's only while it is being set up.
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// A private staging directory inside the extraction root; removed unless committed.
pub struct Staging {
    dir: PathBuf,
    /// The tree to commit: `dir/t`.
    pub tree: PathBuf,
    _lock: File,
}

impl Staging {
    /// Make a staging directory inside `root` (created if missing), after removing what killed
    /// runs left there.
    pub fn inside(root: &Path, obs: &dyn Observer) -> Result<Staging, Error> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create directory", root, e))?;
        sweep(root, obs);
        for n in 0..1000u32 {
            let dir = root.join(format!("{STAGING_PREFIX}{}-{n}", std::process::id()));
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("create staging directory", &dir, e)),
            }
            let lock_path = dir.join("lock");
            let lock = OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(&lock_path)
                .map_err(|e| Error::io("create", &lock_path, e))?;
            if lock.try_lock().is_err() {
                continue; // a sweeper of another run got there first; leave it to them
            }
            let tree = dir.join("t");
            std::fs::create_dir(&tree).map_err(|e| Error::io("create directory", &tree, e))?;
            return Ok(Staging { dir, tree, _lock: lock });
        }
        Err(Error::new(
            ErrorKind::Other,
            format!("no free staging directory in {}", root.display()),
        ))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Committed or not, whatever is left is ours and no longer wanted.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Remove the staging directories in `root` whose run is gone (nobody holds their lock).
fn sweep(root: &Path, obs: &dyn Observer) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_staging = entry.file_name().to_str().is_some_and(|n| n.starts_with(STAGING_PREFIX));
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        if !is_staging || !meta.is_dir() {
            continue;
        }
        let stale = match File::open(entry.path().join("lock")) {
            Ok(lock) => lock.try_lock().is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => meta
                .modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > UNLOCKED_GRACE),
            Err(_) => false,
        };
        if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        obs.log(
            Level::Info,
            format!(
                "removed {removed} staging director{} an interrupted run left in {}",
                if removed == 1 { "y" } else { "ies" },
                root.display()
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
    let root_fd = Arc::new(open_dir(rustix::fs::CWD, root, false, root)?);
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
            let mut fd = root_fd;
            let mut shown = root.to_path_buf();
            for d in dirs {
                shown.push(d);
                fd = Arc::new(open_dir(&*fd, Path::new(d), true, &shown)?);
            }
            plan_entry(staged, &fd, last.into(), &shown.join(last), policy, &mut moves)?;
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

fn open_dir(at: impl AsFd, path: &Path, nofollow: bool, shown: &Path) -> Result<OwnedFd, Error> {
    let mut flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    if nofollow {
        flags |= OFlags::NOFOLLOW;
    }
    rustix::fs::openat(at, path, flags, Mode::empty()).map_err(|e| {
        if nofollow && matches!(e, rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) {
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
        Err(rustix::io::Errno::NOENT) => {
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
        FileType::Directory if mine.is_dir() => {
            let sub = Arc::new(open_dir(&**dst, Path::new(&name), true, shown)?);
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
