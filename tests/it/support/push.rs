//! Push fixtures through the registry's own API: blob upload (POST, then PUT with the digest)
//! and manifest PUT.

use base64::Engine as _;
use oci_dl::{Algorithm, Digest};
use serde_json::{Value, json};

use super::registry::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

pub struct Pusher<'a> {
    reg: &'a Registry,
    agent: ureq::Agent,
}

/// A layer to push: bytes, an optional title, a media type.
pub struct Layer {
    pub bytes: Vec<u8>,
    pub title: Option<String>,
    pub media_type: String,
}

impl Layer {
    pub fn titled(title: &str, bytes: impl Into<Vec<u8>>) -> Layer {
        Layer {
            bytes: bytes.into(),
            title: Some(title.into()),
            media_type: "application/octet-stream".into(),
        }
    }

    /// A file as `oras push` gives it: the generic layer type whatever the file holds, and its
    /// name as the title (oras-go `content/file/file.go`: `defaultBlobMediaType`).
    pub fn oras(title: &str, bytes: impl Into<Vec<u8>>) -> Layer {
        Layer {
            bytes: bytes.into(),
            title: Some(title.into()),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }
    }

    pub fn untitled(media_type: &str, bytes: impl Into<Vec<u8>>) -> Layer {
        Layer { bytes: bytes.into(), title: None, media_type: media_type.into() }
    }

    pub fn digest(&self) -> Digest {
        Digest::of(Algorithm::Sha256, &self.bytes)
    }

    pub fn descriptor(&self) -> Value {
        let mut d = json!({"mediaType": self.media_type, "digest": self.digest().to_string(), "size": self.bytes.len()});
        if let Some(t) = &self.title {
            d["annotations"] = json!({"org.opencontainers.image.title": t});
        }
        d
    }
}

impl<'a> Pusher<'a> {
    pub fn new(reg: &'a Registry) -> Pusher<'a> {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        Pusher { reg, agent }
    }

    fn auth(&self) -> Option<String> {
        self.reg.auth.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    pub fn blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of(Algorithm::Sha256, bytes);
        let url = format!("http://{}/v2/{repo}/blobs/uploads/", self.reg.host);
        let mut req = self.agent.post(&url);
        if let Some(a) = self.auth() {
            req = req.header("authorization", a);
        }
        let r = req.send_empty().unwrap();
        assert_eq!(r.status().as_u16(), 202, "start upload to {url}");
        let loc = r.headers().get("location").unwrap().to_str().unwrap().to_owned();
        let loc = if loc.starts_with('/') { format!("http://{}{loc}", self.reg.host) } else { loc };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let mut req = self
            .agent
            .put(&format!("{loc}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream");
        if let Some(a) = self.auth() {
            req = req.header("authorization", a);
        }
        let r = req.send(bytes).unwrap();
        assert_eq!(r.status().as_u16(), 201, "finish upload of {digest}");
        digest
    }

    /// PUT a manifest body under `reference` (a tag or digest); returns its digest.
    pub fn manifest_raw(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Digest {
        let url = format!("http://{}/v2/{repo}/manifests/{reference}", self.reg.host);
        let mut req = self.agent.put(&url).header("content-type", media_type);
        if let Some(a) = self.auth() {
            req = req.header("authorization", a);
        }
        let mut r = req.send(body).unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 201, "PUT {url}: {}", r.body_mut().read_to_string().unwrap_or_default());
        Digest::of(Algorithm::Sha256, body)
    }

    /// Push an artifact of `layers` (with the empty config) under `tag`. Returns the manifest
    /// digest and body.
    pub fn artifact(&self, repo: &str, tag: &str, layers: &[Layer]) -> (Digest, Vec<u8>) {
        let config = json!({"mediaType": EMPTY_CONFIG, "size": 2});
        self.manifest_of(
            repo,
            tag,
            layers,
            config,
            json!({"artifactType": "application/vnd.oci-dl.test"}),
        )
    }

    /// Upload the `{}` config and `layers`, then PUT a manifest of them with `extra` members.
    fn manifest_of(
        &self,
        repo: &str,
        tag: &str,
        layers: &[Layer],
        mut config: Value,
        extra: Value,
    ) -> (Digest, Vec<u8>) {
        config["digest"] = json!(self.blob(repo, b"{}").to_string());
        for l in layers {
            self.blob(repo, &l.bytes);
        }
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config,
            "layers": layers.iter().map(Layer::descriptor).collect::<Vec<_>>(),
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            m[k] = v.clone();
        }
        let body = serde_json::to_vec(&m).unwrap();
        (self.manifest_raw(repo, tag, OCI_MANIFEST, &body), body)
    }

    /// Push layers as `oras push` (image-spec v1.1) would: the unknown artifact type, the empty
    /// config with its inline data, a `created` annotation (oras CLI `cmd/oras/root/push.go`).
    /// Layers carry their own descriptors (`Layer::oras`, or oras-shaped directories).
    pub fn oras_push(&self, repo: &str, tag: &str, layers: &[Layer]) -> (Digest, Vec<u8>) {
        let config = json!({"mediaType": EMPTY_CONFIG, "size": 2, "data": "e30="});
        let extra = json!({
            "artifactType": "application/vnd.unknown.artifact.v1",
            "annotations": {"org.opencontainers.image.created": "2026-11-30T10:00:00Z"},
        });
        self.manifest_of(repo, tag, layers, config, extra)
    }

    /// Push an index over `(platform, manifest digest, manifest size)` under `tag`.
    pub fn index(&self, repo: &str, tag: &str, entries: &[(&str, &Digest, usize)]) -> Digest {
        let manifests: Vec<Value> = entries
            .iter()
            .map(|(p, d, size)| {
                let parts: Vec<&str> = p.split('/').collect();
                let mut plat = json!({"os": parts[0], "architecture": parts[1]});
                if let Some(v) = parts.get(2) {
                    plat["variant"] = json!(v);
                }
                json!({"mediaType": OCI_MANIFEST, "digest": d.to_string(), "size": size, "platform": plat})
            })
            .collect();
        self.index_of(repo, tag, &manifests, None).0
    }

    /// Push an index of these entry descriptors, as given, with optional top-level annotations.
    /// Returns its digest and body.
    pub fn index_of(
        &self,
        repo: &str,
        tag: &str,
        manifests: &[Value],
        annotations: Option<Value>,
    ) -> (Digest, Vec<u8>) {
        let mut index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        if let Some(a) = annotations {
            index["annotations"] = a;
        }
        let body = serde_json::to_vec(&index).unwrap();
        (self.manifest_raw(repo, tag, OCI_INDEX, &body), body)
    }
}
