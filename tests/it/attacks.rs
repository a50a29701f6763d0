//! The attacker against this session's changes (issues 20 and 26): a hostile OCI layout given
//! to `pull --oci-layout`, and a careless user's layout directory name. Each test asserts the
//! outcome and that the canaries around the output are unchanged.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::fake;
use crate::support::*;
use oci_dl::{Algorithm, Digest};

/// Write an OCI image layout at `root` holding one artifact of `files` tagged `tag`, as
/// image-spec's image-layout.md lays it out and `oras push --oci-layout` writes it: `oci-layout`,
/// `index.json` naming the manifest with `org.opencontainers.image.ref.name`, and every blob at
/// `blobs/sha256/<hex>`. Returns the manifest's digest and each file's.
fn layout(root: &Path, tag: &str, files: &[(&str, &[u8])]) -> (Digest, Vec<Digest>) {
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = Digest::of(Algorithm::Sha256, bytes);
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
        d
    };
    let empty = put(b"{}");
    let digests: Vec<Digest> = files.iter().map(|(_, b)| put(b)).collect();
    let layers: Vec<serde_json::Value> = files
        .iter()
        .zip(&digests)
        .map(|((name, bytes), d)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": d.to_string(),
                "size": bytes.len(),
                "annotations": { "org.opencontainers.image.title": name },
            })
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.unknown.artifact.v1",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": empty.to_string(),
            "size": 2,
        },
        "layers": layers,
    }))
    .unwrap();
    let m = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m.to_string(),
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    (m, digests)
}

/// A hostile layout makes a blob a sparse file of 16 GiB where the manifest says 6 bytes: it is
/// refused by its size at once (exit 5), not hashed in full first (half a minute of two cores,
/// for a file that costs its author nothing). Class: an untrusted size checked after the work
/// it should have bounded.
#[test]
fn layout_huge_blob_is_refused_by_its_size_before_any_hashing() {
    let sb = Sandbox::new();
    let lay = sb.path("layout");
    let (_, files) = layout(&lay, "v1", &[("hello.txt", b"hello\n")]);
    let blob = std::fs::OpenOptions::new()
        .write(true)
        .open(lay.join("blobs/sha256").join(files[0].hex()))
        .unwrap();
    blob.set_len(16 << 30).unwrap();
    let root = sb.work().join("huge");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    let spec = format!("{}:v1", lay.display());
    let started = Instant::now();
    let r = sb.run(&["pull", "--oci-layout", &spec, "-o", out.to_str().unwrap()]);
    let took = started.elapsed();
    r.fails(5, "is damaged");
    assert!(r.stderr.contains("17179869184 bytes"), "the error says its size: {}", r.stderr);
    assert!(took < Duration::from_secs(5), "refused by its size, not hashed: took {took:?}");
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
    c.assert_unchanged();
}

/// A layout directory whose path holds an `@` (`releases@2026/layout:v1`) is pulled by its tag:
/// the `@` was taken for `DIR@DIGEST`, and the run failed opening `releases`. A digest after an
/// `@` still pulls by digest, whatever the directory's name holds. Class: a path split at the
/// first separator it happens to contain.
#[test]
fn layout_dir_named_with_at_and_colon_is_pulled_by_tag_and_digest() {
    let sb = Sandbox::new();
    let lay = sb.path("releases@2026/v1:stable/layout");
    let (m, _) = layout(&lay, "v1", &[("hello.txt", b"hello\n")]);
    let root = sb.work().join("named");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    let by_tag = format!("{}:v1", lay.display());
    sb.run(&["pull", "--oci-layout", &by_tag, "-o", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(out.join("hello.txt")).unwrap(), b"hello\n");
    let by_digest = format!("{}@{m}", lay.display());
    sb.run(&["pull", "--oci-layout", &by_digest, "-o", "pinned"]).ok();
    assert_eq!(std::fs::read(sb.work().join("pinned/hello.txt")).unwrap(), b"hello\n");
    // A malformed digest after the `@` is a usage error naming it, not a missing directory.
    let bad = format!("{}@sha256:1234", lay.display());
    sb.run(&["pull", "--oci-layout", &bad, "-o", "bad"]).fails(2, "--oci-layout");
    c.assert_unchanged();
}

/// A layout's own links and special files: `blobs` or `blobs/sha256` a symlink to a directory
/// of the right blobs outside it, `index.json` a symlink, `oci-layout` a FIFO (a reader that
/// opened it blocking would hang). Each is refused quickly, naming the entry, with nothing
/// written and nothing around the output touched.
#[test]
fn layout_links_and_fifo_are_refused_without_following_or_blocking() {
    use std::os::unix::fs::symlink;
    let sb = Sandbox::new();
    let root = sb.work().join("plants");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant, &str); 4] = [
        (
            "blobs",
            |l, away| {
                std::fs::rename(l.join("blobs"), away).unwrap();
                symlink(away, l.join("blobs")).unwrap();
            },
            "refusing to follow symlink",
        ),
        (
            "blobs-sha256",
            |l, away| {
                std::fs::rename(l.join("blobs/sha256"), away).unwrap();
                symlink(away, l.join("blobs/sha256")).unwrap();
            },
            "refusing to follow symlink",
        ),
        (
            "index",
            |l, away| {
                std::fs::rename(l.join("index.json"), away).unwrap();
                symlink(away, l.join("index.json")).unwrap();
            },
            "refusing to open symlink",
        ),
        (
            "fifo",
            |l, _| {
                std::fs::remove_file(l.join("oci-layout")).unwrap();
                let made = std::process::Command::new("mkfifo").arg(l.join("oci-layout")).status();
                assert!(made.unwrap().success(), "mkfifo (coreutils) makes the FIFO");
            },
            "is not a regular file",
        ),
    ];
    for (name, plant, says) in plants {
        let lay = sb.path(&format!("lay-{name}"));
        layout(&lay, "v1", &[("hello.txt", b"hello\n")]);
        plant(&lay, &sb.path(&format!("away-{name}")));
        let spec = format!("{}:v1", lay.display());
        let started = Instant::now();
        let r = sb.run(&["pull", "--oci-layout", &spec, "-o", out.to_str().unwrap()]);
        assert_ne!(r.code, 0, "{name}: refused; stderr:\n{}", r.stderr);
        assert!(r.stderr.contains(says), "{name}: says {says:?}: {}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: no blocking");
        assert!(!out.exists() || tree(&out).is_empty(), "{name}: {:?}", tree(&out));
    }
    c.assert_unchanged();
}

/// A stopped ranged download kept, past a hashed prefix of 0 bytes, a range whose bytes on disk
/// are bad (a range the server garbled before the stop: pieces past the prefix are not hashed
/// until the prefix reaches them, or a damaged disk). The digest check catches it — and, as
/// when a kept prefix fails, the download restarts from 0 and lands the blob: the registry is
/// not to blame for bytes it never sent this run. It was exit 5 blaming the download whenever
/// the kept bytes were only ranges. Class: bytes kept from disk taken for the server's.
#[test]
fn resume_x_ranges_bad_kept_range_restarts_from_zero() {
    let data = noise(8 << 20, 81);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], fake::Guard::Open, |hit, _, b| {
        fake::Reply::blob(hit, b) // ranges served as a registry serves them
    });
    let sb = Sandbox::new();
    let root = sb.work();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let part = out.join("big.bin.part");
    let mut bad = data.clone();
    bad[6 << 20..7 << 20].fill(0x5a);
    std::fs::write(&part, &bad).unwrap();
    let record = serde_json::json!({
        "digest": Digest::of(Algorithm::Sha256, &data).to_string(),
        "size": data.len(),
        "written": 0,
        "ranged": true,
        "have": [[4 << 20, 8 << 20]],
    });
    if let Err(e) = xattr::set(&part, "user.oci-dl.resume", &serde_json::to_vec(&record).unwrap()) {
        require(false, &format!("user xattrs on the temp directory's filesystem ({e})"));
    }
    let reference = format!("{}/x:v1", f.host);
    let r = sb.run(&["pull", &reference, "-o", "out", "-j", "4", "--no-cache", "-v"]);
    r.ok();
    assert!(r.stderr.contains("restarting the download from 0"), "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), data);
    assert!(!part.exists());
    c.assert_unchanged();
}

/// Another user who can write a shared cache (mode 0777, as `/srv/cache` often is) replaces its
/// `tags/` with a record saying `repo:v1` means v2's digest, whose manifest and blobs are cached
/// and hash right. `--offline` must not take it (a record is trusted only under the stamps'
/// rule), and an online re-pull still gets v1. Needs root, to act as uid 65534 with `setpriv`.
#[test]
fn cache_x_tags_another_users_record_does_not_steer_a_tag() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(me, 0, "this test acts as uid 65534 with setpriv: run it as root");
    let reg = crate::support::registry::open().expect("the CNCF docker-registry is needed");
    let repo = "attacks/tags";
    let p = crate::support::push::Pusher::new(reg);
    let (d1, _) = p.oras_push(repo, "v1", &[crate::support::push::Layer::oras("f", "one\n")]);
    let (d2, _) = p.oras_push(repo, "v2", &[crate::support::push::Layer::oras("f", "two\n")]);
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = sb.path("shared/out");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let around_cache = Canaries::plant(&sb.path("shared"));
    let c = cache.to_str().unwrap();
    let (v1, v2) = (format!("{}/{repo}:v1", reg.host), format!("{}/{repo}:v2", reg.host));
    for (r, out) in [(&v1, "o1"), (&v2, "o2")] {
        sb.run(&["pull", r, "-o", out, "--cache", c]).ok();
    }
    assert_ne!(d1, d2);
    let name = Digest::of(Algorithm::Sha256, format!("{}/{repo}:v1", reg.host).as_bytes());
    let record = format!("v1 {d2} {}/{repo}:v1\n", reg.host);
    std::fs::write(sb.path("record"), record).unwrap();
    std::fs::set_permissions(sb.path("record"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = format!(
        "cd shared/out && mv tags tags.old && mkdir tags && cp ../../record tags/{}",
        name.hex()
    );
    let ran = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "sh", "-c", &script])
        .current_dir(sb.dir.path())
        .output()
        .expect("setpriv (util-linux) is needed to act as another user");
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let around_out = Canaries::plant(&sb.work());
    let r = sb.run(&["pull", &v1, "-o", "out", "--cache", c, "--offline"]);
    r.fails(3, "was never pulled on this machine");
    assert!(!sb.work().join("out/f").exists());
    sb.run(&["pull", &v1, "-o", "out", "--cache", c]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/f")).unwrap(), b"one\n");
    around_out.assert_unchanged();
    around_cache.assert_unchanged();
}
