//! Files planted in the output directory by someone else: `.part` links, FIFOs, foreign owners,
//! corrupt partial files, and directories swapped for symlinks mid-download. Whatever is planted,
//! oci-dl writes only regular files it created itself, under the directory it checked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

/// Run `cmd`, killing it (and failing the test) if it is still running after `secs`.
#[track_caller]
fn run_within(mut cmd: Command, secs: u64) -> Run {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("hung for {secs} s; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::from(child.wait_with_output().unwrap())
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This process's umask, as files it creates get it.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// The user the test (and so the binary) runs as.
fn my_uid(sb: &Sandbox) -> u32 {
    std::fs::metadata(sb.work()).unwrap().uid()
}

fn range_of(h: &fake::Hit) -> Option<u64> {
    h.header("range")?.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// What can be planted at a `.part`: each must leave the victim alone and not hang the run.
#[derive(Debug, Clone, Copy)]
enum Plant {
    Symlink,
    HardLink,
    Fifo,
}

const PLANTS: [Plant; 3] = [Plant::Symlink, Plant::HardLink, Plant::Fifo];

fn plant(kind: Plant, at: &Path, victim: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    match kind {
        Plant::Symlink => std::os::unix::fs::symlink(victim, at).unwrap(),
        Plant::HardLink => std::fs::hard_link(victim, at).unwrap(),
        Plant::Fifo => mkfifo(at),
    }
}

#[test]
fn manifest_o_never_writes_through_a_planted_part() {
    let f = fake::artifact(vec![("a.bin", b"a".to_vec())], Guard::Open, None);
    let r = format!("{}/x:v1", f.host);
    for kind in PLANTS {
        let sb = Sandbox::new();
        let c = Canaries::plant(&sb.work());
        let file = sb.work().join("out/m.json");
        plant(kind, &oci_dl::part_path(&file), &c.victim());
        let run = run_within(sb.cmd(&["manifest", &r, "-o", "out/m.json"]), 20);
        run.ok();
        let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap())
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(body["layers"][0]["annotations"]["org.opencontainers.image.title"], "a.bin");
        assert_eq!(tree(&sb.work().join("out")), ["m.json"], "{kind:?}: the plant is gone");
        let m = std::fs::symlink_metadata(&file).unwrap();
        assert!(m.is_file() && m.nlink() == 1, "{kind:?}: a file of its own");
        c.assert_unchanged();
    }
}

#[test]
fn pull_and_blob_never_write_into_a_planted_part() {
    let data = noise(300_000, 51);
    let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data);
    let f = fake::artifact_with(vec![("blob.bin", data.clone())], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b)
    });
    let pull = format!("{}/x:v1", f.host);
    let blob = format!("{}/x@{d}", f.host);
    for kind in PLANTS {
        for (args, file) in [
            (vec!["pull", &pull, "-o", "out", "--no-cache"], "out/blob.bin"),
            (vec!["blob", &blob, "-o", "out/b.bin", "--no-cache"], "out/b.bin"),
        ] {
            let sb = Sandbox::new();
            let c = Canaries::plant(&sb.work());
            let file = sb.work().join(file);
            plant(kind, &oci_dl::part_path(&file), &c.victim());
            let mut args = args.clone();
            args.push("-v");
            let run = run_within(sb.cmd(&args), 20);
            run.ok();
            assert!(run.stderr.contains("not resuming"), "{kind:?} {args:?}: {}", run.stderr);
            assert_eq!(std::fs::read(&file).unwrap(), data, "{kind:?} {args:?}");
            assert!(!oci_dl::part_path(&file).exists(), "{kind:?} {args:?}");
            assert_eq!(std::fs::metadata(&file).unwrap().nlink(), 1, "{kind:?} {args:?}");
            c.assert_unchanged();
        }
    }
}

/// A `.part` that cannot be replaced (a directory) is a clear one-line error, not a hang.
#[test]
fn a_part_that_cannot_be_replaced_is_a_clear_error() {
    let f = fake::artifact(vec![("blob.bin", b"x".to_vec())], Guard::Open, None);
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    std::fs::create_dir_all(sb.work().join("out/blob.bin.part/inside")).unwrap();
    let r = format!("{}/x:v1", f.host);
    run_within(sb.cmd(&["pull", &r, "-o", "out"]), 20)
        .fails(1, "out/blob.bin.part exists and is not a file oci-dl can replace");
    assert!(!sb.work().join("out/blob.bin").exists());
    c.assert_unchanged();
}

/// `sub/blob.bin` downloads slowly; meanwhile `out/sub` is moved away and replaced by a symlink
/// to a victim directory. The file must land in the directory that was checked (now
/// `out/sub-moved`), nothing in the victim's.
#[test]
fn a_directory_swapped_for_a_symlink_mid_download_is_not_followed() {
    let data = noise(MIB, 52);
    let f = fake::artifact_with(vec![("sub/blob.bin", data.clone())], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(256 * 1024))
    });
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    let out = sb.work().join("out");
    let r = format!("{}/x:v1", f.host);
    let mut child = sb
        .cmd(&["pull", &r, "-o", "out", "-j", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let part = out.join("sub/blob.bin.part");
    wait_for(|| std::fs::metadata(&part).is_ok_and(|m| m.len() > 0));
    std::fs::rename(out.join("sub"), out.join("sub-moved")).unwrap();
    std::os::unix::fs::symlink(c.victim().parent().unwrap(), out.join("sub")).unwrap();
    assert!(child.try_wait().unwrap().is_none(), "the swap happened mid-download");
    let run = Run::from(child.wait_with_output().unwrap());
    run.ok();
    assert_eq!(std::fs::read(out.join("sub-moved/blob.bin")).unwrap(), data);
    assert!(!out.join("sub-moved/blob.bin.part").exists());
    c.assert_unchanged();
}

/// A one-layer artifact whose blob GETs drop after 1 MiB while `fail` is set.
fn flaky(data: Vec<u8>, fail: Arc<AtomicBool>) -> fake::Fake {
    fake::artifact_with(vec![("blob.bin", data)], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if fail.load(Ordering::SeqCst) { r.fault(Fault::DropAfter(MIB + 5)) } else { r }
    })
}

/// Leave `out/blob.bin.part` (with its resume record) as an interrupted pull does; its length.
fn interrupted(sb: &Sandbox, f: &fake::Fake, fail: &AtomicBool) -> u64 {
    fail.store(true, Ordering::SeqCst);
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "out", "--retries", "0"]).fails(6, "read failed after");
    fail.store(false, Ordering::SeqCst);
    let kept = std::fs::metadata(sb.work().join("out/blob.bin.part")).unwrap().len();
    assert!(kept > 0);
    kept
}

/// Whether this process may give files away (root, as in CI).
fn can_chown(sb: &Sandbox) -> bool {
    let probe = sb.path("chown-probe");
    std::fs::write(&probe, "").unwrap();
    let ok = std::os::unix::fs::chown(&probe, Some(65534), Some(65534)).is_ok();
    crate::support::require(ok, "root, to give files to another uid (the tests run as root)");
    ok
}

/// The final file: the right bytes, owned by us, mode 0644 less the umask.
#[track_caller]
fn assert_ours(sb: &Sandbox, file: &Path, data: &[u8]) {
    assert_eq!(std::fs::read(file).unwrap(), data);
    let m = std::fs::metadata(file).unwrap();
    assert_eq!(m.uid(), my_uid(sb), "owned by the running user");
    assert_eq!(m.permissions().mode() & 0o7777, 0o644 & !umask(), "mode");
}

#[test]
fn a_part_owned_by_another_user_is_not_resumed() {
    let data = noise(3 * MIB, 53);
    let fail = Arc::new(AtomicBool::new(false));
    let f = flaky(data.clone(), fail.clone());
    let sb = Sandbox::new();
    if !can_chown(&sb) {
        return;
    }
    let c = Canaries::plant(&sb.work());
    interrupted(&sb, &f, &fail);
    let part = sb.work().join("out/blob.bin.part");
    std::os::unix::fs::chown(&part, Some(65534), Some(65534)).unwrap();
    let gets = f.hits_to("/v2/x/blobs/").len();
    let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-v"]);
    run.ok();
    assert!(run.stderr.contains("owned by uid 65534; not resuming"), "{}", run.stderr);
    let rerun = &f.hits_to("/v2/x/blobs/")[gets..];
    assert_eq!(rerun.len(), 1);
    assert_eq!(range_of(&rerun[0]), None, "started over from byte 0");
    assert_ours(&sb, &sb.work().join("out/blob.bin"), &data);
    assert_eq!(tree(&sb.work().join("out")), ["blob.bin"]);
    c.assert_unchanged();
}

#[test]
fn a_part_others_may_write_is_not_resumed() {
    let data = noise(3 * MIB, 54);
    let fail = Arc::new(AtomicBool::new(false));
    let f = flaky(data.clone(), fail.clone());
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    interrupted(&sb, &f, &fail);
    let part = sb.work().join("out/blob.bin.part");
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o666)).unwrap();
    let gets = f.hits_to("/v2/x/blobs/").len();
    let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-v"]);
    run.ok();
    assert!(run.stderr.contains("writable by others; not resuming"), "{}", run.stderr);
    let rerun = &f.hits_to("/v2/x/blobs/")[gets..];
    assert_eq!(rerun.len(), 1);
    assert_eq!(range_of(&rerun[0]), None, "started over from byte 0");
    assert_ours(&sb, &sb.work().join("out/blob.bin"), &data);
    c.assert_unchanged();
}

/// In a shared sticky directory, another user's `.part` cannot be removed: a one-line error,
/// and that file is left as it was.
#[test]
fn a_foreign_part_that_cannot_be_removed_is_a_clear_error() {
    let data = noise(100_000, 58);
    let f = fake::artifact(vec![("blob.bin", data)], Guard::Open, None);
    let sb = Sandbox::new();
    if !can_chown(&sb) {
        return;
    }
    let out = sb.work().join("out");
    std::fs::create_dir(&out).unwrap();
    for (p, mode) in [(sb.dir.path(), 0o755), (&sb.work(), 0o755), (&out, 0o1777)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let c = Canaries::plant(&sb.work());
    let part = out.join("blob.bin.part");
    std::fs::write(&part, b"root's own bytes").unwrap();
    let bin = env!("CARGO_BIN_EXE_oci-dl");
    let r = format!("{}/x:v1", f.host);
    let nobody = ["--reuid", "65534", "--regid", "65534", "--clear-groups", bin];
    let args = [&nobody[..], &["pull", &r, "-o", "out", "--no-cache"]].concat();
    let run = Run::from(sb.cmd(&[]).output_with_program("setpriv", &args));
    run.fails(1, "out/blob.bin.part is owned by uid 0 and cannot be removed");
    assert_eq!(std::fs::read(&part).unwrap(), b"root's own bytes");
    assert!(!out.join("blob.bin").exists());
    c.assert_unchanged();
}

/// An ELF file keeps 0755 less the umask when it is started over from a foreign `.part`.
#[test]
fn a_foreign_part_of_an_elf_file_ends_as_our_0755_file() {
    let mut data = b"\x7fELF".to_vec();
    data.extend(noise(3 * MIB, 55));
    let fail = Arc::new(AtomicBool::new(false));
    let f = flaky(data.clone(), fail.clone());
    let sb = Sandbox::new();
    interrupted(&sb, &f, &fail);
    let part = sb.work().join("out/blob.bin.part");
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o646)).unwrap();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out"]).ok();
    assert_eq!(range_of(&f.hits_to("/v2/x/blobs/").pop().unwrap()), None, "started over");
    let file = sb.work().join("out/blob.bin");
    assert_eq!(std::fs::read(&file).unwrap(), data);
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o755 & !umask());
}

/// A `.part` whose bytes on disk were damaged, with a record that matches the blob: the resume
/// cannot verify, so the download starts again from byte 0 and succeeds. The registry did
/// nothing wrong: no exit 5.
#[test]
fn a_damaged_part_with_a_matching_record_restarts_from_zero() {
    use std::os::unix::fs::FileExt;
    let data = noise(3 * MIB, 56);
    let fail = Arc::new(AtomicBool::new(false));
    let f = flaky(data.clone(), fail.clone());
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    let kept = interrupted(&sb, &f, &fail);
    let part = sb.work().join("out/blob.bin.part");
    let file = std::fs::OpenOptions::new().write(true).open(&part).unwrap();
    file.write_all_at(b"\0\0damage\0\0", 1000).unwrap(); // in place: the record stays
    drop(file);
    let gets = f.hits_to("/v2/x/blobs/").len();
    let before = f.bytes_served();
    let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "-v"]);
    run.ok();
    assert!(
        run.stderr.contains("the partial file did not verify; restarting the download from 0"),
        "{}",
        run.stderr
    );
    let rerun = &f.hits_to("/v2/x/blobs/")[gets..];
    assert_eq!(rerun.len(), 2, "the resume, then one download from the start");
    assert_eq!(range_of(&rerun[0]), Some(kept), "resumed first");
    assert_eq!(range_of(&rerun[1]), None, "then asked again from byte 0");
    let served = f.bytes_served() - before;
    assert!(served >= 2 * data.len() as u64 - kept, "the whole blob was sent again: {served}");
    assert_ours(&sb, &sb.work().join("out/blob.bin"), &data);
    assert_eq!(tree(&sb.work().join("out")), ["blob.bin"]);
    c.assert_unchanged();
}

/// The same for `oci-dl blob` (no size known in advance) after a run that was cut off.
#[test]
fn blob_o_restarts_a_damaged_part_too() {
    use std::os::unix::fs::FileExt;
    let data = noise(2 * MIB, 57);
    let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data);
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let f = fake::artifact_with(vec![("b", data.clone())], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if n2.fetch_add(1, Ordering::SeqCst) == 0 { r.fault(Fault::DropAfter(MIB)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x@{d}", f.host);
    sb.run(&["blob", &r, "-o", "b.bin", "--retries", "0"]).fails(6, "read failed after");
    let part = sb.work().join("b.bin.part");
    let file = std::fs::OpenOptions::new().write(true).open(&part).unwrap();
    file.write_all_at(b"damage", 10).unwrap();
    drop(file);
    let run = sb.run(&["blob", &r, "-o", "b.bin", "-v"]);
    run.ok();
    assert!(run.stderr.contains("did not verify"), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("b.bin")).unwrap(), data);
    let gets = f.hits_to("/v2/x/blobs/");
    assert_eq!(range_of(gets.last().unwrap()), None);
}
