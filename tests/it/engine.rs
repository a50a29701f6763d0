//! The blob life cycle through the library API, in process, against the fake registry (no
//! binary): fresh download, resume from a `.part`, from the cache, and a corrupt blob.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oci_dl::{Algorithm, ClientOptions, Digest, ErrorKind, Event, FileStatus, Observer, Overwrite};

use crate::support::fake::{self, Fake, Guard, Reply};
use crate::support::noise;

/// Records the events a view would see, as strings.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Observer for Seen {
    fn event(&self, e: &Event<'_>) {
        let line = match e {
            Event::Started { index, .. } => format!("start {index}"),
            Event::Resumed { offset, .. } => format!("resume {offset}"),
            Event::Retry { index, .. } => format!("retry {index:?}"),
            Event::Finished { status, .. } => format!("finish {status:?}"),
            Event::Failed { .. } => "failed".into(),
            _ => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

impl Seen {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn blob_fake(data: &[u8], corrupt: bool) -> (Fake, Digest) {
    let digest = Digest::of(Algorithm::Sha256, data);
    let f = fake::artifact_with(vec![("b", data.to_vec())], Guard::Open, move |hit, _, b| {
        if corrupt {
            let mut bad = b.to_vec();
            bad[7] ^= 1;
            Reply::blob(hit, &bad)
        } else {
            Reply::blob(hit, b)
        }
    });
    (f, digest)
}

fn fetch(
    f: &Fake,
    digest: &Digest,
    out: &Path,
    cache: Option<PathBuf>,
) -> (oci_dl::Result<oci_dl::FileReport>, Arc<Seen>) {
    let reference =
        oci_dl::Reference::parse_with_default(&format!("{}/x@{digest}", f.host), "unused.invalid")
            .unwrap();
    let mut opts = ClientOptions::default();
    opts.cache = cache;
    let seen = Arc::new(Seen::default());
    let r = oci_dl::fetch_blob(&reference, out, Overwrite::Error, &opts, seen.clone());
    (r, seen)
}

#[test]
fn a_fresh_blob_is_downloaded_verified_and_renamed_into_place() {
    let data = noise(300_000, 3);
    let (f, digest) = blob_fake(&data, false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blob");
    let (r, seen) = fetch(&f, &digest, &out, None);
    let report = r.unwrap();
    assert_eq!((report.status, report.size), (FileStatus::Downloaded, data.len() as u64));
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert!(!oci_dl::part_path(&out).exists(), "no .part left");
    assert_eq!(seen.lines(), ["start 0", "finish Downloaded"]);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1);
}

#[test]
fn a_part_left_by_an_earlier_run_is_resumed_with_a_range() {
    let data = noise(300_000, 4);
    let (f, digest) = blob_fake(&data, false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blob");
    let part = oci_dl::part_path(&out);
    std::fs::write(&part, &data[..100_000]).unwrap();
    // The resume record an interrupted run leaves (where the filesystem has xattrs).
    let record = format!(r#"{{"digest":"{digest}","size":null,"written":100000}}"#);
    let _ = xattr::set(&part, "user.oci-dl.resume", record.as_bytes());
    let (r, seen) = fetch(&f, &digest, &out, None);
    assert_eq!(r.unwrap().status, FileStatus::Resumed);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert_eq!(seen.lines(), ["start 0", "resume 100000", "finish Resumed"]);
    let gets = f.hits_to("/v2/x/blobs/");
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].header("range"), Some("bytes=100000-"));
}

#[test]
fn a_cached_blob_is_copied_from_the_cache_without_a_download() {
    let data = noise(200_000, 5);
    let (f, digest) = blob_fake(&data, false);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (r, _) = fetch(&f, &digest, &dir.path().join("first"), Some(cache.clone()));
    assert_eq!(r.unwrap().status, FileStatus::Downloaded);
    let second = dir.path().join("second");
    let (r, seen) = fetch(&f, &digest, &second, Some(cache));
    assert_eq!(r.unwrap().status, FileStatus::Cached);
    assert_eq!(std::fs::read(&second).unwrap(), data);
    assert_eq!(seen.lines(), ["start 0", "finish Cached"]);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "the second came from the cache");
}

#[test]
fn a_corrupt_blob_is_an_integrity_error_and_leaves_nothing() {
    let data = noise(200_000, 6);
    let (f, digest) = blob_fake(&data, true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blob");
    let (r, seen) = fetch(&f, &digest, &out, None);
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{}", e.to_string_full());
    assert!(e.to_string().contains("content hashes to"), "{e}");
    assert!(!out.exists() && !oci_dl::part_path(&out).exists(), "nothing half-written");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(seen.lines(), ["start 0", "failed"], "not retried: the bytes were wrong, not cut");
}

/// `stream_blob` and `pull_stream` end their one transfer as `fetch_blob` and a pull's layers
/// do: `Finished` on success, `Failed` when the bytes were wrong (after they were written: a
/// stream cannot wait for its digest).
#[test]
fn a_stream_to_a_writer_ends_with_finished_or_failed_like_every_other_transfer() {
    let data = noise(150_000, 7);
    let parse = |r: String| oci_dl::Reference::parse_with_default(&r, "unused.invalid").unwrap();
    let mut opts = ClientOptions::default();
    opts.cache = None;
    for (corrupt, want) in [(false, "finish Downloaded"), (true, "failed")] {
        let (f, digest) = blob_fake(&data, corrupt);
        for by_digest in [true, false] {
            let seen = Arc::new(Seen::default());
            let mut out = Vec::new();
            let r = if by_digest {
                let reference = parse(format!("{}/x@{digest}", f.host));
                oci_dl::stream_blob(&reference, &mut out, &opts, seen.clone()).map(drop)
            } else {
                let req = oci_dl::PullRequest::streamed(parse(format!("{}/x:v1", f.host)));
                oci_dl::pull_stream(&req, &mut out, &opts, seen.clone()).map(drop)
            };
            let case = format!("corrupt: {corrupt}, by digest: {by_digest}");
            assert_eq!(r.is_err(), corrupt, "{case}");
            assert_eq!(out.len(), data.len(), "streamed either way ({case})");
            assert_eq!(seen.lines(), ["start 0", want], "{case}");
        }
    }
}
