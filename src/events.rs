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
    Warn,
    Info,
    Debug,
    Trace,
}

/// Bytes moved so far for one transfer. Updated with one relaxed atomic add per read, so a
/// progress view can poll it at its own pace without a lock or callback on the hot path.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
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
#[derive(Debug)]
pub enum Event<'a> {
    /// The manifest was resolved (after following an index to one platform, if any).
    Resolved { digest: &'a Digest, media_type: &'a str, platform: Option<&'a Platform> },
    /// The layers a pull will fetch, before any starts.
    Planned { files: usize, bytes: u64 },
    /// A transfer began. `progress` counts bytes of this file, including any already on disk.
    Started { index: usize, name: &'a str, size: Option<u64>, progress: &'a Progress },
    /// A file is done.
    Finished {
        index: usize,
        name: &'a str,
        path: &'a Path,
        digest: &'a Digest,
        size: u64,
        status: FileStatus,
    },
    /// A request or transfer failed transiently and will be tried again after `delay`.
    Retry { what: &'a str, attempt: u32, of: u32, delay: std::time::Duration, error: &'a Error },
    /// A transfer resumed from `offset` bytes already on disk.
    Resumed { index: usize, name: &'a str, offset: u64 },
    /// A file failed; the pull goes on with the others.
    Failed { index: usize, name: &'a str, error: &'a Error },
    /// A diagnostic line.
    Log { level: Level, message: String },
}

/// Receives [`Event`]s. Called from worker threads, so it must be `Sync`.
pub trait Observer: Send + Sync {
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

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: &Event<'_>) {}
}

/// A file that was pulled, for summaries and JSON output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub title: Option<String>,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    pub status: FileStatus,
}
