//! `pull`'s keyless flags (cosign's names) and the signer they ask for.

use std::path::PathBuf;

/// Keyless verification: who must have signed, and against which Sigstore root.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeylessArgs {
    /// Refuse unless a keyless Sigstore signature by this identity covers it.
    ///
    /// The signing certificate's SAN, e.g.
    /// https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0; the signature
    /// is a Sigstore bundle attached as a referrer, or cosign's keyless .sig.
    #[arg(
        long,
        value_name = "ID",
        requires = "certificate_oidc_issuer",
        conflicts_with = "certificate_identity_regexp",
        help_heading = "Verification"
    )]
    pub certificate_identity: Option<String>,
    /// As --certificate-identity, for any SAN this regular expression matches.
    ///
    /// Unanchored, as cosign's: add ^ and $ to pin it.
    #[arg(
        long,
        value_name = "RE",
        requires = "certificate_oidc_issuer",
        help_heading = "Verification",
        hide_short_help = true
    )]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the signing certificate must name.
    ///
    /// Compared exactly, e.g. https://token.actions.githubusercontent.com.
    #[arg(long, value_name = "URL", help_heading = "Verification")]
    pub certificate_oidc_issuer: Option<String>,
    /// The Sigstore trusted root for keyless signatures.
    ///
    /// A trusted_root.json, or the JSON lines `gh attestation trusted-root` writes [default: the
    /// public-good and GitHub roots embedded from sigstore-trust-root 0.15.1, refreshed
    /// 2026-10-23].
    #[arg(long, value_name = "FILE", help_heading = "Verification", hide_short_help = true)]
    pub trusted_root: Option<PathBuf>,
    /// With keyless signatures, count only in-toto statements of this predicate type.
    ///
    /// E.g. https://slsa.dev/provenance/v1.
    #[arg(long, value_name = "TYPE", help_heading = "Verification", hide_short_help = true)]
    pub predicate_type: Option<String>,
}

impl KeylessArgs {
    /// The keyless signer the identity flags ask for, if any. The issuer is required with an
    /// identity (clap says so); the other keyless flags without an identity are usage errors, not
    /// silently ignored.
    pub fn signer(&self) -> Result<Option<oci_dl::Keyless>, oci_dl::Error> {
        let args = self;
        let identity = match (&args.certificate_identity, &args.certificate_identity_regexp) {
            (Some(id), _) => oci_dl::Identity::Exact(id.clone()),
            (None, Some(re)) => oci_dl::Identity::Regexp(re.clone()),
            (None, None) => {
                let stray = [
                    (args.certificate_oidc_issuer.is_some(), "--certificate-oidc-issuer"),
                    (args.trusted_root.is_some(), "--trusted-root"),
                    (args.predicate_type.is_some(), "--predicate-type"),
                ];
                if let Some((_, flag)) = stray.iter().find(|(given, _)| *given) {
                    return Err(super::usage(format!(
                        "{flag} goes with --certificate-identity or --certificate-identity-regexp"
                    )));
                }
                return Ok(None);
            }
        };
        let issuer = args.certificate_oidc_issuer.clone().unwrap_or_default();
        let root = args.trusted_root.as_deref();
        Ok(Some(oci_dl::Keyless::new(identity, issuer, root, args.predicate_type.clone())?))
    }
}
