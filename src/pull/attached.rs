//! `--include-referrers` for a layout pull: the artifacts attached to what was pulled, so that
//! a later air-gapped check (`cosign verify`, `oras discover --oci-layout`) finds them beside it.
//!
//! For every manifest the layout pull stores (and every artifact found, in turn, up to the
//! graph's bound):
//! - its referrers, from the registry's referrers API or else the fallback tag `<alg>-<hex>`
//!   (distribution-spec "Listing Referrers"); each is fetched by digest and kept only when it
//!   names that manifest as its `subject` (anyone who can push a tag can list anything in a
//!   fallback index). They get untagged `index.json` entries, as oras-go's store gives the
//!   manifests pushed to it; a fallback index is stored under its tag only when everything it
//!   lists was kept, so a reader never follows it to a missing blob;
//! - cosign's tags `<alg>-<hex>.sig`, `.att` and `.sbom` (sigstore/cosign `pkg/oci/remote`),
//!   stored under those tags, where `cosign` looks for them.

use super::layout::{Fetched, Graph, digest_tag};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{Descriptor, Manifest};
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::{self, ResolvedManifest};

/// The suffixes of cosign's tags beside a digest: signatures, attestations, SBOMs.
const COSIGN_TAGS: [&str; 3] = ["sig", "att", "sbom"];

/// Add what is attached to every manifest in `graph`; returns how many artifacts were added.
pub(super) fn attach(
    client: &Client,
    reference: &Reference,
    graph: &mut Graph,
    obs: &dyn Observer,
) -> Result<usize, Error> {
    let repo = reference.repository();
    let mut subjects: Vec<Digest> = graph.manifests.iter().map(|m| m.desc.digest.clone()).collect();
    let mut added = 0;
    let mut next = 0;
    while let Some(subject) = subjects.get(next).cloned() {
        next += 1;
        let (listed, fallback) = listed(client, repo, &subject)?;
        for (desc, r) in referrers(client, repo, &subject, listed, obs)? {
            if graph.seen.contains(&desc.digest) {
                continue;
            }
            subjects.push(desc.digest.clone());
            graph.add(
                client,
                repo,
                Fetched { desc: desc.clone(), bytes: r.bytes },
                &r.manifest,
                1,
            )?;
            graph.entries.push((desc, None));
            added += 1;
        }
        if let Some((tag, r)) = fallback {
            store_fallback(graph, tag, r, obs);
        }
        for suffix in COSIGN_TAGS {
            let tag = format!("{}.{suffix}", digest_tag(&subject));
            let Some(r) = by_tag(client, repo, &tag)? else { continue };
            let desc = r.descriptor.clone();
            if !graph.seen.contains(&desc.digest) {
                subjects.push(desc.digest.clone());
                added += 1;
            }
            graph.add(
                client,
                repo,
                Fetched { desc: desc.clone(), bytes: r.bytes },
                &r.manifest,
                1,
            )?;
            graph.entries.push((desc, Some(tag)));
        }
    }
    Ok(added)
}

/// A referrers list, and the fallback tag's index it came from (with its tag), if it did.
type Listing = (Vec<Descriptor>, Option<(String, ResolvedManifest)>);

/// What lists `subject`'s referrers: the referrers API, or else the fallback tag's index (then
/// also returned, to be stored under its tag).
fn listed(client: &Client, repo: &str, subject: &Digest) -> Result<Listing, Error> {
    if let Some(list) = client.referrers_api(repo, subject)? {
        return Ok((list, None));
    }
    let tag = digest_tag(subject);
    let Some(r) = by_tag(client, repo, &tag)? else { return Ok((Vec::new(), None)) };
    let list = match &r.manifest {
        Manifest::Index(index) => index.manifests.clone(),
        Manifest::Image(_) => Vec::new(),
    };
    Ok((list, Some((tag, r))))
}

/// The referrers in `listed` that really are attached to `subject`, fetched by digest.
fn referrers(
    client: &Client,
    repo: &str,
    subject: &Digest,
    listed: Vec<Descriptor>,
    obs: &dyn Observer,
) -> Result<Vec<(Descriptor, ResolvedManifest)>, Error> {
    let mut out = Vec::new();
    for d in listed {
        let what = d.digest.to_string();
        let r = match resolve::fetch(client, repo, &what, Some(&d.digest), Some(d.size)) {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                obs.log(
                    Level::Debug,
                    format!("referrer {} skipped: listed, but {e}", d.digest.short()),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let attached_to = match &r.manifest {
            Manifest::Image(m) => m.subject.as_ref().map(|s| &s.digest),
            Manifest::Index(_) => None,
        };
        if attached_to != Some(subject) {
            obs.log(
                Level::Debug,
                format!("referrer {} skipped: it is not attached to {subject}", d.digest.short()),
            );
            continue;
        }
        let desc = Descriptor { artifact_type: d.artifact_type.clone(), ..r.descriptor.clone() };
        out.push((desc, r));
    }
    Ok(out)
}

/// Store the fallback index under its tag, when every referrer it lists is in the layout.
fn store_fallback(graph: &mut Graph, tag: String, r: ResolvedManifest, obs: &dyn Observer) {
    let Manifest::Index(index) = &r.manifest else {
        obs.log(Level::Debug, format!("{tag} is not an index of referrers; not stored"));
        return;
    };
    if let Some(missing) = index.manifests.iter().find(|d| !graph.seen.contains(&d.digest)) {
        obs.log(
            Level::Debug,
            format!("{tag} lists {}, which is not attached; the tag is not stored", missing.digest),
        );
        return;
    }
    let desc = r.descriptor.clone();
    if graph.seen.insert(desc.digest.clone()) {
        graph.manifests.push(Fetched { desc: desc.clone(), bytes: r.bytes });
    }
    graph.entries.push((desc, Some(tag)));
}

/// The manifest at `tag`, verified against the digest the registry announced; `None` when
/// there is no such tag.
fn by_tag(client: &Client, repo: &str, tag: &str) -> Result<Option<ResolvedManifest>, Error> {
    match resolve::fetch(client, repo, tag, None, None) {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
