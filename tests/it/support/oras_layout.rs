//! OCI layouts shaped as `oras copy -r --to-oci-layout` writes them, made with the real oras-py
//! SDK. oras-py's `NewLayoutFromRegistry` copies one tag or digest and no referrers, so the
//! referrers are carried the way oras-go's store keeps them (`content/oci/oci.go`: `Push` tags
//! each manifest by its digest, `saveIndex` writes such manifests into `index.json` as untagged
//! entries, and no fallback tag `sha256-<hex>` is written): each referrer's manifest, config and
//! layers copied by oras-py, its descriptor (as the referrers list gives it) added to
//! `index.json` without an `org.opencontainers.image.ref.name`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::test_python;

/// Copy `host/target` (a `repo:tag` or `repo@digest`) into the new layout `dir`, tagged `tag`,
/// with oras-py.
pub fn copy(host: &str, target: &str, dir: &Path, tag: &str) {
    let python = test_python();
    let script = format!(
        "import oras.provider, oras.layout\n\
         p = oras.provider.Registry(hostname='{host}', insecure=True)\n\
         oras.layout.NewLayoutFromRegistry('{d}', p, '{host}/{target}', tag='{tag}')\n",
        d = dir.display()
    );
    let out = Command::new(&python).arg("-c").arg(&script).output();
    let out = out.unwrap_or_else(|e| panic!("the oras Python SDK in {}: {e}", python.display()));
    assert!(out.status.success(), "oras-py layout: {}", String::from_utf8_lossy(&out.stderr));
}

/// Carry the referrer `listed` (its descriptor as a referrers list gives it) of `repo` into the
/// layout `dir`, as oras-go's store keeps one: its blobs, and an untagged `index.json` entry.
pub fn carry_referrer(host: &str, repo: &str, dir: &Path, listed: &Value) {
    let digest = listed["digest"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("referrer");
    copy(host, &format!("{repo}@{digest}"), &one, "referrer");
    for blob in std::fs::read_dir(one.join("blobs/sha256")).unwrap() {
        let blob = blob.unwrap();
        std::fs::copy(blob.path(), dir.join("blobs/sha256").join(blob.file_name())).unwrap();
    }
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().push(listed.clone());
    std::fs::write(index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}
