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
