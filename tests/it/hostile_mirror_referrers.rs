//! mirrors × referrers, as an attacker who runs a mirror (asked only by digest, so "verified")
//! and can list a referrer in the fallback tag would play it: a referrer's manifest is read to
//! see whom it is attached to, and that read must be checked against the digest like every
//! other read by digest, or the mirror chooses which referrer is pulled.

use serde_json::json;

use crate::referrers::push_referrer;
use crate::support::fake::{Fake, Reply};
use crate::support::push::{EMPTY_CONFIG, Layer, OCI_MANIFEST, Pusher};
use crate::support::*;

const SPDX: &str = "application/spdx+json";

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
