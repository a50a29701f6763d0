//! A file's bytes into a new file of its own: never a hard link, so no two names oci-dl hands
//! out (a pulled file, a cache entry, another pull's file) share an inode — a `chmod`, a `touch`
//! or an in-place edit of one never reaches another. A reflink (`FICLONE`: btrfs, XFS, bcachefs)
//! shares blocks copy-on-write and costs no time; elsewhere `copy_file_range` copies inside the
//! kernel (server-side on NFS); a plain read/write loop is the last resort.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::io::Errno;

use super::{Dir, Node};
use crate::error::{Error, ErrorKind};

/// Give `to/to_name` (which must not exist: `O_EXCL`) the bytes of `src` (`src_path` names it in
/// messages), as a new file of mode 0644 less the umask. Returns the new file; on failure
/// nothing is left at `to_name`.
pub(crate) fn copy(src: &File, src_path: &Path, to: &Dir, to_name: &OsStr) -> Result<File, Error> {
    let dest = to.show(to_name);
    let want = Node::of_file(src).map_err(|e| Error::io("inspect", src_path, e))?.size;
    let out = to.create_new_file(to_name, 0o644).map_err(|e| Error::io("create", &dest, e))?;
    let copied = fill(src, &out, want);
    let got = out.metadata().map(|m| m.len());
    match (copied, got) {
        (Ok(()), Ok(n)) if n == want => Ok(out),
        (Ok(()), got) => {
            let _ = to.remove_file(to_name);
            let n = got.map_or_else(|e| e.to_string(), |n| n.to_string());
            Err(Error::new(
                ErrorKind::Other,
                format!("copy {} to {}: {n} of {want} bytes", src_path.display(), dest.display()),
            ))
        }
        (Err(e), _) => {
            let _ = to.remove_file(to_name);
            Err(Error::io("copy to", &dest, e))
        }
    }
}

/// Copy the first `len` bytes of `src` into the empty `out`: reflink, else `copy_file_range`,
/// else read and write.
fn fill(src: &File, out: &File, len: u64) -> std::io::Result<()> {
    if len == 0 || rustix::fs::ioctl_ficlone(out, src).is_ok() {
        return Ok(());
    }
    let (mut from, mut at) = (0u64, 0u64);
    while at < len {
        let chunk = (len - at).min(1 << 30) as usize;
        match rustix::fs::copy_file_range(src, Some(&mut from), out, Some(&mut at), chunk) {
            Ok(0) => break, // the source shrank: the caller sees the short length
            Ok(_) => {}
            // Not offered here (another filesystem, an old kernel, a special file).
            Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP | Errno::PERM)
                if at == 0 =>
            {
                return read_write(src, out, len);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn read_write(src: &File, out: &File, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let want = ((len - at) as usize).min(buf.len());
        let n = src.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        out.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_copy_is_a_file_of_its_own() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(d.path().join("src"), &data).unwrap();
        let src = File::open(d.path().join("src")).unwrap();
        let out = copy(&src, &d.path().join("src"), &dir, OsStr::new("dst")).unwrap();
        assert_eq!(std::fs::read(d.path().join("dst")).unwrap(), data);
        let (a, b) = (Node::of_file(&src).unwrap(), Node::of_file(&out).unwrap());
        assert!(!a.same(&b) && b.nlink == 1, "a new inode");
        let mut w = std::fs::OpenOptions::new().write(true).open(d.path().join("dst")).unwrap();
        w.write_all(b"edited").unwrap();
        assert_eq!(std::fs::read(d.path().join("src")).unwrap(), data, "the source is untouched");
        let e = copy(&src, &d.path().join("src"), &dir, OsStr::new("dst")).unwrap_err();
        assert!(e.to_string().contains("dst"), "never over an existing name: {e}");
        std::fs::write(d.path().join("e"), b"").unwrap();
        let empty = File::open(d.path().join("e")).unwrap();
        copy(&empty, &d.path().join("e"), &dir, OsStr::new("e2")).unwrap();
        assert_eq!(std::fs::read(d.path().join("e2")).unwrap(), b"");
    }
}
