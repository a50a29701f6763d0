//! Platforms named as docker and containerd name them, end to end (issue 22): indexes pushed by
//! the real `skopeo copy --all` from OCI layouts shaped as their publishers write them, pulled
//! for one platform, several (`--platform A --platform B`) or all; and where several platforms
//! meet extraction and the overwrite policy.

use std::io::Write;
use std::process::Command;

use oci_dl::{Algorithm, Digest};
use serde_json::{Value, json};

use crate::support::registry::{self, Registry};
use crate::support::*;

/// An OCI image layout being written: blobs by digest, then `index.json` naming one tag.
struct Layout {
    root: tempfile::TempDir,
}

impl Layout {
    fn new() -> Layout {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("blobs/sha256")).unwrap();
        Layout { root }
    }

    /// Store `bytes`; their descriptor's digest and size.
    fn put(&self, bytes: &[u8]) -> (String, usize) {
        let d = Digest::of(Algorithm::Sha256, bytes);
        std::fs::write(self.root.path().join("blobs/sha256").join(d.hex()), bytes).unwrap();
        (d.to_string(), bytes.len())
    }

    fn put_json(&self, v: &Value) -> (String, usize) {
        self.put(&serde_json::to_vec(v).unwrap())
    }

    /// Tag `index` and copy it with everything below to `REGISTRY/dest` by `skopeo copy --all`.
    /// False when skopeo is missing (outside CI, where it is installed).
    fn push(&self, index: (String, usize), reg: &Registry, dest: &str) -> bool {
        let skopeo = Command::new("skopeo").arg("--version").output().is_ok();
        crate::support::require(skopeo, "skopeo");
        let root = self.root.path();
        std::fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let top = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index.0, "size": index.1,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
        std::fs::write(root.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
        let out = Command::new("skopeo")
            .args(["copy", "--all", "--format=oci", "--dest-tls-verify=false", "--quiet"])
            .arg(format!("oci:{}:v1", root.display()))
            .arg(format!("docker://{}/{dest}", reg.host))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
        true
    }
}

/// A zip holding one file, as a provider release archive does.
fn zip_of(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(bytes).unwrap();
    w.finish().unwrap().into_inner()
}

const PROVIDER: &str = "terraform-provider-tls_4.0.6";

/// The platforms of the mirror, as `OS/ARCH`, and the directory each goes to.
const PROVIDER_PLATFORMS: [(&str, &str); 4] = [
    ("linux/amd64", "linux-amd64"),
    ("linux/arm64", "linux-arm64"),
    ("darwin/arm64", "darwin-arm64"),
    ("windows/amd64", "windows-amd64"),
];

/// An OpenTofu provider mirror as opentofu.org/docs/cli/oci_registries/provider-mirror tells
/// publishers to build it with oras 1.3: per platform `oras push --artifact-type
/// application/vnd.opentofu.provider-target --artifact-platform OS/ARCH NAME_OS_ARCH.zip:archive/zip`
/// (an image config holding the platform, one titled `archive/zip` layer), then `oras manifest
/// index create --artifact-type application/vnd.opentofu.provider`, which copies each config's
/// platform into its entry. Returns each platform's file name and bytes.
fn push_provider(reg: &Registry, repo: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let layout = Layout::new();
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for (plat, _) in PROVIDER_PLATFORMS {
        let (os, arch) = plat.split_once('/').unwrap();
        let name = format!("{PROVIDER}_{os}_{arch}.zip");
        let zip = zip_of(&format!("{PROVIDER}_x5"), format!("{os} {arch} binary").as_bytes());
        let layer = layout.put(&zip);
        let config = layout.put_json(&json!({"architecture": arch, "os": os}));
        let manifest = layout.put_json(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.opentofu.provider-target",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
            "layers": [{"mediaType": "archive/zip", "digest": layer.0, "size": layer.1,
                        "annotations": {"org.opencontainers.image.title": name}}],
            "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:00Z"},
        }));
        entries.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.0, "size": manifest.1, "platform": {"architecture": arch, "os": os}}));
        files.push((name, zip));
    }
    let index = layout.put_json(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "artifactType": "application/vnd.opentofu.provider", "manifests": entries,
        "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:01Z"},
    }));
    layout.push(index, reg, &format!("{repo}:v1")).then_some(files)
}

#[test]
fn a_provider_mirror_is_pulled_for_every_platform_each_into_its_directory() {
    let Some(reg) = registry::open() else { return };
    let Some(files) = push_provider(reg, "opentofu-providers/hashicorp/tls") else { return };
    let r = format!("{}/opentofu-providers/hashicorp/tls:v1", reg.host);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "--platform", "all", "-o", "all"]).ok();
    let mut want = Vec::new();
    for ((_, dir), (name, _)) in PROVIDER_PLATFORMS.iter().zip(&files) {
        want.push(format!("{dir}/"));
        want.push(format!("{dir}/{name}"));
    }
    want.sort();
    assert_eq!(tree(&sb.work().join("all")), want);
    for ((_, dir), (name, zip)) in PROVIDER_PLATFORMS.iter().zip(&files) {
        assert_eq!(&std::fs::read(sb.work().join("all").join(dir).join(name)).unwrap(), zip);
    }

    // Several asks, spelled as `uname -m` and docker spell them; the directory is the ask's.
    sb.run(&["pull", &r, "--platform", "Linux/x86_64", "--platform", "linux/aarch64", "-o", "two"])
        .ok();
    assert_eq!(
        tree(&sb.work().join("two")),
        [
            "linux-amd64/".to_owned(),
            format!("linux-amd64/{}", files[0].0),
            "linux-arm64/".to_owned(),
            format!("linux-arm64/{}", files[1].0)
        ]
    );

    // --dry-run and --json name each file's platform.
    let run = sb.run(&["pull", &r, "--platform", "all", "-o", "dry", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&run.ok().stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, ((plat, dir), (name, _))) in lines.iter().zip(PROVIDER_PLATFORMS.iter().zip(&files))
    {
        assert!(line.ends_with(&format!("\tdry/{dir}/{name}\t{plat}")), "{line}");
    }
    assert!(!sb.work().join("dry").exists(), "a dry run writes nothing");
    let run = sb.run(&["pull", &r, "--platform", "all", "-o", "json", "--json"]);
    let doc: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    let plats: Vec<&str> = PROVIDER_PLATFORMS.iter().map(|(p, _)| *p).collect();
    assert_eq!(doc["platforms"], json!(plats));
    let got: Vec<&str> =
        doc["files"].as_array().unwrap().iter().map(|f| f["platform"].as_str().unwrap()).collect();
    assert_eq!(got, plats);
    assert_eq!(doc["media_type"], "application/vnd.oci.image.index.v1+json");

    // A progress view gets one plan for every platform's files, not one per platform.
    let run = sb.run(&["pull", &r, "--platform", "all", "-o", "pj", "--progress", "json"]);
    let plans: Vec<Value> = run
        .ok()
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "plan")
        .collect();
    assert_eq!(plans.len(), 1, "{}", run.stderr);
    assert_eq!(plans[0]["files"], 4);
}

#[test]
fn several_platforms_refuse_what_cannot_hold_them() {
    let Some(reg) = registry::open() else { return };
    let Some(_) = push_provider(reg, "opentofu-providers/hashicorp/tls2") else { return };
    let r = format!("{}/opentofu-providers/hashicorp/tls2:v1", reg.host);
    let sb = Sandbox::new();
    sb.run(&["manifest", &r, "--platform", "all"]).fails(2, "--platform all is for pull");
    sb.run(&["referrers", &r, "--platform", "all"]).fails(2, "--platform all is for pull");
    let both = ["pull", &r, "--platform", "all", "--platform", "linux/amd64", "-o", "x"];
    sb.run(&both).fails(2, "give it alone");
    let stdout = ["pull", &r, "--platform", "linux/amd64", "--platform", "linux/arm64", "-o", "-"];
    sb.run(&stdout).fails(2, "not with -o -");
    let referrer = ["pull", &r, "--platform", "all", "--referrer", "application/spdx+json"];
    sb.run(&referrer).fails(2, "not with --referrer");
    // One ask is missing: nothing is written for the others either.
    let run =
        sb.run(&["pull", &r, "--platform", "linux/amd64", "--platform", "linux/s390x", "-o", "x"]);
    run.fails(3, "linux/s390x: no manifest for platform linux/s390x");
    assert!(!sb.work().join("x").exists());
    // A single manifest has no platforms to choose from.
    let one = format!("{}/opentofu-providers/hashicorp/tls2@{}", reg.host, first_entry(&sb, &r));
    sb.run(&["pull", &one, "--platform", "all", "-o", "y"]).fails(3, "not an index of platforms");
}

/// The digest of the index's first entry.
fn first_entry(sb: &Sandbox, r: &str) -> String {
    let run = sb.run(&["manifest", r]);
    let index: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// Levels and spellings in one index, as `docker buildx build --platform
/// linux/amd64,linux/amd64/v3,linux/arm64,linux/arm/v7` writes it (moby/buildkit
/// `docs/multi-platform.md`: the variant is the GOAMD64/GOARM level), but with the arm entries
/// spelled as containerd's `database.go` normalises them (`aarch64`, `v8.0`, arm variant `7`).
#[test]
fn asks_and_entries_are_normalised_and_levels_ranked() {
    let Some(reg) = registry::open() else { return };
    let layout = Layout::new();
    let plats = [
        json!({"architecture": "amd64", "os": "linux", "variant": "v3"}),
        json!({"architecture": "amd64", "os": "linux"}),
        json!({"architecture": "aarch64", "os": "linux", "variant": "v8.0"}),
        json!({"architecture": "arm", "os": "linux", "variant": "7"}),
    ];
    let mut entries = Vec::new();
    for (i, plat) in plats.iter().enumerate() {
        let which = layout.put(format!("entry{i}").as_bytes());
        let config = layout.put_json(plat);
        let m = layout.put_json(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
            "layers": [{"mediaType": "text/plain", "digest": which.0, "size": which.1,
                        "annotations": {"org.opencontainers.image.title": "which"}}],
        }));
        entries.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": m.0, "size": m.1, "platform": plat}));
    }
    let index = layout.put_json(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}));
    if !layout.push(index, reg, "test/levels:v1") {
        return;
    }
    let r = format!("{}/test/levels:v1", reg.host);
    let host = oci_dl::Platform::host();
    let host_amd64 = host.architecture == "amd64" && host.os == "linux";
    let host_pick =
        if host.variant.as_deref().is_some_and(|v| v >= "v3") { "entry0" } else { "entry1" };
    for (asked, want) in [
        (Some("linux/amd64"), "entry1"),
        (Some("linux/x86_64"), "entry1"),
        (Some("linux/amd64/v2"), "entry1"),
        (Some("linux/amd64/v3"), "entry0"),
        (Some("linux/amd64/v4"), "entry0"),
        (Some("linux/arm64"), "entry2"),
        (Some("Linux/ARM64/v8.2"), "entry2"),
        (Some("linux/armhf"), "entry3"),
        (Some("linux/arm/v8"), "entry3"),
        (None, host_pick),
    ] {
        if asked.is_none() && !host_amd64 {
            continue; // the host default is checked on the amd64 Linux hosts CI runs on
        }
        let sb = Sandbox::new();
        let mut args = vec!["pull", r.as_str(), "-o", "out"];
        args.extend(asked.iter().flat_map(|a| ["--platform", *a]));
        let run = sb.run(&args);
        assert!(!run.ok().stderr.contains("warning"), "{}", run.stderr);
        assert_eq!(
            std::fs::read_to_string(sb.work().join("out/which")).unwrap(),
            want,
            "{asked:?}"
        );
    }
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "--platform", "linux/arm/v6", "-o", "out"])
        .fails(3, "no manifest for platform linux/arm/v6");
}

/// Homebrew bottles differ only by `os.version`: with `all`, each bottle goes into a directory
/// named with it, and the platform-independent `all` bottle (no platform) is left out.
#[test]
fn homebrew_bottles_all_go_each_into_a_directory_named_with_the_os_version() {
    use crate::platforms::{Bottle, VERSION, bottle_file, brew_set, push_bottles};
    let Some(reg) = registry::open() else { return };
    let mut bottles = brew_set();
    bottles.push(Bottle { tag: "all", platform: None });
    push_bottles(&crate::support::push::Pusher::new(reg), "homebrew/core/wget-all", &bottles);
    let r = format!("{}/homebrew/core/wget-all:{VERSION}", reg.host);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "--platform", "all", "-o", "out"]).ok();
    let mut want = Vec::new();
    for (dir, tag) in [
        ("darwin-arm64-macOS_15", "arm64_sequoia"),
        ("darwin-arm64-macOS_14", "arm64_sonoma"),
        ("darwin-amd64-macOS_14", "sonoma"),
        ("linux-amd64-Ubuntu_22.04", "x86_64_linux"),
    ] {
        let (name, bytes) = bottle_file(tag);
        assert_eq!(std::fs::read(sb.work().join("out").join(dir).join(&name)).unwrap(), bytes);
        want.extend([format!("{dir}/"), format!("{dir}/{name}")]);
    }
    want.sort();
    assert_eq!(tree(&sb.work().join("out")), want);
}

/// An entry without `os` (or `architecture`) used to make the whole index unreadable; now it is
/// skipped, as is an entry needing an OS feature the ask lacks (image-spec `image-index.md`:
/// `os.features` a runtime must support).
#[test]
fn unusable_entries_are_skipped_not_fatal() {
    let Some(reg) = registry::open() else { return };
    let p = crate::support::push::Pusher::new(reg);
    let repo = "test/unusable";
    let mut entries = Vec::new();
    for (tag, plat) in [
        ("no-os", json!({"architecture": "amd64"})),
        ("no-arch", json!({"os": "linux"})),
        ("gpu", json!({"os": "linux", "architecture": "amd64", "os.features": ["gpu"]})),
        ("plain", json!({"os": "linux", "architecture": "amd64"})),
    ] {
        let layer = crate::support::push::Layer::titled("which", tag);
        let (d, body) = p.artifact(repo, tag, &[layer]);
        entries.push(json!({"mediaType": crate::support::push::OCI_MANIFEST,
                            "digest": d.to_string(), "size": body.len(), "platform": plat}));
    }
    p.index_of(repo, "v1", &entries, None);
    let r = format!("{}/{repo}:v1", reg.host);
    for (asked, want) in [("linux/amd64", "plain"), ("linux(+gpu)/amd64", "gpu")] {
        let sb = Sandbox::new();
        sb.run(&["pull", &r, "--platform", asked, "-o", "out"]).ok();
        assert_eq!(std::fs::read_to_string(sb.work().join("out/which")).unwrap(), want);
    }
    // With `all`, the entries without os or architecture are left out; the plain and the gpu
    // entry would share `linux-amd64/`, which is refused before anything is written.
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "--platform", "all", "-o", "out"]).fails(
        1,
        "platforms linux(+gpu)/amd64 and linux/amd64 would both be written to linux-amd64",
    );
    assert!(!sb.work().join("out").exists());
}
