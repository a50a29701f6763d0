//! The engine words what the user can do as a typed `Hint`; the CLI puts its flags in its place
//! (`src/cli/hints.rs`). These runs hold the CLI's lines to what they said when the engine still
//! named the flags itself, one per hint a registry can provoke on cue.

use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;
use crate::trust::{minisign_key, minisign_sign};

#[test]
fn a_conflict_names_the_overwrite_flag() {
    let Some(reg) = registry::open() else { return };
    Pusher::new(reg).artifact("hints/conflict", "v1", &[Layer::titled("a.txt", "new\n")]);
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work().join("out")).unwrap();
    std::fs::write(sb.work().join("out/a.txt"), "mine\n").unwrap();
    let r = format!("{}/hints/conflict:v1", reg.host);
    sb.run(&["pull", &r, "-o", "out", "--overwrite", "error"])
        .fails(1, "out/a.txt exists with other content; use --overwrite force or skip");
}

#[test]
fn several_platforms_of_one_manifest_name_the_platform_flag() {
    let Some(reg) = registry::open() else { return };
    Pusher::new(reg).artifact("hints/plain", "v1", &[Layer::titled("a.txt", "a\n")]);
    let sb = Sandbox::new();
    let r = format!("{}/hints/plain:v1", reg.host);
    let run = sb.run(&[
        "pull",
        &r,
        "-o",
        "out",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
    ]);
    run.fails(3, "is one manifest, not an index of platforms: pull it with one --platform or none");
}

#[test]
fn a_signature_by_another_key_names_the_key_flag() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let (secret, _) = minisign_key(&sb.path("keys"), "publisher");
    let (_, other) = minisign_key(&sb.path("keys"), "other");
    let sig = minisign_sign(&secret, b"app\n", "app 1");
    let layers = [Layer::oras("app", "app\n"), Layer::oras("app.minisig", sig)];
    Pusher::new(reg).oras_push("hints/signed", "v1", &layers);
    let r = format!("{}/hints/signed:v1", reg.host);
    sb.run(&["pull", &r, "-o", "out", "--verify-key", other.to_str().unwrap()])
        .fails(8, "app.minisig was made with another key than the one(s) given with --verify-key");
}

#[test]
fn a_key_that_is_no_file_names_the_key_flag() {
    let sb = Sandbox::new();
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.to_str().unwrap();
    sb.run(&["pull", "127.0.0.1:9/x:v1", "-o", "out", "--verify-key", spec])
        .fails(2, &format!("--verify-key {spec}: not a public key file"));
}

#[test]
fn a_basic_auth_challenge_names_the_credential_flags() {
    let Some(reg) = registry::basic_auth() else { return };
    Pusher::new(reg).artifact("hints/private", "v1", &[Layer::titled("s.txt", "s")]);
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/hints/private:v1", reg.host), "-o", "out"]).fails(
        4,
        "the registry requires credentials (Basic auth): use -u/--password-stdin, \
         OCI_DL_USERNAME/OCI_DL_PASSWORD or docker login",
    );
}

#[test]
fn an_untrusted_certificate_names_the_ca_file_and_insecure_flags() {
    let Some(reg) = registry::tls() else { return };
    let port = reg.host.rsplit(':').next().unwrap();
    let pin = format!("registry.test:{port}:127.0.0.1");
    let sb = Sandbox::new();
    sb.run(&["manifest", &format!("registry.test:{port}/x/y:v1"), "--resolve", &pin]).fails(
        6,
        "(untrusted certificate: pass the registry's CA with --ca-file FILE, or as a last resort \
         --insecure, which turns verification off)",
    );
}
