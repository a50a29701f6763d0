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
/// for `ZIP_STORED` members holding `.xz` streams, turns them into WinZip's method 95 (a name
/// starting `two` holds two streams, as `xz` concatenates them).
const WRITER: &str = r#"
import sys, zipfile, lzma, struct, zlib
out, method, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(out, "w", compression=getattr(zipfile, method)) as z:
    for n in names:
        data = open(n, "rb").read()
        # A name starting "two" is written as two xz streams with stream padding between.
        xz = lambda d: lzma.compress(d[:len(d) // 2]) + bytes(4) + lzma.compress(d[len(d) // 2:]) \
            if n.startswith("two") else lzma.compress(d)
        z.writestr(n, xz(data) if method == "ZIP_STORED" else data)
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

/// `zip` (one member) with the member's general-purpose flags, CRC-32 and size set in both its
/// local header and the central directory, as a hostile zipper would write them.
fn patch(mut zip: Vec<u8>, flags: Option<u16>, crc_size: Option<(u32, u32)>) -> Vec<u8> {
    let central = zip.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    for (flag_at, crc_at, size_at) in [(6, 14, 22), (central + 8, central + 16, central + 24)] {
        if let Some(f) = flags {
            zip[flag_at..flag_at + 2].copy_from_slice(&f.to_le_bytes());
        }
        if let Some((crc, size)) = crc_size {
            zip[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
            zip[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
    zip
}

/// The general-purpose flags of a one-member zip.
fn flags(zip: &[u8]) -> u16 {
    u16::from_le_bytes([zip[6], zip[7]])
}

/// Pull `bytes` as a zip and unpack it, with canaries around `out/`; the run must fail with
/// `needle`, and nothing may land in `out/` or around it.
fn refused(reg: &Registry, repo: &str, bytes: Vec<u8>, needle: &str) {
    Pusher::new(reg).oras_push(repo, "v1", &[Layer::oras("release.zip", bytes)]);
    let sb = Sandbox::new();
    let canaries = Canaries::plant(&sb.work());
    let run = sb.run(&["pull", &format!("{}/{repo}:v1", reg.host), "-o", "out", "-x"]);
    run.fails(1, needle);
    let out = sb.work().join("out");
    let left = if out.exists() { tree(&out) } else { Vec::new() };
    assert!(left.is_empty(), "{repo}: nothing committed, found {left:?}");
    canaries.assert_unchanged();
}

/// A member flagged as encrypted (general-purpose bit 0) is refused whatever its method, as
/// the zip reader refuses a Deflate one: its bytes are not the member's content, and a reader
/// that decodes them as they stand unpacks what no other unzipper would.
#[test]
fn an_encrypted_lzma_or_xz_member_is_refused_like_a_deflated_one() {
    let Some(reg) = registry::open() else { return };
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.txt"), b"plain bytes flagged as encrypted\n").unwrap();
    for (i, method) in ["ZIP_DEFLATED", "ZIP_LZMA", "ZIP_STORED"].iter().enumerate() {
        let zip = write_zip(d.path(), method, &["a.txt"]);
        let encrypted = patch(zip.clone(), Some(flags(&zip) | 1), None);
        refused(reg, &format!("test/zl-enc-{i}"), encrypted, "corrupt");
    }
}

/// A member that decodes to more than the central directory's size is refused, as the zip
/// reader refuses a Deflate one ("larger than its declared uncompressed size"), even when the
/// CRC-32 is that of the declared prefix: cutting it short would unpack a file other unzippers
/// see otherwise. LZMA members with the end marker (bit 1, as Python writes them) and xz
/// members end by themselves, so anything after the size is known to be there.
#[test]
fn a_member_that_decodes_past_its_size_is_refused() {
    let Some(reg) = registry::open() else { return };
    let d = tempfile::tempdir().unwrap();
    let data = noise(70_000, 9);
    std::fs::write(d.path().join("a.bin"), &data).unwrap();
    let short = 60_000;
    let crc = {
        let mut c = flate2::Crc::new();
        c.update(&data[..short]);
        c.sum()
    };
    for (i, method) in ["ZIP_DEFLATED", "ZIP_LZMA", "ZIP_STORED"].iter().enumerate() {
        let zip = write_zip(d.path(), method, &["a.bin"]);
        if *method == "ZIP_LZMA" {
            // Without bit 1 the size is where the stream ends (APPNOTE 5.8.9): the decoder is
            // not asked past it, and a member of its true size unpacks.
            let known_size = patch(zip.clone(), Some(flags(&zip) & !2), None);
            let (sb, run) = pull_x(reg, "test/zl-no-eos", known_size);
            run.ok();
            assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), data);
        }
        let lying = patch(zip, None, Some((crc, short as u32)));
        refused(reg, &format!("test/zl-long-{i}"), lying, "corrupt");
    }
}

/// An xz member whose stream is cut after its data (its index and footer gone, the compressed
/// size shortened to match) is refused: the stream never ended, though every byte of the size
/// decoded and the CRC-32 matches.
#[test]
fn an_xz_member_cut_before_its_stream_ends_is_refused() {
    let Some(reg) = registry::open() else { return };
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.txt"), b"all of the data, then no index\n").unwrap();
    let mut zip = write_zip(d.path(), "ZIP_STORED", &["a.txt"]);
    let central = zip.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    for at in [18, central + 20] {
        let csize = u32::from_le_bytes(zip[at..at + 4].try_into().unwrap());
        zip[at..at + 4].copy_from_slice(&(csize - 12).to_le_bytes());
    }
    refused(reg, "test/zl-cut", zip, "corrupt");
}

/// An xz member is an .xz file: one stream or more, with stream padding between (xz file
/// format 1.2.0, section 2), which `xz -d` and tar.xz here decode whole.
#[test]
fn an_xz_member_of_two_streams_unpacks_whole() {
    let Some(reg) = registry::open() else { return };
    let d = tempfile::tempdir().unwrap();
    let data = noise(50_000, 4);
    std::fs::write(d.path().join("two.bin"), &data).unwrap();
    let (sb, run) = pull_x(reg, "test/zl-two", write_zip(d.path(), "ZIP_STORED", &["two.bin"]));
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/two.bin")).unwrap(), data);
}
