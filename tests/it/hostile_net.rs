//! A hostile registry on the wire: drips that would hold a run forever, pagination loops,
//! terminal escapes in what it names, credential helpers that fail loudly, poisoned ETags.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::fake::{Fake, Fault, Hit, Reply};
use crate::support::*;

/// A fake whose handler also gets the fake's own `host` (for realms and links).
pub(crate) fn scripted(handler: impl Fn(&Hit, &str) -> Reply + Send + Sync + 'static) -> Fake {
    let me: Arc<std::sync::OnceLock<String>> = Arc::default();
    let me2 = me.clone();
    let fake = Fake::start(move |hit| handler(hit, me2.get().map_or("", String::as_str)));
    me.set(fake.host.clone()).unwrap();
    fake
}

/// Run `cmd` to its end, killing it (and failing the test) if it takes longer than `limit`.
#[track_caller]
pub(crate) fn bounded(cmd: &mut Command, limit: Duration) -> (Run, Duration) {
    let started = Instant::now();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (Run::from(out.unwrap()), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("still running after {limit:?}: nothing bounds this run");
        }
    }
}

pub(crate) fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

const DRIP: Duration = Duration::from_millis(200);

/// A body that would take minutes at one byte per [`DRIP`].
fn long_body(start: &str) -> Vec<u8> {
    let mut b = start.as_bytes().to_vec();
    b.resize(2000, b' ');
    b
}

/// Each small body that drips (manifest, tag list, token, a blob's error body) ends at the
/// deadline with exit 6 and one line naming it, instead of holding the run for minutes.
#[test]
fn dripping_small_bodies_end_at_the_deadline() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let f = scripted(|hit, host| {
        let drip =
            |status, body: &str| Reply::new(status, long_body(body)).fault(Fault::Drip(DRIP));
        match hit.path.as_str() {
            "/v2/m/manifests/v1" => drip(200, "{"),
            p if p.starts_with("/v2/t/tags/list") => drip(200, r#"{"tags":["#),
            p if p.starts_with("/v2/b/blobs/") => drip(500, r#"{"errors":["#),
            p if p.starts_with("/token") => drip(200, r#"{"token":"#),
            p if p.starts_with("/v2/a/") => Reply::new(401, "").header(
                "www-authenticate",
                &format!(r#"Bearer realm="http://{host}/token",service="fake""#),
            ),
            _ => Reply::unexpected(),
        }
    });
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    std::fs::create_dir(sb.work().join("out")).unwrap();
    let h = &f.host;
    // A blob's error body only adds detail: its status is the error, once the body is cut. A
    // manifest cut short never reaches the file it was to replace.
    let victim = c.victim();
    let cases: [(&[&str], &str); 4] = [
        (&["manifest", &format!("{h}/m:v1"), "-o", victim.to_str().unwrap()], "2s deadline"),
        (&["tags", &format!("{h}/t")], "within the 2s deadline (see --deadline)"),
        (&["blob", &format!("{h}/b@{digest}"), "-o", "out/b.bin"], ": 500 "),
        (&["manifest", &format!("{h}/a:v1")], "token request to http://"),
    ];
    for (args, needle) in cases {
        let mut args = args.to_vec();
        args.extend(["--deadline", "2", "--retries", "1"]);
        let (run, took) = bounded(&mut sb.cmd(&args), Duration::from_secs(40));
        run.fails(6, needle);
        assert!(needle == ": 500 " || run.stderr.contains("2s deadline"), "{}", run.stderr);
        // Two attempts of 2 s each and a backoff, with a wide margin; the drip lasts 400 s.
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
    }
    assert_eq!(tree(&sb.work().join("out")), Vec::<String>::new(), "nothing half-written");
    c.assert_unchanged();
    f.assert_no_unexpected();
}

/// SIGTERM while blocked in a read that never finishes (a dripping token endpoint, a stalled
/// blob) exits 130 at once; the blob's `.part` is kept for the next run.
#[test]
fn sigterm_ends_a_run_blocked_in_any_read() {
    let blob = noise(1 << 20, 91);
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &blob).to_string();
    let b2 = blob.clone();
    let f = scripted(move |hit, host| match hit.path.as_str() {
        p if p.starts_with("/token") => {
            Reply::new(200, long_body(r#"{"token":"#)).fault(Fault::Drip(DRIP))
        }
        p if p.starts_with("/v2/a/") => Reply::new(401, "").header(
            "www-authenticate",
            &format!(r#"Bearer realm="http://{host}/token",service="fake""#),
        ),
        p if p.starts_with("/v2/s/blobs/") => {
            Reply::blob(hit, &b2).fault(Fault::StallAfter(100_000, Duration::from_secs(120)))
        }
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    std::fs::create_dir(sb.work().join("out")).unwrap();
    let token_run = ["manifest".to_owned(), format!("{}/a:v1", f.host)];
    let blob_run =
        ["blob".to_owned(), format!("{}/s@{digest}", f.host), "-o".into(), "out/s.bin".into()];
    let part = sb.work().join("out/s.bin.part");
    // The blob run is inside its read once the fake has written all it will (its count grows
    // by the 100 000 bytes at once) and the run has read every byte of it off the socket.
    let base = std::cell::Cell::new(0);
    let blob_read = || f.bytes_served() - base.get() >= 100_000 && all_read(&f.host);
    for (args, blocked) in [
        (&token_run[..], Box::new(|| !f.hits_to("/token").is_empty()) as Box<dyn Fn() -> bool>),
        (&blob_run[..], Box::new(blob_read)),
    ] {
        base.set(f.bytes_served());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A long --timeout: only the signal can end these reads in time.
        let mut cmd = sb.cmd(&[&args[..], &["--timeout", "300"]].concat());
        let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let pid = child.id();
        let until = Instant::now() + Duration::from_secs(20);
        while !blocked() {
            assert!(Instant::now() < until, "{args:?} never reached the read");
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(pid, "-TERM");
        let signalled = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let Ok(out) = rx.recv_timeout(Duration::from_secs(15)) else {
            signal(pid, "-KILL");
            panic!("{args:?}: SIGTERM did not end the run");
        };
        let run = Run::from(out.unwrap());
        assert_eq!(run.code, 130, "{args:?}: {}", run.stderr);
        let last = run.stderr.lines().last().unwrap_or("");
        assert!(last.starts_with("oci-dl: interrupted"), "{args:?}: {}", run.stderr);
        assert!(signalled.elapsed() < Duration::from_secs(10), "{args:?}");
    }
    let kept = std::fs::metadata(&part).expect("the blob's .part is kept").len();
    assert_eq!(kept, 100_000, "with every byte that arrived before the signal");
    assert_eq!(tree(&sb.work().join("out")), ["s.bin.part"]);
    c.assert_unchanged();
}

/// A page of `n` tags named `{prefix}{i:07}`, as the registry's JSON.
fn tag_page(prefix: &str, n: usize) -> Vec<u8> {
    let tags: Vec<String> = (0..n).map(|i| format!("{prefix}{i:07}")).collect();
    serde_json::to_vec(&serde_json::json!({"name": "x", "tags": tags})).unwrap()
}

/// A `Link` that leads back to a page already read (itself, or the same `last=` cursor under
/// another URL) ends the listing with one line, after printing each page once as it came.
#[test]
fn tags_refuse_a_link_that_loops() {
    // ~1 MiB pages: following the loop would eat memory as fast as loopback delivers.
    let pad = "p".repeat(100);
    let page = tag_page(&pad, 10_000);
    let f = scripted(move |hit, _| match hit.path.as_str() {
        "/v2/self/tags/list?n=1000" => Reply::new(200, page.clone())
            .header("link", r#"</v2/self/tags/list?n=1000>; rel="next""#),
        "/v2/cur/tags/list?n=1000" => Reply::new(200, page.clone())
            .header("link", r#"</v2/cur/tags/list?n=1000&last=z>; rel="next""#),
        "/v2/cur/tags/list?n=1000&last=z" => Reply::new(200, tag_page("z", 1))
            .header("link", r#"</v2/cur/tags/list?last=z&n=999>; rel="next""#),
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    for (repo, pages) in [("self", 1), ("cur", 2)] {
        let mut cmd = sb.cmd(&["tags", &format!("{}/{repo}", f.host)]);
        let (run, _) = bounded(&mut cmd, Duration::from_secs(60));
        run.fails(1, "points back to a page already read");
        let out = String::from_utf8(run.stdout.clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 10_000 + (pages - 1), "each page printed once, as it came");
        assert_eq!(lines[0], format!("{pad}0000000"));
        let (json, _) = bounded(
            &mut sb.cmd(&["tags", &format!("{}/{repo}", f.host), "--json"]),
            Duration::from_secs(60),
        );
        json.fails(1, "points back to a page already read");
        // --json prints all the tags or none: on a failure, only the error document.
        let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), ["error"]);
        assert_eq!(doc["error"]["exit_code"], 1);
    }
    assert_eq!(f.hits_to("/v2/self/").len(), 2, "one request a run: the loop was not followed");
    f.assert_no_unexpected();
}

/// A registry that hands out fresh cursors forever stops at the documented cap of tags.
#[test]
fn tags_stop_at_a_million() {
    let f = scripted(|hit, _| {
        let n: usize = hit.path.rsplit("last=p").next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Reply::new(200, tag_page(&format!("p{:04}-", n + 1), 20_000))
            .header("link", &format!(r#"</v2/x/tags/list?n=1000&last=p{}>; rel="next""#, n + 1))
    });
    let sb = Sandbox::new();
    let (run, _) =
        bounded(&mut sb.cmd(&["tags", &format!("{}/x", f.host)]), Duration::from_secs(120));
    run.fails(1, "more than 1000000 tags");
    assert_eq!(run.stdout.iter().filter(|&&b| b == b'\n').count(), 1_000_000);
    assert_eq!(f.hits_to("/v2/x/tags/").len(), 51, "no page read past the cap");
}

/// A title built to retitle the terminal, forge a `✓ trusted.bin` line and reverse the text.
const EVIL: &str = "\x1b]0;pwned\x07\r✓ trusted.bin\n\u{202e}x";
/// How oci-dl shows it.
const EVIL_SHOWN: &str = r"\x1b]0;pwned\x07\x0d✓ trusted.bin\x0a\u{202e}x";

#[track_caller]
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for c in ['\x1b', '\r', '\x07', '\u{202e}'] {
        assert!(!text.contains(c), "{what} holds a raw {c:?}: {text:?}");
    }
    assert!(!text.lines().any(|l| l.starts_with("✓ trusted.bin")), "{what} forged a line: {text}");
}

/// Registry strings reach the terminal escaped: in plain progress lines, the `--dry-run`
/// listing, tags, and error lines (a refused title, a registry's error message).
#[test]
fn registry_strings_cannot_drive_the_terminal() {
    use crate::support::fake::{self, Guard};
    let f = fake::artifact(vec![(EVIL, b"payload".to_vec())], Guard::Open, None);
    let r = format!("{}/x:v1", f.host);
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());

    let dry = sb.run(&["pull", &r, "-o", "out", "--dry-run", "--progress", "never"]);
    dry.ok();
    assert_inert("--dry-run stdout", &dry.stdout);
    assert_inert("--dry-run stderr", dry.stderr.as_bytes());
    assert!(String::from_utf8_lossy(&dry.stdout).contains(EVIL_SHOWN), "{:?}", dry.stdout);

    let run = sb.run(&["pull", &r, "-o", "out", "--progress", "never", "-vv"]);
    run.ok();
    assert_inert("progress lines", run.stderr.as_bytes());
    assert!(run.stderr.contains(&format!("pulling {EVIL_SHOWN}")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("✓ {EVIL_SHOWN}")), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.work().join("out").join(EVIL)).unwrap(), b"payload");
    c.assert_unchanged();

    let refused = format!("../{EVIL}");
    let f2 = fake::artifact(vec![(refused.as_str(), b"x".to_vec())], Guard::Open, None);
    let run = sb.run(&["pull", &format!("{}/x:v1", f2.host), "-o", "out2"]);
    run.fails(1, "refusing layer title");
    assert_inert("the refused title's error line", run.stderr.as_bytes());

    let msg = serde_json::json!({"errors": [{"code": "DENIED", "message": EVIL}]}).to_string();
    let tag = EVIL.replace('\n', "");
    let f3 = scripted(move |hit, _| match hit.path.as_str() {
        p if p.starts_with("/v2/x/tags/") => {
            Reply::new(200, serde_json::json!({"tags": ["v1", tag]}).to_string())
        }
        _ => Reply::new(403, msg.clone()),
    });
    let run = sb.run(&["manifest", &format!("{}/x:v1", f3.host)]);
    run.fails(4, "DENIED");
    assert_inert("a registry's error message", run.stderr.as_bytes());
    assert!(run.stderr.contains(EVIL_SHOWN.trim_end_matches("\\x0a\\u{202e}x")), "{}", run.stderr);
    let tags = sb.run(&["tags", &format!("{}/x", f3.host)]);
    tags.ok();
    assert_inert("tags", &tags.stdout);
    let shown = String::from_utf8(tags.stdout.clone()).unwrap();
    assert_eq!(shown, format!("v1\n{}\n", EVIL_SHOWN.replace(r"\x0a", "")));
    c.assert_unchanged();
}

/// A credential helper that prints its JSON (or the secret on stderr) and then fails: the
/// error names the helper and its exit status, and the secret is nowhere, even at `-vv`.
#[test]
fn a_failing_credential_helper_never_leaks_what_it_printed() {
    use std::os::unix::fs::PermissionsExt;
    let f = scripted(|_, _| Reply::unexpected());
    f.expect_unused();
    let sb = Sandbox::new();
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let scripts = [
        ("x", r#"echo '{"ServerURL":"r","Username":"u","Secret":"s3cr3t"}'; exit 1"#, "1"),
        ("y", r#"echo 's3cr3t' >&2; echo '{"Secret":"s3cr3t"}'; exit 7"#, "7"),
    ];
    for (name, script, status) in scripts {
        let p = bin.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\ncat >/dev/null\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        sb.docker_config(&format!(r#"{{"credHelpers":{{"{}":"{name}"}}}}"#, f.host));
        for v in [&[][..], &["-vv"][..]] {
            let r = format!("{}/x:v1", f.host);
            let mut cmd = sb.cmd(&[&["manifest", r.as_str()][..], v].concat());
            let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
            let run = Run::from(cmd.env("PATH", path).output().unwrap());
            run.fails(4, &format!("credential helper docker-credential-{name}"));
            assert!(run.stderr.contains(&format!("exit status: {status}")), "{}", run.stderr);
            assert!(!run.stderr.contains("s3cr3t"), "secret leaked: {}", run.stderr);
            assert!(!String::from_utf8_lossy(&run.stdout).contains("s3cr3t"));
        }
    }
    assert!(f.hits().is_empty(), "no request without the credentials the config names");
}

/// An untrusted certificate points to `--ca-file` (and `--insecure` only as a last resort),
/// never to the cleartext `--plain-http`; a server that answers TLS with plain HTTP still gets
/// the `--plain-http` hint.
#[test]
fn tls_failures_suggest_the_right_flag() {
    use crate::support::registry;
    let Some(reg) = registry::tls() else { return };
    let port = reg.host.rsplit(':').next().unwrap();
    let pin = format!("registry.test:{port}:127.0.0.1");
    let sb = Sandbox::new();
    let run = sb.run(&["manifest", &format!("registry.test:{port}/x/y:v1"), "--resolve", &pin]);
    run.fails(6, "--ca-file");
    assert!(!run.stderr.contains("--plain-http"), "{}", run.stderr);
    let insecure = run.stderr.find("--insecure").expect("--insecure, as the last resort");
    assert!(run.stderr.find("--ca-file").unwrap() < insecure, "{}", run.stderr);

    let Some(open) = registry::open() else { return };
    let port = open.host.rsplit(':').next().unwrap();
    let pin = format!("plain.test:{port}:127.0.0.1");
    let run = sb.run(&["manifest", &format!("plain.test:{port}/x/y:v1"), "--resolve", &pin]);
    run.fails(6, "--plain-http");
    assert!(!run.stderr.contains("--ca-file"), "{}", run.stderr);
}

/// An ETag that is no entity-tag is neither recorded nor sent back: one with a space from the
/// registry, and one with CR/LF in a `.part`'s resume record, which made every later run fail
/// to build its request. The rerun resumes without `If-Range` and succeeds.
#[test]
fn a_bad_etag_never_wedges_a_resume() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let data = noise(2 << 20, 77);
    let first = Arc::new(AtomicUsize::new(0));
    let f = {
        let first = first.clone();
        crate::support::fake::artifact_with(
            vec![("big.bin", data.clone())],
            crate::support::fake::Guard::Open,
            move |hit, _, b| {
                if hit.header("range").is_some() {
                    return Reply::blob(hit, b);
                }
                first.fetch_add(1, Ordering::SeqCst);
                Reply::new(200, b.to_vec())
                    .header("etag", "\"bad etag\"")
                    .fault(Fault::DropAfter(700_000))
            },
        )
    };
    let r = format!("{}/x:v1", f.host);
    let sb = Sandbox::new();
    let c = Canaries::plant(&sb.work());
    let part = sb.work().join("out/big.bin.part");
    let pull = || sb.run(&["pull", &r, "-o", "out", "--retries", "0", "--no-cache"]);

    pull().fails(6, "big.bin");
    let rec = xattr::get(&part, "user.oci-dl.resume").ok().flatten();
    let Some(rec) = rec else { return }; // no user xattrs here: nothing is recorded at all
    let rec: serde_json::Value = serde_json::from_slice(&rec).unwrap();
    assert_eq!(rec["etag"], serde_json::Value::Null, "not recorded: {rec}");
    pull().ok();
    let resumed = f.hits_to("/v2/x/blobs/").pop().unwrap();
    assert!(resumed.header("range").is_some() && resumed.header("if-range").is_none());
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);

    std::fs::remove_file(sb.work().join("out/big.bin")).unwrap();
    pull().fails(6, "big.bin");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&xattr::get(&part, "user.oci-dl.resume").unwrap().unwrap()).unwrap();
    rec["etag"] = "\"e\"\r\nx-injected: 1".into();
    xattr::set(&part, "user.oci-dl.resume", rec.to_string().as_bytes()).unwrap();
    pull().ok();
    let resumed = f.hits_to("/v2/x/blobs/").pop().unwrap();
    assert!(resumed.header("range").is_some(), "resumed, not started over");
    assert!(resumed.header("if-range").is_none() && resumed.header("x-injected").is_none());
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    assert_eq!(first.load(Ordering::SeqCst), 2);
    c.assert_unchanged();
    f.assert_no_unexpected();
}
