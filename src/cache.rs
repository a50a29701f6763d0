//! A shared cache of verified blobs, by digest: `DIR/blobs/sha256/<hex>`. Entries are written
//! to a temporary name and renamed into place, so concurrent `oci-dl` processes never see a
//! torn file; every use re-verifies the bytes, so a damaged entry is dropped, not trusted.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// A blob cache rooted at a directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
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

    /// Where `d` would be.
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir(d).join(d.hex())
    }

    /// The entry for `d`, if there is a regular file (never a symlink) for it.
    pub fn get(&self, d: &Digest) -> Option<PathBuf> {
        let p = self.path(d);
        let m = std::fs::symlink_metadata(&p).ok()?;
        if !m.is_file() {
            return None;
        }
        // The mtime records the last use, for pruning oldest-first.
        if let Ok(f) = std::fs::File::options().append(true).open(&p) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(p)
    }

    /// Add the verified file `src` as `d`: a hard link where the filesystem allows, else a copy;
    /// either way through a temporary name and an atomic rename.
    pub fn put(&self, d: &Digest, src: &Path) -> Result<(), Error> {
        let dir = self.dir(d);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create cache directory", &dir, e))?;
        let tmp = dir.join(format!(".tmp-{}-{}-{}", d.hex(), std::process::id(), unique()));
        if std::fs::hard_link(src, &tmp).is_err() {
            std::fs::copy(src, &tmp).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io("copy into the cache", &tmp, e)
            })?;
        }
        std::fs::rename(&tmp, self.path(d)).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
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
        for (i, age) in [(0u8, 300u64), (1, 100), (2, 200)] {
            let data = vec![i; 1000];
            let src = d.path().join(format!("src{i}"));
            std::fs::write(&src, &data).unwrap();
            let dg = Digest::of(Algorithm::Sha256, &data);
            cache.put(&dg, &src).unwrap();
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
