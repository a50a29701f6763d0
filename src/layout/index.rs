//! The entries of a layout's `index.json` and how a pull adds to them, as the tools that read
//! layouts expect (image-spec `image-layout.md`, "index.json file"):
//!
//! - a tag is an entry's `org.opencontainers.image.ref.name`, and names one entry: tagging again
//!   replaces the entry of that name, never adds a second (oras-go `content/oci/oci.go`,
//!   `Store.Tag`: "the descriptor from the last call will be stored"; crane's `layout.AppendImage`
//!   appends a duplicate, the flaw this avoids);
//! - an untagged entry of the same digest is taken over by the tag, not kept beside it
//!   (containers/image `oci/layout/oci_dest.go`, `addManifest`);
//! - a manifest pulled by digest alone gets an entry without a name, unless some entry already
//!   names its digest (oras-go `saveIndex` writes a digest-only entry only for untagged content).
//!
//! Entries are kept as JSON values so that fields oci-dl does not model (another tool's
//! annotations, `platform` as it was written) survive a rewrite unchanged.

use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorKind};
use crate::manifest::{Descriptor, REF_NAME_ANNOTATION};

/// A layout's `index.json`: its members as read, and its entries.
#[derive(Debug, Clone)]
pub(crate) struct LayoutIndex {
    /// Every member but `manifests`, as read (`schemaVersion`, `mediaType`, annotations).
    members: Map<String, Value>,
    /// The `manifests` array, entry by entry.
    pub entries: Vec<Value>,
}

impl Default for LayoutIndex {
    /// The index of a new layout, as oras-go writes one (`schemaVersion` 2, the OCI index type).
    fn default() -> Self {
        let mut members = Map::new();
        members.insert("schemaVersion".into(), json!(2));
        members.insert("mediaType".into(), json!(crate::manifest::OCI_INDEX));
        LayoutIndex { members, entries: Vec::new() }
    }
}

impl LayoutIndex {
    /// Read `index.json` from `bytes` (`shown` names it in errors). Every entry must be a
    /// descriptor: a file another tool wrote wrong is refused, not rewritten without its
    /// entries.
    pub fn parse(bytes: &[u8], shown: &str) -> Result<LayoutIndex, Error> {
        let bad = |why: String| Error::new(ErrorKind::Other, format!("{shown}: {why}"));
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(mut members) = value else {
            return Err(bad("not a JSON object".into()));
        };
        let entries = match members.remove("manifests") {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(bad("`manifests` is not an array".into())),
        };
        for (i, e) in entries.iter().enumerate() {
            serde_json::from_value::<Descriptor>(e.clone())
                .map_err(|err| bad(format!("entry {i} is not a descriptor: {err}")))?;
        }
        Ok(LayoutIndex { members, entries })
    }

    /// The file's new content: its members, then the entries.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.members.clone();
        out.insert("manifests".into(), Value::Array(self.entries.clone()));
        serde_json::to_vec(&Value::Object(out)).expect("a JSON value serialises")
    }

    /// Add `desc` under the tag `name` (replacing the entry that had it, or an untagged entry
    /// of the same digest), or untagged when `name` is `None` and no entry names its digest.
    pub fn add(&mut self, desc: &Descriptor, name: Option<&str>) {
        let digest = desc.digest.to_string();
        let Some(name) = name else {
            if !self.entries.iter().any(|e| digest_of(e) == Some(digest.as_str())) {
                self.entries.push(entry(desc, None));
            }
            return;
        };
        let new = entry(desc, Some(name));
        if let Some(i) = self.entries.iter().position(|e| ref_name(e) == Some(name)) {
            self.entries[i] = new;
            // Any other entry of that name (written by a tool with crane's flaw) goes.
            let mut seen = 0;
            self.entries.retain(|e| {
                let same = ref_name(e) == Some(name);
                seen += usize::from(same);
                !same || seen == 1
            });
            return;
        }
        let untagged = self
            .entries
            .iter()
            .position(|e| digest_of(e) == Some(digest.as_str()) && ref_name(e).is_none());
        match untagged {
            Some(i) => self.entries[i] = new,
            None => self.entries.push(new),
        }
    }

    /// The tags in the index, in entry order.
    #[cfg(test)]
    pub fn tags(&self) -> Vec<&str> {
        self.entries.iter().filter_map(ref_name).collect()
    }
}

/// An `index.json` entry for `desc`: media type, digest, size, its platform and artifact type
/// when known, and the tag.
fn entry(desc: &Descriptor, name: Option<&str>) -> Value {
    let mut e = json!({
        "mediaType": desc.media_type,
        "digest": desc.digest.to_string(),
        "size": desc.size,
    });
    if let Some(p) = &desc.platform {
        e["platform"] = serde_json::to_value(p).expect("a platform serialises");
    }
    if let Some(t) = &desc.artifact_type {
        e["artifactType"] = json!(t);
    }
    if let Some(n) = name {
        e["annotations"] = json!({ REF_NAME_ANNOTATION: n });
    }
    e
}

fn ref_name(e: &Value) -> Option<&str> {
    e.get("annotations")?.get(REF_NAME_ANNOTATION)?.as_str()
}

fn digest_of(e: &Value) -> Option<&str> {
    e.get("digest")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Algorithm, Digest};

    fn desc(n: u8) -> Descriptor {
        Descriptor {
            media_type: crate::manifest::OCI_MANIFEST.into(),
            digest: Digest::of(Algorithm::Sha256, &[n]),
            size: u64::from(n),
            annotations: Default::default(),
            platform: None,
            artifact_type: None,
            other: Default::default(),
        }
    }

    /// An entry as (digest, tag); an addition as (descriptor, tag).
    type Entry = (String, Option<String>);
    type Add<'a> = (&'a Descriptor, Option<&'a str>);

    fn digests(ix: &LayoutIndex) -> Vec<Entry> {
        ix.entries
            .iter()
            .map(|e| (digest_of(e).unwrap().to_owned(), ref_name(e).map(str::to_owned)))
            .collect()
    }

    #[test]
    fn a_tag_names_one_entry_and_untagged_content_is_listed_once() {
        let (a, b) = (desc(1), desc(2));
        let (da, db) = (a.digest.to_string(), b.digest.to_string());
        let t = |s: &str| Some(s.to_owned());
        let rows: Vec<(&str, Vec<Add>, Vec<Entry>)> = vec![
            ("one tag", vec![(&a, Some("v1"))], vec![(da.clone(), t("v1"))]),
            (
                "a second tag adds an entry",
                vec![(&a, Some("v1")), (&a, Some("v2"))],
                vec![(da.clone(), t("v1")), (da.clone(), t("v2"))],
            ),
            (
                "the same tag again: one entry",
                vec![(&a, Some("v1")), (&a, Some("v1"))],
                vec![(da.clone(), t("v1"))],
            ),
            (
                "a tag that moved: the new digest",
                vec![(&a, Some("v1")), (&b, Some("v1"))],
                vec![(db.clone(), t("v1"))],
            ),
            ("by digest: untagged", vec![(&a, None)], vec![(da.clone(), None)]),
            ("by digest twice: once", vec![(&a, None), (&a, None)], vec![(da.clone(), None)]),
            (
                "by digest after a tag: nothing new",
                vec![(&a, Some("v1")), (&a, None)],
                vec![(da.clone(), t("v1"))],
            ),
            (
                "a tag takes over the untagged entry",
                vec![(&a, None), (&a, Some("v1"))],
                vec![(da.clone(), t("v1"))],
            ),
        ];
        for (what, adds, want) in rows {
            let mut ix = LayoutIndex::default();
            for (d, name) in adds {
                ix.add(d, name);
            }
            assert_eq!(digests(&ix), want, "{what}");
        }
    }

    #[test]
    fn another_tools_entries_and_members_survive_and_duplicates_of_a_tag_go() {
        let a = desc(1);
        let other = json!({"mediaType": crate::manifest::OCI_INDEX, "digest": desc(9).digest.to_string(),
            "size": 9, "annotations": {REF_NAME_ANNOTATION: "other", "vendor.x": "kept"},
            "platform": {"os": "linux", "architecture": "amd64", "os.features": ["kept"]}});
        let dup = json!({"mediaType": crate::manifest::OCI_MANIFEST, "digest": desc(3).digest.to_string(),
            "size": 3, "annotations": {REF_NAME_ANNOTATION: "v1"}});
        let file = json!({"schemaVersion": 2, "annotations": {"made.by": "crane"},
            "manifests": [other, dup, dup]});
        let mut ix = LayoutIndex::parse(&serde_json::to_vec(&file).unwrap(), "index.json").unwrap();
        ix.add(&a, Some("v1"));
        let back: Value = serde_json::from_slice(&ix.to_bytes()).unwrap();
        assert_eq!(back["annotations"], json!({"made.by": "crane"}));
        assert_eq!(back["manifests"][0], other);
        assert_eq!(ix.tags(), ["other", "v1"]);
        assert_eq!(digest_of(&ix.entries[1]), Some(a.digest.to_string().as_str()));
    }

    #[test]
    fn an_index_json_that_is_not_an_index_is_refused() {
        for (body, why) in [
            (&b"not json"[..], "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"manifests": {}}"#, "not an array"),
            (br#"{"manifests": [{"digest": "sha256:00"}]}"#, "entry 0 is not a descriptor"),
        ] {
            let e = LayoutIndex::parse(body, "L/index.json").unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
