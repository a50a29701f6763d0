//! oci-dl: download files stored in OCI registries, verifying every byte.
//!
//! The engine behind the `oci-dl` binary, usable alone: depend on it with
//! `oci-dl = { version = "0.1", default-features = false }` to leave out the command line and
//! its crates (clap, indicatif, anyhow, signal-hook). The engine never prints, never parses
//! command lines, installs no signal handler and never exits.
//!
//! # Quick start: pull a package with progress
//!
//! ```no_run
//! use std::sync::Arc;
//! use oci_dl::{ClientOptions, Event, Filter, Overwrite, PullRequest};
//!
//! let mut filter = Filter::default();
//! filter.globs.push("tool*".into());
//! let request = PullRequest::new("ghcr.io/org/tool:v1.2.0".parse()?, "pkg")
//!     .filter(filter)
//!     .jobs(4)
//!     .overwrite(Overwrite::Skip);
//! let progress = |e: &Event<'_>| match e {
//!     Event::Started { name, size, .. } => eprintln!("get {name} ({size:?} bytes)"),
//!     Event::Finished { name, status, .. } => eprintln!("{name}: {status:?}"),
//!     _ => {}
//! };
//! let report = oci_dl::pull(&request, &ClientOptions::default(), Arc::new(progress))?;
//! for file in &report.files {
//!     println!("{}", file.path.display()); // every file's digest was verified
//! }
//! # Ok::<(), oci_dl::Error>(())
//! ```
//!
//! # The pieces
//!
//! - Entry points: [`pull`] (or [`pull_stream`] for one layer to a writer), [`fetch_manifest`]
//!   (or [`resolve_digest`] for its digest alone),
//!   [`fetch_blob`] / [`stream_blob`], [`list_tags`] / [`each_tag`], [`list_referrers`]. Each
//!   takes a request, [`ClientOptions`] and an [`Observer`].
//! - A request: [`PullRequest`] (built with [`PullRequest::new`] and its setters), with
//!   [`Filter`], [`Overwrite`], [`Platforms`], [`ExtractOptions`] and [`VerifyKey`]s.
//! - Connection options: [`ClientOptions`] — credentials, a CA file, timeouts, the blob cache
//!   directory (or none), [`Mirrors`], [`RetryPolicy`] and a [`Cancel`] token the caller holds.
//! - Progress: [`Event`]s to an [`Observer`] (any `Fn(&Event)` is one), in the order [`Event`]
//!   documents; bytes are polled from [`Progress`].
//! - Results: [`PullReport`] and [`FileReport`]s; failures as [`Error`], with a matchable
//!   [`ErrorKind`] (`NotFound`, `Auth`, `Network`, `Integrity`, `Signature`, `Conflict`,
//!   `RateLimited { retry_after }`, …), [`Error::is_transient`] for retries, a
//!   [`Hint`] of what the user can do, and [`Error::errors`] for each failed layer.
//!
//! # Concurrency
//!
//! A pull runs its layers, and a slow blob's ranges, on one pool: the calling thread plus at most
//! `jobs - 1` helpers (a big stream adds a receiving thread, and a hashing one while a core is
//! spare; a layer unpacked while it downloads, an unpacker); `jobs` also bounds the connections
//! in flight. [`Cancel::cancel`]
//! wakes every wait at once and closes the run's connections; call it from any thread (not from
//! inside a signal handler: it takes a lock). Every thread a run starts, and who wakes whom, is
//! written down in `src/session.rs`.
//!
//! The types that will grow are `#[non_exhaustive]`: build them with their constructors or
//! `Default`, and give matches a fallback arm.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![deny(missing_docs)]

mod blob;
pub mod cache;
mod cancel;
mod conventions;
mod digest;
mod error;
mod events;
mod extract;
mod filter;
mod gate;
mod held;
mod hint;
mod layout;
pub mod manifest;
mod mirrors;
mod pem;
mod platform;
mod pool;
mod pull;
mod reference;
mod registry;
mod resolve;
mod retry;
mod session;
mod trust;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

pub use blob::part_path;
pub use cache::{Cache, parse_size};
pub use cancel::OnCancel;
pub use digest::{Algorithm, Digest};
pub use error::{Error, ErrorKind, Hint, Result};
pub use events::{Event, FileReport, FileStatus, Level, Observer, Progress, Silent};
pub use filter::Filter;
pub use manifest::{Descriptor, Manifest, Platform, Selection};
pub use mirrors::{MirrorSource, Mirrors};
pub use pull::ReferrerPull;
pub use pull::referrers::Referrers;
pub use pull::{ExtractOptions, Output, Overwrite, Platforms, PullReport, PullRequest};
pub use pull::{LayoutReport, LayoutRequest, LayoutTarget};
pub use reference::{DEFAULT_REGISTRY, Reference};
pub use registry::credentials::CredentialSources;
pub use registry::store::Store;
pub use registry::{ClientOptions, Credentials, MAX_TAG_BYTES, MAX_TAGS, Pin};
pub use resolve::ResolvedManifest;
pub use retry::{Cancel, RetryPolicy};
pub use trust::{Identity, Keyless, VerifyKey};

use registry::Client;
use session::Session;

/// Pull the selected layers of `req.reference` into `req.output`, a directory ([`Output::Stdout`]
/// is for [`pull_stream`], or a dry run). With several [`Platforms`], each platform's files go
/// into a directory of its own below it, and the report's manifest is the index.
pub fn pull(req: &PullRequest, opts: &ClientOptions, obs: Arc<dyn Observer>) -> Result<PullReport> {
    let session = Session::open(&req.reference, opts, obs.clone(), req.jobs)?;
    match &req.referrer {
        Some(wanted) => pull::referrers::pull(&session, req, wanted, &*obs),
        None if req.platforms.is_several() => pull::pull_each(&session, req, &*obs),
        None => pull::pull(&session, req, &*obs),
    }
}

/// Pull `req.reference` into an OCI image layout (a directory, or a tar of one): the whole
/// index, or with a platform that platform's manifest, tagged in `index.json`.
pub fn pull_layout(
    req: &LayoutRequest,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<LayoutReport> {
    let session = Session::open(&req.reference, opts, obs.clone(), req.jobs)?;
    pull::layout::pull(&session, req, &*obs)
}

/// Pull the one selected layer of `req.reference` to `out`, verified as it streams; more than
/// one selected layer is a usage error.
pub fn pull_stream(
    req: &PullRequest,
    out: &mut dyn Write,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<PullReport> {
    let session = Session::open(&req.reference, opts, obs.clone(), 1)?;
    pull::pull_stream(&session, req, out, &*obs)
}

/// Every tag of `reference`'s repository (its tag and digest are ignored), collected; see
/// [`each_tag`] for the bounds.
pub fn list_tags(
    reference: &Reference,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    each_tag(reference, opts, obs, &mut |t| {
        tags.push(t.to_owned());
        Ok(())
    })?;
    Ok(tags)
}

/// Hand every tag of `reference`'s repository to `on_tag` as its page arrives; an error from
/// `on_tag` stops the listing. A `Link` back to a page already read, more than [`MAX_TAGS`]
/// tags or more than [`MAX_TAG_BYTES`] of pages is an error. Returns how many tags there were.
pub fn each_tag(
    reference: &Reference,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
    on_tag: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<u64> {
    let client = Client::new(reference, opts, obs)?;
    client.tags(&client.origin_repo(reference.repository()), on_tag)
}

/// Fetch a manifest; with `platform`, an index is resolved to that platform's manifest.
pub fn fetch_manifest(
    reference: &Reference,
    platform: Option<&Platform>,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<ResolvedManifest> {
    let client = Client::new(reference, opts, obs.clone())?;
    resolve::resolve(&client, reference, platform, &*obs)
        .map_err(|e| resolve::blob_hint(&client, reference, e))
}

/// The digest `reference` resolves to, as `crane digest` prints it: for a tag without
/// `platform`, the registry's `Docker-Content-Digest` from a HEAD (which Docker Hub does not
/// count against its pull quota); with `platform`, by digest, or where the HEAD answer has no
/// usable header or the registry refuses a HEAD, the digest of the manifest fetched and hashed.
pub fn resolve_digest(
    reference: &Reference,
    platform: Option<&Platform>,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<Digest> {
    let client = Client::new(reference, opts, obs.clone())?;
    resolve::digest(&client, reference, platform, &*obs)
        .map_err(|e| resolve::blob_hint(&client, reference, e))
}

/// Download the blob `reference` names by digest to `output`, verified, via `output.part`.
pub fn fetch_blob(
    reference: &Reference,
    output: &Path,
    overwrite: Overwrite,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<FileReport> {
    pull::by_digest::to_file(reference, output, overwrite, opts, obs)
}

/// The referrers of the manifest `reference` names (with `platform`, of that platform's
/// manifest): the registry's referrers API, else the fallback tag `sha256-<hex>`.
pub fn list_referrers(
    reference: &Reference,
    platform: Option<&Platform>,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<Referrers> {
    let client = Client::new(reference, opts, obs.clone())?;
    pull::referrers::list_for(&client, reference, platform, &*obs)
}

/// Write `bytes` to the file `path` through `path.part` and a rename: never half-written, never
/// through a link or FIFO planted at `path.part`.
pub fn write_file(path: &Path, bytes: &[u8], obs: Arc<dyn Observer>) -> Result<()> {
    blob::write_atomic(path, bytes, &*obs)
}

/// Stream the blob `reference` names by digest to `out`. The bytes are written as they arrive;
/// an integrity error is returned after the stream when they did not match.
pub fn stream_blob(
    reference: &Reference,
    out: &mut dyn Write,
    opts: &ClientOptions,
    obs: Arc<dyn Observer>,
) -> Result<u64> {
    pull::by_digest::to_writer(reference, out, opts, obs)
}
