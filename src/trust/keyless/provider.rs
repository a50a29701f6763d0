//! The crypto under sigstore-verify, from crates the tree already has: ring (through rustls) for
//! whole-message ECDSA, Ed25519 and RSA; RustCrypto's p256/p384 for prehashed ECDSA (ring has
//! none, and sigstore-verify checks message signatures over a digest); sha2 for hashing. This
//! keeps aws-lc-rs (sigstore-crypto's default, a C library with 69 MB of source) out.
//!
//! The trait's contract (`sigstore-crypto` `provider.rs`): keys are the raw subjectPublicKey
//! (a SEC1 point for ECDSA, 32 bytes for Ed25519, PKCS#1 DER for RSA); ECDSA signatures are DER.

use sha2::Digest as _;
use sigstore_crypto::provider::{CryptoProvider, HashContext};
use sigstore_crypto::{Error, Result, SigningScheme};
use sigstore_types::HashAlgorithm;

/// The provider installed once per process (see [`install`]).
#[derive(Debug)]
pub(crate) struct TreeProvider;

static PROVIDER: TreeProvider = TreeProvider;

/// Install [`TreeProvider`] as sigstore's process-wide provider; sigstore-verify panics on first
/// use without one. A second call finds it installed, which is fine.
pub(crate) fn install() {
    let _ = sigstore_crypto::install_default_provider(&PROVIDER);
}

enum Hasher {
    S256(sha2::Sha256),
    S384(sha2::Sha384),
    S512(sha2::Sha512),
}

impl HashContext for Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::S256(h) => h.update(data),
            Hasher::S384(h) => h.update(data),
            Hasher::S512(h) => h.update(data),
        }
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        match *self {
            Hasher::S256(h) => h.finalize().to_vec(),
            Hasher::S384(h) => h.finalize().to_vec(),
            Hasher::S512(h) => h.finalize().to_vec(),
        }
    }
}

fn invalid(s: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", s.name()))
}

impl CryptoProvider for TreeProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>> {
        Ok(Box::new(match algorithm {
            HashAlgorithm::Sha2256 => Hasher::S256(sha2::Sha256::new()),
            HashAlgorithm::Sha2384 => Hasher::S384(sha2::Sha384::new()),
            HashAlgorithm::Sha2512 => Hasher::S512(sha2::Sha512::new()),
            other => return Err(Error::UnsupportedAlgorithm(format!("{other}"))),
        }))
    }

    fn verify_raw(&self, s: SigningScheme, key: &[u8], data: &[u8], sig: &[u8]) -> Result<()> {
        use ring::signature as r;
        let alg: &dyn r::VerificationAlgorithm = match s {
            SigningScheme::EcdsaP256Sha256 => &r::ECDSA_P256_SHA256_ASN1,
            SigningScheme::EcdsaP256Sha384 => &r::ECDSA_P256_SHA384_ASN1,
            SigningScheme::EcdsaP384Sha256 => &r::ECDSA_P384_SHA256_ASN1,
            SigningScheme::EcdsaP384Sha384 => &r::ECDSA_P384_SHA384_ASN1,
            SigningScheme::Ed25519 => &r::ED25519,
            SigningScheme::RsaPkcs1Sha256 => &r::RSA_PKCS1_2048_8192_SHA256,
            SigningScheme::RsaPkcs1Sha384 => &r::RSA_PKCS1_2048_8192_SHA384,
            SigningScheme::RsaPkcs1Sha512 => &r::RSA_PKCS1_2048_8192_SHA512,
            SigningScheme::RsaPssSha256 => &r::RSA_PSS_2048_8192_SHA256,
            SigningScheme::RsaPssSha384 => &r::RSA_PSS_2048_8192_SHA384,
            SigningScheme::RsaPssSha512 => &r::RSA_PSS_2048_8192_SHA512,
            other => return Err(Error::UnsupportedAlgorithm(other.name().into())),
        };
        r::UnparsedPublicKey::new(alg, key).verify(data, sig).map_err(|_| invalid(s))
    }

    fn verify_prehashed(
        &self,
        s: SigningScheme,
        key: &[u8],
        digest: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let ok = match s {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(s))?;
                let g = p256::ecdsa::Signature::from_der(sig).map_err(|_| invalid(s))?;
                k.verify_prehash(digest, &g).is_ok()
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(s))?;
                let g = p384::ecdsa::Signature::from_der(sig).map_err(|_| invalid(s))?;
                k.verify_prehash(digest, &g).is_ok()
            }
            other => {
                return Err(Error::UnsupportedAlgorithm(format!("{} prehashed", other.name())));
            }
        };
        if ok { Ok(()) } else { Err(invalid(s)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl ecparam -name prime256v1 -genkey` and `openssl dgst -sha256 -sign` over
    // cosign.rs's test PAYLOAD: the same vector, checked whole and prehashed.
    const SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnFi/T2PbM6BLr1aa5qYEiMxaSxVUrnWh3K/Ui707myxiIN7X0dgWXEiscAmm0i1VW/Hd6mxGMfeTthn8EaWgUA==";
    const PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/x"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},"type":"cosign container image signature"},"optional":null}"#;
    const SIG: &str = "MEUCIQDVfJq40gnZ/7FYtsbmZhD5gMHZHNS8jBW3P9sxCN9CpAIgFftuhGU8S2CM64+XmaRvauAM3T6hp0MPUuKiJb6I7+M=";

    #[test]
    fn ecdsa_p256_verifies_whole_and_prehashed_and_refuses_tampering() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let spki = b64.decode(SPKI_B64).unwrap();
        let point = &spki[spki.len() - 65..]; // the SEC1 point ends the P-256 SPKI
        let sig = b64.decode(SIG).unwrap();
        let p = TreeProvider;
        let s = SigningScheme::EcdsaP256Sha256;
        p.verify_raw(s, point, PAYLOAD.as_bytes(), &sig).unwrap();
        let mut h = p.hash(HashAlgorithm::Sha2256).unwrap();
        h.update(PAYLOAD.as_bytes());
        let digest = h.finalize();
        p.verify_prehashed(s, point, &digest, &sig).unwrap();
        let tampered = PAYLOAD.replace("5000/x", "5000/y");
        assert!(p.verify_raw(s, point, tampered.as_bytes(), &sig).is_err());
        let mut wrong = digest.clone();
        wrong[0] ^= 1;
        assert!(p.verify_prehashed(s, point, &wrong, &sig).is_err());
        assert!(p.verify_prehashed(SigningScheme::Ed25519, point, &digest, &sig).is_err());
    }
}
