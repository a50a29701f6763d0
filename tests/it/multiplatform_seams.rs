//! Where several platforms in one pull meet other features that write files: extraction (`-x`,
//! `--extract-to`) and the overwrite policy. Two platforms' files must never race for one path,
//! and nothing may land outside the output directory: canaries around it must stay as they were.

use crate::platforms::buildx_image;
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

/// Push a buildx index of `platforms` (each image with its attestation) to `repo:v1`.
fn push_images(
    p: &Pusher,
    host: &str,
    repo: &str,
    platforms: &[(&str, &str, Option<&str>)],
) -> String {
    let mut entries = Vec::new();
    for (os, arch, variant) in platforms {
        let (_, pair) = buildx_image(p, repo, os, arch, *variant);
        entries.extend(pair);
    }
    p.index_of(repo, "v1", &entries, None);
    format!("{host}/{repo}:v1")
}

#[test]
fn platforms_x_extract_each_image_unpacks_into_its_own_directory() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let plats = [("linux", "amd64", None), ("linux", "arm64", None), ("linux", "arm", Some("v7"))];
    let r = push_images(&p, &reg.host, "test/mp-images", &plats);
    let sb = Sandbox::new();
    let canaries = Canaries::plant(&sb.work());
    sb.run(&["pull", &r, "--platform", "all", "-x", "-o", "out"]).ok();
    let mut want = Vec::new();
    for (dir, content) in [
        ("linux-amd64", "amd64None"),
        ("linux-arm64", "arm64None"),
        ("linux-arm-v7", "armSome(\"v7\")"),
    ] {
        want.extend([format!("{dir}/"), format!("{dir}/etc/"), format!("{dir}/etc/arch")]);
        let got = std::fs::read_to_string(sb.work().join("out").join(dir).join("etc/arch"));
        assert_eq!(got.unwrap(), content, "{dir}");
    }
    want.sort();
    assert_eq!(tree(&sb.work().join("out")), want, "each image's root filesystem apart");
    canaries.assert_unchanged();

    // --extract-to: the unpacked trees go below it, one directory per platform, too.
    let run = sb.run(&[
        "pull",
        &r,
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "-x",
        "--extract-to",
        "out/roots",
        "-o",
        "out/dl",
    ]);
    run.ok();
    for dir in ["linux-amd64", "linux-arm64"] {
        assert!(sb.work().join("out/roots").join(dir).join("etc/arch").is_file(), "{dir}");
    }
    canaries.assert_unchanged();
}

/// A platform's directory that is a symlink (left by an earlier archive, or planted) would send
/// that platform's files outside DIR: it is refused, and the other platforms are still pulled.
#[test]
fn platforms_x_extract_a_symlinked_platform_directory_is_refused() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let r = push_images(
        &p,
        &reg.host,
        "test/mp-link",
        &[("linux", "amd64", None), ("linux", "arm64", None)],
    );
    let sb = Sandbox::new();
    let canaries = Canaries::plant(&sb.work());
    let victim_dir = canaries.victim().parent().unwrap().to_path_buf();
    std::fs::create_dir(sb.work().join("out")).unwrap();
    std::os::unix::fs::symlink(&victim_dir, sb.work().join("out/linux-arm64")).unwrap();
    let run = sb.run(&["pull", &r, "--platform", "all", "-x", "-o", "out"]);
    run.fails(1, "linux/arm64");
    assert_eq!(
        std::fs::read_to_string(sb.work().join("out/linux-amd64/etc/arch")).unwrap(),
        "amd64None"
    );
    assert!(sb.work().join("out/linux-arm64").is_symlink(), "left as it was");
    canaries.assert_unchanged();
}

#[test]
fn platforms_x_overwrite_each_platform_keeps_to_its_own_file() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let repo = "test/mp-overwrite";
    // Release tools title every platform's binary alike: only the directory keeps them apart.
    let (amd, amd_body) = p.artifact(repo, "amd64", &[Layer::titled("tool", "amd64 build")]);
    let (arm, arm_body) = p.artifact(repo, "arm64", &[Layer::titled("tool", "arm64 build")]);
    p.index(
        repo,
        "v1",
        &[("linux/amd64", &amd, amd_body.len()), ("linux/arm64", &arm, arm_body.len())],
    );
    let r = format!("{}/{repo}:v1", reg.host);
    let sb = Sandbox::new();
    let canaries = Canaries::plant(&sb.work());
    let read = |rel: &str| std::fs::read_to_string(sb.work().join("out").join(rel)).unwrap();
    std::fs::create_dir_all(sb.work().join("out/linux-amd64")).unwrap();
    std::fs::write(sb.work().join("out/linux-amd64/tool"), "mine").unwrap();

    // Not at a terminal the policy is `error`: amd64's file is refused, arm64's still pulled.
    let all = ["pull", r.as_str(), "--platform", "all", "-o", "out"];
    sb.run(&all).fails(1, "linux/amd64");
    assert_eq!(read("linux-amd64/tool"), "mine");
    assert_eq!(read("linux-arm64/tool"), "arm64 build");

    let run = sb.run(&[&all[..], &["--overwrite", "skip", "--json"]].concat());
    let doc: serde_json::Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    let status: Vec<(&str, &str)> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["platform"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status, [("linux/amd64", "skipped"), ("linux/arm64", "up-to-date")]);
    assert_eq!(read("linux-amd64/tool"), "mine");

    sb.run(&[&all[..], &["--overwrite", "force"]].concat()).ok();
    assert_eq!(read("linux-amd64/tool"), "amd64 build");
    assert_eq!(read("linux-arm64/tool"), "arm64 build");
    assert_eq!(
        tree(&sb.work().join("out")),
        ["linux-amd64/", "linux-amd64/tool", "linux-arm64/", "linux-arm64/tool"]
    );
    canaries.assert_unchanged();
}

/// Several platforms × `--verify-key`: a cosign signature of the index covers every platform
/// pulled from it (each is resolved by the index's digest); without one, no platform's file
/// gets its name.
#[test]
fn platforms_x_verify_key_a_signed_index_covers_every_platform() {
    use crate::trust::{openssl_sign, p256_key, payload, push_signature, sig_ann};
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (key, public) = p256_key(&sb.path("keys"), "cosign");
    let public = public.to_str().unwrap().to_owned();
    let p = Pusher::new(reg);
    let push = |repo: &str, sign: bool| {
        let (amd, amd_body) = p.artifact(repo, "amd64", &[Layer::titled("tool", "amd64 build")]);
        let (arm, arm_body) = p.artifact(repo, "arm64", &[Layer::titled("tool", "arm64 build")]);
        let entries =
            [("linux/amd64", &amd, amd_body.len()), ("linux/arm64", &arm, arm_body.len())];
        let index = p.index(repo, "v1", &entries);
        if sign {
            let signed = payload(&format!("{}/{repo}", reg.host), &index.to_string());
            push_signature(
                &p,
                repo,
                &index,
                &[(signed.clone(), sig_ann(&openssl_sign(&key, &signed)))],
            );
        }
        format!("{}/{repo}:v1", reg.host)
    };
    let signed = push("trust/mp-signed", true);
    sb.run(&["pull", &signed, "--platform", "all", "-o", "out", "--verify-key", &public]).ok();
    assert_eq!(
        tree(&sb.work().join("out")),
        ["linux-amd64/", "linux-amd64/tool", "linux-arm64/", "linux-arm64/tool"]
    );

    let unsigned = push("trust/mp-unsigned", false);
    let canaries = Canaries::plant(&sb.path("u"));
    let out = sb.path("u/out");
    let run = sb.run(&[
        "pull",
        &unsigned,
        "--platform",
        "all",
        "-o",
        out.to_str().unwrap(),
        "--verify-key",
        &public,
    ]);
    run.fails(8, "failures in 2 platform(s)");
    let files: Vec<String> = tree(&out).into_iter().filter(|f| !f.ends_with('/')).collect();
    assert!(files.is_empty(), "nothing named without a signature: {files:?}");
    canaries.assert_unchanged();
}
