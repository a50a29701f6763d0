//! Files planted in the output directory by someone else, and directories swapped for symlinks
//! mid-download. Whatever is planted, oci-dl writes only under the directory it checked.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
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
