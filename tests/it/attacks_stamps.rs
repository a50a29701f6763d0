//! `cache prune` and the stamps directory (`stamps/<algorithm>/<hex>`, swept since prune drops
//! the stamps of entries that are gone): in a shared cache another user may prune too, and
//! names shaped like stamps may be anything. Acts as uid 65534 with `setpriv`: needs root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use oci_dl::{Algorithm, Digest};

use crate::support::fake::{self, Guard};
use crate::support::*;

/// `sh -c script` in `dir` as uid/gid 65534, with no supplementary groups.
#[track_caller]
fn as_nobody(dir: &Path, script: &str) -> std::process::Output {
    let ids = ["--reuid", "65534", "--regid", "65534", "--clear-groups"];
    Command::new("setpriv")
        .args(ids)
        .args(["sh", "-c", script])
        .current_dir(dir)
        .output()
        .expect("setpriv (util-linux) is needed to act as another user")
}

fn mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// A shared cache (its directories opened to all, mode 0777) holding three stamped entries,
/// one then deleted by hand. Another user's prune removes only its own orphan stamp; the
/// user's prune removes the user's orphan and leaves the other user's stamp, the live
/// entries' stamps, and a FIFO, a directory, a symlink and a hard link named like stamps —
/// with what the links point to — alone. Canaries around the cache stay.
#[test]
fn cache_prune_x_shared_stamps_each_user_drops_only_their_own_orphans() {
    assert_eq!(std::fs::metadata("/proc/self").unwrap().uid(), 0, "run as root (setpriv)");
    let files: Vec<(&str, Vec<u8>)> =
        ["a", "b", "c"].iter().zip(1..).map(|(n, i)| (*n, noise(3000, i))).collect();
    let hex: Vec<String> =
        files.iter().map(|(_, b)| Digest::of(Algorithm::Sha256, b).hex().to_owned()).collect();
    let f = fake::artifact(files, Guard::Open, None);
    let sb = Sandbox::new();
    mode(sb.dir.path(), 0o755);
    let cache = sb.path("shared/c");
    let c = cache.to_str().unwrap();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "o1", "--cache", c]).ok();
    std::thread::sleep(std::time::Duration::from_millis(300));
    sb.run(&["pull", &r, "-o", "o2", "--cache", c]).ok(); // the second use stamps them
    let stamps = cache.join("stamps/sha256");
    for dir in [sb.path("shared"), cache.clone(), cache.join("stamps"), stamps.clone()] {
        mode(&dir, 0o777);
    }
    std::fs::remove_file(cache.join("blobs/sha256").join(&hex[1])).unwrap();
    let name = |s: &str| Digest::of(Algorithm::Sha256, s.as_bytes()).hex().to_owned();
    let (theirs, fifo, dir, link, hard) =
        (name("theirs"), name("fifo"), name("dir"), name("link"), name("hard"));
    let precious = sb.path("precious");
    std::fs::write(&precious, b"mine").unwrap();
    std::fs::write(sb.path("precious2"), b"mine too").unwrap();
    assert!(Command::new("mkfifo").arg(stamps.join(&fifo)).status().unwrap().success());
    std::fs::create_dir(stamps.join(&dir)).unwrap();
    std::os::unix::fs::symlink(&precious, stamps.join(&link)).unwrap();
    std::fs::hard_link(sb.path("precious2"), stamps.join(&hard)).unwrap();
    let made = as_nobody(sb.dir.path(), &format!("echo x > shared/c/stamps/sha256/{theirs}"));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let around = Canaries::plant_beside(&sb.path("shared"), "c");
    let bin = env!("CARGO_BIN_EXE_oci-dl");
    let pruned = as_nobody(
        sb.dir.path(),
        &format!("HOME=/nonexistent {bin} cache prune --cache {c} --max-size 10G"),
    );
    assert!(pruned.status.success(), "{}", String::from_utf8_lossy(&pruned.stderr));
    let left = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let mut want = vec![hex[0].clone(), hex[1].clone(), hex[2].clone(), fifo, dir, link, hard];
    want.sort();
    assert_eq!(left(&stamps), want, "theirs went, nothing of the user's");
    sb.run(&["cache", "prune", "--cache", c, "--max-size", "10G"]).ok();
    want.retain(|n| *n != hex[1]);
    assert_eq!(left(&stamps), want, "the user's orphan went");
    assert_eq!(std::fs::read(&precious).unwrap(), b"mine");
    let p2 = std::fs::metadata(sb.path("precious2")).unwrap();
    assert_eq!(
        (p2.nlink(), std::fs::read(sb.path("precious2")).unwrap()),
        (2, b"mine too".to_vec())
    );
    around.assert_unchanged();
}

/// `stamps` replaced by a symlink to a directory holding a stamp-shaped file: prune stops
/// (exit 1, naming it) before anything is deleted, even asked to empty the cache.
#[test]
fn cache_prune_x_a_stamps_dir_that_is_a_symlink_stops_it_before_anything_goes() {
    let f = fake::artifact(vec![("a", noise(3000, 7))], Guard::Open, None);
    let sb = Sandbox::new();
    let cache = sb.path("c");
    let c = cache.to_str().unwrap();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "o1", "--cache", c]).ok();
    let blobs_before = tree(&cache.join("blobs"));
    let elsewhere = sb.path("elsewhere");
    std::fs::create_dir_all(elsewhere.join("sha256")).unwrap();
    let orphan = elsewhere.join("sha256").join("f".repeat(64));
    std::fs::write(&orphan, b"not a stamp of this cache").unwrap();
    if cache.join("stamps").exists() {
        std::fs::remove_dir_all(cache.join("stamps")).unwrap();
    }
    std::os::unix::fs::symlink(&elsewhere, cache.join("stamps")).unwrap();
    let run = sb.run(&["cache", "prune", "--cache", c, "--max-size", "0"]);
    run.fails(1, "symlink");
    assert_eq!(tree(&cache.join("blobs")), blobs_before, "nothing deleted");
    assert_eq!(std::fs::read(&orphan).unwrap(), b"not a stamp of this cache");
}
