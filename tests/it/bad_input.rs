//! Bad input, one clear line each. Every row gets exactly one `oci-dl: error:` line containing
//! the needle, the exit code, and leaves no final file (nor, but for resumable cases, `.part`).
//!
//! | case                                   | what the user sees (needle)            | exit |
//! |----------------------------------------|----------------------------------------|------|
//! | empty reference                        | `empty`                                | 2    |
//! | reference with a space                 | `contains ' '`                         | 2    |
//! | uppercase repository                   | `component "Org"`                      | 2    |
//! | bad port                               | `invalid port "99999"`                 | 2    |
//! | bad digest hex                         | `needs 64 hex characters`              | 2    |
//! | unknown digest algorithm               | `unsupported algorithm "md5"`          | 2    |
//! | manifest that is not JSON              | `not JSON`                             | 1    |
//! | manifest of a wrong media type         | `unsupported media type`               | 1    |
//! | manifest without `layers`              | ``missing field `layers` ``            | 1    |
//! | negative layer size                    | `invalid value: integer `-5``          | 1    |
//! | absurd layer size                      | `absurd size`                          | 1    |
//! | manifest over the 4 MiB cap            | `byte cap`                             | 1    |
//! | blob size the descriptor lies about    | `server announced 12 bytes`            | 5    |
//! | blob body longer than its descriptor   | `more than the 10 bytes`               | 5    |
//! | blob body shorter than its descriptor  | `body ended after 6 of the 10 bytes`   | 5    |
//! | duplicate titles                       | `would both be written to`             | 1    |
//! | title with NUL                         | `contains NUL`                         | 1    |
//! | absolute title                         | `absolute path`                        | 1    |
//! | title with `..`                        | `contains '..'`                        | 1    |
//! | output path that is a file             | `is not a directory`                   | 2    |
//! | unwritable output directory            | `create output directory`              | 1    |
//! | HTML page where a manifest was expected| `not JSON`                             | 1    |
//! | HTML 502 error page                    | `502 Bad Gateway`                      | 6    |
//! | token endpoint answering garbage       | `answered without a token`             | 4    |
//! | full disk (ENOSPC)                     | `No space left on device`; .part kept  | 1    |

use crate::support::fake::{Fake, Reply};
use crate::support::*;
use oci_dl::{Algorithm, Digest};
use serde_json::json;

const TEN: &[u8] = b"0123456789";

fn ten_digest() -> String {
    Digest::of(Algorithm::Sha256, TEN).to_string()
}

fn layer(title: &str, size: i64) -> serde_json::Value {
    json!({"mediaType": "application/octet-stream", "digest": ten_digest(), "size": size,
           "annotations": {"org.opencontainers.image.title": title}})
}

fn manifest(layers: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::of(Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": layers,
    }))
    .unwrap()
}

/// A fake serving `body` (as `content_type`) for `x:v1` and `blob` for every blob.
fn server(body: Vec<u8>, content_type: &'static str, blob: Reply) -> Fake {
    Fake::start(move |hit| {
        if hit.path == "/v2/x/manifests/v1" {
            Reply::new(200, body.clone()).header("content-type", content_type)
        } else if hit.path.starts_with("/v2/x/blobs/") {
            blob.clone()
        } else {
            Reply::unexpected()
        }
    })
}

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

enum Input {
    /// A literal reference.
    Ref(&'static str),
    /// A fake registry; the reference is `HOST/x:v1`.
    Fake(Fake),
}

#[test]
fn bad_input_table() {
    let ok_blob = || Reply::new(200, TEN);
    let good = || manifest(vec![layer("f.txt", 10)]);
    let cases: Vec<(&str, Input, Vec<&str>, i32, &str)> = vec![
        ("empty reference", Input::Ref(""), vec![], 2, "empty"),
        ("space", Input::Ref("ghcr.io/o/p :v1"), vec![], 2, "contains ' '"),
        ("uppercase", Input::Ref("ghcr.io/Org/p:v1"), vec![], 2, "component \"Org\""),
        ("bad port", Input::Ref("localhost:99999/x:v1"), vec![], 2, "invalid port \"99999\""),
        ("bad hex", Input::Ref("localhost:5000/x@sha256:abcd"), vec![], 2, "needs 64 hex characters"),
        ("unknown algorithm", Input::Ref("localhost:5000/x@md5:abcd"), vec![], 2, "unsupported algorithm \"md5\""),
        ("not JSON", Input::Fake(server(b"{oops".to_vec(), OCI, ok_blob())), vec![], 1, "not JSON"),
        ("wrong media type", Input::Fake(server(good(), "application/vnd.acme.thing", ok_blob())), vec![], 1, "unsupported media type"),
        (
            "no layers",
            Input::Fake(server(br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}}"#.to_vec(), OCI, ok_blob())),
            vec![],
            1,
            "missing field `layers`",
        ),
        ("negative size", Input::Fake(server(manifest(vec![layer("f", -5)]), OCI, ok_blob())), vec![], 1, "invalid value: integer `-5`"),
        ("absurd size", Input::Fake(server(manifest(vec![layer("f", 1 << 60)]), OCI, ok_blob())), vec![], 1, "absurd size"),
        ("over the cap", Input::Fake(server(vec![b' '; 5 << 20], OCI, ok_blob())), vec![], 1, "byte cap"),
        ("size lie", Input::Fake(server(good(), OCI, Reply::new(200, b"0123456789ab".to_vec()))), vec![], 5, "server announced 12 bytes"),
        (
            "longer body",
            Input::Fake(server(good(), OCI, Reply::new(200, b"0123456789ab".to_vec()).header("transfer-encoding", "chunked"))),
            vec![],
            5,
            "more than the 10 bytes",
        ),
        (
            "shorter body",
            Input::Fake(server(good(), OCI, Reply::new(200, b"012345".to_vec()).header("transfer-encoding", "chunked"))),
            vec![],
            5,
            "body ended after 6 of the 10 bytes",
        ),
        (
            "duplicate titles",
            Input::Fake(server(manifest(vec![layer("same", 10), json!({"mediaType": "a", "digest": Digest::of(Algorithm::Sha256, b"x").to_string(), "size": 1, "annotations": {"org.opencontainers.image.title": "same"}})]), OCI, ok_blob())),
            vec![],
            1,
            "would both be written to",
        ),
        ("NUL title", Input::Fake(server(manifest(vec![layer("a\u{0}b", 10)]), OCI, ok_blob())), vec![], 1, "contains NUL"),
        ("absolute title", Input::Fake(server(manifest(vec![layer("/etc/x", 10)]), OCI, ok_blob())), vec![], 1, "absolute path"),
        ("dotdot title", Input::Fake(server(manifest(vec![layer("../x", 10)]), OCI, ok_blob())), vec![], 1, "contains '..'"),
        ("output is a file", Input::Fake(server(good(), OCI, ok_blob())), vec!["-o", "a-file"], 2, "is not a directory"),
        ("unwritable output", Input::Fake(server(good(), OCI, ok_blob())), vec!["-o", "/proc/oci-dl-test/out"], 1, "create output directory"),
        ("HTML for a manifest", Input::Fake(server(b"<!doctype html><h1>Login</h1>".to_vec(), "text/html", ok_blob())), vec![], 1, "not JSON"),
        (
            "HTML 502",
            Input::Fake(Fake::start(|_| Reply::new(502, "<html><body><h1>502 Bad Gateway</h1></body></html>").header("content-type", "text/html"))),
            vec!["--retries", "0"],
            6,
            "502 Bad Gateway",
        ),
        ("token garbage", Input::Fake(garbage_token_server()), vec![], 4, "answered without a token"),
    ];
    for (name, input, extra, code, needle) in cases {
        let sb = Sandbox::new();
        std::fs::write(sb.work().join("a-file"), "keep").unwrap();
        let reference = match &input {
            Input::Ref(r) => r.to_string(),
            Input::Fake(f) => format!("{}/x:v1", f.host),
        };
        let mut args = vec!["pull", reference.as_str()];
        if !extra.contains(&"-o") {
            args.extend(["-o", "out"]);
        }
        args.extend(&extra);
        let run = sb.run(&args);
        assert_eq!(run.code, code, "{name}: {}", run.stderr);
        run.fails(code, needle);
        assert!(!run.stderr.contains("<html"), "{name}: no HTML dumped");
        assert!(tree(&sb.work().join("out")).is_empty(), "{name}: nothing left in out/");
        assert_eq!(std::fs::read(sb.work().join("a-file")).unwrap(), b"keep");
        if let Input::Fake(f) = input {
            f.assert_no_unexpected();
        }
    }
}

fn garbage_token_server() -> Fake {
    let me: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
    let me2 = me.clone();
    let f = Fake::start(move |hit| {
        if hit.path.starts_with("/token") {
            return Reply::new(200, "<<<not a token>>>");
        }
        let host = me2.get().cloned().unwrap_or_default();
        Reply::new(401, "")
            .header("www-authenticate", &format!(r#"Bearer realm="http://{host}/token""#))
    });
    me.set(f.host.clone()).unwrap();
    f
}

/// ENOSPC on a 1 MiB tmpfs: a clear message, exit 1, and the `.part` kept for resume. Below
/// 4 MiB one thread copies; above, the receive/write/hash pipeline must stop just as cleanly.
#[test]
fn a_full_disk_keeps_the_part_for_resume() {
    for (i, size) in [3 << 20, 12 << 20].into_iter().enumerate() {
        let sb = Sandbox::new();
        let mnt = sb.path("small");
        std::fs::create_dir_all(&mnt).unwrap();
        let Some(_guard) = Mount::new(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], &mnt) else {
            return;
        };
        let data = noise(size, 41 + i as u64);
        let f = crate::support::fake::artifact(
            vec![("big.bin", data)],
            crate::support::fake::Guard::Open,
            None,
        );
        let out = mnt.join("out");
        let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", out.to_str().unwrap()]);
        run.fails(1, "No space left on device");
        assert!(run.stderr.contains("big.bin.part"), "names the file: {}", run.stderr);
        assert!(out.join("big.bin.part").exists(), ".part kept for resume");
        assert!(!out.join("big.bin").exists());
    }
}
