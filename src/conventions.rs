//! What publishers mean by the shapes they push, beyond the OCI spec: the empty descriptor oras
//! uses as a placeholder, and the names Helm gives a chart's untitled layers.

use crate::error::{Error, ErrorKind};
use crate::manifest::{Descriptor, ImageManifest};
use crate::registry::Client;

/// The empty descriptor's media type: a placeholder layer (`oras push` with only annotations,
/// `oras attach`), never a file (image-spec `manifest.md`, "Guidance for an Empty Descriptor").
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Whether a layer is the empty placeholder, which `oras pull` skips.
pub fn is_empty_descriptor(d: &Descriptor) -> bool {
    d.media_type == EMPTY_MEDIA_TYPE
}

// helm/helm pkg/registry/constants.go
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const HELM_CHART_LEGACY: &str = "application/tar+gzip";
const HELM_PROV: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
/// Chart metadata is a few hundred bytes; anything near this is not a Helm config.
const HELM_CONFIG_CAP: u64 = 1 << 20;

/// A Helm chart's name and version, from its config (Chart.yaml as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmChart {
    pub name: String,
    pub version: String,
}

impl HelmChart {
    /// The chart of `image` if it is one (its config has Helm's type): the config is fetched,
    /// verified against its digest, and its name and version checked as safe file names.
    pub fn of(
        client: &Client,
        repo: &str,
        image: &ImageManifest,
    ) -> Result<Option<HelmChart>, Error> {
        let config = &image.config;
        if config.media_type != HELM_CONFIG {
            return Ok(None);
        }
        if config.size > HELM_CONFIG_CAP {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "Helm config {} is {} bytes; refusing it",
                    config.digest.short(),
                    config.size
                ),
            ));
        }
        let bytes = client.small_blob(repo, config, "Helm chart config")?;
        #[derive(serde::Deserialize)]
        struct Meta {
            name: String,
            version: String,
        }
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Other, "invalid Helm chart config").with_source(e)
        })?;
        for (what, v) in [("name", &meta.name), ("version", &meta.version)] {
            let bad = v.is_empty()
                || v == "."
                || v == ".."
                || v.chars().any(|c| c == '/' || c == '\\' || c.is_control());
            if bad {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("refusing Helm chart {what} {v:?}: not a safe file name"),
                ));
            }
        }
        Ok(Some(HelmChart { name: meta.name, version: meta.version }))
    }

    /// The name `helm pull` saves an untitled layer of this chart under: `NAME-VERSION.tgz`
    /// and its provenance `NAME-VERSION.tgz.prov` (helm pkg/downloader/chart_downloader.go).
    pub fn layer_name(&self, layer: &Descriptor) -> Option<String> {
        let tgz = format!("{}-{}.tgz", self.name, self.version);
        match layer.media_type.as_str() {
            HELM_CHART | HELM_CHART_LEGACY => Some(tgz),
            HELM_PROV => Some(format!("{tgz}.prov")),
            _ => None,
        }
    }
}
