//! From a reference to verified manifest bytes: fetch, check against the digest we were asked for
//! (or that the registry announced), and follow an index to one platform.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, Level, Observer};
use crate::manifest::{Descriptor, Manifest, Platform};
use crate::reference::Reference;
use crate::registry::Client;

/// A manifest as served, with what we verified about it.
#[derive(Debug, Clone)]
pub struct ResolvedManifest {
    /// The body exactly as the registry sent it.
    pub bytes: Vec<u8>,
    /// Its descriptor: media type, digest of `bytes`, size.
    pub descriptor: Descriptor,
    /// The decoded body.
    pub manifest: Manifest,
    /// The platform an index was resolved to, if one was.
    pub platform: Option<Platform>,
}

/// Fetch `reference`'s manifest. With `platform`, an index is followed to that platform's
/// manifest; without, an index is returned as is.
pub fn resolve(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    obs: &dyn Observer,
) -> Result<ResolvedManifest, Error> {
    let top = fetch(
        client,
        reference.repository(),
        &reference.manifest_reference(),
        reference.digest(),
        None,
    )?;
    let resolved = match (&top.manifest, platform) {
        (Manifest::Index(index), Some(wanted)) => {
            let selection = index.select(wanted)?;
            if let Some(warning) = selection.ambiguity(wanted) {
                obs.log(Level::Warn, warning);
            }
            let d = selection.chosen.clone();
            let mut child = fetch(
                client,
                reference.repository(),
                &d.digest.to_string(),
                Some(&d.digest),
                Some(d.size),
            )?;
            if matches!(child.manifest, Manifest::Index(_)) {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "manifest {} for {wanted} is itself an index; nested indexes are not supported",
                        d.digest
                    ),
                ));
            }
            child.platform = d.platform.clone();
            child
        }
        _ => top,
    };
    obs.event(&Event::Resolved {
        digest: &resolved.descriptor.digest,
        media_type: &resolved.descriptor.media_type,
        platform: resolved.platform.as_ref(),
    });
    Ok(resolved)
}

fn fetch(
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
    };
    Ok(ResolvedManifest { bytes, descriptor, manifest, platform: None })
}
