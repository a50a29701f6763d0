//! `pull --certificate-identity`: Sigstore bundles (cosign 3, actions/attest) and cosign's legacy
//! keyless `.sig`, verified offline against a fake Sigstore instance's trusted root before any
//! file is written. The fixtures come from `tests/fixtures/fake_sigstore.py`; sigstore-python
//! checks the same ones in `scripts/keyless-crosscheck`.

use base64::Engine as _;
use serde_json::Value;

use crate::support::fake::{Fake, Reply};
use crate::support::push::{Layer, OCI_MANIFEST, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::sigstore::{BUNDLE_V03, Fixtures, attach_bundle, fallback_index, push_legacy};
use crate::support::*;

mod offline;
mod pairs;
mod seams;

const SLSA: &str = "https://slsa.dev/provenance/v1";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// One signed artifact: the registry, a sandbox, the manifest, and fixtures for its digest.
struct Signed {
    reg: &'static Registry,
    sb: Sandbox,
    digest: oci_dl::Digest,
    size: usize,
    fx: Fixtures,
}

impl Signed {
    fn new() -> Option<Signed> {
        let reg = registry::open()?;
        let sb = Sandbox::new();
        // Pushed once per process: tests run in parallel, and concurrent PUTs of the same
        // manifest and blobs to one repository race inside the registry (a test failed so).
        static SETUP: std::sync::OnceLock<(oci_dl::Digest, usize)> = std::sync::OnceLock::new();
        let (digest, size) = SETUP
            .get_or_init(|| {
                let (digest, body) = push_files(&Pusher::new(reg), "keyless/setup");
                (digest, body.len())
            })
            .clone();
        let dir = sb.path("fixtures");
        let fx = Fixtures::make(&dir, &digest);
        Some(Signed { reg, sb, digest, size, fx })
    }

    /// Push the artifact to `repo` (the same manifest, so the same digest, in every repository).
    fn repo(&self, repo: &str) -> Pusher<'static> {
        let p = Pusher::new(self.reg);
        assert_eq!(push_files(&p, repo).0, self.digest);
        p
    }

    /// Attach the bundle of case `group/name` to the artifact in `repo`, listed by the fallback tag.
    fn attach(&self, repo: &str, group: &str, name: &str, artifact_type: &str) {
        let p = self.repo(repo);
        let case = self.fx.case(group, name);
        let bundle = self.fx.read(case["bundle"].as_str().unwrap());
        let pt = case["predicate"].as_str().unwrap_or("https://sigstore.dev/cosign/sign/v1");
        let d = attach_bundle(
            &p,
            repo,
            (OCI_MANIFEST, &self.digest, self.size),
            &bundle,
            artifact_type,
            pt,
        );
        fallback_index(&p, repo, &self.digest, &[d]);
    }

    /// `pull REPO:v1 -o out` with the fixtures' signer flags (root `root`) and `extra`.
    fn pull(&self, repo: &str, root: &str, extra: &[&str]) -> Run {
        let r = format!("{}/{repo}:v1", self.reg.host);
        let mut args: Vec<String> = vec!["pull".into(), r, "-o".into(), "out".into()];
        args.extend(self.fx.flags(root));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.sb.run(&args)
    }
}

fn push_files(p: &Pusher, repo: &str) -> (oci_dl::Digest, Vec<u8>) {
    let layers = [
        Layer::titled("widget-linux-amd64", noise(5000, 24)),
        Layer::titled("README.md", b"widget\n".to_vec()),
    ];
    p.artifact(repo, "v1", &layers)
}

/// Each of `pulls` fails with exit 8 and one line naming `needle`, and writes nothing: no
/// final file, `.part` or staging directory in `out/`, the canaries around it untouched.
#[track_caller]
fn refused(s: &Signed, run: impl FnOnce() -> Run, needle: &str) {
    let c = Canaries::plant(&s.sb.work());
    let r = run();
    r.fails(8, needle);
    let out = s.sb.work().join("out");
    let left = if out.exists() { tree(&out) } else { Vec::new() };
    assert!(left.is_empty(), "{needle}: left {left:?}");
    c.assert_unchanged();
}

#[test]
fn good_bundles_and_the_legacy_sig_pull_the_files() {
    let Some(s) = Signed::new() else { return };
    let cases = [("msg", BUNDLE_V03), ("dsse-slsa", BUNDLE_V03), ("dsse-cosign", EMPTY)];
    for (name, artifact_type) in cases {
        let repo = format!("keyless/good-{name}");
        s.attach(&repo, "good", name, artifact_type);
        s.pull(&repo, "trusted_root.json", &["-v"]).ok();
        assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "widget-linux-amd64"], "{name}");
        std::fs::remove_dir_all(s.sb.work().join("out")).unwrap();
    }
    let p = s.repo("keyless/good-legacy");
    push_legacy(&p, "keyless/good-legacy", &s.digest, &s.fx);
    s.pull("keyless/good-legacy", "trusted_root.json", &[]).ok();
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "widget-linux-amd64"]);
}

#[test]
fn identity_by_regexp_predicate_type_and_the_gh_jsonl_root() {
    let Some(s) = Signed::new() else { return };
    s.attach("keyless/forms", "good", "dsse-slsa", BUNDLE_V03);
    let r = format!("{}/keyless/forms:v1", s.reg.host);
    let root = s.fx.dir.join("trusted_root.json");
    let issuer = s.fx.cases["issuer"].as_str().unwrap();
    // Unanchored, as cosign's: a prefix of the workflow's URL matches.
    let by_re = [
        "--certificate-identity-regexp",
        "github\\.com/acme/widget/",
        "--certificate-oidc-issuer",
        issuer,
    ];
    let mut args = vec!["pull", &r, "-o", "out", "--trusted-root", root.to_str().unwrap()];
    args.extend(by_re);
    s.sb.run(&args).ok();
    s.pull(
        "keyless/forms",
        "trusted_root.json",
        &["--predicate-type", SLSA, "--overwrite", "force"],
    )
    .ok();
    // `gh attestation trusted-root`: the public-good root first, then (here) the fake's, a line each.
    let compact = |t: &str| serde_json::from_str::<Value>(t).unwrap().to_string();
    let fake = String::from_utf8(s.fx.read("trusted_root.json")).unwrap();
    let jsonl = format!(
        "{}\n{}\n",
        compact(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT),
        compact(&fake)
    );
    std::fs::write(s.fx.dir.join("gh.jsonl"), jsonl).unwrap();
    s.pull("keyless/forms", "gh.jsonl", &["--overwrite", "force"]).ok();
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "widget-linux-amd64"]);
    // The embedded roots do not vouch for the fake instance.
    let mut args = vec!["pull", &r, "-o", "elsewhere"];
    let flags = s.fx.flags("trusted_root.json");
    args.extend(flags[..4].iter().map(String::as_str));
    s.sb.run(&args).fails(8, "keyless: no valid signature");
}

#[test]
fn every_bad_signature_exits_8_and_writes_nothing() {
    let Some(s) = Signed::new() else { return };
    // Each names the check that failed (sigstore-verify's words).
    let needles = [
        (
            "foreign-ca",
            "certificate chain is invalid: certificate chain validation failed: UnknownIssuer",
        ),
        (
            "cert-expired-at-signing",
            "certificate chain is invalid: certificate chain validation failed: CertExpired",
        ),
        ("bad-sct", "invalid signed certificate timestamp"),
        ("bad-set", "invalid inclusion promise: SET verification failed"),
        ("bad-proof", "invalid inclusion proof"),
        ("bad-checkpoint", "invalid checkpoint"),
        ("log-body-other-signature", "artifact hash mismatch for hashedrekord entry"),
        ("tampered-payload", "DSSE signature verification failed"),
        ("statement-other-digest", "artifact hash does not match any subject"),
        ("root-without-log-key", "No log key valid at integrated time"),
    ];
    let bad = s.fx.cases["bad"].as_object().unwrap();
    assert_eq!(bad.len(), needles.len(), "every bad fixture is tried");
    for (name, needle) in needles {
        let repo = format!("keyless/bad-{name}");
        s.attach(&repo, "bad", name, BUNDLE_V03);
        let root = bad[name]["root"].as_str().unwrap();
        let run = || {
            let r = s.pull(&repo, root, &[]);
            assert!(r.stderr.contains("keyless: no valid signature of "), "{name}: {}", r.stderr);
            r
        };
        refused(&s, run, needle);
    }
    s.attach("keyless/flags", "good", "dsse-slsa", BUNDLE_V03);
    let r = format!("{}/keyless/flags:v1", s.reg.host);
    let root = s.fx.dir.join("trusted_root.json").display().to_string();
    let issuer = s.fx.cases["issuer"].as_str().unwrap().to_owned();
    let id = s.fx.cases["identity"].as_str().unwrap().to_owned();
    let with = |flags: &[&str]| {
        let mut a = vec!["pull", r.as_str(), "-o", "out", "--trusted-root", root.as_str()];
        a.extend(flags);
        s.sb.run(&a)
    };
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--certificate-identity",
                "https://github.com/evil/x",
                "--certificate-oidc-issuer",
                &issuer,
            ],
            "identity",
        ),
        (
            &[
                "--certificate-identity",
                &id,
                "--certificate-oidc-issuer",
                "https://accounts.google.com",
            ],
            "issuer",
        ),
        (
            &[
                "--certificate-identity-regexp",
                "^https://github\\.com/evil/",
                "--certificate-oidc-issuer",
                &issuer,
            ],
            "does not match",
        ),
        (
            &[
                "--certificate-identity",
                &id,
                "--certificate-oidc-issuer",
                &issuer,
                "--predicate-type",
                "https://spdx.dev/Document",
            ],
            "not https://spdx.dev/Document",
        ),
    ];
    for (flags, needle) in cases {
        refused(&s, || with(flags), needle);
    }
    // No signature at all.
    s.repo("keyless/unsigned");
    let none = "no Sigstore bundle referrer and no .sig tag";
    refused(&s, || s.pull("keyless/unsigned", "trusted_root.json", &[]), none);
    // The other side of --predicate-type: a message signature is no statement.
    s.attach("keyless/flags-msg", "good", "msg", BUNDLE_V03);
    refused(
        &s,
        || s.pull("keyless/flags-msg", "trusted_root.json", &["--predicate-type", SLSA]),
        "a message signature",
    );
}

#[test]
fn bad_legacy_signatures_exit_8() {
    let Some(s) = Signed::new() else { return };
    // A tampered signed entry timestamp in the `dev.sigstore.cosign/bundle` annotation.
    let repo = "keyless/legacy-bad-set";
    let p = s.repo(repo);
    let mut ann: Value = serde_json::from_slice(&s.fx.read("legacy-annotations.json")).unwrap();
    let mut rekor: Value =
        serde_json::from_str(ann["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut set = b64.decode(rekor["SignedEntryTimestamp"].as_str().unwrap()).unwrap();
    set[20] ^= 1;
    rekor["SignedEntryTimestamp"] = Value::from(b64.encode(set));
    ann["dev.sigstore.cosign/bundle"] = Value::from(rekor.to_string());
    crate::trust::push_signature(&p, repo, &s.digest, &[(s.fx.read("legacy-payload.json"), ann)]);
    refused(&s, || s.pull(repo, "trusted_root.json", &[]), "SET verification failed");
    // A validly signed payload naming another manifest, put at this one's `.sig` tag.
    let repo = "keyless/legacy-other";
    let p = s.repo(repo);
    let other = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"another manifest");
    let fx = Fixtures::make(&s.sb.path("fx-other"), &other);
    push_legacy(&p, repo, &s.digest, &fx);
    let r = format!("{}/{repo}:v1", s.reg.host);
    let mut args = vec!["pull", r.as_str(), "-o", "out"];
    let flags = fx.flags("trusted_root.json");
    args.extend(flags.iter().map(String::as_str));
    refused(&s, || s.sb.run(&args), &format!("the signed payload names \"{other}\""));
}

/// Against a root with timestamp authorities and no logs (GitHub's instance), the signing time
/// comes from an RFC 3161 timestamp of the signature and no SCT is asked for.
#[test]
fn a_root_without_logs_takes_the_time_from_its_tsa() {
    let Some(s) = Signed::new() else { return };
    s.attach("keyless/tsa-only", "tsa", "tsa-only", BUNDLE_V03);
    s.pull("keyless/tsa-only", "github_root.json", &[]).ok();
    assert_eq!(tree(&s.sb.work().join("out")), ["README.md", "widget-linux-amd64"]);
    std::fs::remove_dir_all(s.sb.work().join("out")).unwrap();
    let bad = [
        ("tsa-other-signature", "invalid RFC 3161 timestamp: TSA timestamp verification failed"),
        ("tsa-after-expiry", "CertExpired"),
    ];
    for (name, needle) in bad {
        let repo = format!("keyless/{name}");
        s.attach(&repo, "tsa", name, BUNDLE_V03);
        refused(&s, || s.pull(&repo, "github_root.json", &[]), needle);
    }
    // Against a root with logs, a bundle without a log entry does not count.
    let no_entry = "must have an inclusion proof";
    refused(&s, || s.pull("keyless/tsa-only", "trusted_root.json", &[]), no_entry);
}
