//! oci-dl as a library (issue 25): the engine builds without the command line, and its public
//! surface is the checked-in listing.

use std::path::Path;
use std::process::Command;

/// Crates only the front end uses: none may reach a library user's build.
const CLI_CRATES: &[&str] =
    &["clap", "clap_complete", "clap_mangen", "indicatif", "anyhow", "signal-hook"];

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn the_engine_alone_depends_on_none_of_the_cli_crates() {
    // Offline: Cargo.lock already names every crate, so this needs no network.
    let out = cargo()
        .args(["tree", "-e", "normal", "--no-default-features", "--locked", "--offline"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"ureq") && names.contains(&"oci-dl"), "read the tree: {tree}");
    let found: Vec<&&str> = CLI_CRATES.iter().filter(|c| names.contains(c)).collect();
    assert!(found.is_empty(), "the engine without `cli` still pulls in {found:?}");
    // And with the default features they are there: the check above can see them.
    let out = cargo()
        .args(["tree", "-e", "normal", "--locked", "--offline", "--prefix", "none"])
        .output()
        .expect("run cargo tree");
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.lines().any(|l| l.starts_with("clap ")), "default build has clap: {tree}");
}

#[test]
fn the_binary_and_the_test_binary_need_the_cli_feature() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("default = [\"cli\"]"), "cli is a default feature");
    let bin = manifest.split("[[bin]]").nth(1).and_then(|s| s.split("\n[").next()).unwrap();
    assert!(bin.contains("required-features = [\"cli\"]"), "{bin}");
}

/// String literals on code lines of `text` (not comments, not assertions).
fn literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") || code.contains("assert") {
            continue;
        }
        let mut parts = code.split('"');
        parts.next();
        while let (Some(lit), _) = (parts.next(), parts.next()) {
            out.push(lit.to_owned());
        }
    }
    out
}

/// The engine's source files: `src/` without the front end (`cli/`, `main.rs`).
fn engine_files() -> Vec<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("cli") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("main.rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 30, "read src/: {files:?}");
    files
}

#[test]
fn the_engine_installs_no_signal_handler() {
    // A library must not take SIGINT from the program that links it: the caller cancels with
    // its own oci_dl::Cancel (the CLI's handler is cli::cancel_on_signals).
    for f in engine_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for word in ["signal_hook", "sigaction", "libc::signal", "ctrlc"] {
            assert!(!text.contains(word), "{} mentions {word}", f.display());
        }
    }
    let cli = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/mod.rs"))
        .unwrap();
    assert!(cli.contains("fn cancel_on_signals") && cli.contains("signal_hook::flag::register"));
}

#[test]
fn the_engine_names_no_command_line_flag_in_its_messages() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = engine_files();
    let flag = |l: &str| {
        l.contains("-o -")
            || l.contains("-u/")
            || l.match_indices("--").any(|(i, _)| {
                l[i + 2..].starts_with(|c: char| c.is_ascii_lowercase())
                    && (i == 0 || l[..i].ends_with([' ', '(', '`']))
            })
    };
    let mut found = Vec::new();
    for f in &files {
        for lit in literals(&std::fs::read_to_string(f).unwrap()) {
            if flag(&lit) {
                found.push(format!("{}: {lit:?}", f.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(flag("use --overwrite force") && flag("-o - writes"), "the check sees a flag");
    assert!(found.is_empty(), "engine messages name CLI flags (use a Hint):\n{}", found.join("\n"));
}

#[test]
fn a_caller_cancels_a_pull_with_its_own_token() {
    use std::sync::Arc;

    use crate::support::push::{Layer, Pusher};
    use oci_dl::{ClientOptions, ErrorKind, Event, PullRequest};

    let Some(reg) = crate::support::registry::open() else { return };
    let data = crate::support::noise(1 << 20, 31);
    Pusher::new(reg).artifact("library/cancel", "v1", &[Layer::titled("big.bin", data)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let reference = format!("{}/library/cancel:v1", reg.host).parse().unwrap();
    let req = PullRequest::new(reference, &out);
    let mut opts = ClientOptions::default();
    let token = opts.cancel.clone();
    // The caller stops the run as soon as the transfer starts (as on its own Ctrl-C).
    let observer = move |e: &Event<'_>| {
        if let Event::Started { .. } = e {
            token.cancel();
        }
    };
    opts.retry.retries = 0;
    let err = oci_dl::pull(&req, &opts, Arc::new(observer)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{}", err.to_string_full());
    assert!(!out.join("big.bin").exists(), "no final name for an unfinished file");
}
