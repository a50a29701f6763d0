//! Image references: `[registry[:port]/]repository[:tag][@digest]`, validated against the
//! OCI distribution grammar (<https://github.com/distribution/reference/blob/main/reference.go>).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// The registry used when a reference names none and `OCI_DL_DEFAULT_REGISTRY` is unset.
pub const DEFAULT_REGISTRY: &str = "ghcr.io";
/// The tag used when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed reference. A reference always names a tag, a digest, or both; pulling uses the digest
/// when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse `s`, using `default_registry` when the first component is not a registry.
    pub fn parse_with_default(s: &str, default_registry: &str) -> Result<Self, Error> {
        let bad =
            |why: String| Error::new(ErrorKind::Usage, format!("invalid reference {s:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty".into()));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!("contains {c:?}")));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>().map_err(|e| bad(e.to_string()))?)),
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
            None => (name_tag, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|why| bad(format!("tag {tag:?} {why}")))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if is_registry(first) => (first.to_owned(), rest.to_owned()),
            _ => {
                validate_registry(default_registry)
                    .map_err(|why| bad(format!("default registry {default_registry:?} {why}")))?;
                (default_registry.to_owned(), name.to_owned())
            }
        };
        validate_registry(&registry).map_err(|why| bad(format!("registry {registry:?} {why}")))?;
        let registry = registry.to_ascii_lowercase();
        let repository = if is_docker_hub(&registry) && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        validate_repository(&repository)
            .map_err(|why| bad(format!("repository {repository:?} {why}")))?;
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_owned()),
        };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// The registry as written (lowercased), e.g. `ghcr.io`, `localhost:5000`, `docker.io`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) the API is served from: Docker Hub's names map to `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if is_docker_hub(&self.registry) { "registry-1.docker.io" } else { &self.registry }
    }

    /// The repository path, e.g. `org/pkg` or `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `latest` when the reference named neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, when the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes after `/manifests/`: the digest when known, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// The same repository at `digest`, keeping the tag for display.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Reference::parse_with_default(s, DEFAULT_REGISTRY)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io")
}

/// The distribution rule: a first component is a registry when it has a `.` or `:` or is `localhost`.
fn is_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn validate_registry(reg: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = reg.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("has an unclosed '['")?;
        v6.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("has an invalid IPv6 address {v6:?}"))?;
        match after {
            "" => (v6, None),
            p => (v6, Some(p.strip_prefix(':').ok_or("has junk after ']'")?)),
        }
    } else {
        match reg.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (reg, None),
        }
    };
    if !reg.starts_with('[') {
        if host.is_empty() {
            return Err("has an empty host".into());
        }
        for label in host.split('.') {
            let ok = !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!("has an invalid host name part {label:?}"));
            }
        }
    }
    if let Some(p) = port {
        let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        match p.parse::<u32>() {
            Ok(n) if valid && (1..=65535).contains(&n) => {}
            _ => return Err(format!("has an invalid port {p:?}")),
        }
    }
    Ok(())
}

fn validate_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("is empty".into());
    }
    if repo.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} characters"));
    }
    for comp in repo.split('/') {
        if !valid_path_component(comp) {
            return Err(format!(
                "has an invalid component {comp:?} (lowercase letters, digits and . _ __ - between them)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn validate_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match tag.as_bytes() {
        [] => Err("is empty".into()),
        t if t.len() > MAX_TAG_LEN => Err(format!("is longer than {MAX_TAG_LEN} characters")),
        [first, ..] if !word(*first) => Err("must start with a letter, digit or '_'".into()),
        t if !t.iter().all(|&b| word(b) || b == b'.' || b == b'-') => {
            Err("may only hold letters, digits, '_', '.' and '-'".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn p(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn grammar_table() {
        // input, registry, api host, repository, tag, has digest
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a str>, bool);
        let cases: &[Case<'_>] = &[
            ("org/pkg", "ghcr.io", "ghcr.io", "org/pkg", Some("latest"), false),
            ("ghcr.io/org/pkg:v1", "ghcr.io", "ghcr.io", "org/pkg", Some("v1"), false),
            ("org/team/repo:1.0", "ghcr.io", "ghcr.io", "org/team/repo", Some("1.0"), false),
            ("localhost/x", "localhost", "localhost", "x", Some("latest"), false),
            ("localhost:5000/x:t", "localhost:5000", "localhost:5000", "x", Some("t"), false),
            (
                "127.0.0.1:5000/a/b",
                "127.0.0.1:5000",
                "127.0.0.1:5000",
                "a/b",
                Some("latest"),
                false,
            ),
            ("[::1]:5000/a", "[::1]:5000", "[::1]:5000", "a", Some("latest"), false),
            (
                "docker.io/alpine",
                "docker.io",
                "registry-1.docker.io",
                "library/alpine",
                Some("latest"),
                false,
            ),
            (
                "index.docker.io/u/r:3",
                "index.docker.io",
                "registry-1.docker.io",
                "u/r",
                Some("3"),
                false,
            ),
            ("Quay.IO/a/b", "quay.io", "quay.io", "a/b", Some("latest"), false),
        ];
        for &(s, reg, host, repo, tag, dig) in cases {
            let r = p(s);
            assert_eq!(
                (r.registry(), r.api_host(), r.repository(), r.tag(), r.digest().is_some()),
                (reg, host, repo, tag, dig),
                "{s}"
            );
        }
    }

    #[test]
    fn digest_forms() {
        let r = p(&format!("ghcr.io/o/p@{D}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.manifest_reference(), D);
        let r = p(&format!("ghcr.io/o/p:v2@{D}"));
        assert_eq!(r.tag(), Some("v2"));
        assert_eq!(r.manifest_reference(), D, "tag@digest pulls by digest");
        assert_eq!(r.to_string(), format!("ghcr.io/o/p:v2@{D}"));
    }

    #[test]
    fn default_registry_can_be_overridden() {
        let r = Reference::parse_with_default("o/p", "localhost:5000").unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        let e = Reference::parse_with_default("o/p", "bad host").unwrap_err();
        assert!(e.to_string().contains("default registry"), "{e}");
    }

    #[test]
    fn invalid_references_name_the_bad_part() {
        let cases = [
            ("", "empty"),
            ("ghcr.io/o/p :v1", "contains ' '"),
            ("ghcr.io/Org/pkg", "component \"Org\""),
            ("ghcr.io/o//p", "component \"\""),
            ("ghcr.io/o/p-", "component \"p-\""),
            ("ghcr.io/o/p..q", "component \"p..q\""),
            ("localhost:99999/x", "invalid port \"99999\""),
            ("localhost:5a/x", "invalid port \"5a\""),
            ("-bad.io/x", "host name part \"-bad\""),
            // Found by the property test: a '.' makes the first component a registry.
            ("a_a.0/a", "host name part \"a_a\""),
            ("ghcr.io/o/p:", "tag \"\" is empty"),
            ("ghcr.io/o/p:-x", "must start with"),
            ("ghcr.io/o/p:a+b", "may only hold"),
            ("ghcr.io/o/p@sha256:abc", "needs 64 hex"),
            ("ghcr.io/o/p@md5:abc", "unsupported algorithm"),
            ("ghcr.io/", "repository \"\" is empty"),
            ("[::g]:5000/x", "invalid IPv6"),
        ];
        for (s, want) in cases {
            let e = s.parse::<Reference>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{s}");
            assert!(e.to_string().contains(want), "{s:?}: got {e}");
        }
        let long = format!("ghcr.io/{}", "a".repeat(256));
        assert!(long.parse::<Reference>().unwrap_err().to_string().contains("longer than 255"));
        let long_tag = format!("o/p:{}", "t".repeat(129));
        assert!(long_tag.parse::<Reference>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["ghcr.io/o/p:latest", "localhost:5000/a/b:c", "docker.io/library/x:1"] {
            let r = p(s);
            assert_eq!(r.to_string(), s);
            assert_eq!(p(&r.to_string()), r);
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,8}((\\.|_|__|-{1,2})[a-z0-9]{1,8}){0,2}"
    }

    fn valid() -> impl Strategy<Value = String> {
        let registry = prop_oneof![
            Just(String::new()),
            "[a-z]{1,8}\\.[a-z]{2,4}(:[1-9][0-9]{0,3})?".prop_map(|r| format!("{r}/")),
            Just("localhost:5000/".to_owned()),
        ];
        let tag = prop_oneof![
            Just(String::new()),
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}".prop_map(|t| format!(":{t}"))
        ];
        let digest =
            prop_oneof![Just(String::new()), "[0-9a-f]{64}".prop_map(|h| format!("@sha256:{h}"))];
        // Without a registry, a first component with a '.' would be read as one.
        (registry, proptest::collection::vec(component(), 1..4), tag, digest)
            .prop_filter("first component looks like a registry", |(r, c, _, _)| {
                !r.is_empty() || !c[0].contains('.')
            })
            .prop_map(|(r, comps, t, d)| format!("{r}{}{t}{d}", comps.join("/")))
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Reference>();
        }

        #[test]
        fn valid_references_round_trip(s in valid()) {
            let r: Reference = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            let again: Reference = r.to_string().parse().unwrap();
            prop_assert_eq!(again, r);
        }
    }
}
