//! README's examples, run as written against fixtures shaped like the releases they describe.

use std::path::Path;

use crate::extract::{E, gz, tar};
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

/// Shell words of a README command line (single quotes only, as README uses them).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => (cur, any) = (cur + &c.to_string(), true),
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// A goreleaser release pushed with oras: archives named by goreleaser's default template
/// `{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}`, with the `.sig` and `.sbom.json`
/// its `signs` and `sboms` steps write beside each, and `checksums.txt`.
#[test]
fn quick_start_streams_exactly_one_archive() {
    let Some(reg) = registry::open() else { return };
    let archive =
        |os: &str| gz(&tar(&[E::File("tool", format!("tool for {os}").as_bytes(), 0o755)]));
    let linux = archive("linux");
    let mut layers = Vec::new();
    for (os, bytes) in [("linux_amd64", linux.clone()), ("darwin_arm64", archive("darwin"))] {
        let name = format!("tool_1.2.0_{os}.tar.gz");
        layers.push(Layer::oras(&format!("{name}.sig"), "signature"));
        layers.push(Layer::oras(&format!("{name}.sbom.json"), "{}"));
        layers.push(Layer::oras(&name, bytes));
    }
    layers.push(Layer::oras("checksums.txt", "…"));
    Pusher::new(reg).oras_push("test/readme-tool", "v1.2.0", &layers);
    let fixture = format!("{}/test/readme-tool:v1.2.0", reg.host);

    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let quick = &readme[readme.find("## Quick start").unwrap()..];
    let quick = &quick[..quick.find("\n## ").unwrap()];
    let streamed: Vec<&str> = quick.lines().filter(|l| l.contains("-o - | tar xz")).collect();
    assert!(!streamed.is_empty(), "the quick start streams an archive");
    for line in streamed {
        let command = line.trim().split(" | ").next().unwrap();
        let args: Vec<String> = words(command)
            .into_iter()
            .skip(1) // oci-dl
            .map(|w| if w == "ghcr.io/org/tool:v1.2.0" { fixture.clone() } else { w })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = Sandbox::new().run(&args);
        run.ok();
        assert!(run.stdout == linux, "{line}: streams the linux archive, only it");
    }
}
