//! Release-archive formats: zip, tar.xz, tar.bz2, single .xz / .bz2 (and tar.gz beside them),
//! made by the real tools (Info-ZIP `zip`, GNU `tar`, `xz`, `bzip2`), pushed as `oras push`
//! pushes files or with their specific types, and unpacked by their bytes. Then the hostile
//! rows: the same attacks tar is tested with, written into zips by hand, and bombs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

/// `app/bin/run` (0755) and `app/doc.txt` (0644), as a release would ship them.
fn source() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("app/bin")).unwrap();
    std::fs::write(d.path().join("app/bin/run"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::set_permissions(d.path().join("app/bin/run"), std::fs::Permissions::from_mode(0o755))
        .unwrap();
    std::fs::write(d.path().join("app/doc.txt"), "docs\n").unwrap();
    d
}

/// Run a real tool in `dir`; its stdout, or what it wrote to `out` in `dir`.
fn tool(dir: &Path, cmd: &str, args: &[&str], out: Option<&str>) -> Vec<u8> {
    let o = Command::new(cmd).args(args).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    match out {
        Some(f) => std::fs::read(dir.join(f)).unwrap(),
        None => o.stdout,
    }
}

fn have_tools() -> bool {
    let ok = ["zip", "xz", "bzip2", "tar"].iter().all(|t| {
        Command::new(t)
            .arg("--help")
            .output()
            .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
    });
    crate::support::require(ok, "zip, xz-utils and bzip2");
    ok
}

const OCTET: &str = "application/octet-stream";
const ORAS: &str = "application/vnd.oci.image.layer.v1.tar";

#[test]
fn every_format_by_bytes_type_and_name() {
    let Some(reg) = registry::open() else { return };
    if !have_tools() {
        return;
    }
    let src = source();
    let d = src.path();
    std::fs::write(d.join("notes.txt"), "notes\n").unwrap();
    // format, bytes, its specific media type, its right suffix, whether it is a tree
    let formats: Vec<(&str, Vec<u8>, &str, &str, bool)> = vec![
        (
            "zip",
            tool(d, "zip", &["-qr", "a.zip", "app"], Some("a.zip")),
            "application/zip",
            ".zip",
            true,
        ),
        ("tar.xz", tool(d, "tar", &["cJf", "-", "app"], None), "application/x-xz", ".tar.xz", true),
        (
            "tar.bz2",
            tool(d, "tar", &["cjf", "-", "app"], None),
            "application/x-bzip2",
            ".tar.bz2",
            true,
        ),
        ("tar.gz", tool(d, "tar", &["czf", "-", "app"], None), "application/gzip", ".tgz", true),
        ("xz", tool(d, "xz", &["-c", "notes.txt"], None), "application/x-xz", ".xz", false),
        ("bz2", tool(d, "bzip2", &["-c", "notes.txt"], None), "application/x-bzip2", ".bz2", false),
    ];
    let tree_want = ["app/", "app/bin/", "app/bin/run", "app/doc.txt"];
    let mut i = 0;
    for (format, bytes, specific, suffix, is_tree) in &formats {
        for media_type in [ORAS, specific, OCTET] {
            // The right suffix, a wrong one, none.
            let wrong = if *is_tree { ".tar.gz" } else { ".gz" };
            for name in [format!("notes.txt{suffix}"), format!("notes.txt{wrong}"), "notes".into()]
            {
                i += 1;
                let repo = format!("test/f-{i}");
                let layer = Layer {
                    bytes: bytes.clone(),
                    title: Some(name.clone()),
                    media_type: media_type.into(),
                };
                Pusher::new(reg).oras_push(&repo, "v1", &[layer]);
                let sb = Sandbox::new();
                let run = sb.run(&["pull", &format!("{}/{repo}:v1", reg.host), "-o", "out", "-x"]);
                run.ok();
                let claims_archive = media_type != OCTET || name != "notes";
                let want: Vec<String> = if !claims_archive {
                    vec![name.clone()] // nothing says archive: kept as pushed
                } else if *is_tree {
                    tree_want.iter().map(|s| s.to_string()).collect()
                } else if name.ends_with(".xz") || name.ends_with(".bz2") || name.ends_with(".gz") {
                    vec!["notes.txt".into()]
                } else {
                    vec![name.clone()]
                };
                let case = format!("{format} as {media_type} named {name}");
                assert_eq!(tree(&sb.work().join("out")), want, "{case}: {}", run.stderr);
                if *is_tree && claims_archive {
                    let mode = std::fs::metadata(sb.work().join("out/app/bin/run"))
                        .unwrap()
                        .permissions()
                        .mode();
                    assert_eq!(mode & 0o111, 0o111, "{case}: executables stay executable");
                    assert_eq!(
                        std::fs::read(sb.work().join("out/app/doc.txt")).unwrap(),
                        b"docs\n"
                    );
                } else if want == ["notes.txt"] {
                    assert_eq!(
                        std::fs::read(sb.work().join("out/notes.txt")).unwrap(),
                        b"notes\n",
                        "{case}"
                    );
                }
            }
        }
    }
}

/// A zip written member by member, so hostile names, modes and sizes go in as given.
struct Zip {
    body: Vec<u8>,
    central: Vec<u8>,
    count: u16,
}

/// A member: name bytes, unix mode (with its type bits), content; deflated when `deflate`.
struct Member<'a> {
    name: &'a [u8],
    mode: u32,
    data: &'a [u8],
    deflate: bool,
}

impl Zip {
    fn new() -> Zip {
        Zip { body: Vec::new(), central: Vec::new(), count: 0 }
    }

    fn add(&mut self, m: Member<'_>) -> &mut Zip {
        let mut crc = flate2::Crc::new();
        crc.update(m.data);
        let (method, stored) = if m.deflate {
            use std::io::Write as _;
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(m.data).unwrap();
            (8u16, e.finish().unwrap())
        } else {
            (0u16, m.data.to_vec())
        };
        let offset = self.body.len() as u32;
        let utf8 = 1u16 << 11;
        let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
        let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
        let b = &mut self.body;
        le32(b, 0x0403_4b50);
        for x in [20, utf8, method, 0, 0x21] {
            le16(b, x);
        }
        for x in [crc.sum(), stored.len() as u32, m.data.len() as u32] {
            le32(b, x);
        }
        le16(b, m.name.len() as u16);
        le16(b, 0);
        b.extend_from_slice(m.name);
        b.extend_from_slice(&stored);
        let c = &mut self.central;
        le32(c, 0x0201_4b50);
        for x in [(3 << 8) | 20, 20, utf8, method, 0, 0x21] {
            le16(c, x);
        }
        for x in [crc.sum(), stored.len() as u32, m.data.len() as u32] {
            le32(c, x);
        }
        for x in [m.name.len() as u16, 0, 0, 0, 0] {
            le16(c, x);
        }
        le32(c, m.mode << 16);
        le32(c, offset);
        c.extend_from_slice(m.name);
        self.count += 1;
        self
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Zip {
        self.add(Member { name: name.as_bytes(), mode: 0o100644, data, deflate: false })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.body.clone();
        out.extend_from_slice(&self.central);
        let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for x in [0, 0, self.count, self.count] {
            le16(&mut out, x);
        }
        out.extend_from_slice(&(self.central.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        le16(&mut out, 0);
        out
    }
}

fn push(reg: &Registry, repo: &str, title: &str, bytes: Vec<u8>) -> String {
    Pusher::new(reg).oras_push(repo, "v1", &[Layer::oras(title, bytes)]);
    format!("{}/{repo}:v1", reg.host)
}

#[test]
fn hostile_zips_are_refused_like_hostile_tars() {
    let Some(reg) = registry::open() else { return };
    let link = |name: &'static str, target: &'static str| Member {
        name: name.as_bytes(),
        mode: 0o120777,
        data: target.as_bytes(),
        deflate: false,
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("slip", Zip::new().file("ok.txt", b"ok").file("../evil", b"x").bytes(), "contains '..'"),
        ("absolute", Zip::new().file("/tmp/oci-dl-zip-evil", b"x").bytes(), "absolute path"),
        ("backslash", Zip::new().file("..\\evil", b"x").bytes(), "contains '..'"),
        ("deep-backslash", Zip::new().file("a\\..\\..\\evil", b"x").bytes(), "contains '..'"),
        (
            "symlink-out",
            Zip::new().add(link("link", "../victim")).file("link/secret.txt", b"x").bytes(),
            "points outside the target",
        ),
        (
            "through-link",
            Zip::new().add(link("link", "sub")).file("link/x", b"x").bytes(),
            "write through the symlink",
        ),
        ("duplicate", Zip::new().file("a.txt", b"1").file("a.txt", b"2").bytes(), "twice"),
        (
            "same-after-cleaning",
            Zip::new().file("a.txt", b"1").file("./a.txt", b"2").bytes(),
            "twice",
        ),
        ("dir-and-file", Zip::new().file("d/", b"").file("d", b"2").bytes(), "twice"),
        (
            "nul",
            Zip::new()
                .add(Member { name: b"a\0b", mode: 0o100644, data: b"x", deflate: false })
                .bytes(),
            "NUL",
        ),
        (
            "not-utf8",
            Zip::new()
                .add(Member { name: b"caf\xe9", mode: 0o100644, data: b"x", deflate: false })
                .bytes(),
            "not valid UTF-8",
        ),
        ("reserved", Zip::new().file(".oci-dl-staging-1-0/t/x", b"x").bytes(), "reserved"),
    ];
    for (case, bytes, needle) in cases {
        let r = push(reg, &format!("test/f-hostile-{case}"), "evil.zip", bytes);
        let sb = Sandbox::new();
        let c = Canaries::plant(&sb.work());
        let run = sb.run(&["pull", &r, "-o", "out", "-x"]);
        run.fails(1, needle);
        assert!(run.stderr.contains("refusing entry"), "{case}: {}", run.stderr);
        assert!(
            tree(&sb.work().join("out")).is_empty(),
            "{case}: {:?}",
            tree(&sb.work().join("out"))
        );
        c.assert_unchanged();
    }
    assert!(!Path::new("/tmp/oci-dl-zip-evil").exists());

    // setuid/setgid bits are dropped; unix modes otherwise kept; a member without one is 0644.
    let modes = Zip::new()
        .add(Member { name: b"su", mode: 0o104755, data: b"x", deflate: true })
        .add(Member { name: b"plain", mode: 0, data: b"y", deflate: false })
        .add(Member { name: b"dir/", mode: 0o040700, data: b"", deflate: false })
        .bytes();
    let r = push(reg, "test/f-modes", "m.zip", modes);
    let sb = Sandbox::new();
    let script = "umask 022; exec \"$0\" \"$@\"";
    let args = ["-c", script, env!("CARGO_BIN_EXE_oci-dl"), "pull", &r, "-o", "out", "-x"];
    Run::from(sb.cmd(&[]).output_with_program("sh", &args)).ok();
    let mode = |p: &str| {
        std::fs::metadata(sb.work().join("out").join(p)).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode("su"), 0o755);
    assert_eq!(mode("plain"), 0o644);
    assert_eq!(mode("dir"), 0o700);
}

#[test]
fn bombs_in_every_new_format_stop_at_the_limit() {
    let Some(reg) = registry::open() else { return };
    if !have_tools() {
        return;
    }
    // 256 MiB of zeros through the real compressors: kilobytes each.
    let zeros = |cmd: &str| {
        let script = format!("head -c 268435456 /dev/zero | {cmd}");
        let o = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(o.status.success(), "{cmd}");
        o.stdout
    };
    let (xz, bz) = (zeros("xz -1"), zeros("bzip2 -1"));
    let zip = {
        let big = vec![0u8; 256 << 20];
        Zip::new()
            .add(Member { name: b"zeros.bin", mode: 0o100644, data: &big, deflate: true })
            .bytes()
    };
    for (title, bytes) in [("zeros.bin.xz", xz), ("zeros.bin.bz2", bz), ("zeros.zip", zip)] {
        assert!(bytes.len() < 4 << 20, "{title}: a small bomb ({} bytes)", bytes.len());
        let r = push(reg, &format!("test/f-bomb-{title}"), title, bytes);
        let sb = Sandbox::new();
        let c = Canaries::plant(&sb.work());
        std::fs::create_dir(sb.work().join("out")).unwrap();
        let Some(_m) =
            Mount::new(&["-t", "tmpfs", "-o", "size=256m", "tmpfs"], &sb.work().join("out"))
        else {
            return;
        };
        let script = "ulimit -v 1500000; exec \"$0\" \"$@\"";
        let args = ["-c", script, env!("CARGO_BIN_EXE_oci-dl"), "pull", &r, "-o", "out", "-x"];
        let run = Run::from(sb.cmd(&[]).output_with_program("sh", &args));
        run.fails(1, "unpacks to more than");
        assert!(
            tree(&sb.work().join("out")).is_empty(),
            "{title}: {:?}",
            tree(&sb.work().join("out"))
        );
        c.assert_unchanged();
    }
}

/// The tar attacks, inside the new compressions: the same refusals, nothing left.
#[test]
fn hostile_tars_inside_xz_and_bzip2_are_refused() {
    use crate::extract::{E, tar};
    let Some(reg) = registry::open() else { return };
    if !have_tools() {
        return;
    }
    let compress = |cmd: &str, data: &[u8]| {
        use std::io::Write as _;
        let mut child = Command::new(cmd)
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        child.wait_with_output().unwrap().stdout
    };
    let attacks: [(&str, Vec<u8>, &str); 3] = [
        ("dotdot", tar(&[E::File("../evil", b"x", 0o644)]), "contains '..'"),
        ("link-out", tar(&[E::Symlink("l", "../../victim")]), "points outside the target"),
        (
            "through",
            tar(&[E::Dir("real/"), E::Symlink("real/up", ".."), E::File("real/up/x", b"x", 0o644)]),
            "write through the symlink",
        ),
    ];
    for (cmd, suffix) in [("xz", "tar.xz"), ("bzip2", "tar.bz2")] {
        for (attack, bytes, needle) in &attacks {
            let r = push(
                reg,
                &format!("test/f-h-{cmd}-{attack}"),
                &format!("evil.{suffix}"),
                compress(cmd, bytes),
            );
            let sb = Sandbox::new();
            let c = Canaries::plant(&sb.work());
            sb.run(&["pull", &r, "-o", "out", "-x"]).fails(1, needle);
            assert!(tree(&sb.work().join("out")).is_empty(), "{cmd} {attack}");
            c.assert_unchanged();
        }
    }
}
