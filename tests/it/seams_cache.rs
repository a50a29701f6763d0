//! Where the blob cache meets the other features (issue 20): the user's output files, `-x`,
//! `--verify-key`, and another user who can write a shared cache directory. Each test plays the
//! attacker or the careless user, and checks the canaries around the output directory and
//! around the cache. Another user is a real uid (65534, via `setpriv`); we run as root here and
//! in CI, and a test that needs root says so and fails.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::extract::{E, tar};
use crate::support::fake::{self, Guard, Reply};
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;
use crate::trust::{openssl_sign, p256_key, payload, push_signature, sig_ann};

const NOBODY: &str = "65534";

/// A sandbox whose cache is a directory anyone may write (`--cache`, like a shared
/// `/srv/cache` made with mode 0777), with canaries around the output directory (`work/out`)
/// and around the cache (`shared/out`: the canaries' `out` is the cache itself).
struct Shared {
    sb: Sandbox,
    cache: PathBuf,
    around_out: Canaries,
    around_cache: Canaries,
    stamp: Stamp,
}

impl Shared {
    fn new() -> Shared {
        let me = rustix_euid();
        assert_eq!(me, 0, "these tests act as another uid with setpriv: run them as root");
        let sb = Sandbox::new();
        let open = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        open(sb.dir.path(), 0o755);
        let cache = sb.path("shared/out");
        std::fs::create_dir_all(&cache).unwrap();
        open(&cache, 0o777);
        let around_cache = Canaries::plant(&sb.path("shared"));
        let around_out = Canaries::plant(&sb.work());
        let stamp = learn_stamp(&sb);
        Shared { sb, cache, around_out, around_cache, stamp }
    }

    fn pull(&self, reference: &str, extra: &[&str]) -> Run {
        let cache = self.cache.to_str().unwrap();
        let args = [&["pull", reference, "-o", "out", "--cache", cache][..], extra].concat();
        self.sb.run(&args)
    }

    /// Run `sh -c script` as uid/gid 65534 with no supplementary groups.
    #[track_caller]
    fn as_nobody(&self, script: &str) {
        let ids = ["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"];
        let out = Command::new("setpriv")
            .args(ids)
            .args(["sh", "-c", script])
            .current_dir(self.sb.dir.path())
            .output()
            .expect("setpriv (util-linux) is needed to act as another user");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// As another user: put `bytes` in the cache as the entry for `digest`, and a stamp that
    /// describes that file the way oci-dl's stamps do — learnt, as the planter would, from a
    /// stamp oci-dl wrote in a cache of the planter's own ([`learn_stamp`]).
    fn plant(&self, digest: &oci_dl::Digest, bytes: &[u8]) {
        let staged = self.sb.path("staged");
        std::fs::write(&staged, bytes).unwrap();
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (blobs, stamps) = ("shared/out/blobs/sha256", "shared/out/stamps/sha256");
        let hex = digest.hex();
        self.as_nobody(&format!(
            "mkdir -p {blobs} {stamps} && rm -f {blobs}/{hex} && cp staged {blobs}/{hex}"
        ));
        let m = std::fs::metadata(self.cache.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(m.uid(), 65534);
        std::fs::write(&staged, self.stamp.describe(digest, &m)).unwrap();
        self.as_nobody(&format!("rm -f {stamps}/{hex} && cp staged {stamps}/{hex}"));
        std::fs::remove_file(&staged).unwrap();
    }

    #[track_caller]
    fn assert_canaries(&self) {
        self.around_out.assert_unchanged();
        self.around_cache.assert_unchanged();
    }
}

/// A stamp oci-dl wrote, and the entry it describes.
struct Stamp {
    text: String,
    digest: oci_dl::Digest,
    entry: std::fs::Metadata,
}

/// Pull a blob twice into a cache of one's own (the second use, once the entry has settled,
/// stamps it) and keep the stamp, to learn what a stamp says without reading oci-dl's source.
fn learn_stamp(sb: &Sandbox) -> Stamp {
    let data = noise(1000, 99);
    let f = fake::artifact(vec![("w", data.clone())], Guard::Open, None);
    let own = sb.path("own-cache");
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "../own-1", "--cache", own.to_str().unwrap()]).ok();
    std::thread::sleep(std::time::Duration::from_millis(300));
    sb.run(&["pull", &r, "-o", "../own-2", "--cache", own.to_str().unwrap()]).ok();
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data);
    let text = std::fs::read_to_string(own.join("stamps/sha256").join(digest.hex())).unwrap();
    let entry = std::fs::metadata(own.join("blobs/sha256").join(digest.hex())).unwrap();
    Stamp { text, digest, entry }
}

impl Stamp {
    /// This stamp's text with every field of its entry (device, inode, size, times, digest)
    /// replaced by those of `m`, the entry for `d`: each token of the text takes the first
    /// field, in `stat` order, that has its value and is not taken yet.
    fn describe(&self, d: &oci_dl::Digest, m: &std::fs::Metadata) -> String {
        let fields = |d: &oci_dl::Digest, m: &std::fs::Metadata| {
            let n = [m.dev(), m.ino(), m.size()].map(|v| v.to_string());
            let t = [m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()].map(|v| v.to_string());
            [vec![d.hex().to_owned()], n.to_vec(), t.to_vec()].concat()
        };
        let (old, new) = (fields(&self.digest, &self.entry), fields(d, m));
        let mut taken = vec![false; old.len()];
        let mut out = String::new();
        for token in self.text.split_inclusive([' ', '.', ':', '\n']) {
            let (word, sep) = token.split_at(token.trim_end_matches([' ', '.', ':', '\n']).len());
            let hit = (0..old.len()).find(|&i| !taken[i] && old[i] == word);
            match hit {
                Some(i) => {
                    taken[i] = true;
                    out.push_str(&new[i]);
                }
                None => out.push_str(word),
            }
            out.push_str(sep);
        }
        assert!(taken[1..6].iter().all(|t| *t), "{}: not every field found", self.text);
        out
    }
}

fn rustix_euid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn reg() -> &'static registry::Registry {
    registry::open().expect("the CNCF docker-registry (/usr/bin/docker-registry) is needed")
}

/// An ELF-looking tool, as a release pipeline pushes it with `oras push`.
fn tool_bytes(seed: u64) -> Vec<u8> {
    [&b"\x7fELF\x02\x01\x01\0"[..], &noise(200_000, seed)].concat()
}

/// A planted entry with a matching stamp, owned by another user in a cache directory anyone may
/// write: hashed, found damaged, never landed; the genuine bytes are downloaded.
#[test]
fn cache_x_other_user_planted_entry_and_stamp_never_land() {
    let s = Shared::new();
    let layers = [Layer::oras("tool", tool_bytes(1)), Layer::oras("README.md", "genuine\n")];
    let (_, _) = Pusher::new(reg()).oras_push("seams/cache-other", "v1", &layers);
    let r = format!("{}/seams/cache-other:v1", reg().host);
    for l in &layers {
        // Of the same length: a size check alone cannot tell.
        s.plant(&l.digest(), &l.bytes.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>());
    }
    let run = s.pull(&r, &["-vv"]);
    run.ok();
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    assert!(!run.stderr.contains("unchanged since it verified"), "{}", run.stderr);
    for l in &layers {
        let out = s.sb.work().join("out").join(l.title.as_ref().unwrap());
        assert_eq!(std::fs::read(&out).unwrap(), l.bytes);
        let m = std::fs::metadata(&out).unwrap();
        assert_eq!((m.uid(), m.nlink()), (0, 1), "our own file");
    }
    s.assert_canaries();
}

/// `-x`: a planted archive (another user's entry and stamp in place of the genuine tarball) is
/// never unpacked; the genuine one is.
#[test]
fn cache_x_extract_planted_archive_is_never_unpacked() {
    let s = Shared::new();
    // goreleaser's archive layout (internal/pipe/archive: `{{.ProjectName}}_{{.Version}}_
    // {{.Os}}_{{.Arch}}` with `formats: [tar]`, holding the binary and README), pushed with
    // `oras push`. The planted tar has the same length: a size check alone cannot tell.
    let tool = tool_bytes(2);
    let script = [&b"#!/bin/sh\necho pwned\n"[..], &vec![b'#'; tool.len() - 21]].concat();
    let genuine = tar(&[E::File("tool", &tool, 0o755), E::File("README.md", b"genuine\n", 0o644)]);
    let evil = tar(&[E::File("tool", &script, 0o755), E::File("evil.txt", b"planted\n", 0o644)]);
    assert_eq!(genuine.len(), evil.len());
    let layer = Layer::oras("tool_1.0.0_linux_amd64.tar", genuine);
    Pusher::new(reg()).oras_push("seams/cache-extract", "v1", std::slice::from_ref(&layer));
    let r = format!("{}/seams/cache-extract:v1", reg().host);
    s.plant(&layer.digest(), &evil);
    let run = s.pull(&r, &["-x"]);
    run.ok();
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    let out = s.sb.work().join("out");
    assert!(!tree(&out).iter().any(|p| p.contains("evil")), "{:?}", tree(&out));
    let unpacked = tree(&out).into_iter().find(|p| p.ends_with("tool")).unwrap();
    assert_eq!(std::fs::read(out.join(unpacked)).unwrap(), tool);
    let records = s.cache.join("outputs");
    assert!(!records.exists() || tree(&records).is_empty(), "no record of an unpacked archive");
    s.assert_canaries();
}

/// `--verify-key` with cosign: the signature covers the manifest, the manifest the layer's
/// digest; a planted entry for that digest, stamped by its planter, must still not land.
#[test]
fn cache_x_verify_key_planted_entry_never_lands_under_cosign() {
    let s = Shared::new();
    let repo = "seams/cache-cosign";
    let tool = tool_bytes(3);
    let layers = [Layer::oras("tool", tool.clone())];
    let p = Pusher::new(reg());
    let (digest, _) = p.oras_push(repo, "v1", &layers);
    let (key, public) = p256_key(&s.sb.path("keys"), "cosign");
    let body = payload(&format!("{}/{repo}", reg().host), &digest.to_string());
    push_signature(&p, repo, &digest, &[(body.clone(), sig_ann(&openssl_sign(&key, &body)))]);
    s.plant(&layers[0].digest(), &tool_bytes(4));
    let r = format!("{}/{repo}:v1", reg().host);
    let run = s.pull(&r, &["--verify-key", public.to_str().unwrap()]);
    run.ok();
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    assert_eq!(std::fs::read(s.sb.work().join("out/tool")).unwrap(), tool);
    s.assert_canaries();
}

/// A challenge remembered in a cache directory another user can write names the planter's
/// token endpoint: it is not asked ahead. (One the registry's own host serves still may be,
/// and one in the user's own private cache is: `cache::a_stale_remembered_challenge…`.)
#[test]
fn cache_x_other_user_planted_challenge_is_not_asked_ahead() {
    let s = Shared::new();
    let f = fake::artifact(vec![("a", noise(3000, 5))], Guard::Bearer { token_auth: None }, None);
    let evil = fake::Fake::start(|_| Reply::new(200, r#"{"token":"from-the-planter"}"#));
    evil.expect_unused();
    let file = oci_dl_host_file(&f.host);
    let json = format!(
        r#"{{"registry":"{}","scheme":"bearer","realm":"http://{}/token","service":"reg"}}"#,
        f.host, evil.host
    );
    std::fs::write(s.sb.path("staged"), json).unwrap();
    s.as_nobody(&format!(
        "mkdir -p shared/out/challenges && cp staged shared/out/challenges/{file}"
    ));
    let cache = s.cache.to_str().unwrap();
    s.sb.run(&["manifest", &format!("{}/x:v1", f.host), "--cache", cache]).ok();
    std::fs::remove_file(s.sb.path("staged")).unwrap();
    s.assert_canaries();
}

/// `challenges/<host>.json` as oci-dl names it (src/registry/remembered.rs `file_name`).
fn oci_dl_host_file(host: &str) -> String {
    host.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect::<String>()
        + ".json"
}

fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// The careless user: `chmod 600` on one pulled file and an in-place edit of another stay in
/// those files — the next pull's files have their own inodes and modes, the cache keeps the
/// genuine bytes — and a re-pull into the same directory is up to date without hashing.
#[test]
fn cache_x_outputs_a_pulled_file_is_a_file_of_its_own() {
    let files = vec![("tool", tool_bytes(6)), ("README.md", b"read me\n".to_vec())];
    let f = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("c/out")).unwrap();
    let (around_out, around_cache) = (Canaries::plant(&sb.work()), Canaries::plant(&sb.path("c")));
    let r = format!("{}/x:v1", f.host);
    let cache = sb.path("c/out");
    let pull =
        |to: &str| sb.run(&["pull", &r, "-o", to, "--cache", cache.to_str().unwrap(), "-vv"]);
    pull("out/a").ok();
    let (a, b) = (sb.work().join("out/a"), sb.work().join("out/b"));
    std::fs::set_permissions(a.join("tool"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(a.join("README.md")).unwrap();
    w.write_all(b"EDITED!!").unwrap();
    drop(w);
    pull("out/b").ok();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&b.join("tool")), 0o755 & !umask());
    assert_eq!(mode(&b.join("README.md")), 0o644 & !umask());
    assert_eq!(mode(&a.join("tool")), 0o600, "the first pull's file is untouched");
    assert_eq!(std::fs::read(a.join("README.md")).unwrap(), b"EDITED!!");
    for (name, data) in &files {
        let entry = cache
            .join("blobs/sha256")
            .join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, data).hex());
        assert_eq!(&std::fs::read(&entry).unwrap(), data, "the cache keeps the genuine bytes");
        assert_eq!(&std::fs::read(b.join(name)).unwrap(), data);
        let inode = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).unwrap();
        let all = [inode(&entry), inode(&a.join(name)), inode(&b.join(name))];
        assert!(all[0] != all[1] && all[1] != all[2] && all[0] != all[2], "{name}: {all:?}");
    }
    let again = pull("out/b");
    again.ok();
    assert!(again.stderr.contains("2 already up to date"), "{}", again.stderr);
    for name in ["tool", "README.md"] {
        let said = format!("out/b/{name} is unchanged since it verified");
        assert!(again.stderr.contains(&said), "{name} was hashed again: {}", again.stderr);
    }
    around_out.assert_unchanged();
    around_cache.assert_unchanged();
}

/// `cache prune` with `blobs/sha256`, `blobs` or `stamps/sha256` a symlink to a directory of
/// the user's files — named like the cache's own entries — deletes none of them.
#[test]
fn cache_x_user_files_prune_never_follows_a_symlinked_cache_dir() {
    let data = noise(5000, 7);
    let f = fake::artifact(vec![("a.bin", data.clone())], Guard::Open, None);
    let hex = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex().to_owned();
    for which in ["blobs/sha256", "blobs", "stamps/sha256"] {
        let sb = Sandbox::new();
        let (c, cache) = (sb.path("c"), sb.path("c/out"));
        let c_arg = cache.to_str().unwrap();
        sb.run(&["--cache", c_arg, "pull", &format!("{}/x:v1", f.host), "-o", "o"]).ok();
        for d in ["victims/sha256", "out/stamps/sha256"] {
            std::fs::create_dir_all(c.join(d)).unwrap();
        }
        for name in [format!("sha256/{hex}"), hex.clone(), format!("sha256/{hex}.keep")] {
            std::fs::write(c.join("victims").join(name), b"the user's own file\n").unwrap();
        }
        let around = Canaries::plant(&c);
        let link = cache.join(which);
        std::fs::rename(&link, cache.join("moved-away")).unwrap();
        let target = if which == "blobs" { c.join("victims") } else { c.join("victims/sha256") };
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let run = sb.run(&["--cache", c_arg, "cache", "prune", "--max-size", "0"]);
        run.fails(1, &format!("refusing to follow symlink {}", link.display()));
        around.assert_unchanged();
    }
}
