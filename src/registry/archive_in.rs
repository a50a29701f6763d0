//! An OCI layout handed over as a tar (`skopeo copy … oci-archive:FILE.tar`, `pull --format
//! oci-archive`): its `oci-layout`, `index.json` and `blobs/<alg>/<hex>` members are unpacked
//! into a private directory (mode 0700, removed when the store is dropped), which is then read as
//! any layout. The tar is untrusted: only those names, as regular files, are taken — no link,
//! no other path — and every blob is still verified against its digest when it is used.

use std::fs::{DirBuilder, File};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// A private directory holding an unpacked layout; removed on drop.
#[derive(Debug)]
pub(super) struct Unpacked {
    pub dir: PathBuf,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The member path `name` as the layout relative path it may be (`./` prefixes allowed), or
/// `None` for anything else: only `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
fn layout_member(name: &Path) -> Option<PathBuf> {
    let text = name.to_str()?.trim_start_matches("./");
    let parts: Vec<&str> = text.split('/').collect();
    let ok = match parts.as_slice() {
        ["oci-layout"] | ["index.json"] => true,
        ["blobs", alg, hex] => {
            let word = |s: &str, ok: fn(u8) -> bool| !s.is_empty() && s.bytes().all(ok);
            word(alg, |b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && word(hex, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    };
    ok.then(|| PathBuf::from(text))
}

/// Unpack the layout members of the tar `archive` into a new private directory.
pub(super) fn unpack(archive: &Path) -> Result<Unpacked, Error> {
    let shown = archive.display();
    let bad = |e: std::io::Error| {
        Error::new(ErrorKind::Other, format!("OCI archive {shown}: not a readable tar ({e})"))
    };
    let file = File::open(archive).map_err(|e| Error::io("open", archive, e))?;
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("oci-dl-layout-{}-{n}", std::process::id()));
    // create, not create_all: a name someone planted in the temp directory is an error.
    DirBuilder::new().mode(0o700).create(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let unpacked = Unpacked { dir };
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let Some(rel) = entry.path().ok().and_then(|p| layout_member(&p)) else { continue };
        let to = unpacked.dir.join(&rel);
        if let Some(parent) = to.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::io("create", parent, e))?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&to)
            .map_err(|e| Error::io("create", &to, e))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| Error::io("write", &to, e))?;
    }
    Ok(unpacked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_layout_names_are_members() {
        for (name, want) in [
            ("oci-layout", Some("oci-layout")),
            ("./index.json", Some("index.json")),
            ("blobs/sha256/0a1b", Some("blobs/sha256/0a1b")),
            ("blobs/sha256/../../etc/passwd", None),
            ("blobs/sha256/0A1B", None),
            ("/etc/passwd", None),
            ("blobs/sha256", None),
            ("other.txt", None),
        ] {
            assert_eq!(layout_member(Path::new(name)), want.map(PathBuf::from), "{name}");
        }
    }
}
