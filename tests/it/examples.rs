//! The examples a library user starts from (issue 25), run against the real registry: the
//! package-manager pull (soar's job: title-named files, a glob, four jobs, a resumed layer, and
//! the documented order of each transfer's events), a blob by digest to a writer, and a pull
//! that verifies minisign signatures with a key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::noise;
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::trust::{minisign_key, minisign_sign};

/// `target/debug/examples/NAME`, built once per test binary with the test build's features
/// (after `cargo test` built them this is a no-op).
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        // Cargo gives this test process the package's CARGO_* variables; build scripts (ring's)
        // that watch them would see a change and rebuild the tree, twice.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_") && !matches!(&*key, "CARGO_HOME" | "CARGO_TARGET_DIR") {
                build.env_remove(&*key);
            }
        }
        let status = build
            .args(["build", "--locked", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed");
        // This binary is target/debug/deps/it-HASH; the examples are beside deps/.
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join("examples")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "no example at {}", path.display());
    path
}

fn run(name: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(example(name))
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("DOCKER_CONFIG", cwd)
        .output()
        .unwrap()
}

/// A package as pkgforge publishes it for soar (`oras push` of the build's files: the binary,
/// its minisign `.sig`, icon, desktop entry, build log, metadata, `SBUILD`, `CHECKSUM`; soar's
/// default install patterns skip `*.log`, `SBUILD`, `*.json`, `*.version`:
/// soar-config `config.rs`). Returns the files by title, and the minisign public key.
/// With `only`, just those files (all signed, for a pull that verifies).
fn push_package(
    repo: &str,
    keys: &Path,
    only: Option<&[&str]>,
) -> Option<(String, BTreeMap<String, Vec<u8>>, PathBuf)> {
    let reg = registry::open()?;
    let (secret, public) = minisign_key(keys, "pkgforge");
    let binary = noise(300_000, 25);
    let sig = minisign_sign(&secret, &binary, "curl 8.11.0");
    let files: BTreeMap<String, Vec<u8>> = [
        ("curl", binary),
        ("curl.sig", sig),
        ("curl.png", noise(40_000, 26)),
        ("curl.desktop", b"[Desktop Entry]\nName=curl\nExec=curl\nType=Application\n".to_vec()),
        ("curl.log", noise(20_000, 27)),
        ("curl.version", b"8.11.0\n".to_vec()),
        ("SBUILD", b"#!/SBUILD\npkg: \"curl\"\n".to_vec()),
        ("CHECKSUM", b"placeholder\n".to_vec()),
    ]
    .into_iter()
    .filter(|(n, _)| only.is_none_or(|o| o.contains(n)))
    .map(|(n, b)| (n.to_owned(), b))
    .collect();
    let layers: Vec<Layer> = files.iter().map(|(n, b)| Layer::oras(n, b.clone())).collect();
    Pusher::new(reg).oras_push(repo, "8.11.0", &layers);
    Some((format!("{}/{repo}:8.11.0", reg.host), files, public))
}

/// Each transfer's lines from the example's stderr, by index, in the order they came.
fn transfers(stderr: &str) -> BTreeMap<usize, Vec<String>> {
    let mut by: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in stderr.lines() {
        let mut w = line.split_whitespace();
        let (Some(event), Some(index)) = (w.next(), w.next().and_then(|i| i.parse().ok())) else {
            panic!("not an event line: {line:?}");
        };
        by.entry(index).or_default().push(format!("{event} {}", w.collect::<Vec<_>>().join(" ")));
    }
    by
}

#[test]
fn package_manager_pulls_a_soar_package_with_ordered_events_and_a_resumed_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((reference, files, _)) = push_package("pkgforge/curl", &tmp.path().join("keys"), None)
    else {
        return;
    };
    let out = tmp.path().join("pkg");
    std::fs::create_dir_all(&out).unwrap();
    // An earlier run stopped a third of the way into the binary, and left its resume record
    // (where the filesystem has xattrs; else the .part length is the record).
    let part = oci_dl::part_path(&out.join("curl"));
    std::fs::write(&part, &files["curl"][..100_000]).unwrap();
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &files["curl"]);
    let record = format!(r#"{{"digest":"{digest}","size":300000,"written":100000}}"#);
    let _ = xattr::set(&part, "user.oci-dl.resume", record.as_bytes());

    let run = run("package_manager", &[&reference, out.to_str().unwrap(), "curl*"], tmp.path());
    let (stdout, stderr) =
        (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stderr}");

    let wanted: Vec<&String> = files.keys().filter(|n| n.starts_with("curl")).collect();
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), wanted.len(), "one path per selected file: {stdout}");
    for name in &wanted {
        let path = out.join(name);
        assert!(printed.contains(&path.to_str().unwrap()), "{name} not printed: {stdout}");
        assert_eq!(&std::fs::read(&path).unwrap(), &files[*name], "{name}");
    }
    assert!(!out.join("SBUILD").exists() && !out.join("CHECKSUM").exists(), "glob respected");
    assert!(!oci_dl::part_path(&out.join("curl")).exists(), "the .part became the file");

    // The documented order (oci_dl::Event): start, [resume], then finish, per transfer.
    let by = transfers(&stderr);
    assert_eq!(by.len(), wanted.len(), "{stderr}");
    for (index, lines) in &by {
        let kinds: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
        assert!(
            kinds == ["start", "finish"] || kinds == ["start", "resume", "finish"],
            "transfer {index}: {lines:?}"
        );
    }
    let curl = by.values().find(|l| l[0].starts_with("start curl ")).expect("curl started");
    assert_eq!(curl[0], "start curl 300000");
    assert_eq!(curl[1], "resume curl at 100000");
    assert_eq!(curl[2], "finish curl resumed");
    let fresh = by.values().filter(|l| l.last().unwrap().ends_with(" downloaded")).count();
    assert_eq!(fresh, wanted.len() - 1, "{stderr}");
}

#[test]
fn verify_minisign_pulls_what_the_publishers_key_signed_and_refuses_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((reference, files, public)) =
        push_package("pkgforge/signed", &tmp.path().join("k"), Some(&["curl", "curl.sig"]))
    else {
        return;
    };
    let out = tmp.path().join("good");
    let good = run(
        "verify_minisign",
        &[&reference, out.to_str().unwrap(), public.to_str().unwrap()],
        tmp.path(),
    );
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert_eq!(std::fs::read(out.join("curl")).unwrap(), files["curl"]);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(stdout.lines().any(|l| l == out.join("curl").to_str().unwrap()), "{stdout}");

    let (_, other) = minisign_key(&tmp.path().join("other"), "mallory");
    let out = tmp.path().join("bad");
    let bad = run(
        "verify_minisign",
        &[&reference, out.to_str().unwrap(), other.to_str().unwrap()],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("curl.sig was made with another key than the verification key(s) given"),
        "{stderr}"
    );
    assert!(!out.join("curl").exists(), "nothing under its name without a good signature");
}

#[test]
fn blob_to_writer_streams_a_blob_by_digest_and_refuses_a_tag() {
    let Some(reg) = registry::open() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let bytes = noise(250_000, 28);
    let digest = Pusher::new(reg).blob("blobs/one", &bytes);
    let run_ok = run("blob_to_writer", &[&format!("{}/blobs/one@{digest}", reg.host)], tmp.path());
    assert!(run_ok.status.success(), "{}", String::from_utf8_lossy(&run_ok.stderr));
    assert!(run_ok.stdout == bytes, "the blob's bytes, whole, on stdout");
    assert_eq!(String::from_utf8_lossy(&run_ok.stderr), "250000 bytes, verified\n");

    let tag = run("blob_to_writer", &[&format!("{}/blobs/one:latest", reg.host)], tmp.path());
    let stderr = String::from_utf8_lossy(&tag.stderr);
    assert_eq!(tag.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("names no blob"), "{stderr}");
}
