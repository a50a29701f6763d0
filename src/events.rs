//! The seam between the engine and any user interface: the engine reports [`Event`]s to an
//! [`Observer`] and never prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::Platform;

/// Log detail levels: `-v` shows `Debug`, `-vv` shows `Trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Shown unless `-q`: something the user should know about (a skipped device node).
    Warn,
    /// Shown unless `-q`: a note (a layer that is not an archive after all).
    Info,
    /// `-v`: requests with status and timing, auth steps, retries.
    Debug,
    /// `-vv`: everything else.
    Trace,
}

/// Bytes moved so far for one transfer. Updated with one relaxed atomic add per read, so a
/// progress view can poll it at its own pace without a lock or callback on the hot path.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// Bytes so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// For views' tests: move the counter as a transfer would.
    #[doc(hidden)]
    pub fn add_for_test(&self, n: u64) {
        self.add(n);
    }
}

/// What happened to one file of a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FileStatus {
    /// Downloaded and verified.
    Downloaded,
    /// Downloaded and verified, continuing a `.part` left by an earlier run.
    Resumed,
    /// Already present with the right digest; nothing was transferred.
    UpToDate,
    /// Present with other content and left alone (`--overwrite skip`, or declined at the prompt).
    Skipped,
    /// `--dry-run`: would be fetched.
    Planned,
    /// Downloaded, verified and unpacked.
    Extracted,
    /// Copied from the blob cache (and verified), not downloaded.
    Cached,
}

/// Something the engine reports while it works.
///
/// # Order
///
/// A pull reports [`Resolved`](Event::Resolved), then [`Planned`](Event::Planned) (not in a dry
/// run, nor when nothing was selected), then each transfer's events, tied together by `index`
/// (the file's position in the pull). One transfer's
/// events arrive in this order:
///
/// 1. [`Started`](Event::Started) — not for a file that needs no transfer (up to date, or
///    skipped by the overwrite policy);
/// 2. [`Resumed`](Event::Resumed) when a `.part` from an earlier run is continued;
/// 3. any number of [`Retry`](Event::Retry);
/// 4. exactly one of [`Finished`](Event::Finished) or [`Failed`](Event::Failed).
///
/// Transfers run in parallel (up to the request's jobs), so different indexes interleave.
/// Bytes are not events: poll [`Progress`] from `Started` at your own pace.
/// [`Log`](Event::Log) lines come at any time.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The manifest was resolved (after following an index to one platform, if any).
    Resolved {
        /// The digest of the manifest bytes that will be used.
        digest: &'a Digest,
        /// Its media type.
        media_type: &'a str,
        /// The platform an index was resolved to, if any.
        platform: Option<&'a Platform>,
    },
    /// The layers a pull will fetch, before any starts.
    Planned {
        /// How many files.
        files: usize,
        /// Their total size.
        bytes: u64,
    },
    /// A transfer began.
    Started {
        /// The file's position in the pull; the same in its later events.
        index: usize,
        /// Its name (title, or digest hex).
        name: &'a str,
        /// Its size, when the descriptor says.
        size: Option<u64>,
        /// Bytes of this file so far, including any already on disk; poll it.
        progress: &'a Progress,
    },
    /// A file is done.
    Finished {
        /// As in [`Event::Started`].
        index: usize,
        /// As in [`Event::Started`].
        name: &'a str,
        /// Where it is now (the file, or the directory it was unpacked into).
        path: &'a Path,
        /// Its verified digest.
        digest: &'a Digest,
        /// Its size in bytes.
        size: u64,
        /// What happened to it.
        status: FileStatus,
    },
    /// A request or transfer failed transiently and will be tried again after `delay`.
    Retry {
        /// The transfer being retried (as in [`Event::Started`]); `None` for a request that is
        /// no file's (a manifest, a tag list, a config blob).
        index: Option<usize>,
        /// What is being retried, for people; never matched against names.
        what: &'a str,
        /// This retry's number, from 1.
        attempt: u32,
        /// The most retries there will be.
        of: u32,
        /// The wait before it.
        delay: std::time::Duration,
        /// Why the last attempt failed.
        error: &'a Error,
    },
    /// A transfer resumed from bytes already on disk.
    Resumed {
        /// As in [`Event::Started`].
        index: usize,
        /// As in [`Event::Started`].
        name: &'a str,
        /// How many bytes were already there.
        offset: u64,
    },
    /// A file failed; the pull goes on with the others.
    Failed {
        /// As in [`Event::Started`].
        index: usize,
        /// As in [`Event::Started`].
        name: &'a str,
        /// Why.
        error: &'a Error,
    },
    /// A diagnostic line.
    Log {
        /// How much detail it is.
        level: Level,
        /// The line; never holds a secret.
        message: String,
    },
}

/// Receives [`Event`]s. Called from worker threads, so it must be `Sync`.
pub trait Observer: Send + Sync {
    /// Called for every event, from whichever thread it happened on.
    fn event(&self, event: &Event<'_>);

    /// Shorthand for an [`Event::Log`].
    fn log(&self, level: Level, message: String) {
        self.event(&Event::Log { level, message });
    }

    /// Asked when a file exists with other content and the policy is `prompt`. Default: no.
    fn confirm_overwrite(&self, _path: &Path) -> bool {
        false
    }
}

/// A closure over events is an observer: `Arc::new(|e: &Event<'_>| …)`.
impl<F> Observer for F
where
    F: Fn(&Event<'_>) + Send + Sync,
{
    fn event(&self, event: &Event<'_>) {
        self(event)
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: &Event<'_>) {}
}

/// A file that was pulled, for summaries and JSON output.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct FileReport {
    /// Where it is (for unpacked layers, the directory or file unpacked into); `-` for a layer
    /// streamed to stdout.
    pub path: PathBuf,
    /// The layer's title annotation, if it had one.
    pub title: Option<String>,
    /// The layer's digest.
    pub digest: Digest,
    /// The layer's size in bytes.
    pub size: u64,
    /// The layer's media type.
    pub media_type: String,
    /// What happened to it.
    pub status: FileStatus,
    /// In a pull of several platforms, the platform whose manifest listed it (as
    /// `OS/ARCH[/VARIANT][:OS_VERSION]` in JSON). Boxed: rare, and a report stays small.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "display")]
    pub platform: Option<Box<Platform>>,
}

/// A platform in JSON as people write it.
fn display<S: serde::Serializer>(p: &Option<Box<Platform>>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.collect_str(p),
        None => s.serialize_none(),
    }
}
