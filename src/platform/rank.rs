//! Which platforms run where, and in what order of preference: containerd's `compare.go`
//! (`platformVector`, `Only`, the ordered comparer's OS-feature rule), less its cross-architecture
//! fallbacks (amd64 → 386, arm64 → arm), which oci-dl takes only when asked (see README).

use std::cmp::Reverse;

use super::Platform;

/// How well an index entry fits an ask; lower is better. Compare ranks, never build them: the
/// fields are the variant's distance from the ask's (0 = the ask's own level), then the entry's
/// OS features, more first, as containerd's ordered comparer prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    pub(super) distance: u32,
    pub(super) features: Reverse<usize>,
}

impl Rank {
    /// An entry without a platform: it runs anywhere, after every entry that names one.
    pub(crate) const NO_PLATFORM: Rank = Rank { distance: u32::MAX, features: Reverse(0) };
}

/// The lowest level of the architectures whose variants are ordered levels, and how to read a
/// (normalised) variant as a level: amd64's `v1` (no variant) to `vN` (Go's `GOAMD64`), arm's
/// `v5` to `vN` (`GOARM`).
fn level(arch: &str, variant: Option<&str>) -> Option<u32> {
    let number = |v: &str| v.strip_prefix('v')?.parse::<u32>().ok();
    match (arch, variant) {
        ("amd64", None) => Some(1),
        ("amd64", Some(v)) => number(v).filter(|n| *n >= 1),
        ("arm", Some(v)) => number(v).filter(|n| *n >= 5),
        _ => None,
    }
}

/// The arm64 levels an ask accepts, best first, as containerd's `arm64variantToVersion` table
/// lists them: `v8.N` takes `v8.N` down to `v8` (no variant); `v9.N` takes `v9.N` down to `v9`,
/// then `v8.(N+5)` (at most `v8.9`) down to `v8`. `None` for a variant not in the table.
fn arm64_levels(variant: Option<&str>) -> Option<Vec<Option<String>>> {
    let (major, minor): (u32, u32) = match variant {
        None => (8, 0),
        Some(v) => {
            let rest = v.strip_prefix('v')?;
            let (ma, mi) = rest.split_once('.').unwrap_or((rest, "0"));
            (ma.parse().ok()?, mi.parse().ok()?)
        }
    };
    let runs: Vec<(u32, u32)> = match (major, minor) {
        (8, 0..=9) => vec![(8, minor)],
        (9, 0..=7) => vec![(9, minor), (8, (minor + 5).min(9))],
        _ => return None,
    };
    let mut out = Vec::new();
    for (major, top) in runs {
        for m in (0..=top).rev() {
            out.push(match (major, m) {
                (8, 0) => None, // `v8` normalises to no variant
                (_, 0) => Some(format!("v{major}")),
                _ => Some(format!("v{major}.{m}")),
            });
        }
    }
    Some(out)
}

/// How far `got`'s variant is below `want`'s, for an entry of `want`'s architecture: `None`
/// when it does not run there. A variant that is no known level matches only itself.
fn variant_distance(arch: &str, want: Option<&str>, got: Option<&str>) -> Option<u32> {
    if arch == "arm64"
        && let Some(levels) = arm64_levels(want)
    {
        return levels.iter().position(|l| l.as_deref() == got).map(|p| p as u32);
    }
    match (level(arch, want), level(arch, got)) {
        (Some(w), Some(g)) => w.checked_sub(g),
        _ => (want == got).then_some(0),
    }
}

impl Platform {
    /// How well `candidate` (an index entry's platform) fits this ask: `None` if it does not run
    /// here. Both are compared [`normalized`](Platform::normalized). OS and architecture must be
    /// equal; a wanted OS version must be the candidate's exactly; every OS feature the candidate
    /// needs must be asked for (but Windows' `win32k`, as in containerd). Variants: a baseline ask (no variant) takes only the baseline,
    /// except that `arm` means `v7`; `amd64/vN` takes `vN` down to `v1`; `arm/vN` takes `vN`
    /// down to `v5`; `arm64/v8.N` and `arm64/v9.N` take lower arm64 levels as containerd orders
    /// them; any other variant must be equal.
    pub fn rank(&self, candidate: &Platform) -> Option<Rank> {
        let (want, got) = (self.normalized(), candidate.normalized());
        if want.os != got.os || want.architecture != got.architecture {
            return None;
        }
        if want.os_version.is_some() && want.os_version != got.os_version {
            return None;
        }
        // containerd ignores `win32k` on Windows: every Windows host has it
        // (`platform_windows_compat.go`, `windowsStripFeaturesMatcher`).
        let needed = |f: &&String| !(want.os == "windows" && f.as_str() == "win32k");
        if !got.os_features.iter().filter(needed).all(|f| want.os_features.contains(f)) {
            return None;
        }
        let distance =
            variant_distance(&want.architecture, want.variant.as_deref(), got.variant.as_deref())?;
        Some(Rank { distance, features: Reverse(got.os_features.len()) })
    }
}
