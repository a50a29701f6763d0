//! Fleets and air gaps (issue 26): re-pulls that cost the registry one HEAD, `--offline` from
//! the cache alone, and an OCI image layout as the source of a pull (written by `skopeo`, as an
//! air-gapped site gets it).

use std::process::Command;

use crate::support::fake::{self, Guard};
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

/// The requests an access-logged registry saw for `repo` (method and path), in order.
fn requests(reg: &registry::Registry, repo: &str) -> Vec<String> {
    let log = std::fs::read_to_string(reg.access_log.as_ref().unwrap()).unwrap_or_default();
    let part = format!("/v2/{repo}/");
    log.lines()
        .filter(|l| l.contains(&part) && l.contains("oci-dl/"))
        .filter_map(|l| {
            let q = l.split('"').nth(1)?;
            let mut it = q.split(' ');
            Some(format!("{} {}", it.next()?, it.next()?))
        })
        .collect()
}

/// Quota-friendly re-pulls: once a tag's manifest and blobs are cached, pulling it again asks the
/// registry one HEAD of the tag (free of Docker Hub's pull quota) — into the same directory or a
/// new one. When the tag moves, the HEAD says so and the new manifest is fetched.
#[test]
fn a_warm_repull_of_an_unchanged_tag_makes_one_head() {
    let Some(reg) = registry::logged() else { return };
    let repo = "fleet/quota";
    let p = Pusher::new(reg);
    p.oras_push(repo, "v1", &[Layer::oras("a.bin", noise(50_000, 71)), Layer::oras("b", "b\n")]);
    let sb = Sandbox::new();
    let reference = format!("{}/{repo}:v1", reg.host);
    sb.run(&["pull", &reference, "-o", "out"]).ok();
    let cold = requests(reg, repo).len();
    assert!(cold >= 3, "the manifest and two blobs: {:?}", requests(reg, repo));
    for out in ["out", "elsewhere"] {
        let before = requests(reg, repo).len();
        sb.run(&["pull", &reference, "-o", out]).ok();
        let made = &requests(reg, repo)[before..];
        assert_eq!(made, [format!("HEAD /v2/{repo}/manifests/v1")], "into {out}");
    }
    assert_eq!(std::fs::read(sb.work().join("elsewhere/b")).unwrap(), b"b\n");
    // The tag moves: the HEAD names another digest, so the manifest is fetched again.
    p.oras_push(repo, "v1", &[Layer::oras("a.bin", noise(50_000, 71)), Layer::oras("b", "B\n")]);
    let before = requests(reg, repo).len();
    sb.run(&["pull", &reference, "-o", "moved"]).ok();
    let made = &requests(reg, repo)[before..];
    assert!(made.contains(&format!("GET /v2/{repo}/manifests/v1")), "{made:?}");
    assert_eq!(std::fs::read(sb.work().join("moved/b")).unwrap(), b"B\n");
}

/// `--offline`: after one pull, the same tag (from the digest remembered for it) and the same
/// digest pull from the cache with no request at all; anything not cached is one line naming
/// it, exit 3, nothing written. `manifest` and `blob` work offline too.
#[test]
fn offline_pulls_from_the_cache_alone() {
    let files = vec![("tool", noise(40_000, 72)), ("README", b"read me\n".to_vec())];
    let f = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", f.host);
    let doc = sb.run(&["pull", &reference, "-o", "online", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&doc.ok().stdout).unwrap();
    let digest = doc["digest"].as_str().unwrap().to_owned();
    let hits = f.hits().len();
    sb.run(&["pull", &reference, "-o", "off", "--offline"]).ok();
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(sb.work().join("off").join(name)).unwrap(), bytes);
    }
    let pinned = format!("{}/x@{digest}", f.host);
    sb.run(&["pull", &pinned, "-o", "pinned", "--offline"]).ok();
    let m = sb.run(&["manifest", &reference, "--offline"]);
    let m: serde_json::Value = serde_json::from_slice(&m.ok().stdout).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 2);
    let blob = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &files[1].1);
    let b = sb.run(&["blob", &format!("{}/x@{blob}", f.host), "-o", "-", "--offline"]);
    assert_eq!(b.ok().stdout, files[1].1);
    assert_eq!(f.hits().len(), hits, "offline runs made no request");
    // Missing: a tag never pulled here, and a repository never seen.
    let root = sb.work().join("missing");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    let r =
        sb.run(&["pull", &format!("{}/x:v2", f.host), "-o", out.to_str().unwrap(), "--offline"]);
    r.fails(3, &format!("offline: {}/x:v2 was never pulled on this machine", f.host));
    assert!(!out.exists());
    c.assert_unchanged();
    // A cached manifest whose blob is gone: nothing of the pull is written.
    let cached = sb
        .path("home/.cache/oci-dl/blobs/sha256")
        .join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &files[0].1).hex());
    std::fs::remove_file(cached).unwrap();
    let r = sb.run(&["pull", &reference, "-o", out.to_str().unwrap(), "--offline"]);
    r.fails(3, "is not in it");
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
    assert_eq!(f.hits().len(), hits);
    c.assert_unchanged();
}

fn skopeo_to_layout(reg: &registry::Registry, repo: &str, dir: &std::path::Path, tag: &str) {
    let out = Command::new("skopeo")
        .args(["copy", "--all", "--src-tls-verify=false", "--quiet"])
        .arg(format!("docker://{}/{repo}:v1", reg.host))
        .arg(format!("oci:{}:{tag}", dir.display()))
        .output()
        .expect("skopeo (CI installs it)");
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
}

/// `pull --oci-layout DIR:TAG`: a layout skopeo wrote (what an air-gapped site is handed) pulls
/// like a registry, filters and `-x` included. A layout is untrusted: a damaged blob exits 5
/// and a missing one 3, with nothing written; a blob that is a symlink out of the layout is
/// refused; a tag it does not have lists those it has.
#[test]
fn a_layout_written_by_skopeo_is_pulled_and_checked_like_a_registry() {
    let Some(reg) = registry::open() else { return };
    let repo = "fleet/layout";
    let tgz = crate::extract::gz(&crate::extract::tar(&[crate::extract::E::File(
        "bin/tool",
        b"#!/bin/sh\necho tool\n",
        0o755,
    )]));
    let layers = [Layer::oras("tool.tar.gz", tgz), Layer::oras("NOTES", "notes\n")];
    Pusher::new(reg).oras_push(repo, "v1", &layers);
    let sb = Sandbox::new();
    let layout = sb.path("layout");
    skopeo_to_layout(reg, repo, &layout, "1.0");
    let spec = format!("{}:1.0", layout.display());
    sb.run(&["pull", "--oci-layout", &spec, "-o", "out", "-x", "-g", "*.tar.gz"]).ok();
    assert_eq!(tree(&sb.work().join("out")), ["bin/", "bin/tool"]);
    sb.run(&["pull", "--oci-layout", &spec, "-o", "all"]).ok();
    assert_eq!(std::fs::read(sb.work().join("all/NOTES")).unwrap(), b"notes\n");
    let r = sb.run(&["pull", "--oci-layout", &format!("{}:2.0", layout.display()), "-o", "x"]);
    r.fails(3, "has no manifest tagged \"2.0\" (tags: 1.0)");
    // Damage each blob of the files in turn (same length): exit 5, nothing written.
    let blob = |l: &Layer| layout.join("blobs/sha256").join(l.digest().hex());
    let notes = blob(&layers[1]);
    let good = std::fs::read(&notes).unwrap();
    std::fs::write(&notes, b"NOTES\n").unwrap();
    let root = sb.work().join("damaged");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    let r = sb.run(&["pull", "--oci-layout", &spec, "-o", out.to_str().unwrap()]);
    r.fails(5, "is damaged");
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
    c.assert_unchanged();
    // A blob that is a symlink to a file outside the layout (with the right bytes, even).
    let outside = sb.path("outside-notes");
    std::fs::write(&outside, &good).unwrap();
    std::fs::remove_file(&notes).unwrap();
    std::os::unix::fs::symlink(&outside, &notes).unwrap();
    let r = sb.run(&["pull", "--oci-layout", &spec, "-o", out.to_str().unwrap()]);
    assert_ne!(r.code, 0, "a symlinked blob is refused: {}", r.stderr);
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
    std::fs::remove_file(&notes).unwrap();
    let r = sb.run(&["pull", "--oci-layout", &spec, "-o", out.to_str().unwrap()]);
    r.fails(3, "is not in it");
    c.assert_unchanged();
    // Not a layout at all, and no tag named.
    sb.run(&["pull", "--oci-layout", &format!("{}:1.0", sb.work().display()), "-o", "y"])
        .fails(3, "has no oci-layout file");
    sb.run(&["pull", "--oci-layout", layout.to_str().unwrap(), "-o", "y"])
        .fails(2, "name a tag or digest in the layout");
}

/// SIGTERM while a connect is pending (a registry host that never answers the SYN) ends the run
/// at once — within the two-second grace, not the 30 s connect timeout — with exit 130 and the
/// interrupted line.
#[test]
fn sigterm_during_a_pending_connect_ends_the_run_at_once() {
    let (_listener, _held, host) = unanswering_host();
    let sb = Sandbox::new();
    let child = sb
        .cmd(&["pull", &format!("{host}/x:v1"), "-o", "out", "--plain-http"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !connect_pending(&host) {
        assert!(std::time::Instant::now() < deadline, "the run never started its connect");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let signalled = std::time::Instant::now();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < std::time::Duration::from_secs(5), "ended {took:?} after SIGTERM");
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(!sb.work().join("out").exists() || tree(&sb.work().join("out")).is_empty());
}

/// `pull --oci-layout FILE.tar:TAG`: an OCI archive (skopeo's `oci-archive:`) is unpacked into a
/// private directory and read as a layout. Only its layout members are taken: a member that
/// climbs out, or a blob that is a symlink, lands nowhere, and the pull that needs it finds it
/// missing.
#[test]
fn an_oci_archive_is_a_layout_too_and_only_its_layout_members_are_taken() {
    let Some(reg) = registry::open() else { return };
    let repo = "fleet/archive";
    Pusher::new(reg).oras_push(repo, "v1", &[Layer::oras("NOTES", "notes\n")]);
    let sb = Sandbox::new();
    let archive = sb.path("layout.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--quiet"])
        .arg(format!("docker://{}/{repo}:v1", reg.host))
        .arg(format!("oci-archive:{}:1.0", archive.display()))
        .output()
        .expect("skopeo (CI installs it)");
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
    let spec = format!("{}:1.0", archive.display());
    sb.run(&["pull", "--oci-layout", &spec, "-o", "out"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/NOTES")).unwrap(), b"notes\n");
    // A hostile archive: the real layout's members, but the NOTES blob as a symlink and a
    // member that climbs out of the layout.
    let root = sb.work().join("hostile");
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let unpacked = sb.path("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let ok = Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&unpacked).status();
    assert!(ok.unwrap().success());
    let notes = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"notes\n");
    let blob = unpacked.join("blobs/sha256").join(notes.hex());
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink(c.victim(), &blob).unwrap();
    std::fs::write(unpacked.join("escape"), "escaped\n").unwrap();
    let hostile = sb.path("hostile.tar");
    let made = Command::new("tar")
        .arg("-cf")
        .arg(&hostile)
        .arg("-C")
        .arg(&unpacked)
        .args(["oci-layout", "index.json", "blobs"])
        .arg("--transform=s,^escape$,blobs/sha256/../../../escape,")
        .arg("escape")
        .status();
    assert!(made.unwrap().success());
    let out = root.join("out");
    let r = sb.run(&[
        "pull",
        "--oci-layout",
        &format!("{}:1.0", hostile.display()),
        "-o",
        out.to_str().unwrap(),
    ]);
    r.fails(3, "is not in it");
    assert!(!out.exists() || tree(&out).is_empty());
    c.assert_unchanged();
    let strays: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("escape"))
        .collect();
    assert!(strays.is_empty(), "a member climbed out: {strays:?}");
}

/// A layout whose `index.json` tags two manifests alike: no guess between them (exit 1, both
/// named); either is still pulled by its digest.
#[test]
fn a_layout_tagging_two_manifests_alike_is_not_guessed_between() {
    let Some(reg) = registry::open() else { return };
    let repo = "fleet/twotags";
    let p = Pusher::new(reg);
    let (first, _) = p.oras_push(repo, "v1", &[Layer::oras("A", "a\n")]);
    p.oras_push(repo, "v2", &[Layer::oras("B", "b\n")]);
    let sb = Sandbox::new();
    let layout = sb.path("layout");
    for (tag, name) in [("v1", "1.0"), ("v2", "2.0")] {
        let out = Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--quiet"])
            .arg(format!("docker://{}/{repo}:{tag}", reg.host))
            .arg(format!("oci:{}:{name}", layout.display()))
            .output()
            .expect("skopeo (CI installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let index = layout.join("index.json");
    let text = std::fs::read_to_string(&index).unwrap().replace("\"2.0\"", "\"1.0\"");
    std::fs::write(&index, text).unwrap();
    let r = sb.run(&["pull", "--oci-layout", &format!("{}:1.0", layout.display()), "-o", "out"]);
    r.fails(1, "tags two manifests \"1.0\"");
    assert!(!sb.work().join("out").exists());
    let pinned = format!("{}@{first}", layout.display());
    sb.run(&["pull", "--oci-layout", &pinned, "-o", "pinned"]).ok();
    assert_eq!(std::fs::read(sb.work().join("pinned/A")).unwrap(), b"a\n");
}
