//! What is attached to a manifest (OCI 1.1 referrers: SBOMs, signatures, attestations), and
//! `pull --referrer TYPE`: the files of the newest referrer of that type.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::manifest::{Descriptor, Platform};
use crate::pull::{PullReport, PullRequest, ReferrerPull};
use crate::reference::Reference;
use crate::registry::Client;
use crate::resolve::resolve;
use crate::session::Session;

/// The annotation that orders referrers: the newest wins.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The referrers of one manifest.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Referrers {
    /// The manifest they refer to.
    pub subject: Digest,
    /// `api` (`GET /v2/NAME/referrers/DIGEST`) or `tag` (the fallback tag `sha256-<hex>`).
    pub source: &'static str,
    /// Their descriptors as listed: artifactType, digest, size, annotations.
    pub referrers: Vec<Descriptor>,
}

/// List the referrers of `subject` in `reference`'s repository.
pub(crate) fn list(
    client: &Client,
    reference: &Reference,
    subject: &Digest,
) -> Result<Referrers, Error> {
    let repo = reference.repository();
    let (source, referrers) = match client.referrers_api(repo, subject)? {
        Some(list) => ("api", list),
        None => ("tag", client.referrers_tag(repo, subject)?),
    };
    Ok(Referrers { subject: subject.clone(), source, referrers })
}

/// The referrers of the manifest `reference` names (with `platform`, of that platform's).
pub(crate) fn list_for(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    obs: &dyn Observer,
) -> Result<Referrers, Error> {
    let resolved = resolve(client, reference, platform, obs)?;
    list(client, reference, &resolved.descriptor.digest)
}

/// The referrers in `list` of `artifact_type`, newest first by [`CREATED_ANNOTATION`] (RFC 3339
/// times, which sort as text; one without it counts as oldest; equal ones keep their order).
fn newest_first<'a>(list: &'a [Descriptor], artifact_type: &str) -> Vec<&'a Descriptor> {
    let mut of: Vec<&Descriptor> =
        list.iter().filter(|d| d.artifact_type.as_deref() == Some(artifact_type)).collect();
    of.sort_by_key(|d| std::cmp::Reverse(d.annotations.get(CREATED_ANNOTATION).cloned()));
    of
}

/// Pull the newest referrer of the requested type into the output directory, beside the
/// subject's files unless `with_subject` is off. Filters apply to both.
pub(crate) fn pull(
    session: &Session,
    req: &PullRequest,
    wanted: &ReferrerPull,
    obs: &dyn Observer,
) -> Result<PullReport, Error> {
    let client = &session.client;
    let plain = PullRequest { referrer: None, ..req.clone() };
    let platform = req.platforms.single()?;
    let (subject, mut files) = if wanted.with_subject {
        let report = crate::pull::pull(session, &plain, obs)?;
        (report.manifest.clone(), Some(report))
    } else {
        (resolve(client, &req.reference, Some(&platform), obs)?, None)
    };
    // Attached to the platform manifest, or else to the index the reference named.
    let repo = req.reference.repository();
    let pick_from = |found: &Referrers| -> Result<Option<Descriptor>, Error> {
        for d in newest_first(&found.referrers, &wanted.artifact_type) {
            if client.referrer_of(repo, d, &found.subject)?.is_some() {
                return Ok(Some(d.clone()));
            }
        }
        Ok(None)
    };
    let mut found = list(client, &req.reference, &subject.descriptor.digest)?;
    let mut pick = pick_from(&found)?;
    if pick.is_none() && subject.entry.is_some() {
        let top = resolve(client, &req.reference, None, obs)?;
        found = list(client, &req.reference, &top.descriptor.digest)?;
        pick = pick_from(&found)?;
    }
    let Some(d) = pick else {
        let types: Vec<&str> =
            found.referrers.iter().filter_map(|d| d.artifact_type.as_deref()).collect();
        let types = if types.is_empty() { "none".to_owned() } else { types.join(", ") };
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "{} has no referrer of type {}; attached: {types}",
                req.reference, wanted.artifact_type
            ),
        ));
    };
    obs.log(
        Level::Debug,
        format!(
            "referrer {} ({}) from the referrers {}",
            d.digest, wanted.artifact_type, found.source
        ),
    );
    let attached = PullRequest { reference: req.reference.with_digest(d.digest.clone()), ..plain };
    let report = crate::pull::pull(session, &attached, obs)?;
    Ok(match files.take() {
        Some(mut subject) => {
            subject.files.extend(report.files);
            subject
        }
        None => report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(t: &str, created: Option<&str>, n: u8) -> Descriptor {
        let mut v = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)), "size": 10, "artifactType": t});
        if let Some(c) = created {
            v["annotations"] = serde_json::json!({CREATED_ANNOTATION: c});
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn newest_of_the_type_by_created() {
        let list = [
            d("application/spdx+json", Some("2024-01-02T00:00:00Z"), 1),
            d("application/spdx+json", Some("2025-06-01T00:00:00Z"), 2),
            d("application/vnd.cyclonedx+json", Some("2026-01-01T00:00:00Z"), 3),
            d("application/spdx+json", None, 4),
        ];
        let spdx: Vec<&Digest> =
            newest_first(&list, "application/spdx+json").iter().map(|d| &d.digest).collect();
        assert_eq!(spdx, [&list[1].digest, &list[0].digest, &list[3].digest]);
        assert!(newest_first(&list, "application/vnd.in-toto+json").is_empty());
    }
}
