//! Mirrors (issue 16): `registries.conf` v2 and `--mirror`, against the CNCF registry as a
//! pull-through cache (`proxy.remoteurl`) of a second one, and fakes for the faults.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::fake::{self, Fake, Guard, Reply};
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

fn user_conf(sb: &Sandbox, text: &str) {
    let dir = sb.path("home/.config/containers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("registries.conf"), text).unwrap();
}

fn mirror_conf(registry: &str, mirror: &str, extra: &str) -> String {
    format!(
        "[[registry]]\nlocation = \"{registry}\"\n[[registry.mirror]]\nlocation = \"{mirror}\"\n{extra}"
    )
}

#[test]
fn a_second_runner_through_a_pull_through_cache_asks_the_upstream_for_no_blob() {
    let (Some(upstream), Some(proxy)) = (registry::upstream(), registry::proxy()) else { return };
    let layers = [
        Layer::titled("tool-linux-amd64", noise(300_000, 61)),
        Layer::titled("tool-linux-arm64", noise(200_000, 62)),
        Layer::titled("SHA256SUMS", b"checksums\n".to_vec()),
    ];
    let (digest, _) = Pusher::new(upstream).artifact("fleet/tool", "v1", &layers);
    let reference = format!("{}/fleet/tool@{digest}", upstream.host);
    let conf = mirror_conf(&upstream.host, &proxy.host, "");

    let first = Sandbox::new();
    user_conf(&first, &conf);
    let run = first.run(&["pull", &reference, "-o", "out", "-v"]);
    run.ok();
    for l in &layers {
        assert!(
            run.stderr.contains(&format!("blob {} from {}", l.digest(), proxy.host)),
            "-v names the mirror that served each blob:\n{}",
            run.stderr
        );
        let hex = l.digest().hex().to_owned();
        let stored = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !proxy.stores(&hex) {
            assert!(std::time::Instant::now() < stored, "the proxy never stored {hex}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let blob_gets = upstream.gets("/v2/fleet/tool/blobs/");
    assert!(blob_gets >= layers.len(), "the proxy fetched each blob from the upstream once");

    let second = Sandbox::new();
    user_conf(&second, &conf);
    second.run(&["pull", &reference, "-o", "out"]).ok();
    for l in &layers {
        let got = std::fs::read(second.work().join("out").join(l.title.as_ref().unwrap()));
        assert_eq!(got.unwrap(), l.bytes);
    }
    assert_eq!(upstream.gets("/v2/fleet/tool/blobs/"), blob_gets, "no blob asked of the upstream");
    let log = std::fs::read_to_string(upstream.access_log.as_ref().unwrap()).unwrap();
    assert!(!log.contains("oci-dl/"), "neither runner went to the upstream itself:\n{log}");
}

#[test]
fn a_mirror_that_is_down_costs_one_connect_attempt() {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let files =
        vec![("a.bin", noise(50_000, 63)), ("b.bin", noise(60_000, 64)), ("c", b"c".to_vec())];
    let origin = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    let run =
        sb.run(&["pull", &format!("{}/x:v1", origin.host), "-o", "out", "-v", "--mirror", &dead]);
    run.ok();
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(sb.work().join("out").join(name)).unwrap(), bytes);
    }
    let tries = run.stderr.lines().filter(|l| l.contains(&format!("://{dead}/"))).count();
    assert_eq!(tries, 1, "one attempt at the dead mirror:\n{}", run.stderr);
    let served = format!(
        "blob {} from {}",
        oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &files[0].1),
        origin.host
    );
    assert!(run.stderr.contains(&served), "-v says the registry served it:\n{}", run.stderr);
}

#[test]
fn a_mirror_that_hangs_up_is_connected_to_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let files = vec![("a.bin", noise(40_000, 65)), ("b.bin", noise(30_000, 66))];
    let origin = fake::artifact(files, Guard::Open, None);
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", origin.host), "-o", "out", "--mirror", &host]).ok();
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection to the mirror, then none");
}

#[test]
fn a_mirror_serving_corrupt_bytes_falls_through_and_leaves_nothing_bad() {
    let files = vec![("a.bin", noise(70_000, 67)), ("b.bin", noise(80_000, 68))];
    let bad = fake::artifact_with(files.clone(), Guard::Open, |_, _, bytes| {
        let mut b = bytes.to_vec();
        b[100] ^= 0xff;
        Reply::new(200, b)
    });
    let origin = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", origin.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "1", "-v", "--mirror", &bad.host]);
    run.ok();
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(sb.work().join("out").join(name)).unwrap(), bytes);
    }
    assert_eq!(bad.hits_to("/v2/x/blobs/").len(), 1, "the mirror is not asked again");
    assert_eq!(origin.hits_to("/v2/x/blobs/").len(), 2, "the registry served both blobs");
    assert!(tree(&sb.work().join("out")).iter().all(|p| !p.ends_with(".part")));
    let cache = sb.path("home/.cache/oci-dl/blobs/sha256");
    for entry in tree(&cache) {
        let bytes = std::fs::read(cache.join(&entry)).unwrap();
        assert_eq!(
            oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &bytes).hex(),
            entry,
            "cache holds only verified bytes"
        );
    }
    let warned = format!("mirror {}: blob sha256:", bad.host);
    assert!(run.stderr.contains(&warned), "the mirror is named as the bad source:\n{}", run.stderr);
}

#[test]
fn a_tag_pull_skips_a_digest_only_mirror() {
    let files = vec![("a.txt", b"mirrored by digest".to_vec())];
    let origin = fake::artifact(files.clone(), Guard::Open, None);
    let unused = Fake::start(|_| Reply::unexpected());
    unused.expect_unused();
    let sb = Sandbox::new();
    let conf = mirror_conf(&origin.host, &unused.host, "pull-from-mirror = \"digest-only\"\n");
    // XDG_CONFIG_HOME, when set, is where the user's file is looked for.
    let xdg = sb.path("xdg");
    std::fs::create_dir_all(xdg.join("containers")).unwrap();
    std::fs::write(xdg.join("containers/registries.conf"), &conf).unwrap();
    let mut cmd = sb.cmd(&["pull", &format!("{}/x:v1", origin.host), "-o", "out"]);
    Run::from(cmd.env("XDG_CONFIG_HOME", &xdg).output().unwrap()).ok();
    assert_eq!(std::fs::read(sb.work().join("out/a.txt")).unwrap(), files[0].1);
}

#[test]
fn a_digest_pull_uses_a_digest_only_mirror() {
    let (Some(upstream), Some(proxy)) = (registry::upstream(), registry::proxy()) else { return };
    let layer = Layer::titled("notes.txt", b"by digest".to_vec());
    let (digest, _) =
        Pusher::new(upstream).artifact("fleet/notes", "v1", std::slice::from_ref(&layer));
    let sb = Sandbox::new();
    user_conf(
        &sb,
        &mirror_conf(&upstream.host, &proxy.host, "pull-from-mirror = \"digest-only\"\n"),
    );
    let run =
        sb.run(&["pull", &format!("{}/fleet/notes@{digest}", upstream.host), "-o", "out", "-v"]);
    run.ok();
    assert!(
        run.stderr.contains(&format!("blob {} from {}", layer.digest(), proxy.host)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("manifest fleet/notes@{digest} from {}", proxy.host)),
        "{}",
        run.stderr
    );
}

#[test]
fn a_blocked_reference_is_refused_before_any_request() {
    let f = Fake::start(|_| Reply::unexpected());
    f.expect_unused();
    let sb = Sandbox::new();
    user_conf(&sb, &format!("[[registry]]\nlocation = \"{}\"\nblocked = true\n", f.host));
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out"])
        .fails(2, "is blocked by [[registry]]");
}

#[test]
fn a_bad_registries_conf_is_a_one_line_usage_error_naming_the_file() {
    let sb = Sandbox::new();
    let file = sb.path("bad.conf");
    std::fs::write(
        &file,
        "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"https://m.io\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    sb.run(&["manifest", "r.io/x:1", "--registries-conf", f])
        .fails(2, &format!("{f}: invalid location \"https://m.io\""));
    std::fs::write(&file, "[[registry]\n").unwrap();
    sb.run(&["manifest", "r.io/x:1", "--registries-conf", f]).fails(2, &format!("{f}: line 1:"));
    let missing = sb.path("missing.conf");
    sb.run(&["manifest", "r.io/x:1", "--registries-conf", missing.to_str().unwrap()])
        .fails(2, "missing.conf");
    // The user's file is read as well, and named the same way.
    user_conf(&sb, "[[registry]]\nprefix = \"r.io/a\"\n");
    sb.run(&["manifest", "r.io/x:1"])
        .fails(2, "home/.config/containers/registries.conf: prefix \"r.io/a\" has no location");
}

#[test]
fn an_insecure_registry_gets_plain_http_only_when_it_does_not_speak_tls() {
    // containers-registries.conf(5): `insecure = true` allows unencrypted HTTP as well as
    // unverified TLS. A name pinned to the loopback fake stands for a registry elsewhere.
    let f = fake::artifact(vec![("a.txt", b"over plain http".to_vec())], Guard::Open, None);
    let port = f.host.rsplit_once(':').unwrap().1;
    let name = format!("plain.test:{port}");
    let pin = format!("{name}:127.0.0.1");
    let reference = format!("{name}/x:v1");
    let refused = Sandbox::new();
    let run = refused.run(&["pull", &reference, "-o", "out", "--resolve", &pin]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(f.hits().is_empty(), "no plain HTTP without `insecure`: {:?}", f.hits());
    let allowed = Sandbox::new();
    user_conf(&allowed, &format!("[[registry]]\nlocation = \"{name}\"\ninsecure = true\n"));
    allowed.run(&["pull", &reference, "-o", "out", "--resolve", &pin]).ok();
    assert_eq!(std::fs::read(allowed.work().join("out/a.txt")).unwrap(), b"over plain http");
    assert_eq!(f.tls_hellos(), 2, "each run tried TLS first, once");
}
