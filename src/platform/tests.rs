//! The matcher held against containerd's own tables (`github.com/containerd/platforms` at
//! 09756f59, files and lines cited per family of rows). A new rule is one row. Where oci-dl
//! deliberately differs (README, "--platform"), the row says `differs:` and why.

use super::*;
use crate::error::ErrorKind;

/// An index entry's platform exactly as a registry may spell it: split, never normalised.
fn raw(s: &str) -> Platform {
    let (path, os_version) = match s.split_once(':') {
        Some((p, v)) => (p, Some(v.to_owned())),
        None => (s, None),
    };
    let parts: Vec<&str> = path.split('/').collect();
    let (os, os_features) = split_features(parts[0]).unwrap();
    Platform {
        os: os.to_owned(),
        architecture: parts[1].to_owned(),
        variant: parts.get(2).map(|v| (*v).to_owned()),
        os_version,
        os_features,
        features: Vec::new(),
    }
}

/// Ask → entries that run there (`yes`) and entries that do not (`no`).
type MatchRow = (&'static str, &'static [&'static str], &'static [&'static str]);

const MATCHES: &[MatchRow] = &[
    // compare_test.go:30-45 TestOnly linux/amd64. differs: no amd64 → 386 fallback unless asked.
    (
        "linux/amd64",
        &["linux/amd64"],
        &["linux/386", "linux/amd64/v2", "linux/arm/v7", "windows/amd64"],
    ),
    // compare_test.go:46-64 linux/amd64/v2 (386 as above).
    (
        "linux/amd64/v2",
        &["linux/amd64", "linux/amd64/v1", "linux/amd64/v2"],
        &["linux/386", "linux/amd64/v3", "linux/amd64/v4", "linux/arm64", "windows/amd64"],
    ),
    // compare_test.go:65-79 linux/386.
    ("linux/386", &["linux/386"], &["linux/amd64", "linux/arm/v7", "windows/amd64"]),
    // compare_test.go:80-94 windows/amd64 (containerd writes the version `windows(10.0.17763)`).
    (
        "windows/amd64",
        &["windows/amd64", "windows/amd64:10.0.17763"],
        &["linux/amd64", "windows/arm"],
    ),
    // compare_test.go:95-189 linux/arm/vN takes vN down to v5; `arm` is v7; v4 only itself.
    (
        "linux/arm/v8",
        &["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
        &["linux/amd64", "linux/arm/v4", "linux/arm64", "windows/arm"],
    ),
    (
        "linux/arm/v7",
        &["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
        &["linux/arm/v4", "linux/arm/v8", "linux/arm64"],
    ),
    (
        "linux/arm/v6",
        &["linux/arm/v5", "linux/arm/v6"],
        &["linux/arm", "linux/arm/v4", "linux/arm/v7"],
    ),
    ("linux/arm/v5", &["linux/arm/v5"], &["linux/arm", "linux/arm/v4", "linux/arm/v6"]),
    ("linux/arm/v4", &["linux/arm/v4"], &["linux/arm", "linux/arm/v5", "linux/arm/v6"]),
    // compare_test.go:190-300 arm64 levels. differs: no arm64 → arm (32-bit) fallback.
    (
        "linux/arm64/v9.6",
        &[
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.1",
            "linux/arm64/v8.5",
            "linux/arm64/v8.9",
            "linux/arm64/v9",
            "linux/arm64/v9.0",
            "linux/arm64/v9.1",
            "linux/arm64/v9.6",
        ],
        &["linux/arm", "linux/arm/v8", "linux/amd64", "linux/arm64/v8.10", "linux/arm64/v9.7"],
    ),
    (
        "linux/arm64/v9",
        &[
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.5",
            "linux/arm64/v9",
            "linux/arm64/v9.0",
        ],
        &["linux/arm/v7", "linux/arm64/v8.6", "linux/arm64/v9.1"],
    ),
    (
        "linux/arm64/v8.1",
        &["linux/arm64", "linux/arm64/v8", "linux/arm64/v8.1"],
        &["linux/arm/v8", "linux/arm/v9", "linux/arm64/v8.2", "linux/arm64/v9"],
    ),
    (
        "linux/arm64",
        &["linux/arm64", "linux/arm64/v8"],
        &["linux/arm", "linux/arm/v7", "linux/arm/v8", "linux/arm64/v8.1", "linux/arm64/v9"],
    ),
    // compare_test.go:553-574 TestOnlyStrict linux/arm64 (non-canonical forms match).
    ("linux/arm64/v8", &["linux/arm64", "linux/arm64/v8"], &["linux/arm64/v9"]),
    // compare_test.go:632-647 TestOnlyOS: an entry needing a feature the ask lacks never runs.
    ("linux(+gpu)/amd64", &["linux/amd64", "linux(+gpu)/amd64"], &["linux(+gpu+simd)/amd64"]),
    ("linux/amd64", &["linux/amd64"], &["linux(+gpu)/amd64", "linux(+other)/amd64"]),
    // platforms.go:155-166, platform_windows_compat.go:167-176: Windows ignores `win32k`.
    ("windows/amd64", &["windows(+win32k)/amd64"], &["windows(+other+win32k)/amd64"]),
    ("linux/amd64", &["linux/amd64"], &["linux(+win32k)/amd64"]),
    // database.go:75-111 normalizeArch, entries spelled as in the wild: both sides normalised.
    (
        "linux/arm64",
        &["linux/aarch64", "Linux/ARM64", "linux/aarch64/v8", "linux/arm64/v8.0", "linux/arm64/8"],
        &["linux/aarch64/v9"],
    ),
    (
        "linux/amd64",
        &["linux/x86_64", "linux/x86-64", "LINUX/AMD64", "linux/amd64/v1", "linux/x86_64/V1"],
        &["linux/x86_64/v2"],
    ),
    (
        "linux/arm/v7",
        &["linux/armhf", "linux/arm/7", "linux/arm", "linux/ARM/V7", "linux/armel"],
        &["linux/arm/v8"],
    ),
    ("linux/arm/v6", &["linux/armel", "linux/arm/6", "linux/arm/5"], &["linux/armhf", "linux/arm"]),
    ("linux/386", &["linux/i386", "linux/I386"], &["linux/amd64"]),
    ("darwin/arm64", &["macos/arm64", "MacOS/aarch64", "Darwin/arm64"], &["linux/arm64"]),
    (
        "linux/arm64/v9",
        &["linux/arm64/9", "linux/arm64/9.0", "linux/arm64/v9.0", "linux/aarch64"],
        &["linux/arm64/v9.1"],
    ),
    // differs: os.version asked is matched exactly (Homebrew's `macOS 14`); containerd ignores
    // it outside Windows (compare_test.go:749-753).
    (
        "darwin/arm64:macOS 14",
        &["darwin/arm64:macOS 14"],
        &["darwin/arm64:macOS 15", "darwin/arm64"],
    ),
    ("darwin/arm64", &["darwin/arm64:macOS 14", "darwin/arm64"], &["darwin/amd64:macOS 14"]),
    // Other architectures: the variant must be equal (containerd `platforms.go:189-194`, `matcher.Match`).
    ("linux/riscv64", &["linux/riscv64"], &["linux/riscv64/rva22u64"]),
    (
        "linux/ppc64le/power9",
        &["linux/ppc64le/power9"],
        &["linux/ppc64le", "linux/ppc64le/power10"],
    ),
];

#[test]
fn matches_as_containerd_does() {
    for (ask, yes, no) in MATCHES {
        let want: Platform = ask.parse().unwrap_or_else(|e| panic!("{ask}: {e}"));
        for entry in *yes {
            assert!(want.rank(&raw(entry)).is_some(), "{ask} should take {entry}");
        }
        for entry in *no {
            assert!(want.rank(&raw(entry)).is_none(), "{ask} should not take {entry}");
        }
    }
}

/// Ask → entries in index order → the matching ones, best first (equals keep index order).
type OrderRow = (&'static str, &'static [&'static str], &'static [&'static str]);

const ORDERS: &[OrderRow] = &[
    // compare.go:64-97 platformVector: amd64/vN then vN-1… v1; arm/vN then vN-1… v5.
    (
        "linux/amd64/v3",
        &["linux/amd64", "linux/amd64/v4", "linux/amd64/v2", "linux/amd64/v3"],
        &["linux/amd64/v3", "linux/amd64/v2", "linux/amd64"],
    ),
    ("linux/amd64", &["linux/amd64/v3", "linux/amd64/v2"], &[]),
    (
        "linux/arm/v7",
        &["linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
        &["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"],
    ),
    (
        "linux/arm/v8",
        &["linux/arm/v5", "linux/arm", "linux/arm/v6"],
        &["linux/arm", "linux/arm/v6", "linux/arm/v5"],
    ),
    // compare.go:39-60 arm64variantToVersion, compare.go:98-125: v9.N, … v9, v8.(N+5), … v8.
    (
        "linux/arm64/v9.2",
        &[
            "linux/arm64",
            "linux/arm64/v8.7",
            "linux/arm64/v9",
            "linux/arm64/v9.1",
            "linux/arm64/v8.2",
            "linux/arm64/v9.3",
            "linux/arm64/v8.8",
        ],
        &[
            "linux/arm64/v9.1",
            "linux/arm64/v9",
            "linux/arm64/v8.7",
            "linux/arm64/v8.2",
            "linux/arm64",
        ],
    ),
    (
        "linux/arm64/v8.2",
        &["linux/arm64/v8", "linux/arm64/v8.1", "linux/aarch64/v8.2"],
        &["linux/aarch64/v8.2", "linux/arm64/v8.1", "linux/arm64/v8"],
    ),
    // compare_test.go:718-760 TestCompareOSFeatures (matching entries only; oci-dl never picks
    // the others): more matching features first.
    (
        "linux/amd64",
        &["windows/amd64", "linux/amd64", "linux(+other)/amd64", "linux/arm64"],
        &["linux/amd64"],
    ),
    (
        "linux(+none)/amd64",
        &["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
        &["linux/amd64"],
    ),
    (
        "linux(+other)/amd64",
        &["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
        &["linux(+other)/amd64", "linux/amd64"],
    ),
    (
        "linux(+af+other+zf)/amd64",
        &["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
        &["linux(+other)/amd64", "linux/amd64"],
    ),
    (
        "linux(+f1+f2)/amd64",
        &["linux/amd64", "linux(+f2)/amd64", "linux(+f1)/amd64", "linux(+f1+f2)/amd64"],
        &["linux(+f1+f2)/amd64", "linux(+f2)/amd64", "linux(+f1)/amd64", "linux/amd64"],
    ),
    // differs (compare_test.go:749-753): os.version asked is matched exactly.
    (
        "linux(+other)/amd64:7.2",
        &["linux/amd64", "linux(+other)/amd64", "linux/amd64:7.1", "linux(+other)/amd64:7.2"],
        &["linux(+other)/amd64:7.2"],
    ),
];

#[test]
fn orders_as_containerd_does() {
    for (ask, entries, best_first) in ORDERS {
        let want: Platform = ask.parse().unwrap_or_else(|e| panic!("{ask}: {e}"));
        let mut ranked: Vec<(Rank, &str)> =
            entries.iter().filter_map(|e| want.rank(&raw(e)).map(|r| (r, *e))).collect();
        ranked.sort_by_key(|(r, _)| *r); // stable: equals keep index order
        let got: Vec<&str> = ranked.iter().map(|(_, e)| *e).collect();
        assert_eq!(got, *best_first, "{ask} over {entries:?}");
    }
}

/// The `--platform` grammar: input → its canonical form, or refused.
#[test]
fn platform_grammar_table() {
    let rows: &[(&str, Option<&str>)] = &[
        ("linux/amd64", Some("linux/amd64")),
        ("linux/arm/v7", Some("linux/arm/v7")),
        ("linux/arm64/v8.2", Some("linux/arm64/v8.2")),
        ("darwin/arm64:macOS 14", Some("darwin/arm64:macOS 14")),
        ("linux/amd64:Ubuntu 24.04", Some("linux/amd64:Ubuntu 24.04")),
        ("linux/arm/v7:Debian 12", Some("linux/arm/v7:Debian 12")),
        ("windows/amd64:10.0.17763.1234", Some("windows/amd64:10.0.17763.1234")),
        // oras cuts at the first `:`; the rest is the version.
        ("linux/amd64:a:b", Some("linux/amd64:a:b")),
        // platforms_test.go:100-300 TestParseSelector and database.go:62-111: the names docker,
        // nerdctl and ctr accept, and `uname -m`'s.
        ("linux/aarch64", Some("linux/arm64")),
        ("linux/arm64/v8", Some("linux/arm64")),
        ("linux/x86_64", Some("linux/amd64")),
        ("linux/x86-64", Some("linux/amd64")),
        ("linux/amd64/v1", Some("linux/amd64")),
        ("linux/armhf", Some("linux/arm/v7")),
        ("linux/armel", Some("linux/arm/v6")),
        ("linux/arm", Some("linux/arm/v7")),
        ("linux/arm/7", Some("linux/arm/v7")),
        ("linux/arm/5", Some("linux/arm/v5")),
        ("linux/i386", Some("linux/386")),
        ("Linux/AMD64", Some("linux/amd64")),
        ("Linux/x86_64", Some("linux/amd64")),
        ("linux/Aarch64", Some("linux/arm64")),
        ("macos/arm64", Some("darwin/arm64")),
        ("macOS/arm64:macOS 14", Some("darwin/arm64:macOS 14")),
        ("linux/arm64/9.0", Some("linux/arm64/v9")),
        ("linux/s390x", Some("linux/s390x")),
        // platforms_test.go:361-395: OS features, sorted and deduplicated.
        ("linux(+gpu)/amd64", Some("linux(+gpu)/amd64")),
        ("linux(+unsorted+erofs+erofs)/amd64", Some("linux(+erofs+unsorted)/amd64")),
        // platforms_test.go:552-575 TestParseSelectorInvalid, and oci-dl's own.
        ("", None),
        ("/linux/arm", None),
        ("linux/arm/", None),
        ("linux /arm", None),
        ("linux/&arm", None),
        ("linux/arm/foo/bar", None),
        ("linux", None),
        ("/amd64", None),
        ("linux//v1", None),
        ("linux amd64", None),
        ("linux/amd64\n", None),
        ("linux/amd64:", None),
        ("linux/amd64: macOS 14", None),
        ("linux/amd64:macOS 14 ", None),
        ("linux/amd64:macOS\t14", None),
        (":macOS 14", None),
        ("linux(10.0)/amd64", None),
        ("linux(+)/amd64", None),
        ("linux(+gpu/amd64", None),
    ];
    for (input, want) in rows {
        let got = input.parse::<Platform>();
        match want {
            Some(canonical) => {
                let p = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(p.to_string(), *canonical, "{input:?}");
                assert_eq!(p.to_string().parse::<Platform>().unwrap(), p, "round trip");
            }
            None => {
                let e = got.expect_err(input);
                assert_eq!(e.kind(), ErrorKind::Usage, "{input:?}");
                assert!(e.to_string().contains("OS/ARCH[/VARIANT][:OS_VERSION]"), "{e}");
            }
        }
    }
}

#[test]
fn host_and_directory_names() {
    let host = Platform::host();
    assert_ne!(host.os, "macos", "OCI says darwin");
    assert!(host.os_version.is_none());
    assert_eq!(host, host.normalized(), "the host is named canonically");
    if host.architecture == "amd64" {
        let level = host::amd64_level();
        let want = (level > 1).then(|| format!("v{level}"));
        assert_eq!(host.variant, want, "the CPU's GOAMD64 level");
        // The host takes a build of its own level or lower, never a higher one.
        let above: Platform = format!("linux/amd64/v{}", level + 1).parse().unwrap();
        let base: Platform = "linux/amd64".parse().unwrap();
        assert!(Platform { os: "linux".into(), ..host.clone() }.rank(&above).is_none());
        assert!(Platform { os: "linux".into(), ..host.clone() }.rank(&base).is_some());
    }
    for (p, dir) in [
        ("linux/amd64", "linux-amd64"),
        ("linux/arm/v7", "linux-arm-v7"),
        ("linux/aarch64/v8", "linux-arm64"),
        ("darwin/arm64:macOS 14", "darwin-arm64-macOS_14"),
    ] {
        assert_eq!(p.parse::<Platform>().unwrap().dir_name(), dir);
    }
    let hostile =
        Platform { os: "../..".into(), variant: Some("x/y".into()), ..raw("linux/amd64") };
    assert_eq!(hostile.dir_name(), ".._..-amd64-x_y");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Normalising twice changes nothing, and every platform, however spelled, takes itself
        /// first: an index entry spelled as the ask is always its best match.
        #[test]
        fn normalising_is_idempotent_and_a_platform_takes_itself(
            os in prop_oneof![Just("linux"), Just("Linux"), Just("macos"), Just("windows"), Just("")],
            arch in prop_oneof![
                Just("amd64"), Just("x86_64"), Just("X86-64"), Just("aarch64"), Just("arm64"),
                Just("arm"), Just("armhf"), Just("armel"), Just("i386"), Just("riscv64"), Just("")
            ],
            variant in proptest::option::of(prop_oneof![
                Just("v1"), Just("v2"), Just("v3"), Just("7"), Just("v5"), Just("8"), Just("v8.0"),
                Just("v8.2"), Just("9"), Just("v9.3"), Just("V7"), Just("v99999999999"), Just("x")
            ]),
            features in proptest::collection::vec(prop_oneof![Just("gpu"), Just("win32k")], 0..3),
        ) {
            let p = Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(str::to_owned),
                os_version: None,
                os_features: features.into_iter().map(str::to_owned).collect(),
                features: Vec::new(),
            };
            let n = p.normalized();
            prop_assert_eq!(n.normalized(), n.clone());
            let best = Rank { distance: 0, features: std::cmp::Reverse(n.os_features.len()) };
            prop_assert_eq!(p.rank(&p), Some(best));
        }
    }
}
