//! A shared cache of verified blobs, by digest: `DIR/blobs/sha256/<hex>`. Entries are written
//! to a temporary name and renamed into place, so concurrent `oci-dl` processes never see a
//! torn file. Below `DIR` nothing follows a symlink, and only regular files are used.
//!
//! An entry gets a stamp, `DIR/stamps/sha256/<hex>`, when a use hashed it to its digest and
//! nothing wrote to it meanwhile: its device, inode, size and modification time. An entry whose
//! stamp still matches has not been written since (any write moves the mtime) and is used
//! without hashing it again, as containerd trusts its content store; any other entry is hashed
//! in full, and dropped if it is damaged. The stamp's own mtime records the last use, for pruning; the
//! entry's is left alone so the stamp stays true.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::fsx::{self, Dir};

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
    /// Unchanged since its bytes last verified (its stamp matches).
    pub verified: bool,
}

/// A stamp is at most this long; anything longer is not ours.
const MAX_STAMP: u64 = 256;

/// A file last written less than this long before it was looked at may still be written within
/// the same timestamp tick without moving its mtime (coarse timestamps; git's "racy" entries):
/// it is not stamped.
const SETTLED: std::time::Duration = std::time::Duration::from_millis(100);

/// What an entry's stamp records: where and what it is, and when it was last written.
fn record(m: &std::fs::Metadata) -> String {
    format!("v1 {} {} {} {} {}\n", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec())
}

fn stamp_of(file: &File) -> Option<String> {
    file.metadata().ok().map(|m| record(&m))
}

/// An entry's state before it is hashed, to stamp only if nothing wrote to it meanwhile.
pub(crate) struct Before(Option<String>);

/// What [`Cache::prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Blobs deleted.
    pub removed: u64,
    /// Bytes freed.
    pub freed: u64,
    /// Bytes still cached.
    pub kept: u64,
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

    fn dir(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm().name())
    }

    fn rel_dir(d: &Digest) -> PathBuf {
        Path::new("blobs").join(d.algorithm().name())
    }

    fn stamp_dir(d: &Digest) -> PathBuf {
        Path::new("stamps").join(d.algorithm().name())
    }

    /// Where `d` would be.
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir(d).join(d.hex())
    }

    /// The entry for `d`, if there is a regular file (never a symlink) for it.
    pub(crate) fn get(&self, d: &Digest) -> Option<Entry> {
        if !std::fs::symlink_metadata(self.path(d)).is_ok_and(|m| m.is_file()) {
            return None; // without creating the cache's directories on a miss
        }
        let dir = fsx::open_beneath(&self.root, &Cache::rel_dir(d)).ok()?;
        let name = OsString::from(d.hex());
        let file = dir.open_existing_regular(&name, false).ok()??;
        let stamp = fsx::open_beneath(&self.root, &Cache::stamp_dir(d))
            .ok()
            .and_then(|sd| sd.open_existing_regular(&name, false).ok().flatten());
        let verified = stamp.as_ref().is_some_and(|st| {
            let mut got = String::new();
            let read = st.take(MAX_STAMP).read_to_string(&mut got).is_ok();
            read && stamp_of(&file).is_some_and(|want| want == got)
        });
        // The last use, for pruning oldest-first, goes on the stamp: touching the entry would
        // make its stamp untrue (an entry without one is stamped by this use, or keeps its age).
        if let Some(st) = &stamp {
            let _ = st.set_modified(SystemTime::now());
        }
        Some(Entry { path: dir.show(&name), dir, name, file, verified })
    }

    /// Look at the entry `file` before hashing it (see [`Cache::stamp`]).
    pub(crate) fn before(file: &File) -> Before {
        let Ok(m) = file.metadata() else { return Before(None) };
        let settled = m.modified().is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= SETTLED));
        Before(settled.then(|| record(&m)))
    }

    /// Record that `file`, the entry for `d`, hashed to `d` — only if it is as it was `before`
    /// the hash (a write during the hash moved its mtime) and was settled then.
    pub(crate) fn stamp(&self, d: &Digest, file: &File, before: Before) -> Result<(), Error> {
        let Some(stamp) = before.0.filter(|b| stamp_of(file).as_ref() == Some(b)) else {
            return Ok(());
        };
        let dir = fsx::open_beneath(&self.root, &Cache::stamp_dir(d))?;
        dir.replace_with(OsStr::new(d.hex()), stamp.as_bytes(), 0o644)
    }

    /// Add the verified file `file`, open as `name` in `from`, as `d`: a hard link where the
    /// filesystem allows, else a copy; either way through a temporary name and an atomic rename.
    pub(crate) fn put(
        &self,
        d: &Digest,
        from: &Dir,
        name: &OsStr,
        file: &File,
    ) -> Result<(), Error> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("create cache directory", &self.root, e))?;
        let dir = fsx::open_beneath(&self.root, &Cache::rel_dir(d))?;
        let tmp = OsString::from(format!(".tmp-{}-{}-{}", d.hex(), std::process::id(), unique()));
        fsx::place(from, name, file, &dir, &tmp)?;
        // Not stamped: the download hashed the bytes it wrote, not what the file holds now. The
        // first use hashes the entry and stamps it.
        dir.rename(&tmp, OsStr::new(d.hex())).map_err(|e| {
            let _ = dir.remove_file(&tmp);
            Error::io("add to the cache", &self.path(d), e)
        })
    }

    /// Drop the entry for `d` (it failed verification).
    pub fn remove(&self, d: &Digest) {
        let _ = std::fs::remove_file(self.path(d));
        let _ = std::fs::remove_file(self.root.join(Cache::stamp_dir(d)).join(d.hex()));
    }

    /// Delete least recently used entries until the cache holds at most `max_bytes`.
    pub fn prune(&self, max_bytes: u64) -> Result<Pruned, Error> {
        let mut entries = Vec::new();
        let blobs = self.root.join("blobs");
        let algs = match std::fs::read_dir(&blobs) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Pruned { removed: 0, freed: 0, kept: 0 });
            }
            Err(e) => return Err(Error::io("read", &blobs, e)),
        };
        for alg in algs.flatten() {
            for e in std::fs::read_dir(alg.path())
                .map_err(|e| Error::io("read", &alg.path(), e))?
                .flatten()
            {
                let Ok(m) = e.metadata() else { continue };
                if m.is_file() {
                    let stamp = self.root.join("stamps").join(alg.file_name()).join(e.file_name());
                    let used = std::fs::symlink_metadata(&stamp)
                        .and_then(|s| s.modified())
                        .or_else(|_| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    entries.push((used, m.len(), e.path(), stamp));
                }
            }
        }
        entries.sort();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let mut pruned = Pruned { removed: 0, freed: 0, kept: 0 };
        for (_, len, path, stamp) in entries {
            if total <= max_bytes {
                pruned.kept += len;
                continue;
            }
            std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            let _ = std::fs::remove_file(stamp);
            total -= len;
            pruned.removed += 1;
            pruned.freed += len;
        }
        Ok(pruned)
    }
}

fn unique() -> u128 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
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
mod tests {
    use std::io::Write;

    use super::*;
    use crate::digest::Algorithm;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2048").unwrap(), 2048);
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("1.5MiB").unwrap(), 3 << 19);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5Q").is_err());
    }

    #[test]
    fn put_get_and_prune_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path().join("c"));
        let mut digests = Vec::new();
        let here = Dir::open(d.path()).unwrap();
        for (i, age) in [(0u8, 300u64), (1, 100), (2, 200)] {
            let data = vec![i; 1000];
            let name = format!("src{i}");
            std::fs::write(d.path().join(&name), &data).unwrap();
            let src = File::open(d.path().join(&name)).unwrap();
            let dg = Digest::of(Algorithm::Sha256, &data);
            cache.put(&dg, &here, OsStr::new(&name), &src).unwrap();
            let f = std::fs::File::options().append(true).open(cache.path(&dg)).unwrap();
            f.set_modified(SystemTime::now() - std::time::Duration::from_secs(age)).unwrap();
            digests.push(dg);
        }
        assert!(cache.get(&digests[1]).is_some());
        let p = cache.prune(2000).unwrap();
        assert_eq!((p.removed, p.freed, p.kept), (1, 1000, 2000));
        assert!(
            std::fs::metadata(cache.path(&digests[0])).is_err(),
            "the least recently used went first"
        );
        assert!(cache.get(&digests[2]).is_some());
        assert_eq!(cache.prune(0).unwrap().removed, 2);
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir(&digests[0])).unwrap().collect();
        assert!(leftovers.is_empty(), "no temporary files left");
    }

    #[test]
    fn an_entry_is_verified_only_while_its_stamp_holds() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path().join("c"));
        let here = Dir::open(d.path()).unwrap();
        let data = vec![7u8; 4096];
        std::fs::write(d.path().join("src"), &data).unwrap();
        let dg = Digest::of(Algorithm::Sha256, &data);
        cache
            .put(&dg, &here, OsStr::new("src"), &File::open(d.path().join("src")).unwrap())
            .unwrap();
        let e = cache.get(&dg).unwrap();
        assert!(!e.verified, "not stamped when added: the download hashed its buffers");
        let fresh = Cache::before(&e.file);
        cache.stamp(&dg, &e.file, fresh).unwrap();
        assert!(!cache.get(&dg).unwrap().verified, "written just now: not settled yet");
        std::thread::sleep(SETTLED);
        let e = cache.get(&dg).unwrap();
        let before = Cache::before(&e.file);
        cache.stamp(&dg, &e.file, before).unwrap();
        assert!(cache.get(&dg).unwrap().verified, "stamped after a settled hash");
        assert!(cache.get(&dg).unwrap().verified, "a use leaves the stamp true");
        // A write in place (through the hard-linked source, as a user editing the output would)
        // moves the mtime: the entry must be hashed again.
        let write = |b: &[u8]| {
            let mut f = std::fs::OpenOptions::new().write(true).open(d.path().join("src")).unwrap();
            f.write_all(b).unwrap();
        };
        write(b"x");
        let e = cache.get(&dg).unwrap();
        assert!(!e.verified, "written since its stamp");
        std::thread::sleep(SETTLED);
        let before = Cache::before(&e.file);
        write(b"y"); // while it is hashed
        cache.stamp(&dg, &e.file, before).unwrap();
        assert!(!cache.get(&dg).unwrap().verified, "written during the hash: not stamped");
        std::thread::sleep(SETTLED);
        let e = cache.get(&dg).unwrap();
        let before = Cache::before(&e.file);
        cache.stamp(&dg, &e.file, before).unwrap();
        assert!(cache.get(&dg).unwrap().verified);
        std::fs::write(d.path().join("c/stamps/sha256").join(dg.hex()), b"v1 1 2 3 4 5\n").unwrap();
        assert!(!cache.get(&dg).unwrap().verified, "a stamp of another file");
        cache.remove(&dg);
        assert!(cache.get(&dg).is_none());
        assert!(!d.path().join("c/stamps/sha256").join(dg.hex()).exists(), "its stamp went too");
    }
}
