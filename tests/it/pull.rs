//! `oci-dl pull` against the real registry.

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

/// An ELF header followed by filler: enough for the magic-byte check.
fn elf_bytes() -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01\0".to_vec();
    v.extend(noise(5000, 9));
    v
}

struct App {
    reg: &'static Registry,
    layers: Vec<Layer>,
    manifest_digest: oci_dl::Digest,
}

/// `test/app:v1`: text, a nested ELF, random data and an untitled layer, pushed once.
fn app() -> Option<&'static App> {
    static A: OnceLock<Option<App>> = OnceLock::new();
    A.get_or_init(|| {
        let reg = registry::open()?;
        let layers = vec![
            Layer::titled("hello.txt", "hello, world\n"),
            Layer::titled("bin/tool", elf_bytes()),
            Layer::titled("data-linux-amd64.bin", noise(700_000, 1)),
            Layer::titled("data-linux-arm64.bin", noise(300_000, 2)),
            Layer::untitled("application/vnd.oci.image.layer.v1.tar", noise(1000, 3)),
        ];
        let (manifest_digest, _) = Pusher::new(reg).artifact("test/app", "v1", &layers);
        Some(App { reg, layers, manifest_digest })
    })
    .as_ref()
}

fn read(p: std::path::PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn pulls_every_layer_under_its_title_verified() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let r = format!("{}/test/app:v1", app.reg.host);
    sb.run(&["pull", &r, "-o", "out"]).ok();
    let out = sb.work().join("out");
    let untitled = app.layers[4].digest().hex().to_owned();
    let mut want = vec![
        "bin/",
        "bin/tool",
        "data-linux-amd64.bin",
        "data-linux-arm64.bin",
        "hello.txt",
        untitled.as_str(),
    ];
    want.sort();
    assert_eq!(tree(&out), want);
    for l in &app.layers {
        let name = l.title.clone().unwrap_or_else(|| l.digest().hex().to_owned());
        assert_eq!(read(out.join(&name)), l.bytes, "{name}");
    }
    let mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("bin/tool"), 0o755, "ELF files are made executable");
    assert_eq!(mode("hello.txt") & 0o111, 0, "other files are not");
}

#[test]
fn default_output_is_the_current_directory_and_jobs_one_gives_the_same_result() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let r = format!("{}/test/app:v1", app.reg.host);
    sb.run(&["pull", &r, "-j", "1", "-g", "*.txt"]).ok();
    assert_eq!(read(sb.work().join("hello.txt")), b"hello, world\n");
}

#[test]
fn pulls_by_digest_and_by_tag_at_digest() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let by_digest = format!("{}/test/app@{}", app.reg.host, app.manifest_digest);
    sb.run(&["pull", &by_digest, "-o", "a", "-g", "hello.txt"]).ok();
    assert_eq!(read(sb.work().join("a/hello.txt")), b"hello, world\n");
    // The tag is kept for display but the digest decides: a bogus tag still pulls.
    let tag_at = format!("{}/test/app:no-such-tag@{}", app.reg.host, app.manifest_digest);
    sb.run(&["pull", &tag_at, "-o", "b", "-g", "hello.txt"]).ok();
    assert!(sb.work().join("b/hello.txt").exists());
}

#[test]
fn a_second_pull_keeps_matching_files_without_downloading() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let r = format!("{}/test/app:v1", app.reg.host);
    sb.run(&["pull", &r, "-o", "out"]).ok();
    let p = sb.work().join("out/data-linux-amd64.bin");
    let before = std::fs::metadata(&p).unwrap().modified().unwrap();
    let run = sb.run(&["pull", &r, "-o", "out"]);
    run.ok();
    assert!(run.stderr.contains("5 already up to date"), "{}", run.stderr);
    assert_eq!(
        std::fs::metadata(&p).unwrap().modified().unwrap(),
        before,
        "file was not rewritten"
    );
}

#[test]
fn an_existing_different_file_follows_the_overwrite_policy() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let r = format!("{}/test/app:v1", app.reg.host);
    let out = sb.work().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Same size, other bytes: size alone must not pass for a match.
    std::fs::write(out.join("hello.txt"), "HELLO, WORLD\n").unwrap();
    sb.run(&["pull", &r, "-o", "out", "-g", "hello.txt"]).fails(1, "exists with other content");
    assert_eq!(read(out.join("hello.txt")), b"HELLO, WORLD\n", "untouched without a terminal");
    sb.run(&["pull", &r, "-o", "out", "-g", "hello.txt", "--overwrite", "skip"]).ok();
    assert_eq!(read(out.join("hello.txt")), b"HELLO, WORLD\n", "skip leaves it");
    sb.run(&["pull", &r, "-o", "out", "-g", "hello.txt", "--overwrite", "force"]).ok();
    assert_eq!(read(out.join("hello.txt")), b"hello, world\n", "force replaces it");
    assert_eq!(tree(&out), vec!["hello.txt"], "no .part left behind");
}

#[test]
fn filters_select_layers_by_name_and_media_type() {
    let Some(app) = app() else { return };
    let r = format!("{}/test/app:v1", app.reg.host);
    let untitled = app.layers[4].digest().hex().to_owned();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["-g", "*.bin"], vec!["data-linux-amd64.bin", "data-linux-arm64.bin"]),
        (vec!["-g", "*.TXT"], vec!["hello.txt"]),
        (vec!["-g", "*.TXT", "--case-sensitive"], vec![]),
        (vec!["-g", "hello*", "-g", "bin/*"], vec!["bin/", "bin/tool", "hello.txt"]),
        (vec!["-r", "^data", "-r", "ARM"], vec!["data-linux-arm64.bin"]),
        (vec!["--include", "linux", "--include", "amd64,x86_64"], vec!["data-linux-amd64.bin"]),
        (
            vec!["--exclude", "data,bin/", "--exclude", "nothing"],
            vec!["hello.txt", untitled.as_str()],
        ),
        (vec!["--media-type", "application/vnd.oci.image.layer.*"], vec![untitled.as_str()]),
    ];
    for (flags, mut want) in cases {
        want.sort();
        let sb = Sandbox::new();
        let mut args = vec!["pull", r.as_str(), "-o", "out"];
        args.extend(&flags);
        let run = sb.run(&args);
        if want.is_empty() {
            run.fails(3, "no layer of");
            assert!(
                run.stderr.contains("hello.txt, bin/tool, data-linux-amd64.bin"),
                "lists titles: {}",
                run.stderr
            );
            assert!(!sb.work().join("out").exists(), "nothing created");
        } else {
            run.ok();
        }
        let got = tree(&sb.work().join("out"));
        assert_eq!(got, want, "{flags:?}");
    }
}

#[test]
fn flatten_keeps_only_base_names() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let r = format!("{}/test/app:v1", app.reg.host);
    sb.run(&["pull", &r, "-o", "out", "--flatten", "-g", "bin/*"]).ok();
    assert_eq!(tree(&sb.work().join("out")), vec!["tool"]);
}

#[test]
fn unsafe_titles_are_refused_and_nothing_is_written_outside() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    for (i, title) in
        ["../escape.txt", "/tmp/abs-oci-dl-test", "a/../../x", "dir/"].iter().enumerate()
    {
        let repo = format!("test/unsafe{i}");
        p.artifact(&repo, "v1", &[Layer::titled("ok.txt", "fine"), Layer::titled(title, "evil")]);
        let sb = Sandbox::new();
        let r = format!("{}/{repo}:v1", reg.host);
        sb.run(&["pull", &r, "-o", "out"]).fails(1, "refusing layer title");
        assert_eq!(tree(&sb.work()), Vec::<String>::new(), "{title}: nothing written");
    }
    assert!(!std::path::Path::new("/tmp/abs-oci-dl-test").exists());
}

#[test]
fn nested_titles_never_follow_a_symlink_in_the_output() {
    let Some(reg) = registry::open() else { return };
    Pusher::new(reg).artifact("test/nested", "v1", &[Layer::titled("sub/x.txt", "x")]);
    let sb = Sandbox::new();
    let out = sb.work().join("out");
    let elsewhere = sb.path("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("sub")).unwrap();
    let r = format!("{}/test/nested:v1", reg.host);
    sb.run(&["pull", &r, "-o", "out"]).fails(1, "symlink");
    assert!(tree(&elsewhere).is_empty());
    // A symlink at the final name is replaced, never written through.
    std::fs::remove_file(out.join("sub")).unwrap();
    std::fs::create_dir(out.join("sub")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("target"), out.join("sub/x.txt")).unwrap();
    sb.run(&["pull", &r, "-o", "out", "--overwrite", "force"]).ok();
    assert!(!elsewhere.join("target").exists());
    assert_eq!(read(out.join("sub/x.txt")), b"x");
}

#[test]
fn duplicate_titles_are_refused() {
    let Some(reg) = registry::open() else { return };
    Pusher::new(reg).artifact(
        "test/dup",
        "v1",
        &[Layer::titled("same", "one"), Layer::titled("same", "two")],
    );
    let sb = Sandbox::new();
    let r = format!("{}/test/dup:v1", reg.host);
    sb.run(&["pull", &r, "-o", "out"]).fails(1, "would both be written to");
    assert!(!sb.work().join("out").exists());
}

#[test]
fn an_index_resolves_to_the_requested_platform() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let (amd, amd_body) = p.artifact("test/multi", "amd64", &[Layer::titled("which", "amd64")]);
    let (arm, arm_body) = p.artifact("test/multi", "arm64", &[Layer::titled("which", "arm64")]);
    let host = oci_dl::Platform::host().to_string();
    let other = if host == "linux/arm64" { "linux/amd64" } else { "linux/arm64" };
    let (host_digest, host_len, other_digest, other_len) = if host == "linux/arm64" {
        (&arm, arm_body.len(), &amd, amd_body.len())
    } else {
        (&amd, amd_body.len(), &arm, arm_body.len())
    };
    let want_host = if host == "linux/arm64" { "arm64" } else { "amd64" };
    p.index(
        "test/multi",
        "v1",
        &[(host.as_str(), host_digest, host_len), (other, other_digest, other_len)],
    );
    let r = format!("{}/test/multi:v1", reg.host);

    let sb = Sandbox::new();
    sb.run(&["pull", &r, "-o", "host"]).ok();
    assert_eq!(
        read(sb.work().join("host/which")),
        want_host.as_bytes(),
        "defaults to the host platform"
    );
    sb.run(&["pull", &r, "-o", "other", "--platform", other]).ok();
    assert_ne!(read(sb.work().join("other/which")), want_host.as_bytes());
    let run = sb.run(&["pull", &r, "-o", "none", "--platform", "windows/amd64"]);
    run.fails(3, "no manifest for platform windows/amd64");
    assert!(
        run.stderr.contains(&host) && run.stderr.contains(other),
        "lists platforms: {}",
        run.stderr
    );
    sb.run(&["pull", &r, "--platform", "linux"]).fails(2, "invalid platform");
}

#[test]
fn missing_things_exit_3_and_bad_references_exit_2() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let h = &app.reg.host;
    sb.run(&["pull", &format!("{h}/test/app:nope")]).fails(3, "404 MANIFEST_UNKNOWN");
    sb.run(&["pull", &format!("{h}/test/never-pushed:v1")]).fails(3, "404");
    sb.run(&["pull", &format!("{h}/test/App:v1")]).fails(2, "component \"App\"");
    sb.run(&["pull", &format!("{h}/test/app@sha256:1234")]).fails(2, "needs 64 hex");
    sb.run(&["pull", ""]).fails(2, "empty");
    assert!(tree(&sb.work()).is_empty());
}

#[test]
fn an_output_that_is_a_file_is_a_usage_error() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("out"), "x").unwrap();
    let r = format!("{}/test/app:v1", app.reg.host);
    sb.run(&["pull", &r, "-o", "out"]).fails(2, "is not a directory");
}

#[test]
fn default_registry_comes_from_the_environment() {
    let Some(app) = app() else { return };
    let sb = Sandbox::new();
    let run = sb
        .cmd(&["pull", "test/app:v1", "-g", "hello.txt"])
        .env("OCI_DL_DEFAULT_REGISTRY", &app.reg.host)
        .output()
        .unwrap();
    Run::from(run).ok();
    assert!(sb.work().join("hello.txt").exists());
}

#[test]
fn every_failed_layer_is_reported_and_the_most_specific_code_wins() {
    use crate::support::fake::{self, Guard, Reply};
    let layers = vec![
        ("ok.txt", b"fine".to_vec()),
        ("bad.bin", noise(20_000, 1)),
        ("gone.bin", b"lost".to_vec()),
    ];
    let bad_digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &layers[1].1).to_string();
    let gone_digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &layers[2].1).to_string();
    let f = fake::artifact_with(layers, Guard::Open, move |_, d, bytes| {
        if d == bad_digest {
            let mut b = bytes.to_vec();
            b[100] ^= 0xff;
            Reply::new(200, b)
        } else if d == gone_digest {
            Reply::new(
                404,
                r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
            )
        } else {
            Reply::new(200, bytes.to_vec())
        }
    });
    let sb = Sandbox::new();
    for jobs in ["1", "3"] {
        let out = format!("out{jobs}");
        let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", &out, "-j", jobs]);
        run.fails(5, "2 layers failed");
        assert!(
            run.stderr.contains("bad.bin: blob sha256:")
                && run.stderr.contains("content hashes to"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("gone.bin: GET") && run.stderr.contains("404 BLOB_UNKNOWN"),
            "{}",
            run.stderr
        );
        assert_eq!(
            tree(&sb.work().join(&out)),
            vec!["ok.txt"],
            "the good layer is kept, nothing partial stays"
        );
    }
    f.assert_no_unexpected();
}

#[test]
fn argument_errors_are_one_line_with_exit_2() {
    let sb = Sandbox::new();
    sb.run(&["pull"]).fails(2, "required arguments were not provided: <REFERENCE>");
    sb.run(&["pull", "x", "--jobs", "0"]).fails(2, "0 is not in 1..=64");
    sb.run(&["pull", "x", "--overwrite", "maybe"])
        .fails(2, "possible values: error, skip, force, prompt");
    sb.run(&["frobnicate"]).fails(2, "unrecognized subcommand");
    let help = sb.run(&["--help"]);
    help.ok();
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(text.contains("Exit codes:") && text.contains("5   integrity"), "{text}");
}
