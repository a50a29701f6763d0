//! A shared cache of verified blobs, by digest: `DIR/blobs/sha256/<hex>`. Entries are written
//! to a temporary name and renamed into place, so concurrent `oci-dl` processes never see a
//! torn file. Every path into the cache is walked from the root through held directory handles
//! without following a symlink (`held`), only names that are digests are touched, and only
//! regular files are used.
//!
//! An entry is a file of its own: it is filled by a copy (a reflink where the filesystem offers
//! one), never a hard link, and so is every file a pull makes from it.
//!
//! An entry gets a stamp, `DIR/stamps/sha256/<hex>`, when a use hashed it to its digest and
//! nothing changed it meanwhile: its digest, device, inode, size, modification and change times.
//! The stamp is trusted — the entry used without hashing it again, as containerd trusts its
//! content store — only while it still matches and the entry, the stamp and every directory
//! above them up to the cache root belong to the running user and nobody else may write them
//! (`held::Node::private`, the rule `.part` files follow). Any other entry is hashed in full on
//! its copy, and dropped if it is damaged. The stamp's own mtime records the last use, for
//! pruning; the entry's is left alone so the stamp stays true.
//!
//! `outputs` (in `outputs.rs`) remembers, under the same rules, which output file last verified
//! as which digest, so that a re-pull into the same directory need not hash it again.

mod outputs;
mod prune;
mod tags;

pub(crate) use tags::manifest_dir;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, ErrorKind};
use crate::held::{self, Dir, Node};
pub use prune::Pruned;

/// A blob cache rooted at a directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// A cache entry, open for reading: the file and where it is.
pub(crate) struct Entry {
    pub dir: Dir,
    pub name: OsString,
    pub file: File,
    /// For messages.
    pub path: PathBuf,
    /// Unchanged since its bytes last verified, and nobody else could have changed it or its
    /// stamp (see the module overview).
    pub verified: bool,
}

/// A stamp or a record is at most this long; anything longer is not ours.
const MAX_STAMP: u64 = 256;

/// Directories the cache creates: never writable by group or others, whatever the umask, so
/// that its stamps can be trusted.
const DIR_MODE: u32 = 0o755;

/// A file last changed less than this long before it was looked at may still be written within
/// the same timestamp tick without moving its times (coarse timestamps; git's "racy" entries):
/// it is not stamped.
const SETTLED: std::time::Duration = std::time::Duration::from_millis(100);

/// What a stamp (or a record) says about the file `n` that hashed to `d`: which file, what
/// size, when last written and changed (`ctime` cannot be set back by a user).
fn record(d: &Digest, n: &Node) -> String {
    let (m, c) = (n.mtime, n.ctime);
    format!("v2 {d} {} {} {} {}.{} {}.{}\n", n.dev, n.ino, n.size, m.0, m.1, c.0, c.1)
}

/// Read a small file oci-dl wrote (a stamp, a record), if it is the running user's alone.
fn read_small(dir: &Dir, name: &OsStr) -> Option<String> {
    let file = dir.open_existing_regular(name, false).ok()??;
    let node = Node::of_file(&file).ok()?;
    if !dir.private() || node.unfit().is_some() {
        return None;
    }
    let _ = file.set_modified(SystemTime::now()); // the last use, for pruning
    let mut got = String::new();
    file.take(MAX_STAMP).read_to_string(&mut got).ok()?;
    Some(got)
}

/// A file's state before it is hashed, to record it only if nothing changed it meanwhile.
pub(crate) struct Before(Option<Node>);

impl Before {
    /// Look at `file` before hashing it: only a settled file can be recorded (see [`SETTLED`]).
    pub(crate) fn settled(file: &File) -> Before {
        let Ok(n) = Node::of_file(file) else { return Before(None) };
        let now = SystemTime::now();
        let at = |(s, ns): (i64, u32)| {
            let t = std::time::Duration::new(s.max(0) as u64, ns);
            SystemTime::UNIX_EPOCH.checked_add(t).unwrap_or(now)
        };
        let age = |t| now.duration_since(at(t)).is_ok_and(|age| age >= SETTLED);
        Before((age(n.mtime) && age(n.ctime)).then_some(n))
    }

    /// A file oci-dl has just written and verified itself: nobody else could have written it
    /// (it is checked to be [`Node::private`] when recorded).
    pub(crate) fn ours(file: &File) -> Before {
        Before(Node::of_file(file).ok())
    }

    /// The file's state now, if it is as it was.
    fn unchanged(self, file: &File) -> Option<Node> {
        let now = Node::of_file(file).ok()?;
        self.0.filter(|b| *b == now)
    }
}

impl Cache {
    /// A cache in `root` (created when the first blob is added).
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// `$XDG_CACHE_HOME/oci-dl`, else `~/.cache/oci-dl`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .map(|d| d.join("oci-dl"))
    }

    /// The directory it lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn rel_dir(a: Algorithm) -> PathBuf {
        Path::new("blobs").join(a.name())
    }

    fn stamp_dir(a: Algorithm) -> PathBuf {
        Path::new("stamps").join(a.name())
    }

    /// Where `d` would be.
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join(Cache::rel_dir(d.algorithm())).join(d.hex())
    }

    /// The root, held; `None` when there is no cache yet (nothing is created).
    fn open_root(&self) -> Option<Dir> {
        std::fs::metadata(&self.root)
            .is_ok_and(|m| m.is_dir())
            .then(|| Dir::open(&self.root).ok())?
    }

    /// The directory `rel` below the root, created (mode [`DIR_MODE`]) if missing.
    fn make_dir(&self, rel: &Path) -> Result<Dir, Error> {
        held::make_dir_all(&self.root, DIR_MODE)?;
        Dir::open(&self.root)?.open_beneath_with(rel, DIR_MODE)
    }

    /// The directory `rel` below the root, if it exists.
    fn existing_dir(&self, rel: &Path) -> Option<Dir> {
        self.open_root()?.existing_beneath(rel).ok()?
    }

    /// The entry for `d`, if there is a regular file (never a symlink) for it.
    pub(crate) fn get(&self, d: &Digest) -> Option<Entry> {
        let dir = self.existing_dir(&Cache::rel_dir(d.algorithm()))?;
        let name = OsString::from(d.hex());
        let file = dir.open_existing_regular(&name, false).ok()??;
        let node = Node::of_file(&file).ok()?;
        // The last use, for pruning oldest-first, goes on the stamp (`read_small`): touching
        // the entry would make its stamp untrue.
        let stamp = self
            .existing_dir(&Cache::stamp_dir(d.algorithm()))
            .and_then(|sd| read_small(&sd, &name));
        let trusted = dir.private() && node.unfit().is_none();
        let verified = trusted && stamp.is_some_and(|s| s == record(d, &node));
        Some(Entry { path: dir.show(&name), dir, name, file, verified })
    }

    /// Record that `file`, the entry for `d`, hashed to `d` — only if it is as it was `before`
    /// the hash (a write during the hash moved its times) and was settled then.
    pub(crate) fn stamp(&self, d: &Digest, file: &File, before: Before) -> Result<(), Error> {
        let Some(node) = before.unchanged(file) else { return Ok(()) };
        let dir = self.make_dir(&Cache::stamp_dir(d.algorithm()))?;
        dir.replace_with(OsStr::new(d.hex()), record(d, &node).as_bytes(), 0o644)
    }

    /// Add the verified file `file` (`path` names it in messages) as `d`: a copy of its own
    /// (a reflink where the filesystem offers one), through a temporary name and an atomic
    /// rename.
    pub(crate) fn put(&self, d: &Digest, file: &File, path: &Path) -> Result<(), Error> {
        let dir = self.make_dir(&Cache::rel_dir(d.algorithm()))?;
        let tmp = held::temp_name(OsStr::new(d.hex()));
        held::copy(file, path, &dir, &tmp)?;
        // Not stamped: the download hashed the bytes it wrote, not what the file holds now. The
        // first use hashes the entry and stamps it.
        dir.rename(&tmp, OsStr::new(d.hex())).map_err(|e| {
            let _ = dir.remove_file(&tmp);
            Error::io("add to the cache", &self.path(d), e)
        })
    }

    /// Keep `bytes`, already verified as `d`, as the entry for `d`: a signature or a Sigstore
    /// bundle read into memory rather than downloaded, so that `--offline` finds what an online
    /// check read (and checks it again from scratch). An entry of that size already there is left
    /// as it is (and its stamp with it); like any download, the new entry is not stamped.
    pub(crate) fn put_bytes(&self, d: &Digest, bytes: &[u8]) -> Result<(), Error> {
        let dir = self.make_dir(&Cache::rel_dir(d.algorithm()))?;
        let name = OsStr::new(d.hex());
        if dir.entry(name)?.is_some_and(|n| n.is_file() && n.size == bytes.len() as u64) {
            return Ok(());
        }
        dir.replace_with(name, bytes, 0o644)
    }

    /// Drop `entry` (it failed verification), if its name still holds it, and its stamp.
    pub(crate) fn drop_entry(&self, d: &Digest, entry: &Entry) {
        let ours = Node::of_file(&entry.file).ok();
        if let (Some(ours), Ok(Some(now))) = (ours, entry.dir.entry(&entry.name))
            && ours.same(&now)
        {
            let _ = entry.dir.remove_file(&entry.name);
        }
        if let Some(sd) = self.existing_dir(&Cache::stamp_dir(d.algorithm())) {
            let _ = sd.remove_file(OsStr::new(d.hex()));
        }
    }

    /// Drop the entry for `d` and its stamp, whatever they hold.
    pub fn remove(&self, d: &Digest) {
        for rel in [Cache::rel_dir(d.algorithm()), Cache::stamp_dir(d.algorithm())] {
            if let Some(dir) = self.existing_dir(&rel) {
                let _ = dir.remove_file(OsStr::new(d.hex()));
            }
        }
    }
}

/// Parse `10G`, `500M`, `2048` (bytes); binary units.
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = t[i..].to_ascii_lowercase();
            let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
                "" => 1,
                "k" => 1 << 10,
                "m" => 1 << 20,
                "g" => 1 << 30,
                "t" => 1 << 40,
                _ => {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!("invalid size {s:?}: unknown unit {unit:?}"),
                    ));
                }
            };
            (&t[..i], mult)
        }
        None => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::new(ErrorKind::Usage, format!("invalid size {s:?}")))?;
    if !n.is_finite() || n < 0.0 {
        return Err(Error::new(ErrorKind::Usage, format!("invalid size {s:?}")));
    }
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests;
