//! Zip members compressed with LZMA (method 14) and xz (method 95), decoded by the liblzma that
//! tar.xz uses. LZMA members are written by Python's `zipfile` (`ZIP_LZMA`, with the end
//! marker, as release scripts built on it write them); xz members as WinZip writes them (a
//! whole .xz stream as the member's data), from a stored member of `xz` output whose method,
//! CRC-32 and size are then set as WinZip sets them.

use std::path::Path;
use std::process::Command;

use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

/// Python writes `names` (files in `dir`) into a zip with `method` (a `zipfile` constant) and,
/// for `ZIP_STORED` members holding `.xz` streams, turns them into WinZip's method 95.
const WRITER: &str = r#"
import sys, zipfile, lzma, struct, zlib
out, method, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(out, "w", compression=getattr(zipfile, method)) as z:
    for n in names:
        data = open(n, "rb").read()
        z.writestr(n, lzma.compress(data) if method == "ZIP_STORED" else data)
if method == "ZIP_STORED":
    with zipfile.ZipFile(out) as z:
        infos, cd = z.infolist(), z.start_dir
    b = bytearray(open(out, "rb").read())
    for info in infos:
        data = open(info.filename, "rb").read()
        # version needed 6.3, method 95, CRC-32 and size of the decoded bytes
        for at in (info.header_offset + 4, cd + 6):
            struct.pack_into("<HHH", b, at, 63, 0, 95)
            struct.pack_into("<I", b, at + 10, zlib.crc32(data))
            struct.pack_into("<I", b, at + 18, len(data))
        cd += 46 + sum(struct.unpack_from("<HHH", b, cd + 28))
    open(out, "wb").write(b)
"#;

fn write_zip(dir: &Path, method: &str, names: &[&str]) -> Vec<u8> {
    let o = Command::new("python3")
        .args(["-c", WRITER, "out.zip", method])
        .args(names)
        .current_dir(dir)
        .output();
    require(o.is_ok(), "python3");
    let o = o.unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(dir.join("out.zip")).unwrap()
}

fn pull_x(reg: &Registry, repo: &str, bytes: Vec<u8>) -> (Sandbox, Run) {
    Pusher::new(reg).oras_push(repo, "v1", &[Layer::oras("release.zip", bytes)]);
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/{repo}:v1", reg.host), "-o", "out", "-x"]);
    (sb, run)
}

#[test]
fn lzma_and_xz_zip_members_unpack_and_a_wrong_crc_is_refused() {
    let Some(reg) = registry::open() else { return };
    let d = tempfile::tempdir().unwrap();
    let big = noise(300_000, 21);
    std::fs::write(d.path().join("big.bin"), &big).unwrap();
    std::fs::write(d.path().join("doc.txt"), b"docs\n").unwrap();
    for (i, method) in ["ZIP_LZMA", "ZIP_STORED"].iter().enumerate() {
        let bytes = write_zip(d.path(), method, &["big.bin", "doc.txt"]);
        let (sb, run) = pull_x(reg, &format!("test/zl-{i}"), bytes.clone());
        run.ok();
        assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), big, "{method}");
        assert_eq!(std::fs::read(sb.work().join("out/doc.txt")).unwrap(), b"docs\n", "{method}");
        // The central directory's CRC-32 of doc.txt, off by one bit: caught at its end.
        if *method == "ZIP_LZMA" {
            // A first member asking for a 4 GiB dictionary: refused before any allocation.
            let mut bomb = bytes.clone();
            let at = |i: usize| u16::from_le_bytes([bomb[i], bomb[i + 1]]) as usize;
            let data = 30 + at(26) + at(28);
            bomb[data + 5..data + 9].copy_from_slice(&u32::MAX.to_le_bytes());
            let (_, run) = pull_x(reg, "test/zl-dict", bomb);
            run.fails(1, "dictionary over 256 MiB");
        }
        let mut bad = bytes;
        let central = bad.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        bad[central + 16] ^= 1;
        let (sb, run) = pull_x(reg, &format!("test/zl-bad-{i}"), bad);
        run.fails(1, "corrupt archive");
        assert!(!sb.work().join("out/doc.txt").exists(), "{method}: nothing committed");
    }
}
