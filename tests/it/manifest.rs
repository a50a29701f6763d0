//! `oci-dl manifest` against the real registry, and the fake for what must be scripted.

use crate::support::fake::{Fake, Reply};
use crate::support::push::{Layer, OCI_MANIFEST, Pusher};
use crate::support::registry;
use crate::support::*;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[test]
fn prints_the_body_exactly_as_served() {
    let Some(reg) = registry::open() else { return };
    let (digest, body) = Pusher::new(reg).artifact("test/m1", "v1", &[Layer::titled("a", "a")]);
    let sb = Sandbox::new();
    let r = format!("{}/test/m1:v1", reg.host);
    let run = sb.run(&["manifest", &r]);
    run.ok();
    assert_eq!(run.stdout, body);
    sb.run(&["manifest", &r, "-o", "m.json"]).ok();
    assert_eq!(std::fs::read(sb.work().join("m.json")).unwrap(), body);
    let run = sb.run(&["manifest", &r, "--descriptor"]);
    run.ok();
    let d: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(d["digest"], digest.to_string());
    assert_eq!(d["size"], body.len());
    assert_eq!(d["mediaType"], OCI_MANIFEST);
}

#[test]
fn an_index_is_printed_as_is_or_resolved_with_platform() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let (amd, amd_body) = p.artifact("test/m2", "amd", &[Layer::titled("x", "amd")]);
    let (arm, arm_body) = p.artifact("test/m2", "arm", &[Layer::titled("x", "arm")]);
    let idx = p.index(
        "test/m2",
        "v1",
        &[("linux/amd64", &amd, amd_body.len()), ("linux/arm64/v8", &arm, arm_body.len())],
    );
    let sb = Sandbox::new();
    let r = format!("{}/test/m2:v1", reg.host);
    let run = sb.run(&["manifest", &r]);
    run.ok();
    assert_eq!(oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &run.stdout), idx);
    let run = sb.run(&["manifest", &r, "--platform", "linux/arm64"]);
    run.ok();
    assert_eq!(run.stdout, arm_body);
    let run = sb.run(&["manifest", &r, "--platform", "linux/arm64", "--descriptor"]);
    let d: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(d["digest"], arm.to_string());
    assert_eq!(d["platform"]["architecture"], "arm64");
    sb.run(&["manifest", &r, "--platform", "linux/s390x"])
        .fails(3, "platforms: linux/amd64, linux/arm64/v8");
}

#[test]
fn docker_schema2_manifests_and_lists_work() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let layer = noise(4096, 7);
    let ld = p.blob("test/docker", &layer);
    let cd = p.blob("test/docker", b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let body = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd.to_string(), "size": 37},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let md = p.manifest_raw("test/docker", "single", DOCKER_MANIFEST, &body);
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_LIST,
        "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": md.to_string(), "size": body.len(),
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }))
    .unwrap();
    p.manifest_raw("test/docker", "list", DOCKER_LIST, &list);
    let sb = Sandbox::new();
    let run = sb.run(&[
        "manifest",
        &format!("{}/test/docker:list", reg.host),
        "--platform",
        "linux/amd64",
        "--descriptor",
    ]);
    run.ok();
    let d: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        (d["mediaType"].as_str(), d["digest"].as_str()),
        (Some(DOCKER_MANIFEST), Some(md.to_string().as_str()))
    );
    sb.run(&[
        "pull",
        &format!("{}/test/docker:list", reg.host),
        "--platform",
        "linux/amd64",
        "-o",
        "o",
    ])
    .ok();
    assert_eq!(std::fs::read(sb.work().join("o").join(ld.hex())).unwrap(), layer);
}

/// A fake that serves `body` for every manifest GET, recording the Accept header.
fn manifest_fake(body: Vec<u8>, content_type: &'static str, served_digest: Option<String>) -> Fake {
    Fake::start(move |hit| {
        if hit.path.starts_with("/v2/x/manifests/") {
            let mut r = Reply::new(200, body.clone()).header("content-type", content_type);
            if let Some(d) = &served_digest {
                r = r.header("docker-content-digest", d);
            }
            r
        } else {
            Reply::unexpected()
        }
    })
}

#[test]
fn accept_lists_all_four_manifest_types() {
    let body = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
    let fake = manifest_fake(body, "application/vnd.oci.image.index.v1+json", None);
    Sandbox::new().run(&["manifest", &format!("{}/x:v1", fake.host)]).ok();
    let accept = fake.hits()[0].header("accept").unwrap().to_owned();
    for t in [OCI_MANIFEST, "application/vnd.oci.image.index.v1+json", DOCKER_MANIFEST, DOCKER_LIST]
    {
        assert!(accept.contains(t), "{accept}");
    }
    fake.assert_no_unexpected();
}

#[test]
fn manifest_bytes_are_verified_against_the_digest_asked_for() {
    let body = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
    let fake = manifest_fake(body.clone(), "application/vnd.oci.image.index.v1+json", None);
    let other = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"something else");
    let sb = Sandbox::new();
    let run = sb.run(&["manifest", &format!("{}/x@{other}", fake.host)]);
    run.fails(5, "content hashes to");
    assert!(run.stdout.is_empty(), "nothing unverified printed");
    let right = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &body);
    assert_eq!(sb.run(&["manifest", &format!("{}/x@{right}", fake.host)]).ok().stdout, body);
}

#[test]
fn a_lying_docker_content_digest_is_an_integrity_error() {
    let body = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
    let lie = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, b"lie").to_string();
    let fake = manifest_fake(body, "application/vnd.oci.image.index.v1+json", Some(lie));
    Sandbox::new()
        .run(&["manifest", &format!("{}/x:v1", fake.host)])
        .fails(5, "Docker-Content-Digest says");
}

#[test]
fn oversized_and_malformed_manifests_are_refused() {
    let huge = vec![b' '; 4 * 1024 * 1024 + 10];
    let fake = manifest_fake(huge, OCI_MANIFEST, None);
    Sandbox::new().run(&["manifest", &format!("{}/x:v1", fake.host)]).fails(1, "cap");
    let fake = manifest_fake(b"<html>gateway</html>".to_vec(), "text/html", None);
    Sandbox::new().run(&["pull", &format!("{}/x:v1", fake.host)]).fails(1, "not JSON");
    let fake = manifest_fake(br#"{"schemaVersion":2}"#.to_vec(), OCI_MANIFEST, None);
    Sandbox::new()
        .run(&["pull", &format!("{}/x:v1", fake.host)])
        .fails(1, "missing field `config`");
}

/// `oci-dl digest` prints what `crane digest` does: the index's digest, or with `--platform`
/// the chosen manifest's; the bytes served are what is hashed.
#[test]
fn digest_prints_the_resolved_manifest_digest() {
    let Some(reg) = registry::open() else { return };
    let p = Pusher::new(reg);
    let (amd, amd_body) = p.artifact("test/m-digest", "amd", &[Layer::titled("x", "amd")]);
    let (arm, arm_body) = p.artifact("test/m-digest", "arm", &[Layer::titled("x", "arm")]);
    let idx = p.index(
        "test/m-digest",
        "v1",
        &[("linux/amd64", &amd, amd_body.len()), ("linux/arm64/v8", &arm, arm_body.len())],
    );
    let sb = Sandbox::new();
    let r = format!("{}/test/m-digest:v1", reg.host);
    let digest = |args: &[&str]| String::from_utf8(sb.run(args).ok().stdout.clone()).unwrap();
    assert_eq!(digest(&["digest", &r]), format!("{idx}\n"));
    // A tag costs one HEAD (not counted against Docker Hub's quota), as for crane digest.
    let v = sb.run(&["digest", &r, "-v"]);
    let answered = |l: &&str| l.contains("/manifests/") && l.contains(" -> ");
    let requests: Vec<&str> = v.stderr.lines().filter(answered).collect();
    assert!(requests.len() == 1 && requests[0].contains("debug: HEAD http://"), "{}", v.stderr);
    assert_eq!(digest(&["digest", &r, "--platform", "linux/arm64"]), format!("{arm}\n"));
    assert_eq!(digest(&["digest", &format!("{}/test/m-digest:amd", reg.host)]), format!("{amd}\n"));
    sb.run(&["digest", &format!("{}/test/m-digest:nope", reg.host)]).fails(3, "nope");
}

/// A registry whose HEAD answer has no `Docker-Content-Digest` (or that refuses HEAD) gets a GET,
/// and the digest is the hash of what it serves.
#[test]
fn digest_falls_back_to_hashing_the_manifest() {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let want = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, body);
    for head in [200, 405] {
        let fake = Fake::start(move |hit| match (hit.method.as_str(), hit.path.as_str()) {
            ("HEAD", "/v2/x/manifests/v1") => Reply::new(head, ""),
            ("GET", "/v2/x/manifests/v1") => Reply::new(200, body.to_vec())
                .header("content-type", "application/vnd.oci.image.index.v1+json"),
            _ => Reply::unexpected(),
        });
        let run = Sandbox::new().run(&["digest", &format!("{}/x:v1", fake.host)]);
        assert_eq!(String::from_utf8(run.ok().stdout.clone()).unwrap(), format!("{want}\n"));
        let methods: Vec<String> = fake.hits().iter().map(|h| h.method.clone()).collect();
        assert_eq!(methods, ["HEAD", "GET"], "HEAD answered {head}");
    }
}
