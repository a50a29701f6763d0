//! Keyless verification: Sigstore bundles (v0.1–v0.3, as cosign 3 and GitHub's
//! `actions/attest` attach them as OCI referrers) and cosign's legacy keyless `.sig`, checked
//! offline against a trusted root for a signer identity (`--certificate-identity[-regexp]` and
//! `--certificate-oidc-issuer`).
//!
//! Every cryptographic check is sigstore-verify's (sigstore/sigstore-rust), in sigstore's order:
//! signing time (transparency log entry under its signed entry timestamp or inclusion proof and
//! checkpoint, or an RFC 3161 timestamp), certificate chain to a CA of the root valid then, SCT,
//! log entry body against this signature, signature over the payload (DSSE PAE for envelopes),
//! the payload naming the manifest, SAN and issuer. This module picks the roots and the policy;
//! [`discover`] finds the signatures in the registry; [`legacy`] turns a `.sig` layer into a
//! v0.1 bundle. Nothing here parses X.509, SCTs, Merkle proofs or DSSE itself.

mod discover;
mod legacy;
mod provider;

pub(crate) use discover::verify;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use sigstore_trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_types::{Artifact, Bundle, SignatureContent, Statement};
use sigstore_verify::{IdentityMatcher, VerificationPolicy, Verifier};

use crate::error::{Error, ErrorKind, Hint};

/// Which certificate identity (SAN) a signature must carry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Identity {
    /// `--certificate-identity`: the SAN equals this.
    Exact(String),
    /// `--certificate-identity-regexp`: the SAN matches this, unanchored, as cosign's
    /// `regexp.MatchString` does (`pkg/cosign/verify.go`).
    Regexp(String),
}

/// What `pull` asks of keyless signatures: who signed (identity and OIDC issuer), which roots
/// vouch for the signing infrastructure, and (for attestations) which statement type counts.
#[derive(Clone)]
pub struct Keyless {
    inner: Arc<Inner>,
}

struct Inner {
    roots: Vec<Root>,
    root_origin: String,
    identity: Identity,
    regex: Option<regex::Regex>,
    issuer: String,
    predicate_type: Option<String>,
}

/// One trusted root's verifier. Roots are never merged: sigstore-verify refuses duplicate log
/// IDs, and each instance's CAs only vouch with its own logs.
struct Root {
    verifier: Verifier,
    /// The root has no transparency log (GitHub's instance: its time comes from a TSA).
    skip_tlog: bool,
    /// The root has no CT log (GitHub's instance again).
    skip_sct: bool,
}

impl fmt::Debug for Keyless {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "keyless {} ({}) with {}",
            self.signer(),
            self.inner.issuer,
            self.inner.root_origin
        )
    }
}

/// Where the embedded roots come from, for `--help`, README and `-v`.
pub const EMBEDDED_ROOTS: &str = "Sigstore public-good and GitHub roots embedded from sigstore-trust-root 0.15.1 (refreshed 2026-10-23)";

impl Keyless {
    /// The policy for `identity` issued by `issuer`, against the roots in `trusted_root` (a
    /// `trusted_root.json`, or the JSON lines `gh attestation trusted-root` writes), or against
    /// the embedded roots (`EMBEDDED_ROOTS`) without one. A bad regexp or unreadable root is a usage error.
    pub fn new(
        identity: Identity,
        issuer: String,
        trusted_root: Option<&Path>,
        predicate_type: Option<String>,
    ) -> Result<Keyless, Error> {
        provider::install();
        let usage = |m: String| Error::new(ErrorKind::Usage, m);
        let regex = match &identity {
            Identity::Exact(_) => None,
            Identity::Regexp(re) => Some(regex::Regex::new(re).map_err(|e| {
                let why = format!(": {}", one_line(&e.to_string()));
                Error::hinted(ErrorKind::Usage, "", Hint::IdentityRegexp, &why)
            })?),
        };
        let (parsed, root_origin) = match trusted_root {
            Some(p) => (read_roots(p)?, p.display().to_string()),
            None => {
                let embedded = [SigstoreInstance::PublicGood, SigstoreInstance::GitHub]
                    .into_iter()
                    .map(TrustedRoot::from_embedded)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| usage(format!("embedded trusted root: {e}")))?;
                (embedded, EMBEDDED_ROOTS.to_owned())
            }
        };
        let mut roots = Vec::new();
        for (i, root) in parsed.iter().enumerate() {
            let verifier = Verifier::new(root)
                .map_err(|e| bad_root(&root_origin, &format!("root {}: {e}", i + 1)))?;
            roots.push(Root {
                verifier,
                skip_tlog: root.tlogs.is_empty(),
                skip_sct: root.ctlogs.is_empty(),
            });
        }
        let inner = Inner { roots, root_origin, identity, regex, issuer, predicate_type };
        Ok(Keyless { inner: Arc::new(inner) })
    }

    /// The identity asked for, as the user gave it.
    fn signer(&self) -> &str {
        match &self.inner.identity {
            Identity::Exact(s) | Identity::Regexp(s) => s,
        }
    }

    /// Verify one bundle's JSON over `artifact` (the manifest's digest, or a legacy payload's
    /// bytes): `Ok` with what verified, or why not (one line).
    pub(crate) fn check(&self, json: &str, artifact: Artifact<'_>) -> Result<String, String> {
        let bundle = Bundle::from_json(json).map_err(|e| format!("not a Sigstore bundle ({e})"))?;
        let inner = &self.inner;
        let mut why = Vec::new();
        for (i, root) in inner.roots.iter().enumerate() {
            let mut policy = match &inner.identity {
                Identity::Exact(id) => {
                    VerificationPolicy::new(IdentityMatcher::Exact(id.clone()), &inner.issuer)
                }
                Identity::Regexp(_) => {
                    VerificationPolicy::any_identity().require_issuer(inner.issuer.clone())
                }
            };
            if root.skip_tlog {
                policy = policy.skip_tlog_unsafe();
            }
            if root.skip_sct {
                policy = policy.skip_sct();
            }
            let tag = |m: String| match inner.roots.len() {
                1 => m,
                _ => format!("root {}: {m}", i + 1),
            };
            match root.verifier.verify(artifact.clone(), &bundle, &policy) {
                Ok(r) => {
                    let id = r.identity().map(|s| s.as_str().to_owned()).unwrap_or_default();
                    if let Some(re) = inner.regex.as_ref().filter(|re| !re.is_match(&id)) {
                        why.push(tag(format!("identity {id:?} does not match {:?}", re.as_str())));
                        continue;
                    }
                    self.predicate(&bundle)?;
                    let when = r.integrated_time().map(|t| format!(" at {t}")).unwrap_or_default();
                    return Ok(format!("signed by {id} ({}){when}", r.issuer().unwrap_or("?")));
                }
                Err(e) => why.push(tag(one_line(&e.to_string()))),
            }
        }
        Err(why.join("; "))
    }

    /// With `--predicate-type`, only a DSSE in-toto statement of that type counts (the
    /// payload's type and signature were verified before this reads it).
    fn predicate(&self, bundle: &Bundle) -> Result<(), String> {
        let Some(want) = &self.inner.predicate_type else {
            return Ok(());
        };
        let SignatureContent::DsseEnvelope(env) = &bundle.content else {
            return Err(format!("a message signature, not a statement of type {want}"));
        };
        let st: Statement = serde_json::from_slice(env.payload.as_bytes())
            .map_err(|e| format!("the signed statement does not parse ({e})"))?;
        if &st.predicate_type != want {
            return Err(format!("a statement of type {}, not {want}", st.predicate_type));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let kind = match self.inner.identity {
            Identity::Exact(_) => "",
            Identity::Regexp(_) => "an identity matching ",
        };
        format!("{kind}{} ({})", self.signer(), self.inner.issuer)
    }
}

/// Largest trusted root file read (the public-good root is about 8 KiB; gh's JSONL about 20).
const MAX_ROOT_BYTES: u64 = 4 * 1024 * 1024;

/// A `trusted_root.json`, or one root per line (`gh attestation trusted-root`'s output:
/// cli/cli `pkg/cmd/attestation/trustedroot/trustedroot.go` compacts each and prints a line).
fn read_roots(path: &Path) -> Result<Vec<TrustedRoot>, Error> {
    let usage = |m: String| bad_root(&path.display().to_string(), &m);
    let meta = std::fs::metadata(path).map_err(|e| usage(format!("cannot read it ({e})")))?;
    if !meta.is_file() || meta.len() > MAX_ROOT_BYTES {
        return Err(usage("not a trusted root file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read it ({e})")))?;
    let parse = |t: &str| TrustedRoot::from_json(t).map_err(|e| usage(one_line(&e.to_string())));
    if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
        return Ok(vec![parse(&text)?]);
    }
    let roots =
        text.lines().filter(|l| !l.trim().is_empty()).map(parse).collect::<Result<Vec<_>, _>>()?;
    if roots.is_empty() {
        return Err(usage("no trusted root in it".into()));
    }
    Ok(roots)
}

/// A usage error about the trusted root file `origin` (the front end names its flag).
fn bad_root(origin: &str, why: &str) -> Error {
    Error::hinted(ErrorKind::Usage, "", Hint::TrustedRoot, &format!(" {origin}: {why}"))
}

/// Text from outside (a crate's error quoting input) on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> Identity {
        Identity::Exact("https://github.com/a/b/.github/workflows/r.yml@refs/tags/v1".into())
    }

    #[test]
    fn the_embedded_roots_load() {
        let k =
            Keyless::new(exact(), "https://token.actions.githubusercontent.com".into(), None, None)
                .unwrap();
        assert_eq!(k.inner.roots.len(), 2);
        // GitHub's instance has no logs: its signing time comes from its TSAs.
        assert!(!k.inner.roots[0].skip_tlog && k.inner.roots[1].skip_tlog);
        assert!(format!("{k:?}").contains("0.15.1"));
    }

    #[test]
    fn bad_regexps_and_roots_are_usage_errors() {
        let e = Keyless::new(Identity::Regexp("(".into()), "i".into(), None, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert_eq!(e.hint(), Some(Hint::IdentityRegexp));
        assert!(e.to_string().starts_with("identity regexp: "), "{e}");
        let dir = tempfile::tempdir().unwrap();
        for (body, needle) in
            [("", "no trusted root"), ("{\"x\":1}", "trusted root /"), ("{\n", "trusted root /")]
        {
            let p = dir.path().join("root.json");
            std::fs::write(&p, body).unwrap();
            let e = Keyless::new(exact(), "i".into(), Some(&p), None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{body}");
            assert!(e.to_string().contains(needle), "{body}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
            assert_eq!(e.hint(), Some(Hint::TrustedRoot));
        }
        let e = Keyless::new(exact(), "i".into(), Some(dir.path()), None).unwrap_err();
        assert!(e.to_string().contains("not a trusted root file"), "{e}");
    }

    #[test]
    fn a_gh_jsonl_root_is_one_root_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("roots.jsonl");
        let compact = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap().to_string();
        let lines = format!(
            "{}\n{}\n",
            compact(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT),
            compact(sigstore_trust_root::SIGSTORE_GITHUB_TRUSTED_ROOT)
        );
        std::fs::write(&p, lines).unwrap();
        assert_eq!(read_roots(&p).unwrap().len(), 2);
        std::fs::write(&p, sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT).unwrap();
        assert_eq!(read_roots(&p).unwrap().len(), 1);
    }
}
