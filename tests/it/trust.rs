//! `pull --verify-key`: minisign and cosign signatures, checked before any file gets its name.
//! Keys and signatures are made with the real tools (`openssl`, `minisign`), never our code.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::json;

use crate::support::fake::{Fake, Reply};
use crate::support::push::{EMPTY_CONFIG, Layer, OCI_MANIFEST, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

#[track_caller]
fn tool(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A P-256 key pair made by openssl: (private key, `cosign.pub`).
pub(crate) fn p256_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let key = format!("{name}.key");
    let public = format!("{name}.pub");
    tool(dir, "openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
    tool(dir, "openssl", &["pkey", "-in", &key, "-pubout", "-out", &public]);
    (dir.join(key), dir.join(public))
}

/// The base64 DER ECDSA signature over SHA-256 of `payload`, as `cosign sign` makes it.
pub(crate) fn openssl_sign(key: &Path, payload: &[u8]) -> String {
    let dir = key.parent().unwrap();
    let file = dir.join("payload.tmp");
    std::fs::write(&file, payload).unwrap();
    let der = tool(
        dir,
        "openssl",
        &["dgst", "-sha256", "-sign", key.to_str().unwrap(), file.to_str().unwrap()],
    );
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// cosign's simple-signing payload (sigstore `pkg/signature/payload/payload.go`).
pub(crate) fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap()
}

/// A signature layer: payload and annotations.
type SigLayer = (Vec<u8>, serde_json::Value);

/// Push a cosign signature manifest for `subject` at `sha256-<hex>.sig`: one simple-signing
/// layer per (payload, annotations), as cosign's `pkg/oci/static` lays them out.
pub(crate) fn push_signature(
    p: &Pusher,
    repo: &str,
    subject: &oci_dl::Digest,
    layers: &[(Vec<u8>, serde_json::Value)],
) {
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = p.blob(repo, config);
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(body, ann)| {
            let d = p.blob(repo, body);
            json!({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": body.len(),
                   "digest": d.to_string(), "annotations": ann})
        })
        .collect();
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": cd.to_string()},
        "layers": descs});
    let tag = format!("sha256-{}.sig", subject.hex());
    p.manifest_raw(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
}

pub(crate) fn sig_ann(b64: &str) -> serde_json::Value {
    json!({"dev.cosignproject.cosign/signature": b64})
}

struct Signed {
    reg: &'static Registry,
    sb: Sandbox,
    key: PathBuf,
    public: PathBuf,
    reference: String,
    digest: oci_dl::Digest,
    repo: String,
}

/// An oras-pushed artifact of two files in `repo`, a key pair, and a sandbox.
fn artifact(repo: &str) -> Option<Signed> {
    let reg = registry::open()?;
    let sb = Sandbox::new();
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let layers =
        [Layer::oras("app-linux-amd64", noise(5000, 1)), Layer::oras("README.md", "read me\n")];
    let (digest, _) = Pusher::new(reg).oras_push(repo, "v1", &layers);
    let reference = format!("{}/{repo}:v1", reg.host);
    Some(Signed { reg, sb, key, public, reference, digest, repo: repo.into() })
}

#[test]
fn cosign_good_signature_pulls_the_files() {
    let Some(s) = artifact("trust/cosign-good") else { return };
    let p = Pusher::new(s.reg);
    let body = payload(&format!("{}/{}", s.reg.host, s.repo), &s.digest.to_string());
    push_signature(
        &p,
        &s.repo,
        &s.digest,
        &[(body.clone(), sig_ann(&openssl_sign(&s.key, &body)))],
    );
    let r = s.sb.run(&[
        "pull",
        &s.reference,
        "-o",
        "out",
        "--verify-key",
        s.public.to_str().unwrap(),
        "-v",
    ]);
    r.ok();
    assert!(r.stderr.contains("cosign: ") && r.stderr.contains("signed with"), "{}", r.stderr);
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "app-linux-amd64"]);
}

/// Each way a cosign signature can be wrong: exit 8, one error line saying why, nothing written.
#[test]
fn cosign_bad_signatures_exit_8_and_write_nothing() {
    let Some(s) = artifact("trust/cosign-bad") else { return };
    let p = Pusher::new(s.reg);
    let (other_key, other_pub) = p256_key(&s.sb.path("keys"), "other");
    let docker_ref = format!("{}/{}", s.reg.host, s.repo);
    let good = payload(&docker_ref, &s.digest.to_string());
    let elsewhere = format!("sha256:{}", "ab".repeat(32));
    let cases: Vec<(&str, Vec<SigLayer>, &Path, &str)> = vec![
        ("no signature", vec![], &s.public, "has no signature (no tag sha256-"),
        (
            "wrong key",
            vec![(good.clone(), sig_ann(&openssl_sign(&other_key, &good)))],
            &s.public,
            "does not verify with the given key",
        ),
        (
            "tampered payload",
            vec![(
                payload(&format!("{docker_ref}x"), &s.digest.to_string()),
                sig_ann(&openssl_sign(&s.key, &good)),
            )],
            &s.public,
            "does not verify",
        ),
        (
            "another digest",
            {
                let other = payload(&docker_ref, &elsewhere);
                vec![(other.clone(), sig_ann(&openssl_sign(&s.key, &other)))]
            },
            &s.public,
            "the signed payload names \"sha256:abab",
        ),
        (
            "keyless",
            vec![(
                good.clone(),
                json!({"dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}),
            )],
            &s.public,
            "a keyless signature (certificate or bundle only): it is checked for a signer identity",
        ),
        (
            "verified with another key",
            vec![(good.clone(), sig_ann(&openssl_sign(&s.key, &good)))],
            &other_pub,
            "does not verify",
        ),
    ];
    for (what, layers, key, needle) in cases {
        if !layers.is_empty() {
            push_signature(&p, &s.repo, &s.digest, &layers);
        }
        let root = s.sb.work().join(what.replace(' ', "-"));
        std::fs::create_dir_all(&root).unwrap();
        let c = Canaries::plant(&root);
        let out = root.join("out");
        let r = s.sb.run(&[
            "pull",
            &s.reference,
            "-o",
            out.to_str().unwrap(),
            "--verify-key",
            key.to_str().unwrap(),
        ]);
        r.fails(8, needle);
        assert!(r.stderr.contains("cosign: no valid signature of"), "{what}: {}", r.stderr);
        assert!(tree(&out).is_empty(), "{what}: {:?}", tree(&out));
        c.assert_unchanged();
    }
}

#[test]
fn cosign_signature_of_the_index_covers_its_platform_manifests() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let p = Pusher::new(reg);
    let repo = "trust/cosign-index";
    let (m, body) = p.artifact(repo, "linux", &[Layer::titled("tool", "linux tool\n")]);
    let index = p.index(repo, "v1", &[("linux/amd64", &m, body.len())]);
    let signed = payload(&format!("{}/{repo}", reg.host), &index.to_string());
    push_signature(&p, repo, &index, &[(signed.clone(), sig_ann(&openssl_sign(&key, &signed)))]);
    let r = format!("{}/{repo}:v1", reg.host);
    sb.run(&[
        "pull",
        &r,
        "--platform",
        "linux/amd64",
        "-o",
        "out",
        "--verify-key",
        public.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read(sb.work().join("out/tool")).unwrap(), b"linux tool\n");
}

#[test]
fn certificates_and_bad_keys_are_usage_errors() {
    let Some(s) = artifact("trust/cosign-cert") else { return };
    let cert = s.sb.path("keys/cert.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        .unwrap();
    let r = s.sb.run(&["pull", &s.reference, "-o", "out", "--verify-key", cert.to_str().unwrap()]);
    r.fails(
        2,
        "a certificate: keyless (Fulcio certificate) signatures are checked for a signer identity",
    );
    let r = s.sb.run(&["pull", &s.reference, "-o", "out", "--verify-key", "env:NO_SUCH_KEY_VAR"]);
    r.fails(2, "$NO_SUCH_KEY_VAR is not set");
    assert!(!s.sb.work().join("out").exists());
}

#[test]
fn a_key_from_the_environment_works_like_a_file() {
    let Some(s) = artifact("trust/cosign-env") else { return };
    let body = payload("any", &s.digest.to_string());
    push_signature(
        &Pusher::new(s.reg),
        &s.repo,
        &s.digest,
        &[(body.clone(), sig_ann(&openssl_sign(&s.key, &body)))],
    );
    let pem = std::fs::read_to_string(&s.public).unwrap();
    let out =
        s.sb.cmd(&["pull", &s.reference, "-o", "out", "--verify-key", "env:COSIGN_PUB"])
            .env("COSIGN_PUB", pem)
            .output()
            .unwrap();
    Run::from(out).ok();
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "app-linux-amd64"]);
}

/// Without `--verify-key` a pull makes exactly the requests it always made: the manifest and
/// one per blob, no signature or referrers lookups.
#[test]
fn without_a_key_nothing_changes() {
    let f = crate::support::fake::artifact(
        vec![("a.txt", b"aaa\n".to_vec()), ("b.txt", b"bbb\n".to_vec())],
        crate::support::fake::Guard::Open,
        None,
    );
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out"]).ok();
    let mut paths: Vec<String> =
        f.hits().iter().map(|h| format!("{} {}", h.method, h.path)).collect();
    paths.sort();
    let blob =
        |b: &[u8]| format!("GET /v2/x/blobs/{}", oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b));
    let mut want = vec!["GET /v2/x/manifests/v1".to_owned(), blob(b"aaa\n"), blob(b"bbb\n")];
    want.sort();
    assert_eq!(paths, want);
    f.assert_no_unexpected();
}

/// A cosign check fails before any layer is requested: the signature covers the manifest
/// digest, known before the first download. The referrers API is asked too.
#[test]
fn cosign_refuses_before_downloading_any_layer() {
    let layer = noise(4096, 7);
    let ld = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &layer);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": ld.to_string(), "size": layer.len(),
                    "annotations": {"org.opencontainers.image.title": "tool"}}],
    }))
    .unwrap();
    let md = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &manifest);
    let sig_tag = format!("/v2/x/manifests/sha256-{}.sig", md.hex());
    let referrers = format!("/v2/x/referrers/{md}");
    let f = Fake::start(move |hit| {
        if hit.path == "/v2/x/manifests/v1" {
            return Reply::new(200, manifest.clone()).header("content-type", OCI_MANIFEST);
        }
        if hit.path == sig_tag {
            return Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            );
        }
        if hit.path == referrers {
            return Reply::new(200, r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#)
                .header("content-type", "application/vnd.oci.image.index.v1+json");
        }
        Reply::unexpected()
    });
    let sb = Sandbox::new();
    let (_, public) = p256_key(&sb.path("keys"), "cosign");
    let r = sb.run(&[
        "pull",
        &format!("{}/x:v1", f.host),
        "-o",
        "out",
        "--verify-key",
        public.to_str().unwrap(),
    ]);
    r.fails(8, "has no signature");
    assert!(f.hits_to("/v2/x/blobs/").is_empty(), "a blob was requested before the check");
    assert_eq!(f.hits_to("/v2/x/referrers/").len(), 1);
    assert!(!sb.work().join("out").exists());
    f.assert_no_unexpected();
}

/// A minisign key pair made by `minisign -G -W` (no password) in `dir`: (secret, public).
pub(crate) fn minisign_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let (s, p) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    tool(
        dir,
        "minisign",
        &["-G", "-W", "-f", "-s", s.to_str().unwrap(), "-p", p.to_str().unwrap()],
    );
    (s, p)
}

/// `minisign -S` over `bytes`: the `.minisig` file's bytes.
pub(crate) fn minisign_sign(secret: &Path, bytes: &[u8], comment: &str) -> Vec<u8> {
    let dir = secret.parent().unwrap();
    let file = dir.join("signed.tmp");
    std::fs::write(&file, bytes).unwrap();
    let f = file.to_str().unwrap();
    tool(dir, "minisign", &["-S", "-s", secret.to_str().unwrap(), "-m", f, "-t", comment]);
    std::fs::read(dir.join("signed.tmp.minisig")).unwrap()
}

pub(crate) fn sha256sum_line(bytes: &[u8], name: &str) -> String {
    format!("{}  {name}\n", oci_dl::Digest::of(oci_dl::Algorithm::Sha256, bytes).hex())
}

/// Push `layers` oras-style to `repo:v1` and pull it into a fresh `out` beside canaries with
/// `args`; returns the run and the output directory.
pub(crate) fn pull_signed(
    sb: &Sandbox,
    reg: &Registry,
    repo: &str,
    layers: &[Layer],
    case: &str,
    args: &[&str],
) -> (Run, PathBuf, Canaries) {
    Pusher::new(reg).oras_push(repo, "v1", layers);
    let root = sb.work().join(case);
    std::fs::create_dir_all(&root).unwrap();
    let c = Canaries::plant(&root);
    let out = root.join("out");
    let reference = format!("{}/{repo}:v1", reg.host);
    let mut all = vec!["pull", reference.as_str(), "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    (sb.run(&all), out, c)
}

#[test]
fn minisign_sibling_signatures_and_signed_checksum_lists_pull() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (secret, public) = minisign_key(&sb.path("keys"), "m");
    let key = public.to_str().unwrap();
    let app = noise(300_000, 3);
    let (a, b) = (b"alpha\n".to_vec(), b"beta\n".to_vec());
    let sums = [sha256sum_line(&a, "a.bin"), sha256sum_line(&b, "b.bin")].concat().into_bytes();
    let layers = vec![
        Layer::oras("app", app.clone()),
        Layer::oras("app.minisig", minisign_sign(&secret, &app, "app v1.2.3")),
        Layer::oras("a.bin", a.clone()),
        Layer::oras("b.bin", b.clone()),
        Layer::oras("SHA256SUMS", sums.clone()),
        Layer::oras("SHA256SUMS.minisig", minisign_sign(&secret, &sums, "sums v1.2.3")),
    ];
    let (r, out, c) =
        pull_signed(&sb, reg, "trust/mini-good", &layers, "all", &["--verify-key", key, "-v"]);
    r.ok();
    assert!(
        r.stderr
            .contains("app: good minisign signature app.minisig, trusted comment \"app v1.2.3\""),
        "the trusted comment, once the bytes verified: {}",
        r.stderr
    );
    assert_eq!(
        tree(&out),
        ["SHA256SUMS", "SHA256SUMS.minisig", "a.bin", "app", "app.minisig", "b.bin"]
    );
    assert_eq!(std::fs::read(out.join("app")).unwrap(), app);
    c.assert_unchanged();
    // Filtered: the signatures are fetched to check, but only what was selected is written.
    let (r, out, _) = pull_signed(
        &sb,
        reg,
        "trust/mini-good",
        &layers,
        "some",
        &["--verify-key", key, "-g", "a.bin", "-g", "app"],
    );
    r.ok();
    assert_eq!(tree(&out), ["a.bin", "app"]);
    // The base64 line of the key works as well, from the environment.
    let line = std::fs::read_to_string(&public).unwrap().lines().nth(1).unwrap().to_owned();
    let reference = format!("{}/trust/mini-good:v1", reg.host);
    let o = sb
        .cmd(&["pull", &reference, "-o", "env-out", "--verify-key", "env:MINISIGN_KEY"])
        .env("MINISIGN_KEY", line)
        .output()
        .unwrap();
    Run::from(o).ok();
    assert_eq!(tree(&sb.work().join("env-out")).len(), 6);
    // To stdout nothing can be held back until it verified, whatever covers it.
    for only in ["app", "a.bin"] {
        let r = sb.run(&["pull", &reference, "-o", "-", "-g", only, "--verify-key", key]);
        r.fails(2, "-o - streams bytes before they are verified");
        assert!(r.stdout.is_empty(), "{only}: nothing streamed");
    }
    // A signature layer is written only with the file it signs, and only if it is one.
    sb.run(&["pull", &reference, "-o", "sig-only", "-g", "app.minisig", "--verify-key", key])
        .fails(8, "select app too");
}

/// Layers that look like signatures or checksum lists but are not what they claim: an
/// unsigned tar.gz titled `X.sig` next to a placeholder `X`, a second `SHA256SUMS` beside the
/// signed one, the real list hidden in empty-descriptor layers. Exit 8, nothing written.
#[test]
fn look_alike_signature_layers_are_not_trusted() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (secret, public) = minisign_key(&sb.path("keys"), "m");
    let key = public.to_str().unwrap();
    let evil = crate::extract::gz(&crate::extract::tar(&[crate::extract::E::File(
        "PWNED.sh",
        b"echo pwned",
        0o755,
    )]));
    let app = b"app".to_vec();
    let cases: Vec<(&str, Vec<Layer>, &str)> = vec![
        (
            "sig-of-nothing",
            vec![
                Layer::oras("app", app.clone()),
                Layer::oras("app.minisig", minisign_sign(&secret, &app, "ok")),
                Layer::oras("app.sig", evil.clone()),
            ],
            "app.sig",
        ),
        (
            // The genuine signed list rides in placeholder layers (never pulled, so never a
            // list); the list that would be written is the attacker's.
            "hidden-list",
            vec![
                Layer::oras("a.bin", b"a".to_vec()),
                Layer {
                    bytes: sha256sum_line(b"a", "a.bin").into_bytes(),
                    title: Some("SHA256SUMS".into()),
                    media_type: "application/vnd.oci.empty.v1+json".into(),
                },
                Layer {
                    bytes: minisign_sign(&secret, sha256sum_line(b"a", "a.bin").as_bytes(), "ok"),
                    title: Some("SHA256SUMS.minisig".into()),
                    media_type: "application/vnd.oci.empty.v1+json".into(),
                },
                Layer::oras("SHA256SUMS", evil.clone()),
            ],
            "is not signed",
        ),
    ];
    for (case, layers, needle) in cases {
        let (r, out, c) = pull_signed(
            &sb,
            reg,
            &format!("trust/look-{case}"),
            &layers,
            case,
            &["--verify-key", key, "-x"],
        );
        r.fails(8, needle);
        assert!(tree(&out).is_empty(), "{case}: {:?}", tree(&out));
        c.assert_unchanged();
    }
}

/// Each way a minisign signature can be wrong: exit 8, one line naming the file and why, and
/// no file written at all (not even the ones whose signature was good).
#[test]
fn minisign_bad_signatures_exit_8_and_write_nothing() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (secret, public) = minisign_key(&sb.path("keys"), "m");
    let (_, other_pub) = minisign_key(&sb.path("keys"), "other");
    let good = noise(200_000, 4);
    let bad = noise(100_000, 5);
    let good_sig = minisign_sign(&secret, &good, "good");
    let a = b"alpha\n".to_vec();
    let sums = sha256sum_line(&a, "a.bin").into_bytes();
    let sums_sig = minisign_sign(&secret, &sums, "sums");
    let good_pair =
        || vec![Layer::oras("good", good.clone()), Layer::oras("good.minisig", good_sig.clone())];
    let with = |mut v: Vec<Layer>, more: Vec<Layer>| {
        v.extend(more);
        v
    };
    let cases: Vec<(&str, Vec<Layer>, &Path, &str)> = vec![
        ("wrong key", good_pair(), &other_pub, "good.minisig was made with another key"),
        (
            "missing signature",
            with(good_pair(), vec![Layer::oras("bad", bad.clone())]),
            &public,
            "bad is not signed: no bad.minisig or bad.sig layer",
        ),
        (
            "signature over another file",
            with(
                good_pair(),
                vec![Layer::oras("bad", bad.clone()), Layer::oras("bad.sig", good_sig.clone())],
            ),
            &public,
            "bad: the minisign signature bad.sig does not match its bytes",
        ),
        (
            "truncated minisig",
            with(
                good_pair(),
                vec![
                    Layer::oras("bad", bad.clone()),
                    Layer::oras("bad.minisig", good_sig[..good_sig.len() - 40].to_vec()),
                ],
            ),
            &public,
            "bad.minisig is not a valid minisign signature",
        ),
        (
            "checksum mismatch",
            vec![
                Layer::oras("a.bin", b"alpha, changed\n".to_vec()),
                Layer::oras("SHA256SUMS", sums.clone()),
                Layer::oras("SHA256SUMS.minisig", sums_sig.clone()),
            ],
            &public,
            "a.bin: the signed SHA256SUMS lists sha256:",
        ),
        (
            "tampered checksum list",
            vec![
                Layer::oras("a.bin", a.clone()),
                Layer::oras("SHA256SUMS", [&sums[..], b"\n"].concat()),
                Layer::oras("SHA256SUMS.minisig", sums_sig.clone()),
            ],
            &public,
            "SHA256SUMS: the minisign signature SHA256SUMS.minisig does not match its bytes",
        ),
    ];
    for (i, (what, layers, key, needle)) in cases.into_iter().enumerate() {
        let repo = format!("trust/mini-bad-{i}");
        let (r, out, c) = pull_signed(
            &sb,
            reg,
            &repo,
            &layers,
            &what.replace(' ', "-"),
            &["--verify-key", key.to_str().unwrap()],
        );
        r.fails(8, needle);
        assert!(tree(&out).is_empty(), "{what}: left {:?}", tree(&out));
        c.assert_unchanged();
    }
}

#[test]
fn minisign_signed_archive_is_unpacked_only_when_it_verifies() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (secret, public) = minisign_key(&sb.path("keys"), "m");
    let src = sb.path("src");
    std::fs::create_dir_all(src.join("pkg")).unwrap();
    std::fs::write(src.join("pkg/tool"), "the tool\n").unwrap();
    tool(&src, "tar", &["czf", "../pkg.tar.gz", "pkg"]);
    let tgz = std::fs::read(sb.path("pkg.tar.gz")).unwrap();
    let key = public.to_str().unwrap();
    let sig = minisign_sign(&secret, &tgz, "pkg");
    let layers = vec![
        Layer::oras("pkg.tar.gz", tgz.clone()),
        Layer::oras("pkg.tar.gz.minisig", sig.clone()),
    ];
    let (r, out, _) = pull_signed(
        &sb,
        reg,
        "trust/mini-x",
        &layers,
        "good",
        &["--verify-key", key, "-x", "-g", "*.tar.gz"],
    );
    r.ok();
    assert_eq!(tree(&out), ["pkg/", "pkg/tool"]);
    let other = minisign_sign(&secret, b"something else", "pkg");
    let layers = vec![Layer::oras("pkg.tar.gz", tgz), Layer::oras("pkg.tar.gz.minisig", other)];
    let (r, out, c) =
        pull_signed(&sb, reg, "trust/mini-x-bad", &layers, "bad", &["--verify-key", key, "-x"]);
    r.fails(8, "pkg.tar.gz: the minisign signature pkg.tar.gz.minisig does not match its bytes");
    assert!(tree(&out).is_empty(), "{:?}", tree(&out));
    c.assert_unchanged();
}

/// A registry that answers the tag with an unsigned index first and a signed one after: the
/// signature must be checked for the index the pull walked, not for a second fetch of the tag.
#[test]
fn a_signed_index_shown_after_the_pulled_one_does_not_count() {
    use oci_dl::{Algorithm, Digest};
    const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let sb = Sandbox::new();
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let image = |content: &[u8]| {
        let d = Digest::of(Algorithm::Sha256, content);
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": EMPTY_CONFIG, "digest": Digest::of(Algorithm::Sha256, b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": d.to_string(), "size": content.len(),
                        "annotations": {"org.opencontainers.image.title": "app"}}],
        }))
        .unwrap()
    };
    let index = |m: &[u8]| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": Digest::of(Algorithm::Sha256, m).to_string(), "size": m.len(),
             "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .unwrap()
    };
    let (evil, good) = (image(b"EVIL app"), image(b"good app"));
    let (unsigned, signed) = (index(&evil), index(&good));
    let signed_digest = Digest::of(Algorithm::Sha256, &signed);
    let body = payload("x", &signed_digest.to_string());
    let body_digest = Digest::of(Algorithm::Sha256, &body);
    let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "digest": Digest::of(Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": body.len(),
                    "digest": body_digest.to_string(), "annotations": sig_ann(&openssl_sign(&key, &body))}]});
    let sig = serde_json::to_vec(&sig).unwrap();
    let evil_digest = Digest::of(Algorithm::Sha256, &evil);
    let served = std::sync::atomic::AtomicUsize::new(0);
    let f = Fake::start(move |hit| {
        let p = hit.path.as_str();
        let unknown = || {
            Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            )
        };
        if p == "/v2/x/manifests/v1" {
            let first = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            let b = if first { unsigned.clone() } else { signed.clone() };
            return Reply::new(200, b).header("content-type", OCI_INDEX);
        }
        if p == format!("/v2/x/manifests/{evil_digest}") {
            return Reply::new(200, evil.clone()).header("content-type", OCI_MANIFEST);
        }
        if p == format!("/v2/x/manifests/sha256-{}.sig", signed_digest.hex()) {
            return Reply::new(200, sig.clone()).header("content-type", OCI_MANIFEST);
        }
        if p == format!("/v2/x/blobs/{body_digest}") {
            return Reply::new(200, body.clone());
        }
        if p.starts_with("/v2/x/manifests/sha256-") || p.starts_with("/v2/x/referrers/") {
            return unknown();
        }
        Reply::unexpected()
    });
    let r = sb.run(&[
        "pull",
        &format!("{}/x:v1", f.host),
        "--platform",
        "linux/amd64",
        "-o",
        "out",
        "--verify-key",
        public.to_str().unwrap(),
    ]);
    r.fails(8, "has no signature");
    assert!(!sb.work().join("out/app").exists(), "the unsigned app is not written");
    assert_eq!(f.hits_to("/v2/x/manifests/v1").len(), 1, "the tag is read once");
    f.assert_no_unexpected();
}
