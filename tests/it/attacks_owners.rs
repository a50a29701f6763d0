//! The attacker against this session's changes, part two: files a pull hands over (outputs,
//! `-x`, `--format oci-layout|oci-archive`) when another user can write where they land. Each
//! test needs root to act as uid 65534 (`setpriv`) or give it files (`chown`), and says so.

use std::time::{Duration, Instant};

use crate::support::fake;
use crate::support::*;

/// Another user who can write the output directory (a shared drop directory, mode 1777) plants
/// `out/f` with the right bytes, owned by them; a careless user has `out/g` hard-linked to a copy
/// elsewhere. A pull must not hand either over as "up to date": the planter could rewrite their
/// file after the pull, and an edit of the copy elsewhere would reach the pulled file. Each is
/// replaced by a file of the user's own, of the same bytes. Class: a file taken as the user's
/// because its bytes verified, whoever owns it. Needs root, to act as uid 65534 with `setpriv`.
#[test]
fn outputs_x_other_users_verified_file_is_replaced_by_the_users_own() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(me, 0, "this test acts as uid 65534 with setpriv: run it as root");
    let files = vec![("f", b"the file\n".to_vec()), ("g", b"another\n".to_vec())];
    let fk = fake::artifact(files, fake::Guard::Open, None);
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = sb.work();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let ran = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "sh", "-c"])
        .arg("umask 022 && printf 'the file\\n' > work/out/f")
        .current_dir(sb.dir.path())
        .output()
        .expect("setpriv (util-linux) is needed to act as another user");
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    std::fs::write(root.join("g-elsewhere"), b"another\n").unwrap();
    std::fs::hard_link(root.join("g-elsewhere"), out.join("g")).unwrap();
    let c = Canaries::plant(&root);
    let reference = format!("{}/x:v1", fk.host);
    sb.run(&["pull", &reference, "-o", "out", "--no-cache"]).ok();
    let f = std::fs::metadata(out.join("f")).unwrap();
    assert_eq!(f.uid(), 0, "out/f is the user's own now");
    let g = std::fs::metadata(out.join("g")).unwrap();
    assert_eq!(g.nlink(), 1, "out/g shares no inode with the copy elsewhere");
    assert_eq!(std::fs::read(out.join("f")).unwrap(), b"the file\n");
    assert_eq!(std::fs::read(out.join("g")).unwrap(), b"another\n");
    assert_eq!(std::fs::read(root.join("g-elsewhere")).unwrap(), b"another\n");
    c.assert_unchanged();
}

/// `--format oci-layout` into a layout whose blobs (the manifest's and a layer's) hold the right
/// bytes in files another user owns (`chown`, as a shared layout directory gets them): neither is
/// kept as is — each becomes a file of the user's own with the same bytes, as any output does.
/// The manifest's was also hashed in full whatever its size; it is sized first now. Needs root.
#[test]
fn layout_out_x_other_users_blobs_are_replaced_by_the_users_own() {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(me, 0, "this test gives files to uid 65534 with chown: run it as root");
    let files = vec![("f", b"the file\n".to_vec())];
    let fk = fake::artifact(files, fake::Guard::Open, None);
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    let reference = format!("{}/x:v1", fk.host);
    sb.run(&["pull", &reference, "--format", "oci-layout", "-o", "out", "--no-cache"]).ok();
    let blobs = sb.work().join("out/blobs/sha256");
    let mut names: Vec<_> =
        std::fs::read_dir(&blobs).unwrap().flatten().map(|e| e.path()).collect();
    names.sort();
    assert!(names.len() >= 2, "a manifest and a layer at least: {names:?}");
    for p in &names {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    sb.run(&["pull", &reference, "--format", "oci-layout", "-o", "out", "--no-cache"]).ok();
    for p in &names {
        let m = std::fs::metadata(p).unwrap();
        assert_eq!((m.uid(), m.nlink()), (0, 1), "{} is the user's own now", p.display());
    }
    c.assert_unchanged();
}

/// `-x` into a shared directory (mode 1777) where another user planted `bin/tool` with the bytes
/// the archive holds: the unpacked file must be the user's own, not the planter's file kept as
/// "the same content" (they could rewrite it after the pull). Class: as
/// `outputs_x_other_users_verified_file_is_replaced_by_the_users_own`, for archives. Needs root.
#[test]
fn extract_x_other_users_same_content_file_is_replaced_by_the_users_own() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(me, 0, "this test acts as uid 65534 with setpriv: run it as root");
    let body = b"#!/bin/sh\necho tool\n";
    let tgz =
        crate::extract::gz(&crate::extract::tar(&[crate::extract::E::File("tool", body, 0o644)]));
    let fk = fake::artifact(vec![("tool.tar.gz", tgz)], fake::Guard::Open, None);
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sb.work().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let ran = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "sh", "-c"])
        .arg("umask 022 && printf '#!/bin/sh\\necho tool\\n' > work/out/tool")
        .current_dir(sb.dir.path())
        .output()
        .expect("setpriv (util-linux) is needed to act as another user");
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let c = Canaries::plant(&sb.work());
    let reference = format!("{}/x:v1", fk.host);
    sb.run(&["pull", &reference, "-o", "out", "-x", "--no-cache"]).ok();
    let m = std::fs::metadata(out.join("tool")).unwrap();
    assert_eq!(m.uid(), 0, "out/tool is the user's own now");
    assert_eq!(std::fs::read(out.join("tool")).unwrap(), body);
    c.assert_unchanged();
}

/// `--format oci-archive -o drop/a.tar` where `drop` is writable by another user (a shared,
/// non-sticky directory): while a blob downloads, they rename the staging directory away and put
/// at its name a directory of their own whose blob is a symlink to a file only root may read.
/// The tar must be made from what the pull staged, never from what is at the staging name now
/// (it was read by path, following links: the secret went into the archive). Needs root.
#[test]
fn archive_out_x_staging_swapped_by_another_user_is_not_read() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(me, 0, "this test acts as uid 65534 with setpriv: run it as root");
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let fk = fake::artifact_with(
        vec![("f", b"the file\n".to_vec())],
        fake::Guard::Open,
        move |h, _, b| {
            while !g.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            fake::Reply::blob(h, b)
        },
    );
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let drop = sb.work().join("drop");
    std::fs::create_dir(&drop).unwrap();
    std::fs::set_permissions(&drop, std::fs::Permissions::from_mode(0o777)).unwrap();
    let c = Canaries::plant_beside(&sb.work(), "drop");
    let reference = format!("{}/x:v1", fk.host);
    let mut child = sb.cmd(&["pull", &reference, "--format", "oci-archive", "-o", "drop/a.tar"]);
    let child = child.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let staging = loop {
        let found = std::fs::read_dir(&drop).unwrap().flatten().find(|e| {
            e.file_name().to_string_lossy().starts_with(".oci-dl-layout-")
                && e.path().join("oci-layout").exists()
        });
        if let Some(e) = found {
            break e.file_name().to_string_lossy().into_owned();
        }
        assert!(Instant::now() < deadline, "no staging directory appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    let victim = c.victim();
    let script = format!(
        "cd work/drop && mv {staging} stolen && mkdir -p evil/blobs/sha256 && \
         printf '{{\"imageLayoutVersion\":\"1.0.0\"}}' > evil/oci-layout && printf '{{\"schemaVersion\":2,\"manifests\":[]}}' > evil/index.json && \
         ln -s {} evil/blobs/sha256/{} && mv evil {staging}",
        victim.display(),
        "ab".repeat(32)
    );
    let ran = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "sh", "-c", &script])
        .current_dir(sb.dir.path())
        .output()
        .expect("setpriv (util-linux) is needed to act as another user");
    go.store(true, Ordering::SeqCst);
    let done = child.wait_with_output().unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let tar = std::fs::read(drop.join("a.tar")).unwrap_or_default();
    let secret = std::fs::read(&victim).unwrap();
    assert!(!tar.windows(secret.len()).any(|w| w == secret), "the secret is in the archive");
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "the pull made its archive from what it staged: {stderr}");
    assert!(tar.windows(9).any(|w| w == b"the file\n"), "the pulled file is in the archive");
    c.assert_unchanged();
}
