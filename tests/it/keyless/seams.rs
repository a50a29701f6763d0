//! Where keyless signatures are looked for: the referrers API (on the strict fake, since the
//! CNCF registry 2.8 has none), and which manifest a signature covers in an index.

use serde_json::json;

use super::*;
use crate::support::push::{EMPTY_CONFIG, OCI_INDEX};

fn sha(b: &[u8]) -> oci_dl::Digest {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b)
}

/// The signed artifact: an oras-shaped manifest (one titled layer, `oras push tool`) of
/// `layer`, as (body, digest).
pub(super) fn subject(layer: &[u8]) -> (Vec<u8>, oci_dl::Digest) {
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "digest": sha(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha(layer).to_string(), "size": layer.len(),
                    "annotations": {"org.opencontainers.image.title": "tool"}}],
    }))
    .unwrap();
    let d = sha(&manifest);
    (manifest, d)
}

/// The strict fake answering exactly `routes` (path, body, content type).
pub(super) fn serve(routes: Vec<(String, Vec<u8>, &'static str)>) -> Fake {
    Fake::start(move |hit| match routes.iter().find(|(p, _, _)| hit.route() == p) {
        Some((_, body, ct)) => Reply::new(200, body.clone()).header("content-type", ct),
        None => Reply::unexpected(),
    })
}

/// A cosign-3-shaped referrer manifest of `subject` holding `bundle`: (body, digest).
pub(super) fn referrer(
    subject: &oci_dl::Digest,
    size: usize,
    bundle: &[u8],
) -> (Vec<u8>, oci_dl::Digest) {
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03,
        "config": {"mediaType": EMPTY_CONFIG, "digest": sha(b"{}").to_string(), "size": 2, "artifactType": BUNDLE_V03},
        "layers": [{"mediaType": BUNDLE_V03, "digest": sha(bundle).to_string(), "size": bundle.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": size},
    }))
    .unwrap();
    let d = sha(&body);
    (body, d)
}

/// With the referrers API, the bundle is found there: no fallback tag and no `.sig` is asked,
/// a listed referrer of another subject is fetched and skipped, and every request is one the
/// strict fake expects.
#[test]
fn the_referrers_api_is_asked_and_nothing_else() {
    let layer = noise(3000, 9);
    let (manifest, md) = subject(&layer);
    let sb = Sandbox::new();
    let fx = Fixtures::make(&sb.path("fx"), &md);
    let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    let (good, good_d) = referrer(&md, manifest.len(), &bundle);
    let elsewhere_subject = sha(b"another manifest");
    let (other, other_d) = referrer(&elsewhere_subject, 100, &bundle);
    let desc = |d: &oci_dl::Digest, b: &[u8]| json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": b.len(), "artifactType": BUNDLE_V03});
    let list = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [desc(&other_d, &other), desc(&good_d, &good)]}))
    .unwrap();
    let routes: Vec<(String, Vec<u8>, &str)> = vec![
        ("/v2/x/manifests/v1".into(), manifest.clone(), OCI_MANIFEST),
        (format!("/v2/x/referrers/{md}"), list, OCI_INDEX),
        (format!("/v2/x/manifests/{good_d}"), good, OCI_MANIFEST),
        (format!("/v2/x/manifests/{other_d}"), other, OCI_MANIFEST),
        (format!("/v2/x/blobs/{}", sha(&bundle)), bundle.clone(), "application/octet-stream"),
        (format!("/v2/x/blobs/{}", sha(&layer)), layer.clone(), "application/octet-stream"),
    ];
    let f = serve(routes);
    let r = format!("{}/x:v1", f.host);
    let mut args = vec!["pull", r.as_str(), "-o", "out"];
    let flags = fx.flags("trusted_root.json");
    args.extend(flags.iter().map(String::as_str));
    sb.run(&args).ok();
    assert_eq!(std::fs::read(sb.work().join("out/tool")).unwrap(), layer);
    let mut asked: Vec<String> = f.hits().iter().map(|h| h.route().to_owned()).collect();
    asked.sort();
    let mut want = vec![
        "/v2/x/manifests/v1".to_owned(),
        format!("/v2/x/referrers/{md}"),
        format!("/v2/x/manifests/{other_d}"),
        format!("/v2/x/manifests/{good_d}"),
        format!("/v2/x/blobs/{}", sha(&bundle)),
        format!("/v2/x/blobs/{}", sha(&layer)),
    ];
    want.sort();
    assert_eq!(asked, want);
    f.assert_no_unexpected();
}

/// A signature of the index the reference names covers the platform manifest taken from it
/// (as `cosign sign REF` signs); one of a platform manifest covers that one only.
#[test]
fn a_signed_index_covers_its_platforms_a_signed_platform_only_itself() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let p = Pusher::new(reg);
    let pull = |repo: &str, platform: &str, fx: &Fixtures, out: &str| {
        let r = format!("{}/{repo}:v1", reg.host);
        let mut args = vec!["pull", r.as_str(), "--platform", platform, "-o", out];
        let flags = fx.flags("trusted_root.json");
        args.extend(flags.iter().map(String::as_str));
        sb.run(&args)
    };
    let attach = |repo: &str, subject: (&str, &oci_dl::Digest, usize), fx: &Fixtures| {
        let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
        let d =
            attach_bundle(&p, repo, subject, &bundle, BUNDLE_V03, "https://slsa.dev/provenance/v1");
        fallback_index(&p, repo, subject.1, &[d]);
    };
    for repo in ["keyless/index-signed", "keyless/platform-signed"] {
        let (amd, amd_body) = p.artifact(repo, "amd64", &[Layer::titled("tool", "amd64 tool\n")]);
        let (arm, arm_body) = p.artifact(repo, "arm64", &[Layer::titled("tool", "arm64 tool\n")]);
        let entries =
            [("linux/amd64", &amd, amd_body.len()), ("linux/arm64", &arm, arm_body.len())];
        let (index, index_body) = p.index_of(repo, "v1", &index_entries(&entries), None);
        if repo == "keyless/index-signed" {
            let fx = Fixtures::make(&sb.path("fx-index"), &index);
            attach(repo, (OCI_INDEX, &index, index_body.len()), &fx);
            pull(repo, "linux/arm64", &fx, "out-index").ok();
            assert_eq!(std::fs::read(sb.work().join("out-index/tool")).unwrap(), b"arm64 tool\n");
        } else {
            let fx = Fixtures::make(&sb.path("fx-amd64"), &amd);
            attach(repo, (OCI_MANIFEST, &amd, amd_body.len()), &fx);
            pull(repo, "linux/amd64", &fx, "out-amd64").ok();
            let c = Canaries::plant_beside(&sb.work(), "out-arm64");
            pull(repo, "linux/arm64", &fx, "out-arm64").fails(8, "keyless: no valid signature");
            assert!(!sb.work().join("out-arm64").exists());
            c.assert_unchanged();
        }
    }
}

/// An index's entries for `(platform, digest, size)`, as `Pusher::index` writes them.
fn index_entries(entries: &[(&str, &oci_dl::Digest, usize)]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|(p, d, size)| {
            let (os, arch) = p.split_once('/').unwrap();
            json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": size,
                   "platform": {"os": os, "architecture": arch}})
        })
        .collect()
}
