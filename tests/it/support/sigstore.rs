//! Keyless fixtures: a fake Sigstore instance made offline by `tests/fixtures/fake_sigstore.py`
//! (Python's `cryptography`), and pushers that attach its signatures the way the publishers do.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::push::{EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, Pusher};

/// The bundle media type cosign 3 and actions/attest write.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The fixtures made for one manifest digest: `manifest.json` lists the cases.
pub struct Fixtures {
    pub dir: PathBuf,
    pub cases: Value,
}

/// The Python that runs the fixture builder: the tests' venv ([`super::test_python`]) when
/// there is one, else python3 (the builder needs only `cryptography`).
fn python() -> PathBuf {
    let venv = super::test_python();
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

impl Fixtures {
    /// Make the fake instance and its signatures of `digest` in `dir`. Needs Python 3 with
    /// `cryptography` (≥ 42): a missing one fails the test, naming it.
    pub fn make(dir: &Path, digest: &oci_dl::Digest) -> Fixtures {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_sigstore.py");
        let out =
            Command::new(python()).arg(&script).arg(dir).arg(digest.hex()).output().expect(
                "keyless fixtures need python3 with `cryptography` (pip install cryptography)",
            );
        assert!(
            out.status.success(),
            "keyless fixtures need python3 with `cryptography`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cases =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        Fixtures { dir: dir.to_path_buf(), cases }
    }

    /// The case `name` of `group` (`good` or `bad`).
    pub fn case(&self, group: &str, name: &str) -> &Value {
        &self.cases[group][name]
    }

    /// A file of the fixtures, read.
    pub fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(file)).unwrap()
    }

    /// The flags asking for the fixtures' signer, with `root` as the trusted root.
    pub fn flags(&self, root: &str) -> Vec<String> {
        let s = |v: &Value| v.as_str().unwrap().to_owned();
        vec![
            "--certificate-identity".into(),
            s(&self.cases["identity"]),
            "--certificate-oidc-issuer".into(),
            s(&self.cases["issuer"]),
            "--trusted-root".into(),
            self.dir.join(root).display().to_string(),
        ]
    }
}

/// Attach `bundle` to `subject` as cosign 3's `WriteReferrer` does (sigstore/cosign
/// `pkg/oci/remote/write.go`): the empty config carrying the artifact type, one layer of the
/// bundle's media type, `subject`, and the bundle annotations actions/attest also sets
/// (`src/attest.ts`, sigstore-js `packages/oci/src/image.ts`). Pushed by digest. Returns its
/// descriptor as the fallback index lists it. `subject` is (media type, digest, size). `artifact_type` is the bundle's media type, or
/// the empty type some cosign versions write.
pub fn attach_bundle(
    p: &Pusher,
    repo: &str,
    subject: (&str, &oci_dl::Digest, usize),
    bundle: &[u8],
    artifact_type: &str,
    predicate_type: &str,
) -> Value {
    let config = p.blob(repo, b"{}");
    let layer = p.blob(repo, bundle);
    let annotations = json!({
        "org.opencontainers.image.created": "2026-12-06T03:00:00Z",
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": predicate_type,
    });
    let m = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config.to_string(), "size": 2,
                   "artifactType": artifact_type},
        "layers": [{"mediaType": BUNDLE_V03, "digest": layer.to_string(), "size": bundle.len()}],
        "subject": {"mediaType": subject.0, "digest": subject.1.to_string(), "size": subject.2},
        "annotations": annotations,
    });
    let body = serde_json::to_vec(&m).unwrap();
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &body);
    p.manifest_raw(repo, &digest.to_string(), OCI_MANIFEST, &body);
    json!({"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": body.len(),
           "artifactType": artifact_type, "annotations": annotations})
}

/// The referrers fallback index of `subject` (tag `sha256-<hex>`), as sigstore-js writes it
/// for a registry without the referrers API (`packages/oci/src/image.ts`, `digestToTag`).
pub fn fallback_index(p: &Pusher, repo: &str, subject: &oci_dl::Digest, referrers: &[Value]) {
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": referrers});
    let tag = format!("sha256-{}", subject.hex());
    p.manifest_raw(repo, &tag, OCI_INDEX, &serde_json::to_vec(&index).unwrap());
}

/// cosign's legacy keyless `.sig` signature of `subject`, from the fixtures' layer.
pub fn push_legacy(p: &Pusher, repo: &str, subject: &oci_dl::Digest, fx: &Fixtures) {
    let ann: Value = serde_json::from_slice(&fx.read("legacy-annotations.json")).unwrap();
    crate::trust::push_signature(p, repo, subject, &[(fx.read("legacy-payload.json"), ann)]);
}
