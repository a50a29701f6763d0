//! Picking one manifest from an index, on indexes shaped as real publishers push them.

use oci_dl::{Algorithm, Digest};
use serde_json::{Value, json};

use crate::extract::{E, gz, tar};
use crate::support::push::{OCI_INDEX, OCI_MANIFEST, Pusher};
use crate::support::registry;
use crate::support::*;

const VERSION: &str = "1.21.4";

/// One bottle: Homebrew's bottle tag and the platform hash of its index entry (`None` for the
/// platform-independent `all` bottle).
struct Bottle {
    tag: &'static str,
    platform: Option<Value>,
}

fn bottle(tag: &'static str, arch: &str, os: &str, os_version: &str) -> Bottle {
    Bottle {
        tag,
        platform: Some(json!({"architecture": arch, "os": os, "os.version": os_version})),
    }
}

/// What a pull of `tag`'s bottle saves: its file name and bytes.
fn bottle_file(tag: &str) -> (String, Vec<u8>) {
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
fn push_bottles(p: &Pusher, repo: &str, bottles: &[Bottle]) -> Vec<u8> {
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

fn brew_set() -> Vec<Bottle> {
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
