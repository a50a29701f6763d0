//! `oci-dl blob`: one blob by digest, to a file or stdout.

use crate::support::fake::{Fake, Reply};
use crate::support::push::Pusher;
use crate::support::registry;
use crate::support::*;

#[test]
fn writes_a_verified_blob_to_a_file_or_stdout() {
    let Some(reg) = registry::open() else { return };
    let bytes = noise(400_000, 11);
    let d = Pusher::new(reg).blob("test/blob", &bytes);
    let sb = Sandbox::new();
    let r = format!("{}/test/blob@{d}", reg.host);
    sb.run(&["blob", &r]).ok();
    assert_eq!(std::fs::read(sb.work().join(d.hex())).unwrap(), bytes, "default name is the hex");
    sb.run(&["blob", &r, "-o", "named.bin"]).ok();
    assert_eq!(std::fs::read(sb.work().join("named.bin")).unwrap(), bytes);
    let run = sb.run(&["blob", &r, "-o", "-"]);
    run.ok();
    assert_eq!(run.stdout, bytes);
    // An existing directory gets the file under the digest's hex, as `pull -o DIR` would.
    std::fs::create_dir(sb.work().join("dir")).unwrap();
    sb.run(&["blob", &r, "-o", "dir"]).ok();
    assert_eq!(std::fs::read(sb.work().join("dir").join(d.hex())).unwrap(), bytes);
    let mut want = vec![
        "dir/".to_owned(),
        format!("dir/{}", d.hex()),
        "named.bin".to_owned(),
        d.hex().to_owned(),
    ];
    want.sort();
    assert_eq!(tree(&sb.work()), want, "no .part files left");
}

#[test]
fn missing_blobs_and_tag_references_fail_clearly() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"never pushed");
    Pusher::new(reg).blob("test/blob2", b"x");
    sb.run(&["blob", &format!("{}/test/blob2@{d}", reg.host)]).fails(3, "404 BLOB_UNKNOWN");
    sb.run(&["blob", &format!("{}/test/blob2:v1", reg.host)]).fails(2, "names no blob");
    assert!(tree(&sb.work()).is_empty());
}

/// Serves `body` for every blob GET of repository `x`.
fn blob_fake(body: Vec<u8>) -> Fake {
    Fake::start(move |hit| {
        if hit.path.starts_with("/v2/x/blobs/") {
            Reply::new(200, body.clone())
        } else {
            Reply::unexpected()
        }
    })
}

#[test]
fn corrupt_bytes_exit_5_and_leave_no_file() {
    let good = noise(100_000, 5);
    let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &good);
    let mut bad = good.clone();
    bad[50_000] ^= 1;
    let fake = blob_fake(bad.clone());
    let sb = Sandbox::new();
    let r = format!("{}/x@{d}", fake.host);
    sb.run(&["blob", &r, "-o", "f"]).fails(5, "content hashes to");
    assert!(tree(&sb.work()).is_empty(), "neither the file nor its .part remain");
    let run = sb.run(&["blob", &r, "-o", "-"]);
    run.fails(5, "content hashes to");
    assert_eq!(run.stdout, bad, "the stream was written, the exit code tells");
    fake.assert_no_unexpected();
}

#[test]
fn an_existing_file_is_kept_when_it_matches_and_guarded_when_it_differs() {
    let Some(reg) = registry::open() else { return };
    let bytes = noise(10_000, 12);
    let d = Pusher::new(reg).blob("test/blob3", &bytes);
    let sb = Sandbox::new();
    let r = format!("{}/test/blob3@{d}", reg.host);
    std::fs::write(sb.work().join("f"), b"other").unwrap();
    sb.run(&["blob", &r, "-o", "f"]).fails(1, "exists with other content");
    assert_eq!(std::fs::read(sb.work().join("f")).unwrap(), b"other");
    sb.run(&["blob", &r, "-o", "f", "--overwrite", "skip"]).ok();
    assert_eq!(std::fs::read(sb.work().join("f")).unwrap(), b"other");
    sb.run(&["blob", &r, "-o", "f", "--overwrite", "force", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("f")).unwrap(), bytes);
    let again = sb.run(&["blob", &r, "-o", "f"]);
    again.ok();
    assert!(again.stderr.contains("= up to date"), "{}", again.stderr);
}
