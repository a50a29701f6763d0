//! Size, digest and the executable bit: every path (stream, ranges, cache) ends here.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::resume::BUF;
use super::stream::Failure;
use super::{BlobSpec, Outcome};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, ErrorKind};

/// Bytes kept from the start of a blob to tell an executable by.
const HEAD: usize = 8;

/// Whether a file starting with `head` is an executable a user runs: ELF, or Mach-O (thin, or
/// universal: `cafebabe` followed by a small architecture count — a Java class has its version
/// there, 45 or more, as `file(1)` tells them apart).
fn is_executable(head: &[u8]) -> bool {
    const MACHO: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    let Some(magic) = head.get(..4) else { return false };
    if magic == b"\x7fELF" || MACHO.iter().any(|m| m == magic) {
        return true;
    }
    let fat = magic == [0xca, 0xfe, 0xba, 0xbe] || magic == [0xca, 0xfe, 0xba, 0xbf];
    let count = head.get(4..8).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    fat && count.is_some_and(|n| (1..30).contains(&n))
}

/// Hashing state that survives between attempts.
pub(super) struct State {
    pub hasher: Hasher,
    pub written: u64,
    pub head: [u8; HEAD],
    /// The strong ETag the bytes so far came under, for `If-Range`.
    pub etag: Option<String>,
}

impl State {
    pub fn new(algorithm: Algorithm) -> State {
        State { hasher: algorithm.hasher(), written: 0, head: [0; HEAD], etag: None }
    }

    pub fn absorb(&mut self, buf: &[u8]) {
        self.hasher.update(buf);
        self.note(buf);
    }

    /// Count bytes written (and keep the first few) without hashing them.
    pub fn note(&mut self, buf: &[u8]) {
        if self.written < HEAD as u64 {
            let at = self.written as usize;
            let take = (HEAD - at).min(buf.len());
            self.head[at..at + take].copy_from_slice(&buf[..take]);
        }
        self.written += buf.len() as u64;
    }
}

/// Check size and digest once every byte is in.
pub(super) fn finished(spec: BlobSpec<'_>, state: State) -> Result<Outcome, Failure> {
    let (written, head) = (state.written, state.head);
    check(spec, written, state.hasher.finish(), &head).map_err(Failure::bare)
}

/// The one check of a complete blob: `written` bytes that hash to `got`, starting with `head`.
pub(super) fn check(
    spec: BlobSpec<'_>,
    written: u64,
    got: Digest,
    head: &[u8; HEAD],
) -> Result<Outcome, Error> {
    let what = format!("blob {}", spec.digest);
    if let Some(expected) = spec.size
        && written != expected
    {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: got {written} bytes, the descriptor says {expected}"),
        ));
    }
    if &got != spec.digest {
        return Err(Error::new(ErrorKind::Integrity, format!("{what}: content hashes to {got}")));
    }
    Ok(Outcome {
        size: written,
        executable: is_executable(&head[..(written as usize).min(HEAD)]),
        resumed_from: 0,
        from_cache: false,
    })
}

/// A cache entry known to be unchanged since it verified: check what can be checked without
/// hashing (its size), and read its first bytes for the executable bit.
pub(super) fn unchanged(spec: BlobSpec<'_>, file: &File, path: &Path) -> Result<Outcome, Error> {
    let size = file.metadata().map_err(|e| Error::io("inspect", path, e))?.len();
    if spec.size.is_some_and(|s| s != size) {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "blob {}: {size} bytes, the descriptor says {}",
                spec.digest,
                spec.size.unwrap_or(0)
            ),
        ));
    }
    let mut head = [0u8; HEAD];
    let n = file.read_at(&mut head, 0).map_err(|e| Error::io("read", path, e))?;
    Ok(Outcome { size, executable: is_executable(&head[..n]), resumed_from: 0, from_cache: false })
}

/// Hash an open file from its start with `algorithm`, returning its digest and size; `path` names
/// it in errors.
pub fn hash_file(f: &File, path: &Path, algorithm: Algorithm) -> Result<(Digest, u64), Error> {
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = f.read_at(&mut buf, total).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finish(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_by_their_magic() {
        let cases: [(&[u8], bool); 11] = [
            (b"\x7fELF\x02\x01\x01\0", true),
            (&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1], true), // Mach-O 64, little-endian (arm64, x86_64)
            (&[0xce, 0xfa, 0xed, 0xfe, 7, 0, 0, 0], true), // Mach-O 32
            (&[0xfe, 0xed, 0xfa, 0xcf, 0, 0, 0, 0x12], true), // big-endian
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2], true), // universal, two architectures
            (&[0xca, 0xfe, 0xba, 0xbf, 0, 0, 0, 2], true), // universal, 64-bit offsets
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52], false), // a Java 8 class file
            (&[0xca, 0xfe, 0xba, 0xbe], false),
            (b"\x7fEL", false),
            (b"#!/bin/sh\n", false),
            (b"", false),
        ];
        for (head, want) in cases {
            assert_eq!(is_executable(head), want, "{head:02x?}");
        }
    }
}
