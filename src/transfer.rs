//! One blob to one file (or writer): stream into `NAME.part` while hashing, check size and digest
//! at EOF, and only then rename to `NAME`. A final name never holds partial or unverified bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, ErrorKind};
use crate::events::Progress;
use crate::registry::Client;

/// Bytes per read: large reads keep syscalls and hashing calls few.
const BUF: usize = 256 * 1024;
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// The blob to fetch: where it lives and what it must hash to.
#[derive(Debug, Clone, Copy)]
pub struct BlobSpec<'a> {
    pub repository: &'a str,
    pub digest: &'a Digest,
    /// The size the descriptor promises; `None` when only the digest is known (`oci-dl blob`).
    pub size: Option<u64>,
}

/// What a finished transfer learnt about the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub size: u64,
    pub elf: bool,
}

/// `path` with `.part` appended to its file name.
pub fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Download `spec` to `dest` via `dest.part`. ELF files get mode 0755.
pub fn to_file(
    client: &Client,
    spec: BlobSpec<'_>,
    dest: &Path,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let part = part_path(dest);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o644)
        .open(&part)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Error::new(
                ErrorKind::Other,
                format!("refusing to write through symlink {}", part.display()),
            ),
            _ => Error::io("create", &part, e),
        })?;
    let result = fetch_into(client, spec, &mut file, &part, progress);
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    drop(file);
    if outcome.elf {
        std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("chmod", &part, e))?;
    }
    std::fs::rename(&part, dest).map_err(|e| Error::io("rename into place", dest, e))?;
    Ok(outcome)
}

/// Stream `spec` into `out` (stdout), verifying as it goes. The bytes are already written when a
/// mismatch shows at the end, so the caller must report the integrity error after the stream.
pub fn to_writer(
    client: &Client,
    spec: BlobSpec<'_>,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, Error> {
    fetch_into(client, spec, out, Path::new("<stdout>"), progress)
}

fn fetch_into(
    client: &Client,
    spec: BlobSpec<'_>,
    out: &mut dyn Write,
    out_path: &Path,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let reply = client.blob(spec.repository, spec.digest, 0)?;
    let what = format!("blob {}", spec.digest);
    if let (Some(expected), Some(len)) = (spec.size, reply.content_length())
        && expected != len
    {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: server announced {len} bytes, the descriptor says {expected}"),
        ));
    }
    let mut reader = reply
        .response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    copy_verified(&mut reader, out, out_path, spec, progress)
}

/// Copy, hashing every byte, refusing to read past the expected size, and checking size and
/// digest at EOF.
pub(crate) fn copy_verified(
    reader: &mut dyn Read,
    out: &mut dyn Write,
    out_path: &Path,
    spec: BlobSpec<'_>,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let what = format!("blob {}", spec.digest);
    let mut hasher = spec.digest.algorithm().hasher();
    let mut buf = vec![0u8; BUF];
    let mut total: u64 = 0;
    let mut head = [0u8; 4];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Network,
                    format!("{what}: read failed after {total} bytes"),
                )
                .with_source(e));
            }
        };
        if total < 4 {
            let take = (4 - total as usize).min(n);
            head[total as usize..total as usize + take].copy_from_slice(&buf[..take]);
        }
        total += n as u64;
        if let Some(expected) = spec.size
            && total > expected
        {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: server sent more than the {expected} bytes the descriptor promises"
                ),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::io("write", out_path, e))?;
        progress.add(n as u64);
    }
    out.flush().map_err(|e| Error::io("write", out_path, e))?;
    if let Some(expected) = spec.size
        && total != expected
    {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: got {total} bytes, the descriptor says {expected}"),
        ));
    }
    let got = hasher.finish();
    if &got != spec.digest {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!("{what}: content hashes to {got}"),
        ));
    }
    Ok(Outcome {
        size: total,
        elf: total >= 4 && &head == ELF_MAGIC,
    })
}

/// Hash an existing file with `algorithm`, returning its digest and size.
pub fn hash_file(path: &Path, algorithm: Algorithm) -> Result<(Digest, u64), Error> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
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

    fn spec<'a>(d: &'a Digest, size: Option<u64>) -> BlobSpec<'a> {
        BlobSpec {
            repository: "r",
            digest: d,
            size,
        }
    }

    #[test]
    fn copy_checks_size_and_digest() {
        let data = b"\x7fELF and more bytes".to_vec();
        let d = Digest::of(Algorithm::Sha256, &data);
        let p = Progress::default();
        let mut out = Vec::new();
        let o = copy_verified(
            &mut &data[..],
            &mut out,
            Path::new("x"),
            spec(&d, Some(data.len() as u64)),
            &p,
        )
        .unwrap();
        assert_eq!(
            (o.size, o.elf, out.len() as u64, p.get()),
            (
                data.len() as u64,
                true,
                data.len() as u64,
                data.len() as u64
            )
        );

        let cases: [(&[u8], Option<u64>, &str); 3] = [
            (&data[..5], Some(data.len() as u64), "got 5 bytes"),
            (&data, Some(5), "more than the 5 bytes"),
            (b"\x7fELF and more bytez", None, "hashes to sha256:"),
        ];
        for (body, size, want) in cases {
            let e = copy_verified(
                &mut &body[..],
                &mut Vec::new(),
                Path::new("x"),
                spec(&d, size),
                &p,
            )
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity);
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn hash_file_matches_in_memory_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (d, n) = hash_file(&p, Algorithm::Sha512).unwrap();
        assert_eq!(
            (d, n),
            (Digest::of(Algorithm::Sha512, &data), data.len() as u64)
        );
        assert_eq!(part_path(&p), dir.path().join("f.part"));
    }
}
