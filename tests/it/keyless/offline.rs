//! Signatures × `--offline`, and signatures × an OCI layout: a pull that verified online, made
//! again `--offline` with the same flags, verifies again — from scratch, against the trusted root
//! or key, from what the cache kept (the referrers list or fallback index, the signature
//! manifests, the bundles and payloads) — with the registry stopped; a layout that carries the
//! signatures as oras-go's store lays them out verifies as the registry does. Nothing counts
//! because it is in the cache: a cached bundle or payload changed afterwards is refused (exit 8)
//! and nothing is written.

use serde_json::json;

use super::*;
use crate::support::oras_layout;
use crate::support::push::OCI_INDEX;
use crate::trust::{
    minisign_key, minisign_sign, openssl_sign, p256_key, payload, push_signature, sha256sum_line,
    sig_ann,
};

fn sha(b: &[u8]) -> oci_dl::Digest {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b)
}

/// The cache file of blob `d` in the sandbox's default cache.
fn cached_blob(sb: &Sandbox, d: &oci_dl::Digest) -> std::path::PathBuf {
    sb.path(&format!("home/.cache/oci-dl/blobs/sha256/{}", d.hex()))
}

/// Flip one byte of `path`, keeping its length.
fn tamper(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let i = bytes.len() / 2;
    bytes[i] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

/// `run` fails with exit 8 naming `needle`, and nothing is in `work/out`; the canaries hold.
#[track_caller]
fn refused_offline(sb: &Sandbox, run: impl FnOnce() -> Run, needle: &str) {
    let c = Canaries::plant(&sb.work());
    run().fails(8, needle);
    let out = sb.work().join("out");
    let left = if out.exists() { tree(&out) } else { Vec::new() };
    assert!(left.is_empty(), "left {left:?}");
    c.assert_unchanged();
}

/// Signatures × offline, keyless: a cosign-3 bundle referrer, listed by the fallback tag (the CNCF
/// registry 2.8 has no referrers API). Online, then `--offline` with the registry stopped: the
/// same files, verified. Then the cached bundle is changed: exit 8, nothing written.
#[test]
fn keyless_offline_repull_verifies_from_the_cache_alone_and_refuses_a_tampered_bundle() {
    let reg = registry::own();
    let sb = Sandbox::new();
    let p = Pusher::new(&reg);
    let repo = "off/keyless";
    let (digest, body) = push_files(&p, repo);
    let fx = Fixtures::make(&sb.path("fixtures"), &digest);
    let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    let subject = (OCI_MANIFEST, &digest, body.len());
    let d = attach_bundle(&p, repo, subject, &bundle, BUNDLE_V03, SLSA);
    fallback_index(&p, repo, &digest, &[d]);
    let r = format!("{}/{repo}:v1", reg.host);
    let pull = |out: &str, extra: &[&str]| {
        let mut args: Vec<String> = vec!["pull".into(), r.clone(), "-o".into(), out.into()];
        args.extend(fx.flags("trusted_root.json"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.run(&args)
    };
    pull("online", &[]).ok();
    reg.stop();
    let run = pull("offline", &["--offline", "-v"]);
    run.ok();
    assert!(run.stderr.contains("keyless: referrer"), "verified at -v: {}", run.stderr);
    assert_eq!(tree(&sb.work().join("offline")), ["README.md", "widget-linux-amd64"]);
    for f in ["README.md", "widget-linux-amd64"] {
        let (a, b) = (sb.work().join("online").join(f), sb.work().join("offline").join(f));
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), "{f}");
    }
    tamper(&cached_blob(&sb, &sha(&bundle)));
    refused_offline(&sb, || pull("out", &["--offline"]), "keyless: no valid signature of");
}

/// Signatures × offline, cosign with a key: the `.sig` tag's manifest and its payload come from
/// the cache; a changed cached payload is refused (exit 8), nothing written.
#[test]
fn cosign_key_offline_repull_verifies_from_the_cache_alone_and_refuses_a_tampered_payload() {
    let reg = registry::own();
    let sb = Sandbox::new();
    let p = Pusher::new(&reg);
    let repo = "off/cosign";
    let (digest, _) = push_files(&p, repo);
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let r = format!("{}/{repo}:v1", reg.host);
    let signed = payload(&r, &digest.to_string());
    push_signature(&p, repo, &digest, &[(signed.clone(), sig_ann(&openssl_sign(&key, &signed)))]);
    let public = public.display().to_string();
    let pull = |out: &str, extra: &[&str]| {
        let mut args = vec!["pull", r.as_str(), "-o", out, "--verify-key", public.as_str()];
        args.extend(extra);
        sb.run(&args)
    };
    pull("online", &[]).ok();
    reg.stop();
    pull("offline", &["--offline"]).ok();
    assert_eq!(tree(&sb.work().join("offline")), ["README.md", "widget-linux-amd64"]);
    tamper(&cached_blob(&sb, &sha(&signed)));
    refused_offline(&sb, || pull("out", &["--offline"]), "cosign: no valid signature of");
}

/// Signatures × offline, minisign: a filtered pull fetches the signed checksum list and its
/// signature only to check them (they are not selected, so never downloaded as files); the
/// same pull `--offline` finds them in the cache, with the registry stopped.
#[test]
fn minisign_offline_repull_finds_the_signatures_it_did_not_select() {
    let reg = registry::own();
    let sb = Sandbox::new();
    let (secret, public) = minisign_key(&sb.path("keys"), "m");
    let a = b"alpha\n".to_vec();
    let sums = sha256sum_line(&a, "a.bin").into_bytes();
    let layers = [
        Layer::oras("a.bin", a.clone()),
        Layer::oras("SHA256SUMS", sums.clone()),
        Layer::oras("SHA256SUMS.minisig", minisign_sign(&secret, &sums, "sums v1")),
    ];
    let repo = "off/minisign";
    Pusher::new(&reg).oras_push(repo, "v1", &layers);
    let r = format!("{}/{repo}:v1", reg.host);
    let key = public.display().to_string();
    let pull = |out: &str, extra: &[&str]| {
        let mut args = vec!["pull", r.as_str(), "-o", out, "--verify-key", key.as_str()];
        args.extend(["-g", "a.bin"]);
        args.extend(extra);
        sb.run(&args)
    };
    pull("online", &[]).ok();
    reg.stop();
    pull("offline", &["--offline"]).ok();
    assert_eq!(tree(&sb.work().join("offline")), ["a.bin"]);
    tamper(&cached_blob(&sb, &sha(&sums)));
    refused_offline(&sb, || pull("out", &["--offline"]), "SHA256SUMS");
}

/// Signatures × OCI layout, keyless: a layout shaped as `oras copy -r --to-oci-layout` writes it
/// (see `support::oras_layout`: the real oras-py SDK, the referrer carried as oras-go's store
/// keeps it) verifies as the registry does — the referrers walked from `index.json`, the bundle
/// checked against the root — with the registry stopped; the same layout with its bundle
/// changed, or without the referrer's entry, exits 8 and writes nothing.
#[test]
fn keyless_verifies_from_an_oras_shaped_layout() {
    let reg = registry::own();
    let sb = Sandbox::new();
    let p = Pusher::new(&reg);
    let repo = "off/layout";
    let (digest, body) = push_files(&p, repo);
    let fx = Fixtures::make(&sb.path("fixtures"), &digest);
    let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    let subject = (OCI_MANIFEST, &digest, body.len());
    let listed = attach_bundle(&p, repo, subject, &bundle, BUNDLE_V03, SLSA);
    let layout = sb.work().join("L");
    oras_layout::copy(&reg.host, &format!("{repo}:v1"), &layout, "v1");
    oras_layout::carry_referrer(&reg.host, repo, &layout, &listed);
    reg.stop();
    let pull = |out: &str| {
        let mut args: Vec<String> =
            vec!["pull".into(), "--oci-layout".into(), "L:v1".into(), "-o".into(), out.into()];
        args.extend(fx.flags("trusted_root.json"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.run(&args)
    };
    pull("files").ok();
    assert_eq!(tree(&sb.work().join("files")), ["README.md", "widget-linux-amd64"]);
    let bundle_path = layout.join("blobs/sha256").join(sha(&bundle).hex());
    let good = std::fs::read(&bundle_path).unwrap();
    tamper(&bundle_path);
    refused_offline(&sb, || pull("out"), "keyless: no valid signature of");
    std::fs::write(&bundle_path, good).unwrap();
    // Without its index.json entry the referrer is not found: nothing else lists it.
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().retain(|d| d["digest"] != listed["digest"]);
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    refused_offline(&sb, || pull("out"), "no Sigstore bundle referrer and no .sig tag");
}

/// Signatures × OCI layout, keyless, in the layout `pull --include-referrers` writes: a bundle
/// referrer (read through the fallback tag `sha256-<hex>` the layout tags), and cosign's legacy
/// keyless `.sig` (the tag `sha256-<hex>.sig` of `index.json`), each verifies with the registry
/// stopped.
#[test]
fn keyless_verifies_from_a_layout_written_with_include_referrers() {
    let reg = registry::own();
    let sb = Sandbox::new();
    let p = Pusher::new(&reg);
    let (digest, body) = push_files(&p, "off/inc-bundle");
    assert_eq!(push_files(&p, "off/inc-legacy").0, digest);
    let fx = Fixtures::make(&sb.path("fixtures"), &digest);
    let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    let subject = (OCI_MANIFEST, &digest, body.len());
    let d = attach_bundle(&p, "off/inc-bundle", subject, &bundle, BUNDLE_V03, SLSA);
    fallback_index(&p, "off/inc-bundle", &digest, &[d]);
    push_legacy(&p, "off/inc-legacy", &digest, &fx);
    for repo in ["off/inc-bundle", "off/inc-legacy"] {
        let r = format!("{}/{repo}:v1", reg.host);
        let dir = repo.replace('/', "-");
        let args = ["pull", &r, "--format", "oci-layout", "-o", &dir, "--include-referrers"];
        sb.run(&args).ok();
    }
    reg.stop();
    for dir in ["off-inc-bundle", "off-inc-legacy"] {
        let from = format!("{dir}:v1");
        let out = format!("{dir}-files");
        let mut args: Vec<String> =
            ["--no-cache", "pull", "--oci-layout", &from, "-o", &out].map(String::from).to_vec();
        args.extend(fx.flags("trusted_root.json"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.run(&args).ok();
        assert_eq!(tree(&sb.work().join(&out)), ["README.md", "widget-linux-amd64"], "{dir}");
    }
}

/// Signatures × offline where the registry has the referrers API (the strict fake: the CNCF
/// registry 2.8 has none): the list the API gave is kept, so `--offline` finds the bundle through
/// the same list, with the fake gone, and asks no fallback tag. Signatures × a cache another user
/// can write: a kept list whose record is not the running user's is not used (exit 8).
#[test]
fn keyless_offline_is_answered_the_list_the_referrers_api_gave() {
    let layer = noise(3000, 11);
    let (manifest, md) = super::seams::subject(&layer);
    let sb = Sandbox::new();
    let fx = Fixtures::make(&sb.path("fx"), &md);
    let bundle = fx.read(fx.case("good", "dsse-slsa")["bundle"].as_str().unwrap());
    let (good, good_d) = super::seams::referrer(&md, manifest.len(), &bundle);
    let list = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": good_d.to_string(), "size": good.len(), "artifactType": BUNDLE_V03}]}))
    .unwrap();
    let routes: Vec<(String, Vec<u8>, &str)> = vec![
        ("/v2/x/manifests/v1".into(), manifest, OCI_MANIFEST),
        (format!("/v2/x/referrers/{md}"), list, OCI_INDEX),
        (format!("/v2/x/manifests/{good_d}"), good, OCI_MANIFEST),
        (format!("/v2/x/blobs/{}", sha(&bundle)), bundle.clone(), "application/octet-stream"),
        (format!("/v2/x/blobs/{}", sha(&layer)), layer.clone(), "application/octet-stream"),
    ];
    let f = super::seams::serve(routes);
    let host = f.host.clone();
    let r = format!("{host}/x:v1");
    let flags = fx.flags("trusted_root.json");
    let pull = |out: &str, extra: &[&str]| {
        let mut args = vec!["pull", r.as_str(), "-o", out];
        args.extend(flags.iter().map(String::as_str));
        args.extend(extra);
        sb.run(&args)
    };
    pull("online", &[]).ok();
    f.assert_no_unexpected();
    drop(f);
    let run = pull("offline", &["--offline", "-v"]);
    run.ok();
    assert!(
        run.stderr.contains(&format!("keyless: referrer {}", good_d.short())),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("offline/tool")).unwrap(), layer);
    // The record naming the kept list, as another user (nobody) would have written it.
    let record = sha(format!("{host}/x:referrers/{md}").as_bytes());
    let path = sb.path(&format!("home/.cache/oci-dl/tags/{}", record.hex()));
    assert!(path.is_file(), "the referrers list is remembered");
    std::os::unix::fs::chown(&path, Some(65534), Some(65534))
        .expect("chown (the tests run as root)");
    refused_offline(&sb, || pull("out", &["--offline"]), "no Sigstore bundle referrer");
}
