//! The referrers API of a local store, which has no server to ask (distribution-spec "Listing
//! Referrers"): offline, the cache answers the list the registry's API gave the online pull
//! that kept it (`Cache::remember_referrers`), under the tag records' ownership rule; none kept,
//! and the fallback tag `sha256-<hex>` is asked next, as of a registry without the API. An OCI
//! layout has no API either: its fallback tag is asked.
//!
//! The list is untrusted like any answer: each referrer is fetched again by digest and checked
//! to name the subject (`Client::referrer_of`), and its signatures are verified from scratch.

use super::Reply;
use super::store::{Store, Tags, local_reply, missing};
use crate::digest::Digest;
use crate::error::Error;

/// Answer `GET /v2/REPO/referrers/SUBJECT` (`head`: without the body) from `store`.
pub(super) fn answer(
    store: &Store,
    repo: &str,
    subject: &Digest,
    head: bool,
) -> Result<Reply, Error> {
    let no_api = || missing(format!("{}: no referrers API", store.name));
    let bytes = match &store.tags {
        Tags::Remembered { registry } => {
            let cache = crate::cache::Cache::new(&store.root);
            let list = cache.remembered_referrers(registry, repo, subject).ok_or_else(no_api)?;
            cache.manifest(&list).ok_or_else(no_api)?
        }
        Tags::IndexJson => return Err(no_api()),
    };
    let d = Digest::of(crate::digest::Algorithm::Sha256, &bytes);
    let len = bytes.len() as u64;
    Ok(local_reply(200, &d, None, len, head, Box::new(std::io::Cursor::new(bytes))))
}
