//! Platforms: the `--platform` grammar, the names docker and containerd accept for the same
//! platform, and which index entries run where.
//!
//! Both sides are normalised as containerd's `database.go` does before they are compared
//! (`aarch64` is `arm64`, `x86_64` is `amd64`, `armhf` is `arm/v7`, `Linux` is `linux`…): an
//! ask is normalised when it is parsed, an index entry when it is ranked (it is kept as the
//! registry sent it, for `manifest --descriptor`). Ranking lives in `rank.rs`, the host's own
//! platform (with its CPU's amd64 level) in `host.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

mod host;
mod rank;
#[cfg(test)]
mod tests;

pub use rank::Rank;

/// A platform: `OS[(+FEATURE…)]/ARCH[/VARIANT][:OS_VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`, `darwin`, `windows`… Empty when an index entry lacks it (never picked).
    #[serde(default)]
    pub os: String,
    /// In OCI's names: `amd64`, `arm64`, `arm`… Empty when an index entry lacks it.
    #[serde(default)]
    pub architecture: String,
    /// `v7`, `v8.2`, `v3`…, when the architecture has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The OS release the manifest is for: `macOS 14`, `Ubuntu 24.04`, `10.0.17763.1234`.
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// OS features the manifest needs (`win32k`, `gpu`): an entry needing one the ask lacks is
    /// never picked.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU features (reserved by the spec); not matched on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Platform {
    /// The same platform in containerd's canonical names (`database.go`, `normalizeOS` and
    /// `normalizeArch`; `Normalize` sorts and dedupes the OS features): OS and architecture
    /// lower-cased, `macos` → `darwin`, `x86_64`/`x86-64` → `amd64` (`v1` → none), `aarch64` →
    /// `arm64` (`8`/`v8`/`v8.0` → none, `9`/`9.0`/`v9.0` → `v9`), `armhf` → `arm/v7`, `armel` →
    /// `arm/v6`, `arm` without a variant or with `7` → `v7`, `5`/`6`/`8` → `v5`/`v6`/`v8`,
    /// `i386` → `386`.
    pub fn normalized(&self) -> Platform {
        let mut os = self.os.to_ascii_lowercase();
        if os == "macos" {
            os = "darwin".into();
        }
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.as_deref().unwrap_or("").to_ascii_lowercase();
        let (arch, variant) = match arch.as_str() {
            "i386" => ("386".to_owned(), String::new()),
            "x86_64" | "x86-64" | "amd64" => {
                ("amd64".to_owned(), if variant == "v1" { String::new() } else { variant })
            }
            "aarch64" | "arm64" => {
                let v = match variant.as_str() {
                    "8" | "v8" | "v8.0" => String::new(),
                    "9" | "9.0" | "v9.0" => "v9".to_owned(),
                    _ => variant,
                };
                ("arm64".to_owned(), v)
            }
            "armhf" => ("arm".to_owned(), "v7".to_owned()),
            "armel" => ("arm".to_owned(), "v6".to_owned()),
            "arm" => {
                let v = match variant.as_str() {
                    "" | "7" => "v7".to_owned(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
                ("arm".to_owned(), v)
            }
            _ => (arch, variant),
        };
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            os,
            architecture: arch,
            variant: (!variant.is_empty()).then_some(variant),
            os_version: self.os_version.clone(),
            os_features,
            features: self.features.clone(),
        }
    }

    /// The directory a multi-platform pull puts this platform's files in:
    /// `OS-ARCH[-VARIANT][-OS_VERSION]`, normalised, every byte outside `[A-Za-z0-9._-]` turned
    /// into `_` (an entry's platform comes from the registry and must not name a path).
    pub fn dir_name(&self) -> String {
        let p = self.normalized();
        let mut parts = vec![p.os, p.architecture];
        parts.extend(p.variant);
        parts.extend(p.os_version);
        let name = parts.join("-");
        name.chars()
            .map(
                |c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' },
            )
            .collect()
    }
}

/// `OS[(+FEATURE…)]/ARCH[/VARIANT][:OS_VERSION]`. A platform from a registry is untrusted, so
/// control characters print escaped and never break a line.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", escaped(&self.os))?;
        if !self.os_features.is_empty() {
            let features: Vec<String> = self.os_features.iter().map(|s| escaped(s)).collect();
            write!(f, "(+{})", features.join("+"))?;
        }
        write!(f, "/{}", escaped(&self.architecture))?;
        if let Some(v) = &self.variant {
            write!(f, "/{}", escaped(v))?;
        }
        if let Some(v) = &self.os_version {
            write!(f, ":{}", escaped(v))?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    /// `OS[(+FEATURE…)]/ARCH[/VARIANT][:OS_VERSION]`, the grammar of crane and oras: everything
    /// after the first `:` is the OS version, which may hold spaces (`darwin/arm64:macOS 14`).
    /// OS features are written as containerd writes them (`linux(+gpu)/amd64`). The result is
    /// [`Platform::normalized`]: `Linux/x86_64` is `linux/amd64`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Usage,
                format!(
                    "invalid platform {s:?}: expected OS/ARCH[/VARIANT][:OS_VERSION], \
                     e.g. linux/arm64 or 'darwin/arm64:macOS 14'"
                ),
            )
        };
        let (path, os_version) = match s.split_once(':') {
            Some((p, v)) => (p, Some(v)),
            None => (s, None),
        };
        if os_version.is_some_and(|v| v.is_empty() || v.trim() != v || v.contains(char::is_control))
        {
            return Err(bad());
        }
        let parts: Vec<&str> = path.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        let (os, os_features) = split_features(parts[0]).ok_or_else(bad)?;
        if !(2..=3).contains(&parts.len())
            || !ok(os)
            || !os_features.iter().all(|f| ok(f))
            || !parts[1..].iter().all(|p| ok(p))
        {
            return Err(bad());
        }
        let parsed = Platform {
            os: os.to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
            os_version: os_version.map(str::to_owned),
            os_features,
            features: Vec::new(),
        };
        Ok(parsed.normalized())
    }
}

/// `linux(+gpu+simd)` → (`linux`, [`gpu`, `simd`]); `linux` → (`linux`, []). `None` when the
/// parentheses are malformed or hold an OS version (oci-dl writes that after `:`).
fn split_features(os: &str) -> Option<(&str, Vec<String>)> {
    let Some((name, rest)) = os.split_once('(') else { return Some((os, Vec::new())) };
    let inner = rest.strip_suffix(')')?.strip_prefix('+')?;
    Some((name, inner.split('+').map(str::to_owned).collect()))
}

/// `s` with control characters escaped (`\n`, `\u{1b}`).
pub(crate) fn escaped(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() })
        .collect()
}
