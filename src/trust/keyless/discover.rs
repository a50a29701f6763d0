//! Where keyless signatures of a manifest are: Sigstore bundles attached as OCI 1.1 referrers
//! (the referrers API, else the fallback tag `sha256-<hex>`), and cosign's legacy `.sig` tag.
//!
//! The shapes follow the publishers: cosign 3 `pkg/oci/remote/write.go` (`WriteReferrer`, one
//! layer per bundle, artifactType the bundle's media type, or the empty type in some versions)
//! and `specs/BUNDLE_SPEC.md`; actions/attest `src/attest.ts` through sigstore-js
//! `packages/oci/src/image.ts` (`buildManifest`, the fallback index at `sha256-<hex>`).

use sigstore_types::{Artifact, Sha256Hash};

use super::{Keyless, legacy};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{Descriptor, Manifest};
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::ResolvedManifest;
use crate::trust::cosign::{self, SIMPLESIGNING};
use crate::trust::{fetch_small, refused};

/// The media types of a Sigstore bundle (protobuf-specs `sigstore_bundle.proto`).
const BUNDLE_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// Referrers (and `.sig` layers) read at most per manifest, as cosign.rs reads signature layers.
const MAX_REFERRERS: usize = 64;
/// Bundle layers read at most per referrer (cosign and actions/attest write one).
const MAX_BUNDLES: usize = 4;

fn is_bundle(media_type: &str) -> bool {
    BUNDLE_TYPES.contains(&media_type)
}

/// A listed referrer that may hold a bundle: a bundle's artifact type, or the empty one (or
/// none) that some cosign versions write, whose layers then decide.
fn may_hold_bundle(d: &Descriptor) -> bool {
    match d.artifact_type.as_deref() {
        None => true,
        Some(t) => is_bundle(t) || t == crate::conventions::EMPTY_MEDIA_TYPE,
    }
}

/// The fallback referrers tag of `d` (distribution-spec "Referrers Tag Schema").
fn referrers_tag(d: &Digest) -> String {
    format!("{}-{}", d.algorithm().name(), d.hex())
}

/// Refuse unless a keyless signature by `keyless`'s identity covers the manifest `resolved`
/// (the index the reference named, or the pulled manifest: see `cosign::subjects`). Runs before
/// any layer is downloaded. As with `cosign::verify`, a mirror whose tag answers fail the check
/// is dropped for the run and the signatures are asked of the next source.
pub(crate) fn verify(
    client: &Client,
    reference: &Reference,
    resolved: &ResolvedManifest,
    keyless: &Keyless,
    obs: &dyn Observer,
) -> Result<(), Error> {
    let tags: Vec<String> = cosign::subjects(resolved)
        .iter()
        .flat_map(|d| [referrers_tag(d), cosign::signature_tag(d)])
        .collect();
    crate::trust::falling_through(client, reference.repository(), &tags, || {
        verify_once(client, reference, resolved, keyless, obs)
    })
}

fn verify_once(
    client: &Client,
    reference: &Reference,
    resolved: &ResolvedManifest,
    keyless: &Keyless,
    obs: &dyn Observer,
) -> Result<(), Error> {
    let repo = reference.repository();
    let mut tally = Tally { reasons: Vec::new(), obs };
    for want in cosign::subjects(resolved) {
        let Ok(sha) = Sha256Hash::from_hex(want.hex()).map(Artifact::from_digest) else {
            tally.reject(want.to_string(), "Sigstore signs sha256 digests only");
            continue;
        };
        // Each signature is checked as soon as it is read: one in memory at a time.
        let bundle = |json: &str| keyless.check(json, sha.clone());
        if bundles(client, repo, &want, &mut tally, &bundle)? {
            return Ok(());
        }
        let legacy = |layer: &Descriptor, payload: &[u8]| {
            legacy::to_bundle(&layer.annotations, payload)
                .and_then(|json| keyless.check(&json, Artifact::from_blob(payload)))
                .and_then(|ok| cosign::check_payload(payload, &want).map(|()| ok))
        };
        if legacy_layers(client, repo, &want, &mut tally, &legacy)? {
            return Ok(());
        }
    }
    let why = match tally.reasons.is_empty() {
        true => "no Sigstore bundle referrer and no .sig tag".to_owned(),
        false => tally.reasons.join("; "),
    };
    Err(refused(format!(
        "keyless: no valid signature of {reference} by {}: {why}",
        keyless.describe()
    )))
}

/// One signature's check: what verified, or why not.
type Outcome = Result<String, String>;

/// What each signature looked at came to: why the failed ones failed, for the one-line
/// refusal; the one that verified, at `-v`.
struct Tally<'a> {
    reasons: Vec<String>,
    obs: &'a dyn Observer,
}

impl Tally<'_> {
    fn reject(&mut self, what: String, why: &str) {
        self.reasons.push(format!("{what}: {why}"));
    }

    /// `true` when `outcome` is a verified signature.
    fn outcome(&mut self, what: String, outcome: Outcome) -> bool {
        match outcome {
            Ok(ok) => {
                self.obs.log(Level::Debug, format!("keyless: {what}: {ok}"));
                true
            }
            Err(why) => {
                self.reject(what, &why);
                false
            }
        }
    }

    /// `r`'s value, or `None` with its error as the reason `what` failed; an interruption
    /// stops the run.
    fn or_reason<T>(&mut self, r: Result<T, Error>, what: String) -> Result<Option<T>, Error> {
        match r {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.reject(what, &e.to_string());
                Ok(None)
            }
        }
    }
}

/// Check the bundles attached to `want` with `check` until one verifies (`true`), reading only
/// referrers that really name `want` as their subject (`Client::referrer_of`).
fn bundles(
    client: &Client,
    repo: &str,
    want: &Digest,
    tally: &mut Tally<'_>,
    check: &dyn Fn(&str) -> Outcome,
) -> Result<bool, Error> {
    let listed = match client.referrers_api(repo, want)? {
        Some(list) => list,
        None => {
            let tag = client.referrers_tag(repo, want);
            tally.or_reason(tag, referrers_tag(want))?.unwrap_or_default()
        }
    };
    for d in listed.iter().filter(|d| may_hold_bundle(d)).take(MAX_REFERRERS) {
        let what = format!("referrer {}", d.digest.short());
        let Some(m) = client.referrer_of(repo, d, want)? else {
            tally.reject(what, &format!("not a referrer of {want}"));
            continue;
        };
        for layer in m.layers.iter().filter(|l| is_bundle(&l.media_type)).take(MAX_BUNDLES) {
            let what = format!("{what} bundle {}", layer.digest.short());
            let bytes = fetch_small(client, repo, layer, &what);
            let Some(bytes) = tally.or_reason(bytes, what.clone())? else { continue };
            let outcome = match std::str::from_utf8(&bytes) {
                Ok(json) => check(json),
                Err(_) => Err("not UTF-8 JSON".to_owned()),
            };
            if tally.outcome(what, outcome) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Check the keyless layers of the manifest at `want`'s `.sig` tag with `check` until one
/// verifies (`true`).
fn legacy_layers(
    client: &Client,
    repo: &str,
    want: &Digest,
    tally: &mut Tally<'_>,
    check: &dyn Fn(&Descriptor, &[u8]) -> Outcome,
) -> Result<bool, Error> {
    let tag = cosign::signature_tag(want);
    let layers = match client.manifest(repo, &tag) {
        Ok(raw) => match Manifest::parse(&raw.bytes, raw.content_type.as_deref()) {
            Ok((Manifest::Image(m), _)) => m.layers,
            _ => {
                tally.reject(tag, "not a signature manifest");
                return Ok(false);
            }
        },
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for (i, layer) in layers.iter().take(MAX_REFERRERS).enumerate() {
        let what = format!("{tag} layer {i}");
        if layer.media_type != SIMPLESIGNING || !legacy::is_keyless(&layer.annotations) {
            tally.reject(what, "not a keyless simple-signing layer");
            continue;
        }
        let payload = fetch_small(client, repo, layer, &what);
        let Some(payload) = tally.or_reason(payload, what.clone())? else { continue };
        if tally.outcome(what, check(layer, &payload)) {
            return Ok(true);
        }
    }
    Ok(false)
}
