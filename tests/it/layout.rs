//! `pull --format oci-layout|oci-archive` against the real registry, with the result read by the
//! real `skopeo` (`inspect oci:DIR:TAG`, `copy oci:DIR:TAG docker://…`), the way a user moves an
//! image into an air-gapped network: the digest must survive the round trip.

use std::path::Path;
use std::process::Command;

use oci_dl::{Algorithm, Digest};
use serde_json::{Value, json};

use crate::extract::{E, gz, tar};
use crate::support::registry::{self, Registry};
use crate::support::*;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// skopeo must be here: the tests read and copy layouts with it (a missing one fails, naming it).
pub(crate) fn require_skopeo() {
    require(Command::new("skopeo").arg("--version").output().is_ok(), "skopeo");
}

/// `skopeo ARGS`, which must succeed; its stdout.
#[track_caller]
pub(crate) fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A multi-platform image as `docker buildx build --platform linux/amd64,linux/arm64 --push`
/// publishes it (moby/buildkit `exporter/containerimage/writer.go` and `attestations`): per
/// platform an image manifest over an image config and one tar+gzip layer, and an attestation
/// manifest (platform `unknown/unknown`, `vnd.docker.reference.type: attestation-manifest`,
/// `vnd.docker.reference.digest` naming the image) with an in-toto layer.
pub(crate) struct Image {
    /// The index body, as pushed.
    pub index: Vec<u8>,
    /// (platform, image manifest digest), in index order.
    pub platforms: Vec<(&'static str, Digest)>,
    /// Every blob below the index (manifests, configs, layers), by digest.
    pub blobs: Vec<Digest>,
}

impl Image {
    pub fn digest(&self) -> Digest {
        Digest::of(Algorithm::Sha256, &self.index)
    }
}

fn sha(b: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, b)
}

/// Build [`Image`] as an OCI layout and push it with `skopeo copy --all --preserve-digests` to
/// `REGISTRY/repo:tag`.
pub(crate) fn push_image(reg: &Registry, repo: &str, tag: &str) -> Image {
    require_skopeo();
    let dir = tempfile::tempdir().unwrap();
    let blobs_dir = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs_dir).unwrap();
    let mut blobs = Vec::new();
    let mut put = |bytes: &[u8]| {
        let d = sha(bytes);
        std::fs::write(blobs_dir.join(d.hex()), bytes).unwrap();
        blobs.push(d.clone());
        json!({"digest": d.to_string(), "size": bytes.len()})
    };
    let mut entries = Vec::new();
    let mut platforms = Vec::new();
    for (plat, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let layer = gz(&tar(&[E::Dir("etc/"), E::File("etc/arch", arch.as_bytes(), 0o644)]));
        let diff = sha(&tar(&[E::Dir("etc/"), E::File("etc/arch", arch.as_bytes(), 0o644)]));
        let mut l = put(&layer);
        l["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        let mut c = put(&serde_json::to_vec(&json!({"architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff.to_string()]}}))
        .unwrap());
        c["mediaType"] = json!(OCI_CONFIG);
        let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": c, "layers": [l]}))
        .unwrap();
        let mut e = put(&m);
        e["mediaType"] = json!(OCI_MANIFEST);
        e["platform"] = json!({"architecture": arch, "os": "linux"});
        platforms.push((plat, sha(&m)));
        entries.push(e);
        // The provenance statement names the image it is about, as buildkit's does.
        let about = json!({"_type": "https://in-toto.io/Statement/v0.1",
            "subject": [{"name": "_", "digest": {"sha256": sha(&m).hex()}}]});
        let mut statement = put(&serde_json::to_vec(&about).unwrap());
        statement["mediaType"] = json!("application/vnd.in-toto+json");
        statement["annotations"] =
            json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
        let mut ac = put(br#"{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#);
        ac["mediaType"] = json!(OCI_CONFIG);
        let att = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": ac, "layers": [statement]}))
        .unwrap();
        let mut a = put(&att);
        a["mediaType"] = json!(OCI_MANIFEST);
        a["platform"] = json!({"architecture": "unknown", "os": "unknown"});
        a["annotations"] = json!({"vnd.docker.reference.digest": sha(&m).to_string(),
            "vnd.docker.reference.type": "attestation-manifest"});
        entries.push(a);
    }
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
    )
    .unwrap();
    let top = put(&index);
    let mut blobs: Vec<Digest> = blobs.into_iter().filter(|d| *d != sha(&index)).collect();
    blobs.sort();
    blobs.dedup(); // the two attestations share their config
    std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let ix = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX, "digest": top["digest"],
        "size": top["size"], "annotations": {"org.opencontainers.image.ref.name": "src"}}]});
    std::fs::write(dir.path().join("index.json"), serde_json::to_vec(&ix).unwrap()).unwrap();
    let src = format!("oci:{}:src", dir.path().display());
    let dest = format!("docker://{}/{repo}:{tag}", reg.host);
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--quiet",
        &src,
        &dest,
    ]);
    Image { index, platforms, blobs }
}

/// The layout's `index.json` entries as (digest, tag).
pub(crate) fn entries(layout: &Path) -> Vec<(String, Option<String>)> {
    let ix: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    ix["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let tag = e["annotations"]["org.opencontainers.image.ref.name"].as_str();
            (e["digest"].as_str().unwrap().to_owned(), tag.map(str::to_owned))
        })
        .collect()
}

/// Every blob in the layout, by digest, each checked to hash to its name.
pub(crate) fn layout_blobs(layout: &Path) -> Vec<Digest> {
    let mut out: Vec<Digest> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let d: Digest = format!("sha256:{}", e.file_name().to_str().unwrap()).parse().unwrap();
            assert_eq!(sha(&std::fs::read(e.path()).unwrap()), d, "blob {d} is its digest");
            d
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_whole_index_goes_into_a_layout_that_skopeo_reads_and_copies_with_its_digest() {
    let Some(reg) = registry::open() else { return };
    let image = push_image(reg, "lay/app", "v1");
    let sb = Sandbox::new();
    let r = format!("{}/lay/app:v1", reg.host);
    sb.run(&["pull", &r, "--format", "oci-layout", "-o", "L"]).ok();
    let l = sb.work().join("L");
    assert_eq!(entries(&l), [(image.digest().to_string(), Some("v1".to_owned()))]);
    assert_eq!(
        std::fs::read_to_string(l.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    // Every platform's manifest, config and layer, the attestations and the index itself.
    let mut want = image.blobs.clone();
    want.push(image.digest());
    want.sort();
    assert_eq!(layout_blobs(&l), want);
    let oci = format!("oci:{}:v1", l.display());
    assert_eq!(skopeo(&["inspect", "--raw", &oci]), image.index);
    let arm: Value = serde_json::from_slice(&skopeo(&[
        "inspect",
        "--override-os",
        "linux",
        "--override-arch",
        "arm64",
        &oci,
    ]))
    .unwrap();
    assert_eq!(arm["Architecture"], "arm64");
    assert_eq!(arm["Digest"], image.digest().to_string(), "skopeo names the index it read");
    // The air-gapped side: the layout copied into another registry keeps the digest.
    let dest = format!("docker://{}/lay/copied:v1", reg.host);
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--quiet",
        &oci,
        &dest,
    ]);
    let copied = sb.run(&["manifest", &format!("{}/lay/copied:v1", reg.host)]);
    assert_eq!(sha(&copied.ok().stdout), image.digest());
    // A layout is a source too (`--oci-layout`): into an archive without the registry.
    let src = format!("{}:v1", l.display());
    sb.run(&["pull", "--oci-layout", &src, "--format", "oci-archive", "-o", "copy.tar"]).ok();
    let archive = format!("oci-archive:{}:v1", sb.work().join("copy.tar").display());
    assert_eq!(skopeo(&["inspect", "--raw", &archive]), image.index);
}

#[test]
fn a_second_tag_adds_an_entry_the_same_tag_again_does_not_and_nothing_is_fetched_twice() {
    let Some(reg) = registry::logged() else { return };
    let image = push_image(reg, "lay/tags", "v1");
    crate::support::push::Pusher::new(reg).manifest_raw("lay/tags", "v2", OCI_INDEX, &image.index);
    let sb = Sandbox::new();
    let pull = |tag: &str| {
        let r = format!("{}/lay/tags:{tag}", reg.host);
        let run =
            sb.run(&["--no-cache", "pull", &r, "--format", "oci-layout", "-o", "L", "--json"]);
        serde_json::from_slice::<Value>(&run.ok().stdout).unwrap()
    };
    let first = pull("v1");
    assert!(first["blobs"].as_array().unwrap().iter().all(|b| b["status"] == "downloaded"));
    let blob_gets = reg.gets("/v2/lay/tags/blobs/");
    let second = pull("v2");
    let third = pull("v1");
    for doc in [&second, &third] {
        let statuses: Vec<&Value> =
            doc["blobs"].as_array().unwrap().iter().map(|b| &b["status"]).collect();
        assert!(statuses.iter().all(|s| *s == "up-to-date"), "{statuses:?}");
    }
    assert_eq!(reg.gets("/v2/lay/tags/blobs/"), blob_gets, "no blob fetched again");
    let d = image.digest().to_string();
    let l = sb.work().join("L");
    assert_eq!(entries(&l), [(d.clone(), Some("v1".to_owned())), (d, Some("v2".to_owned()))]);
    for tag in ["v1", "v2"] {
        assert_eq!(
            skopeo(&["inspect", "--raw", &format!("oci:{}:{tag}", l.display())]),
            image.index
        );
    }
}

#[test]
fn with_a_platform_the_layout_holds_that_manifest_alone() {
    let Some(reg) = registry::open() else { return };
    let image = push_image(reg, "lay/one", "v1");
    let sb = Sandbox::new();
    let r = format!("{}/lay/one:v1", reg.host);
    sb.run(&["pull", &r, "--platform", "linux/arm64", "--format", "oci-layout", "-o", "L"]).ok();
    let l = sb.work().join("L");
    let arm = &image.platforms[1].1;
    assert_eq!(entries(&l), [(arm.to_string(), Some("v1".to_owned()))]);
    assert_eq!(layout_blobs(&l).len(), 3, "the manifest, its config and its layer");
    let got: Value =
        serde_json::from_slice(&skopeo(&["inspect", &format!("oci:{}:v1", l.display())])).unwrap();
    assert_eq!((&got["Architecture"], &got["Digest"]), (&json!("arm64"), &json!(arm.to_string())));
}

#[test]
fn a_pull_by_digest_adds_an_untagged_entry_once() {
    let Some(reg) = registry::open() else { return };
    let image = push_image(reg, "lay/pin", "v1");
    let sb = Sandbox::new();
    let r = format!("{}/lay/pin@{}", reg.host, image.digest());
    for _ in 0..2 {
        sb.run(&["pull", &r, "--format", "oci-layout", "-o", "L"]).ok();
    }
    assert_eq!(entries(&sb.work().join("L")), [(image.digest().to_string(), None)]);
}

#[test]
fn an_oci_archive_is_the_same_layout_in_a_tar_written_atomically_and_added_to() {
    let Some(reg) = registry::open() else { return };
    let image = push_image(reg, "lay/tar", "v1");
    crate::support::push::Pusher::new(reg).manifest_raw("lay/tar", "v2", OCI_INDEX, &image.index);
    let sb = Sandbox::new();
    for tag in ["v1", "v2"] {
        let r = format!("{}/lay/tar:{tag}", reg.host);
        sb.run(&["pull", &r, "--format", "oci-archive", "-o", "app.tar"]).ok();
        // Nothing but the archive: no staging directory, no temporary tar.
        assert_eq!(tree(&sb.work()), ["app.tar"]);
    }
    let archive = sb.work().join("app.tar");
    for tag in ["v1", "v2"] {
        let raw =
            skopeo(&["inspect", "--raw", &format!("oci-archive:{}:{tag}", archive.display())]);
        assert_eq!(raw, image.index, "{tag}");
    }
    let unpacked = tempfile::tempdir().unwrap();
    let out =
        Command::new("tar").arg("-xf").arg(&archive).current_dir(unpacked.path()).output().unwrap();
    assert!(out.status.success());
    let l = unpacked.path();
    let d = image.digest().to_string();
    assert_eq!(entries(l), [(d.clone(), Some("v1".to_owned())), (d, Some("v2".to_owned()))]);
    assert_eq!(layout_blobs(l).len(), image.blobs.len() + 1);
}

/// Under GitHub Actions a layout pull sets the step outputs a next step copies from.
#[test]
fn github_actions_gets_the_layouts_digest_path_and_tag_as_step_outputs() {
    let Some(reg) = registry::open() else { return };
    let p = crate::support::push::Pusher::new(reg);
    let (digest, _) = p.oras_push("lay/ci", "v1", &[crate::support::push::Layer::oras("a", "a")]);
    let sb = Sandbox::new();
    let outputs = sb.path("output.txt");
    let r = format!("{}/lay/ci:v1", reg.host);
    let run = Run::from(
        sb.cmd(&["pull", &r, "--format", "oci-archive", "-o", "a.tar"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .output()
            .unwrap(),
    );
    run.ok();
    let text = std::fs::read_to_string(&outputs).unwrap();
    for (name, value) in
        [("digest", digest.to_string()), ("output", "a.tar".into()), ("tag", "v1".into())]
    {
        let delimited = text.lines().skip_while(|l| !l.starts_with(&format!("{name}<<"))).nth(1);
        assert_eq!(delimited, Some(value.as_str()), "{name} in {text}");
    }
}

/// `--dry-run` fetches the manifests and lists every blob a layout would hold, as pull's dry
/// run lists files (`DIGEST SIZE PATH`), and writes nothing: no directory, no archive, no blob
/// asked of the registry.
#[test]
fn a_dry_run_lists_the_blobs_and_writes_nothing() {
    let Some(reg) = registry::logged() else { return };
    let image = push_image(reg, "lay/dry", "v1");
    let sb = Sandbox::new();
    let r = format!("{}/lay/dry:v1", reg.host);
    let gets = reg.gets("/v2/lay/dry/blobs/");
    for (format, out) in [("oci-layout", "L"), ("oci-archive", "L.tar")] {
        let run = sb.run(&["--no-cache", "pull", &r, "--format", format, "-o", out, "--dry-run"]);
        let text = String::from_utf8(run.ok().stdout.clone()).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        // Two image configs and layers, two statements; the attestations share one config.
        assert_eq!(rows.len(), 7, "{text}");
        for row in &rows {
            let d: Digest = row[0].parse().unwrap();
            assert!(image.blobs.contains(&d), "{d} is below the index");
            assert_eq!(row[2], format!("blobs/sha256/{}", d.hex()));
        }
        assert!(run.stderr.contains("would write 7 blob(s) and 5 manifest(s)"), "{}", run.stderr);
        assert!(tree(&sb.work()).is_empty(), "{format}: {:?}", tree(&sb.work()));
    }
    assert_eq!(reg.gets("/v2/lay/dry/blobs/"), gets, "no blob asked for");
}
