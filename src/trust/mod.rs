//! Publishers' signatures: the keys given with `--verify-key`, and the checks a pull makes with
//! them before any file gets its final name (see [`crate::pull`]).
//!
//! Three schemes: minisign (signatures shipped as sibling layers, or a signed checksum list),
//! cosign with a key (a signature manifest at the tag `sha256-<hex>.sig`), and keyless
//! Sigstore signatures checked for a signer identity and its OIDC issuer ([`keyless`]).

pub(crate) mod cosign;
pub(crate) mod keyless;
pub(crate) mod minisign;

use std::fmt;
use std::path::Path;

pub use keyless::{Identity, Keyless};

use p256::pkcs8::DecodePublicKey as _;

use crate::error::{Error, ErrorKind, Hint};
use crate::manifest::Descriptor;
use crate::registry::{Client, Key};

/// Largest signature, signature payload or checksum list fetched into memory.
pub const MAX_SIGNATURE_BYTES: u64 = 1024 * 1024;

/// A public key that a publisher's signature must verify with (`--verify-key`).
#[derive(Clone)]
pub struct VerifyKey {
    kind: KeyKind,
    origin: String,
}

#[derive(Clone)]
enum KeyKind {
    Minisign(minisign_verify::PublicKey),
    Cosign(p256::ecdsa::VerifyingKey),
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key from {}", self.scheme(), self.origin)
    }
}

impl VerifyKey {
    /// Read a key from the file `path` (at most 64 KiB; see [`VerifyKey::parse`]).
    pub fn from_file(path: &Path) -> Result<VerifyKey, Error> {
        let origin = path.display().to_string();
        let usage = |m: String| bad_key(&origin, &m);
        let meta = std::fs::metadata(path).map_err(|e| usage(format!("cannot read it ({e})")))?;
        if !meta.is_file() || meta.len() > 64 * 1024 {
            return Err(usage("not a public key file".into()));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read it ({e})")))?;
        VerifyKey::parse(&text, &origin)
    }

    /// Parse a key's text: a minisign public key (its file, or its base64 line), or a cosign
    /// `cosign.pub` (PEM, ECDSA P-256). `origin` names it in errors and logs.
    pub fn parse(text: &str, origin: &str) -> Result<VerifyKey, Error> {
        let usage = |m: &str| bad_key(origin, m);
        let t = text.trim();
        let origin = origin.to_owned();
        if t.contains("-----BEGIN CERTIFICATE-----") {
            return Err(usage(
                "a certificate: keyless (Fulcio certificate) signatures are checked for a signer identity and its OIDC issuer, not with a key",
            ));
        }
        if t.contains("PRIVATE KEY-----") || t.contains("secret key") {
            return Err(usage("a private key: pass the public key (minisign.pub or cosign.pub)"));
        }
        if t.starts_with("-----BEGIN PUBLIC KEY-----") {
            let key = p256::ecdsa::VerifyingKey::from_public_key_pem(t).map_err(|_| {
                usage("not an ECDSA P-256 public key (cosign.pub); other cosign key types are not supported yet")
            })?;
            return Ok(VerifyKey { kind: KeyKind::Cosign(key), origin });
        }
        let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let key = match lines.as_slice() {
            [b64] => minisign_verify::PublicKey::from_base64(b64),
            [comment, b64] if comment.starts_with("untrusted comment:") => {
                minisign_verify::PublicKey::from_base64(b64)
            }
            _ => return Err(usage("neither a minisign public key nor a PEM cosign.pub")),
        }
        .map_err(|_| usage("not a valid minisign public key"))?;
        Ok(VerifyKey { kind: KeyKind::Minisign(key), origin })
    }

    /// `minisign` or `cosign`.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            KeyKind::Minisign(_) => "minisign",
            KeyKind::Cosign(_) => "cosign",
        }
    }

    pub(crate) fn minisign(&self) -> Option<&minisign_verify::PublicKey> {
        match &self.kind {
            KeyKind::Minisign(k) => Some(k),
            KeyKind::Cosign(_) => None,
        }
    }

    pub(crate) fn cosign(&self) -> Option<&p256::ecdsa::VerifyingKey> {
        match &self.kind {
            KeyKind::Cosign(k) => Some(k),
            KeyKind::Minisign(_) => None,
        }
    }

    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }
}

/// A key that cannot be used: `<key> ORIGIN: why`, the first word worded by the front end.
fn bad_key(origin: &str, why: &str) -> Error {
    Error::hinted(ErrorKind::Usage, "", Hint::VerifyKey, &format!(" {origin}: {why}"))
}

/// What is left to check once a pull's files are downloaded: for each selected file (in the
/// pull's order), the minisign signature its bytes must match, if any.
#[derive(Default)]
pub(crate) struct Checks {
    keys: Vec<minisign_verify::PublicKey>,
    bytes: Vec<Option<minisign::Cover>>,
}

impl Checks {
    /// Whether file `i` must be held back until its bytes (or those of the file it signs)
    /// verified: a file a signature covers, a signature layer, and the file such a layer signs.
    pub(crate) fn needs_bytes(&self, i: usize) -> bool {
        let of = |c: &Option<minisign::Cover>| match c {
            Some(minisign::Cover::SignatureOf { of, .. }) => Some(*of),
            _ => None,
        };
        matches!(
            self.bytes.get(i),
            Some(Some(minisign::Cover::Bytes { .. } | minisign::Cover::SignatureOf { .. }))
        ) || self.bytes.iter().any(|c| of(c) == Some(i))
    }

    /// Verify the downloaded bytes of file `i` (`name`), read from `file`; says what was
    /// verified (with the signature's trusted comment, trusted now), if anything was.
    pub(crate) fn verify_file(
        &self,
        i: usize,
        name: &str,
        file: &mut dyn std::io::Read,
    ) -> Result<Option<String>, Error> {
        let Some(Some(minisign::Cover::Bytes { sig, key, via })) = self.bytes.get(i) else {
            return Ok(None);
        };
        minisign::verify_reader(&self.keys[*key], sig, file, name, via)?;
        Ok(Some(format!(
            "{name}: good minisign signature {via}, trusted comment {:?}",
            sig.trusted_comment()
        )))
    }

    /// The signature layers among the files, each with the file it signs: `(layer, signed)`.
    pub(crate) fn signature_layers(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.bytes.iter().enumerate().filter_map(|(i, c)| match c {
            Some(minisign::Cover::SignatureOf { of, .. }) => Some((i, *of)),
            _ => None,
        })
    }

    /// Verify the signature layer `i` (`name`) over `signed`, the bytes of the file it signs
    /// (`target`): a signature layer lands only as a signature of that file by a given key.
    pub(crate) fn verify_signature_layer(
        &self,
        i: usize,
        name: &str,
        target: &str,
        signed: &mut dyn std::io::Read,
    ) -> Result<String, Error> {
        let Some(Some(minisign::Cover::SignatureOf { sig, key, .. })) = self.bytes.get(i) else {
            return Err(refused(format!("{name} is not a signature layer")));
        };
        minisign::verify_reader(&self.keys[*key], sig, signed, target, name)?;
        Ok(format!("{name}: a good minisign signature of {target}"))
    }
}

/// What a pull must verify: publishers' keys (`--verify-key`) and a keyless signer.
#[derive(Clone, Copy)]
pub(crate) struct Policy<'a> {
    pub(crate) keys: &'a [VerifyKey],
    pub(crate) keyless: Option<&'a keyless::Keyless>,
}

/// Everything checkable before a download: cosign's signature of the manifest (with a key, or
/// keyless), and which selected files minisign signatures (or signed checksum lists) cover.
/// No key and no signer, no request.
pub(crate) fn before_download(
    client: &Client,
    reference: &crate::reference::Reference,
    resolved: &crate::resolve::ResolvedManifest,
    selected: &[(String, Descriptor)],
    policy: Policy<'_>,
    obs: &dyn crate::events::Observer,
) -> Result<Checks, Error> {
    if let Some(k) = policy.keyless {
        keyless::verify(client, reference, resolved, k, obs)?;
    }
    let keys = policy.keys;
    let cosign_keys: Vec<_> = keys.iter().filter_map(VerifyKey::cosign).collect();
    if !cosign_keys.is_empty() {
        let origins: Vec<&str> =
            keys.iter().filter(|k| k.cosign().is_some()).map(VerifyKey::origin).collect();
        cosign::verify(client, reference, resolved, &cosign_keys, &origins, obs)?;
    }
    let mini: Vec<minisign_verify::PublicKey> =
        keys.iter().filter_map(VerifyKey::minisign).cloned().collect();
    if mini.is_empty() {
        return Ok(Checks::default());
    }
    let crate::manifest::Manifest::Image(image) = &resolved.manifest else {
        return Ok(Checks::default());
    };
    // The layers a pull sees: the empty placeholder is never a file, so it signs nothing and
    // lists nothing; two layers of one title make "the layer NAME" ambiguous, so are refused.
    let layers: Vec<(String, Descriptor)> = image
        .layers
        .iter()
        .filter(|d| !crate::conventions::is_empty_descriptor(d))
        .map(|d| (d.title().map_or_else(|| d.digest.hex().to_owned(), str::to_owned), d.clone()))
        .collect();
    let mut titles = std::collections::HashSet::new();
    if let Some((dup, _)) = layers.iter().find(|(n, _)| !titles.insert(n.as_str())) {
        return Err(refused(format!(
            "two layers are titled {dup:?}: which one is signed is ambiguous"
        )));
    }
    let repo = reference.repository();
    let fetch = |d: &Descriptor, what: &str| fetch_small(client, repo, d, what);
    let refs: Vec<&minisign_verify::PublicKey> = mini.iter().collect();
    let covers = minisign::plan(&refs, &layers, selected, &fetch, obs)?;
    Ok(Checks { bytes: covers.into_iter().map(Some).collect(), keys: mini })
}

/// Run `check` (a signature check of what `tags` of `repo` answered) again for as long as a
/// mirror that answered one of those tags can be blamed for its failure and dropped: a mirror's
/// unverifiable answer falls through to the next source, as its bad bytes do. Each round drops
/// at least one mirror for good, so this ends.
pub(crate) fn falling_through(
    client: &Client,
    repo: &str,
    tags: &[String],
    check: impl FnMut() -> Result<(), Error>,
) -> Result<(), Error> {
    let keys: Vec<Key> = tags.iter().map(|t| Key::manifest(repo, t)).collect();
    client.fail_over(&keys, ErrorKind::Signature, check)
}

/// A signature error: exit code 8.
pub(crate) fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Signature, message)
}

/// Fetch a small blob (a signature, a payload, a checksum list) into memory, verified against
/// its descriptor, at most [`MAX_SIGNATURE_BYTES`].
pub(crate) fn fetch_small(
    client: &Client,
    repo: &str,
    d: &Descriptor,
    what: &str,
) -> Result<Vec<u8>, Error> {
    if d.size > MAX_SIGNATURE_BYTES {
        return Err(refused(format!(
            "{what} is {} bytes, over the {MAX_SIGNATURE_BYTES} a signature may have",
            d.size
        )));
    }
    client.small_blob(repo, d, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The minisign-verify crate's own test key.
    pub(crate) const MINISIGN_PUB: &str = "untrusted comment: minisign public key E7620F1842B4E81F\nRWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3\n";
    // `openssl ecparam -name prime256v1 -genkey | openssl pkey -pubout`.
    pub(crate) const COSIGN_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEneP/yeq0U13iGSwtq0S2d46H5h40\nVN3XlboO4LFws5FORspLU9FfLA73PiNAEawEpmTtycMPczzYCfGrEYQ9GQ==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn keys_are_told_apart_by_their_text() {
        let m = VerifyKey::parse(MINISIGN_PUB, "m.pub").unwrap();
        assert_eq!(m.scheme(), "minisign");
        let line = MINISIGN_PUB.lines().nth(1).unwrap();
        assert_eq!(VerifyKey::parse(line, "env:K").unwrap().scheme(), "minisign");
        assert_eq!(VerifyKey::parse(COSIGN_PUB, "cosign.pub").unwrap().scheme(), "cosign");
    }

    #[test]
    fn certificates_private_keys_and_junk_are_usage_errors() {
        let cases = [
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "checked for a signer identity",
            ),
            ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n", "private key"),
            ("untrusted comment: minisign encrypted secret key\nRWRTY0Iy\n", "private key"),
            ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", "P-256"),
            ("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7", "not a valid minisign"),
            ("hello\nworld\nagain", "neither"),
        ];
        for (text, needle) in cases {
            let e = VerifyKey::parse(text, "k").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{text}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
            assert_eq!(e.hint(), Some(Hint::VerifyKey));
            assert!(e.render(|_| "--verify-key").starts_with("--verify-key k: "), "{e}");
        }
    }

    #[test]
    fn from_file_reads_a_key_file_and_refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cosign.pub");
        std::fs::write(&p, COSIGN_PUB).unwrap();
        assert_eq!(VerifyKey::from_file(&p).unwrap().scheme(), "cosign");
        let e = VerifyKey::from_file(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a public key file"), "{e}");
    }
}
