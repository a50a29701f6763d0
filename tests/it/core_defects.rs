//! The defects issue 14 lists, each reproduced through the binary: retries named by index,
//! `-o -` as stdout (not a path), per-layer errors kept.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn a_retry_is_attributed_to_its_transfer_not_to_a_layer_whose_name_is_a_prefix() {
    let tool = noise(50_000, 1);
    let sig = noise(40_000, 2);
    let sig_digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &sig).to_string();
    let drops = AtomicUsize::new(0);
    let f = fake::artifact_with(
        vec![("tool", tool.clone()), ("tool.sig", sig.clone())],
        Guard::Open,
        move |hit, d, b| {
            let r = Reply::blob(hit, b);
            if d == sig_digest && drops.fetch_add(1, Ordering::SeqCst) == 0 {
                r.fault(Fault::DropAfter(1000))
            } else {
                r
            }
        },
    );
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "--progress", "json", "-j", "1"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/tool.sig")).unwrap(), sig);
    let events = json_lines(&run.stderr);
    let index_of = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == "start" && e["name"] == name)
            .and_then(|e| e["index"].as_u64())
            .unwrap_or_else(|| panic!("no start of {name}: {}", run.stderr))
    };
    let (tool_i, sig_i) = (index_of("tool"), index_of("tool.sig"));
    assert_ne!(tool_i, sig_i);
    let retries: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["event"] == "retry").collect();
    assert_eq!(retries.len(), 1, "{}", run.stderr);
    assert_eq!(retries[0]["index"].as_u64(), Some(sig_i), "{}", run.stderr);
    assert_eq!(retries[0]["name"], "tool.sig", "{}", run.stderr);
}

#[test]
fn a_dry_run_to_stdout_lists_the_layer_for_stdout_not_a_directory_named_dash() {
    let f = fake::artifact(vec![("a.txt", b"hello".to_vec())], Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "-", "--dry-run", "--progress", "never"]);
    run.ok();
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"hello");
    let stdout = String::from_utf8(run.stdout.clone()).unwrap();
    assert_eq!(stdout, format!("{digest}\t5\t-\n"), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("would stream 1 file(s), 5 B to stdout"), "{}", run.stderr);
    assert!(!run.stderr.contains("into -") && !stdout.contains("-/"), "{}", run.stderr);
    assert!(!sb.work().join("-").exists(), "a dry run writes nothing");

    let f =
        fake::artifact(vec![("a.txt", b"a".to_vec()), ("b.txt", b"b".to_vec())], Guard::Open, None);
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "-", "--dry-run"]);
    run.fails(2, "-o - writes one layer, but 2 are selected: a.txt, b.txt");
}

#[test]
fn several_failed_layers_keep_their_own_errors_in_the_json_report_and_on_stderr() {
    let layers = vec![
        ("ok.txt", b"fine".to_vec()),
        ("bad.bin", noise(20_000, 1)),
        ("gone.bin", b"lost".to_vec()),
        ("flaky.bin", b"flaky".to_vec()),
    ];
    let digest = |i: usize| oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &layers[i].1).to_string();
    let (bad, gone, flaky) = (digest(1), digest(2), digest(3));
    let f = fake::artifact_with(layers, Guard::Open, move |_, d, bytes| {
        if d == bad {
            let mut b = bytes.to_vec();
            b[100] ^= 0xff;
            Reply::new(200, b)
        } else if d == gone {
            Reply::new(404, r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#)
        } else if d == flaky {
            Reply::new(503, "down")
        } else {
            Reply::new(200, bytes.to_vec())
        }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "--json", "--retries", "0", "-j", "1"]);
    run.fails(5, "3 layers failed");
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("a JSON document");
    assert_eq!(
        (doc["error"]["kind"].as_str(), doc["error"]["exit_code"].as_u64()),
        (Some("integrity"), Some(5))
    );
    let mut each: Vec<(String, String, u64)> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["layer"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["exit_code"].as_u64().unwrap(),
            )
        })
        .collect();
    each.sort();
    assert_eq!(
        each,
        [
            ("bad.bin".into(), "integrity".into(), 5),
            ("flaky.bin".into(), "network".into(), 6),
            ("gone.bin".into(), "not-found".into(), 3)
        ],
        "{doc}"
    );
    for e in doc["errors"].as_array().unwrap() {
        let m = e["message"].as_str().unwrap();
        assert!(
            m.starts_with(e["layer"].as_str().unwrap()) && !m.contains(';'),
            "one error each: {m}"
        );
    }
    // On stderr: the headline, then each failure on its own line.
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bad.bin: blob sha256:") && l.contains("content hashes to")),
        "{}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l.contains("gone.bin: GET") && l.contains("404 BLOB_UNKNOWN")),
        "{}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l.contains("flaky.bin: GET") && l.contains("503")),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&sb.work().join("out")), vec!["ok.txt"]);
}

#[test]
fn a_transient_token_endpoint_failure_is_retried() {
    use crate::support::fake::Fake;
    let data = b"behind a token".to_vec();
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).to_string();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
            "digest": oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": digest, "size": data.len(),
            "annotations": {"org.opencontainers.image.title": "a.bin"}}],
    }))
    .unwrap();
    let tokens = AtomicUsize::new(0);
    let me: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
    let me2 = me.clone();
    let body = data.clone();
    let f = Fake::start(move |hit| {
        if hit.path.starts_with("/token") {
            return match tokens.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::new(503, "token service busy"),
                1 => {
                    Reply::new(200, r#"{"token":"abcdefabcdefabcdef"}"#).fault(Fault::DropAfter(5))
                }
                _ => Reply::new(200, r#"{"token":"abcdefabcdefabcdef"}"#),
            };
        }
        if hit.header("authorization") != Some("Bearer abcdefabcdefabcdef") {
            let host = me2.get().cloned().unwrap_or_default();
            return Reply::new(401, "").header(
                "www-authenticate",
                &format!(r#"Bearer realm="http://{host}/token",service="fake""#),
            );
        }
        match hit.path.as_str() {
            "/v2/x/manifests/v1" => Reply::new(200, manifest.clone())
                .header("content-type", "application/vnd.oci.image.manifest.v1+json"),
            p if p == format!("/v2/x/blobs/{digest}") => Reply::new(200, body.clone()),
            _ => Reply::unexpected(),
        }
    });
    me.set(f.host.clone()).unwrap();
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-v", "--no-cache"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), data);
    assert_eq!(f.hits_to("/token").len(), 3, "a 503 and a cut body, each retried");
    assert!(run.stderr.contains("retry 1/5") && run.stderr.contains("retry 2/5"), "{}", run.stderr);
    assert!(!run.stderr.contains("abcdefabcdefabcdef"), "the token never shows");
    f.assert_no_unexpected();
}

/// `pull --help` as `heading → flags`, in order.
fn help_sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_suffix(':').filter(|h| !h.starts_with(' ') && !h.contains(' '))
        {
            out.push((h.to_owned(), Vec::new()));
        } else if let (Some(flag), Some(last)) =
            (line.trim_start().split([' ', ',', '.']).find(|w| w.starts_with("--")), out.last_mut())
            && (line.starts_with("  -") || line.starts_with("      --"))
        {
            last.1.push(flag.to_owned());
        }
    }
    out
}

#[test]
fn pull_help_groups_its_flags_under_headings() {
    let sb = Sandbox::new();
    // --help has them all; -h a screenful of them (tests/it/help.rs).
    let run = sb.run(&["pull", "--help"]);
    run.ok();
    let text = String::from_utf8(run.stdout.clone()).unwrap();
    let sections = help_sections(&text);
    let names: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        [
            "Arguments",
            "Options",
            "Selection",
            "Output",
            "Network",
            "Extraction",
            "Verification",
            "Referrers",
            "Display",
            "Auth",
            "Cache"
        ],
        "{text}"
    );
    let under = |h: &str| &sections.iter().find(|(n, _)| n == h).unwrap().1;
    assert_eq!(under("Options"), &["--help"], "nothing left ungrouped: {text}");
    let want: [(&str, &[&str]); 9] = [
        (
            "Selection",
            &[
                "--oci-layout",
                "--platform",
                "--glob",
                "--regex",
                "--include",
                "--exclude",
                "--media-type",
                "--case-sensitive",
            ],
        ),
        ("Output", &["--output", "--flatten", "--overwrite", "--json", "--dry-run", "--format"]),
        (
            "Network",
            &[
                "--jobs",
                "--plain-http",
                "--insecure",
                "--ca-file",
                "--registries-conf",
                "--mirror",
                "--retries",
                "--resolve",
                "--timeout",
                "--deadline",
            ],
        ),
        (
            "Extraction",
            &["--extract", "--extract-to", "--keep-archive", "--no-unpack", "--max-unpacked-size"],
        ),
        ("Verification", &["--verify-key"]),
        ("Referrers", &["--referrer", "--no-subject", "--include-referrers"]),
        ("Display", &["--verbose", "--quiet", "--progress"]),
        ("Auth", &["--username", "--registry-config", "--password-stdin"]),
        ("Cache", &["--cache", "--no-cache", "--offline"]),
    ];
    for (h, flags) in want {
        assert_eq!(under(h), flags, "{h}: {text}");
    }
}
