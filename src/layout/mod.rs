//! Writing an OCI image layout (image-spec `image-layout.md`): the `oci-layout` file,
//! `blobs/<alg>/<hex>` and `index.json`. What goes in is decided by `pull::layout`; this module
//! keeps the directory consistent for readers and for other writers:
//!
//! - the directory is locked (`flock`, exclusive) from [`Layout::open`] until the layout is
//!   dropped, so two oci-dl runs adding to one layout take turns instead of losing a tag (a run
//!   waiting for the lock ends at once on Ctrl-C or SIGTERM);
//! - blobs are only ever written whole and verified, under their final name by a rename;
//! - `index.json` is written last, by [`Layout::commit`], under a temporary name renamed over
//!   the old one: a pull that fails leaves it as it was, and a reader never sees half of it;
//! - every file is reached through the directory handle held from the start (`crate::held`), so
//!   a `blobs` directory swapped for a symlink meanwhile is refused, never followed.
//!
//! `archive` wraps the same layout in a tar (`--format oci-archive`).

pub(crate) mod archive;
mod index;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::held::{self, Dir};
use crate::manifest::Descriptor;
use crate::retry::Cancel;
pub(crate) use index::LayoutIndex;

/// The `oci-layout` file's content; 1.0.0 is the only version the spec defines.
const LAYOUT_FILE: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// `index.json` larger than this is refused (a layout of many thousand tags stays far below).
const MAX_INDEX_BYTES: u64 = 64 << 20;

/// An OCI image layout held open and locked for writing.
pub(crate) struct Layout {
    dir: Dir,
    path: PathBuf,
    index: LayoutIndex,
}

impl Layout {
    /// Refuse, before anything is asked of a registry, an output that cannot become a layout:
    /// a file, or a directory that is not empty and has neither `oci-layout` nor `index.json`
    /// (someone's files, not a layout). [`Layout::open`] checks again under the lock.
    pub fn check(path: &Path) -> Result<(), Error> {
        match std::fs::metadata(path) {
            Ok(m) if !m.is_dir() => Err(Error::new(
                ErrorKind::Usage,
                format!("output {} exists and is not a directory", path.display()),
            )),
            Ok(_) => foreign(&Dir::open(path)?, path),
            Err(_) => Ok(()),
        }
    }

    /// Open (creating it if missing) the layout at `path` and lock it; see [`Layout::check`].
    pub fn open(path: &Path, cancel: &Cancel, obs: &dyn Observer) -> Result<Layout, Error> {
        Layout::check(path)?;
        held::make_dir_all(path, 0o755)?;
        let dir = Dir::open(path)?;
        lock(&dir, path, cancel, obs)?;
        foreign(&dir, path)?;
        let layout = Layout { index: LayoutIndex::default(), dir, path: path.to_path_buf() };
        layout.check_version()?;
        let index = match layout.read_small("index.json", MAX_INDEX_BYTES)? {
            Some(bytes) => LayoutIndex::parse(&bytes, &layout.show("index.json"))?,
            None => LayoutIndex::default(),
        };
        Ok(Layout { index, ..layout })
    }

    /// `oci-layout` says 1.0.0, or is missing and is written now (so that a run killed before
    /// its first `index.json` still leaves a directory a rerun recognises). It is created under
    /// its own name, not renamed from a temporary one: another run's check before its lock
    /// must never see a directory holding only a temporary name, which looks like someone's
    /// files. A run killed mid-write leaves a prefix of it, which is written again.
    fn check_version(&self) -> Result<(), Error> {
        match self.read_small("oci-layout", 4096)? {
            None => {
                use std::io::Write;
                let name = OsStr::new("oci-layout");
                let mut f = self
                    .dir
                    .create_new_file(name, 0o644)
                    .map_err(|e| Error::io("create", Path::new(&self.show("oci-layout")), e))?;
                f.write_all(LAYOUT_FILE)
                    .map_err(|e| Error::io("write", Path::new(&self.show("oci-layout")), e))
            }
            Some(bytes) if bytes.len() < LAYOUT_FILE.len() && LAYOUT_FILE.starts_with(&bytes) => {
                self.dir.replace_with(OsStr::new("oci-layout"), LAYOUT_FILE, 0o644)
            }
            Some(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
                    Some("1.0.0") => Ok(()),
                    other => Err(Error::new(
                        ErrorKind::Other,
                        format!(
                            "{}: imageLayoutVersion {}, not 1.0.0",
                            self.show("oci-layout"),
                            other.map_or("missing".to_owned(), |o| format!("{o:?}"))
                        ),
                    )),
                }
            }
        }
    }

    /// The regular file `name` in the layout, when there is one, if at most `cap` bytes.
    fn read_small(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(file) = self.dir.open_existing_regular(OsStr::new(name), false)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", Path::new(&self.show(name)), e))?;
        if bytes.len() as u64 > cap {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{} is over the {cap}-byte cap", self.show(name)),
            ));
        }
        Ok(Some(bytes))
    }

    fn show(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }

    /// The directory `blobs/<alg>`, created if missing, reached without following a symlink.
    pub fn blobs(&self, algorithm: Algorithm) -> Result<Dir, Error> {
        self.dir.open_beneath_with(&Path::new("blobs").join(algorithm.name()), 0o755)
    }

    /// Store `bytes` (already verified to be `digest`: a manifest) as its blob, unless the blob
    /// is there with these bytes. Returns whether it was written.
    pub fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<bool, Error> {
        debug_assert_eq!(&Digest::of(digest.algorithm(), bytes), digest);
        let dir = self.blobs(digest.algorithm())?;
        let name = OsStr::new(digest.hex());
        // Kept only when it is the user's alone (as any output: `pull::plan::existing`), and
        // its size is checked first: a planted sparse file of any size costs nothing to make.
        if let Some(file) = dir.open_existing_regular(name, false).ok().flatten()
            && held::Node::of_file(&file).is_ok_and(|n| n.unfit().is_none())
            && file.metadata().is_ok_and(|m| m.len() == bytes.len() as u64)
            && crate::blob::hash_file(&file, &dir.show(name), digest.algorithm())
                .is_ok_and(|(got, size)| &got == digest && size == bytes.len() as u64)
        {
            return Ok(false);
        }
        dir.replace_with(name, bytes, 0o644)?;
        Ok(true)
    }

    /// Tag `desc` in the index to be written (see [`LayoutIndex::add`]).
    pub fn add(&mut self, desc: &Descriptor, name: Option<&str>) {
        self.index.add(desc, name);
    }

    /// Write `index.json` through a temporary name and a rename; the lock goes with `self`.
    pub fn commit(self) -> Result<PathBuf, Error> {
        self.dir.replace_with(OsStr::new("index.json"), &self.index.to_bytes(), 0o644)?;
        Ok(self.path)
    }
}

/// Refuse the directory `dir` when it holds anything but a layout (or a `blobs` directory, all
/// a run killed before its first `oci-layout` leaves).
fn foreign(dir: &Dir, path: &Path) -> Result<(), Error> {
    let names = dir.names()?;
    let has = |n: &str| names.iter().any(|x| x == n);
    if !has("oci-layout") && !has("index.json") && names.iter().any(|n| n != "blobs") {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{} is not an OCI image layout (no oci-layout file) and not empty",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Lock the directory `dir` (`path`, for messages) for this run. While another run holds it, say
/// so and wait: a blocking `flock` on a duplicate of the handle, on a thread of its own, so that
/// a cancel (a hook on the token) ends the wait at once instead of at the next poll. A thread
/// left waiting after a cancel takes the lock when the other run lets go and frees it at once
/// (its duplicate is the last handle then); nothing here polls.
pub(crate) fn lock(
    dir: &Dir,
    path: &Path,
    cancel: &Cancel,
    obs: &dyn Observer,
) -> Result<(), Error> {
    use rustix::fs::{FlockOperation, flock};
    match flock(dir.fd(), FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => {}
        Err(e) => return Err(Error::io("lock", path, e.into())),
    }
    obs.log(Level::Info, format!("waiting for another run writing {}", path.display()));
    let held = rustix::io::dup(dir.fd()).map_err(|e| Error::io("lock", path, e.into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = tx.clone();
    let _wake = cancel.on_cancel(move || {
        let _ = stop.send(None);
    });
    std::thread::spawn(move || {
        let _ = tx.send(Some(flock(&held, FlockOperation::LockExclusive)));
    });
    match rx.recv() {
        Ok(Some(Ok(()))) => Ok(()),
        Ok(Some(Err(e))) => Err(Error::io("lock", path, e.into())),
        Ok(None) | Err(_) => Err(crate::cancel::interrupted()),
    }
}
