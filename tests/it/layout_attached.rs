//! `pull --format oci-layout --include-referrers`: what is attached to an artifact (a cosign
//! signature at `sha256-<hex>.sig`, an SBOM listed by the fallback tag `sha256-<hex>`, as oras
//! attaches one to a registry without the referrers API) goes into the layout with it, so that a
//! check made later without the registry finds it; and what only claims to be attached does not.

use serde_json::Value;

use crate::layout::{entries, layout_blobs, require_skopeo, skopeo};
use crate::referrers::push_referrer;
use crate::support::push::{Layer, OCI_INDEX, OCI_MANIFEST, Pusher};
use crate::support::registry;
use crate::support::*;
use crate::trust::{payload, push_signature, sig_ann};

fn sha(b: &[u8]) -> oci_dl::Digest {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b)
}

#[test]
fn signatures_and_sboms_go_into_the_layout_under_the_tags_their_tools_look_up() {
    let Some(reg) = registry::open() else { return };
    require_skopeo();
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

/// Where the registry has the referrers API it is asked (for every manifest stored, the
/// attached ones too), the fallback tag never is; cosign's tags are asked and may be missing.
#[test]
fn the_referrers_api_is_used_where_the_registry_has_it() {
    use crate::layout_hostile::oras_manifest;
    use crate::support::fake::{Fake, Reply};
    use serde_json::json;
    let subject = oras_manifest(&[("app", b"the app\n")]);
    let sd = sha(&subject);
    let spdx = br#"{"spdxVersion":"SPDX-2.3"}"#;
    let attach = |to: &oci_dl::Digest, file: &[u8]| {
        let mut m: Value =
            serde_json::from_slice(&oras_manifest(&[("sbom.spdx.json", file)])).unwrap();
        m["artifactType"] = json!("application/spdx+json");
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": to.to_string(), "size": 100});
        serde_json::to_vec(&m).unwrap()
    };
    let sbom = attach(&sd, spdx);
    let stray = attach(&sha(b"another manifest"), spdx);
    let listed = |m: &[u8]| {
        json!({"mediaType": OCI_MANIFEST, "digest": sha(m).to_string(), "size": m.len(),
        "artifactType": "application/spdx+json"})
    };
    let list = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [listed(&sbom), listed(&stray)]}))
    .unwrap();
    let empty =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
            .unwrap();
    let (sbom_d, stray_d) = (sha(&sbom), sha(&stray));
    let manifests = [
        ("v1".to_owned(), subject.clone()),
        (sbom_d.to_string(), sbom.clone()),
        (stray_d.to_string(), stray.clone()),
    ];
    let blobs = [b"the app\n".to_vec(), spdx.to_vec()];
    let cosign: Vec<String> = [&sd, &sbom_d]
        .iter()
        .flat_map(|d| {
            ["sig", "att", "sbom"].map(|s| format!("/v2/x/manifests/sha256-{}.{s}", d.hex()))
        })
        .collect();
    let (api_subject, api_sbom) =
        (format!("/v2/x/referrers/{sd}"), format!("/v2/x/referrers/{sbom_d}"));
    let f = Fake::start(move |hit| {
        let route = hit.route();
        for (name, body) in &manifests {
            if route == format!("/v2/x/manifests/{name}") {
                return Reply::new(200, body.clone()).header("content-type", OCI_MANIFEST);
            }
        }
        for b in &blobs {
            if route == format!("/v2/x/blobs/{}", sha(b)) {
                return Reply::blob(hit, b);
            }
        }
        if route == api_subject {
            return Reply::new(200, list.clone()).header("content-type", OCI_INDEX);
        }
        if route == api_sbom {
            return Reply::new(200, empty.clone()).header("content-type", OCI_INDEX);
        }
        if cosign.iter().any(|c| c == route) {
            return Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            );
        }
        Reply::unexpected()
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&[
        "--plain-http",
        "pull",
        &r,
        "--format",
        "oci-layout",
        "-o",
        "L",
        "--include-referrers",
    ])
    .ok();
    let l = sb.work().join("L");
    assert_eq!(entries(&l), [(sd.to_string(), Some("v1".to_owned())), (sbom_d.to_string(), None)]);
    assert!(
        !l.join("blobs/sha256").join(stray_d.hex()).exists(),
        "the stray referrer is not stored"
    );
    assert_eq!(layout_blobs(&l).len(), 5, "two manifests, two files, {{}}");
    assert_eq!(f.hits_to("/v2/x/referrers/").len(), 2);
    f.assert_no_unexpected(); // no fallback tag request
}

/// The air gap end to end: a layout pulled with `--include-referrers` carries the cosign
/// signature, and `pull --oci-layout --verify-key` checks it there without the registry; a
/// layout pulled without it has no signature to show (exit 8).
#[test]
fn a_signature_carried_in_the_layout_verifies_without_the_registry() {
    use crate::trust::{openssl_sign, p256_key};
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "lay/airgap";
    let (subject, _) = p.oras_push(repo, "v1", &[Layer::oras("app", "the app\n")]);
    let sb = Sandbox::new();
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let signed = payload(&format!("{}/{repo}", reg.host), &subject.to_string());
    let signature = openssl_sign(&key, &signed);
    push_signature(&p, repo, &subject, &[(signed, sig_ann(&signature))]);
    let reference = format!("{}/{repo}:v1", reg.host);
    sb.run(&["pull", &reference, "--format", "oci-layout", "-o", "L", "--include-referrers"]).ok();
    sb.run(&["pull", &reference, "--format", "oci-layout", "-o", "bare"]).ok();
    let key = public.to_str().unwrap();
    let from = |layout: &str| format!("{}:v1", sb.work().join(layout).display());
    sb.run(&["--no-cache", "pull", "--oci-layout", &from("L"), "--verify-key", key, "-o", "out"])
        .ok();
    assert_eq!(std::fs::read(sb.work().join("out/app")).unwrap(), b"the app\n");
    let bare = sb.run(&[
        "--no-cache",
        "pull",
        "--oci-layout",
        &from("bare"),
        "--verify-key",
        key,
        "-o",
        "none",
    ]);
    assert_eq!(bare.code, 8, "{}", bare.stderr);
    assert!(!sb.work().join("none/app").exists());
}
