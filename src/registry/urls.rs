//! URLs and authorities taken apart, in one place: the host of a `host[:port]`, the authority
//! of a URL, and a reference (a redirect's `Location`, a `Link` target) resolved against the
//! URL it came with (RFC 3986 section 5.2, as RFC 9110 section 10.2.2 asks of `Location`). No
//! URL crate is in the tree (`http::Uri` parses but does not resolve), and the URLs here are
//! our own, built from a validated reference, so a small careful resolver does.

/// The host of an authority `host[:port]` or `[v6][:port]`, without port or brackets.
pub(crate) fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The authority (`host[:port]`) of an absolute http(s) URL.
pub(crate) fn url_authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Another host's URL may be signed: keep its query out of logs and errors.
pub(super) fn display_url(url: &str, same_host: bool) -> &str {
    if same_host { url } else { url.split('?').next().unwrap_or(url) }
}

/// `reference` resolved against the absolute http(s) URL `base`; `None` for one not followed: an
/// absolute reference must be http(s) too, and an absolute or network-path one must name a host
/// without userinfo (RFC 9110 4.2.4: it "is likely being used to obscure the authority", and
/// ureq would send it as a Basic `Authorization` to wherever it leads). A fragment is dropped (it
/// is never sent). Every path loses its dot segments (5.2.2), so one resource has one spelling.
pub(super) fn resolve(base: &str, reference: &str) -> Option<String> {
    let reference = reference.split('#').next().unwrap_or(reference);
    let (base_scheme, base_rest) = base.split_once("://")?;
    let (base_authority, base_rest) = split_authority(base_rest);
    let (scheme, reference) = match reference.split_once(':') {
        Some((scheme, rest)) if is_scheme(scheme) => {
            // Schemes are case-insensitive; ours are written in lower case.
            let scheme = scheme.to_ascii_lowercase();
            if !matches!(scheme.as_str(), "http" | "https") || !rest.starts_with("//") {
                return None;
            }
            (scheme, rest)
        }
        _ => (base_scheme.to_owned(), reference),
    };
    let (authority, path, query) = match reference.strip_prefix("//") {
        Some(network_path) => {
            let (authority, rest) = split_authority(network_path);
            if authority.is_empty() || authority.contains('@') {
                return None;
            }
            let (path, query) = split_query(rest);
            let path = if path.is_empty() { String::new() } else { remove_dot_segments(path) };
            (authority, path, query)
        }
        None => {
            let (base_path, base_query) = split_query(base_rest);
            match split_query(reference) {
                ("", query) => (base_authority, base_path.to_owned(), query.or(base_query)),
                (p, query) if p.starts_with('/') => (base_authority, remove_dot_segments(p), query),
                (p, query) => {
                    let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
                    (base_authority, remove_dot_segments(&format!("{dir}{p}")), query)
                }
            }
        }
    };
    Some(match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    })
}

/// RFC 3986 3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// `authority` and what follows it (a path and query) of a URL past its `scheme://`.
fn split_authority(s: &str) -> (&str, &str) {
    s.split_at(s.find(['/', '?']).unwrap_or(s.len()))
}

/// A path and its query, if any.
fn split_query(s: &str) -> (&str, Option<&str>) {
    s.split_once('?').map_or((s, None), |(p, q)| (p, Some(q)))
}

/// RFC 3986 5.2.4 on an absolute (or empty) path: `.` and `..` segments go, and `..` never
/// climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *s {
            "." | ".." => {
                if *s == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_as_rfc_3986_s_examples() {
        // RFC 3986 5.4.1 and 5.4.2, with the http base it uses (fragments are never sent).
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("https://cdn.example/x?sig=1", "https://cdn.example/x?sig=1"),
            ("HTTP://cdn.example/x", "http://cdn.example/x"),
            // The rest of 5.4.1 and 5.4.2 (their fragments dropped: never sent).
            ("g;x", "http://a/b/c/g;x"),
            ("g?y#s", "http://a/b/c/g?y"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("../../../../g", "http://a/g"),
            ("g..", "http://a/b/c/g.."),
            ("./g/.", "http://a/b/c/g/"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
            // 5.2.2: an absolute or network-path reference loses its dot segments too, so one
            // page cannot come back under another spelling.
            ("http://a/b/c/./../g", "http://a/b/g"),
            ("//a/b/../../../g?q", "http://a/g?q"),
        ];
        for (reference, want) in cases {
            assert_eq!(resolve(base, reference).as_deref(), Some(want), "{reference:?}");
        }
        let base = "http://127.0.0.1:5000/v2/a/blobs/sha256:x";
        assert_eq!(resolve(base, "/o?x=1").as_deref(), Some("http://127.0.0.1:5000/o?x=1"));
        assert_eq!(resolve(base, "y").as_deref(), Some("http://127.0.0.1:5000/v2/a/blobs/y"));
        assert_eq!(resolve("https://r:1", "x").as_deref(), Some("https://r:1/x"));
    }

    #[test]
    fn only_http_locations_are_followed() {
        for bad in ["ftp://x/y", "file:///etc/passwd", "javascript:alert(1)", "http:x", "https://"]
        {
            assert_eq!(resolve("https://r/v2/", bad), None, "{bad}");
        }
        // A network-path reference names a host, or it is refused as an absolute one would be;
        // userinfo is refused in either (RFC 9110 4.2.4).
        for bad in [
            "//",
            "///evil/x",
            "//?x",
            "//#x",
            "//r@evil/x",
            "https://r@evil/x",
            "https://r:443@evil:443/x",
            "//user:pw@r/x",
            "http://@r/x",
        ] {
            assert_eq!(resolve("https://r/v2/", bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_tricks_never_leave_the_base_authority() {
        // Whatever a relative reference holds (`@`, backslashes, encoded dots, `..` above the
        // root, a `:` past the first segment), the URL it makes keeps the base's authority.
        let base = "https://r:5000/v2/a/blobs/sha256:x";
        for reference in [
            "/@evil/x",
            "@evil/x",
            "/\\evil/x",
            "\\\\evil\\x",
            "%2e%2e/%2e%2e/x",
            "../../../../../../x",
            "/.//evil/x",
            "..//evil",
            "./evil:80/x",
            "?@evil",
            "",
        ] {
            let got = resolve(base, reference).unwrap();
            assert_eq!(url_authority(&got), Some("r:5000"), "{reference:?} -> {got}");
        }
    }

    #[test]
    fn hosts_lose_their_ports_and_brackets() {
        let cases = [
            ("ghcr.io", "ghcr.io"),
            ("localhost:5000", "localhost"),
            ("[::1]:5000", "::1"),
            ("[::1]", "::1"),
            ("127.0.0.1:5000", "127.0.0.1"),
            ("host:notaport", "host:notaport"),
        ];
        for (authority, host) in cases {
            assert_eq!(host_of(authority), host, "{authority}");
        }
    }

    /// The three copies `host_of` replaced (credentials' GITHUB_TOKEN check, the loopback test,
    /// NO_PROXY), as 970a18f had them: on every registry a reference can name, `host_of` agrees,
    /// so a credential or proxy rule for `host` reaches `host:5000` exactly when it did before.
    #[test]
    fn host_of_agrees_with_the_copies_it_replaced() {
        fn credentials(r: &str) -> &str {
            r.rsplit_once(':')
                .map_or(r, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { r })
        }
        fn loopback(h: &str) -> &str {
            match h.strip_prefix('[') {
                Some(rest) => rest.split(']').next().unwrap_or(""),
                None => h.rsplit_once(':').map_or(h, |(h, _)| h),
            }
        }
        for registry in [
            "ghcr.io",
            "ghcr.io:443",
            "GHCR.IO:5000",
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]",
            "[::1]:5000",
            "[fe80::1]:443",
            "registry-1.docker.io",
        ] {
            let brackets = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
            assert_eq!(host_of(registry), loopback(registry), "{registry}");
            // The GITHUB_TOKEN check kept an IPv6 literal's brackets; neither is ghcr.io.
            assert_eq!(host_of(registry), brackets(credentials(registry)), "{registry}");
        }
    }

    #[test]
    fn signed_urls_are_not_shown_for_other_hosts() {
        assert_eq!(display_url("https://cdn/x?sig=abc", false), "https://cdn/x");
        assert_eq!(display_url("https://reg/v2/?n=1", true), "https://reg/v2/?n=1");
        assert_eq!(url_authority("https://a.b:5/x?y"), Some("a.b:5"));
    }
}
