//! The front end as people and scripts see it: lines, bars, JSON, streaming, generated files.

use std::path::Path;
use std::sync::OnceLock;

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

fn fixture() -> Option<&'static (&'static Registry, String)> {
    static F: OnceLock<Option<(&'static Registry, String)>> = OnceLock::new();
    F.get_or_init(|| {
        let reg = registry::open()?;
        let layers = [
            Layer::titled("one.txt", "one\n"),
            Layer::titled("two/two.bin", noise(70_000, 2)),
            Layer::titled("three.tar.gz", noise(900, 3)),
        ];
        Pusher::new(reg).artifact("test/cli", "v1", &layers);
        Some((reg, format!("{}/test/cli:v1", reg.host)))
    })
    .as_ref()
}

fn sha256_file(p: &Path) -> String {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &std::fs::read(p).unwrap()).to_string()
}

#[test]
fn json_output_matches_the_files_on_disk() {
    let Some((_, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let run = sb.run(&["pull", r, "-o", "out", "--json"]);
    run.ok();
    let doc: serde_json::Value =
        serde_json::from_slice(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["repository"], "test/cli");
    assert_eq!(doc["media_type"], "application/vnd.oci.image.manifest.v1+json");
    assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        let path = sb.work().join(f["path"].as_str().unwrap());
        assert_eq!(sha256_file(&path), f["digest"].as_str().unwrap(), "{path:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), f["size"].as_u64().unwrap());
        assert_eq!(f["status"], "downloaded");
        assert_eq!(f["media_type"], "application/octet-stream");
    }
    assert_eq!(doc["totals"]["files"], 3);
    assert_eq!(doc["totals"]["downloaded"], 3);
    assert!(doc["elapsed_seconds"].as_f64().unwrap() >= 0.0);

    let again: serde_json::Value =
        serde_json::from_slice(&sb.run(&["pull", r, "-o", "out", "--json"]).ok().stdout).unwrap();
    assert!(again["files"].as_array().unwrap().iter().all(|f| f["status"] == "up-to-date"));
}

#[test]
fn dry_run_lists_and_writes_nothing() {
    let Some((_, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let run = sb.run(&["pull", r, "-o", "out", "--dry-run", "-g", "*.txt"]);
    run.ok();
    let out = String::from_utf8(run.stdout.clone()).unwrap();
    assert!(out.contains("one.txt") && !out.contains("two.bin"), "{out}");
    assert!(run.stderr.contains("would pull 1 file(s)"), "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_slice(
        &sb.run(&["pull", r, "-o", "out", "--dry-run", "--json"]).ok().stdout,
    )
    .unwrap();
    assert!(doc["files"].as_array().unwrap().iter().all(|f| f["status"] == "planned"));
    assert!(!sb.work().join("out").exists(), "nothing written, not even the directory");
}

#[test]
fn pull_to_stdout_streams_exactly_one_layer() {
    let Some((_, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let run = sb.run(&["pull", r, "-o", "-", "-g", "*.bin"]);
    run.ok();
    assert_eq!(run.stdout, noise(70_000, 2));
    let run = sb.run(&["pull", r, "-o", "-"]);
    run.fails(2, "3 are selected: one.txt, two/two.bin, three.tar.gz");
    sb.run(&["pull", r, "-o", "-", "-x"]).fails(2, "--extract writes files");
    sb.run(&["pull", r, "-o", "-", "--json"]).fails(2, "both want stdout");
    assert!(run.stdout.is_empty());
    assert!(tree(&sb.work()).is_empty());
}

#[test]
fn pull_to_stdout_exits_5_after_a_corrupt_stream() {
    let data = noise(50_000, 9);
    let f = fake::artifact_with(vec![("x.bin", data.clone())], Guard::Open, |_, _, b| {
        let mut c = b.to_vec();
        c[10] ^= 1;
        Reply::new(200, c)
    });
    let run = Sandbox::new().run(&["pull", &format!("{}/x:v1", f.host), "-o", "-"]);
    run.fails(5, "content hashes to");
    assert_eq!(run.stdout.len(), data.len(), "streamed, then reported");
}

#[test]
fn without_a_terminal_the_output_is_plain_lines() {
    let Some((_, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let run = sb.run(&["pull", r, "-o", "out"]);
    run.ok();
    assert!(!run.stderr.contains('\x1b'), "no ANSI escapes: {:?}", run.stderr);
    assert!(run.stderr.contains("pulling one.txt (4 B)"), "{}", run.stderr);
    assert!(run.stderr.contains("✓ two/two.bin  68.36 KiB  sha256:"), "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("pulled 3 file(s), ") && last.ends_with("into out"),
        "summary: {last}"
    );
    assert!(run.stdout.is_empty(), "stdout stays clean");

    let quiet = sb.run(&["pull", r, "-o", "q", "-q"]);
    quiet.ok();
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty(), "{}", quiet.stderr);

    let verbose = sb.run(&["pull", r, "-o", "v", "-v"]);
    assert!(
        // The manifest is cached by now: a HEAD says the tag has not moved.
        verbose.stderr.contains("debug: HEAD http://") && verbose.stderr.contains("-> 200 in "),
        "{}",
        verbose.stderr
    );
    let env = Run::from(sb.cmd(&["pull", r, "-o", "e"]).env("RUST_LOG", "debug").output().unwrap());
    assert!(env.stderr.contains("debug: HEAD http://"), "RUST_LOG turns on debug logs");
}

#[test]
fn progress_json_writes_one_event_per_line() {
    let Some((_, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let run = sb.run(&["pull", r, "-o", "out", "--progress", "json"]);
    run.ok();
    let events: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "start").count(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "finish").count(), 3, "{kinds:?}");
    assert!(kinds.contains(&"resolved") && kinds.contains(&"plan"));
    let fin = events.iter().find(|e| e["event"] == "finish" && e["name"] == "one.txt").unwrap();
    assert_eq!(fin["status"], "downloaded");
}

#[test]
fn at_a_terminal_bars_are_drawn() {
    crate::support::require(Path::new("/usr/bin/script").exists(), "script(1), from bsdutils");
    // Four throttled layers so that the bars live long enough to be drawn.
    let layers: Vec<(&str, Vec<u8>)> = vec![
        ("a.bin", noise(600_000, 1)),
        ("b.bin", noise(600_000, 2)),
        ("c.bin", noise(600_000, 3)),
        ("d.bin", noise(600_000, 4)),
    ];
    let f = fake::artifact_with(layers, Guard::Open, |hit, _, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(1_000_000))
    });
    let sb = Sandbox::new();
    let bin = env!("CARGO_BIN_EXE_oci-dl");
    let cmd = format!("{bin} pull {}/x:v1 -o out", f.host);
    let out = sb
        .cmd(&[])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .env("LINES", "30")
        .output_with_program("script", &["-qec", &cmd, "/dev/null"]);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains('\x1b'), "cursor control under a terminal: {screen:?}");
    assert!(screen.contains("/4 files"), "the total bar: {screen:?}");
    assert!(screen.contains("[="), "layer bars: {screen:?}");
    assert!(screen.contains("✓ d.bin"), "finished layers collapse to a line: {screen:?}");
    assert!(sb.work().join("out/d.bin").exists());
}

#[test]
fn completions_and_man_pages_are_current() {
    let sb = Sandbox::new();
    let dir = sb.path("gen");
    sb.run(&["generate-assets", dir.to_str().unwrap()]).ok();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["completions", "man"] {
        let generated = tree(&dir.join(sub));
        assert_eq!(
            tree(&repo.join(sub)),
            generated,
            "{sub}/ file list; run: cargo run -- generate-assets ."
        );
        for f in generated {
            let want = std::fs::read(dir.join(sub).join(&f)).unwrap();
            let have = std::fs::read(repo.join(sub).join(&f)).unwrap_or_default();
            assert!(want == have, "{sub}/{f} is stale; run: cargo run -- generate-assets .");
        }
    }
    let bash = sb.run(&["completions", "bash"]);
    bash.ok();
    assert!(
        String::from_utf8_lossy(&bash.stdout).contains("-o default oci-dl"),
        "a bash completion script"
    );
}

#[test]
fn at_a_terminal_an_existing_different_file_prompts() {
    let Some((_, r)) = fixture() else { return };
    crate::support::require(Path::new("/usr/bin/script").exists(), "script(1), from bsdutils");
    let bin = env!("CARGO_BIN_EXE_oci-dl");
    for (answer, want) in [("n\n", "ONE\n"), ("y\n", "one\n")] {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.work().join("out")).unwrap();
        std::fs::write(sb.work().join("out/one.txt"), "ONE\n").unwrap();
        let cmd = format!("{bin} pull {r} -o out -g one.txt");
        let out = sb.cmd(&[]).env("TERM", "xterm").output_with_program_input(
            "script",
            &["-qec", &cmd, "/dev/null"],
            answer,
        );
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{screen}");
        assert!(screen.contains("exists with other content. Overwrite? [y/N]"), "{screen:?}");
        assert_eq!(
            std::fs::read_to_string(sb.work().join("out/one.txt")).unwrap(),
            want,
            "answer {answer:?}"
        );
    }
}

/// Every failure of a `--json` command prints one document with an `error` object whose exit
/// code is the process's: before any layer (no such tag, a bad reference, a refused command
/// line), and for `tags` and `referrers` too.
#[test]
fn json_reports_every_failure() {
    let Some((reg, r)) = fixture() else { return };
    let sb = Sandbox::new();
    let missing = format!("{}/test/cli:no-such-tag", reg.host);
    let no_repo = format!("{}/test/none", reg.host);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["pull", &missing, "-o", "out", "--json"], 3, "not-found"),
        (vec!["pull", "Not A Reference", "--json"], 2, "usage"),
        (vec!["pull", r, "--json", "--progres", "never"], 2, "usage"),
        (vec!["pull", r, "-o", "-", "--json"], 2, "usage"),
        (vec!["tags", &no_repo, "--json"], 3, "not-found"),
        (vec!["referrers", &missing, "--json"], 3, "not-found"),
    ];
    for (args, code, kind) in cases {
        let run = sb.run(&args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not one JSON document ({e}): {}", run.stderr)
        });
        let err = &doc["error"];
        assert_eq!(err["exit_code"], code, "{args:?}: {doc}");
        assert_eq!(err["kind"], kind, "{args:?}: {doc}");
        let message = err["message"].as_str().unwrap();
        let line = run.stderr.lines().find(|l| l.starts_with("oci-dl: error: ")).unwrap();
        assert_eq!(line.strip_prefix("oci-dl: error: ").unwrap(), message, "{args:?}");
    }
}

/// README's JSON section names every `status` and every `totals` field the document has.
#[test]
fn readme_documents_every_status_and_total() {
    let Some((_, r)) = fixture() else { return };
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("`--json` prints one JSON document").unwrap()..];
    let section = &section[..section.find("A script that pulls").unwrap()];
    use oci_dl::FileStatus::*;
    for s in [Downloaded, Resumed, UpToDate, Skipped, Planned, Extracted, Cached] {
        let name = serde_json::to_value(s).unwrap();
        let name = name.as_str().unwrap();
        assert!(section.contains(&format!("`{name}`")), "README's JSON section lacks {name}");
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&Sandbox::new().run(&["pull", r, "--json"]).ok().stdout).unwrap();
    for key in doc["totals"].as_object().unwrap().keys() {
        assert!(section.contains(&format!("\"{key}\"")), "README's totals lack {key}");
    }
}

/// Sizes come from the manifest: 16 400 layers of 2^50 bytes (the most a blob may claim) add up
/// past `u64::MAX`; the totals stop there instead of wrapping to 2^54 (or panicking).
#[test]
fn totals_of_huge_layers_saturate() {
    use std::io::BufRead;
    let layers: Vec<serde_json::Value> = (0..16_400)
        .map(|i| {
            let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, format!("{i}").as_bytes());
            serde_json::json!({"mediaType": "application/octet-stream", "digest": digest.to_string(),
                "size": 1u64 << 50, "annotations": {"org.opencontainers.image.title": format!("f{i}")}})
        })
        .collect();
    let config = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"{}");
    let body = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.to_string(), "size": 2},
        "layers": layers,
    }))
    .unwrap();
    let f = fake::Fake::start(move |hit| {
        if hit.path.starts_with("/v2/x/manifests/") {
            Reply::new(200, body.clone())
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        } else {
            Reply::new(404, "") // no blob is wanted: only the totals are
        }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let dry = sb.run(&["pull", &r, "-o", "out", "--dry-run", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&dry.ok().stdout).unwrap();
    assert_eq!(doc["totals"]["bytes"].as_u64(), Some(u64::MAX), "{}", doc["totals"]);
    // The engine's plan (the total bar's size) adds them up too; stop once it is said.
    let mut child = sb
        .cmd(&["pull", &r, "-o", "out", "--progress", "json", "-j", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let plan = stderr.lines().map_while(Result::ok).find_map(|l| {
        serde_json::from_str::<serde_json::Value>(&l).ok().filter(|v| v["event"] == "plan")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(plan.expect("a plan event")["bytes"].as_u64(), Some(u64::MAX));
}

/// One source for the exit codes: README's table says exactly what `--help` prints (both come
/// from `cli/exit.rs`'s table, which maps the engine's error kinds).
#[test]
fn readme_exit_codes_are_the_help_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Exit codes").nth(1).unwrap().split("\n## ").next().unwrap();
    let from_readme: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let code = cells.first()?.parse::<u8>().ok()?;
            Some((code.to_string(), cells.get(1)?.replace('`', "")))
        })
        .collect();
    let help = Sandbox::new().run(&["--help"]);
    let text = String::from_utf8(help.ok().stdout.clone()).unwrap();
    let from_help: Vec<(String, String)> = text
        .split("Exit codes:")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (code, meaning) = l.trim().split_once(' ')?;
            code.parse::<u8>().ok()?;
            Some((code.to_owned(), meaning.trim().to_owned()))
        })
        .collect();
    assert_eq!(from_readme, from_help);
    assert_eq!(from_help.len(), 10, "{text}");
}
