//! Keyless verification beside the other features: referrers attached elsewhere, `-x`, mirrors,
//! and a pull without identity flags.

use super::*;

#[test]
fn a_bundle_attached_to_another_subject_is_skipped() {
    let Some(s) = Signed::new() else { return };
    let repo = "keyless/subjects";
    let p = s.repo(repo);
    let (other, other_body) =
        p.artifact(repo, "other", &[Layer::titled("other.txt", b"x".to_vec())]);
    let good = s.fx.read(s.fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    // A good bundle of our manifest, but attached to another one, listed in our fallback index.
    let elsewhere =
        attach_bundle(&p, repo, (OCI_MANIFEST, &other, other_body.len()), &good, BUNDLE_V03, SLSA);
    fallback_index(&p, repo, &s.digest, std::slice::from_ref(&elsewhere));
    refused(&s, || s.pull(repo, "trusted_root.json", &[]), "not a referrer of");
    // Beside a really attached one, it hides nothing.
    let here = attach_bundle(&p, repo, (OCI_MANIFEST, &s.digest, s.size), &good, BUNDLE_V03, SLSA);
    fallback_index(&p, repo, &s.digest, &[elsewhere, here]);
    s.pull(repo, "trusted_root.json", &[]).ok();
}

#[test]
fn a_bad_bundle_leaves_nothing_unpacked() {
    let Some(s) = Signed::new() else { return };
    let dir = s.sb.path("tree");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/widget"), b"#!/bin/sh\n").unwrap();
    let tgz = s.sb.path("widget.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tgz)
        .arg("-C")
        .arg(&dir)
        .arg("bin")
        .status();
    assert!(ok.unwrap().success(), "tar czf");
    let layers = [Layer::titled("widget.tar.gz", std::fs::read(&tgz).unwrap())];
    for (repo, group, name) in
        [("keyless/x-bad", "bad", "bad-set"), ("keyless/x-good", "good", "msg")]
    {
        let p = Pusher::new(s.reg);
        let (digest, body) = p.artifact(repo, "v1", &layers);
        let fx = Fixtures::make(&s.sb.path(&format!("fx-{name}")), &digest);
        let bundle = fx.read(fx.case(group, name)["bundle"].as_str().unwrap());
        let d =
            attach_bundle(&p, repo, (OCI_MANIFEST, &digest, body.len()), &bundle, BUNDLE_V03, SLSA);
        fallback_index(&p, repo, &digest, &[d]);
        let r = format!("{}/{repo}:v1", s.reg.host);
        let mut args = vec!["pull", &r, "-x", "--extract-to", "unpacked", "-o", "out"];
        let flags = fx.flags("trusted_root.json");
        args.extend(flags.iter().map(String::as_str));
        let run = s.sb.run(&args);
        if group == "bad" {
            run.fails(8, "SET");
            assert!(!s.sb.work().join("unpacked").exists() && !s.sb.work().join("out").exists());
        } else {
            run.ok();
            assert_eq!(tree(&s.sb.work().join("unpacked")), ["bin/", "bin/widget"]);
        }
    }
}

/// Without identity flags a pull makes exactly the requests it always made, and the other
/// keyless flags alone are usage errors.
#[test]
fn without_an_identity_nothing_changes() {
    let f = crate::support::fake::artifact(
        vec![("a.txt", b"aaa\n".to_vec())],
        crate::support::fake::Guard::Open,
        None,
    );
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out"]).ok();
    let paths: Vec<String> = f.hits().iter().map(|h| format!("{} {}", h.method, h.path)).collect();
    let blob =
        format!("GET /v2/x/blobs/{}", oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"aaa\n"));
    assert_eq!(paths, ["GET /v2/x/manifests/v1".to_owned(), blob]);
    f.assert_no_unexpected();
    let r = format!("{}/x:v1", f.host);
    for flags in [
        &["--trusted-root", "r.json"][..],
        &["--predicate-type", SLSA],
        &["--certificate-oidc-issuer", "i"],
    ] {
        let mut args = vec!["pull", r.as_str(), "-o", "o2"];
        args.extend(flags);
        sb.run(&args).fails(2, "goes with --certificate-identity");
    }
    sb.run(&["pull", &r, "--certificate-identity", "x"]).fails(2, "--certificate-oidc-issuer");
    sb.run(&["pull", &r, "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "i"])
        .fails(2, "--certificate-identity-regexp");
}

fn mirror_conf(sb: &Sandbox, registry: &str, mirror: &str, extra: &str) {
    let dir = sb.path("home/.config/containers");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = format!(
        "[[registry]]\nlocation = \"{registry}\"\n[[registry.mirror]]\nlocation = \"{mirror}\"\n{extra}"
    );
    std::fs::write(dir.join("registries.conf"), conf).unwrap();
}

#[test]
fn a_digest_only_mirror_is_never_asked_the_signature_tags() {
    let Some(s) = Signed::new() else { return };
    s.attach("keyless/mirrored", "good", "msg", BUNDLE_V03);
    let mirror = Fake::start(|_| Reply::new(404, Vec::new()));
    mirror_conf(&s.sb, &s.reg.host, &mirror.host, "pull-from-mirror = \"digest-only\"\n");
    let r = format!("{}/keyless/mirrored@{}", s.reg.host, s.digest);
    let mut args = vec!["pull", r.as_str(), "-o", "out"];
    let flags = s.fx.flags("trusted_root.json");
    args.extend(flags.iter().map(String::as_str));
    s.sb.run(&args).ok();
    let asked: Vec<String> = mirror.hits().iter().map(|h| h.path.clone()).collect();
    assert!(!asked.is_empty(), "the mirror was used for the digests");
    assert!(
        asked.iter().all(|p| !p.contains("/manifests/sha256-")),
        "tags asked of a digest-only mirror: {asked:?}"
    );
}

#[test]
fn a_mirrors_junk_bundle_falls_through_to_the_registry() {
    let Some(s) = Signed::new() else { return };
    let repo = "keyless/junk-mirror";
    s.attach(repo, "good", "dsse-slsa", BUNDLE_V03);
    // The mirror's fallback index lists a referrer (on the registry, by digest) whose bundle fails.
    let p = s.repo(repo);
    let junk = s.fx.read(s.fx.case("bad", "bad-set")["bundle"].as_str().unwrap());
    let listed =
        attach_bundle(&p, repo, (OCI_MANIFEST, &s.digest, s.size), &junk, BUNDLE_V03, SLSA);
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [listed]}))
    .unwrap();
    let tag = format!("/v2/{repo}/manifests/sha256-{}", s.digest.hex());
    let mirror = Fake::start(move |hit| match hit.path == tag {
        true => Reply::new(200, index.clone())
            .header("content-type", "application/vnd.oci.image.index.v1+json"),
        false => Reply::new(404, Vec::new()),
    });
    mirror_conf(&s.sb, &s.reg.host, &mirror.host, "");
    let run = s.pull(repo, "trusted_root.json", &["-v"]);
    run.ok();
    let asked = mirror.hits_to(&format!("/v2/{repo}/manifests/sha256-"));
    assert_eq!(asked.len(), 1, "the mirror served the fallback tag once, then was dropped");
    assert!(
        run.stderr.contains(&format!("mirror {}", mirror.host)),
        "the mirror is named:\n{}",
        run.stderr
    );
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "widget-linux-amd64"]);
}
