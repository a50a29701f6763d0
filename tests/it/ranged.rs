//! Big blobs over several connections: ranges from one queue, positional writes, in-order hashing,
//! redirects per range, and the fall back to one stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

fn ranges(f: &fake::Fake) -> Vec<String> {
    f.hits_to("/v2/x/blobs/").iter().filter_map(|h| h.header("range").map(str::to_owned)).collect()
}

#[test]
fn a_big_blob_is_fetched_in_ranges_over_several_connections() {
    let data = noise(40 * MIB + 123, 1);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b)
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    let mut got = ranges(&f);
    got.sort();
    assert_eq!(got.len(), 6, "8 MiB ranges: {got:?}");
    assert!(
        got.contains(&format!("bytes=41943040-{}", data.len() - 1)),
        "the last range ends at the last byte: {got:?}"
    );
    assert!(f.connections() >= 3, "ranges went over parallel connections: {}", f.connections());

    let sb = Sandbox::new();
    let before = f.hits_to("/v2/x/blobs/").len();
    sb.run(&["pull", &r, "-o", "out", "-j", "1", "--no-cache"]).ok();
    let one: Vec<_> = f.hits_to("/v2/x/blobs/").into_iter().skip(before).collect();
    assert_eq!(one.len(), 1, "-j 1 is one stream");
    assert_eq!(one[0].header("range"), None);
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
}

#[test]
fn a_server_without_ranges_gets_one_stream() {
    let data = noise(33 * MIB, 2);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |_, _, b| {
        Reply::new(200, b.to_vec())
    });
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", "4", "-v", "--no-cache"]);
    run.ok();
    assert!(
        run.stderr.contains("the server ignores Range; using one connection"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
}

#[test]
fn a_dropped_range_resumes_inside_the_range_and_redirects_are_followed_per_range() {
    let data = noise(34 * MIB, 3);
    let n = Arc::new(AtomicUsize::new(0));
    let (d2, n2) = (data.clone(), n.clone());
    let cdn = fake::Fake::start(move |hit| {
        let r = Reply::blob(hit, &d2);
        // The first request for the second range drops a megabyte in.
        if hit.header("range") == Some("bytes=8388608-16777215")
            && n2.fetch_add(1, Ordering::SeqCst) == 0
        {
            r.fault(Fault::DropAfter(MIB))
        } else {
            r
        }
    });
    let cdn_host = cdn.host.clone();
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |_, d, _| {
        Reply::new(307, "").header("location", &format!("http://{cdn_host}/cdn/{d}?sig=x"))
    });
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-j", "3", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    let cdn_ranges: Vec<String> =
        cdn.hits().iter().filter_map(|h| h.header("range").map(str::to_owned)).collect();
    assert!(
        cdn_ranges.contains(&format!("bytes={}-16777215", 8 * MIB + MIB)),
        "the retry resumed inside the range: {cdn_ranges:?}"
    );
    assert_eq!(
        f.hits_to("/v2/x/blobs/").len(),
        cdn.hits().len(),
        "every range request went through the registry first"
    );
    cdn.assert_no_unexpected();
}

#[test]
fn a_killed_ranged_download_resumes_from_its_hashed_prefix() {
    let data = noise(48 * MIB, 4);
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let s2 = slow.clone();
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if s2.load(Ordering::SeqCst) { r.fault(Fault::Throttle(4 * MIB as u64)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let mut child = sb.cmd(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]).spawn().unwrap();
    let part = sb.work().join("out/big.bin.part");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let rec = xattr::get(&part, "user.oci-dl.resume").ok().flatten();
        let written = rec
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r).ok())
            .and_then(|v| v["written"].as_u64())
            .unwrap_or(0);
        if written >= 8 * MIB as u64 {
            break;
        }
        if std::fs::metadata(&part).is_ok() && xattr::get(&part, "user.oci-dl.resume").is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return; // no xattrs here: ranged downloads are not used
        }
        assert!(std::time::Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    slow.store(false, Ordering::SeqCst);
    sb.run(&["pull", &r, "-o", "out", "-j", "4", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
}
