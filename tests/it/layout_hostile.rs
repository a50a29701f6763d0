//! Layout pulls where the registry or the user gets it wrong: a corrupt blob from the strict
//! fake (exit 5, nothing half-written, `index.json` and the archive as they were, the canaries
//! around them untouched), flags that make no sense with a layout (exit 2 before any request),
//! and two runs adding tags to one layout at once (the lock keeps both).

use serde_json::{Value, json};

use crate::layout::entries;
use crate::support::fake::{Fake, Reply};
use crate::support::push::{Layer, OCI_MANIFEST, Pusher};
use crate::support::registry;
use crate::support::*;

fn sha(b: &[u8]) -> oci_dl::Digest {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b)
}

/// An artifact as `oras push` writes it (oras CLI `cmd/oras/root/push.go`: the unknown artifact
/// type, the empty config with its inline data, a `created` annotation) over `files`.
pub(crate) fn oras_manifest(files: &[(&str, &[u8])]) -> Vec<u8> {
    let layers: Vec<Value> = files
        .iter()
        .map(|(t, b)| {
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b).to_string(),
                   "size": b.len(), "annotations": {"org.opencontainers.image.title": t}})
        })
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.unknown.artifact.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}").to_string(),
                   "size": 2, "data": "e30="},
        "layers": layers,
        "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:00Z"},
    }))
    .unwrap()
}

#[test]
fn a_corrupt_blob_exits_5_and_leaves_the_layout_and_the_archive_as_they_were() {
    let (a, b) = (noise(3000, 1), noise(5000, 2));
    let v0 = oras_manifest(&[("a.bin", &a)]);
    let v1 = oras_manifest(&[("a.bin", &a), ("b.bin", &b)]);
    let (da, db) = (sha(&a).to_string(), sha(&b).to_string());
    let fake = {
        let (a, b, db) = (a.clone(), b.clone(), db.clone());
        Fake::start(move |hit| {
            let manifest =
                |m: &Vec<u8>| Reply::new(200, m.clone()).header("content-type", OCI_MANIFEST);
            match hit.route() {
                "/v2/x/manifests/v0" => manifest(&v0),
                "/v2/x/manifests/v1" => manifest(&v1),
                r if r == format!("/v2/x/blobs/{da}") => Reply::blob(hit, &a),
                r if r == format!("/v2/x/blobs/{db}") => {
                    let mut bad = b.clone();
                    bad[100] ^= 1;
                    Reply::new(200, bad)
                }
                _ => Reply::unexpected(),
            }
        })
    };
    for (format, out) in [("oci-layout", "out"), ("oci-archive", "out.tar")] {
        let sb = Sandbox::new();
        let canaries = Canaries::plant_beside(&sb.work(), out);
        let r = |tag: &str| format!("{}/x:{tag}", fake.host);
        sb.run(&["--plain-http", "pull", &r("v0"), "--format", format, "-o", out]).ok();
        let path = sb.work().join(out);
        let before = match format {
            "oci-layout" => std::fs::read(path.join("index.json")).unwrap(),
            _ => std::fs::read(&path).unwrap(),
        };
        let run = sb.run(&["--plain-http", "pull", &r("v1"), "--format", format, "-o", out]);
        run.fails(5, "hashes to");
        canaries.assert_unchanged();
        if format == "oci-layout" {
            assert_eq!(std::fs::read(path.join("index.json")).unwrap(), before, "index.json");
            let blobs = tree(&path.join("blobs"));
            assert!(
                !blobs.iter().any(|n| n.contains(&db[7..])),
                "no file for the bad blob: {blobs:?}"
            );
            assert_eq!(blobs.len(), 4, "sha256/, a.bin, {{}} and the v0 manifest: {blobs:?}");
        } else {
            assert_eq!(std::fs::read(&path).unwrap(), before, "the archive");
            let here: Vec<String> =
                tree(&sb.work()).into_iter().filter(|n| n.starts_with(".oci-dl")).collect();
            assert!(here.is_empty(), "staging left behind: {here:?}");
        }
    }
    let b_gets = fake.hits().iter().filter(|h| h.route().ends_with(&db)).count();
    assert_eq!(b_gets, 2, "one GET of the bad blob per run: a digest mismatch is not retried");
}

#[test]
fn flags_that_make_no_sense_with_a_layout_are_usage_errors_before_any_request() {
    let fake = Fake::start(|_| Reply::unexpected());
    fake.expect_unused();
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work().join("dir")).unwrap();
    std::fs::create_dir_all(sb.work().join("notes")).unwrap();
    std::fs::write(sb.work().join("notes/todo.txt"), "mine\n").unwrap();
    let r = format!("{}/x:v1", fake.host);
    let rows: [(&[&str], &str); 10] = [
        (&["--format", "oci-layout", "-o", "L", "-g", "*.bin"], "no filters"),
        (&["--format", "oci-layout", "-o", "L", "-x"], "no -x"),
        (&["--format", "oci-layout", "-o", "L", "--flatten"], "no --flatten"),
        (&["--format", "oci-layout", "-o", "-"], "not -"),
        (&["--include-referrers", "-o", "L"], "needs --format oci-layout or oci-archive"),
        (
            &["--format", "oci-layout", "-o", "L", "--referrer", "application/spdx+json"],
            "--include-referrers",
        ),
        (
            &[
                "--format",
                "oci-layout",
                "-o",
                "L",
                "--platform",
                "linux/amd64",
                "--platform",
                "linux/arm64",
            ],
            "one platform's manifest",
        ),
        (&["--format", "oci-archive", "-o", "dir"], "dir is a directory: an oci-archive is a file"),
        (
            &["--format", "oci-layout", "-o", "L", "--include-referrers", "--offline"],
            "not with --offline",
        ),
        (&["--format", "oci-layout", "-o", "notes"], "notes is not an OCI image layout"),
    ];
    for (args, needle) in rows {
        let mut all = vec!["--plain-http", "pull", &r];
        all.extend_from_slice(args);
        sb.run(&all).fails(2, needle);
    }
    assert_eq!(tree(&sb.work()), ["dir/", "notes/", "notes/todo.txt"]);
    assert_eq!(std::fs::read_to_string(sb.work().join("notes/todo.txt")).unwrap(), "mine\n");
}

#[test]
fn two_runs_adding_tags_to_one_layout_or_archive_at_once_keep_both() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let (_, body) = p.oras_push("lay/race", "v1", &[Layer::oras("app", noise(200_000, 7))]);
    p.manifest_raw("lay/race", "v2", OCI_MANIFEST, &body);
    let sb = Sandbox::new();
    // What a killed archive run leaves beside the archive goes with the next run.
    std::fs::create_dir_all(sb.work().join(".oci-dl-layout-A0.tar-99999/blobs")).unwrap();
    std::fs::write(sb.work().join(".oci-dl-archive-A0.tar-99999"), "half a tar").unwrap();
    for round in 0..4 {
        for format in ["oci-layout", "oci-archive"] {
            let out = match format {
                "oci-layout" => format!("L{round}"),
                _ => format!("A{round}.tar"),
            };
            let spawn = |tag: &str| {
                let r = format!("{}/lay/race:{tag}", reg.host);
                let mut c = sb.cmd(&["pull", &r, "--format", format, "-o", &out]);
                c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                c.spawn().unwrap()
            };
            let (one, two) = (spawn("v1"), spawn("v2"));
            for child in [one, two] {
                Run::from(child.wait_with_output().unwrap()).ok();
            }
            let layout = match format {
                "oci-layout" => sb.work().join(&out),
                _ => {
                    let dir = sb.path(&format!("unpacked{round}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    let tar = std::process::Command::new("tar")
                        .arg("-xf")
                        .arg(sb.work().join(&out))
                        .current_dir(&dir)
                        .status();
                    assert!(tar.unwrap().success());
                    dir
                }
            };
            let mut tags: Vec<Option<String>> =
                entries(&layout).into_iter().map(|(_, t)| t).collect();
            tags.sort();
            assert_eq!(tags, [Some("v1".to_owned()), Some("v2".to_owned())], "{format} {round}");
        }
    }
    let here: Vec<String> =
        tree(&sb.work()).into_iter().filter(|n| n.starts_with(".oci-dl")).collect();
    assert!(here.is_empty(), "leftovers: {here:?}");
}

/// A layout whose `blobs` someone replaced with a symlink to a directory outside: nothing is
/// written through it, and `index.json` stays as it was.
/// A run killed while it wrote `oci-layout` leaves a prefix of it (`oci-layout` is created
/// under its own name, so that another run's unlocked check never sees a directory holding only
/// a temporary name): the next run writes it whole instead of refusing the layout.
#[test]
fn a_cut_oci_layout_file_left_by_a_killed_run_is_written_again() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    p.oras_push("lay/cut", "v1", &[Layer::oras("app", noise(1000, 3))]);
    let sb = Sandbox::new();
    for prefix in ["", "{\"imageLayoutVer"] {
        let _ = std::fs::remove_dir_all(sb.work().join("L"));
        std::fs::create_dir_all(sb.work().join("L")).unwrap();
        std::fs::write(sb.work().join("L/oci-layout"), prefix).unwrap();
        let r = format!("{}/lay/cut:v1", reg.host);
        sb.run(&["pull", &r, "--format", "oci-layout", "-o", "L"]).ok();
        assert_eq!(
            std::fs::read_to_string(sb.work().join("L/oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
            "{prefix:?}"
        );
    }
}

#[test]
fn a_blobs_directory_swapped_for_a_symlink_is_refused_not_followed() {
    let a = noise(3000, 3);
    let v1 = oras_manifest(&[("a.bin", &a)]);
    let fake = Fake::start(move |hit| match hit.route() {
        "/v2/x/manifests/v1" => Reply::new(200, v1.clone()).header("content-type", OCI_MANIFEST),
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let out = sb.work().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(out.join("index.json"), r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let canaries = Canaries::plant(&sb.work());
    std::os::unix::fs::symlink("../victim", out.join("blobs")).unwrap();
    let r = format!("{}/x:v1", fake.host);
    let run = sb.run(&["--plain-http", "pull", &r, "--format", "oci-layout", "-o", "out"]);
    run.fails(1, "refusing to write through symlink");
    canaries.assert_unchanged();
    assert_eq!(
        std::fs::read_to_string(out.join("index.json")).unwrap(),
        r#"{"schemaVersion":2,"manifests":[]}"#
    );
}

/// A run finding the layout locked by another (here the test, by the same `flock`) says so and
/// waits; SIGTERM ends the wait at once (130, nothing written); once free, the run goes through.
#[test]
fn a_run_waits_for_the_layout_lock_and_sigterm_ends_the_wait() {
    use std::time::{Duration, Instant};
    let Some(reg) = registry::open() else { return };
    Pusher::new(reg).oras_push("lay/wait", "v1", &[Layer::oras("app", "app\n")]);
    let sb = Sandbox::new();
    let out = sb.work().join("L");
    std::fs::create_dir_all(&out).unwrap();
    let held = std::fs::File::open(&out).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    let r = format!("{}/lay/wait:v1", reg.host);
    let mut run = Watched::spawn(sb.cmd(&["pull", &r, "--format", "oci-layout", "-o", "L"]));
    run.wait_for("waiting for another run writing");
    let asked = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &run.id().to_string()]).status();
    assert!(kill.unwrap().success());
    let run = run.finish();
    // The lock is held throughout: ending at all is the wait ending; the bound catches a run that
    // waited for a poll interval or a timeout, with room for a loaded machine.
    assert!(asked.elapsed() < Duration::from_secs(5), "ended at once: {:?}", asked.elapsed());
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(run.stderr.contains("waiting for another run writing"), "{}", run.stderr);
    assert!(tree(&out).is_empty(), "nothing written while locked: {:?}", tree(&out));
    drop(held);
    sb.run(&["pull", &r, "--format", "oci-layout", "-o", "L"]).ok();
    assert_eq!(entries(&out).len(), 1);
}

/// A tag the registry does not have: exit 3, and no layout, archive or staging is left behind.
#[test]
fn a_tag_that_is_not_there_exits_3_and_leaves_nothing() {
    let fake = Fake::start(|hit| match hit.route() {
        "/v2/x/manifests/nope" => Reply::new(
            404,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        ),
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:nope", fake.host);
    for (format, out) in [("oci-layout", "L"), ("oci-archive", "A.tar")] {
        let run = sb.run(&["--plain-http", "pull", &r, "--format", format, "-o", out]);
        run.fails(3, "MANIFEST_UNKNOWN");
        assert_eq!(tree(&sb.work()), Vec::<String>::new(), "{format}");
    }
}

/// Where the layout meets the cache: a cache entry damaged after it was stamped (same length,
/// other bytes) is caught, dropped and downloaded again; the layout never gets its bytes.
#[test]
fn layout_and_cache_a_damaged_cache_entry_never_reaches_the_layout() {
    let Some(reg) = registry::open() else { return };
    let file = noise(300_000, 11);
    let (digest, _) =
        Pusher::new(reg).oras_push("lay/cache", "v1", &[Layer::oras("app", file.clone())]);
    let _ = digest;
    let sb = Sandbox::new();
    let r = format!("{}/lay/cache:v1", reg.host);
    sb.run(&["pull", &r, "--format", "oci-layout", "-o", "first"]).ok();
    let hex = sha(&file).hex().to_owned();
    let entry = sb.path("home/.cache/oci-dl/blobs/sha256").join(&hex);
    assert_eq!(std::fs::read(&entry).unwrap(), file, "the blob went into the cache");
    std::fs::write(&entry, noise(300_000, 12)).unwrap();
    let run = sb.run(&["pull", &r, "--format", "oci-layout", "-o", "second"]);
    run.ok();
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    let got = std::fs::read(sb.work().join("second/blobs/sha256").join(&hex)).unwrap();
    assert_eq!(got, file);
    assert_eq!(std::fs::read(&entry).unwrap(), file, "the entry was replaced by the good download");
}

/// A tar entry of `kind` at `path` (written raw, so `..` survives), with `body`.
fn raw_entry(tar: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, body: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(body.len() as u64);
    if kind == tar::EntryType::Symlink {
        h.set_link_name("../../victim/secret.txt").unwrap();
    }
    h.set_cksum();
    tar.append(&h, body).unwrap();
}

/// An existing archive is read before it is added to, as untrusted as any layout: an entry
/// that climbs out, a symlink, a blob that is not its name are refused before any request, and
/// the archive, the canaries and the directory around it stay as they were.
#[test]
fn an_existing_archive_that_is_no_clean_layout_is_refused_and_left_alone() {
    let fake = Fake::start(|_| Reply::unexpected());
    fake.expect_unused();
    let good = b"{}".to_vec();
    let good_name = format!("blobs/sha256/{}", sha(&good).hex());
    let rows: [(&str, tar::EntryType, &[u8], i32, &str); 3] = [
        (
            "blobs/sha256/../../../victim/x",
            tar::EntryType::Regular,
            b"x",
            1,
            "is not part of an OCI image layout",
        ),
        (&good_name, tar::EntryType::Symlink, b"", 1, "is not a regular file"),
        (&good_name, tar::EntryType::Regular, b"[]", 5, "hashes to"),
    ];
    for (path, kind, body, code, needle) in rows {
        let mut t = tar::Builder::new(Vec::new());
        raw_entry(
            &mut t,
            "oci-layout",
            tar::EntryType::Regular,
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        );
        raw_entry(&mut t, path, kind, body);
        let bytes = t.into_inner().unwrap();
        let sb = Sandbox::new();
        std::fs::write(sb.work().join("out.tar"), &bytes).unwrap();
        let canaries = Canaries::plant_beside(&sb.work(), "out.tar");
        let r = format!("{}/x:v1", fake.host);
        let run = sb.run(&["--plain-http", "pull", &r, "--format", "oci-archive", "-o", "out.tar"]);
        run.fails(code, needle);
        canaries.assert_unchanged();
        assert_eq!(std::fs::read(sb.work().join("out.tar")).unwrap(), bytes, "{path}");
    }
}

/// Blob names (a layer's, a manifest's) in an existing layout planted as symlinks to a file
/// outside: each link is replaced by the verified blob, never written through; the victim stays.
#[test]
fn a_blob_planted_as_a_symlink_is_replaced_never_written_through() {
    let Some(reg) = registry::open() else { return };
    let file = noise(70_000, 21);
    let (digest, body) =
        Pusher::new(reg).oras_push("lay/planted", "v1", &[Layer::oras("app", file.clone())]);
    let sb = Sandbox::new();
    let out = sb.work().join("out");
    std::fs::create_dir_all(out.join("blobs/sha256")).unwrap();
    std::fs::write(out.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(out.join("index.json"), r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let canaries = Canaries::plant(&sb.work());
    for hex in [sha(&file).hex().to_owned(), digest.hex().to_owned()] {
        std::os::unix::fs::symlink(canaries.victim(), out.join("blobs/sha256").join(hex)).unwrap();
    }
    let r = format!("{}/lay/planted:v1", reg.host);
    sb.run(&["pull", &r, "--format", "oci-layout", "-o", "out"]).ok();
    canaries.assert_unchanged();
    let blob = out.join("blobs/sha256").join(sha(&file).hex());
    assert!(!std::fs::symlink_metadata(&blob).unwrap().is_symlink());
    assert_eq!(std::fs::read(&blob).unwrap(), file);
    assert_eq!(std::fs::read(out.join("blobs/sha256").join(digest.hex())).unwrap(), body);
}

/// A layout another tool wrote wrong is an error, never rewritten: an `oci-layout` of another
/// version, an `index.json` that is not an index of descriptors. No blob is fetched for it.
#[test]
fn a_layout_written_wrong_is_an_error_and_left_as_it_was() {
    let a = noise(1000, 5);
    let v1 = oras_manifest(&[("a.bin", &a)]);
    let fake = Fake::start(move |hit| match hit.route() {
        "/v2/x/manifests/v1" => Reply::new(200, v1.clone()).header("content-type", OCI_MANIFEST),
        _ => Reply::unexpected(),
    });
    let rows = [
        (
            r#"{"imageLayoutVersion":"2.0.0"}"#,
            r#"{"schemaVersion":2,"manifests":[]}"#,
            "imageLayoutVersion \"2.0.0\", not 1.0.0",
        ),
        (r#"{"imageLayoutVersion":"1.0.0"}"#, "[]", "index.json: not a JSON object"),
        (
            r#"{"imageLayoutVersion":"1.0.0"}"#,
            r#"{"manifests":[{"digest":"sha256:00"}]}"#,
            "entry 0 is not a descriptor",
        ),
    ];
    for (layout, index, needle) in rows {
        let sb = Sandbox::new();
        let out = sb.work().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("oci-layout"), layout).unwrap();
        std::fs::write(out.join("index.json"), index).unwrap();
        let r = format!("{}/x:v1", fake.host);
        sb.run(&["--plain-http", "pull", &r, "--format", "oci-layout", "-o", "out"])
            .fails(1, needle);
        assert_eq!(tree(&out), ["index.json", "oci-layout"]);
        assert_eq!(std::fs::read_to_string(out.join("index.json")).unwrap(), index);
        assert_eq!(std::fs::read_to_string(out.join("oci-layout")).unwrap(), layout);
    }
}
