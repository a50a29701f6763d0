//! Manifest and index types, their media types, and platform matching.
//!
//! See <https://github.com/opencontainers/image-spec/blob/main/manifest.md> and `image-index.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
pub use crate::platform::{Platform, Rank};

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
#[non_exhaustive]
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
    /// The artifact type of the content, when the descriptor states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Every other field (`urls`, `data`, extensions), kept so a descriptor prints as it came.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
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
#[non_exhaustive]
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
    /// The manifest this one is attached to (OCI 1.1 referrers: signatures, SBOMs).
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// The kind of artifact it is (OCI 1.1); without it, the config's media type says.
    #[serde(default)]
    pub(crate) artifact_type: Option<String>,
}

impl ImageManifest {
    /// The type the referrers API lists it under: its `artifactType`, else its config's media
    /// type (distribution-spec "Listing Referrers").
    pub(crate) fn listed_type(&self) -> &str {
        self.artifact_type.as_deref().unwrap_or(&self.config.media_type)
    }
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
#[allow(clippy::large_enum_variant)] // a run holds a handful; boxing buys nothing
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

/// The annotation Homebrew (and `oras`, `crane`) put on an index entry to name it.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// What [`Index::select`] chose: the first of the best matches, and the other entries that
/// match as well, which the user may have meant.
#[derive(Debug)]
pub struct Selection<'a> {
    /// The entry taken: the first of the best matches in index order, as docker and crane do.
    pub chosen: &'a Descriptor,
    /// Other entries matching exactly as well as `chosen`, in index order.
    pub others: Vec<&'a Descriptor>,
}

impl Selection<'_> {
    /// When several entries matched equally, one line saying which was taken and what the
    /// others are (platform with OS version, `ref.name`), so the user can ask precisely.
    pub fn ambiguity(&self, wanted: &Platform) -> Option<String> {
        if self.others.is_empty() {
            return None;
        }
        let others: Vec<String> = self.others.iter().map(|d| describe(d)).collect();
        Some(format!(
            "{} manifests in the index match {}; took {}; the others: {}; \
             ask for one with OS/ARCH[/VARIANT][:OS_VERSION]",
            self.others.len() + 1,
            wanted,
            describe(self.chosen),
            others.join(", "),
        ))
    }
}

/// An index entry for people: digest, platform (with OS version), `ref.name`, all escaped.
fn describe(d: &Descriptor) -> String {
    let plat = d.platform.as_ref().map_or("no platform".to_owned(), Platform::to_string);
    match d.annotations.get(REF_NAME_ANNOTATION) {
        Some(name) => format!("{} ({plat}, ref.name {name:?})", d.digest),
        None => format!("{} ({plat})", d.digest),
    }
}

impl Index {
    /// Pick the entry for `wanted`, best [`Platform::rank`] first. An entry without a platform
    /// (Homebrew's `all` bottle, an index added by `oras manifest index create`) matches any,
    /// after every entry that has one, as containerd ranks it. Attestations (buildx's
    /// `unknown/unknown`, or any entry with `vnd.docker.reference.type`) and entries whose
    /// platform lacks `os` or `architecture` are never picked. Among equals, the first in index
    /// order, with the others reported in the [`Selection`].
    pub fn select(&self, wanted: &Platform) -> Result<Selection<'_>, Error> {
        let ranked: Vec<(Rank, &Descriptor)> =
            self.manifests.iter().filter_map(|d| rank(wanted, d).map(|r| (r, d))).collect();
        let Some(best) = ranked.iter().map(|(r, _)| *r).min() else {
            let there: Vec<String> = self
                .platform_entries()
                .filter_map(|d| d.platform.as_ref())
                .map(Platform::to_string)
                .collect();
            let list = if there.is_empty() { "none".to_owned() } else { there.join(", ") };
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no manifest for platform {wanted} in the index; platforms: {list}"),
            ));
        };
        let mut equals = ranked.into_iter().filter(|(r, _)| *r == best).map(|(_, d)| d);
        let chosen = equals.next().expect("the best rank has an entry");
        let others: Vec<&Descriptor> = equals.collect();
        if best == Rank::NO_PLATFORM && !others.is_empty() {
            // Several artifacts and no platform to choose by (the fallback tag `oras attach`
            // writes, an index of SBOMs and signatures): taking the first would be a guess.
            let list: Vec<String> = std::iter::once(chosen)
                .chain(others)
                .map(|d| {
                    let t = d.artifact_type.as_deref().unwrap_or("no artifact type");
                    format!("{} ({})", d.digest, crate::platform::escaped(t))
                })
                .collect();
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "the index holds {} artifacts without a platform to choose by: {}; pull one by its digest (REPOSITORY@DIGEST)",
                    list.len(),
                    list.join(", ")
                ),
            ));
        }
        Ok(Selection { chosen, others })
    }

    /// The entries that name a platform something can run on, in index order: not
    /// attestations, not platform-less, with both `os` and `architecture`.
    pub fn platform_entries(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests.iter().filter(|d| d.platform.is_some() && runnable(d))
    }
}

/// BuildKit marks what is not a runnable image (moby/buildkit
/// `docs/attestations/attestation-storage.md`).
const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

/// Not an attestation, and a platform (if any) with an OS and an architecture.
fn runnable(entry: &Descriptor) -> bool {
    !entry.annotations.contains_key(REFERENCE_TYPE_ANNOTATION)
        && entry.platform.as_ref().is_none_or(|p| {
            let attestation = p.os == "unknown" && p.architecture == "unknown";
            !(p.os.is_empty() || p.architecture.is_empty() || attestation)
        })
}

/// How well `entry` fits `wanted`: `None` if not at all, else lower is better.
fn rank(wanted: &Platform, entry: &Descriptor) -> Option<Rank> {
    if !runnable(entry) {
        return None;
    }
    match &entry.platform {
        None => Some(Rank::NO_PLATFORM),
        Some(p) => wanted.rank(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    /// An index over `entries`: a platform string, `-` for an entry without platform, or
    /// `att PLATFORM` for a buildx attestation entry (moby/buildkit
    /// `docs/attestations/attestation-storage.md`). Entry `i` has digest `d(i)`.
    fn index(entries: &[&str]) -> Index {
        let manifests = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut annotations = BTreeMap::new();
                let plat = match e.strip_prefix("att ") {
                    Some(p) => {
                        annotations.insert(
                            "vnd.docker.reference.type".to_owned(),
                            "attestation-manifest".to_owned(),
                        );
                        p
                    }
                    None => e,
                };
                annotations.insert(REF_NAME_ANNOTATION.to_owned(), format!("entry{i}"));
                Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: d(i as u8).parse().unwrap(),
                    size: 10,
                    annotations,
                    platform: (plat != "-").then(|| plat.parse().unwrap()),
                    artifact_type: None,
                    other: BTreeMap::new(),
                }
            })
            .collect();
        Index { schema_version: 2, media_type: None, manifests }
    }

    /// Index entries × asked platform → the entry taken and the others that matched as well.
    #[test]
    fn platform_matching_table() {
        const DOCKER: &[&str] =
            &["linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64", "unknown/unknown"];
        // Homebrew/brew `Library/Homebrew/github_packages.rb`: os.version per bottle.
        const BREW: &[&str] = &[
            "darwin/arm64:macOS 15",
            "darwin/arm64:macOS 14",
            "darwin/amd64:macOS 14",
            "linux/amd64:Ubuntu 22.04",
        ];
        type Row = (&'static [&'static str], &'static str, Option<usize>, &'static [usize]);
        let rows: &[Row] = &[
            (DOCKER, "linux/amd64", Some(0), &[]),
            (DOCKER, "linux/arm/v7", Some(2), &[]),
            (DOCKER, "linux/arm/v6", Some(1), &[]),
            // arm: v7 first, then v6, v5, as containerd `platforms/compare.go` ranks them; an
            // arm entry without variant is v7; a v7 build does not run on v6.
            (DOCKER, "linux/arm", Some(2), &[]),
            (&["linux/arm/v5", "linux/arm/v6"], "linux/arm", Some(1), &[]),
            (&["linux/arm/v5", "linux/arm/v7"], "linux/arm/v6", Some(0), &[]),
            (&["linux/arm/v7"], "linux/arm/v6", None, &[]),
            (&["linux/arm/v6", "linux/arm"], "linux/arm", Some(1), &[]),
            (&["linux/arm", "linux/arm/v7"], "linux/arm/v7", Some(0), &[1]),
            (&["linux/arm/v6", "linux/arm/v7"], "linux/arm/v8", Some(1), &[]),
            // arm64: no variant is v8.
            (&["linux/arm64/v8", "linux/arm64"], "linux/arm64", Some(0), &[1]),
            (&["linux/arm64"], "linux/arm64/v8", Some(0), &[]),
            (&["linux/arm64/v9"], "linux/arm64", None, &[]),
            (&["linux/arm/v7", "linux/arm64/v8"], "linux/arm64", Some(1), &[]),
            // amd64: no variant asked is the baseline; a v2/v3 build may not run there.
            (&["linux/amd64/v3", "linux/amd64"], "linux/amd64", Some(1), &[]),
            (&["linux/amd64/v2", "linux/amd64/v3"], "linux/amd64", None, &[]),
            (&["linux/amd64/v2", "linux/amd64/v3"], "linux/amd64/v3", Some(1), &[]),
            // No platform (Homebrew's `all` bottle) matches anything, after every real match.
            (&["-", "linux/amd64"], "linux/amd64", Some(1), &[]),
            (&["-", "linux/amd64"], "linux/arm64", Some(0), &[]),
            (&["-", "darwin/arm64:macOS 14"], "darwin/arm64:macOS 15", Some(0), &[]),
            // Two without a platform: no guess between them (issue 21 item 18).
            (&["-", "-"], "linux/amd64", None, &[]),
            // Attestations (buildx): `unknown/unknown`, or marked by annotation, never.
            (&["linux/amd64", "att unknown/unknown"], "unknown/unknown", None, &[]),
            (&["att linux/amd64", "linux/amd64"], "linux/amd64", Some(1), &[]),
            (&["att -"], "linux/amd64", None, &[]),
            (DOCKER, "linux/arm64/v8", Some(3), &[]),
            (DOCKER, "linux/arm64", Some(3), &[]),
            (DOCKER, "windows/amd64", None, &[]),
            (DOCKER, "linux/s390x", None, &[]),
            (DOCKER, "unknown/unknown", None, &[]),
            (BREW, "darwin/arm64:macOS 14", Some(1), &[]),
            (BREW, "darwin/arm64:macOS 15", Some(0), &[]),
            (BREW, "darwin/arm64", Some(0), &[1]),
            (BREW, "darwin/arm64:macOS 13", None, &[]),
            (BREW, "darwin/arm64:macos 14", None, &[]),
            (BREW, "linux/amd64", Some(3), &[]),
            (BREW, "linux/amd64:Ubuntu 22.04", Some(3), &[]),
            (&["linux/amd64", "linux/amd64"], "linux/amd64", Some(0), &[1]),
        ];
        for (entries, asked, chosen, others) in rows {
            let idx = index(entries);
            let got = idx.select(&asked.parse().unwrap());
            let got = got.as_ref().ok().map(|s| {
                let pos = |d: &Descriptor| idx.manifests.iter().position(|m| m == d).unwrap();
                (pos(s.chosen), s.others.iter().map(|d| pos(d)).collect::<Vec<_>>())
            });
            assert_eq!(got, chosen.map(|c| (c, others.to_vec())), "{asked} in {entries:?}");
        }
    }

    /// Entries the asker cannot use are skipped, the index is not refused: a platform without
    /// `os` or `architecture`, or one needing an OS feature the ask lacks.
    #[test]
    fn unusable_entries_are_skipped() {
        let entry = |n: u8, platform: &str| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{platform}}}"#,
                d(n)
            )
        };
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{},{},{},{},{}]}}"#,
            entry(0, r#"{"architecture":"amd64"}"#),
            entry(1, r#"{"os":"linux"}"#),
            entry(2, r#"{"os":"windows","architecture":"amd64","os.features":["gpu"]}"#),
            entry(3, r#"{"os":"Linux","architecture":"x86_64"}"#),
            entry(4, r#"{"os":"windows","architecture":"amd64"}"#),
        );
        let (Manifest::Index(idx), _) = Manifest::parse(body.as_bytes(), None).unwrap() else {
            panic!("an index")
        };
        let pick = |p: &str| idx.select(&p.parse().unwrap()).map(|s| s.chosen.digest.to_string());
        assert_eq!(pick("linux/amd64").unwrap(), d(3));
        assert_eq!(pick("windows/amd64").unwrap(), d(4));
        assert_eq!(pick("windows(+gpu)/amd64").unwrap(), d(2), "more features first");
        let e = pick("linux/arm64").unwrap_err();
        assert!(
            e.to_string().ends_with("platforms: windows(+gpu)/amd64, Linux/x86_64, windows/amd64"),
            "{e}"
        );
        assert_eq!(idx.platform_entries().count(), 3);
    }

    #[test]
    fn selection_messages() {
        let idx = index(&["linux/amd64", "linux/arm/v6", "unknown/unknown"]);
        let e = idx.select(&"linux/s390x".parse().unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("platforms: linux/amd64, linux/arm/v6"), "{e}");
        assert!(!e.to_string().contains("unknown/unknown"), "{e}");

        let mut idx = index(&["darwin/arm64:macOS 15", "linux/amd64", "darwin/arm64:macOS 14"]);
        // From a registry, so not parsed: a newline must not split the warning line.
        idx.manifests[2].platform.as_mut().unwrap().os_version = Some("macOS\n14".into());
        let wanted = "darwin/arm64".parse().unwrap();
        let s = idx.select(&wanted).unwrap();
        assert_eq!(idx.select(&"linux/amd64".parse().unwrap()).unwrap().ambiguity(&wanted), None);
        let w = s.ambiguity(&wanted).unwrap();
        assert_eq!(
            w,
            format!(
                "2 manifests in the index match darwin/arm64; took {} (darwin/arm64:macOS 15, \
                 ref.name \"entry0\"); the others: {} (darwin/arm64:macOS\\n14, ref.name \"entry2\"); \
                 ask for one with OS/ARCH[/VARIANT][:OS_VERSION]",
                d(0),
                d(2)
            )
        );
    }

    /// The fallback tag `oras attach` writes: artifacts and no platform. Taking the first would
    /// pull one SBOM or signature in place of another, silently.
    #[test]
    fn several_artifacts_without_a_platform_are_not_guessed_between() {
        let entry = |n: u8, t: &str| -> Descriptor {
            serde_json::from_value(serde_json::json!({"mediaType": OCI_MANIFEST,
                "digest": d(n).to_string(), "size": 1, "artifactType": t}))
            .unwrap()
        };
        let mut idx = index(&[]);
        idx.manifests = vec![
            entry(1, "application/spdx+json"),
            entry(2, "application/vnd.dev.sigstore.bundle.v0.3+json"),
        ];
        let e = idx.select(&"linux/amd64".parse().unwrap()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let text = e.to_string();
        assert!(text.contains("2 artifacts without a platform"), "{text}");
        assert!(text.contains(&format!("{} (application/spdx+json)", d(1))), "{text}");
        assert!(text.contains("pull one by its digest"), "{text}");
        // One alone (Homebrew's `all` bottle) is no guess.
        idx.manifests.truncate(1);
        assert_eq!(
            idx.select(&"linux/amd64".parse().unwrap()).unwrap().chosen.digest.to_string(),
            d(1)
        );
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
        /// Registry-made platforms against asked ones: ranking never panics.
        #[test]
        fn selection_never_panics(
            entries in proptest::collection::vec((0..4usize, 0..7usize, any::<bool>()), 0..6),
            asked in (0..4usize, 0..7usize),
        ) {
            const ARCH: [&str; 4] = ["arm", "arm64", "amd64", "unknown"];
            const VARIANT: [Option<&str>; 7] =
                [None, Some("v5"), Some("v6"), Some("v7"), Some("v8"), Some("v9"), Some("")];
            let plat = |(a, v): (usize, usize)| Platform {
                os: "linux".into(),
                architecture: ARCH[a].into(),
                variant: VARIANT[v].map(str::to_owned),
                os_version: None,
                os_features: Vec::new(),
                features: Vec::new(),
            };
            let manifests = entries
                .iter()
                .map(|&(a, v, has)| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: Digest::of(crate::digest::Algorithm::Sha256, b"x"),
                    size: 1,
                    annotations: BTreeMap::new(),
                    platform: has.then(|| plat((a, v))),
                    artifact_type: None,
                    other: BTreeMap::new(),
                })
                .collect();
            let idx = Index { schema_version: 2, media_type: None, manifests };
            let wanted = plat(asked);
            if let Ok(s) = idx.select(&wanted) {
                let _ = s.ambiguity(&wanted);
            }
        }

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
