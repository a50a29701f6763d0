//! Manifest and index types, their media types, and platform matching.
//!
//! See <https://github.com/opencontainers/image-spec/blob/main/manifest.md> and `image-index.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (Docker's index).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` header for manifest requests. All four types must be listed: the CNCF registry
/// answers 404 to a request whose `Accept` lacks the OCI types.
pub const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest body accepted; the distribution spec asks registries to accept at least 4 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The annotation naming a layer's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// Descriptor sizes above this are refused as absurd (no registry serves a 1 PiB blob).
pub const MAX_BLOB_SIZE: u64 = 1 << 50;

/// A content descriptor: what a manifest says about a blob or another manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// What the content must hash to.
    pub digest: Digest,
    /// How many bytes it has (never above [`MAX_BLOB_SIZE`]).
    pub size: u64,
    /// Free-form metadata; [`TITLE_ANNOTATION`] names a layer's file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// In an index: the platform the manifest is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// The `org.opencontainers.image.title` annotation, if any.
    pub fn title(&self) -> Option<&str> {
        self.annotations.get(TITLE_ANNOTATION).map(String::as_str)
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The body's own media type, when it states one.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The config blob (for artifacts often the empty `{}`).
    pub config: Descriptor,
    /// The layers, in order: an artifact's files, or an image's filesystem changesets.
    pub layers: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The body's own media type, when it states one.
    #[serde(default)]
    pub media_type: Option<String>,
    /// One manifest per platform (and attestations, whose platform is `unknown/unknown`).
    pub manifests: Vec<Descriptor>,
}

/// A decoded manifest body.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An image manifest (OCI or Docker).
    Image(ImageManifest),
    /// An index or manifest list.
    Index(Index),
}

impl Manifest {
    /// Decode `body` served with `content_type`. The media type decides the shape: the
    /// `Content-Type` header first, then the body's own `mediaType`, then the presence of
    /// `manifests` (an index) or `layers` (an image).
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<(Manifest, String), Error> {
        let bad = |why: String| Error::new(ErrorKind::Other, format!("invalid manifest: {why}"));
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            let start = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            bad(format!("not JSON ({e}); body starts with {start:?}"))
        })?;
        let obj = value.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| !c.is_empty() && *c != "application/json" && *c != "text/plain");
        let body_type = obj.get("mediaType").and_then(|v| v.as_str());
        let media_type = match (ct, body_type) {
            (Some(c), _) => c.to_owned(),
            (None, Some(b)) => b.to_owned(),
            (None, None) if obj.contains_key("manifests") => OCI_INDEX.to_owned(),
            (None, None) => OCI_MANIFEST.to_owned(),
        };
        let manifest = match media_type.as_str() {
            OCI_MANIFEST | DOCKER_MANIFEST => {
                let m: ImageManifest = serde_json::from_value(value.clone())
                    .map_err(|e| bad(format!("{media_type}: {e}")))?;
                Manifest::Image(m)
            }
            OCI_INDEX | DOCKER_LIST => {
                let i: Index = serde_json::from_value(value.clone())
                    .map_err(|e| bad(format!("{media_type}: {e}")))?;
                Manifest::Index(i)
            }
            other => return Err(bad(format!("unsupported media type {other:?}"))),
        };
        let descriptors: Vec<&Descriptor> = match &manifest {
            Manifest::Image(m) => std::iter::once(&m.config).chain(&m.layers).collect(),
            Manifest::Index(i) => i.manifests.iter().collect(),
        };
        if let Some(d) = descriptors.iter().find(|d| d.size > MAX_BLOB_SIZE) {
            return Err(bad(format!("descriptor {} has an absurd size {}", d.digest, d.size)));
        }
        Ok((manifest, media_type))
    }
}

/// A platform: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`, `darwin`, `windows`…
    pub os: String,
    /// In OCI's names: `amd64`, `arm64`, `arm`…
    pub architecture: String,
    /// `v7`, `v8`…, when the architecture has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this binary runs on, in OCI's names.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        let variant = match architecture {
            "arm" => Some("v7".to_owned()),
            _ => None,
        };
        Platform { os: std::env::consts::OS.to_owned(), architecture: architecture.into(), variant }
    }

    /// Whether a descriptor's platform satisfies this wanted one. A wanted platform without a
    /// variant matches any variant; `arm64` treats a missing variant as `v8`.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        let norm = |v: &Option<String>| match (self.architecture.as_str(), v.as_deref()) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, v) => v.map(str::to_owned),
        };
        match &self.variant {
            None => true,
            Some(_) => norm(&self.variant) == norm(&candidate.variant),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("invalid platform {s:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64"),
            ));
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

impl Index {
    /// Pick the manifest for `wanted`. Entries without a platform, and attestation entries
    /// (`unknown/unknown`), are never picked. Among matches, an exact variant match wins.
    pub fn select(&self, wanted: &Platform) -> Result<&Descriptor, Error> {
        let candidates = self.manifests.iter().filter(|d| {
            d.platform.as_ref().is_some_and(|p| p.os != "unknown" && wanted.matches(p))
        });
        let mut best: Option<&Descriptor> = None;
        for d in candidates {
            let exact =
                d.platform.as_ref().map(|p| p.variant.clone()) == Some(wanted.variant.clone());
            if best.is_none() || exact {
                best = Some(d);
                if exact {
                    break;
                }
            }
        }
        best.ok_or_else(|| {
            let there: Vec<String> = self
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(Platform::to_string)
                .collect();
            let list = if there.is_empty() { "none".to_owned() } else { there.join(", ") };
            Error::new(
                ErrorKind::NotFound,
                format!("no manifest for platform {wanted} in the index; platforms: {list}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn index(platforms: &[&str]) -> Index {
        let manifests = platforms
            .iter()
            .enumerate()
            .map(|(i, p)| Descriptor {
                media_type: OCI_MANIFEST.into(),
                digest: d(i as u8).parse().unwrap(),
                size: 10,
                annotations: BTreeMap::new(),
                platform: Some(p.parse().unwrap()),
            })
            .collect();
        Index { schema_version: 2, media_type: None, manifests }
    }

    #[test]
    fn platform_matching_table() {
        let idx = index(&[
            "linux/amd64",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm64",
            "unknown/unknown",
        ]);
        let cases = [
            ("linux/amd64", Some(0)),
            ("linux/arm/v7", Some(2)),
            ("linux/arm/v6", Some(1)),
            ("linux/arm", Some(1)),
            ("linux/arm64/v8", Some(3)),
            ("linux/arm64", Some(3)),
            ("windows/amd64", None),
            ("linux/s390x", None),
            ("unknown/unknown", None),
        ];
        for (want, expect) in cases {
            let got = idx.select(&want.parse().unwrap()).ok().map(|d| d.digest.clone());
            assert_eq!(got, expect.map(|i| d(i).parse().unwrap()), "{want}");
        }
        let e = idx.select(&"linux/s390x".parse().unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("linux/amd64, linux/arm/v6"), "{e}");
        assert!(!e.to_string().contains("unknown/unknown"), "{e}");
    }

    #[test]
    fn platform_strings() {
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/amd64/v1/x".parse::<Platform>().is_err());
        assert!("linux//v1".parse::<Platform>().is_err());
        assert_eq!("linux/arm/v7".parse::<Platform>().unwrap().to_string(), "linux/arm/v7");
        let host = Platform::host();
        assert_eq!(host.os, std::env::consts::OS);
    }

    #[test]
    fn parse_decides_shape_by_media_type() {
        let layer = format!(r#"{{"mediaType":"x","digest":"{}","size":3}}"#, d(1));
        let img = format!(r#"{{"schemaVersion":2,"config":{layer},"layers":[{layer}]}}"#);
        let (m, mt) = Manifest::parse(img.as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert!(matches!(m, Manifest::Image(ref i) if i.layers.len() == 1));
        assert_eq!(mt, OCI_MANIFEST);
        let (_, mt) = Manifest::parse(img.as_bytes(), Some("application/json")).unwrap();
        assert_eq!(mt, OCI_MANIFEST, "generic content type falls back to the body");

        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (b"<html>oops</html>", None, "not JSON"),
            (b"[1,2]", None, "not a JSON object"),
            (img.as_bytes(), Some("application/vnd.foo"), "unsupported media type"),
            (
                br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:00","size":1}}"#,
                None,
                "invalid digest",
            ),
            (
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
                None,
                "missing field `config`",
            ),
        ];
        for (body, ct, want) in cases {
            let e = Manifest::parse(body, *ct).unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
        let neg = img.replace("\"size\":3}]", "\"size\":-3}]");
        assert!(
            Manifest::parse(neg.as_bytes(), None)
                .unwrap_err()
                .to_string()
                .contains("invalid value")
        );
        let huge = img.replace("\"size\":3}]", &format!("\"size\":{}}}]", MAX_BLOB_SIZE + 1));
        assert!(Manifest::parse(huge.as_bytes(), None).unwrap_err().to_string().contains("absurd"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoder_never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Manifest::parse(&b, None);
        }

        #[test]
        fn decoder_never_panics_on_json_shapes(
            size in any::<i64>(),
            mt in "[a-z./+-]{0,40}",
            hex in "[0-9a-g]{60,66}",
            key in prop_oneof![Just("layers"), Just("manifests"), Just("config"), Just("x")],
        ) {
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"{mt}","{key}":[{{"mediaType":"{mt}","digest":"sha256:{hex}","size":{size}}}]}}"#
            );
            let _ = Manifest::parse(body.as_bytes(), None);
            let _ = Manifest::parse(body.as_bytes(), Some(&mt));
        }
    }
}
