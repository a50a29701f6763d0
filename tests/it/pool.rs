//! The one work pool where layers meet ranges: a layer that goes ranged runs its ranges as a
//! group of the same pool, on its own thread plus the spare workers, so when every worker holds
//! a ranged layer (no spare worker at all) each layer still finishes instead of waiting for a
//! worker that never comes. (`--jobs 1` never goes ranged: one connection gains nothing; the
//! pool's unit tests nest groups on one worker.)

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

#[test]
fn ranged_layers_on_every_worker_finish() {
    let files: Vec<Vec<u8>> = (0..3).map(|i| noise(40 * MIB, i)).collect();
    let layers =
        vec![("a.bin", files[0].clone()), ("b.bin", files[1].clone()), ("c.bin", files[2].clone())];
    // The first stream of each is slow, so each switches to ranges, which come at full speed.
    let f = fake::artifact_with(layers, Guard::Open, |hit, _, bytes| {
        let r = Reply::blob(hit, bytes);
        if hit.header("range").is_none() { r.fault(Fault::Throttle(4 * MIB as u64)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "2", "--no-cache", "-v"]);
    run.ok();
    let switched = run.stderr.matches("fetching the rest in ranges").count();
    assert_eq!(switched, 3, "every layer went ranged: {}", run.stderr);
    for (name, bytes) in ["a.bin", "b.bin", "c.bin"].iter().zip(&files) {
        assert!(std::fs::read(sb.work().join("out").join(name)).unwrap() == *bytes, "{name}");
    }
}

/// Where the pool meets the stream: with more streams than cores each hashes on its worker
/// (two threads per stream instead of three). A body cut short in that form still resumes
/// where it stopped, and every file verifies.
#[test]
fn streams_beyond_the_cores_resume_a_cut_body() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let files: Vec<Vec<u8>> = (0..8).map(|i| noise(6 * MIB, 10 + i)).collect();
    let names: Vec<String> = (0..8).map(|i| format!("f{i}.bin")).collect();
    let layers = names.iter().map(String::as_str).zip(files.iter().cloned()).collect();
    let first = files[0].clone();
    let cut = AtomicBool::new(false);
    let f = fake::artifact_with(layers, Guard::Open, move |hit, _, bytes| {
        let r = Reply::blob(hit, bytes);
        if bytes == first.as_slice() && !cut.swap(true, Ordering::SeqCst) {
            return r.fault(Fault::DropAfter(5 * MIB));
        }
        r
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "out", "-j", "8", "--no-cache"]).ok();
    for (name, bytes) in names.iter().zip(&files) {
        assert!(std::fs::read(sb.work().join("out").join(name)).unwrap() == *bytes, "{name}");
    }
    let resumed = f.hits_to("/v2/x/blobs/").iter().filter(|h| h.header("range").is_some()).count();
    assert_eq!(resumed, 1, "the cut body resumed with one range request");
}

/// Where the pool's groups meet a registry that fails one range for good: the first error stops
/// the group (the ranges not started never start), the run fails with that error's exit code,
/// and the `.part` is kept with the hashed prefix for the next run.
#[test]
fn a_range_that_fails_for_good_stops_its_group() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let data = noise(64 * MIB, 7);
    let ranges = AtomicUsize::new(0);
    let f = fake::artifact_with(vec![("big.bin", data)], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if hit.header("range").is_none() {
            return r.fault(Fault::Throttle(4 * MIB as u64));
        }
        // The second range asked for is gone; the others trickle so that none finishes first.
        if ranges.fetch_add(1, Ordering::SeqCst) == 1 {
            let body = r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#;
            return Reply::new(404, body);
        }
        r.fault(Fault::Throttle(2 * MIB as u64))
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let started = std::time::Instant::now();
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]);
    run.fails(3, "BLOB_UNKNOWN");
    let asked = f.hits_to("/v2/x/blobs/").iter().filter(|h| h.header("range").is_some()).count();
    // Four connections were busy when the 404 came; nothing new started after it.
    assert!(asked <= 5, "{asked} range requests: the group went on after its first error");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(sb.work().join("out/big.bin.part").exists(), "the .part is kept for the next run");
}
