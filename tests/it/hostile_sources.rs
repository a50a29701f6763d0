//! Hostile sources besides the registry: a mirror that mixes bad bytes into a resumed download,
//! a local writer racing the hash of a cache entry, a challenge planted in the cache directory.
//! Each test states what the README promises (found by an attacker's review of the mirrors,
//! cache stamps and remembered challenges).

use std::os::unix::fs::FileExt;

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

/// README Mirrors: a mirror's bad bytes "are discarded … and the download starts over from the
/// next source". Here the mirror serves corrupt bytes without an ETag, drops the connection
/// half-way, and answers the resuming Range request with a 500: it is dropped, the registry
/// serves the rest, and the whole (mixed) file fails its digest. The last server is the
/// registry, so nobody is blamed and the pull fails although the registry has the right bytes.
#[test]
fn corrupt_bytes_from_a_mirror_that_then_fails_the_resume_still_fall_through() {
    let data = noise(200_000, 91);
    let files = vec![("a.bin", data.clone())];
    let bad = fake::artifact_with(files.clone(), Guard::Open, |hit, _, bytes| {
        if hit.header("range").is_some() {
            return Reply::new(500, "mirror trouble");
        }
        let mut b = bytes.to_vec();
        b[10] ^= 0xff;
        Reply::new(200, b).fault(Fault::DropAfter(100_000))
    });
    let origin = fake::artifact_with(files, Guard::Open, |hit, _, b| Reply::blob(hit, b));
    origin.allow_unexpected("the registry may or may not be asked for the manifest");
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", origin.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "1", "-v", "--mirror", &bad.host]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), data);
}

/// The cache's pid-th open file that is `path`, and its read offset (from /proc).
fn read_offset(pid: u32, path: &std::path::Path) -> Option<u64> {
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if std::fs::read_link(fd.path()).ok().as_deref() == Some(path) {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_str()?))
                    .ok()?;
            return info.lines().find_map(|l| l.strip_prefix("pos:")?.trim().parse().ok());
        }
    }
    None
}

/// README Cache: an entry "written since, even in place through a hard link" is hashed in full.
/// The stamp is taken after the hash, from the file as it is then: a write that lands while an
/// unstamped entry is being hashed (behind the hasher) is stamped as verified, and every later
/// pull trusts the damaged entry without hashing it.
#[test]
fn a_write_while_an_entry_is_hashed_is_not_stamped_as_verified() {
    let data = noise(192 * 1024 * 1024, 92);
    let origin = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, |hit, _, b| {
        Reply::blob(hit, b)
    });
    origin.allow_unexpected("three pulls, the second and third from the cache");
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", origin.host);
    sb.run(&["pull", &r, "-o", "one", "-j", "1"]).ok();
    let hex = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex().to_owned();
    let entry = sb.path("home/.cache/oci-dl/blobs/sha256").join(&hex);
    let stamp = sb.path("home/.cache/oci-dl/stamps/sha256").join(&hex);
    let _ = std::fs::remove_file(&stamp); // a fresh download is not stamped: the use hashes it
    let mut child = sb.cmd(&["pull", &r, "-o", "two", "-j", "1"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let wrote = loop {
        if let Some(pos) = read_offset(child.id(), &entry)
            && pos > 1024 * 1024
            && pos < data.len() as u64
        {
            // Behind the hasher: the bytes it already read change.
            let f = std::fs::OpenOptions::new().write(true).open(&entry).unwrap();
            f.write_all_at(b"EVIL", 0).unwrap();
            break true;
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
    };
    child.wait().unwrap();
    if !wrote {
        eprintln!("the hash was too quick to race; inconclusive");
        return;
    }
    let run = sb.run(&["pull", &r, "-o", "three", "-j", "1", "-v"]);
    run.ok();
    let got = std::fs::read(sb.work().join("three/big.bin")).unwrap();
    assert!(got == data, "a damaged entry was trusted as verified:\n{}", run.stderr);
}

/// README Auth: a remembered challenge's "realm obeys the same rules as a fresh one's". But a
/// fresh realm is named by the registry over its own connection; a remembered one by whoever
/// could write the cache directory (`--cache` may be shared). The registry here never asks for
/// auth, yet a planted `challenges/<host>.json` sends the user's password to another host before
/// the registry is asked. (Plain HTTP stands in for an HTTPS realm on a TLS registry, which
/// the same code allows; the loopback fakes speak no TLS.)
#[test]
fn a_planted_challenge_does_not_send_credentials_to_a_host_the_registry_never_named() {
    let origin = fake::artifact(vec![("a.txt", b"hello\n".to_vec())], Guard::Open, None);
    let evil = fake::Fake::start(|_| Reply::new(200, r#"{"token":"t0k"}"#));
    evil.allow_unexpected("it only records what it is sent");
    let sb = Sandbox::new();
    let dir = sb.path("home/.cache/oci-dl/challenges");
    std::fs::create_dir_all(&dir).unwrap();
    let name = origin.host.replace(':', "%3A");
    let record = format!(
        r#"{{"registry":"{}","scheme":"bearer","realm":"http://{}/token"}}"#,
        origin.host, evil.host
    );
    std::fs::write(dir.join(format!("{name}.json")), record).unwrap();
    let r = format!("{}/x:v1", origin.host);
    let out = sb
        .cmd(&["pull", &r, "-o", "out", "-u", "alice", "--plain-http"])
        .env("OCI_DL_PASSWORD", "hunter2-secret")
        .output()
        .unwrap();
    Run::from(out).ok();
    let leaked: Vec<_> = evil
        .hits()
        .into_iter()
        .filter_map(|h| h.header("authorization").map(str::to_owned))
        .collect();
    assert!(leaked.is_empty(), "credentials sent to {}: {leaked:?}", evil.host);
}
