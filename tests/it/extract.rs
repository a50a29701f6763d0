//! Extraction: real archives pushed to the real registry, an image with whiteouts, the oras
//! unpack annotation, and a table of hostile archives.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

const MTIME: u64 = 1_600_000_000;

/// A tar entry for the builder.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str),
}

/// A tar made entry by entry with raw headers, so hostile names go in unvalidated.
pub fn tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data, etype, mode, link): (&str, &[u8], tar::EntryType, u32, Option<&str>) =
            match e {
                E::Dir(n) => (n, b"", tar::EntryType::Directory, 0o755, None),
                E::File(n, d, m) => (n, d, tar::EntryType::Regular, *m, None),
                E::Symlink(n, t) => (n, b"", tar::EntryType::Symlink, 0o777, Some(t)),
                E::Hardlink(n, t) => (n, b"", tar::EntryType::Link, 0o644, Some(t)),
                E::Char(n) => (n, b"", tar::EntryType::Char, 0o644, None),
            };
        let raw = &mut h.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            let l = &mut h.as_old_mut().linkname;
            l.fill(0);
            l[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(etype);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(MTIME);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn bundle() -> Vec<u8> {
    tar(&[
        E::Dir("app/"),
        E::Dir("app/bin/"),
        E::File("app/bin/run", b"#!/bin/sh\necho hi\n", 0o755),
        E::File("app/share/doc.txt", b"docs", 0o644),
        E::Symlink("app/current", "bin/run"),
        E::Hardlink("app/share/doc-again.txt", "app/share/doc.txt"),
    ])
}

fn check_bundle(root: &Path) {
    assert_eq!(std::fs::read(root.join("app/bin/run")).unwrap(), b"#!/bin/sh\necho hi\n");
    let meta = std::fs::metadata(root.join("app/bin/run")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755, "executables keep their mode");
    let mtime = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(mtime, MTIME, "mtimes are kept");
    assert_eq!(std::fs::read_link(root.join("app/current")).unwrap(), Path::new("bin/run"));
    assert_eq!(std::fs::read(root.join("app/share/doc-again.txt")).unwrap(), b"docs");
}

fn push(reg: &Registry, repo: &str, layers: &[Layer]) -> String {
    Pusher::new(reg).artifact(repo, "v1", layers);
    format!("{}/{repo}:v1", reg.host)
}

fn no_staging_left(dir: &Path) {
    let left: Vec<String> = tree(dir).into_iter().filter(|p| p.contains(".oci-dl")).collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
}

#[test]
fn tar_gzip_zstd_and_single_files_are_unpacked() {
    let Some(reg) = registry::open() else { return };
    let b = bundle();
    let r = push(
        reg,
        "test/x-formats",
        &[
            Layer::titled("plain.tar", b.clone()),
            Layer::titled("bundle.tar.gz", gz(&b)),
            Layer {
                bytes: zst(&b),
                title: Some("z.bin".into()),
                media_type: "application/vnd.oci.image.layer.v1.tar+zstd".into(),
            },
            Layer::titled("tool.gz", gz(b"\x7fELF tool")),
            Layer::titled("data.json.zst", zst(b"{\"a\":1}")),
            Layer::titled("readme.txt", "not an archive"),
        ],
    );
    for (i, filter) in ["plain.tar", "bundle.tar.gz", "z.bin"].iter().enumerate() {
        let sb = Sandbox::new();
        let out = format!("out{i}");
        let run = sb.run(&["pull", &r, "-o", &out, "-x", "-g", filter, "--json"]);
        run.ok();
        check_bundle(&sb.work().join(&out));
        assert!(!sb.work().join(&out).join(filter).exists(), "the archive is not left behind");
        no_staging_left(&sb.work());
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(doc["files"][0]["status"], "extracted");
    }
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &r, "-o", "out", "-x", "-g", "*.gz", "-g", "*.zst", "-g", "readme.txt"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/tool")).unwrap(), b"\x7fELF tool");
    assert_eq!(std::fs::read(sb.work().join("out/data.json")).unwrap(), b"{\"a\":1}");
    assert_eq!(std::fs::read(sb.work().join("out/readme.txt")).unwrap(), b"not an archive");
    check_bundle(&sb.work().join("out"));
    no_staging_left(&sb.work());
}

#[test]
fn keep_archive_and_extract_to() {
    let Some(reg) = registry::open() else { return };
    let r = push(reg, "test/x-keep", &[Layer::titled("bundle.tar.gz", gz(&bundle()))]);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "-o", "dl", "-x", "--extract-to", "unpacked", "--keep-archive"]).ok();
    check_bundle(&sb.work().join("unpacked"));
    assert_eq!(tree(&sb.work().join("dl")), vec!["bundle.tar.gz"]);
    sb.run(&["pull", &r, "-o", "o2", "--extract-to", "x"]).fails(2, "--extract");
}

#[test]
fn a_fake_archive_is_kept_as_a_file_and_noted() {
    let Some(reg) = registry::open() else { return };
    let r = push(reg, "test/x-fake", &[Layer::titled("notes.tar.gz", "plain text, not gzip")]);
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &r, "-o", "out", "-x"]);
    run.ok();
    assert!(
        run.stderr.contains("notes.tar.gz is not an archive; kept as a file"),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&sb.work().join("out")), vec!["notes.tar.gz"]);
}

#[test]
fn an_image_becomes_its_flattened_root_filesystem() {
    let Some(reg) = registry::open() else { return };
    let l1 = tar(&[
        E::Dir("a/"),
        E::File("a/1", b"one", 0o644),
        E::File("a/2", b"two", 0o644),
        E::Dir("b/"),
        E::File("b/x", b"x", 0o644),
        E::File("c", b"c", 0o644),
        E::Symlink("bin", "/usr/bin"),
    ]);
    let l2 = tar(&[
        E::File(".wh.c", b"", 0o644),
        E::File("a/.wh.1", b"", 0o644),
        E::File("b/.wh..wh..opq", b"", 0o644),
        E::File("b/y", b"y", 0o644),
    ]);
    let l3 = tar(&[
        E::File("d", b"d", 0o600),
        E::File("a/3", b"three", 0o644),
        E::File("a/2", b"two v3", 0o644),
    ]);
    let layers = [
        Layer::untitled("application/vnd.oci.image.layer.v1.tar+gzip", gz(&l1)),
        Layer::untitled("application/vnd.oci.image.layer.v1.tar", l2),
        Layer::untitled("application/vnd.oci.image.layer.v1.tar+zstd", zst(&l3)),
    ];
    let r = push(reg, "test/x-image", &layers);
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &r, "-o", "rootfs", "-x", "--json", "-v", "-j", "1"]);
    run.ok();
    assert!(run.stderr.contains("root filesystem unpacked while downloading"), "{}", run.stderr);
    let root = sb.work().join("rootfs");
    assert_eq!(tree(&root), vec!["a/", "a/2", "a/3", "b/", "b/y", "bin", "d"]);
    assert_eq!(std::fs::read(root.join("a/2")).unwrap(), b"two v3", "later layers win");
    assert_eq!(std::fs::read_link(root.join("bin")).unwrap(), Path::new("/usr/bin"));
    assert_eq!(std::fs::metadata(root.join("d")).unwrap().permissions().mode() & 0o777, 0o600);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(doc["files"].as_array().unwrap().iter().all(|f| f["status"] == "extracted"));
    no_staging_left(&sb.work());
    // In parallel, and again over an existing tree: the same flattened result.
    for jobs in ["4", "2"] {
        sb.run(&["pull", &r, "-o", "rootfs", "-x", "-j", jobs]).ok();
        assert_eq!(tree(&root), vec!["a/", "a/2", "a/3", "b/", "b/y", "bin", "d"], "-j {jobs}");
        assert_eq!(std::fs::read(root.join("a/2")).unwrap(), b"two v3");
    }
    no_staging_left(&sb.work());
}

#[test]
fn oras_directories_are_unpacked_by_their_annotation() {
    let Some(reg) = registry::open() else { return };
    // oras-go content/file/utils.go tarDirectory: every entry is prefixed by the title.
    let inner = tar(&[
        E::Dir("mydir"),
        E::Dir("mydir/app/"),
        E::Dir("mydir/app/bin/"),
        E::File("mydir/app/bin/run", b"#!/bin/sh\necho hi\n", 0o755),
        E::File("mydir/app/share/doc.txt", b"docs", 0o644),
        E::Symlink("mydir/app/current", "bin/run"),
        E::Hardlink("mydir/app/share/doc-again.txt", "mydir/app/share/doc.txt"),
    ]);
    let content = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &inner).to_string();
    let blob = gz(&inner);
    let p = Pusher::new(reg);
    for (tag, digest) in [
        ("good", content.clone()),
        ("bad", oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"no").to_string()),
    ] {
        p.blob("test/x-oras", &blob);
        let config = p.blob("test/x-oras", b"{}");
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &blob).to_string(), "size": blob.len(),
                "annotations": {"org.opencontainers.image.title": "mydir", "io.deis.oras.content.unpack": "true",
                                "io.deis.oras.content.digest": digest}}],
        }))
        .unwrap();
        p.manifest_raw("test/x-oras", tag, "application/vnd.oci.image.manifest.v1+json", &body);
    }
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/test/x-oras:good", reg.host), "-o", "out"]).ok();
    check_bundle(&sb.work().join("out/mydir"));
    assert!(tree(&sb.work().join("out")).iter().all(|p| p.starts_with("mydir/")), "only mydir/");
    sb.run(&["pull", &format!("{}/test/x-oras:good", reg.host), "-o", "raw", "--no-unpack"]).ok();
    assert_eq!(std::fs::read(sb.work().join("raw/mydir")).unwrap(), blob);
    sb.run(&["pull", &format!("{}/test/x-oras:bad", reg.host), "-o", "bad"])
        .fails(5, "annotation says");
    assert!(!sb.work().join("bad/mydir").exists());
    no_staging_left(&sb.work());
}

#[test]
fn hostile_archives_are_refused_and_leave_nothing() {
    let Some(reg) = registry::open() else { return };
    let ok = E::File("fine.txt", b"fine", 0o644);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("absolute", tar(&[E::File("/tmp/oci-dl-abs-evil", b"x", 0o644)]), "absolute path"),
        ("dotdot", tar(&[E::File("../evil", b"x", 0o644)]), "contains '..'"),
        ("symlink", tar(&[E::Symlink("link", "../../outside")]), "points outside the target"),
        ("abs-symlink", tar(&[E::Symlink("link", "/etc")]), "points outside the target"),
        ("hardlink", tar(&[E::Hardlink("hl", "../../etc/passwd")]), "hard link"),
        (
            "through",
            tar(&[
                E::Symlink("sub", "."),
                E::Symlink("sub2", "sub"),
                E::Dir("real/"),
                E::Symlink("real/esc", ".."),
                E::File("real/esc/x", b"x", 0o644),
            ]),
            "write through the symlink",
        ),
    ];
    for (name, bytes, needle) in cases {
        let bytes = [
            tar(&[ok_entry(&ok)]).strip_suffix(&[0u8; 1024][..]).map(<[u8]>::to_vec).unwrap(),
            bytes,
        ]
        .concat();
        let repo = format!("test/x-hostile-{name}");
        let r = push(reg, &repo, &[Layer::titled("evil.tar", bytes)]);
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.work().join("out")).unwrap();
        let run = sb.run(&["pull", &r, "-o", "out", "-x"]);
        run.fails(1, needle);
        assert!(run.stderr.contains("refusing entry"), "{name}: names the entry: {}", run.stderr);
        assert!(
            tree(&sb.work().join("out")).is_empty(),
            "{name}: nothing half-done: {:?}",
            tree(&sb.work().join("out"))
        );
        assert_eq!(
            tree(sb.dir.path())
                .iter()
                .filter(|p| p.contains("evil") || p.contains("outside"))
                .count(),
            0,
            "{name}"
        );
        no_staging_left(sb.dir.path());
    }
    assert!(!Path::new("/tmp/oci-dl-abs-evil").exists());

    // Devices are skipped with a warning; setuid bits are dropped.
    let r = push(
        reg,
        "test/x-hostile-dev",
        &[Layer::titled(
            "dev.tar",
            tar(&[E::Char("null"), E::File("su", b"x", 0o4755), ok_entry(&ok)]),
        )],
    );
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &r, "-o", "out", "-x"]);
    run.ok();
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("skipped device or FIFO \"null\""),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&sb.work().join("out")), vec!["fine.txt", "su"]);
    assert_eq!(
        std::fs::metadata(sb.work().join("out/su")).unwrap().permissions().mode() & 0o7777,
        0o755
    );
}

fn ok_entry<'a>(e: &E<'a>) -> E<'a> {
    match e {
        E::File(n, d, m) => E::File(n, d, *m),
        _ => unreachable!(),
    }
}

#[test]
fn archives_unpack_while_downloading_and_only_a_verified_blob_lands() {
    use crate::support::fake::{self, Fault, Guard, Reply};
    let archive = gz(&bundle());
    let f =
        fake::artifact_with(vec![("bundle.tar.gz", archive.clone())], Guard::Open, |hit, _, b| {
            Reply::blob(hit, b)
        });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-x", "-v", "--no-cache"]);
    run.ok();
    assert!(run.stderr.contains("bundle.tar.gz: unpacked while downloading"), "{}", run.stderr);
    check_bundle(&sb.work().join("out"));

    // Corrupt bytes: the stream was unpacked into staging, but nothing lands.
    let bad =
        fake::artifact_with(vec![("bundle.tar.gz", archive.clone())], Guard::Open, |_, _, b| {
            let mut c = b.to_vec();
            let n = c.len();
            c[n - 10] ^= 1; // the gzip trailer: the tar itself is fine
            Reply::new(200, c)
        });
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", bad.host), "-o", "out", "-x", "--no-cache"])
        .fails(5, "content hashes to");
    assert!(tree(&sb.work().join("out")).is_empty(), "{:?}", tree(&sb.work().join("out")));
    no_staging_left(&sb.work());

    // A restart from zero breaks the stream: the verified file is unpacked instead.
    let n = std::sync::atomic::AtomicUsize::new(0);
    let restart =
        fake::artifact_with(vec![("bundle.tar.gz", archive)], Guard::Open, move |_, _, b| {
            let r = Reply::new(200, b.to_vec());
            if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                r.fault(Fault::DropAfter(100))
            } else {
                r
            }
        });
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &format!("{}/x:v1", restart.host), "-o", "out", "-x", "-v", "--no-cache"]);
    run.ok();
    assert!(run.stderr.contains("unpacking from the downloaded file"), "{}", run.stderr);
    check_bundle(&sb.work().join("out"));
    no_staging_left(&sb.work());
}

#[test]
fn a_hostile_image_layer_leaves_no_root_filesystem() {
    let Some(reg) = registry::open() else { return };
    let layers = [
        Layer::untitled(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            gz(&tar(&[E::File("ok", b"ok", 0o644)])),
        ),
        Layer::untitled(
            "application/vnd.oci.image.layer.v1.tar",
            tar(&[E::Symlink("etc", "/etc"), E::File("etc/passwd", b"x", 0o644)]),
        ),
    ];
    let r = push(reg, "test/x-image-hostile", &layers);
    for jobs in ["1", "2"] {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.work().join("rootfs")).unwrap();
        let run = sb.run(&["pull", &r, "-o", "rootfs", "-x", "-j", jobs, "-v"]);
        run.fails(1, "write through the symlink");
        assert!(
            tree(&sb.work().join("rootfs")).is_empty(),
            "{:?}",
            tree(&sb.work().join("rootfs"))
        );
        no_staging_left(sb.dir.path());
    }
}

#[test]
fn a_cached_archive_unpacks_in_one_pass_too() {
    let Some(reg) = registry::open() else { return };
    let r = push(reg, "test/x-cached", &[Layer::titled("bundle.tar.gz", gz(&bundle()))]);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "-o", "first", "-x"]).ok();
    let run = sb.run(&["pull", &r, "-o", "second", "-x", "-v", "--json"]);
    run.ok();
    assert!(run.stderr.contains("bundle.tar.gz: unpacked while downloading"), "{}", run.stderr);
    check_bundle(&sb.work().join("second"));
    assert_eq!(
        tree(&sb.work().join("second")).iter().filter(|p| p.contains("bundle")).count(),
        0,
        "no archive left"
    );
    no_staging_left(&sb.work());
}
