//! A shared cache of verified blobs, by digest: `DIR/blobs/sha256/<hex>`. Entries are written
//! to a temporary name and renamed into place, so concurrent `oci-dl` processes never see a
//! torn file; every use re-verifies the bytes, so a damaged entry is dropped, not trusted. Below
//! `DIR` nothing follows a symlink, and only regular files are used.

use std::ffi::{OsStr, OsString};
use std::fs::File;
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
}

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
        // The mtime records the last use, for pruning oldest-first.
        let _ = file.set_modified(SystemTime::now());
        Some(Entry { path: dir.show(&name), dir, name, file })
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
        dir.rename(&tmp, OsStr::new(d.hex())).map_err(|e| {
            let _ = dir.remove_file(&tmp);
            Error::io("add to the cache", &self.path(d), e)
        })
    }

    /// Drop the entry for `d` (it failed verification).
    pub fn remove(&self, d: &Digest) {
        let _ = std::fs::remove_file(self.path(d));
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
                    entries.push((
                        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        m.len(),
                        e.path(),
                    ));
                }
            }
        }
        entries.sort();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let mut pruned = Pruned { removed: 0, freed: 0, kept: 0 };
        for (_, len, path) in entries {
            if total <= max_bytes {
                pruned.kept += len;
                continue;
            }
            std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
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
}
