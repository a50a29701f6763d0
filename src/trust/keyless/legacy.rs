//! cosign's legacy keyless signature (the layer of the manifest at tag `sha256-<hex>.sig`) as
//! the v0.1 Sigstore bundle it amounts to, so that sigstore-verify checks it like any bundle.
//!
//! The layer's annotations (cosign `pkg/oci/static/signature.go`): the base64 DER signature of
//! the payload, the PEM leaf certificate, the PEM chain, and the Rekor bundle
//! `{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime", "logIndex",
//! "logID": hex}}` (`pkg/cosign/bundle/rekor.go`). v0.1 bundles need only the signed entry
//! timestamp (`sigstore-bundle` `validation.rs`). The chain annotation is not used: the chain
//! is checked against the trusted root's CAs, never against what the registry sent.

use std::collections::BTreeMap;

use base64::Engine as _;
use sha2::Digest as _;

use crate::trust::cosign::SIGNATURE_ANNOTATION;

/// The leaf certificate (PEM).
pub(crate) const CERT_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Rekor's signed entry timestamp and the entry it signs.
pub(crate) const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RekorBundle {
    signed_entry_timestamp: String,
    payload: RekorPayload,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    kind: String,
    api_version: String,
}

/// Whether a `.sig` layer's annotations are a keyless signature's.
pub(crate) fn is_keyless(annotations: &BTreeMap<String, String>) -> bool {
    annotations.contains_key(CERT_ANNOTATION)
}

/// The v0.1 bundle JSON for the signature layer whose payload is `payload`, or why there is none.
pub(crate) fn to_bundle(
    annotations: &BTreeMap<String, String>,
    payload: &[u8],
) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let get =
        |k: &str| annotations.get(k).filter(|v| !v.is_empty()).ok_or(format!("no {k} annotation"));
    let sig = get(SIGNATURE_ANNOTATION)?;
    let cert = get(CERT_ANNOTATION)?;
    let rekor: RekorBundle = serde_json::from_str(get(BUNDLE_ANNOTATION)?)
        .map_err(|e| format!("the {BUNDLE_ANNOTATION} annotation does not parse ({e})"))?;
    let der = pem_certificate(cert)?;
    let body_bytes = b64
        .decode(rekor.payload.body.trim())
        .map_err(|_| "the Rekor entry body is not base64".to_owned())?;
    let body: Body = serde_json::from_slice(&body_bytes)
        .map_err(|e| format!("the Rekor entry body does not parse ({e})"))?;
    let log_id = hex_decode(&rekor.payload.log_id).ok_or("the Rekor log ID is not hex")?;
    let p = &rekor.payload;
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64.encode(der)}]},
            "tlogEntries": [{
                "logIndex": p.log_index.to_string(),
                "logId": {"keyId": b64.encode(log_id)},
                "kindVersion": {"kind": body.kind, "version": body.api_version},
                "integratedTime": p.integrated_time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": rekor.signed_entry_timestamp},
                "canonicalizedBody": p.body,
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64.encode(sha2::Sha256::digest(payload))},
            "signature": sig.trim(),
        },
    });
    Ok(bundle.to_string())
}

/// The DER bytes of the first `CERTIFICATE` block of `pem`.
fn pem_certificate(pem: &str) -> Result<Vec<u8>, String> {
    let bad = || "the certificate annotation is not a PEM certificate".to_owned();
    crate::pem::blocks(pem, "CERTIFICATE").next().ok_or_else(bad)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(bundle: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_owned(), "MEUCIQ==".to_owned()),
            (
                CERT_ANNOTATION.to_owned(),
                "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n".to_owned(),
            ),
            (BUNDLE_ANNOTATION.to_owned(), bundle.to_owned()),
        ])
    }

    #[test]
    fn a_legacy_layer_becomes_a_v01_bundle() {
        // body = {"apiVersion":"0.0.1","kind":"hashedrekord"}
        let rekor = r#"{"SignedEntryTimestamp":"U0VU","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIn0=","integratedTime":1700000000,"logIndex":7,"logID":"0aff"}}"#;
        let a = annotations(rekor);
        assert!(is_keyless(&a));
        let v: serde_json::Value =
            serde_json::from_str(&to_bundle(&a, b"payload").unwrap()).unwrap();
        let e = &v["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(e["logId"]["keyId"], "Cv8=");
        assert_eq!(e["kindVersion"]["kind"], "hashedrekord");
        assert_eq!(e["integratedTime"], "1700000000");
        assert_eq!(
            v["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"],
            "AAEC"
        );
        assert_eq!(v["messageSignature"]["signature"], "MEUCIQ==");
    }

    #[test]
    fn broken_legacy_layers_say_why() {
        assert!(to_bundle(&annotations("{"), b"").unwrap_err().contains("does not parse"));
        let mut a = annotations("{}");
        a.remove(CERT_ANNOTATION);
        assert!(!is_keyless(&a));
        assert!(to_bundle(&a, b"").unwrap_err().contains("no dev.sigstore.cosign/certificate"));
        let rekor = r#"{"SignedEntryTimestamp":"","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"zz"}}"#;
        assert!(to_bundle(&annotations(rekor), b"").unwrap_err().contains("does not parse"));
    }
}
