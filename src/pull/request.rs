//! What a pull is asked to do: [`PullRequest`], built with [`PullRequest::new`] and its
//! setters, the way a package manager builds a download (soar-dl's `OciDownload` builder).

use std::path::{Path, PathBuf};

use crate::filter::Filter;
use crate::pull::{Overwrite, Platforms};
use crate::reference::Reference;
use crate::trust::{Keyless, VerifyKey};

/// Everything a pull needs besides the registry connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PullRequest {
    /// What to pull.
    pub reference: Reference,
    /// Which platforms of an index to pull (default: the host's).
    pub platforms: Platforms,
    /// Where the files go; nothing is written outside it.
    pub output: Output,
    /// Which layers to fetch.
    pub filter: Filter,
    /// Keep only the base name of titles.
    pub flatten: bool,
    /// What to do about existing files with other content.
    pub overwrite: Overwrite,
    /// Connections in flight at once (at least 1).
    pub jobs: usize,
    /// Resolve and select only; write nothing.
    pub dry_run: bool,
    /// What to unpack, and where.
    pub extract: ExtractOptions,
    /// Publishers' keys: with any, nothing gets its final name unless its signature verifies.
    pub verify: Vec<VerifyKey>,
    /// A keyless signer: with one, nothing is downloaded unless a Sigstore signature by it
    /// covers the manifest.
    pub keyless: Option<Keyless>,
    /// Also (or only) pull the newest referrer of a type.
    pub referrer: Option<ReferrerPull>,
}

impl PullRequest {
    /// A pull of `reference` into the directory `dir` (created if missing): the host's platform
    /// of an index, every layer, named by its title, 4 jobs, [`Overwrite::Error`], nothing
    /// unpacked, no signature required.
    pub fn new(reference: Reference, dir: impl Into<PathBuf>) -> Self {
        PullRequest {
            reference,
            platforms: Platforms::Host,
            output: Output::Dir(dir.into()),
            filter: Filter::default(),
            flatten: false,
            overwrite: Overwrite::Error,
            jobs: 4,
            dry_run: false,
            extract: ExtractOptions::default(),
            verify: Vec::new(),
            keyless: None,
            referrer: None,
        }
    }

    /// [`PullRequest::new`] for [`crate::pull_stream`]: the one selected layer to a writer.
    pub fn streamed(reference: Reference) -> Self {
        PullRequest { output: Output::Stdout, ..PullRequest::new(reference, PathBuf::new()) }
    }

    /// Which platforms of an index to pull.
    pub fn platforms(mut self, platforms: Platforms) -> Self {
        self.platforms = platforms;
        self
    }

    /// Which layers to fetch.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Keep only the base name of titles.
    pub fn flatten(mut self, yes: bool) -> Self {
        self.flatten = yes;
        self
    }

    /// What to do about existing files with other content; [`Overwrite::Prompt`] asks the
    /// observer's [`confirm_overwrite`](crate::Observer::confirm_overwrite).
    pub fn overwrite(mut self, policy: Overwrite) -> Self {
        self.overwrite = policy;
        self
    }

    /// Connections in flight at once (0 counts as 1).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Resolve and select only; write nothing.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// What to unpack, and where.
    pub fn extract(mut self, extract: ExtractOptions) -> Self {
        self.extract = extract;
        self
    }

    /// Require signatures: with any key, nothing gets its final name unless its signature
    /// verifies with one of them.
    pub fn verify_key(mut self, key: VerifyKey) -> Self {
        self.verify.push(key);
        self
    }

    /// Require a keyless signature (a Sigstore bundle, or cosign's keyless `.sig`) by this
    /// signer before anything is downloaded.
    pub fn keyless(mut self, signer: Keyless) -> Self {
        self.keyless = Some(signer);
        self
    }

    /// Also (or only) pull the newest referrer of a type.
    pub fn referrer(mut self, referrer: ReferrerPull) -> Self {
        self.referrer = Some(referrer);
        self
    }
}

/// Where a pull's files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Into this directory (created if missing).
    Dir(PathBuf),
    /// The one selected layer, streamed to a writer ([`crate::pull_stream`]).
    Stdout,
}

impl Output {
    /// The directory, unless the output is stdout.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Output::Dir(d) => Some(d),
            Output::Stdout => None,
        }
    }
}

/// `pull --referrer`: which attached artifact to pull.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReferrerPull {
    /// Its artifact type, e.g. `application/spdx+json`.
    pub artifact_type: String,
    /// Pull the subject's own files too.
    pub with_subject: bool,
}

/// What to unpack, and where.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Unpack archive layers (`--extract`); an image's layers become its root filesystem.
    pub extract: bool,
    /// Where to unpack (default: the output directory).
    pub to: Option<PathBuf>,
    /// Keep the downloaded archive next to the extracted files.
    pub keep_archive: bool,
    /// Unpack layers that oras marked `io.deis.oras.content.unpack=true` (a pushed directory).
    pub oras_unpack: bool,
    /// The most one archive (or one image, all layers together) may unpack to; default 100 ×
    /// its compressed size, kept between 16 MiB and 64 GiB.
    pub max_unpacked: Option<u64>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            extract: false,
            to: None,
            keep_archive: false,
            oras_unpack: true,
            max_unpacked: None,
        }
    }
}

impl ReferrerPull {
    /// The newest referrer of `artifact_type`, with the subject's own files too or not.
    pub fn new(artifact_type: impl Into<String>, with_subject: bool) -> Self {
        ReferrerPull { artifact_type: artifact_type.into(), with_subject }
    }
}

impl ExtractOptions {
    /// Unpack archive layers into `to` (`None`: the output directory).
    pub fn into_dir(to: Option<PathBuf>) -> Self {
        ExtractOptions { extract: true, to, ..ExtractOptions::default() }
    }
}
