//! From a reference to verified manifest bytes: fetch, check against the digest we were asked for
//! (or that the registry announced), and follow an index to one platform.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, Level, Observer};
use crate::manifest::{Descriptor, Manifest, Platform};
use crate::reference::Reference;
use crate::registry::{Client, Key};

/// How many indexes deep `resolve` follows (an index whose entry is an index counts 2).
pub const MAX_INDEX_DEPTH: usize = 4;

/// A manifest as served, with what we verified about it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedManifest {
    /// The body exactly as the registry sent it.
    pub bytes: Vec<u8>,
    /// Its descriptor: media type, digest of `bytes`, size.
    pub descriptor: Descriptor,
    /// The decoded body.
    pub manifest: Manifest,
    /// The platform an index was resolved to, if one was: the chosen entry's, or the nearest
    /// enclosing entry's when it has none.
    pub platform: Option<Platform>,
    /// The index entry that led here, every field as the index has it, if an index was followed.
    pub entry: Option<Descriptor>,
    /// The digests of the indexes followed to get here, the reference's own first: each was
    /// fetched and checked by the digest the one before names, so a signature of the first
    /// covers this manifest.
    pub chain: Vec<Digest>,
}

/// Fetch `reference`'s manifest. With `platform`, an index is followed to that platform's
/// manifest, through nested indexes up to [`MAX_INDEX_DEPTH`]; without, an index is returned
/// as is.
pub fn resolve(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    obs: &dyn Observer,
) -> Result<ResolvedManifest, Error> {
    let repo = reference.repository();
    let mut current =
        fetch(client, repo, &reference.manifest_reference(), reference.digest(), None)?;
    let mut seen = vec![current.descriptor.digest.clone()];
    while let (Manifest::Index(index), Some(wanted)) = (&current.manifest, platform) {
        let here = &current.descriptor.digest;
        let nested = |e: Error| match seen.len() {
            1 => e,
            _ => Error::new(e.kind(), format!("nested index {here}: {e}")),
        };
        let selection = index.select(wanted).map_err(nested)?;
        if let Some(warning) = selection.ambiguity(wanted) {
            obs.log(Level::Warn, warning);
        }
        let d = selection.chosen.clone();
        // Unreachable while digests are verified (an index would have to hold its own hash),
        // but the walk must never loop whatever a registry serves.
        if seen.contains(&d.digest) {
            return Err(Error::new(
                ErrorKind::Other,
                format!("index cycle: {} appears twice on the way from {}", d.digest, seen[0]),
            ));
        }
        let mut child = fetch(client, repo, &d.digest.to_string(), Some(&d.digest), Some(d.size))?;
        if matches!(child.manifest, Manifest::Index(_)) && seen.len() >= MAX_INDEX_DEPTH {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "indexes nested more than {MAX_INDEX_DEPTH} deep under {}: {} is another",
                    seen[0], d.digest
                ),
            ));
        }
        seen.push(d.digest.clone());
        child.platform = d.platform.clone().or(current.platform.take());
        child.entry = Some(d);
        current = child;
    }
    seen.pop();
    current.chain = seen;
    obs.event(&Event::Resolved {
        digest: &current.descriptor.digest,
        media_type: &current.descriptor.media_type,
        platform: current.platform.as_ref(),
    });
    Ok(current)
}

/// The digest `reference` resolves to (see [`crate::resolve_digest`]): a tag without `platform`
/// asks a HEAD first, the cheapest answer a registry gives; anything else, or a HEAD answered
/// without a usable digest or refused (405), fetches the manifest and hashes it.
pub fn digest(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    obs: &dyn Observer,
) -> Result<Digest, Error> {
    if platform.is_none() && reference.digest().is_none() {
        let tag = reference.manifest_reference();
        match client.manifest_digest(reference.repository(), &tag) {
            Ok(Some(d)) => return Ok(d),
            Ok(None) => {}
            // Not found, refused, unreachable: the GET would say the same, after as long.
            Err(e) if e.kind() != ErrorKind::Other => return Err(e),
            Err(_) => {} // a registry that answers HEAD oddly (405): ask with a GET
        }
    }
    Ok(resolve(client, reference, platform, obs)?.descriptor.digest)
}

/// [`fetch_once`], run by the client's fail-over: again from the next source while a mirror's
/// bytes fail their digest.
pub(crate) fn fetch(
    client: &Client,
    repo: &str,
    what: &str,
    want: Option<&Digest>,
    want_size: Option<u64>,
) -> Result<ResolvedManifest, Error> {
    client.fail_over(&[Key::manifest(repo, what)], ErrorKind::Integrity, || {
        fetch_once(client, repo, what, want, want_size)
    })
}

fn fetch_once(
    client: &Client,
    repo: &str,
    what: &str,
    want: Option<&Digest>,
    want_size: Option<u64>,
) -> Result<ResolvedManifest, Error> {
    let raw = client.manifest(repo, what)?;
    let (bytes, content_type, served) = (raw.bytes, raw.content_type, raw.served_digest);
    let integrity =
        |m: String| Error::new(ErrorKind::Integrity, format!("manifest {repo}:{what}: {m}"));
    let digest = match (want, served.as_deref().map(str::parse::<Digest>)) {
        (Some(w), _) => {
            let got = Digest::of(w.algorithm(), &bytes);
            if &got != w {
                return Err(integrity(format!("content hashes to {got}")));
            }
            got
        }
        (None, Some(Ok(s))) => {
            let got = Digest::of(s.algorithm(), &bytes);
            if got != s {
                return Err(integrity(format!(
                    "content hashes to {got}, Docker-Content-Digest says {s}"
                )));
            }
            got
        }
        (None, _) => Digest::of(crate::digest::Algorithm::Sha256, &bytes),
    };
    if let Some(size) = want_size
        && size != bytes.len() as u64
    {
        return Err(integrity(format!("got {} bytes, the index says {size}", bytes.len())));
    }
    let (manifest, media_type) = Manifest::parse(&bytes, content_type.as_deref())
        .map_err(|e| Error::new(e.kind(), format!("{repo}:{what}: {e}")))?;
    let descriptor = Descriptor {
        media_type,
        digest,
        size: bytes.len() as u64,
        annotations: Default::default(),
        platform: None,
        artifact_type: None,
        other: Default::default(),
    };
    Ok(ResolvedManifest {
        bytes,
        descriptor,
        manifest,
        platform: None,
        entry: None,
        chain: Vec::new(),
    })
}

/// A digest that names no manifest may name a blob (as `pull REPO@sha256:…` did in the tool
/// oci-dl grew out of): one ranged GET asks, and the error then says which command fetches it.
/// The CNCF registry answers such a manifest request with a 500, not a 404, hence `Network`.
pub fn blob_hint(client: &Client, reference: &Reference, e: Error) -> Error {
    let asks = matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Network);
    let Some(digest) = reference.digest().filter(|_| asks) else {
        return e;
    };
    match client.blob_range(reference.repository(), digest, 0, Some(0), None) {
        Ok(_) => Error::new(
            ErrorKind::NotFound,
            format!(
                "{digest} is a blob, not a manifest: use `oci-dl blob {}/{}@{digest}`",
                reference.registry(),
                reference.repository()
            ),
        ),
        Err(_) => e,
    }
}
