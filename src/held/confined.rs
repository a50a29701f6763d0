//! Names in an output directory: an untrusted layer title made a relative path with no way
//! out; the prefix oci-dl keeps for its own entries at the directory's top, and the hidden
//! archive waiting there to be unpacked; the temporary name a file is written under before
//! its rename.

use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// Names oci-dl keeps for itself at the top of an output or extraction directory (hidden
/// archives, staging): no title, derived name or archive entry may start with it there.
pub const RESERVED_PREFIX: &str = ".oci-dl-";

/// Where the blob `digest` waits in `out` to be unpacked when its archive is not kept: hidden,
/// and a name no title may claim.
pub(crate) fn hidden_archive(out: &Path, digest: &Digest) -> PathBuf {
    out.join(format!("{RESERVED_PREFIX}{}", digest.hex()))
}

/// A name beside `name` for a file being written before its rename onto `name`: hidden, and
/// new to the directory (the process id, the time and a counter), so that it is created with
/// `O_EXCL` and a leftover of a killed run is never reused. Only the first
/// [`TEMP_NAME_KEEPS`] bytes of `name` are in it: a name near the file system's 255-byte limit
/// must not make its temporary name too long to create.
pub(crate) fn temp_name(name: &OsStr) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut tmp = OsString::from(TEMP_PREFIX);
    let bytes = name.as_bytes();
    tmp.push(OsStr::from_bytes(&bytes[..bytes.len().min(TEMP_NAME_KEEPS)]));
    tmp.push(format!("-{}-{nanos}-{n}", std::process::id()));
    tmp
}

/// How every [`temp_name`] begins (`cache prune` sweeps those a killed run left).
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// How much of a name its temporary name keeps: enough to tell what is being written, and with
/// the 60 bytes of suffix at most, far below `NAME_MAX`.
const TEMP_NAME_KEEPS: usize = 128;

/// Turn an untrusted layer title into a relative path that stays inside the output directory.
/// Refuses absolute paths, `..`, NUL and empty names; `flatten` keeps only the last component.
pub fn safe_relative_path(title: &str, flatten: bool) -> Result<PathBuf, Error> {
    let bad =
        |why: &str| Error::new(ErrorKind::Other, format!("refusing layer title {title:?}: {why}"));
    if title.is_empty() {
        return Err(bad("empty name"));
    }
    if title.contains('\0') {
        return Err(bad("contains NUL"));
    }
    if title.ends_with('/') {
        return Err(bad("names a directory"));
    }
    let path = Path::new(title);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(bad("absolute path")),
            Component::ParentDir => return Err(bad("contains '..'")),
        }
    }
    if flatten && let Some(name) = out.file_name().map(PathBuf::from) {
        out = name;
    }
    if out.as_os_str().is_empty() {
        return Err(bad("empty name"));
    }
    // Hidden archives and staging directories live at the top of the output directory.
    let first = out.components().next().and_then(|c| c.as_os_str().to_str());
    if first.is_some_and(|f| f.starts_with(RESERVED_PREFIX)) {
        return Err(bad("names starting with .oci-dl- are oci-dl's own"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::safe_relative_path;

    #[test]
    fn a_temporary_name_fits_whatever_the_name() {
        let long = "n".repeat(255);
        let tmp = super::temp_name(std::ffi::OsStr::new(&long));
        assert!(tmp.len() <= 200, "{} bytes", tmp.len());
        let (a, b) = (super::temp_name("x".as_ref()), super::temp_name("x".as_ref()));
        assert_ne!(a, b, "each is new");
        assert!(a.to_str().unwrap().starts_with(".tmp-x-"), "{a:?}");
    }

    #[test]
    fn title_safety_table() {
        let ok = [
            ("a.txt", "a.txt"),
            ("sub/x", "sub/x"),
            ("./a//b", "a/b"),
            ("..a", "..a"),
            ("a..", "a.."),
        ];
        for (t, want) in ok {
            assert_eq!(safe_relative_path(t, false).unwrap(), PathBuf::from(want), "{t}");
        }
        assert_eq!(safe_relative_path("sub/dir/x", true).unwrap(), PathBuf::from("x"));
        let bad = [
            ("", "empty"),
            (".", "empty"),
            ("/etc/passwd", "absolute"),
            ("../x", ".."),
            ("a/../../x", ".."),
            ("a/..", ".."),
            ("a\0b", "NUL"),
            ("dir/", "directory"),
            (".oci-dl-staging-1-0/t/x", "oci-dl's own"),
            ("./.oci-dl-0123", "oci-dl's own"),
        ];
        for (t, want) in bad {
            let e = safe_relative_path(t, false).unwrap_err();
            assert!(e.to_string().contains(want), "{t:?}: {e}");
        }
        assert!(safe_relative_path("../x", true).is_err(), "flatten does not launder '..'");
        assert!(safe_relative_path("sub/.oci-dl-x", true).is_err(), "nor a reserved name");
        assert!(safe_relative_path("sub/.oci-dl-x", false).is_ok(), "reserved at the top only");
    }
}
