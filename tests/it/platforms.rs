//! Picking one manifest from an index, on indexes shaped as real publishers push them.

use oci_dl::{Algorithm, Digest};
use serde_json::{Value, json};

use crate::extract::{E, gz, tar};
use crate::support::push::{OCI_INDEX, OCI_MANIFEST, Pusher};
use crate::support::registry;
use crate::support::*;

pub(crate) const VERSION: &str = "1.21.4";

/// One bottle: Homebrew's bottle tag and the platform hash of its index entry (`None` for the
/// platform-independent `all` bottle).
pub(crate) struct Bottle {
    pub tag: &'static str,
    pub platform: Option<Value>,
}

fn bottle(tag: &'static str, arch: &str, os: &str, os_version: &str) -> Bottle {
    Bottle {
        tag,
        platform: Some(json!({"architecture": arch, "os": os, "os.version": os_version})),
    }
}

/// What a pull of `tag`'s bottle saves: its file name and bytes.
pub(crate) fn bottle_file(tag: &str) -> (String, Vec<u8>) {
    let script = format!("#!/bin/sh\necho {tag}\n");
    let bytes = gz(&tar(&[
        E::Dir("wget/"),
        E::Dir(&format!("wget/{VERSION}/")),
        E::Dir(&format!("wget/{VERSION}/bin/")),
        E::File(&format!("wget/{VERSION}/bin/wget"), script.as_bytes(), 0o755),
    ]));
    (format!("wget--{VERSION}.{tag}.bottle.tar.gz"), bytes)
}

/// Push `wget`'s bottles as `brew pr-upload` does (Homebrew/brew `Library/Homebrew/github_packages.rb`,
/// `upload_bottle`): per bottle a manifest without `mediaType` whose config is the platform hash
/// plus rootfs and whose one layer is the titled `.tar.gz`; an index without `mediaType` whose
/// entries carry `platform` {architecture, os, os.version} (none for `all`, since Homebrew
/// commit 48b0275074) and the `ref.name` / `sh.brew.*` annotations. Bodies are
/// `JSON.pretty_generate`d. Returns the index body.
pub(crate) fn push_bottles(p: &Pusher, repo: &str, bottles: &[Bottle]) -> Vec<u8> {
    let mut entries = Vec::new();
    for b in bottles {
        let (file, tgz) = bottle_file(b.tag);
        let tar_sha = Digest::of(Algorithm::Sha256, &flate2_decode(&tgz));
        let layer = p.blob(repo, &tgz);
        let ref_name = format!("{VERSION}.{}", b.tag);
        // The `all` bottle's config still holds the builder's platform.
        let mut config =
            b.platform.clone().unwrap_or(json!({"architecture": "arm64", "os": "darwin"}));
        config["rootfs"] = json!({"type": "layers", "diff_ids": [tar_sha.to_string()]});
        let config = serde_json::to_vec_pretty(&config).unwrap();
        let config_digest = p.blob(repo, &config);
        let tab = json!({"homebrew_version": "4.3.0", "arch": "arm64"}).to_string();
        let descriptor_annotations = json!({
            "org.opencontainers.image.ref.name": ref_name,
            "sh.brew.bottle.digest": layer.hex(),
            "sh.brew.bottle.size": tgz.len().to_string(),
            "sh.brew.tab": tab,
        });
        let mut annotations = descriptor_annotations.clone();
        for (k, v) in [
            ("org.opencontainers.image.created", "2026-05-10"),
            ("org.opencontainers.image.description", "Internet file retriever"),
            ("org.opencontainers.image.documentation", "https://formulae.brew.sh/formula/wget"),
            ("org.opencontainers.image.licenses", "GPL-3.0-or-later"),
            ("org.opencontainers.image.title", &format!("wget {ref_name}")),
            ("org.opencontainers.image.version", VERSION),
        ] {
            annotations[k] = json!(v);
        }
        let manifest = serde_json::to_vec_pretty(&json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer.to_string(), "size": tgz.len(),
                        "annotations": {"org.opencontainers.image.title": file}}],
            "annotations": annotations,
        }))
        .unwrap();
        let digest = p.manifest_raw(repo, &ref_name, OCI_MANIFEST, &manifest);
        let mut entry = json!({"mediaType": OCI_MANIFEST, "digest": digest.to_string(),
                               "size": manifest.len(), "annotations": descriptor_annotations});
        if let Some(plat) = &b.platform {
            entry["platform"] = plat.clone();
        }
        entries.push(entry);
    }
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "manifests": entries,
        "annotations": {
            "com.github.package.type": "homebrew_bottle",
            "org.opencontainers.image.ref.name": VERSION,
            "org.opencontainers.image.title": "wget",
            "org.opencontainers.image.vendor": "homebrew",
            "org.opencontainers.image.version": VERSION,
        },
    }))
    .unwrap();
    p.manifest_raw(repo, VERSION, OCI_INDEX, &index);
    index
}

fn flate2_decode(gz: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

pub(crate) fn brew_set() -> Vec<Bottle> {
    vec![
        bottle("arm64_sequoia", "arm64", "darwin", "macOS 15"),
        bottle("arm64_sonoma", "arm64", "darwin", "macOS 14"),
        bottle("sonoma", "amd64", "darwin", "macOS 14"),
        bottle("x86_64_linux", "amd64", "linux", "Ubuntu 22.04"),
    ]
}

/// The files a pull wrote into `out`, with their bytes.
fn pulled(out: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    tree(out).into_iter().map(|f| (f.clone(), std::fs::read(out.join(&f)).unwrap())).collect()
}

#[test]
fn a_homebrew_bottle_is_picked_by_os_version() {
    let Some(reg) = registry::open() else { return };
    push_bottles(&Pusher::new(reg), "homebrew/core/wget", &brew_set());
    let r = format!("{}/homebrew/core/wget:{VERSION}", reg.host);
    for (asked, tag) in [
        ("darwin/arm64:macOS 14", "arm64_sonoma"),
        ("darwin/arm64:macOS 15", "arm64_sequoia"),
        ("darwin/amd64:macOS 14", "sonoma"),
        ("linux/amd64:Ubuntu 22.04", "x86_64_linux"),
    ] {
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "--platform", asked, "-o", "out"]);
        run.ok();
        assert!(!run.stderr.contains("warning"), "an exact pick is quiet: {}", run.stderr);
        assert_eq!(pulled(&sb.work().join("out")), vec![bottle_file(tag)], "{asked}");
    }
    Sandbox::new()
        .run(&["pull", &r, "--platform", "darwin/arm64:macOS 13", "-o", "out"])
        .fails(3, "platforms: darwin/arm64:macOS 15, darwin/arm64:macOS 14, darwin/amd64:macOS 14");
    Sandbox::new()
        .run(&["pull", &r, "--platform", "darwin/arm64:", "-o", "out"])
        .fails(2, "OS/ARCH[/VARIANT][:OS_VERSION]");
}

#[test]
fn an_ambiguous_pick_takes_the_first_and_lists_the_others() {
    let Some(reg) = registry::open() else { return };
    let index = push_bottles(&Pusher::new(reg), "homebrew/core/wget2", &brew_set());
    let index: Value = serde_json::from_slice(&index).unwrap();
    let digest = |i: usize| index["manifests"][i]["digest"].as_str().unwrap().to_owned();
    let sb = Sandbox::new();
    let r = format!("{}/homebrew/core/wget2:{VERSION}", reg.host);
    let run = sb.run(&["pull", &r, "--platform", "darwin/arm64", "-o", "out"]);
    run.ok();
    assert_eq!(pulled(&sb.work().join("out")), vec![bottle_file("arm64_sequoia")]);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings,
        vec![format!(
            "warning: 2 manifests in the index match darwin/arm64; took {} (darwin/arm64:macOS 15, \
             ref.name \"1.21.4.arm64_sequoia\"); the others: {} (darwin/arm64:macOS 14, \
             ref.name \"1.21.4.arm64_sonoma\"); ask for one with OS/ARCH[/VARIANT][:OS_VERSION]",
            digest(0),
            digest(1)
        )],
        "{}",
        run.stderr
    );
    // `manifest` resolves through the same code: the same warning, and none for one match.
    let run = sb.run(&["manifest", &r, "--platform", "darwin/arm64"]);
    assert_eq!(run.ok().stderr.lines().collect::<Vec<_>>(), warnings);
    let run = sb.run(&["manifest", &r, "--platform", "darwin/amd64"]);
    assert_eq!(run.ok().stderr, "");
}

#[test]
fn the_all_bottle_matches_any_platform_but_ranks_last() {
    let Some(reg) = registry::open() else { return };
    // `all` first, so only ranking (not index order) can put the specific bottle ahead of it.
    let bottles = vec![Bottle { tag: "all", platform: None }, brew_set().remove(1)];
    let index = push_bottles(&Pusher::new(reg), "homebrew/core/ca-certs", &bottles);
    let r = format!("{}/homebrew/core/ca-certs:{VERSION}", reg.host);
    for (asked, tag) in [
        ("darwin/arm64:macOS 14", "arm64_sonoma"),
        ("darwin/arm64", "arm64_sonoma"),
        ("darwin/arm64:macOS 15", "all"),
        ("linux/amd64", "all"),
    ] {
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "--platform", asked, "-o", "out"]);
        assert_eq!(run.ok().stderr.lines().filter(|l| l.contains("warning")).count(), 0);
        assert_eq!(pulled(&sb.work().join("out")), vec![bottle_file(tag)], "{asked}");
    }
    // The descriptor is the index entry as sent: no platform, Homebrew's annotations.
    let run = Sandbox::new().run(&["manifest", &r, "--platform", "linux/amd64", "--descriptor"]);
    let got: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(got, index["manifests"][0]);
}

#[test]
fn manifest_descriptor_keeps_every_field_of_the_entry() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let index = push_bottles(&p, "homebrew/core/wget3", &brew_set());
    let r = format!("{}/homebrew/core/wget3:{VERSION}", reg.host);
    let run = Sandbox::new().run(&[
        "manifest",
        &r,
        "--platform",
        "darwin/arm64:macOS 14",
        "--descriptor",
    ]);
    let got: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(got, index["manifests"][1]);
    assert_eq!(got["platform"]["os.version"], "macOS 14");

    // Every field image-spec gives a descriptor and a platform (opencontainers/image-spec
    // `specs-go/v1/descriptor.go`), as a Windows image's entry carries os.version and os.features.
    let (m, body) = p.artifact("test/allfields", "m", &[]);
    let entry = json!({
        "mediaType": OCI_MANIFEST, "digest": m.to_string(), "size": body.len(),
        "urls": ["https://example.invalid/m"],
        "annotations": {"org.opencontainers.image.ref.name": "m", "x.y": "z"},
        "platform": {"architecture": "arm64", "os": "windows", "os.version": "10.0.17763.1234",
                     "os.features": ["win32k"], "variant": "v8", "features": ["sse4"]},
        "artifactType": "application/vnd.example+type",
    });
    p.index_of("test/allfields", "v1", std::slice::from_ref(&entry), None);
    let r = format!("{}/test/allfields:v1", reg.host);
    let run = Sandbox::new().run(&["manifest", &r, "--platform", "windows/arm64", "--descriptor"]);
    let got: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    assert_eq!(got, entry);
}

/// Push a single-platform image and its attestation as `docker buildx build --platform P`
/// does today (moby/buildkit `docs/attestations/attestation-storage.md`: image manifest, then
/// an attestation manifest with the empty config, an in-toto layer and the image as subject,
/// indexed as `unknown/unknown` with `vnd.docker.reference.*`). Returns the image's layer and
/// the two index entries.
pub(crate) fn buildx_image(
    p: &Pusher,
    repo: &str,
    os: &str,
    arch: &str,
    variant: Option<&str>,
) -> (Vec<u8>, [Value; 2]) {
    let layer = gz(&tar(&[E::File("etc/arch", format!("{arch}{variant:?}").as_bytes(), 0o644)]));
    let layer_digest = p.blob(repo, &layer);
    let diff = Digest::of(Algorithm::Sha256, &flate2_decode(&layer));
    let mut plat = json!({"architecture": arch, "os": os});
    if let Some(v) = variant {
        plat["variant"] = json!(v);
    }
    let mut config = plat.clone();
    config["config"] = json!({});
    config["rootfs"] = json!({"type": "layers", "diff_ids": [diff.to_string()]});
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = p.blob(repo, &config);
    let image = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let image_digest = p.manifest_raw(repo, &image_digest_tag(&image), OCI_MANIFEST, &image);
    let statement = br#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}"#;
    let statement_digest = p.blob(repo, statement);
    let empty = p.blob(repo, b"{}");
    let att = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2, "data": "e30="},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": statement_digest.to_string(), "size": statement.len(),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest.to_string(), "size": image.len()},
    }))
    .unwrap();
    let att_digest = p.manifest_raw(repo, &image_digest_tag(&att), OCI_MANIFEST, &att);
    let entries = [
        json!({"mediaType": OCI_MANIFEST, "digest": image_digest.to_string(), "size": image.len(), "platform": plat}),
        json!({"mediaType": OCI_MANIFEST, "digest": att_digest.to_string(), "size": att.len(),
               "annotations": {"vnd.docker.reference.digest": image_digest.to_string(),
                               "vnd.docker.reference.type": "attestation-manifest"},
               "platform": {"architecture": "unknown", "os": "unknown"}}),
    ];
    (layer, entries)
}

/// A tag for a manifest that is only reached by digest (the registry wants one to PUT under).
fn image_digest_tag(body: &[u8]) -> String {
    format!("d{}", &Digest::of(Algorithm::Sha256, body).hex()[..16])
}

#[test]
fn per_platform_entries_that_are_indexes_are_resolved() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "test/nested";
    // Each platform as buildx pushes it alone: an index of the image and its attestation.
    let mut top = Vec::new();
    let mut layers = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let (layer, entries) = buildx_image(&p, repo, "linux", arch, variant);
        let (d, body) = p.index_of(repo, &format!("only-{arch}"), &entries, None);
        let mut plat = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            plat["variant"] = json!(v);
        }
        // Joined without flattening (crane `cmd/crane/cmd/index.go`, `index append
        // --flatten=false`): the entry is the child index, with its platform.
        top.push(json!({"mediaType": OCI_INDEX, "digest": d.to_string(), "size": body.len(), "platform": plat}));
        layers.push(layer);
    }
    // And one without a platform, as `oras manifest index create` adds an index
    // (oras `cmd/oras/root/manifest/index/create.go`): it matches any platform, last.
    let (layer, entries) = buildx_image(&p, repo, "linux", "s390x", None);
    let (d, body) = p.index_of(repo, "only-s390x", &entries, None);
    top.push(json!({"mediaType": OCI_INDEX, "digest": d.to_string(), "size": body.len()}));
    layers.push(layer);
    p.index_of(repo, "v1", &top, None);
    let r = format!("{}/{repo}:v1", reg.host);
    for (asked, i) in [("linux/amd64", 0), ("linux/arm64", 1), ("linux/s390x", 2)] {
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "--platform", asked, "-o", "out", "--json"]);
        let doc: Value = serde_json::from_slice(&run.ok().stdout).unwrap();
        let want = Digest::of(Algorithm::Sha256, &layers[i]);
        assert_eq!(
            pulled(&sb.work().join("out")),
            vec![(want.hex().to_owned(), layers[i].clone())],
            "{asked}"
        );
        assert_eq!(doc["platform"], asked.replace("arm64", "arm64/v8"), "{asked}");
    }
    // The attestation is never taken, nor listed as a platform there is.
    let run = Sandbox::new().run(&[
        "pull",
        &format!("{}/{repo}:only-amd64", reg.host),
        "--platform",
        "unknown/unknown",
    ]);
    assert!(run.fails(3, "no manifest").stderr.trim_end().ends_with("platforms: linux/amd64"));
}

#[test]
fn indexes_nested_deeper_than_the_limit_are_refused() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "test/deep";
    let (mut digest, mut body) =
        p.artifact(repo, "leaf", &[crate::support::push::Layer::titled("a.txt", "deep")]);
    let mut media_type = OCI_MANIFEST;
    // A true cycle cannot be built, here or in the fake: an entry names its child by digest, so
    // an index would have to contain its own SHA-256, and oci-dl checks every manifest it
    // fetches against the digest it asked for. What bounds a hostile tree is the depth limit.
    for depth in 1..=5 {
        let entry = json!({"mediaType": media_type, "digest": digest.to_string(), "size": body.len(),
                           "platform": {"architecture": "amd64", "os": "linux"}});
        (digest, body) = p.index_of(repo, &format!("depth{depth}"), &[entry], None);
        media_type = OCI_INDEX;
    }
    let sb = Sandbox::new();
    let pull = |depth: u32| {
        sb.run(&[
            "pull",
            &format!("{}/{repo}:depth{depth}", reg.host),
            "--platform",
            "linux/amd64",
            "-o",
            &format!("out{depth}"),
        ])
    };
    pull(4).ok();
    assert_eq!(std::fs::read(sb.work().join("out4/a.txt")).unwrap(), b"deep");
    pull(5).fails(1, "indexes nested more than 4 deep");
    assert!(!sb.work().join("out5").exists(), "nothing written");
}

#[test]
fn linux_arm_prefers_v7_then_v6_then_v5() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "test/arm";
    // Docker Official Images list arm oldest first (amd64, arm/v5, arm/v6, arm/v7, arm64/v8);
    // docker and containerd (`containerd/platforms` `compare.go`, `Only`) rank v7, v6, v5.
    let plats = ["linux/amd64", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8"];
    let mut entries = Vec::new();
    for plat in plats {
        let tag = plat.replace('/', "-");
        let (d, body) =
            p.artifact(repo, &tag, &[crate::support::push::Layer::titled("which", plat)]);
        entries.push((plat, d, body.len()));
    }
    let refs: Vec<(&str, &Digest, usize)> = entries.iter().map(|(p, d, n)| (*p, d, *n)).collect();
    p.index(repo, "v1", &refs);
    let r = format!("{}/{repo}:v1", reg.host);
    for (asked, want) in [
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/arm/v5", "linux/arm/v5"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
    ] {
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &r, "--platform", asked, "-o", "out"]);
        assert!(!run.ok().stderr.contains("warning"), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(sb.work().join("out/which")).unwrap(), want, "{asked}");
    }
}
