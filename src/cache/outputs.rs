//! Which output file last verified as which digest, so that a re-pull into the same directory
//! does not hash its files again: `DIR/outputs/<device>-<inode>` holds the digest, size,
//! modification and change times of the file that verified. A write, a `chmod`, a `touch`, a
//! rename or a new file at that inode all move the change time, which no user can set back; a
//! record is believed only while the file and the record are the running user's alone, as the
//! directories above the record up to the cache root (`held::Node::private`).
//!
//! Kept in the cache directory rather than in an extended attribute of the output: writing an
//! xattr changes the file's ctime, so a record there could never describe the file it is on;
//! and not every filesystem has them.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::Path;

use super::{Before, Cache, read_small, record};
use crate::digest::Digest;
use crate::held::Node;

/// The directory below the cache root.
pub(super) const DIR: &str = "outputs";

fn key(n: &Node) -> OsString {
    OsString::from(format!("{}-{}", n.dev, n.ino))
}

/// Whether `name` is a record's name: `<digits>-<digits>`.
pub(super) fn is_key(name: &OsStr) -> bool {
    let text = name.to_str().unwrap_or("");
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    text.split_once('-').is_some_and(|(d, i)| digits(d) && digits(i))
}

impl Cache {
    /// Whether the output `file` is known to hold `d`: it is the file recorded as verified, in
    /// every time, and both it and the record are the running user's alone.
    pub(crate) fn output_holds(&self, file: &File, d: &Digest) -> bool {
        let Ok(node) = Node::of_file(file) else { return false };
        if node.unfit().is_some() {
            return false;
        }
        let Some(dir) = self.existing_dir(Path::new(DIR)) else { return false };
        read_small(&dir, &key(&node)).is_some_and(|r| r == record(d, &node))
    }

    /// Remember that the output `file` holds `d`, if it is as it was `before` it was verified
    /// and is the running user's alone. Failing to only costs a hash next time.
    pub(crate) fn remember_output(&self, file: &File, d: &Digest, before: Before) {
        let Some(node) = before.unchanged(file).filter(|n| n.unfit().is_none()) else { return };
        let Ok(dir) = self.make_dir(Path::new(DIR)) else { return };
        let _ = dir.replace_with(&key(&node), record(d, &node).as_bytes(), 0o644);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::digest::Algorithm;

    #[test]
    fn a_record_holds_until_the_file_changes_in_any_way() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path().join("c"));
        let path = d.path().join("out");
        std::fs::write(&path, b"bytes").unwrap();
        let dg = Digest::of(Algorithm::Sha256, b"bytes");
        let file = File::open(&path).unwrap();
        assert!(!cache.output_holds(&file, &dg));
        cache.remember_output(&file, &dg, Before::ours(&file));
        assert!(cache.output_holds(&file, &dg));
        let other = Digest::of(Algorithm::Sha256, b"other");
        assert!(!cache.output_holds(&file, &other), "another digest");
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"!").unwrap();
        assert!(!cache.output_holds(&file, &dg), "written since");
        cache.remember_output(&file, &dg, Before::ours(&file));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!cache.output_holds(&file, &dg), "chmod moves the ctime");
        cache.remember_output(&file, &dg, Before::ours(&file));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        cache.remember_output(&file, &dg, Before::ours(&file));
        assert!(!cache.output_holds(&file, &dg), "a file others may write is never recorded");
        let n = d.path().join("c/outputs").read_dir().unwrap().count();
        assert_eq!(n, 1, "one record per file");
        assert!(is_key(OsStr::new("2049-1234")) && !is_key(OsStr::new("../x")));
        assert!(!is_key(OsStr::new("-1")) && !is_key(OsStr::new("1-")));
    }
}
