//! What real publishers push, pulled as their own clients pull it: oras (the real oras-py SDK
//! where it is installed, and oras-go's shapes), Helm charts, the empty descriptor.

use std::process::Command;

use serde_json::json;

use crate::extract::{E, gz, tar, zst};
use crate::support::push::{EMPTY_CONFIG, Layer, OCI_MANIFEST, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;

fn sha(b: &[u8]) -> String {
    oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b).to_string()
}

/// One row per shape of file `oras push` uploads (every file gets the generic layer type,
/// oras-go `content/file/file.go`): what `-x` makes of it is decided by its bytes.
#[test]
fn oras_files_are_recognised_by_their_bytes() {
    let Some(reg) = registry::open() else { return };
    let t = tar(&[E::Dir("app/"), E::File("app/run", b"run", 0o755)]);
    let unpacked = vec!["app/", "app/run"];
    let rows: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("bundle.tar.gz", gz(&t), unpacked.clone()),
        ("bundle.tgz", gz(&t), unpacked.clone()),
        ("bundle.tar.zst", zst(&t), unpacked.clone()),
        ("bundle.tar", t.clone(), unpacked.clone()),
        ("release-linux", gz(&t), unpacked.clone()), // no suffix: the bytes say tar.gz
        ("tool.gz", gz(b"tool"), vec!["tool"]),
        ("data.json.zst", zst(b"{}"), vec!["data.json"]),
        ("notes.txt", b"notes".to_vec(), vec!["notes.txt"]),
        ("fake.tar.gz", b"not gzip".to_vec(), vec!["fake.tar.gz"]),
    ];
    for (i, (title, bytes, want)) in rows.into_iter().enumerate() {
        let repo = format!("test/p-oras-{i}");
        Pusher::new(reg).oras_push(&repo, "v1", &[Layer::oras(title, bytes.clone())]);
        let r = format!("{}/{repo}:v1", reg.host);
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "-o", "out", "-x"]);
        run.ok();
        assert_eq!(tree(&sb.work().join("out")), want, "{title}: {}", run.stderr);
        // Without -x every file is kept as pushed.
        sb.run(&["pull", &r, "-o", "raw"]).ok();
        assert_eq!(std::fs::read(sb.work().join("raw").join(title)).unwrap(), bytes, "{title}");
    }
}

/// The real oras-py SDK pushes files and a directory; `oci-dl pull` gets what it pushed.
#[test]
fn what_oras_py_pushes_is_pulled() {
    let Some(reg) = registry::open() else { return };
    let python = test_python();
    let has_oras = Command::new(&python)
        .args(["-c", "import oras.client"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_oras {
        let why = format!("the oras Python SDK in {}", python.display());
        crate::support::require(false, &why);
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let d = src.path();
    std::fs::create_dir_all(d.join("site/sub")).unwrap();
    std::fs::write(d.join("site/index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(d.join("site/sub/a.txt"), "a").unwrap();
    std::fs::write(d.join("notes.txt"), "notes").unwrap();
    let bundle = gz(&tar(&[E::Dir("pkg/"), E::File("pkg/bin", b"bin", 0o755)]));
    std::fs::write(d.join("bundle.tar.gz"), &bundle).unwrap();
    let script = format!(
        "import oras.client\n\
         c = oras.client.OrasClient(hostname='{h}', insecure=True)\n\
         r = c.push(target='{h}/test/p-oras-py:v1', files=['bundle.tar.gz', 'notes.txt', 'site'])\n\
         assert r.status_code == 201, r.status_code\n",
        h = reg.host
    );
    let out = Command::new(&python).arg("-c").arg(&script).current_dir(d).output().unwrap();
    assert!(out.status.success(), "oras-py push: {}", String::from_utf8_lossy(&out.stderr));
    let r = format!("{}/test/p-oras-py:v1", reg.host);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "-o", "out"]).ok();
    let out = sb.work().join("out");
    assert_eq!(tree(&out), vec!["bundle.tar.gz", "notes.txt", "site"]);
    assert_eq!(std::fs::read(out.join("bundle.tar.gz")).unwrap(), bundle);
    // oras-py tars a directory with entries under its name (and no unpack annotation):
    // with -x it lands where `oras pull` puts it.
    sb.run(&["pull", &r, "-o", "x", "-x"]).ok();
    let x = sb.work().join("x");
    assert_eq!(
        tree(&x),
        vec![
            "notes.txt",
            "pkg/",
            "pkg/bin",
            "site/",
            "site/index.html",
            "site/sub/",
            "site/sub/a.txt"
        ]
    );
}

/// `oras push` of annotations only (image-spec v1.1): one empty-descriptor layer, which
/// `oras pull` skips (oras CLI `cmd/oras/root/push.go`, oras-go `pack.go`).
#[test]
fn the_empty_descriptor_is_never_a_file() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let empty = json!({"mediaType": EMPTY_CONFIG, "digest": sha(b"{}"), "size": 2, "data": "e30="});
    for (tag, layers) in [("empty", json!([empty])), ("none", json!([]))] {
        p.blob("test/p-empty", b"{}");
        let body = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.unknown.artifact.v1",
            "config": empty, "layers": layers,
            "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:00Z"},
        }))
        .unwrap();
        p.manifest_raw("test/p-empty", tag, OCI_MANIFEST, &body);
        let r = format!("{}/test/p-empty:{tag}", reg.host);
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "-o", "out"]);
        run.ok();
        assert!(run.stderr.contains("nothing to pull"), "{tag}: {}", run.stderr);
        assert!(tree(&sb.work().join("out")).is_empty(), "{tag}");
        sb.run(&["pull", &r, "-o", "out", "-g", "*.txt"]).fails(3, "matches the filters");
    }
    // `oras attach` with a file: the file, never the placeholder.
    let file = b"sbom".to_vec();
    p.blob("test/p-empty", &file);
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": empty,
        "layers": [empty, {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&file),
                   "size": file.len(), "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}}],
    }))
    .unwrap();
    p.manifest_raw("test/p-empty", "attached", OCI_MANIFEST, &body);
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/test/p-empty:attached", reg.host), "-o", "out"]).ok();
    assert_eq!(tree(&sb.work().join("out")), vec!["sbom.spdx.json"]);
}

/// A chart as `helm push` uploads it (helm/helm `pkg/registry/client.go` Push, `constants.go`):
/// no manifest `mediaType` member, Helm's config type holding Chart.yaml as JSON, untitled
/// layers sorted by digest, a tgz whose entries are under `NAME/` with no directory entries
/// (`pkg/chart/v2/util/save.go`).
fn push_chart(reg: &Registry, repo: &str, name: &str, version: &str) -> (Vec<u8>, Vec<u8>) {
    let p = Pusher::new(reg);
    let config = serde_json::to_vec(&json!({
        "name": name, "version": version, "description": "A Helm chart", "apiVersion": "v2",
        "appVersion": "1.16.0", "type": "application"
    }))
    .unwrap();
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    let chart = gz(&tar(&[
        E::File(&format!("{name}/Chart.yaml"), chart_yaml.as_bytes(), 0o644),
        E::File(&format!("{name}/values.yaml"), b"replicaCount: 1\n", 0o644),
        E::File(&format!("{name}/templates/deploy.yaml"), b"kind: Deployment\n", 0o644),
    ]));
    let prov = b"-----BEGIN PGP SIGNED MESSAGE-----\nprov\n".to_vec();
    p.blob(repo, &config);
    p.blob(repo, &chart);
    p.blob(repo, &prov);
    let mut layers = vec![
        json!({"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": sha(&chart), "size": chart.len()}),
        json!({"mediaType": "application/vnd.cncf.helm.chart.provenance.v1.prov", "digest": sha(&prov), "size": prov.len()}),
    ];
    layers.sort_by_key(|l| l["digest"].as_str().unwrap().to_owned());
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": layers,
        "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:00Z",
            "org.opencontainers.image.description": "A Helm chart",
            "org.opencontainers.image.title": name, "org.opencontainers.image.version": version},
    }))
    .unwrap();
    p.manifest_raw(repo, version, OCI_MANIFEST, &body);
    (chart, prov)
}

#[test]
fn helm_charts_are_saved_and_unpacked_as_helm_does() {
    let Some(reg) = registry::open() else { return };
    let (chart, prov) = push_chart(reg, "test/p-charts/mychart", "mychart", "0.1.0");
    let r = format!("{}/test/p-charts/mychart:0.1.0", reg.host);
    let sb = Sandbox::new();
    sb.run(&["pull", &r, "-o", "out"]).ok();
    let out = sb.work().join("out");
    assert_eq!(tree(&out), vec!["mychart-0.1.0.tgz", "mychart-0.1.0.tgz.prov"], "as helm pull");
    assert_eq!(std::fs::read(out.join("mychart-0.1.0.tgz")).unwrap(), chart);
    assert_eq!(std::fs::read(out.join("mychart-0.1.0.tgz.prov")).unwrap(), prov);
    // -x: NAME/ as `helm pull --untar`; the provenance stays a file.
    sb.run(&["pull", &r, "-o", "x", "-x"]).ok();
    assert_eq!(
        tree(&sb.work().join("x")),
        vec![
            "mychart-0.1.0.tgz.prov",
            "mychart/",
            "mychart/Chart.yaml",
            "mychart/templates/",
            "mychart/templates/deploy.yaml",
            "mychart/values.yaml"
        ]
    );
    // Filters see the Helm names.
    sb.run(&["pull", &r, "-o", "only", "-g", "*.tgz"]).ok();
    assert_eq!(tree(&sb.work().join("only")), vec!["mychart-0.1.0.tgz"]);

    // The chart's name comes from the registry: a hostile one is refused before any download.
    for (i, bad) in ["..", "a/b", "x\u{1b}]0;t\u{7}"].iter().enumerate() {
        push_chart(reg, &format!("test/p-charts/bad{i}"), bad, "1.0.0");
        let r = format!("{}/test/p-charts/bad{i}:1.0.0", reg.host);
        let sb = Sandbox::new();
        sb.run(&["pull", &r, "-o", "out"]).fails(1, "refusing Helm chart name");
        assert!(tree(&sb.work().join("out")).is_empty());
    }
}

#[test]
fn naming_conventions_users_carry_over() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    // A one-component name would go to ghcr.io/alpine, which anyone can claim.
    let run = sb.run(&["pull", "alpine", "-o", "out"]);
    run.fails(2, "docker.io/library/alpine");
    assert!(run.stderr.contains("ghcr.io/OWNER/alpine"), "{}", run.stderr);
    sb.run(&["manifest", "alpine:3.20"]).fails(2, "names no registry");
    // With a default registry set it means that registry's repository.
    Pusher::new(reg).oras_push("alpine", "v1", &[Layer::oras("a.txt", "a")]);
    let run = Run::from(
        sb.cmd(&["pull", "alpine:v1", "-o", "out"])
            .env("OCI_DL_DEFAULT_REGISTRY", &reg.host)
            .output()
            .unwrap(),
    );
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/a.txt")).unwrap(), b"a");

    // A blob's digest given to pull: say which command fetches it.
    let layer = Layer::oras("b.txt", "blob bytes");
    Pusher::new(reg).oras_push("test/p-blobref", "v1", &[layer]);
    let digest = sha(b"blob bytes");
    let r = format!("{}/test/p-blobref@{digest}", reg.host);
    sb.run(&["pull", &r, "-o", "out"])
        .fails(3, &format!("{digest} is a blob, not a manifest: use `oci-dl blob"));
    sb.run(&["manifest", &r]).fails(3, "is a blob, not a manifest");
    // A digest that names nothing stays a plain not-found.
    let none = format!("{}/test/p-blobref@{}", reg.host, sha(b"nothing"));
    let run = sb.run(&["pull", &none, "-o", "out", "--retries", "1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("is a blob"), "{}", run.stderr);
}

/// macOS runners fetch tools too: Mach-O binaries, thin or universal, become executable like
/// ELF files; a Java class (the same `cafebabe` magic) does not.
#[test]
fn mach_o_binaries_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    let Some(reg) = registry::open() else { return };
    let with = |head: &[u8]| [head, &noise(4096, 3)[..]].concat();
    let rows: [(&str, Vec<u8>, u32); 4] = [
        ("tool-darwin-arm64", with(&[0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1]), 0o755),
        ("tool-universal", with(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]), 0o755),
        ("tool-linux", with(b"\x7fELF\x02\x01\x01\0"), 0o755),
        ("App.class", with(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]), 0o644),
    ];
    let layers: Vec<Layer> = rows.iter().map(|(t, b, _)| Layer::oras(t, b.clone())).collect();
    Pusher::new(reg).oras_push("test/p-macho", "v1", &layers);
    let sb = Sandbox::new();
    let run = Run::from(sb.cmd(&[]).output_with_program(
        "sh",
        &[
            "-c",
            "umask 022; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_oci-dl"),
            "pull",
            &format!("{}/test/p-macho:v1", reg.host),
            "-o",
            "out",
        ],
    ));
    run.ok();
    for (title, _, mode) in rows {
        let got =
            std::fs::metadata(sb.work().join("out").join(title)).unwrap().permissions().mode();
        assert_eq!(got & 0o777, mode, "{title}");
    }
}

/// Homebrew bottles as `brew pr-upload` publishes them: an OCI layout written by
/// Homebrew/brew `Library/Homebrew/github_packages.rb` (`write_image_index`, no `mediaType`
/// members; per-bottle manifests with one titled tar+gzip layer whose entries are
/// `NAME/VERSION/…`; index entries with `os.version` and `ref.name`), pushed by the real
/// `skopeo copy --all`, as brew does.
#[test]
fn homebrew_bottles_pushed_by_skopeo_are_pulled_per_platform() {
    let Some(reg) = registry::open() else { return };
    crate::support::require(Command::new("skopeo").arg("--version").output().is_ok(), "skopeo");
    let root = tempfile::tempdir().unwrap();
    let blobs = root.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha(bytes);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), bytes).unwrap();
        (d, bytes.len())
    };
    let pretty = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap();
    let mut entries = Vec::new();
    let mut bottles = Vec::new();
    for (tag, arch, os, os_version) in [
        ("arm64_sonoma", "arm64", "darwin", "macOS 14"),
        ("x86_64_linux", "amd64", "linux", "Ubuntu 22.04"),
    ] {
        let bin = format!("#!/bin/sh\necho hello from {tag}\n");
        let bottle = gz(&tar(&[
            E::Dir("hello/2.12.1/bin/"),
            E::File("hello/2.12.1/bin/hello", bin.as_bytes(), 0o755),
        ]));
        let title = format!("hello--2.12.1.{tag}.bottle.tar.gz");
        let (layer, layer_size) = put(&bottle);
        let platform = json!({"architecture": arch, "os": os, "os.version": os_version});
        let (config, config_size) = put(&pretty(&json!({
            "architecture": arch, "os": os, "os.version": os_version,
            "rootfs": {"type": "layers", "diff_ids": [sha(b"uncompressed")]}
        })));
        let manifest = pretty(&json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size,
                        "annotations": {"org.opencontainers.image.title": title}}],
            "annotations": {"org.opencontainers.image.title": format!("hello {tag}")},
        }));
        let (m, m_size) = put(&manifest);
        entries.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": m_size,
            "platform": platform,
            "annotations": {"org.opencontainers.image.ref.name": format!("2.12.1.{tag}"),
                            "sh.brew.bottle.digest": layer.trim_start_matches("sha256:")},
        }));
        bottles.push((tag, title, bottle, bin));
    }
    let (index, index_size) = put(&pretty(&json!({
        "schemaVersion": 2, "manifests": entries,
        "annotations": {"com.github.package.type": "homebrew_bottle", "org.opencontainers.image.ref.name": "2.12.1"},
    })));
    std::fs::write(root.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        root.path().join("index.json"),
        pretty(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index, "size": index_size,
            "annotations": {"org.opencontainers.image.ref.name": "2.12.1"}}]})),
    )
    .unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--all", "--format=oci", "--dest-tls-verify=false", "--quiet"])
        .arg(format!("oci:{}:2.12.1", root.path().display()))
        .arg(format!("docker://{}/homebrew/core/hello:2.12.1", reg.host))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));

    let r = format!("{}/homebrew/core/hello:2.12.1", reg.host);
    for (platform, (tag, title, bottle, bin)) in
        ["darwin/arm64", "linux/amd64"].iter().zip(&bottles)
    {
        let sb = Sandbox::new();
        sb.run(&["pull", &r, "--platform", platform, "-o", "out"]).ok();
        assert_eq!(tree(&sb.work().join("out")), vec![title.clone()], "{tag}");
        assert_eq!(&std::fs::read(sb.work().join("out").join(title)).unwrap(), bottle);
        sb.run(&["pull", &r, "--platform", platform, "-o", "x", "-x"]).ok();
        assert_eq!(
            std::fs::read_to_string(sb.work().join("x/hello/2.12.1/bin/hello")).unwrap(),
            *bin,
            "{tag}"
        );
    }
}
