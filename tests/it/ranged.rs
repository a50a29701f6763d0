//! Big blobs over slow links: when one connection is slow, the rest of the blob comes in ranges
//! from one queue, written in place and hashed in order; redirects are followed per range, and a
//! server without ranges keeps the single stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;
/// Slow enough that the first quarter second decides for ranges.
const SLOW: u64 = 4 * MIB as u64;

fn range_starts(hits: &[fake::Hit]) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = hits
        .iter()
        .filter_map(|h| {
            let (a, b) = h.header("range")?.strip_prefix("bytes=")?.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_slow_stream_hands_the_rest_to_parallel_ranges() {
    let data = noise(48 * MIB, 1);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |hit, _, b| {
        let r = Reply::blob(hit, b);
        if hit.header("range").is_none() { r.fault(Fault::Throttle(SLOW)) } else { r }
    });
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", "4", "--no-cache", "-v"]);
    run.ok();
    assert!(
        run.stderr.contains("one connection is slow; fetching the rest in ranges"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    let ranges = range_starts(&f.hits_to("/v2/x/blobs/"));
    assert!(ranges.len() >= 5, "{ranges:?}");
    let first = ranges[0].0;
    assert!(
        first > 0 && first < 16 * MIB as u64,
        "ranges start where the stream stopped: {ranges:?}"
    );
    // One queue of contiguous ranges, largest first and finer towards the end, so that no
    // connection idles while another still has a big range to go.
    assert!(ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0), "contiguous: {ranges:?}");
    assert_eq!(ranges.last().unwrap().1, data.len() as u64 - 1, "to the end: {ranges:?}");
    let lens: Vec<u64> = ranges.iter().map(|(a, b)| b - a + 1).collect();
    assert!(lens.windows(2).all(|w| w[0] >= w[1]), "never growing: {lens:?}");
    assert!(lens[0] > lens[lens.len() - 1], "finer at the end: {lens:?}");
    assert!(lens[..lens.len() - 1].iter().all(|l| *l >= MIB as u64), "{lens:?}");
    assert!(f.connections() >= 3, "parallel connections: {}", f.connections());
}

/// One job means one connection, however slow the stream: the same throttled stream that
/// `-j 4` hands over to ranges, `-j 1` fetches whole. The stream is slow by construction (the
/// server throttles it), so no machine is too slow or too fast for this test; when a fast stream
/// stays on one connection is the probe's rule, tested with a given clock beside it (blob/sink.rs).
#[test]
fn a_slow_stream_with_one_job_stays_on_one_connection() {
    // A third of the probe's "clearly slow": it switches whenever it first looks, up to 2 s in
    // (while 32 MiB, its threshold, are still left).
    const CLEARLY_SLOW: u64 = 8 * MIB as u64;
    let data = noise(48 * MIB, 2);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |hit, _, b| {
        let r = Reply::blob(hit, b);
        if hit.header("range").is_none() { r.fault(Fault::Throttle(CLEARLY_SLOW)) } else { r }
    });
    let ranged_after = |jobs: &str| {
        let before = range_starts(&f.hits_to("/v2/x/blobs/")).len();
        let sb = Sandbox::new();
        sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", jobs, "--no-cache"]).ok();
        assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data, "-j {jobs}");
        range_starts(&f.hits_to("/v2/x/blobs/")).len() - before
    };
    assert!(ranged_after("4") > 0, "-j 4: the slow stream hands over to ranges");
    assert_eq!(ranged_after("1"), 0, "-j 1: one connection");
}

#[test]
fn a_server_without_ranges_keeps_one_stream() {
    let data = noise(48 * MIB, 3);
    let n = AtomicUsize::new(0);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |_, _, b| {
        let r = Reply::new(200, b.to_vec());
        if n.fetch_add(1, Ordering::SeqCst) == 0 { r.fault(Fault::Throttle(SLOW)) } else { r }
    });
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", "4", "-v", "--no-cache"]);
    run.ok();
    assert!(
        run.stderr.contains("the server ignores Range; staying on one connection"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
}

#[test]
fn a_dropped_range_resumes_inside_it_and_redirects_are_followed_per_range() {
    let data = noise(48 * MIB, 4);
    let dropped: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let (d2, dr) = (data.clone(), dropped.clone());
    let cdn = fake::Fake::start(move |hit| {
        let r = Reply::blob(hit, &d2);
        match hit.header("range") {
            None => r.fault(Fault::Throttle(SLOW)),
            Some(range) => {
                let mut first = dr.lock().unwrap();
                if first.is_none() {
                    *first = Some(range.to_owned());
                    r.fault(Fault::DropAfter(MIB))
                } else {
                    r
                }
            }
        }
    });
    let cdn_host = cdn.host.clone();
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |_, d, _| {
        Reply::new(307, "").header("location", &format!("http://{cdn_host}/cdn/{d}?sig=x"))
    });
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", "3", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    let first = dropped.lock().unwrap().clone().unwrap();
    let (a, b) = first.strip_prefix("bytes=").unwrap().split_once('-').unwrap();
    let resumed = format!("bytes={}-{b}", a.parse::<usize>().unwrap() + MIB);
    let cdn_ranges: Vec<String> =
        cdn.hits().iter().filter_map(|h| h.header("range").map(str::to_owned)).collect();
    assert!(
        cdn_ranges.contains(&resumed),
        "the retry resumed inside the range ({resumed}): {cdn_ranges:?}"
    );
    assert_eq!(
        f.hits_to("/v2/x/blobs/").len(),
        cdn.hits().len(),
        "every request went through the registry first"
    );
    cdn.assert_no_unexpected();
}

#[test]
fn a_killed_ranged_download_resumes_from_its_hashed_prefix() {
    let data = noise(64 * MIB, 5);
    let slow = Arc::new(AtomicBool::new(true));
    let s2 = slow.clone();
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if s2.load(Ordering::SeqCst) { r.fault(Fault::Throttle(SLOW)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let mut child = sb.cmd(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]).spawn().unwrap();
    let part = sb.work().join("out/big.bin.part");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        match xattr::get(&part, "user.oci-dl.resume") {
            Ok(Some(rec)) => {
                let v: serde_json::Value = serde_json::from_slice(&rec).unwrap();
                if v["ranged"] == true && v["written"].as_u64().unwrap() >= 12 * MIB as u64 {
                    break;
                }
            }
            Err(_) if part.exists() => {
                let _ = child.kill();
                let _ = child.wait();
                crate::support::require(false, "user xattrs on the temp directory's filesystem");
            }
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "no ranged checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::metadata(&part).unwrap().len(),
        data.len() as u64,
        "full length with holes"
    );
    slow.store(false, Ordering::SeqCst);
    let before = f.bytes_served();
    sb.run(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]).ok();
    assert!(
        f.bytes_served() - before < data.len() as u64 - 11 * MIB as u64,
        "resumed after the hashed prefix"
    );
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
}
