//! How staged bytes move into place. The commit walks the target under directory handles opened
//! without following links, so what was checked is what is written to, and plans every move
//! before the first one: an existing path is merged (directories), kept (same content), or
//! replaced only as the overwrite policy allows. A directory oci-dl did not create is never
//! removed, nor is a symlink replaced or followed, nor a path that another layer of the same pull
//! claims.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::Overwrite;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held;

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
    dst: Arc<held::Dir>,
    name: OsString,
    /// Where, for messages.
    shown: PathBuf,
    /// What is there now must go first (a file, replaced as the policy allows).
    replace: bool,
}

/// Move `staged` to `root/rel` (`rel` empty: merge the staged directory into `root` itself).
/// `root` is the user's own directory and is followed if it is a symlink; nothing below it is.
pub fn commit(staged: &Path, root: &Path, rel: &Path, policy: Policy<'_>) -> Result<(), Error> {
    // Layers unpacked in parallel may share directories: one plans and moves at a time, so the
    // second merges into what the first made instead of finding it in its way.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let root_dir = held::Dir::open(root)?;
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
        None => plan_children(staged, &Arc::new(root_dir), root, policy, &mut moves)?,
        Some((last, dirs)) => {
            // Missing parents are made (mode 0777 less the umask), none is followed.
            let parent = root_dir.open_beneath(&dirs.iter().collect::<PathBuf>())?;
            let shown = root.join(rel);
            plan_entry(staged, &Arc::new(parent), last.into(), &shown, policy, &mut moves)?;
        }
    }
    for m in moves {
        if m.replace {
            rustix::fs::unlinkat(m.dst.fd(), &m.name, AtFlags::empty())
                .map_err(|e| Error::io("replace", &m.shown, e.into()))?;
        }
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &m.src,
            m.dst.fd(),
            &m.name,
            RenameFlags::NOREPLACE,
        )
        .map_err(|e| Error::io("move into place", &m.shown, e.into()))?;
    }
    Ok(())
}

fn plan_children(
    src_dir: &Path,
    dst: &Arc<held::Dir>,
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
    dst: &Arc<held::Dir>,
    name: OsString,
    shown: &Path,
    policy: Policy<'_>,
    moves: &mut Vec<Move>,
) -> Result<(), Error> {
    let there = match rustix::fs::statat(dst.fd(), &name, AtFlags::SYMLINK_NOFOLLOW) {
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
                replace: false,
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
            let sub = Arc::new(dst.open_beneath(Path::new(&name))?);
            plan_children(src, &sub, shown, policy, moves)
        }
        FileType::Directory => {
            refuse("is a directory oci-dl did not create; refusing to replace it with a file")
        }
        FileType::Symlink => {
            let same = mine.file_type().is_symlink()
                && rustix::fs::readlinkat(dst.fd(), &name, Vec::new()).is_ok_and(|t| {
                    std::fs::read_link(src).is_ok_and(|s| s.as_os_str().as_bytes() == t.as_bytes())
                });
            if same { Ok(()) } else { refuse("is a symlink; refusing to replace or follow it") }
        }
        FileType::RegularFile => {
            // The same bytes, kept only in a file that is the user's alone (else replaced).
            let same = mine.is_file() && same_content(src, dst.fd(), &name, shown)?;
            if same && dst.entry(&name)?.is_some_and(|n| n.unfit().is_none()) {
                return Ok(());
            }
            let replace = same || policy.overwrite.allows(shown, policy.obs)?;
            if replace {
                let m = Move {
                    src: src.into(),
                    dst: dst.clone(),
                    name,
                    shown: shown.into(),
                    replace: true,
                };
                moves.push(m);
            } else {
                policy
                    .obs
                    .log(Level::Info, format!("kept {} (the overwrite policy)", shown.display()));
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
fn same_content(
    src: &Path,
    dst: BorrowedFd<'_>,
    name: &OsString,
    shown: &Path,
) -> Result<bool, Error> {
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
