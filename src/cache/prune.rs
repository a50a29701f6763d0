//! `cache prune`: delete the least recently used entries. The cache is walked from its root
//! through held directory handles; a symlink where a directory should be stops the prune before
//! anything is deleted, and only names that are digests (or records of outputs) are touched,
//! each removed relative to the directory held when it was listed.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Cache, outputs};
use crate::digest::Algorithm;
use crate::error::Error;
use crate::held::{Dir, Node, TEMP_PREFIX};

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

/// Records of verified outputs not used for this long are dropped by any prune.
const RECORD_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// A temporary name older than this is a killed run's leftover: a live run renames its
/// temporary file within moments of creating it.
const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

/// One algorithm's entries and stamps, held.
struct Held {
    blobs: Dir,
    stamps: Option<Dir>,
}

/// One entry: when last used, its size, which [`Held`] and its name there.
type Candidate = (SystemTime, u64, usize, OsString);

/// Whether `name` is a digest's hex for `a`: the right length, lowercase hex only.
pub(super) fn is_hex(name: &OsStr, a: Algorithm) -> bool {
    let b = name.as_encoded_bytes();
    b.len() == a.hex_len() && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn time((s, ns): (i64, u32)) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(s.max(0) as u64, ns)
}

impl Cache {
    /// Delete least recently used entries (blobs and kept manifests) until the cache holds at
    /// most `max_bytes`; also drop the records of verified outputs and of tags unused for 30
    /// days (all of them when `max_bytes` is 0).
    pub fn prune(&self, max_bytes: u64) -> Result<Pruned, Error> {
        let none = Pruned { removed: 0, freed: 0, kept: 0 };
        let Some(root) = self.open_root() else { return Ok(none) };
        let (held, mut entries) = list(&root)?;
        // Opened before anything is deleted, so that a symlink there stops the prune first too.
        let stamps = stamp_dirs(&root)?;
        entries.sort();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let mut pruned = none;
        for (_, len, at, name) in entries {
            if total <= max_bytes {
                pruned.kept += len;
                continue;
            }
            let h = &held[at];
            h.blobs.remove_file(&name).map_err(|e| Error::io("remove", &h.blobs.show(&name), e))?;
            if let Some(s) = &h.stamps {
                let _ = s.remove_file(&name);
            }
            total -= len;
            pruned.removed += 1;
            pruned.freed += len;
        }
        for h in &held {
            sweep_leftovers(&h.blobs)?;
        }
        for s in &stamps {
            sweep_leftovers(&s.stamps)?;
            drop_orphan_stamps(s)?;
        }
        let cutoff = if max_bytes == 0 { None } else { SystemTime::now().checked_sub(RECORD_AGE) };
        if let Some(dir) = root.existing_child(OsStr::new(outputs::DIR))? {
            sweep_leftovers(&dir)?;
            for name in dir.names()?.into_iter().filter(|n| outputs::is_key(n)) {
                let used = dir.entry(&name)?.filter(Node::is_file).map(|n| time(n.mtime));
                if used.is_some_and(|u| cutoff.is_none_or(|c| u < c)) {
                    let _ = dir.remove_file(&name);
                }
            }
        }
        // What tags last named, by the same rule (a record is renamed into place when written).
        if let Some(dir) = root.existing_child(OsStr::new("tags"))? {
            sweep_leftovers(&dir)?;
            for name in dir.names()?.into_iter().filter(|n| is_hex(n, Algorithm::Sha256)) {
                let used = dir.entry(&name)?.filter(Node::is_file).map(|n| time(n.mtime));
                if used.is_some_and(|u| cutoff.is_none_or(|c| u < c)) {
                    let _ = dir.remove_file(&name);
                }
            }
        }
        Ok(pruned)
    }
}

/// Remove the temporary files killed runs left in `dir` (a day old, regular, and ours alone by
/// the one ownership rule; another user's are left to them).
fn sweep_leftovers(dir: &Dir) -> Result<(), Error> {
    let Some(old) = SystemTime::now().checked_sub(LEFTOVER_AGE) else { return Ok(()) };
    let temps = dir
        .names()?
        .into_iter()
        .filter(|n| n.as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes()));
    for name in temps {
        if let Some(node) = dir.entry(&name)?.filter(|n| n.unfit().is_none() && time(n.mtime) < old)
        {
            let _ = node;
            let _ = dir.remove_file(&name);
        }
    }
    Ok(())
}

/// One algorithm's stamps, and its entries if that directory is there at all.
struct Stamps {
    stamps: Dir,
    entries: Option<Dir>,
    algorithm: Algorithm,
}

/// Every algorithm's stamps directory below `root`, held.
fn stamp_dirs(root: &Dir) -> Result<Vec<Stamps>, Error> {
    let Some(stamps) = root.existing_child(OsStr::new("stamps"))? else { return Ok(Vec::new()) };
    let blobs = root.existing_child(OsStr::new("blobs"))?;
    let mut dirs = Vec::new();
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let name = OsStr::new(algorithm.name());
        let Some(dir) = stamps.existing_child(name)? else { continue };
        let entries = match &blobs {
            Some(b) => b.existing_child(name)?,
            None => None,
        };
        dirs.push(Stamps { stamps: dir, entries, algorithm });
    }
    Ok(dirs)
}

/// Remove the stamps of entries that are gone (deleted by hand, one by one or with their whole
/// directory, or by a run that found them corrupt before it could drop the stamp), ours alone
/// as for leftovers. A run adding an entry stamps it only after the entry is in place, and a
/// lost stamp costs one hash.
fn drop_orphan_stamps(s: &Stamps) -> Result<(), Error> {
    for name in s.stamps.names()?.into_iter().filter(|n| is_hex(n, s.algorithm)) {
        let ours = s.stamps.entry(&name)?.is_some_and(|n| n.unfit().is_none());
        let gone = match &s.entries {
            Some(e) => e.entry(&name)?.is_none(),
            None => true,
        };
        if ours && gone {
            let _ = s.stamps.remove_file(&name);
        }
    }
    Ok(())
}

/// Every entry below `root`, with the directories that hold them.
fn list(root: &Dir) -> Result<(Vec<Held>, Vec<Candidate>), Error> {
    let (mut held, mut entries) = (Vec::new(), Vec::new());
    let Some(blobs) = root.existing_child(OsStr::new("blobs"))? else {
        return Ok((held, entries));
    };
    let stamps = root.existing_child(OsStr::new("stamps"))?;
    for a in [Algorithm::Sha256, Algorithm::Sha512] {
        let Some(dir) = blobs.existing_child(OsStr::new(a.name()))? else { continue };
        let sdir = match &stamps {
            Some(s) => s.existing_beneath(Path::new(a.name()))?,
            None => None,
        };
        for name in dir.names()?.into_iter().filter(|n| is_hex(n, a)) {
            let Some(node) = dir.entry(&name)?.filter(Node::is_file) else { continue };
            let stamp = match &sdir {
                Some(s) => s.entry(&name)?.filter(Node::is_file),
                None => None,
            };
            let used = time(stamp.map_or(node.mtime, |s| s.mtime));
            entries.push((used, node.size, held.len(), name));
        }
        held.push(Held { blobs: dir, stamps: sdir });
    }
    // Manifests kept for re-pulls count and go the same way, least recently written first.
    if let Some(manifests) = root.existing_child(OsStr::new("manifests"))? {
        for a in [Algorithm::Sha256, Algorithm::Sha512] {
            let Some(dir) = manifests.existing_child(OsStr::new(a.name()))? else { continue };
            for name in dir.names()?.into_iter().filter(|n| is_hex(n, a)) {
                let Some(node) = dir.entry(&name)?.filter(Node::is_file) else { continue };
                entries.push((time(node.mtime), node.size, held.len(), name));
            }
            held.push(Held { blobs: dir, stamps: None });
        }
    }
    Ok((held, entries))
}
