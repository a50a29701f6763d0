//! The shared blob cache, the request count of a small pull, and the challenges remembered
//! for the next run.

use crate::support::fake::{self, Fake, Guard, Hit, Reply};
use crate::support::*;

fn blob_gets(f: &fake::Fake) -> usize {
    f.hits_to("/v2/x/blobs/").len()
}

#[test]
fn a_cached_blob_is_copied_in_without_network_traffic() {
    let files = vec![("a.bin", noise(300_000, 1)), ("b.txt", b"bee".to_vec())];
    let f = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "one"]).ok();
    assert_eq!(blob_gets(&f), 2);
    let cache = sb.path("home/.cache/oci-dl/blobs/sha256");
    assert_eq!(tree(&cache).len(), 2, "both blobs cached: {:?}", tree(&cache));

    let run = sb.run(&["pull", &r, "-o", "two", "--json"]);
    run.ok();
    assert_eq!(blob_gets(&f), 2, "no blob was downloaded again");
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(doc["files"].as_array().unwrap().iter().all(|x| x["status"] == "cached"), "{doc}");
    for (name, data) in &files {
        assert_eq!(&std::fs::read(sb.work().join("two").join(name)).unwrap(), data);
        // A file of its own (a reflink or a copy), never a hard link of the cache entry.
        use std::os::unix::fs::MetadataExt;
        let entry = cache.join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, data).hex());
        let (a, b) = (
            std::fs::metadata(&entry).unwrap(),
            std::fs::metadata(sb.work().join("two").join(name)).unwrap(),
        );
        assert_ne!((a.dev(), a.ino()), (b.dev(), b.ino()), "{name}");
        assert_eq!((a.nlink(), b.nlink()), (1, 1), "{name}");
    }
    assert!(
        // held::temp_name's `.tmp-` (the copy's name before 0954091 held `.oci-dl`).
        tree(&sb.work().join("two")).iter().all(|p| !p.contains(".oci-dl") && !p.contains(".tmp-")),
        "no temporary names left"
    );

    sb.run(&["pull", &r, "-o", "three", "--no-cache"]).ok();
    assert_eq!(blob_gets(&f), 4, "--no-cache downloads");
    let custom = sb.path("custom-cache");
    sb.run(&["pull", &r, "-o", "four", "--cache", custom.to_str().unwrap()]).ok();
    assert_eq!(tree(&custom.join("blobs/sha256")).len(), 2);
}

/// A damaged entry — shorter, longer, or other bytes of the same length — is reported naming
/// the cache file (issue 20 item 12: it once read "server sent more than …"), dropped and
/// downloaded again; nothing of it lands.
#[test]
fn a_damaged_cache_entry_is_named_dropped_and_downloaded_again() {
    let data = noise(200_000, 2);
    let f = fake::artifact(vec![("a.bin", data.clone())], Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "one"]).ok();
    let entry = sb
        .path("home/.cache/oci-dl/blobs/sha256")
        .join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex());
    let mut same_len = data.clone();
    same_len[100] ^= 1;
    let longer = [&data[..], b"trailing"].concat();
    for (i, bad) in [b"garbage".to_vec(), longer, same_len].into_iter().enumerate() {
        std::fs::write(&entry, &bad).unwrap();
        let out = format!("two{i}");
        let run = sb.run(&["pull", &r, "-o", &out]);
        run.ok();
        let named = format!("cache entry {} is damaged", entry.display());
        assert!(run.stderr.contains(&named), "{}", run.stderr);
        assert!(!run.stderr.contains("server"), "{}", run.stderr);
        assert_eq!(std::fs::read(sb.work().join(&out).join("a.bin")).unwrap(), data);
        assert_eq!(tree(&sb.work().join(&out)), ["a.bin"], "nothing of the entry is left");
        assert_eq!(std::fs::read(&entry).unwrap(), data, "the entry was repaired");
        assert_eq!(blob_gets(&f), 2 + i);
    }
}

#[test]
fn an_entry_damaged_in_place_is_detected_and_an_output_edit_never_reaches_it() {
    let data = noise(300_000, 6);
    let f = fake::artifact(vec![("a.bin", data.clone())], Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "one"]).ok();
    // An in-place edit of a pulled file stays in that file.
    let edit = |path: &std::path::Path| {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[1000] ^= 0xff;
        use std::io::Write as _;
        let mut out = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        out.write_all(&bytes).unwrap();
    };
    edit(&sb.work().join("one/a.bin"));
    // The download hashed its buffers, not the file: the first use hashes the entry and stamps
    // it (once it has settled, see cache.rs), later ones trust the stamp.
    std::thread::sleep(std::time::Duration::from_millis(150));
    let first = sb.run(&["pull", &r, "-o", "first-use", "-vv"]);
    assert!(!first.ok().stderr.contains("unchanged since it verified"), "{}", first.stderr);
    assert_eq!(std::fs::read(sb.work().join("first-use/a.bin")).unwrap(), data);
    let warm = sb.run(&["pull", &r, "-o", "two", "-vv"]);
    warm.ok();
    assert!(warm.stderr.contains("unchanged since it verified"), "{}", warm.stderr);
    // Editing the entry itself in place (same size) moves its times: hashed, found damaged.
    let entry = sb
        .path("home/.cache/oci-dl/blobs/sha256")
        .join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex());
    edit(&entry);
    let run = sb.run(&["pull", &r, "-o", "three", "-vv"]);
    run.ok();
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    assert!(!run.stderr.contains("unchanged since it verified"), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("three/a.bin")).unwrap(), data);
    assert_eq!(blob_gets(&f), 2);
}

/// An entry that is a hard link of an output, as earlier versions made them, is never trusted
/// (anyone editing the output edits it); its first use replaces it with a file of its own,
/// which later uses stamp and then trust.
#[test]
fn an_entry_hard_linked_to_an_output_is_renewed_as_a_file_of_its_own() {
    use std::os::unix::fs::MetadataExt;
    let data = noise(300_000, 12);
    let f = fake::artifact(vec![("a.bin", data.clone())], Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "one"]).ok();
    let entry = sb
        .path("home/.cache/oci-dl/blobs/sha256")
        .join(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex());
    std::fs::remove_file(&entry).unwrap();
    std::fs::hard_link(sb.work().join("one/a.bin"), &entry).unwrap();
    let settle = || std::thread::sleep(std::time::Duration::from_millis(150));
    let unchanged = |out: &str| {
        let run = sb.run(&["pull", &r, "-o", out, "-vv"]);
        assert_eq!(std::fs::read(sb.work().join(out).join("a.bin")).unwrap(), data);
        run.ok().stderr.contains("unchanged since it verified")
    };
    settle();
    assert!(!unchanged("two"), "a hard-linked entry is hashed");
    let (e, one) = (std::fs::metadata(&entry).unwrap(), sb.work().join("one/a.bin"));
    assert_eq!(e.nlink(), 1, "renewed");
    assert_ne!(e.ino(), std::fs::metadata(one).unwrap().ino());
    settle();
    assert!(!unchanged("three"), "the renewed entry is hashed once, and stamped");
    assert!(unchanged("four"));
    assert_eq!(blob_gets(&f), 1);
}

#[test]
fn concurrent_processes_share_the_cache_safely() {
    let data = noise(6 << 20, 3);
    let f = fake::artifact(vec![("big.bin", data.clone())], Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let children: Vec<_> = (0..4)
        .map(|i| sb.cmd(&["pull", &r, "-o", &format!("out{i}"), "-q"]).spawn().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    for i in 0..4 {
        assert_eq!(std::fs::read(sb.work().join(format!("out{i}/big.bin"))).unwrap(), data);
    }
    let cache = sb.path("home/.cache/oci-dl/blobs/sha256");
    assert_eq!(
        tree(&cache),
        vec![oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).hex().to_owned()],
        "one entry, no temporary files"
    );
}

#[test]
fn cache_prune_and_dir() {
    let f = fake::artifact(vec![("a", noise(1000, 4)), ("b", noise(2000, 5))], Guard::Open, None);
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "o"]).ok();
    let dir = sb.run(&["cache", "dir"]);
    assert_eq!(
        String::from_utf8_lossy(&dir.ok().stdout).trim(),
        sb.path("home/.cache/oci-dl").to_str().unwrap()
    );
    // The manifest kept for re-pulls counts too, and was written first: it goes, then the
    // older blob, until 2 KiB are left.
    let manifests = sb.path("home/.cache/oci-dl/manifests/sha256");
    assert_eq!(tree(&manifests).len(), 1);
    let run = sb.run(&["cache", "prune", "--max-size", "2K"]);
    run.ok();
    assert!(run.stderr.contains("removed 2 blob(s)"), "{}", run.stderr);
    assert_eq!(tree(&sb.path("home/.cache/oci-dl/blobs/sha256")).len(), 1);
    assert!(tree(&manifests).is_empty());
    sb.run(&["cache", "prune", "--max-size", "lots"]).fails(2, "invalid size");
    // The records of verified outputs: one per pulled file; those unused for 30 days go with
    // any prune, all of them with --max-size 0.
    let records = sb.path("home/.cache/oci-dl/outputs");
    let names = tree(&records);
    assert_eq!(names.len(), 2, "{names:?}");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(31 * 24 * 3600);
    let f = std::fs::File::options().append(true).open(records.join(&names[0])).unwrap();
    f.set_modified(old).unwrap();
    sb.run(&["cache", "prune", "--max-size", "10G"]).ok();
    assert_eq!(tree(&records), [names[1].clone()]);
    sb.run(&["cache", "prune", "--max-size", "0"]).ok();
    assert!(tree(&records).is_empty());
    assert!(tree(&sb.path("home/.cache/oci-dl/tags")).is_empty(), "what tags named goes too");
}

#[test]
fn a_small_pull_makes_the_minimum_of_requests() {
    let f = fake::artifact(
        vec![("a", b"1".to_vec()), ("b", b"2".to_vec()), ("c", b"3".to_vec())],
        Guard::Bearer { token_auth: None },
        None,
    );
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "o", "-j", "1", "--no-cache"]).ok();
    let paths: Vec<String> = f
        .hits()
        .iter()
        .map(|h| format!("{} {}", h.method, h.path.split('?').next().unwrap()))
        .collect();
    // One challenge, one token, the manifest, one GET per blob; no HEAD, no second token.
    assert_eq!(paths.len(), 6, "{paths:?}");
    assert_eq!(paths.iter().filter(|p| p.starts_with("GET /token")).count(), 1);
    assert!(!paths.iter().any(|p| p.starts_with("HEAD")));
    assert_eq!(
        f.connections(),
        1,
        "one connection serves the challenge, the token and every blob: {paths:?}"
    );
}

/// `METHOD /path` of the requests in `hits` before the first blob GET.
fn before_first_blob(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .take_while(|h| !h.path.starts_with("/v2/x/blobs/"))
        .map(|h| format!("{} {}", h.method, h.path.split('?').next().unwrap()))
        .collect()
}

/// The one remembered challenge below the sandbox's cache directory: (path, bytes).
fn remembered(sb: &Sandbox) -> (std::path::PathBuf, Vec<u8>) {
    let dir = sb.path("home/.cache/oci-dl/challenges");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    (files[0].clone(), bytes)
}

/// A second run does not rediscover the auth scheme: it asks the token endpoint first (issue 16).
#[test]
fn a_warm_run_asks_the_token_endpoint_first() {
    let layers = vec![("a", noise(4000, 7)), ("b", noise(5000, 8))];
    let f = fake::artifact(layers, Guard::Bearer { token_auth: None }, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "cold", "-j", "1"]).ok();
    let cold = before_first_blob(&f.hits());
    assert_eq!(cold, ["GET /v2/x/manifests/v1", "GET /token", "GET /v2/x/manifests/v1"]);
    let (_, bytes) = remembered(&sb);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(&format!("http://{}/token", f.host)), "{text}");
    assert!(!text.contains(fake::TOKEN), "never the token: {text}");

    // The blobs come from the network again, so that the requests before them can be seen.
    std::fs::remove_dir_all(sb.path("home/.cache/oci-dl/blobs")).unwrap();
    let seen = f.hits().len();
    let run = sb.run(&["pull", &r, "-o", "warm", "-j", "1", "-vv"]);
    run.ok();
    let warm = before_first_blob(&f.hits()[seen..]);
    // The manifest is cached too: a HEAD says the tag has not moved.
    assert_eq!(warm, ["GET /token", "HEAD /v2/x/manifests/v1"], "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("warm/b")).unwrap(), noise(5000, 8));
}

/// A remembered challenge whose token endpoint fails, or whose token the registry refuses with
/// another challenge, costs one request: it is forgotten, the normal flow succeeds and the
/// registry's challenge of today is remembered instead.
#[test]
fn a_stale_remembered_challenge_costs_one_request_and_is_replaced() {
    let f = fake::artifact(vec![("a", noise(3000, 9))], Guard::Bearer { token_auth: None }, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["manifest", &r]).ok();
    let (path, bytes) = remembered(&sb);
    let good = String::from_utf8(bytes).unwrap();

    // A token endpoint that is gone (the fake answers its path with a 401).
    std::fs::write(&path, good.replace("/token", "/gone")).unwrap();
    let seen = f.hits().len();
    let run = sb.run(&["pull", &r, "-o", "gone", "-vv"]);
    run.ok();
    let paths = before_first_blob(&f.hits()[seen..]);
    assert_eq!(
        paths,
        ["GET /gone", "HEAD /v2/x/manifests/v1", "GET /token", "HEAD /v2/x/manifests/v1"],
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("remembered challenge is stale"), "{}", run.stderr);
    assert_eq!(String::from_utf8(remembered(&sb).1).unwrap(), good, "today's is remembered");

    // A token endpoint elsewhere whose tokens the registry does not take.
    let other = Fake::start(|hit| match hit.path.starts_with("/token") {
        true => Reply::new(200, r#"{"token":"not-for-this-registry"}"#),
        false => Reply::unexpected(),
    });
    let elsewhere =
        good.replace(&format!("http://{}/token", f.host), &format!("http://{}/token", other.host));
    assert_ne!(elsewhere, good);
    std::fs::write(&path, &elsewhere).unwrap();
    let seen = f.hits().len();
    sb.run(&["manifest", &r]).ok();
    assert_eq!(other.hits().len(), 1);
    let paths = before_first_blob(&f.hits()[seen..]);
    assert_eq!(paths, ["HEAD /v2/x/manifests/v1", "GET /token", "HEAD /v2/x/manifests/v1"]);
    assert_eq!(String::from_utf8(remembered(&sb).1).unwrap(), good);
}

/// What is remembered holds neither the token nor the credentials.
#[test]
fn the_remembered_challenge_holds_no_secret() {
    use base64::Engine as _;
    let (user, pw) = ("ci-user", "pw-9c1e77");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    let guard = Guard::Bearer { token_auth: Some(format!("Basic {basic}")) };
    let f = fake::artifact(vec![("a", noise(3000, 10))], guard, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    for out in ["one", "two"] {
        let run = sb
            .cmd(&["pull", &r, "-o", out, "-vv"])
            .env("OCI_DL_USERNAME", user)
            .env("OCI_DL_PASSWORD", pw)
            .output()
            .unwrap();
        Run::from(run).ok();
        let (_, bytes) = remembered(&sb);
        let text = String::from_utf8_lossy(&bytes);
        for secret in [pw, &basic, fake::TOKEN] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

/// Without a cache directory nothing is remembered, and every run pays for the challenge.
#[test]
fn without_a_cache_nothing_is_remembered() {
    let f = fake::artifact(vec![("a", noise(3000, 11))], Guard::Bearer { token_auth: None }, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    for _ in 0..2 {
        let seen = f.hits().len();
        sb.run(&["manifest", &r, "--no-cache"]).ok();
        assert_eq!(f.hits()[seen..].len(), 3, "challenge, token, manifest");
    }
    assert!(!sb.path("home/.cache").exists(), "nothing written");
}

/// A title whose name is as long as a file name may be (255 bytes, less what the download's
/// `.part` adds) comes out of the cache as it came from the registry: the temporary name the
/// copy is written under must fit the file system's limit too.
#[test]
fn a_long_file_name_is_copied_out_of_the_cache() {
    let name = format!("{}.bin", "n".repeat(246));
    let files = vec![(name.as_str(), b"long".to_vec())];
    let f = fake::artifact(files, Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "one"]).ok();
    let run = sb.run(&["pull", &r, "-o", "two", "--json"]);
    run.ok();
    assert_eq!(blob_gets(&f), 1, "from the cache");
    assert_eq!(std::fs::read(sb.work().join("two").join(&name)).unwrap(), b"long");
    assert_eq!(tree(&sb.work().join("two")), [name], "no temporary name left");
}

/// A title at the file system's 255-byte limit: its `.part` (five bytes more) must still be a
/// name the file system takes, and stay the same across runs so an interrupted one resumes.
#[test]
fn a_title_at_the_name_limit_downloads_and_its_part_name_fits() {
    let name = format!("{}.bin", "n".repeat(251));
    assert_eq!(name.len(), 255);
    let files = vec![(name.as_str(), b"at the limit".to_vec())];
    let f = fake::artifact(files, Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    sb.run(&["pull", &r, "-o", "out", "--no-cache"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out").join(&name)).unwrap(), b"at the limit");
    assert_eq!(tree(&sb.work().join("out")), [name], "no .part left");
}
