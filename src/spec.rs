//! What a transfer is of, and for whom: shared by the single stream and the ranged fetch.

use crate::digest::Digest;
use crate::events::{Observer, Progress};

/// The blob to fetch: where it lives and what it must hash to.
#[derive(Debug, Clone, Copy)]
pub struct BlobSpec<'a> {
    pub repository: &'a str,
    pub digest: &'a Digest,
    /// The size the descriptor promises; `None` when only the digest is known (`oci-dl blob`).
    pub size: Option<u64>,
}

/// Who is asking, for events.
#[derive(Clone, Copy)]
pub struct Report<'a> {
    pub index: usize,
    pub name: &'a str,
    pub progress: &'a Progress,
    pub obs: &'a dyn Observer,
}
