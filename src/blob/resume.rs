//! The resume record of a `.part` file, kept in the xattr `user.oci-dl.resume` as JSON. Where
//! the filesystem has no xattrs, resume falls back to the `.part` length; the final digest check
//! keeps that safe.

use std::fs::File;

use serde::{Deserialize, Serialize};
use xattr::FileExt;

use crate::digest::Digest;

pub const XATTR: &str = "user.oci-dl.resume";

/// The record is rewritten as a download's verified part grows by this much (the stream's
/// written bytes, the ranges' hashed prefix).
pub(super) const CHECKPOINT_EVERY: u64 = 8 * 1024 * 1024;
/// Bytes per read or write of a `.part` and of a body: large reads keep syscalls and hashing
/// calls few.
pub(super) const BUF: usize = 256 * 1024;

/// What a `.part` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub digest: String,
    pub size: Option<u64>,
    pub written: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Written by ranged (parallel) downloads: the file is full-length with holes, and only the
    /// first `written` bytes are hashed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ranged: bool,
    /// A ranged download's byte intervals `[from, to)` past `written` that are on disk too (the
    /// ranges it finished, and how far each unfinished one got), so a rerun fetches only the
    /// holes. Not proof of anything: the digest check at the end covers every byte.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub have: Vec<(u64, u64)>,
}

impl Record {
    /// The record of a single stream: its first `written` bytes are in, fetched under `etag`.
    pub fn stream(digest: &Digest, size: Option<u64>, written: u64, etag: Option<&str>) -> Record {
        let etag = etag.map(str::to_owned);
        Record { digest: digest.to_string(), size, written, etag, ranged: false, have: Vec::new() }
    }

    /// The record of a ranged download: full length with holes, `written` bytes hashed and
    /// the intervals `have` past them on disk.
    pub fn ranged(
        digest: &Digest,
        size: Option<u64>,
        written: u64,
        have: Vec<(u64, u64)>,
    ) -> Record {
        Record { digest: digest.to_string(), size, written, etag: None, ranged: true, have }
    }

    /// The intervals on disk past the hashed prefix that a resumed ranged download can keep:
    /// only while the `.part` is still full length (`len`), within the blob, past `written`.
    pub fn kept_ranges(&self, len: u64) -> Vec<(u64, u64)> {
        let Some(size) = self.size.filter(|s| self.ranged && len == *s) else { return Vec::new() };
        self.have
            .iter()
            .map(|&(a, b)| (a.max(self.written), b.min(size)))
            .filter(|(a, b)| a < b)
            .collect()
    }
}

/// The outcome of reading a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Found(Record),
    /// xattrs work here but the file has no (readable) record.
    Missing,
    /// The filesystem has no user xattrs.
    Unsupported,
}

pub fn load(file: &File) -> Loaded {
    match file.get_xattr(XATTR) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).map_or(Loaded::Missing, Loaded::Found),
        Ok(None) => Loaded::Missing,
        Err(e) if unsupported(&e) => Loaded::Unsupported,
        Err(_) => Loaded::Missing,
    }
}

/// Write the record; `false` when the filesystem has no xattrs (other errors are ignored too:
/// a lost checkpoint only costs a re-download, never correctness).
pub fn save(file: &File, record: &Record) -> bool {
    let Ok(json) = serde_json::to_vec(record) else { return false };
    match file.set_xattr(XATTR, &json) {
        Ok(()) => true,
        Err(e) => !unsupported(&e),
    }
}

fn unsupported(e: &std::io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(rustix::io::Errno::NOTSUP.raw_os_error())
        || code == Some(rustix::io::Errno::NOSYS.raw_os_error())
}

/// How many bytes of an existing `.part` of length `len` to keep for `digest` (of `size`).
/// A record for another digest (the tag moved) or a `.part` without a record on a filesystem
/// that has xattrs (not ours, or killed before its first checkpoint) starts over.
pub fn resume_offset(loaded: &Loaded, len: u64, digest: &Digest, size: Option<u64>) -> u64 {
    let keep = match loaded {
        Loaded::Found(r) => r.digest == digest.to_string(),
        Loaded::Missing => false,
        Loaded::Unsupported => true,
    };
    let len = match loaded {
        Loaded::Found(r) if r.ranged => len.min(r.written),
        _ => len,
    };
    match (keep, size) {
        (false, _) => 0,
        (true, Some(s)) if len > s => 0,
        (true, _) => len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    #[test]
    fn offset_table() {
        let d = Digest::of(Algorithm::Sha256, b"a");
        let other = Digest::of(Algorithm::Sha256, b"b");
        let rec = |dg: &Digest| {
            Loaded::Found(Record {
                digest: dg.to_string(),
                size: Some(100),
                written: 40,
                etag: None,
                ranged: false,
                have: Vec::new(),
            })
        };
        let cases = [
            (
                rec(&d),
                50,
                Some(100),
                50,
                "trust the file length: bytes past the checkpoint were written",
            ),
            (rec(&other), 50, Some(100), 0, "the tag moved: start over"),
            (Loaded::Missing, 50, Some(100), 0, "no record where xattrs work: not ours"),
            (
                Loaded::Unsupported,
                50,
                Some(100),
                50,
                "no xattrs: the length, checked by the digest at the end",
            ),
            (Loaded::Unsupported, 150, Some(100), 0, "longer than the blob: garbage"),
            (Loaded::Unsupported, 150, None, 150, "size unknown"),
            (
                Loaded::Found(Record {
                    digest: d.to_string(),
                    size: Some(100),
                    written: 30,
                    etag: None,
                    ranged: true,
                    have: vec![(50, 70)],
                }),
                100,
                Some(100),
                30,
                "a ranged download trusts only its hashed prefix",
            ),
        ];
        for (loaded, len, size, want, why) in cases {
            assert_eq!(resume_offset(&loaded, len, &d, size), want, "{why}");
        }
    }

    #[test]
    fn kept_ranges_only_from_a_full_length_ranged_part() {
        let r = Record::ranged(
            &Digest::of(Algorithm::Sha256, b"a"),
            Some(100),
            30,
            vec![(10, 40), (50, 70), (90, 120), (95, 95)],
        );
        assert_eq!(r.kept_ranges(100), [(30, 40), (50, 70), (90, 100)]);
        assert!(r.kept_ranges(99).is_empty(), "truncated since: the holes are gone");
        let stream = Record { ranged: false, ..r.clone() };
        assert!(stream.kept_ranges(100).is_empty());
    }

    #[test]
    fn records_round_trip_through_the_xattr() {
        let f = tempfile::NamedTempFile::new().unwrap();
        if load(f.as_file()) == Loaded::Unsupported {
            return; // this filesystem has no user xattrs: the fallback is covered by offset_table
        }
        assert_eq!(load(f.as_file()), Loaded::Missing);
        let r = Record {
            digest: "sha256:ab".into(),
            size: Some(9),
            written: 4,
            etag: Some("\"e\"".into()),
            ranged: true,
            have: vec![(6, 8)],
        };
        assert!(save(f.as_file(), &r));
        assert_eq!(load(f.as_file()), Loaded::Found(r));
    }
}
