//! `oci-dl referrers` and `pull --referrer`: the fallback tag schema against the real registry
//! (CNCF distribution 2.8 has no referrers API), the API against the fake.

use serde_json::{Value, json};

use crate::support::fake::{Fake, Reply};
use crate::support::push::{EMPTY_CONFIG, Layer, OCI_INDEX, OCI_MANIFEST, Pusher};
use crate::support::*;
use crate::support::{oras_layout, registry};

/// Push an artifact of `artifact_type` whose `subject` is (digest, size), with one file; returns
/// its descriptor as a referrers index lists it.
pub(crate) fn push_referrer(
    p: &Pusher,
    repo: &str,
    subject: (&oci_dl::Digest, usize),
    artifact_type: &str,
    file: &Layer,
    created: &str,
) -> Value {
    let config = p.blob(repo, b"{}");
    p.blob(repo, &file.bytes);
    let annotations = json!({"org.opencontainers.image.created": created});
    let m = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config.to_string(), "size": 2},
        "layers": [file.descriptor()],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.0.to_string(), "size": subject.1},
        "annotations": annotations,
    });
    let body = serde_json::to_vec(&m).unwrap();
    let digest = p.manifest_raw(repo, &body_digest_tag(&body), OCI_MANIFEST, &body);
    json!({"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": body.len(),
           "artifactType": artifact_type, "annotations": annotations})
}

/// Manifests are pushed by digest, as referrers are.
fn body_digest_tag(body: &[u8]) -> String {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, body).to_string()
}

#[test]
fn fallback_tag_lists_and_pulls_the_newest_referrer_of_a_type() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "refs/app";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let s = (&subject, body.len());
    let old = push_referrer(
        &p,
        repo,
        s,
        "application/spdx+json",
        &Layer::oras("sbom.spdx.json", "{\"old\":1}"),
        "2025-01-01T00:00:00Z",
    );
    let new = push_referrer(
        &p,
        repo,
        s,
        "application/spdx+json",
        &Layer::oras("sbom.spdx.json", "{\"new\":1}"),
        "2026-01-01T00:00:00Z",
    );
    let cdx = push_referrer(
        &p,
        repo,
        s,
        "application/vnd.cyclonedx+json",
        &Layer::oras("bom.cdx.json", "{}"),
        "2027-01-01T00:00:00Z",
    );
    // What a client in fallback mode (oras) keeps at the tag sha256-<hex>.
    p.index_of(repo, &format!("sha256-{}", subject.hex()), &[old, new.clone(), cdx], None);
    let sb = Sandbox::new();
    let r = format!("{}/{repo}:v1", reg.host);
    let run = sb.run(&["referrers", &r, "--json"]);
    let doc: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    assert_eq!(doc["source"], "tag");
    assert_eq!(doc["subject"], subject.to_string());
    assert_eq!(doc["referrers"].as_array().unwrap().len(), 3);
    assert_eq!(doc["referrers"][1]["artifactType"], "application/spdx+json");
    let text = String::from_utf8(sb.run(&["referrers", &r]).ok().stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .contains("\tapplication/vnd.cyclonedx+json\torg.opencontainers.image.created=2027"),
        "{text}"
    );
    // Beside the subject's files, the newest SPDX document.
    sb.run(&["pull", &r, "-o", "both", "--referrer", "application/spdx+json"]).ok();
    assert_eq!(tree(&sb.work().join("both")), ["app", "sbom.spdx.json"]);
    assert_eq!(std::fs::read(sb.work().join("both/sbom.spdx.json")).unwrap(), b"{\"new\":1}");
    // Alone, with the filters applying to the referrer's files.
    sb.run(&[
        "pull",
        &r,
        "-o",
        "alone",
        "--referrer",
        "application/vnd.cyclonedx+json",
        "--no-subject",
        "-g",
        "*.json",
    ])
    .ok();
    assert_eq!(tree(&sb.work().join("alone")), ["bom.cdx.json"]);
    let missing = sb.run(&[
        "pull",
        &r,
        "-o",
        "none",
        "--referrer",
        "application/vnd.in-toto+json",
        "--no-subject",
    ]);
    missing.fails(
        3,
        "has no referrer of type application/vnd.in-toto+json; attached: application/spdx+json",
    );
    assert!(!sb.work().join("none").exists());
    // No referrers at all: an empty list, not an error.
    let (_, _) = p.oras_push(repo, "bare", &[Layer::oras("x", "x")]);
    let run = sb.run(&["referrers", &format!("{}/{repo}:bare", reg.host), "--json"]);
    let doc: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    assert_eq!(doc["referrers"], json!([]));
}

#[test]
fn the_referrers_api_is_used_where_the_registry_has_it() {
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": [],
    }))
    .unwrap();
    let md = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &manifest);
    let sbom = format!("sha256:{}", "5b".repeat(32));
    let list = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sbom, "size": 500, "artifactType": "application/spdx+json",
         "annotations": {"org.opencontainers.image.created": "2026-02-03T04:05:06Z", "note": "a\u{1b}[31mred"}}]}))
    .unwrap();
    let api = format!("/v2/x/referrers/{md}");
    let f = Fake::start(move |hit| {
        if hit.path == "/v2/x/manifests/v1" {
            return Reply::new(200, manifest.clone()).header("content-type", OCI_MANIFEST);
        }
        if hit.path == api {
            return Reply::new(200, list.clone()).header("content-type", OCI_INDEX);
        }
        Reply::unexpected()
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let doc: Value =
        serde_json::from_slice(&sb.run(&["referrers", &r, "--json"]).ok().stdout).unwrap();
    assert_eq!(doc["source"], "api");
    assert_eq!(doc["referrers"][0]["digest"], sbom);
    assert_eq!(doc["referrers"][0]["size"], 500);
    let text = String::from_utf8(sb.run(&["referrers", &r]).ok().stdout.clone()).unwrap();
    assert!(text.starts_with(&format!("{sbom}\t500\tapplication/spdx+json\t")), "{text}");
    assert!(!text.contains('\u{1b}'), "registry text printed raw: {text:?}");
    f.assert_no_unexpected(); // no fallback tag request
}

/// Pulling the fallback tag itself (an index of artifacts without platforms, as `oras attach`
/// writes it): no guess between an SBOM and a signature — one line naming each by digest and
/// type, exit 2, nothing written.
#[test]
fn an_index_of_artifacts_without_platforms_is_not_guessed_between() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "refs/guess";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let s = (&subject, body.len());
    let sbom = Layer::oras("sbom.spdx.json", "{}");
    let a = push_referrer(&p, repo, s, "application/spdx+json", &sbom, "2026-01-01T00:00:00Z");
    let sig = Layer::oras("sig.json", "{}");
    let b = push_referrer(
        &p,
        repo,
        s,
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        &sig,
        "2026-01-02T00:00:00Z",
    );
    let tag = format!("sha256-{}", subject.hex());
    p.index_of(repo, &tag, &[a, b], None);
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/{repo}:{tag}", reg.host), "-o", "out"]);
    run.fails(2, "the index holds 2 artifacts without a platform to choose by");
    assert!(run.stderr.contains("(application/spdx+json)"), "{}", run.stderr);
    assert!(!sb.work().join("out").exists());
}

/// Referrers × OCI layout: from a layout shaped as `oras copy -r --to-oci-layout` writes it (its
/// referrers untagged entries of `index.json`, no fallback tag; see `support::oras_layout`),
/// `pull --oci-layout DIR:TAG --referrer TYPE` takes the newest referrer of the type, as from the
/// registry; one whose entry names another subject is not taken.
#[test]
fn an_oras_shaped_layout_answers_pull_referrer() {
    let reg = registry::own();
    let p = Pusher::new(&reg);
    let repo = "refs/layout";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let (other, other_body) = p.oras_push(repo, "v2", &[Layer::oras("app", "another app\n")]);
    let spdx = "application/spdx+json";
    let sbom = |s: (&oci_dl::Digest, usize), text: &str, created: &str| {
        push_referrer(&p, repo, s, spdx, &Layer::oras("sbom.spdx.json", text), created)
    };
    let old = sbom((&subject, body.len()), "{\"old\":1}", "2025-01-01T00:00:00Z");
    let new = sbom((&subject, body.len()), "{\"new\":1}", "2026-01-01T00:00:00Z");
    let elsewhere = sbom((&other, other_body.len()), "{\"other\":1}", "2027-01-01T00:00:00Z");
    let sb = Sandbox::new();
    let layout = sb.work().join("L");
    oras_layout::copy(&reg.host, &format!("{repo}:v1"), &layout, "v1");
    for listed in [&old, &new, &elsewhere] {
        oras_layout::carry_referrer(&reg.host, repo, &layout, listed);
    }
    reg.stop();
    let args = ["pull", "--oci-layout", "L:v1", "-o", "sbom", "--referrer", spdx, "--no-subject"];
    sb.run(&args).ok();
    assert_eq!(tree(&sb.work().join("sbom")), ["sbom.spdx.json"]);
    assert_eq!(std::fs::read(sb.work().join("sbom/sbom.spdx.json")).unwrap(), b"{\"new\":1}");
}

/// A list's word on a referrer's type is checked against the referrer itself: a fallback index
/// (which anyone who can push a tag writes) that labels another kind of artifact as the newest
/// SPDX document does not make `pull --referrer application/spdx+json` pull it.
#[test]
fn a_referrer_listed_under_another_type_than_its_own_is_not_pulled() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "refs/mislabel";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let s = (&subject, body.len());
    let spdx = "application/spdx+json";
    let genuine =
        push_referrer(&p, repo, s, spdx, &Layer::oras("sbom.json", "{}"), "2025-01-01T00:00:00Z");
    let file = Layer::oras("sbom.json", "not an sbom");
    let mut other =
        push_referrer(&p, repo, s, "application/x-other", &file, "2026-01-01T00:00:00Z");
    other["artifactType"] = json!(spdx);
    p.index_of(repo, &format!("sha256-{}", subject.hex()), &[genuine, other], None);
    let sb = Sandbox::new();
    let r = format!("{}/{repo}:v1", reg.host);
    sb.run(&["pull", &r, "-o", "out", "--referrer", spdx, "--no-subject"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/sbom.json")).unwrap(), b"{}");
}
