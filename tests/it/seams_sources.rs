//! Where the sources of a pull meet what it trusts: mirrors × referrers, mirrors × tags,
//! `--verify-key` × mirrors, `--verify-key` × referrers. A mirror may serve content by digest
//! (verified by its digest) but never chooses what a tag, a referrers list or a signature
//! says. Each test names its pair and checks the canaries around the output and the cache.

use serde_json::json;

use crate::referrers::push_referrer;
use crate::seams::Seam;
use crate::support::fake::{self, Fake, Hit, Reply};
use crate::support::push::{Layer, OCI_MANIFEST, Pusher};
use crate::support::*;
use crate::trust::{openssl_sign, p256_key, payload, push_signature, sig_ann};

const SPDX: &str = "application/spdx+json";
const COSIGN_SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

fn user_conf(sb: &Sandbox, text: &str) {
    let dir = sb.path("home/.config/containers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("registries.conf"), text).unwrap();
}

/// A junk cosign signature manifest, as a hostile mirror would answer a `.sig` tag: one
/// simple-signing layer whose signature is garbage.
fn junk_signature() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string()},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": 2,
                    "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string(),
                    "annotations": {"dev.cosignproject.cosign/signature": "bm90IGEgc2lnbmF0dXJl"}}],
    }))
    .unwrap()
}

/// A mirror that knows no content (every digest is a 404, so the registry serves it) but
/// answers every tag with junk: a bad `.sig`, a referrers index naming a bogus SBOM.
fn junk_mirror(repo: &'static str) -> Fake {
    Fake::start(move |hit: &Hit| {
        let manifests = format!("/v2/{repo}/manifests/");
        let Some(name) = hit.path.strip_prefix(&manifests) else {
            if hit.path.starts_with(&format!("/v2/{repo}/blobs/")) {
                return Reply::new(
                    404,
                    r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}"#,
                );
            }
            return Reply::unexpected();
        };
        if name.starts_with("sha256:") {
            return Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#,
            );
        }
        Reply::new(200, junk_signature()).header("content-type", OCI_MANIFEST)
    })
}

/// An artifact with a cosign signature and an SPDX referrer in the fallback tag, pushed to the
/// real registry: (digest, signed key's public half).
fn signed_with_sbom(s: &Seam, repo: &str) -> (oci_dl::Digest, std::path::PathBuf) {
    let p = Pusher::new(s.reg);
    let (digest, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let (key, public) = p256_key(&s.sb.path("keys"), "cosign");
    let signed = payload(&format!("{}/{repo}", s.reg.host), &digest.to_string());
    push_signature(&p, repo, &digest, &[(signed.clone(), sig_ann(&openssl_sign(&key, &signed)))]);
    let sbom = Layer::oras("sbom.spdx.json", "{\"genuine\":1}");
    let d = push_referrer(&p, repo, (&digest, body.len()), SPDX, &sbom, "2026-01-01T00:00:00Z");
    p.index_of(repo, &format!("sha256-{}", digest.hex()), &[d], None);
    (digest, public)
}

/// mirrors × referrers × `--verify-key`: a digest-pinned pull through a `digest-only` mirror
/// never asks that mirror a tag — not the `.sig` tag, not the referrers fallback tag — so its
/// junk neither fails a validly signed pull nor picks the SBOM.
#[test]
fn mirrors_x_referrers_digest_only_mirror_is_never_asked_a_tag() {
    let Some(s) = Seam::new() else { return };
    let repo = "seams/digest-only";
    let (digest, public) = signed_with_sbom(&s, repo);
    let mirror = junk_mirror(repo);
    let conf = format!(
        "[[registry]]\nlocation = \"{}\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"{}\"\n",
        s.reg.host, mirror.host
    );
    user_conf(&s.sb, &conf);
    let root = s.sb.work().join("pinned");
    std::fs::create_dir_all(&root).unwrap();
    let canaries = Canaries::plant(&root);
    let reference = format!("{}/{repo}@{digest}", s.reg.host);
    let out = root.join("out");
    let key = public.to_str().unwrap();
    s.sb.run(&["pull", &reference, "-o", out.to_str().unwrap(), "--verify-key", key]).ok();
    assert_eq!(tree(&out), ["app"]);
    let sbom = out.join("sbom");
    let args = ["-o", sbom.to_str().unwrap(), "--referrer", SPDX, "--no-subject"];
    s.sb.run(&[&["pull", &reference][..], &args].concat()).ok();
    assert_eq!(std::fs::read(sbom.join("sbom.spdx.json")).unwrap(), b"{\"genuine\":1}");
    let tags: Vec<String> = mirror
        .hits()
        .iter()
        .map(|h| h.path.clone())
        .filter(|p| p.contains("/manifests/") && !p.contains("/manifests/sha256:"))
        .collect();
    assert!(tags.is_empty(), "tags asked of a digest-only mirror: {tags:?}");
    assert!(!mirror.hits().is_empty(), "the mirror was asked for content by digest");
    canaries.assert_unchanged();
    s.assert_clean();
    mirror.assert_no_unexpected();
}

/// `--verify-key` × mirrors: a mirror that may serve tags answers the `.sig` tag with junk; the
/// signature check drops it for the run and asks the registry, as bad bytes would.
#[test]
fn verify_key_x_mirrors_a_mirrors_bad_signature_falls_through() {
    let Some(s) = Seam::new() else { return };
    let repo = "seams/sig-mirror";
    let (_, public) = signed_with_sbom(&s, repo);
    let mirror = junk_mirror(repo);
    user_conf(
        &s.sb,
        &format!(
            "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
            s.reg.host, mirror.host
        ),
    );
    let reference = format!("{}/{repo}:v1", s.reg.host);
    let run =
        s.sb.run(&["pull", &reference, "-o", "out", "--verify-key", public.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stderr.contains(&format!("mirror {}: ", mirror.host))
            && run.stderr.contains("using the next source"),
        "the mirror is dropped, said once: {}",
        run.stderr
    );
    assert_eq!(tree(&s.sb.work().join("out")), ["app"]);
    s.assert_clean();
    mirror.allow_unexpected("the tag pull asks the mirror for v1 too; junk is its answer");
}

/// mirrors × tags: `oci-dl tags` asks the registry only, whatever mirror is configured.
#[test]
fn mirrors_x_tags_are_asked_of_the_registry_only() {
    let Some(s) = Seam::new() else { return };
    let repo = "seams/tags";
    Pusher::new(s.reg).oras_push(repo, "v1", &[Layer::oras("a", "a")]);
    let mirror = Fake::start(|_| Reply::unexpected());
    mirror.expect_unused();
    user_conf(
        &s.sb,
        &format!(
            "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
            s.reg.host, mirror.host
        ),
    );
    let run = s.sb.run(&["tags", &format!("{}/{repo}", s.reg.host)]);
    assert_eq!(String::from_utf8_lossy(&run.ok().stdout).trim(), "v1");
    s.assert_clean();
}

/// referrers × their subject: a referrer listed for v1 whose own `subject` is v2 (listed by
/// whoever can push the fallback tag) is skipped, even when it is the newest; the genuine one
/// is pulled. With only the foreign one, nothing of it lands.
#[test]
fn referrers_x_subject_a_referrer_of_another_manifest_is_skipped() {
    let Some(s) = Seam::new() else { return };
    let p = Pusher::new(s.reg);
    let repo = "seams/subject";
    let (v1, b1) = p.oras_push(repo, "v1", &[Layer::oras("app", "v1\n")]);
    let (v2, b2) = p.oras_push(repo, "v2", &[Layer::oras("app", "v2\n")]);
    let genuine = Layer::oras("sbom.spdx.json", "{\"of\":\"v1\"}");
    let foreign = Layer::oras("sbom.spdx.json", "{\"of\":\"v2\"}");
    let good = push_referrer(&p, repo, (&v1, b1.len()), SPDX, &genuine, "2025-01-01T00:00:00Z");
    let bad = push_referrer(&p, repo, (&v2, b2.len()), SPDX, &foreign, "2026-06-01T00:00:00Z");
    let tag = format!("sha256-{}", v1.hex());
    p.index_of(repo, &tag, &[good, bad.clone()], None);
    let reference = format!("{}/{repo}:v1", s.reg.host);
    let root = s.sb.work().join("subject");
    std::fs::create_dir_all(&root).unwrap();
    let canaries = Canaries::plant(&root);
    let out = root.join("out");
    let run = s.sb.run(&[
        "pull",
        &reference,
        "-o",
        out.to_str().unwrap(),
        "--referrer",
        SPDX,
        "--no-subject",
        "-v",
    ]);
    run.ok();
    assert_eq!(std::fs::read(out.join("sbom.spdx.json")).unwrap(), b"{\"of\":\"v1\"}");
    assert!(run.stderr.contains(&format!("is attached to {v2}, not {v1}")), "{}", run.stderr);
    p.index_of(repo, &tag, &[bad], None);
    let out = root.join("out2");
    let run = s.sb.run(&[
        "pull",
        &reference,
        "-o",
        out.to_str().unwrap(),
        "--referrer",
        SPDX,
        "--no-subject",
    ]);
    run.fails(3, "has no referrer of type application/spdx+json");
    assert!(!out.join("sbom.spdx.json").exists());
    canaries.assert_unchanged();
    s.assert_clean();
}

/// `--verify-key` × referrers: the referrers API lists a cosign signature the registry cannot
/// serve (404) and one attached to another manifest; both are skipped, and the valid `.sig`
/// tag still verifies.
#[test]
fn verify_key_x_referrers_gone_and_foreign_signatures_are_skipped() {
    let Some(s) = Seam::new() else { return };
    let repo = "seams/sig-referrers";
    let (digest, public) = signed_with_sbom(&s, repo);
    let p = Pusher::new(s.reg);
    let (other, other_body) = p.oras_push(repo, "other", &[Layer::oras("x", "x")]);
    let sig = Layer::oras("sig", "{}");
    let foreign = push_referrer(
        &p,
        repo,
        (&other, other_body.len()),
        COSIGN_SIG,
        &sig,
        "2026-01-01T00:00:00Z",
    );
    let gone = json!({"mediaType": OCI_MANIFEST, "artifactType": COSIGN_SIG, "size": 100,
                      "digest": format!("sha256:{}", "0".repeat(64))});
    let index = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [gone, foreign]}))
    .unwrap();
    let api = format!("/v2/{repo}/referrers/{digest}");
    let front = fake::passthrough(s.reg.host.clone(), move |hit| {
        (hit.path == api).then(|| {
            Reply::new(200, index.clone())
                .header("content-type", "application/vnd.oci.image.index.v1+json")
        })
    });
    let reference = format!("{}/{repo}:v1", front.host);
    let run = s.sb.run(&[
        "pull",
        &reference,
        "-o",
        "out",
        "--verify-key",
        public.to_str().unwrap(),
        "-v",
    ]);
    run.ok();
    assert!(run.stderr.contains("skipped: listed, but"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("is attached to {other}")), "{}", run.stderr);
    assert_eq!(tree(&s.sb.work().join("out")), ["app"]);
    s.assert_clean();
}

/// mirrors × blocking: a wildcard block matches the host by suffix, however often the domain
/// repeats; nothing is asked of any network before the refusal.
#[test]
fn mirrors_x_blocked_wildcards_match_by_suffix() {
    let sb = Sandbox::new();
    user_conf(&sb, "[[registry]]\nprefix = \"*.evil.test\"\nlocation = \"\"\nblocked = true\n");
    for name in ["a.evil.test/x:v1", "a.evil.test.evil.test/x:v1", "a.evil.test.evil.test:443/x:v1"]
    {
        let run = sb.run(&["pull", name, "-o", "out"]);
        run.fails(2, "is blocked by [[registry]] prefix \"*.evil.test\"");
    }
    assert!(!sb.work().join("out").exists());
}

/// mirrors × resume: a mirror that drips a blob a few bytes at a time (never idle long enough
/// for `--timeout`) falls under the mirror floor within two `--timeout`s, is dropped, and the
/// registry finishes the blob; every byte is still verified.
#[test]
fn mirrors_x_resume_a_dripping_mirror_is_dropped_and_the_registry_finishes() {
    let bytes = noise(200_000, 91);
    let files = vec![("big.bin", bytes.clone())];
    let origin = fake::artifact(files, fake::Guard::Open, None);
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &bytes).to_string();
    let blob = format!("/v2/x/blobs/{digest}");
    let drip_bytes = bytes.clone();
    let mirror = Fake::start(move |hit| {
        if hit.route() == blob {
            let drip = fake::Fault::Drip(std::time::Duration::from_millis(10));
            return Reply::blob(hit, &drip_bytes).fault(drip);
        }
        if hit.path.starts_with("/v2/x/manifests/") {
            return Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#,
            );
        }
        Reply::unexpected()
    });
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", origin.host);
    let run =
        sb.run(&["pull", &reference, "-o", "out", "--mirror", &mirror.host, "--timeout", "1"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), bytes);
    let said = format!("mirror {}: sent ", mirror.host);
    assert!(
        run.stderr.contains(&said)
            && run.stderr.contains("a mirror must keep; using the next source"),
        "{}",
        run.stderr
    );
    assert_eq!(mirror.hits_to("/v2/x/blobs/").len(), 1, "the dropped mirror is not asked again");
    mirror.assert_no_unexpected();
}

/// mirrors × peer-to-peer caches: every request to a mirror says which registry it stands in
/// for (`ns=`, as containerd sends it; Spegel answers tags only with it), and the registry
/// itself never gets one. The mirror here passes requests on to the real registry.
#[test]
fn mirrors_x_ns_every_request_to_a_mirror_names_the_registry() {
    let Some(s) = Seam::new() else { return };
    let repo = "seams/ns";
    let layers = [Layer::oras("a.bin", noise(30_000, 31)), Layer::oras("b.bin", noise(40_000, 32))];
    Pusher::new(s.reg).oras_push(repo, "v1", &layers);
    let ns = format!("ns={}", s.reg.host.replace(':', "%3A"));
    let want = ns.clone();
    // Spegel's rule: a tag is answered only for a known upstream.
    let mirror = fake::passthrough(s.reg.host.clone(), move |hit| {
        (hit.path.contains("/manifests/v1") && !hit.path.ends_with(&want)).then(|| {
            Reply::new(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no ns"}]}"#)
        })
    });
    let reference = format!("{}/{repo}:v1", s.reg.host);
    let run = s.sb.run(&["pull", &reference, "-o", "out", "--mirror", &mirror.host, "-v"]);
    run.ok();
    assert!(run.stderr.contains(&format!("from {}", mirror.host)), "{}", run.stderr);
    let hits = mirror.hits();
    assert!(hits.len() >= 3, "the manifest and both blobs came from the mirror: {hits:?}");
    for h in &hits {
        assert!(h.path.ends_with(&format!("?{ns}")), "no ns= on {}", h.path);
    }
    assert_eq!(tree(&s.sb.work().join("out")), ["a.bin", "b.bin"]);
    s.assert_clean();
}

/// mirrors × connect: a mirror that does not accept the connection (its accept queue is full,
/// so the kernel drops the SYN) is given a second, not the registry's 30, and then dropped for
/// the run.
#[test]
fn mirrors_x_connect_an_unresponsive_mirror_is_skipped_within_a_second_or_two() {
    let (listener, held, host) = unanswering_host();
    let files = vec![("a.bin", noise(20_000, 33))];
    let origin = fake::artifact(files.clone(), fake::Guard::Open, None);
    let sb = Sandbox::new();
    let started = std::time::Instant::now();
    let run = sb.run(&["pull", &format!("{}/x:v1", origin.host), "-o", "out", "--mirror", &host]);
    run.ok();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "held {took:?} by a dead mirror");
    assert!(run.stderr.contains(&format!("mirror {host}: ")), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), files[0].1);
    drop((listener, held));
}
