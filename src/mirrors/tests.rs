use super::*;

fn config(text: &str) -> Mirrors {
    let mut m = Mirrors::default();
    m.merge_text(text, "t.conf").unwrap();
    m
}

/// The reference each source names, with `!` for an insecure one and `=` for the registry.
fn plan(m: &Mirrors, reference: &str) -> Vec<String> {
    let r: Reference = reference.parse().unwrap();
    let by_digest = r.digest().is_some();
    m.sources_for(&r, by_digest)
        .unwrap()
        .iter()
        .map(|s| {
            let mark = if s.mirror { "" } else { "=" };
            let bang = if s.insecure { "!" } else { "" };
            format!("{mark}{bang}{}", s.reference)
        })
        .collect()
}

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The example of containers-registries.conf(5).
const MAN_PAGE: &str = r#"
unqualified-search-registries = ["example.com"]

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "registry.com"

[[registry.mirror]]
location = "mirror.registry.com"

[aliases]
"alpine" = "docker.io/library/alpine"
"#;

#[test]
fn the_man_page_example() {
    let m = config(MAN_PAGE);
    assert_eq!(
        plan(&m, "example.com/foo/image:latest"),
        [
            "example-mirror-0.local/mirror-for-foo/image:latest",
            "!example-mirror-1.local/mirrors/foo/image:latest",
            "=internal-registry-for-example.com/bar/image:latest",
        ]
    );
    // A mirror belongs to its own table only.
    assert_eq!(
        plan(&m, "registry.com/image:latest"),
        ["mirror.registry.com/image:latest", "=registry.com/image:latest"]
    );
    assert_eq!(plan(&m, "ghcr.io/o/p:1"), ["=ghcr.io/o/p:1"], "no table: the reference alone");
}

#[test]
fn prefixes_match_whole_components_and_the_longest_wins() {
    let m = config(
        r#"
        [[registry]]
        prefix = "example.com"
        location = "all.local"
        [[registry]]
        prefix = "example.com/foo"
        location = "foo.local/x"
        "#,
    );
    let cases = [
        ("example.com/foo/img:latest", "=foo.local/x/img:latest"),
        ("example.com/foobar/img:latest", "=all.local/foobar/img:latest"),
        ("example.com/foo:1", "=foo.local/x:1"),
        ("example.com/bar/img:latest", "=all.local/bar/img:latest"),
        ("example.org/foo/img:latest", "=example.org/foo/img:latest"),
    ];
    for (reference, want) in cases {
        assert_eq!(plan(&m, reference), [want], "{reference}");
    }
}

#[test]
fn wildcard_prefixes_match_subdomains_without_rewriting() {
    let m = config(
        r#"
        [[registry]]
        prefix = "*.example.com"
        insecure = true
        [[registry.mirror]]
        location = "mirror.local/cache"
        "#,
    );
    assert_eq!(
        plan(&m, "a.example.com/x/y:1"),
        ["mirror.local/cache/x/y:1", "=!a.example.com/x/y:1"]
    );
    assert_eq!(plan(&m, "b.a.example.com/x:1").len(), 2, "any depth");
    assert_eq!(plan(&m, "example.com/x:1"), ["=example.com/x:1"], "not the bare domain");
    assert_eq!(plan(&m, "ghcr.io/a.example.com/x:1"), ["=ghcr.io/a.example.com/x:1"]);
}

#[test]
fn which_pulls_use_which_mirrors() {
    let by_registry = config(
        r#"
        [[registry]]
        location = "r.io"
        mirror-by-digest-only = true
        [[registry.mirror]]
        location = "m1.local"
        [[registry.mirror]]
        location = "m2.local"
        "#,
    );
    assert_eq!(plan(&by_registry, "r.io/a:1"), ["=r.io/a:1"]);
    assert_eq!(
        plan(&by_registry, &format!("r.io/a@{D}")),
        [format!("m1.local/a@{D}"), format!("m2.local/a@{D}"), format!("=r.io/a@{D}")]
    );
    let per_mirror = config(
        r#"
        [[registry]]
        location = "r.io"
        [[registry.mirror]]
        location = "digest.local"
        pull-from-mirror = "digest-only"
        [[registry.mirror]]
        location = "tag.local"
        pull-from-mirror = "tag-only"
        [[registry.mirror]]
        location = "all.local"
        pull-from-mirror = "all"
        "#,
    );
    assert_eq!(plan(&per_mirror, "r.io/a:1"), ["tag.local/a:1", "all.local/a:1", "=r.io/a:1"]);
    assert_eq!(
        plan(&per_mirror, &format!("r.io/a:1@{D}")),
        [format!("digest.local/a:1@{D}"), format!("all.local/a:1@{D}"), format!("=r.io/a:1@{D}")]
    );
}

#[test]
fn command_line_mirrors_come_first_for_the_references_registry() {
    let mut m = config(MAN_PAGE);
    m.extra = vec!["cli.local:5000".into(), "cli2.local/ns".into()];
    assert_eq!(
        plan(&m, "registry.com/a/b:1"),
        [
            "cli.local:5000/a/b:1",
            "cli2.local/ns/a/b:1",
            "mirror.registry.com/a/b:1",
            "=registry.com/a/b:1"
        ]
    );
}

#[test]
fn blocked_references_are_refused() {
    let m = config("[[registry]]\nlocation = \"bad.io\"\nblocked = true\n");
    let e = m.sources_for(&"bad.io/x:1".parse().unwrap(), false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(e.to_string().contains("bad.io/x:1 is blocked") && e.to_string().contains("t.conf"));
}

#[test]
fn later_files_replace_tables_of_the_same_prefix() {
    let mut m = config(
        "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"old.local\"\n",
    );
    m.merge_text(
        "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"new.local\"\n",
        "d.conf",
    )
    .unwrap();
    assert_eq!(plan(&m, "r.io/a:1"), ["new.local/a:1", "=r.io/a:1"]);
}

#[test]
fn version_1_files_keep_their_insecure_and_block_lists() {
    let m = config(
        "[registries.search]\nregistries = ['s.io']\n[registries.insecure]\nregistries = ['i.io']\n\
         [registries.block]\nregistries = ['b.io']\n",
    );
    assert_eq!(plan(&m, "i.io/a:1"), ["=!i.io/a:1"]);
    assert!(m.sources_for(&"b.io/a:1".parse().unwrap(), false).is_err());
    assert!(parse("[registries.block]\nregistries = ['b.io']\n", true).unwrap_err().contains("v2"));
}

#[test]
fn bad_files_say_what_is_wrong() {
    let cases = [
        ("[[registry]]\nlocation = \"https://r.io\"\n", "URI schemes are not supported"),
        ("[[registry]]\ninsecure = true\n", "neither location nor prefix"),
        ("[[registry]]\nprefix = \"r.io/a\"\n", "has no location"),
        ("[[registry]]\nlocation = \"r.io\"\npull-from-mirror = \"all\"\n", "non-mirror"),
        (
            "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\ninsecure = true\n",
            "no location",
        ),
        (
            "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"some\"\n",
            "unsupported pull-from-mirror value \"some\"",
        ),
        (
            "[[registry]]\nlocation = \"r.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n",
            "mirror-by-digest-only",
        ),
        (
            "[[registry]]\nprefix = \"*.example.com/foo\"\nlocation = \"r.io\"\n",
            "like *.example.com",
        ),
        ("[[registry]]\nlocation = \"mirror\"\n", "must start with a registry host"),
        (
            "[[registry]]\nlocation = \"r.io\"\ninsecure = true\n[[registry]]\nprefix = \"x.io\"\nlocation = \"r.io\"\n",
            "defined twice",
        ),
        ("[[registry]]\nlocation = \"r.io\"\n\ninsecure = \"yes\"\n", "line 4: invalid type"),
        ("[[registry]\n", "line 1:"),
        ("[registries.block]\nregistries = ['b.io']\n[[registry]]\nlocation = \"r.io\"\n", "mixes"),
    ];
    for (text, want) in cases {
        let e = Mirrors::default().merge_text(text, "/x/registries.conf").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Usage, "{text}");
        assert!(msg.starts_with("/x/registries.conf: ") && msg.contains(want), "{text}: {msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn prefix_matching_table() {
    let cases = [
        ("example.com/foo/bar:1", "example.com/foo", Some(15)),
        ("example.com/foo", "example.com/foo", Some(15)),
        ("example.com/foo@sha256:x", "example.com/foo", Some(15)),
        ("example.com/foobar", "example.com/foo", None),
        ("example.co", "example.com", None),
        ("a.example.com/x", "*.example.com", Some(13)),
        ("a.b.example.com:5000/x", "*.example.com", Some(15)),
        ("example.com/x", "*.example.com", None),
        ("a.example.community/x", "*.example.com", None),
        ("r.io/a.example.com", "*.example.com", None),
        // By suffix of the host: a first occurrence that ends nothing is no reason to give up.
        ("a.evil.test.evil.test/x", "*.evil.test", Some(21)),
        ("a.evil.test.evil.test:443/x", "*.evil.test", Some(21)),
        ("a.evil.test.evil.testy/x", "*.evil.test", None),
        ("r.io/a.evil.test/b.evil.test", "*.evil.test", None),
    ];
    for (name, prefix, want) in cases {
        assert_eq!(match_len(name, prefix), want, "{name} {prefix}");
    }
}
