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
use crate::registry::{Client, manifest_key};
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

/// Referrers and layers read at most per manifest, as cosign.rs reads signature layers.
const MAX_READ: usize = 64;

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
    let repo = reference.repository();
    loop {
        let e = match verify_once(client, reference, resolved, keyless, obs) {
            Err(e) if e.kind() == ErrorKind::Signature => e,
            done => return done,
        };
        let tags = cosign::subjects(resolved).into_iter().flat_map(|d| {
            [referrers_tag(&d), cosign::signature_tag(&d)].map(|t| manifest_key(repo, &t))
        });
        // Every tag's mirrors are blamed, so no short-circuit.
        if !tags.fold(false, |any, key| client.distrust(&key, &e) | any) {
            return Err(e);
        }
    }
}

fn verify_once(
    client: &Client,
    reference: &Reference,
    resolved: &ResolvedManifest,
    keyless: &Keyless,
    obs: &dyn Observer,
) -> Result<(), Error> {
    let repo = reference.repository();
    let mut reasons = Vec::new();
    let mut found = |what: String, r: Result<String, String>| match r {
        Ok(ok) => {
            obs.log(Level::Debug, format!("keyless: {what}: {ok}"));
            true
        }
        Err(why) => {
            reasons.push(format!("{what}: {why}"));
            false
        }
    };
    for want in cosign::subjects(resolved) {
        let Ok(sha) = Sha256Hash::from_hex(want.hex()).map(Artifact::from_digest) else {
            found(want.to_string(), Err("Sigstore signs sha256 digests only".into()));
            continue;
        };
        for (what, json) in bundles(client, repo, &want, &mut found)? {
            if found(what, keyless.check(&json, sha.clone())) {
                return Ok(());
            }
        }
        for (what, layer, payload) in legacy_layers(client, repo, &want, &mut found)? {
            let r = legacy::to_bundle(&layer.annotations, &payload)
                .and_then(|json| keyless.check(&json, Artifact::from_blob(&payload)))
                .and_then(|ok| cosign::check_payload(&payload, &want).map(|()| ok));
            if found(what, r) {
                return Ok(());
            }
        }
    }
    Err(refused(format!(
        "keyless: no valid signature of {reference} by {}: {}",
        keyless.describe(),
        if reasons.is_empty() { "none found".into() } else { reasons.join("; ") }
    )))
}

/// A reason for a blob that could not be had, unless the run is being interrupted.
fn skip_unless_interrupted<T>(
    r: Result<T, Error>,
    what: &str,
    note: &mut dyn FnMut(String, Result<String, String>) -> bool,
) -> Result<Option<T>, Error> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == ErrorKind::Interrupted => Err(e),
        Err(e) => {
            note(what.to_owned(), Err(e.to_string()));
            Ok(None)
        }
    }
}

/// The bundles attached to `want` (each named for reasons), read from referrers that really
/// name `want` as their subject (`Client::referrer_of`).
fn bundles(
    client: &Client,
    repo: &str,
    want: &Digest,
    note: &mut dyn FnMut(String, Result<String, String>) -> bool,
) -> Result<Vec<(String, String)>, Error> {
    let listed = match client.referrers_api(repo, want)? {
        Some(list) => list,
        None => {
            let tag = client.referrers_tag(repo, want);
            skip_unless_interrupted(tag, &referrers_tag(want), note)?.unwrap_or_default()
        }
    };
    let mut out = Vec::new();
    for d in listed.iter().filter(|d| may_hold_bundle(d)).take(MAX_READ) {
        let what = format!("referrer {}", d.digest.short());
        let Some(m) = client.referrer_of(repo, d, want)? else {
            note(what, Err(format!("not a referrer of {want}")));
            continue;
        };
        for layer in m.layers.iter().filter(|l| is_bundle(&l.media_type)).take(MAX_READ) {
            let what = format!("{what} bundle {}", layer.digest.short());
            let Some(bytes) =
                skip_unless_interrupted(fetch_small(client, repo, layer, &what), &what, note)?
            else {
                continue;
            };
            match String::from_utf8(bytes) {
                Ok(json) => out.push((what, json)),
                Err(_) => _ = note(what, Err("not UTF-8 JSON".into())),
            }
        }
    }
    Ok(out)
}

/// The keyless layers of the manifest at `want`'s `.sig` tag, each with its payload.
fn legacy_layers(
    client: &Client,
    repo: &str,
    want: &Digest,
    note: &mut dyn FnMut(String, Result<String, String>) -> bool,
) -> Result<Vec<(String, Descriptor, Vec<u8>)>, Error> {
    let tag = cosign::signature_tag(want);
    let layers = match client.manifest(repo, &tag) {
        Ok(raw) => match Manifest::parse(&raw.bytes, raw.content_type.as_deref()) {
            Ok((Manifest::Image(m), _)) => m.layers,
            _ => {
                note(tag, Err("not a signature manifest".into()));
                return Ok(Vec::new());
            }
        },
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (i, layer) in layers.into_iter().take(MAX_READ).enumerate() {
        let what = format!("{tag} layer {i}");
        if layer.media_type != SIMPLESIGNING || !legacy::is_keyless(&layer.annotations) {
            note(what, Err("not a keyless simple-signing layer".into()));
            continue;
        }
        let payload = fetch_small(client, repo, &layer, &what);
        if let Some(p) = skip_unless_interrupted(payload, &what, note)? {
            out.push((what, layer, p));
        }
    }
    Ok(out)
}
