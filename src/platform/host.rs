//! The platform this binary runs on, which `pull` asks for when given no `--platform`. On
//! x86-64 it names the highest microarchitecture level the CPU supports, so that an index's
//! `amd64/v3` build is taken only on a CPU that runs it.

use super::Platform;

impl Platform {
    /// The platform this binary runs on, in OCI's names. On amd64 the variant is the CPU's
    /// level (`v2`…`v4`, none for the baseline), read from the CPU as Go's `GOAMD64` levels
    /// define them; on arm it is `v7`.
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
            "amd64" => match amd64_level() {
                1 => None,
                n => Some(format!("v{n}")),
            },
            _ => None,
        };
        // Rust says `macos`; OCI (Go's GOOS) says `darwin`.
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant,
            os_version: None,
            os_features: Vec::new(),
            features: Vec::new(),
        }
    }
}

/// The x86-64 microarchitecture level of this CPU (1 to 4), by the feature lists of Go's
/// `GOAMD64` (go.dev/wiki/MinimumRequirements#amd64, as `internal/cpu` and the runtime's
/// startup check test them). `LAHF-SAHF` has no name in `is_x86_feature_detected!`; every CPU
/// with SSE4.2 has it in 64-bit mode. The AVX checks include the OS's `XSAVE` support.
#[cfg(target_arch = "x86_64")]
pub(crate) fn amd64_level() -> u32 {
    use std::arch::is_x86_feature_detected as has;
    let v2 = has!("cmpxchg16b")
        && has!("popcnt")
        && has!("sse3")
        && has!("sse4.1")
        && has!("sse4.2")
        && has!("ssse3");
    let v3 = v2
        && has!("avx")
        && has!("avx2")
        && has!("bmi1")
        && has!("bmi2")
        && has!("f16c")
        && has!("fma")
        && has!("lzcnt")
        && has!("movbe")
        && has!("xsave");
    let v4 = v3
        && has!("avx512f")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("avx512dq")
        && has!("avx512vl");
    match (v2, v3, v4) {
        (_, _, true) => 4,
        (_, true, _) => 3,
        (true, _, _) => 2,
        _ => 1,
    }
}

/// Not an x86-64 CPU: the baseline.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn amd64_level() -> u32 {
    1
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    /// The level read through CPUID agrees with the kernel's own reading of the CPU: the flags
    /// of `/proc/cpuinfo`, under their Linux names (`cx16`, `pni` for SSE3, `abm` for LZCNT…),
    /// by the same GOAMD64 lists.
    #[test]
    fn the_amd64_level_agrees_with_proc_cpuinfo() {
        let info = std::fs::read_to_string("/proc/cpuinfo").expect("Linux has /proc/cpuinfo");
        let line = info.lines().find(|l| l.starts_with("flags")).expect("a flags line");
        let flags: Vec<&str> = line.split_once(':').unwrap().1.split_whitespace().collect();
        let all = |names: &[&str]| names.iter().all(|n| flags.contains(n));
        let v2 = all(&["cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"]);
        let v3 =
            v2 && all(&["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]);
        let v4 = v3 && all(&["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]);
        let want = if v4 {
            4
        } else if v3 {
            3
        } else if v2 {
            2
        } else {
            1
        };
        assert_eq!(super::amd64_level(), want, "{line}");
    }
}
