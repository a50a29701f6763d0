//! A registry that answers with a huge response head, at any `--jobs`: each connection's read
//! buffer shrinks with `--jobs` (`registry::endpoint::read_size`), and must stay able to tell
//! a head that is too long from a connection that closed.

use std::time::Instant;

use crate::support::fake::{self, Guard, Reply};
use crate::support::*;

/// A head over ureq's 64 KiB limit fails at once, saying so, whatever `--jobs` is: at `-j 64`
/// the read buffer once was exactly 64 KiB, and a longer head filled it and read as a closed
/// connection ("Peer disconnected"), retried six times over 12 s.
#[test]
fn a_response_head_over_64_kib_fails_at_once_at_any_jobs() {
    for jobs in ["4", "64"] {
        let f = fake::artifact_with(vec![("a.bin", b"abc".to_vec())], Guard::Open, |hit, _, b| {
            Reply::blob(hit, b).header("x-pad", &"p".repeat(70 * 1024))
        });
        let sb = Sandbox::new();
        let canaries = Canaries::plant(&sb.work());
        let started = Instant::now();
        let r = format!("{}/x:v1", f.host);
        let run = sb.run(&["pull", &r, "-o", "out", "-j", jobs, "--no-cache"]);
        run.fails(6, "response header is too big");
        assert!(!run.stderr.contains("attempts"), "-j {jobs}: {}", run.stderr);
        assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "-j {jobs}: no retry");
        assert!(started.elapsed().as_secs() < 5, "-j {jobs}: {:?}", started.elapsed());
        assert!(!sb.work().join("out/a.bin").exists());
        canaries.assert_unchanged();
    }
}

/// A mirror whose every answer has a head over 64 KiB, at `-j 64`: asked once, then the
/// registry serves the pull at once, the warning naming what was wrong.
#[test]
fn a_mirror_with_a_head_over_64_kib_is_passed_over_at_once_at_sixty_four_jobs() {
    let f = fake::artifact(vec![("a.bin", b"abc".to_vec())], Guard::Open, None);
    let m = fake::Fake::start(|_| Reply::new(404, "").header("x-pad", &"p".repeat(70 * 1024)));
    let sb = Sandbox::new();
    let started = Instant::now();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "64", "--no-cache", "--mirror", &m.host]);
    run.ok();
    assert!(run.stderr.contains("response header is too big"), "{}", run.stderr);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    assert_eq!(m.hits().len(), 1, "asked once, never retried");
    assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), b"abc");
}

/// A redirect to a URL over 32 KiB (the connection's write buffer; ureq writes the request
/// line by line and needs each line to fit) fails at once, and the error says that the URL may
/// be what is too long — not only "headers" — without printing the URL's query.
#[test]
fn a_redirect_to_a_url_over_32_kib_fails_at_once_naming_the_url() {
    let cdn = fake::cdn(vec![b"abc".to_vec()]);
    cdn.expect_unused();
    let host = cdn.host.clone();
    let f = fake::artifact_with(vec![("a.bin", b"abc".to_vec())], Guard::Open, move |_, d, _| {
        let sig = "s".repeat(40 * 1024);
        Reply::new(307, "").header("location", &format!("http://{host}/cdn/{d}?sig={sig}"))
    });
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "--no-cache"]);
    run.fails(6, "URL");
    assert!(!run.stderr.contains("attempts") && !run.stderr.contains("sss"), "{}", run.stderr);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "no retry");
    assert!(!sb.work().join("out/a.bin").exists());
}
