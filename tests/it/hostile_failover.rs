//! An attacker's review of the fail-over inside the registry client (issue 23 item 1): a mirror
//! or the registry serving bad bytes, a 404 or a cancel after them, bad ranges, tags asked of a
//! digest-only mirror, and a read by digest that must be checked. Bad bytes are blamed on the
//! mirrors that sent them and no one else; nothing unverified lands.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hostile_net::signal;
use crate::referrers::push_referrer;
use crate::support::fake::{self, Fake, Fault, Guard, Reply};
use crate::support::push::{EMPTY_CONFIG, Layer, OCI_MANIFEST, Pusher};
use crate::support::*;

const MIB: usize = 1024 * 1024;
const SPDX: &str = "application/spdx+json";

fn digest_of(bytes: &[u8]) -> String {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, bytes).to_string()
}

/// A blob's bytes with one byte flipped at `at`: what a bad mirror serves.
fn corrupt(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0xff;
    b
}

/// A mirror that has nothing: every manifest and blob is a 404 (so it is never dropped).
fn empty_mirror() -> Fake {
    Fake::start(|hit| match hit.route() {
        r if r.starts_with("/v2/x/manifests/") => {
            Reply::new(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#)
        }
        r if r.starts_with("/v2/x/blobs/") => {
            Reply::new(404, r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}"#)
        }
        _ => Reply::unexpected(),
    })
}

/// The registry itself serving bad bytes is not a mirror's fault: one round, exit 5, and a
/// mirror that only answered 404 is neither blamed nor asked twice; nothing is left behind.
#[test]
fn bad_bytes_from_the_registry_fail_in_one_round_and_blame_no_mirror() {
    let data = noise(60_000, 43);
    let registry = fake::artifact_with(vec![("one", data.clone())], Guard::Open, |_, _, b| {
        Reply::new(200, corrupt(b, 1_000))
    });
    let mirror = empty_mirror();
    let sb = Sandbox::new();
    let root = sb.work().join("pulls");
    std::fs::create_dir_all(&root).unwrap();
    let canaries = Canaries::plant(&root);
    let out = root.join("out");
    let reference = format!("{}/x:v1", registry.host);
    let run =
        sb.run(&["pull", &reference, "-o", out.to_str().unwrap(), "-v", "--mirror", &mirror.host]);
    run.fails(5, "");
    assert!(!run.stderr.contains("using the next source"), "nobody dropped:\n{}", run.stderr);
    assert_eq!(registry.hits_to("/v2/x/blobs/").len(), 1, "one round");
    assert_eq!(mirror.hits_to("/v2/x/blobs/").len(), 1, "asked once, by digest");
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
    canaries.assert_unchanged();
    let cache = sb.path("home/.cache/oci-dl/blobs/sha256");
    let entries = if cache.exists() { tree(&cache) } else { Vec::new() };
    for entry in entries {
        let bytes = std::fs::read(cache.join(&entry)).unwrap();
        assert_eq!(digest_of(&bytes)["sha256:".len()..], entry, "the cache holds verified bytes");
    }
}

/// A mirror serves bad bytes, the next has none (404), and the registry's answer is cut short by
/// SIGINT: the first mirror is blamed once, the 404 and the cancel blame no one, and the run ends
/// as an interrupt (130), not as a failure of a source.
#[test]
fn bad_bytes_then_a_404_then_a_cancel_blame_only_the_first_mirror() {
    let data = noise(40_000, 44);
    let bad = fake::artifact_with(vec![("one", data.clone())], Guard::Open, |_, _, b| {
        Reply::new(200, corrupt(b, 10))
    });
    let none = empty_mirror();
    let registry = fake::artifact_with(vec![("one", data.clone())], Guard::Open, |_, _, b| {
        Reply::new(200, b.to_vec()).fault(Fault::Drip(Duration::from_millis(100)))
    });
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", registry.host);
    let mirrors = ["--mirror", &bad.host, "--mirror", &none.host];
    let mut cmd =
        sb.cmd(&[&["pull", &reference, "-o", "out", "-v", "-j", "1"][..], &mirrors].concat());
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let started = Instant::now();
    while registry.hits_to("/v2/x/blobs/").is_empty() {
        if started.elapsed() > Duration::from_secs(30) {
            signal(pid, "-KILL");
            panic!("the registry was never asked for the blob");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, "-INT");
    let Ok(out) = rx.recv_timeout(Duration::from_secs(30)) else {
        signal(pid, "-KILL");
        panic!("SIGINT did not end the run within 30 s");
    };
    let run = Run::from(out.unwrap());
    assert_eq!(run.code, 130, "{}", run.stderr);
    let dropped: Vec<&str> =
        run.stderr.lines().filter(|l| l.contains("using the next source")).collect();
    assert_eq!(dropped.len(), 1, "{}", run.stderr);
    assert!(dropped[0].contains(&format!("mirror {}: blob sha256:", bad.host)), "{dropped:?}");
    assert_eq!(bad.hits_to("/v2/x/blobs/").len(), 1);
    assert_eq!(none.hits_to("/v2/x/blobs/").len(), 1);
    assert!(!sb.work().join("out/one").exists());
}

/// A mirror whose single stream is slow hands the rest of a big blob to ranges, all from the
/// same mirror, whose bytes are bad: that mirror is blamed, and the registry serves the blob
/// from byte 0 on one stream.
#[test]
fn bad_bytes_in_a_mirrors_ranges_blame_that_mirror() {
    let data = noise(40 * MIB, 45);
    let bad = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, {
        let wrong = corrupt(&data, 36 * MIB);
        move |hit, _, _| {
            let r = Reply::blob(hit, &wrong);
            if hit.header("range").is_none() { r.fault(Fault::Throttle(4 * MIB as u64)) } else { r }
        }
    });
    let registry =
        fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |hit, _, b| {
            Reply::blob(hit, b)
        });
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", registry.host);
    let run = sb.run(&[
        "pull",
        &reference,
        "-o",
        "out",
        "-j",
        "4",
        "--no-cache",
        "-v",
        "--mirror",
        &bad.host,
    ]);
    run.ok();
    assert!(run.stderr.contains("fetching the rest in ranges"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("mirror {}: blob sha256:", bad.host)), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    let ranged = bad.hits_to("/v2/x/blobs/").iter().filter(|h| h.header("range").is_some()).count();
    assert!(ranged >= 2, "the mirror served ranges: {ranged}");
    let from_registry = registry.hits_to("/v2/x/blobs/");
    assert!(!from_registry.is_empty(), "the registry served the blob");
    assert_eq!(from_registry[0].header("range"), None, "from byte 0");
}

/// The fallback tag of v1 lists an SBOM attached to v2 (whoever can push a tag can do that). A
/// mirror answers that SBOM's digest with a forged manifest naming v1 as its subject. The forged
/// bytes fail the digest: the mirror is dropped for the run, the registry's genuine manifest
/// names v2, the SBOM is skipped, and nothing of it lands.
#[test]
fn mirrors_x_referrers_a_forged_referrer_manifest_is_checked_against_its_digest() {
    let reg = registry::open();
    require(reg.is_some(), "docker-registry (the package)");
    let reg = reg.unwrap();
    let p = Pusher::new(reg);
    let repo = "hostile/forged-referrer";
    let (v1, b1) = p.oras_push(repo, "v1", &[Layer::oras("app", "v1\n")]);
    let (v2, b2) = p.oras_push(repo, "v2", &[Layer::oras("app", "v2\n")]);
    let foreign = Layer::oras("sbom.spdx.json", "{\"of\":\"v2\"}");
    let listed = push_referrer(&p, repo, (&v2, b2.len()), SPDX, &foreign, "2026-06-01T00:00:00Z");
    p.index_of(repo, &format!("sha256-{}", v1.hex()), std::slice::from_ref(&listed), None);
    let digest = listed["digest"].as_str().unwrap().to_owned();
    let forged = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SPDX,
        "config": {"mediaType": EMPTY_CONFIG, "size": 2,
                   "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string()},
        "layers": [foreign.descriptor()],
        "subject": {"mediaType": OCI_MANIFEST, "digest": v1.to_string(), "size": b1.len()},
        "annotations": {"org.opencontainers.image.created": "2026-06-01T00:00:00Z"},
    }))
    .unwrap();
    let forged_route = format!("/v2/{repo}/manifests/{digest}");
    let mirror = Fake::start(move |hit| match hit.route() {
        r if r == forged_route => {
            Reply::new(200, forged.clone()).header("content-type", OCI_MANIFEST)
        }
        r if r.contains("/manifests/") || r.contains("/blobs/") => {
            Reply::new(404, r#"{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"#)
        }
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let root = sb.work().join("forged");
    std::fs::create_dir_all(&root).unwrap();
    let canaries = Canaries::plant(&root);
    let out = root.join("out");
    let reference = format!("{}/{repo}:v1", reg.host);
    let run = sb.run(&[
        "pull",
        &reference,
        "-o",
        out.to_str().unwrap(),
        "--referrer",
        SPDX,
        "--no-subject",
        "--mirror",
        &mirror.host,
        "-v",
    ]);
    run.fails(3, "has no referrer of type application/spdx+json");
    assert!(!out.join("sbom.spdx.json").exists(), "the foreign SBOM landed");
    assert!(run.stderr.contains(&format!("is attached to {v2}, not {v1}")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("mirror {}: ", mirror.host)), "{}", run.stderr);
    assert!(mirror.hits().iter().any(|h| h.route() == format!("/v2/{repo}/manifests/{digest}")));
    canaries.assert_unchanged();
    mirror.assert_no_unexpected();
}

/// mirrors × cache: a tag pull through a digest-only mirror asks it nothing, neither the GET of a
/// first pull nor the HEAD by which a second pull, the tag remembered in the cache, sees that
/// the tag has not moved (the HEAD asks each source in order, as a GET does).
#[test]
fn a_digest_only_mirror_is_never_asked_a_tag_not_even_a_repull_s_head() {
    let origin = fake::artifact(vec![("a.txt", b"by digest only".to_vec())], Guard::Open, None);
    // A tag pull does not use a digest-only mirror at all (containers-registries.conf(5)).
    let mirror = Fake::start(|_| Reply::unexpected());
    mirror.expect_unused();
    let sb = Sandbox::new();
    let conf = sb.path("home/.config/containers/registries.conf");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    let text = format!(
        "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{}\"\npull-from-mirror = \"digest-only\"\n",
        origin.host, mirror.host
    );
    std::fs::write(conf, text).unwrap();
    let reference = format!("{}/x:v1", origin.host);
    sb.run(&["pull", &reference, "-o", "one"]).ok();
    let run = sb.run(&["pull", &reference, "-o", "two", "-v"]);
    run.ok();
    assert!(run.stderr.contains("manifest x:v1 unchanged"), "the HEAD path: {}", run.stderr);
    assert!(origin.hits().iter().any(|h| h.method == "HEAD"), "the registry was asked the HEAD");
    assert_eq!(std::fs::read(sb.work().join("two/a.txt")).unwrap(), b"by digest only");
}
