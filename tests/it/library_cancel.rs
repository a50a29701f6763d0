//! A long-lived library process and its one cancel token: many pulls on one token leave no hook
//! and no thread behind, and a cancel from another thread stops a ranged pull with
//! `Interrupted`, with every thread of the run gone when `pull` returns.
//!
//! Threads are counted in `/proc/self/task`, so each check runs in a child process of its own
//! (this test binary run again on just that test): the parallel tests of this binary, and the
//! fake's server threads, stay out of the count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_dl::{Cancel, ClientOptions, ErrorKind, Event, PullRequest};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const CHILD: &str = "OCI_DL_IT_CHILD";
const HOST: &str = "OCI_DL_IT_HOST";

/// Run test `name` of this module again in a child process with `host` in its environment and
/// insist that it passes; `true` when this process is that child and should do the work.
fn in_child(name: &str, host: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([&format!("library_cancel::{name}"), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env(HOST, host)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
    false
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The threads once those back to `baseline` had a moment to exit: a scope returns when its
/// threads' work is done, a moment before the kernel drops them from `/proc`.
fn threads_settled(baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    while threads() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    threads()
}

/// The hooks registered on a token, as its `Debug` shows them.
fn hooks(cancel: &Cancel) -> String {
    format!("{cancel:?}")
}

fn opts(cancel: &Cancel) -> ClientOptions {
    let mut opts = ClientOptions::default();
    opts.cancel = cancel.clone();
    opts.plain_http = true;
    opts.cache = None;
    opts
}

#[test]
fn many_pulls_on_one_token_leave_no_hook_and_no_thread() {
    let files: Vec<Vec<u8>> = (0..3).map(|i| noise(64 * 1024, 40 + i)).collect();
    let f = fake::artifact(
        vec![("a.bin", files[0].clone()), ("b.bin", files[1].clone()), ("c.bin", files[2].clone())],
        Guard::Open,
        None,
    );
    if !in_child("many_pulls_on_one_token_leave_no_hook_and_no_thread", &f.host) {
        return;
    }
    f.expect_unused(); // the parent's fake serves this child
    let host = std::env::var(HOST).unwrap();
    let cancel = Cancel::default();
    let before = hooks(&cancel);
    let dir = tempfile::tempdir().unwrap();
    let pull = |i: usize| {
        let reference = format!("{host}/x:v1").parse().unwrap();
        let req = PullRequest::new(reference, dir.path().join(format!("out{i}"))).jobs(4);
        oci_dl::pull(&req, &opts(&cancel), Arc::new(|_: &Event<'_>| {})).unwrap();
    };
    let baseline = threads();
    for i in 0..300 {
        pull(i);
    }
    assert_eq!(hooks(&cancel), before, "hooks piled up on the token across pulls");
    assert_eq!(threads_settled(baseline), baseline, "threads left behind by 300 pulls");
}

#[test]
fn a_cancel_from_another_thread_stops_a_ranged_pull_and_no_thread_outlives_it() {
    let data = noise(48 * 1024 * 1024, 41);
    let f = fake::artifact_with(vec![("big.bin", data)], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(1024 * 1024))
    });
    if !in_child(
        "a_cancel_from_another_thread_stops_a_ranged_pull_and_no_thread_outlives_it",
        &f.host,
    ) {
        assert!(
            f.hits_to("/v2/x/blobs/").iter().filter(|h| h.header("range").is_some()).count() >= 2,
            "the pull went ranged before the cancel: {:?}",
            f.hits()
        );
        return;
    }
    f.expect_unused(); // the parent's fake serves this child
    let host = std::env::var(HOST).unwrap();
    let cancel = Cancel::default();
    let baseline = threads();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let reference = format!("{host}/x:v1").parse().unwrap();
    let req = PullRequest::new(reference, &out).jobs(4);
    let asked = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let (token, when) = (cancel.clone(), asked.clone());
    // Well into the ranges (the stream turns ranged after about a second at 1 MiB/s).
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        let live = hooks(&token);
        *when.lock().unwrap() = Some(Instant::now());
        token.cancel();
        live
    });
    let err = oci_dl::pull(&req, &opts(&cancel), Arc::new(|_: &Event<'_>| {})).unwrap_err();
    let ended = Instant::now();
    let live = canceller.join().unwrap();
    // The count the other test relies on sees the run's hooks (each agent's shutdown).
    assert!(!live.contains("hooks: 0"), "no hook while the pull ran: {live}");
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{}", err.to_string_full());
    let took = ended - asked.lock().unwrap().expect("the cancel came before the end");
    assert!(took < Duration::from_millis(1500), "pull returned {took:?} after the cancel");
    assert_eq!(threads_settled(baseline), baseline, "a thread of the run outlived pull");
    assert!(hooks(&cancel).contains("hooks: 0"), "hooks left on the token: {cancel:?}");
    assert!(!out.join("big.bin").exists(), "no final name for an unfinished file");
    assert!(out.join("big.bin.part").exists(), "the .part is kept to resume");
}
