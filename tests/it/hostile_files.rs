//! Files planted in the output directory by someone else: `.part` links, FIFOs, foreign owners,
//! corrupt partial files, and directories swapped for symlinks mid-download. Whatever is planted,
//! oci-dl writes only regular files it created itself, under the directory it checked.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
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
