//! Each registry's Bearer challenge (realm and service: never a token, never a secret),
//! remembered in the cache directory as `challenges/<host>.json`, so that a later run asks the
//! token endpoint first instead of paying for a 401. The file is local but read as untrusted:
//! small, strict JSON, for this host only, and its realm obeys the rules of a fresh challenge
//! (it is answered by the same code). Any failure to read or write it only costs requests.
//!
//! Whoever can write the file chooses where the next run asks for a token. So a remembered
//! realm on another host than the registry's is used only when the file and every directory
//! above it up to the cache root are the running user's alone (`held::Node::private`, the rule
//! the blob cache's stamps follow); a realm on the registry's own host always may be.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::challenge::Challenge;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};

const DIR: &str = "challenges";
/// A remembered challenge is a few hundred bytes; anything bigger is not ours.
const MAX_BYTES: u64 = 4096;

/// What is remembered of a registry's Bearer challenge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RememberedChallenge {
    registry: String,
    scheme: String,
    realm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    /// Learnt from the registry in this run, or read from a file only the running user could
    /// have written: not stored.
    #[serde(skip)]
    trusted: bool,
}

impl RememberedChallenge {
    /// The record of `c` for `host`, when it is a Bearer challenge with a usable realm.
    fn of(host: &str, c: &Challenge) -> Option<RememberedChallenge> {
        let r = RememberedChallenge {
            registry: host.to_owned(),
            scheme: c.scheme.clone(),
            realm: c.param("realm")?.to_owned(),
            service: c.param("service").map(str::to_owned),
            trusted: true,
        };
        r.valid(host).then_some(r)
    }

    fn valid(&self, host: &str) -> bool {
        let text = |s: &str| s.len() <= 1024 && !s.chars().any(char::is_control);
        self.registry == host
            && self.scheme == "bearer"
            && (self.realm.starts_with("https://") || self.realm.starts_with("http://"))
            && text(&self.realm)
            && self.service.as_deref().is_none_or(text)
    }

    fn challenge(&self) -> Challenge {
        let mut params = BTreeMap::from([("realm".to_owned(), self.realm.clone())]);
        if let Some(s) = &self.service {
            params.insert("service".to_owned(), s.clone());
        }
        Challenge { scheme: self.scheme.clone(), params }
    }

    fn parse(bytes: &[u8], host: &str) -> Option<RememberedChallenge> {
        let r: RememberedChallenge = serde_json::from_slice(bytes).ok()?;
        r.valid(host).then_some(r)
    }
}

/// The remembered challenge of one registry, and where it lives (`None`: no cache directory).
pub(super) struct Memory {
    dir: Option<PathBuf>,
    host: String,
    known: Mutex<Option<RememberedChallenge>>,
}

impl Memory {
    /// Read what is remembered of `host` below the cache directory `root`, if any.
    pub(super) fn load(root: Option<&Path>, host: &str) -> Memory {
        let dir = root.map(|r| r.to_path_buf());
        let known = dir.as_deref().and_then(|d| read(d, host));
        Memory { dir, host: host.to_owned(), known: Mutex::new(known) }
    }

    /// The remembered challenge, to answer before the registry asks, and whether it is
    /// trusted (see the module overview).
    pub(super) fn challenge(&self) -> Option<(Challenge, bool)> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.as_ref().map(|r| (r.challenge(), r.trusted))
    }

    /// The registry answered with challenge `c` (and it was answered): remember it if it is a
    /// Bearer one that is not remembered yet.
    pub(super) fn learn(&self, c: &Challenge, log: &dyn Observer) {
        let (Some(dir), Some(record)) = (&self.dir, RememberedChallenge::of(&self.host, c)) else {
            return;
        };
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.as_ref() == Some(&record) {
            return;
        }
        if let Err(e) = write(dir, &record) {
            log.log(Level::Debug, format!("not remembering the challenge of {}: {e:#}", self.host));
        }
        *known = Some(record);
    }

    /// The remembered challenge did not work: drop it, here and on disk.
    pub(super) fn forget(&self) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.take().is_some()
            && let Some(dir) = &self.dir
            && let Ok(Some(d)) =
                crate::held::Dir::open(dir).and_then(|r| r.existing_child(OsStr::new(DIR)))
        {
            let _ = d.remove_file(&file_name(&self.host));
        }
    }
}

/// `host` as a file name: `[a-z0-9.-]` kept, every other byte `%XX` (so `:` and `[` never
/// collide with anything a host can be).
fn file_name(host: &str) -> OsString {
    let mut out = String::new();
    for b in host.to_ascii_lowercase().bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out.push_str(".json");
    out.into()
}

fn read(root: &Path, host: &str) -> Option<RememberedChallenge> {
    // Without creating the directory on a miss; below `root` nothing follows a symlink.
    if !std::fs::symlink_metadata(root.join(DIR)).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    let dir = crate::held::Dir::open(root).ok()?.existing_child(OsStr::new(DIR)).ok()??;
    let file = dir.open_existing_regular(&file_name(host), false).ok()??;
    let node = crate::held::Node::of_file(&file).ok()?;
    let trusted = dir.private() && node.unfit().is_none();
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX_BYTES {
        return None;
    }
    RememberedChallenge::parse(&bytes, host).map(|r| RememberedChallenge { trusted, ..r })
}

fn write(root: &Path, r: &RememberedChallenge) -> Result<(), Error> {
    crate::held::make_dir_all(root, 0o755)?;
    let dir = crate::held::Dir::open(root)?.open_beneath_with(Path::new(DIR), 0o755)?;
    let bytes = serde_json::to_vec(r).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
    dir.replace_with(&file_name(&r.registry), &bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str) -> Challenge {
        super::super::challenge::parse(&format!(r#"Bearer realm="{realm}",service="reg""#))
            .remove(0)
    }

    #[test]
    fn only_a_small_valid_record_for_this_host_is_read() {
        let ok = br#"{"registry":"r.example:5000","scheme":"bearer","realm":"https://auth/t","service":"s"}"#;
        let r = RememberedChallenge::parse(ok, "r.example:5000").unwrap();
        assert_eq!(r.challenge().param("realm"), Some("https://auth/t"));
        assert_eq!(RememberedChallenge::parse(ok, "other.example"), None, "another host's record");
        for bad in [
            &br#"{"registry":"h","scheme":"basic","realm":"https://a"}"#[..],
            br#"{"registry":"h","scheme":"bearer","realm":"file:///etc/passwd"}"#,
            br#"{"registry":"h","scheme":"bearer","realm":"https://a\r\nx: y"}"#,
            br#"{"registry":"h","scheme":"bearer","realm":"https://a","token":"t"}"#,
            b"[]",
            b"\xff\xfe",
        ] {
            assert_eq!(
                RememberedChallenge::parse(bad, "h"),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(file_name("[::1]:5000"), "%5B%3A%3A1%5D%3A5000.json");
        assert_eq!(file_name("Reg.Example"), "reg.example.json");
    }

    #[test]
    fn learn_writes_once_and_forget_removes() {
        let d = tempfile::tempdir().unwrap();
        let log = crate::events::Silent;
        let m = Memory::load(Some(d.path()), "h:1");
        assert!(m.challenge().is_none() && !d.path().join(DIR).exists(), "a miss creates nothing");
        m.learn(&bearer("https://auth/t"), &log);
        let path = d.path().join(DIR).join(file_name("h:1"));
        let first = std::fs::metadata(&path).unwrap().modified().unwrap();
        m.learn(&bearer("https://auth/t"), &log);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first, "unchanged");
        let again = Memory::load(Some(d.path()), "h:1");
        assert_eq!(
            again.challenge(),
            Some((
                RememberedChallenge::of("h:1", &bearer("https://auth/t")).unwrap().challenge(),
                true
            ))
        );
        again.forget();
        assert!(!path.exists());
        let padded = [
            &br#"{"registry":"h:1","scheme":"bearer","realm":"https://auth/t"}"#[..],
            &vec![b' '; MAX_BYTES as usize],
        ]
        .concat();
        std::fs::write(&path, &padded[..MAX_BYTES as usize]).unwrap();
        assert!(Memory::load(Some(d.path()), "h:1").challenge().is_some(), "valid, at the cap");
        std::fs::write(&path, &padded).unwrap();
        assert!(Memory::load(Some(d.path()), "h:1").challenge().is_none(), "too big");
        let none = Memory::load(None, "h:1");
        none.learn(&bearer("https://auth/t"), &log);
        assert!(none.challenge().is_none());
    }
}
