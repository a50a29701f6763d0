//! Fault injection against the fake registry: every case ends with a verified file or the
//! documented error, and retries resume instead of starting over.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;
/// `bytes_served` counts manifest bodies too; they are well under this.
const MANIFEST_ALLOWANCE: u64 = 2048;

/// A one-layer artifact `x:v1` ("blob.bin") whose blob answers come from `script(attempt, hit)`,
/// attempt counting blob GETs from 0.
fn scripted(
    bytes: Vec<u8>,
    script: impl Fn(usize, &fake::Hit, &[u8]) -> Reply + Send + Sync + 'static,
) -> fake::Fake {
    let n = AtomicUsize::new(0);
    fake::artifact_with(vec![("blob.bin", bytes)], Guard::Open, move |hit, _, b| {
        script(n.fetch_add(1, Ordering::SeqCst), hit, b)
    })
}

fn pull(sb: &Sandbox, f: &fake::Fake, extra: &[&str]) -> Run {
    let r = format!("{}/x:v1", f.host);
    let mut args = vec!["pull", r.as_str(), "-o", "out", "-v"];
    args.extend(extra);
    sb.run(&args)
}

fn range_of(h: &fake::Hit) -> Option<u64> {
    h.header("range")?.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
}

#[test]
fn a_dropped_connection_is_resumed_with_a_range() {
    let data = noise(2 * MIB, 21);
    let f = scripted(data.clone(), |n, hit, b| {
        let r = Reply::blob(hit, b);
        if n == 0 { r.fault(Fault::DropAfter(700_000)) } else { r }
    });
    let sb = Sandbox::new();
    let run = pull(&sb, &f, &[]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    let gets = f.hits_to("/v2/x/blobs/");
    assert_eq!(gets.len(), 2);
    let from = range_of(&gets[1]).expect("the retry asks for a range");
    assert!(from > 0 && from <= 700_000, "resumed at {from}");
    let blob_bytes = f.bytes_served() - MANIFEST_ALLOWANCE.min(f.bytes_served());
    assert!(
        blob_bytes <= 700_000 + data.len() as u64 - from,
        "served {blob_bytes}: the retry did not start over"
    );
    assert!(run.stderr.contains("retry 1/5"), "retry visible in -v: {}", run.stderr);
    f.assert_no_unexpected();
}

#[test]
fn five_hundreds_and_429s_are_retried_honouring_retry_after() {
    let data = noise(100_000, 22);
    let f = scripted(data.clone(), |n, hit, b| match n {
        0 => Reply::new(503, "busy"),
        1 => Reply::new(429, r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#)
            .header("retry-after", "1"),
        2 => Reply::new(429, "toomanyrequests: retry-after: 10.3ms, allowed: 2000/minute"),
        _ => Reply::blob(hit, b),
    });
    let sb = Sandbox::new();
    let started = Instant::now();
    let run = pull(&sb, &f, &[]);
    run.ok();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert!(run.stderr.contains("in 1.0s: "), "{}", run.stderr);
    assert!(run.stderr.contains("in 10.3ms: "), "ghcr's body hint: {}", run.stderr);
    assert!(
        run.stderr.contains("rate-limited: at most 2 transfer(s)"),
        "concurrency halved: {}",
        run.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 4);
}

#[test]
fn a_registry_that_keeps_saying_429_exits_7_naming_the_cause() {
    let f = scripted(b"x".to_vec(), |_, _, _| Reply::new(429, "").header("retry-after", "0"));
    let sb = Sandbox::new();
    pull(&sb, &f, &["--retries", "2"]).fails(7, "gave up after 3 attempts");
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 3);
    assert!(tree(&sb.work().join("out")).is_empty());
}

#[test]
fn a_stalled_connection_times_out_and_resumes() {
    let data = noise(MIB, 23);
    let f = scripted(data.clone(), |n, hit, b| {
        let r = Reply::blob(hit, b);
        if n == 0 { r.fault(Fault::StallAfter(300_000, Duration::from_secs(20))) } else { r }
    });
    let sb = Sandbox::new();
    let started = Instant::now();
    let run = pull(&sb, &f, &["--timeout", "1"]);
    run.ok();
    assert!(started.elapsed() < Duration::from_secs(10), "did not wait for the stall to end");
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    assert!(range_of(&f.hits_to("/v2/x/blobs/")[1]).is_some_and(|r| r > 0));
}

#[test]
fn a_server_that_ignores_range_is_read_from_zero() {
    let data = noise(MIB, 24);
    let f = scripted(data.clone(), |n, _, b| {
        let r = Reply::new(200, b.to_vec());
        if n == 0 { r.fault(Fault::DropAfter(400_000)) } else { r }
    });
    let sb = Sandbox::new();
    let run = pull(&sb, &f, &[]);
    run.ok();
    assert!(run.stderr.contains("restarting from 0"), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
}

#[test]
fn corrupt_bytes_exit_5_with_no_final_or_part_file() {
    let data = noise(300_000, 25);
    let f = scripted(data, |_, _, b| {
        let mut c = b.to_vec();
        c[1234] ^= 0x40;
        Reply::new(200, c)
    });
    let sb = Sandbox::new();
    pull(&sb, &f, &[]).fails(5, "content hashes to");
    assert!(tree(&sb.work().join("out")).is_empty());
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "a digest mismatch is not retried");
}

#[test]
fn retries_go_back_to_the_registry_not_the_old_cdn_url() {
    let data = noise(MIB, 26);
    let cdn_n = Arc::new(AtomicUsize::new(0));
    let (d2, n2) = (data.clone(), cdn_n.clone());
    let cdn = fake::Fake::start(move |hit| {
        let r = Reply::blob(hit, &d2);
        if n2.fetch_add(1, Ordering::SeqCst) == 0 { r.fault(Fault::DropAfter(200_000)) } else { r }
    });
    let cdn_host = cdn.host.clone();
    let f = fake::artifact_with(vec![("blob.bin", data.clone())], Guard::Open, move |_, d, _| {
        Reply::new(307, "").header("location", &format!("http://{cdn_host}/signed/{d}?exp=1"))
    });
    let sb = Sandbox::new();
    pull(&sb, &f, &[]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 2, "each attempt starts at the registry");
    assert_eq!(cdn.hits().len(), 2);
    assert!(range_of(&cdn.hits()[1]).is_some_and(|r| r > 0), "and resumes at the CDN");
}

#[test]
fn an_expired_token_is_refreshed_once() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let me: Arc<std::sync::OnceLock<String>> = Arc::default();
    let (t2, me2) = (tokens.clone(), me.clone());
    let data = noise(10_000, 27);
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).to_string();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": digest, "size": data.len(), "annotations": {"org.opencontainers.image.title": "f"}}],
    }))
    .unwrap();
    let f = fake::Fake::start(move |hit| {
        let host = me2.get().cloned().unwrap_or_default();
        if hit.path.starts_with("/token") {
            let n = t2.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::new(200, format!(r#"{{"token":"t{n}"}}"#));
        }
        let challenge = || {
            Reply::new(401, "").header(
                "www-authenticate",
                &format!(r#"Bearer realm="http://{host}/token",service="s""#),
            )
        };
        // The first token works for the manifest only: it "expires" before the blob.
        match (hit.path.contains("/manifests/"), hit.header("authorization")) {
            (true, Some("Bearer t1")) => Reply::new(200, manifest.clone())
                .header("content-type", "application/vnd.oci.image.manifest.v1+json"),
            (false, Some("Bearer t2")) => Reply::blob(hit, &data),
            _ => challenge(),
        }
    });
    me.set(f.host.clone()).unwrap();
    let sb = Sandbox::new();
    pull(&sb, &f, &[]).ok();
    assert_eq!(tokens.load(Ordering::SeqCst), 2, "one refresh");
    assert!(sb.work().join("out/f").exists());
}

#[test]
fn a_drop_mid_pipeline_resumes_at_the_last_byte_received() {
    // Big enough for the receive/write/hash pipeline; the cut falls inside a 1 MiB chunk.
    let cut = 5 * MIB + 12_345;
    let data = noise(10 * MIB, 27);
    let f = scripted(data.clone(), move |n, hit, b| {
        let r = Reply::blob(hit, b);
        if n == 0 { r.fault(Fault::DropAfter(cut)) } else { r }
    });
    let sb = Sandbox::new();
    pull(&sb, &f, &[]).ok();
    let gets = f.hits_to("/v2/x/blobs/");
    assert_eq!(gets.len(), 2);
    assert_eq!(range_of(&gets[1]), Some(cut as u64), "bytes before the error were kept");
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
}

#[test]
fn a_later_run_resumes_the_part_left_by_a_failed_one() {
    let data = noise(3 * MIB, 28);
    let fail_first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ff = fail_first.clone();
    let f = scripted(data.clone(), move |_, hit, b| {
        let r = Reply::blob(hit, b);
        if ff.load(Ordering::SeqCst) { r.fault(Fault::DropAfter(MIB + 5)) } else { r }
    });
    let sb = Sandbox::new();
    pull(&sb, &f, &["--retries", "0"]).fails(6, "read failed after");
    let part = sb.work().join("out/blob.bin.part");
    let kept = std::fs::metadata(&part).expect(".part kept for resume").len();
    assert!(kept > 0);
    let rec =
        xattr::get(&part, "user.oci-dl.resume").unwrap().map(|v| String::from_utf8(v).unwrap());
    if let Some(rec) = &rec {
        let v: serde_json::Value = serde_json::from_str(rec).unwrap();
        assert_eq!(v["digest"], oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).to_string());
        assert_eq!(v["size"], data.len());
        assert_eq!(v["written"], kept, "checkpointed on the error exit");
        assert_eq!(v["etag"], "\"blob-etag\"");
    }
    fail_first.store(false, Ordering::SeqCst);
    let before = f.bytes_served();
    let run = pull(&sb, &f, &[]);
    run.ok();
    assert!(run.stderr.contains("resuming blob.bin from"), "{}", run.stderr);
    let last = f.hits_to("/v2/x/blobs/").pop().unwrap();
    assert_eq!(range_of(&last), Some(kept));
    if rec.is_some() {
        assert_eq!(last.header("if-range"), Some("\"blob-etag\""));
    }
    let rerun = f.bytes_served() - before;
    assert!(
        rerun >= data.len() as u64 - kept && rerun < data.len() as u64 - kept + MANIFEST_ALLOWANCE,
        "only the rest was sent: {rerun}"
    );
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    assert!(!part.exists());
}

#[test]
fn a_part_recorded_for_another_digest_is_discarded() {
    let data = noise(500_000, 29);
    let f = scripted(data.clone(), |_, hit, b| Reply::blob(hit, b));
    let sb = Sandbox::new();
    let part = sb.work().join("out/blob.bin.part");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, noise(100_000, 99)).unwrap();
    let other = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"old tag").to_string();
    let rec = format!(r#"{{"digest":"{other}","size":100000,"written":100000}}"#);
    if xattr::set(&part, "user.oci-dl.resume", rec.as_bytes()).is_err() {
        return; // no user xattrs here; the no-xattr rule is table-tested in blob/resume.rs
    }
    pull(&sb, &f, &[]).ok();
    assert_eq!(range_of(&f.hits_to("/v2/x/blobs/")[0]), None, "started over");
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
}

#[test]
fn ctrl_c_keeps_the_part_and_exits_130_and_the_rerun_resumes() {
    let data = noise(4 * MIB, 30);
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let s2 = slow.clone();
    let f = scripted(data.clone(), move |_, hit, b| {
        let r = Reply::blob(hit, b);
        if s2.load(Ordering::SeqCst) { r.fault(Fault::Throttle(2 * MIB as u64)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let child =
        sb.cmd(&["pull", &r, "-o", "out"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let part = sb.work().join("out/blob.bin.part");
    wait_for(|| std::fs::metadata(&part).is_ok_and(|m| m.len() > 256 * 1024));
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(
            "oci-dl: interrupted; 1 partial download kept — run the same command again to resume\n"
        ),
        "{}",
        run.stderr
    );
    let kept = std::fs::metadata(&part).expect(".part kept").len();
    slow.store(false, Ordering::SeqCst);
    sb.run(&["pull", &r, "-o", "out"]).ok();
    assert_eq!(range_of(&f.hits_to("/v2/x/blobs/").pop().unwrap()), Some(kept));
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
}

/// On a slow link a pipeline chunk (1 MiB) takes seconds to fill: progress must still move and
/// Ctrl-C must still stop at once, keeping the bytes that arrived inside the unfinished chunk.
#[test]
fn a_slow_stream_shows_progress_and_stops_inside_a_chunk() {
    use std::io::BufRead;
    let data = noise(8 * MIB, 34);
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let s2 = slow.clone();
    let f = scripted(data.clone(), move |_, hit, b| {
        let r = Reply::blob(hit, b);
        if s2.load(Ordering::SeqCst) { r.fault(Fault::Throttle(128 * 1024)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let mut child = sb
        .cmd(&["pull", &r, "-o", "out", "--progress", "json"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let seen = lines
        .by_ref()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find_map(|v| {
            (v["event"] == "progress").then(|| v["bytes"].as_u64().unwrap()).filter(|&b| b > 0)
        })
        .expect("a progress event with bytes");
    assert!(seen < MIB as u64, "progress moves before the first 1 MiB chunk is full: {seen}");
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let signalled = Instant::now();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    // A whole chunk more would take 8 s at this rate; the next read sees the flag instead.
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "stopped after {:?}",
        signalled.elapsed()
    );
    let part = sb.work().join("out/blob.bin.part");
    let kept = std::fs::metadata(&part).expect(".part kept").len();
    assert!(kept > 0 && kept < MIB as u64, "kept the bytes of the unfinished chunk: {kept}");
    slow.store(false, Ordering::SeqCst);
    sb.run(&["pull", &r, "-o", "out"]).ok();
    assert_eq!(range_of(&f.hits_to("/v2/x/blobs/").pop().unwrap()), Some(kept));
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
}

#[test]
fn sigkill_midway_leaves_a_resumable_directory() {
    let data = noise(16 * MIB, 31);
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let s2 = slow.clone();
    let f = scripted(data.clone(), move |_, hit, b| {
        let r = Reply::blob(hit, b);
        if s2.load(Ordering::SeqCst) { r.fault(Fault::Throttle(8 * MIB as u64)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let mut child = sb.cmd(&["pull", &r, "-o", "out"]).spawn().unwrap();
    let part = sb.work().join("out/blob.bin.part");
    wait_for(|| std::fs::metadata(&part).is_ok_and(|m| m.len() > 9 * MIB as u64));
    if let Ok(Some(rec)) = xattr::get(&part, "user.oci-dl.resume") {
        let v: serde_json::Value = serde_json::from_slice(&rec).unwrap();
        assert!(v["written"].as_u64().unwrap() >= 8 * MIB as u64, "checkpointed every 8 MiB: {v}");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!sb.work().join("out/blob.bin").exists(), "no final name holds partial bytes");
    slow.store(false, Ordering::SeqCst);
    let before = f.bytes_served();
    sb.run(&["pull", &r, "-o", "out"]).ok();
    let rerun = f.bytes_served() - before;
    assert!(rerun < data.len() as u64, "the rerun transferred {rerun} of {} bytes", data.len());
    let got = std::fs::read(sb.work().join("out/blob.bin")).unwrap();
    assert_eq!(
        oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &got),
        oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data)
    );
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// On a filesystem without user xattrs (ramfs) resume works from the `.part` length.
#[test]
fn without_xattrs_resume_uses_the_part_length() {
    let sb = Sandbox::new();
    let mnt = sb.path("ramfs");
    std::fs::create_dir_all(&mnt).unwrap();
    let Some(_guard) = Mount::new(&["-t", "ramfs", "ramfs"], &mnt) else { return };
    let data = noise(2 * MIB, 32);
    let fail_first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ff = fail_first.clone();
    let f = scripted(data.clone(), move |_, hit, b| {
        let r = Reply::blob(hit, b);
        if ff.load(Ordering::SeqCst) { r.fault(Fault::DropAfter(MIB)) } else { r }
    });
    let out = mnt.join("out");
    let r = format!("{}/x:v1", f.host);
    let out_s = out.to_str().unwrap();
    sb.run(&["pull", &r, "-o", out_s, "--retries", "0", "--no-cache"])
        .fails(6, "read failed after");
    let kept = std::fs::metadata(out.join("blob.bin.part")).unwrap().len();
    assert!(kept > 0);
    fail_first.store(false, Ordering::SeqCst);
    let run = sb.run(&["pull", &r, "-o", out_s, "-v", "--no-cache"]);
    run.ok();
    assert!(
        run.stderr.contains("no xattrs on this filesystem; resuming from the .part length"),
        "{}",
        run.stderr
    );
    assert_eq!(range_of(&f.hits_to("/v2/x/blobs/").pop().unwrap()), Some(kept));
    assert_eq!(std::fs::read(out.join("blob.bin")).unwrap(), data);
}

#[test]
fn two_processes_pulling_into_one_place_take_turns() {
    let data = noise(6 * MIB, 33);
    let f = scripted(data.clone(), |_, hit, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(8 * MIB as u64))
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let a = sb
        .cmd(&["pull", &r, "-o", "out", "--no-cache", "-j", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(|| std::fs::metadata(sb.work().join("out/blob.bin.part")).is_ok_and(|m| m.len() > 0));
    let b = sb
        .cmd(&["pull", &r, "-o", "out", "--no-cache", "-j", "1", "--overwrite", "force"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) =
        (Run::from(a.wait_with_output().unwrap()), Run::from(b.wait_with_output().unwrap()));
    a.ok();
    b.ok();
    assert!(
        b.stderr.contains("is being written by another process; waiting for it"),
        "{}",
        b.stderr
    );
    assert_eq!(std::fs::read(sb.work().join("out/blob.bin")).unwrap(), data);
    assert!(!sb.work().join("out/blob.bin.part").exists());
}
