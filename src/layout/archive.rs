//! `--format oci-archive`: an OCI image layout in one tar file, as skopeo's `oci-archive:`
//! transport reads and writes it (containers/image `oci/archive`: the layout's files at the top
//! of the tar). The layout is built in a private staging directory beside the archive (with
//! what an existing archive held, every blob of it verified on the way in), tarred to a
//! temporary name and renamed over the archive: a failed pull leaves the old archive as it was.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held::{self, Dir};
use crate::retry::Cancel;

/// `oci-layout` and `index.json` in an archive are small; anything bigger is not a layout's.
const MAX_META_BYTES: u64 = 64 << 20;

/// Build a layout with `fill` in a staging directory beside `file`, then make `file` the tar
/// of it, atomically. The directory holding `file` is locked meanwhile (as a layout is), so two
/// runs adding tags to one archive take turns, and what a killed run left there is removed.
pub(crate) fn write<T>(
    file: &Path,
    cancel: &Cancel,
    obs: &dyn Observer,
    fill: impl FnOnce(&Path) -> Result<T, Error>,
) -> Result<T, Error> {
    let (parent, name) = held::parent_of(file)?;
    if parent.entry(&name)?.is_some_and(|n| n.is_dir()) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("output {} is a directory: an oci-archive is a file", file.display()),
        ));
    }
    super::lock(&parent, file, cancel, obs)?;
    remove_leftovers(&parent, &name, obs)?;
    let staging = hidden(&name, "layout");
    let staging_path = parent.show(&staging);
    rustix::fs::mkdirat(parent.fd(), &staging, rustix::fs::Mode::from_raw_mode(0o700))
        .map_err(|e| Error::io("create directory", &staging_path, e.into()))?;
    // The parent may be writable by others, who could rename the staging directory away and
    // put their own (or a symlink) at its name while the pull runs: it is held from here and
    // reached only through the handle (its /proc/self/fd path), never by its name again.
    let euid = rustix::process::geteuid().as_raw();
    let held = parent.existing_child(&staging)?.filter(|d| {
        rustix::fs::fstat(d.fd()).is_ok_and(|st| st.st_uid == euid && st.st_mode & 0o077 == 0)
    });
    let Some(held) = held else {
        return Err(Error::new(
            ErrorKind::Other,
            format!("{} was replaced as it was made", staging_path.display()),
        ));
    };
    let via_handle = PathBuf::from(format!("/proc/self/fd/{}", held.fd().as_raw_fd()));
    let result = build(file, &parent, &name, &via_handle, fill);
    // Removed by name only while the name is still the directory held.
    let still = |n: held::Node| rustix::fs::fstat(held.fd()).is_ok_and(|st| n.ino == st.st_ino);
    if parent.entry(&staging).ok().flatten().is_some_and(still) {
        let _ = std::fs::remove_dir_all(&staging_path);
    }
    result
}

/// Remove what runs killed while writing `name` left beside it: the running user's own
/// staging directories and temporary tars (no live run has any while the lock is held).
fn remove_leftovers(parent: &Dir, name: &OsStr, obs: &dyn Observer) -> Result<(), Error> {
    for n in parent.names()? {
        let ours = ["layout", "archive"].iter().any(|what| {
            let mut prefix = hidden(name, what).into_encoded_bytes();
            prefix.truncate(prefix.len() - std::process::id().to_string().len());
            let n = n.as_encoded_bytes();
            n.starts_with(&prefix) && n[prefix.len()..].iter().all(u8::is_ascii_digit)
        });
        let Some(node) = parent.entry(&n)?.filter(|node| ours && node.private()) else { continue };
        let path = parent.show(&n);
        obs.log(
            Level::Debug,
            format!("removing {}, left by a run that was killed", path.display()),
        );
        let removed = match node.is_dir() {
            true => std::fs::remove_dir_all(&path),
            false => parent.remove_file(&n),
        };
        removed.map_err(|e| Error::io("remove", &path, e))?;
    }
    Ok(())
}

/// A name beside `name` for this run's `what`, hidden and unique to the process.
fn hidden(name: &OsStr, what: &str) -> OsString {
    let mut s = OsString::from(".oci-dl-");
    s.push(what);
    s.push("-");
    s.push(name);
    s.push(format!("-{}", std::process::id()));
    s
}

fn build<T>(
    file: &Path,
    parent: &Dir,
    name: &OsStr,
    staging: &Path,
    fill: impl FnOnce(&Path) -> Result<T, Error>,
) -> Result<T, Error> {
    if let Some(old) = parent.open_existing_regular(name, false)? {
        unpack(old, file, &Dir::open(staging)?)?;
    }
    let out = fill(staging)?;
    let tmp = hidden(name, "archive");
    let written = parent
        .create_new_file(&tmp, 0o644)
        .map_err(|e| Error::io("create", &parent.show(&tmp), e))
        .and_then(|f| tar_up(staging, f, &parent.show(&tmp)));
    let renamed = written.and_then(|()| {
        parent.rename(&tmp, name).map_err(|e| Error::io("rename into place", file, e))
    });
    if let Err(e) = renamed {
        let _ = parent.remove_file(&tmp);
        return Err(e);
    }
    Ok(out)
}

/// Tar the layout at `root` into `out`: `oci-layout`, `index.json`, then the blobs in name
/// order, with fixed owners and times so that the same layout makes the same bytes.
fn tar_up(root: &Path, out: File, shown: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::io("write", shown, e);
    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    let mut names: Vec<PathBuf> = vec!["oci-layout".into(), "index.json".into()];
    let mut dirs: Vec<PathBuf> = vec!["blobs".into()];
    for alg in sorted(&root.join("blobs"))? {
        let rel = Path::new("blobs").join(&alg);
        dirs.push(rel.clone());
        names.extend(sorted(&root.join(&rel))?.into_iter().map(|h| rel.join(h)));
    }
    for d in &dirs {
        tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), d, std::io::empty())
            .map_err(io)?;
    }
    for n in &names {
        let path = root.join(n);
        let f = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let len = f.metadata().map_err(|e| Error::io("inspect", &path, e))?.len();
        tar.append_data(&mut header(tar::EntryType::Regular, 0o644, len), n, f).map_err(io)?;
    }
    let file = tar.into_inner().map_err(io)?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h
}

/// The names in the directory `dir` (none when it is missing), sorted.
fn sorted(dir: &Path) -> Result<Vec<OsString>, Error> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                out.push(e.map_err(|e| Error::io("read directory", dir, e))?.file_name());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read directory", dir, e)),
    }
    out.sort();
    Ok(out)
}

/// Unpack the layout in the existing archive `old` into `to`: only `oci-layout`, `index.json`
/// and `blobs/<alg>/<hex>` (regular files; directories are skipped), each blob verified
/// against its name. Anything else is refused: the archive is not a layout oci-dl may add to.
fn unpack(old: File, shown: &Path, to: &Dir) -> Result<(), Error> {
    let bad = |why: String| Error::new(ErrorKind::Other, format!("{}: {why}", shown.display()));
    let mut archive = tar::Archive::new(old);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let parts: Vec<&OsStr> =
            path.components().filter(|c| *c != Component::CurDir).map(|c| c.as_os_str()).collect();
        let kind = entry.header().entry_type();
        if kind.is_dir() && parts.iter().all(|p| p.to_str().is_some_and(is_layout_dir)) {
            continue;
        }
        let shown_entry = path.display().to_string();
        if !kind.is_file() {
            return Err(bad(format!("{shown_entry:?} is not a regular file")));
        }
        match parts.as_slice() {
            [n] if *n == "oci-layout" || *n == "index.json" => {
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(MAX_META_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| bad(e.to_string()))?;
                if bytes.len() as u64 > MAX_META_BYTES {
                    return Err(bad(format!(
                        "{shown_entry:?} is over the {MAX_META_BYTES}-byte cap"
                    )));
                }
                to.replace_with(n, &bytes, 0o644)?;
            }
            [b, alg, hex] if *b == "blobs" => {
                let digest: Digest = format!("{}:{}", alg.to_string_lossy(), hex.to_string_lossy())
                    .parse()
                    .map_err(|_| bad(format!("{shown_entry:?} is not named by a digest")))?;
                copy_blob(&mut entry, &digest, to, shown)?;
            }
            _ => return Err(bad(format!("{shown_entry:?} is not part of an OCI image layout"))),
        }
    }
    Ok(())
}

fn is_layout_dir(part: &str) -> bool {
    part == "blobs" || part == "sha256" || part == "sha512"
}

/// Copy one blob out of the old archive, hashing it; a blob that is not its digest is refused.
fn copy_blob(entry: &mut impl Read, digest: &Digest, to: &Dir, shown: &Path) -> Result<(), Error> {
    let dir = to.open_beneath(&Path::new("blobs").join(digest.algorithm().name()))?;
    let name = OsStr::new(digest.hex());
    let path = dir.show(name);
    let mut file = dir.create_new_file(name, 0o644).map_err(|e| Error::io("create", &path, e))?;
    let mut hasher = digest.algorithm().hasher();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = entry.read(&mut buf).map_err(|e| Error::io("read", shown, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(|e| Error::io("write", &path, e))?;
    }
    let got = hasher.finish();
    if &got != digest {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{}: blob {digest} hashes to {got}", shown.display()),
        ));
    }
    Ok(())
}
