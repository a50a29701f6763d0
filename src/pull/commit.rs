//! The archives of one pull move into place together. Each is unpacked into staging while it
//! downloads; only once every selected layer is done are the staged trees held against each
//! other and committed, in manifest order. Two archives that would write one path with other
//! content (or a file where the other has a directory) are both refused, whatever `--overwrite`
//! says: which one lands must never depend on which finished downloading first.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{PullRequest, report};
use crate::error::{Error, ErrorKind};
use crate::events::{Event, FileReport, FileStatus, Observer};
use crate::extract::{Policy, Staged, StagedEntry};
use crate::manifest::Descriptor;

/// An archive layer unpacked into staging, waiting for [`commit_all`].
pub(super) struct Pending {
    pub index: usize,
    pub name: String,
    pub layer: Descriptor,
    pub staged: Staged,
    /// Where it unpacks: `root/rel` (`rel` empty: merged into `root`).
    pub root: PathBuf,
    pub rel: PathBuf,
    /// Paths other layers of the pull claim: never replaced.
    pub others: HashSet<PathBuf>,
}

/// What one layer's work left: a file in place, or an archive waiting to be committed.
pub(super) enum Landed {
    Done(FileReport),
    Unpacked(Box<Pending>),
}

/// Where a staged entry of `p` lands.
fn target(p: &Pending, e: &StagedEntry) -> PathBuf {
    let mut t = if p.rel.as_os_str().is_empty() { p.root.clone() } else { p.root.join(&p.rel) };
    if !e.rel.as_os_str().is_empty() {
        t = t.join(&e.rel);
    }
    t
}

/// Commit every pending archive that no other one contradicts; refuse each that one does.
/// Returns each archive's outcome by its layer's index.
pub(super) fn commit_all(
    req: &PullRequest,
    pending: Vec<Pending>,
    obs: &dyn Observer,
) -> Vec<(usize, Result<FileReport, Error>)> {
    let mut out = Vec::new();
    let mut listed: Vec<(Pending, Vec<StagedEntry>)> = Vec::new();
    for p in pending {
        match p.staged.entries() {
            Ok(entries) => listed.push((p, entries)),
            Err(e) => out.push((p.index, Err(e.context(&p.name)))),
        }
    }
    let refused = contradictions(&listed);
    for (p, _) in listed {
        let r = match refused.get(&p.index) {
            Some(why) => Err(Error::new(ErrorKind::Conflict, why.clone())),
            None => {
                let policy = Policy { overwrite: req.overwrite, obs, claimed: Some(&p.others) };
                let dest = p.root.join(&p.rel);
                p.staged.commit(&p.root, &p.rel, policy).map_err(|e| e.context(&p.name)).map(|()| {
                    obs.event(&Event::Finished {
                        index: p.index,
                        name: &p.name,
                        path: &dest,
                        digest: &p.layer.digest,
                        size: p.layer.size,
                        status: FileStatus::Extracted,
                    });
                    report(&dest, &p.layer, FileStatus::Extracted)
                })
            }
        };
        if let Err(e) = &r {
            obs.event(&Event::Failed { index: p.index, name: &p.name, error: e });
        }
        out.push((p.index, r));
    }
    out
}

/// Each archive that another contradicts, with why it is refused.
fn contradictions(listed: &[(Pending, Vec<StagedEntry>)]) -> HashMap<usize, String> {
    let mut at: HashMap<PathBuf, (usize, &StagedEntry)> = HashMap::new();
    let mut refused = HashMap::new();
    let mut refuse = |a: usize, b: usize, path: &Path| {
        let (pa, pb) = (&listed[a].0, &listed[b].0);
        let shown = path.strip_prefix(&pa.root).unwrap_or(path);
        let why = |me: &Pending, other: &Pending| {
            format!(
                "{}: unpacks {shown:?}, as {} does, with other content; neither archive was unpacked: pull them one at a time with a filter",
                me.name, other.name
            )
        };
        refused.entry(pa.index).or_insert_with(|| why(pa, pb));
        refused.entry(pb.index).or_insert_with(|| why(pb, pa));
    };
    for (i, (p, entries)) in listed.iter().enumerate() {
        for e in entries {
            let path = target(p, e);
            match at.get(&path) {
                Some((j, other)) if *j != i && !same(other, e) => refuse(*j, i, &path),
                Some(_) => {}
                None => {
                    at.insert(path, (i, e));
                }
            }
        }
    }
    // A file (or link) of one archive where another puts a directory's contents.
    for (i, (p, entries)) in listed.iter().enumerate() {
        for e in entries {
            let path = target(p, e);
            for up in path.ancestors().skip(1) {
                if let Some((j, other)) = at.get(up)
                    && *j != i
                    && !other.dir
                {
                    refuse(*j, i, &path);
                }
            }
        }
    }
    refused
}

/// Whether two staged entries for one path agree: both directories, or the same link target,
/// or files of the same bytes (release archives for several platforms share a LICENSE).
fn same(a: &StagedEntry, b: &StagedEntry) -> bool {
    if a.dir || b.dir {
        return a.dir && b.dir;
    }
    let (Ok(ma), Ok(mb)) = (std::fs::symlink_metadata(&a.at), std::fs::symlink_metadata(&b.at))
    else {
        return false;
    };
    if ma.file_type().is_symlink() || mb.file_type().is_symlink() {
        return ma.file_type().is_symlink()
            && mb.file_type().is_symlink()
            && std::fs::read_link(&a.at).ok() == std::fs::read_link(&b.at).ok();
    }
    use std::os::unix::fs::PermissionsExt;
    if !ma.is_file() || !mb.is_file() || ma.len() != mb.len() {
        return false;
    }
    if ma.permissions().mode() & 0o111 != mb.permissions().mode() & 0o111 {
        return false;
    }
    same_bytes(&a.at, &b.at).unwrap_or(false)
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let (na, nb) = (read_full(&mut fa, &mut ba)?, read_full(&mut fb, &mut bb)?);
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

/// Read until `buf` is full or the file ends.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
