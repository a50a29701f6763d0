//! Ctrl-C wakes whatever the run waits on: a backoff before a retry, a `--jobs` slot after a 429
//! lowered the limit, a ranged download's connections. Each ends with exit 130 well before the
//! CLI's two-second grace exit, so it is the engine's wake-up that ended it, not the fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::fake::{self, Fake, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;
/// Well under the CLI's grace exit (2 s after the signal).
const PROMPT: Duration = Duration::from_millis(1500);

/// Start `args`, wait until `ready` holds for the fake's hits and 300 ms more (well into the
/// wait), send SIGINT; the run, with how long it took to end after it.
fn interrupt_when(
    sb: &Sandbox,
    args: &[&str],
    f: &Fake,
    ready: impl Fn(&Fake) -> bool,
) -> (Duration, Run) {
    signal_when(sb, args, "-INT", Duration::from_millis(300), || ready(f))
}

#[test]
fn ctrl_c_during_a_backoff_ends_it_at_once() {
    let f = fake::artifact_with(vec![("a.bin", noise(1000, 1))], Guard::Open, |_, _, _| {
        Reply::new(503, "busy").header("retry-after", "60")
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let (took, run) = interrupt_when(&sb, &["pull", &r, "-o", "out"], &f, |f| {
        !f.hits_to("/v2/x/blobs/").is_empty()
    });
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < PROMPT, "the 60 s backoff ended {took:?} after SIGINT");
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "no retry after the cancel");
}

/// `-j 2`: b.bin trickles and holds a slot; a.bin's 429 halves the limit to 1 for 30 s, so its
/// retry waits for b's slot at the gate.
#[test]
fn ctrl_c_during_a_gate_wait_ends_it_at_once() {
    let a_hits = Arc::new(AtomicUsize::new(0));
    let seen = a_hits.clone();
    let a = noise(1000, 1);
    let layers = vec![("a.bin", a.clone()), ("b.bin", noise(3 * MIB, 2))];
    let f = fake::artifact_with(layers, Guard::Open, move |hit, _, bytes| {
        if bytes == a.as_slice() {
            seen.fetch_add(1, Ordering::SeqCst);
            return Reply::new(429, "slow down").header("retry-after", "0");
        }
        Reply::blob(hit, bytes).fault(Fault::Throttle(50_000))
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let (took, run) = interrupt_when(&sb, &["pull", &r, "-o", "out", "-j", "2"], &f, |_| {
        a_hits.load(Ordering::SeqCst) >= 1
    });
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < PROMPT, "the gate wait ended {took:?} after SIGINT");
    assert_eq!(a_hits.load(Ordering::SeqCst), 1, "a.bin never got a slot again");
}

#[test]
fn ctrl_c_during_a_ranged_download_ends_it_at_once() {
    let data = noise(48 * MIB, 3);
    let f = fake::artifact_with(vec![("big.bin", data)], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(4 * MIB as u64))
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let args = ["pull", &r, "-o", "out", "-j", "4", "--no-cache"];
    let (took, run) = interrupt_when(&sb, &args, &f, |f| {
        f.hits_to("/v2/x/blobs/").iter().filter(|h| h.header("range").is_some()).count() >= 2
    });
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < PROMPT, "the ranged download ended {took:?} after SIGINT");
    assert!(tree(&sb.work().join("out")).iter().any(|p| p.ends_with(".part")), "kept to resume");
}
