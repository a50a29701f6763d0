//! `pull --format oci-layout --include-referrers`: what is attached to an artifact (a cosign
//! signature at `sha256-<hex>.sig`, an SBOM listed by the fallback tag `sha256-<hex>`, as oras
//! attaches one to a registry without the referrers API) goes into the layout with it, so that a
//! check made later without the registry finds it; and what only claims to be attached does not.

use serde_json::Value;

use crate::layout::{entries, layout_blobs, skopeo, skopeo_here};
use crate::referrers::push_referrer;
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;
use crate::trust::{payload, push_signature, sig_ann};

fn sha(b: &[u8]) -> oci_dl::Digest {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b)
}

#[test]
fn signatures_and_sboms_go_into_the_layout_under_the_tags_their_tools_look_up() {
    let Some(reg) = registry::open() else { return };
    if !skopeo_here() {
        return;
    }
    let p = Pusher::new(reg);
    let repo = "lay/signed";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let reference = format!("{}/{repo}:v1", reg.host);
    let signed = payload(&format!("{}/{repo}", reg.host), &subject.to_string());
    push_signature(&p, repo, &subject, &[(signed, sig_ann("MEUCIQDsignature"))]);
    let sbom = push_referrer(
        &p,
        repo,
        (&subject, body.len()),
        "application/spdx+json",
        &Layer::oras("sbom.spdx.json", "{\"spdxVersion\":\"SPDX-2.3\"}"),
        "2026-11-30T10:00:00Z",
    );
    let fallback_tag = format!("sha256-{}", subject.hex());
    let (fallback, _) = p.index_of(repo, &fallback_tag, std::slice::from_ref(&sbom), None);
    let sb = Sandbox::new();
    let run = sb.run(&[
        "pull",
        &reference,
        "--format",
        "oci-layout",
        "-o",
        "L",
        "--include-referrers",
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    assert_eq!(doc["attached"], 2, "the signature and the SBOM");
    let l = sb.work().join("L");
    let sig_tag = format!("{fallback_tag}.sig");
    let sig_raw =
        sb.run(&["manifest", &format!("{}/{repo}:{sig_tag}", reg.host)]).ok().stdout.clone();
    let tagged = |d: &oci_dl::Digest, t: Option<&str>| (d.to_string(), t.map(str::to_owned));
    assert_eq!(
        entries(&l),
        [
            tagged(&subject, Some("v1")),
            tagged(&sbom["digest"].as_str().unwrap().parse().unwrap(), None),
            tagged(&fallback, Some(&fallback_tag)),
            tagged(&sha(&sig_raw), Some(&sig_tag)),
        ]
    );
    // Every blob of all four is there (each hashed to its name), readable by skopeo by tag.
    assert_eq!(
        layout_blobs(&l).len(),
        4 + 2 + 1 + 2,
        "manifests; files; {{}}; the signature's config and layer"
    );
    let oci = |tag: &str| format!("oci:{}:{tag}", l.display());
    assert_eq!(skopeo(&["inspect", "--raw", &oci(&sig_tag)]), sig_raw);
    assert_eq!(skopeo(&["inspect", "--raw", &oci("v1")]), body);
    // Without the flag nothing attached is fetched or written.
    let plain = sb.run(&["pull", &reference, "--format", "oci-layout", "-o", "P", "--json"]);
    let doc: Value = serde_json::from_slice(&plain.ok().stdout).unwrap();
    assert_eq!(doc["attached"], 0);
    assert_eq!(entries(&sb.work().join("P")), [tagged(&subject, Some("v1"))]);
}

/// Anyone who can push a tag can write a fallback index listing anything: a listed manifest
/// whose `subject` is another is left out, and so is the index that lists it.
#[test]
fn a_referrer_attached_elsewhere_is_left_out_with_the_fallback_tag_that_lists_it() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "lay/claims";
    let (subject, body) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let (other, other_body) = p.oras_push(repo, "other", &[Layer::oras("x", "another\n")]);
    let file = Layer::oras("sbom.spdx.json", "{}");
    let real = push_referrer(
        &p,
        repo,
        (&subject, body.len()),
        "application/spdx+json",
        &file,
        "2026-01-01T00:00:00Z",
    );
    let stray = push_referrer(
        &p,
        repo,
        (&other, other_body.len()),
        "application/spdx+json",
        &file,
        "2026-02-01T00:00:00Z",
    );
    let fallback_tag = format!("sha256-{}", subject.hex());
    p.index_of(repo, &fallback_tag, &[real.clone(), stray.clone()], None);
    let sb = Sandbox::new();
    let reference = format!("{}/{repo}:v1", reg.host);
    let run = sb.run(&[
        "pull",
        &reference,
        "--format",
        "oci-layout",
        "-o",
        "L",
        "--include-referrers",
        "-v",
    ]);
    run.ok();
    let stray_digest = stray["digest"].as_str().unwrap();
    assert!(run.stderr.contains("not attached"), "{}", run.stderr);
    let l = sb.work().join("L");
    assert_eq!(
        entries(&l),
        [
            (subject.to_string(), Some("v1".to_owned())),
            (real["digest"].as_str().unwrap().to_owned(), None)
        ]
    );
    let hex = stray_digest.trim_start_matches("sha256:");
    assert!(!l.join("blobs/sha256").join(hex).exists(), "the stray referrer is not stored");
}
