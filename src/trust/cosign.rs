//! cosign with a key: the signature manifest at the tag `sha256-<hex>.sig` of the signed
//! manifest (or, in cosign's OCI 1.1 mode, a referrer of artifact type
//! [`SIG_ARTIFACT_TYPE`]). Each layer is a simple-signing payload, with the base64 DER ECDSA
//! signature over its bytes in the [`SIGNATURE_ANNOTATION`].
//!
//! After cosign's own source: `pkg/oci/static/signature.go` (the annotations),
//! `pkg/oci/remote/remote.go` (the `.sig` tag), `pkg/cosign/verify.go` (signature first, then
//! the payload's `critical.image.docker-manifest-digest` against the image's digest) and
//! sigstore's `pkg/signature/payload/payload.go` (the payload's shape and `critical.type`).

use std::collections::BTreeMap;

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

use super::{fetch_small, refused};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{Descriptor, Manifest};
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::ResolvedManifest;

/// The media type of a signature layer (a simple-signing payload).
pub const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The artifact type of a signature stored as an OCI 1.1 referrer.
pub const SIG_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const CERT_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// `critical.type` of an image signature payload.
const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag cosign stores the signatures of `d` under.
pub fn signature_tag(d: &Digest) -> String {
    format!("{}-{}.sig", d.algorithm().name(), d.hex())
}

#[derive(serde::Deserialize)]
struct Payload {
    critical: Critical,
}

#[derive(serde::Deserialize)]
struct Critical {
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(serde::Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

/// Check one signature layer's `payload` and `annotations` against `keys`, for the manifest
/// `want`: `Ok` with the index of the key that verified, or why not.
pub(crate) fn check(
    keys: &[&VerifyingKey],
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    want: &Digest,
) -> Result<usize, String> {
    let keyless =
        annotations.contains_key(CERT_ANNOTATION) || annotations.contains_key(BUNDLE_ANNOTATION);
    let Some(b64) = annotations.get(SIGNATURE_ANNOTATION).filter(|s| !s.is_empty()) else {
        return Err(if keyless {
            "a keyless signature (certificate or bundle only): it is checked for a signer identity, not with a key".into()
        } else {
            format!("no {SIGNATURE_ANNOTATION} annotation")
        });
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "the signature annotation is not base64".to_owned())?;
    let sig = Signature::from_der(&der)
        .map_err(|_| "the signature is not a DER ECDSA P-256 signature".to_owned())?;
    let Some(key) = keys.iter().position(|k| k.verify(payload, &sig).is_ok()) else {
        return Err(if keyless {
            "a keyless signature (Fulcio certificate): it is checked for a signer identity, not with a key".into()
        } else {
            "the signature does not verify with the given key(s) (another key, or a tampered payload)".into()
        });
    };
    // Only now, signed, is the payload read.
    check_payload(payload, want)?;
    Ok(key)
}

/// Check a verified simple-signing `payload`: an image signature of the manifest `want`.
pub(crate) fn check_payload(payload: &[u8], want: &Digest) -> Result<(), String> {
    let p: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not a cosign payload ({e})"))?;
    if p.critical.kind != PAYLOAD_TYPE {
        return Err(format!(
            "the signed payload's type is {:?}, not {PAYLOAD_TYPE:?}",
            p.critical.kind
        ));
    }
    if p.critical.image.digest != want.to_string() {
        return Err(format!("the signed payload names {:?}, not {want}", p.critical.image.digest));
    }
    Ok(())
}

/// The digests a signature may be for: the index the reference named (what `cosign sign REF`
/// signs), when one was followed, then the manifest pulled. The index is the one `resolve`
/// fetched and walked, not fetched again: a registry cannot show a signed index to the check
/// and another to the pull.
pub(crate) fn subjects(resolved: &ResolvedManifest) -> Vec<Digest> {
    let pulled = resolved.descriptor.digest.clone();
    match resolved.chain.first() {
        Some(top) => vec![top.clone(), pulled],
        None => vec![pulled],
    }
}

/// Signature manifests of `want`: the `.sig` tag's, then cosign's OCI 1.1 referrers (where the
/// registry has the API). A missing one is a reason, not an error.
fn signature_manifests(
    client: &Client,
    repo: &str,
    want: &Digest,
    reasons: &mut Vec<String>,
) -> Result<Vec<(String, Vec<Descriptor>)>, Error> {
    let mut out = Vec::new();
    let tag = signature_tag(want);
    match client.manifest(repo, &tag) {
        Ok(raw) => match Manifest::parse(&raw.bytes, raw.content_type.as_deref()) {
            Ok((Manifest::Image(m), _)) => out.push((tag.clone(), m.layers)),
            _ => reasons.push(format!("{tag} is not a signature manifest")),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {
            reasons.push(format!("{want} has no signature (no tag {tag})"));
        }
        Err(e) => return Err(e),
    }
    if let Ok(Some(list)) = client.referrers_api(repo, want) {
        for d in list.iter().filter(|d| d.artifact_type.as_deref() == Some(SIG_ARTIFACT_TYPE)) {
            // Fetched by digest (so verified); one attached to another subject, or gone, is
            // skipped and does not hide the `.sig` tag's good signature.
            if let Some(m) = client.referrer_of(repo, d, want)? {
                out.push((format!("referrer {}", d.digest.short()), m.layers));
            }
        }
    }
    Ok(out)
}

/// A signature manifest holds a layer per signature; real ones hold a few.
const MAX_SIGNATURE_LAYERS: usize = 64;

/// Refuse unless a signature made with one of `keys` covers the manifest `resolved` (see
/// [`subjects`]). Runs before any layer is downloaded. A mirror whose `.sig` answer fails the
/// check is dropped for the run and the signatures are asked of the next source, as a mirror's
/// bad bytes are: the mirror cannot make a validly signed pull fail.
pub(crate) fn verify(
    client: &Client,
    reference: &Reference,
    resolved: &ResolvedManifest,
    keys: &[&VerifyingKey],
    origins: &[&str],
    obs: &dyn Observer,
) -> Result<(), Error> {
    let tags: Vec<String> = subjects(resolved).iter().map(signature_tag).collect();
    super::falling_through(client, reference.repository(), &tags, || {
        verify_once(client, reference, resolved, keys, origins, obs)
    })
}

fn verify_once(
    client: &Client,
    reference: &Reference,
    resolved: &ResolvedManifest,
    keys: &[&VerifyingKey],
    origins: &[&str],
    obs: &dyn Observer,
) -> Result<(), Error> {
    let repo = reference.repository();
    let mut reasons = Vec::new();
    for want in subjects(resolved) {
        for (source, layers) in signature_manifests(client, repo, &want, &mut reasons)? {
            if layers.len() > MAX_SIGNATURE_LAYERS {
                reasons.push(format!(
                    "{source} has {} layers; only the first {MAX_SIGNATURE_LAYERS} are read",
                    layers.len()
                ));
            }
            for (i, layer) in layers.iter().take(MAX_SIGNATURE_LAYERS).enumerate() {
                let what = format!("{source} layer {i}");
                if layer.media_type != SIMPLESIGNING {
                    reasons.push(format!(
                        "{what} is {:?}, not a simple-signing payload",
                        layer.media_type
                    ));
                    continue;
                }
                // One bad layer (too big, corrupt) does not hide a good one after it.
                let payload = match fetch_small(client, repo, layer, &what) {
                    Ok(p) => p,
                    Err(e) if e.kind() == ErrorKind::Interrupted => return Err(e),
                    Err(e) => {
                        reasons.push(format!("{what}: {e}"));
                        continue;
                    }
                };
                match check(keys, &payload, &layer.annotations, &want) {
                    Ok(k) => {
                        obs.log(
                            Level::Debug,
                            format!("cosign: {want} signed with {} ({what})", origins[k]),
                        );
                        return Ok(());
                    }
                    Err(why) => reasons.push(format!("{what}: {why}")),
                }
            }
        }
    }
    Err(refused(format!(
        "cosign: no valid signature of {reference} by the given key: {}",
        reasons.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey as _;

    // `openssl ecparam -name prime256v1 -genkey`, `openssl pkey -pubout`, and
    // `openssl dgst -sha256 -sign` over PAYLOAD.
    const PUB: &str = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnFi/T2PbM6BLr1aa5qYEiMxaSxVU\n\
rnWh3K/Ui707myxiIN7X0dgWXEiscAmm0i1VW/Hd6mxGMfeTthn8EaWgUA==\n\
-----END PUBLIC KEY-----\n";
    const PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/x"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},"type":"cosign container image signature"},"optional":null}"#;
    const SIG: &str = "MEUCIQDVfJq40gnZ/7FYtsbmZhD5gMHZHNS8jBW3P9sxCN9CpAIgFftuhGU8S2CM64+XmaRvauAM3T6hp0MPUuKiJb6I7+M=";
    // Another P-256 key.
    const OTHER: &str = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEneP/yeq0U13iGSwtq0S2d46H5h40\n\
VN3XlboO4LFws5FORspLU9FfLA73PiNAEawEpmTtycMPczzYCfGrEYQ9GQ==\n\
-----END PUBLIC KEY-----\n";

    fn want(last: char) -> Digest {
        format!("sha256:{}{last}", "0".repeat(63)).parse().unwrap()
    }

    fn ann(sig: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), sig.to_owned())])
    }

    #[test]
    fn a_good_signature_over_the_right_digest_verifies() {
        let k = VerifyingKey::from_public_key_pem(PUB).unwrap();
        assert_eq!(check(&[&k], PAYLOAD.as_bytes(), &ann(SIG), &want('1')), Ok(0));
        assert_eq!(signature_tag(&want('1')), format!("sha256-{}1.sig", "0".repeat(63)));
    }

    #[test]
    fn wrong_key_tampered_payload_other_digest_and_keyless_are_refused() {
        let k = VerifyingKey::from_public_key_pem(PUB).unwrap();
        let other = VerifyingKey::from_public_key_pem(OTHER).unwrap();
        let e = check(&[&other], PAYLOAD.as_bytes(), &ann(SIG), &want('1')).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let tampered = PAYLOAD.replace("5000/x", "5000/y");
        let e = check(&[&k], tampered.as_bytes(), &ann(SIG), &want('1')).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let e = check(&[&k], PAYLOAD.as_bytes(), &ann(SIG), &want('2')).unwrap_err();
        assert!(e.contains("names \"sha256:") && e.contains("not sha256:"), "{e}");
        let keyless = BTreeMap::from([(CERT_ANNOTATION.to_owned(), "-----BEGIN".to_owned())]);
        let e = check(&[&k], PAYLOAD.as_bytes(), &keyless, &want('1')).unwrap_err();
        assert!(e.contains("checked for a signer identity"), "{e}");
        let e = check(&[&k], PAYLOAD.as_bytes(), &ann("bm90IGRlcg=="), &want('1')).unwrap_err();
        assert!(e.contains("not a DER"), "{e}");
    }
}
