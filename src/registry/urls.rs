//! URLs and authorities taken apart, in one place: the host of a `host[:port]`, the authority
//! of a URL, and a reference (a redirect's `Location`, a `Link` target) resolved against the
//! URL it came with (RFC 3986 section 5.2, as RFC 9110 section 10.2.2 asks of `Location`). No
//! URL crate is in the tree (`http::Uri` parses but does not resolve), and the URLs here are
//! our own, built from a validated reference, so a small careful resolver does.

use crate::error::{Error, ErrorKind};

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

/// `reference` resolved against the absolute http(s) URL `base`. An absolute reference must be
/// http(s) too; a fragment is dropped (it is never sent).
pub(super) fn resolve(base: &str, reference: &str) -> Result<String, Error> {
    let unsupported =
        || Error::new(ErrorKind::Network, format!("unsupported redirect Location {reference:?}"));
    let reference = reference.split('#').next().unwrap_or(reference);
    if let Some((scheme, _)) = reference.split_once(':')
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        // Schemes are case-insensitive; ours are written in lower case.
        let absolute = format!("{}{}", scheme.to_ascii_lowercase(), &reference[scheme.len()..]);
        return match url_authority(&absolute) {
            Some(a) if !a.is_empty() => Ok(absolute),
            _ => Err(unsupported()),
        };
    }
    let (scheme, rest) = base.split_once("://").ok_or_else(unsupported)?;
    if let Some(network_path) = reference.strip_prefix("//") {
        return Ok(format!("{scheme}://{network_path}"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let (base_path, base_query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
    let (path, query) = reference.split_once('?').map_or((reference, None), |(p, q)| (p, Some(q)));
    let (path, query) = match path {
        "" => (base_path.to_owned(), query.or(base_query)),
        p if p.starts_with('/') => (remove_dot_segments(p), query),
        p => {
            let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
            (remove_dot_segments(&format!("{dir}{p}")), query)
        }
    };
    let path = if path.is_empty() { "/" } else { &path };
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    })
}

/// RFC 3986 5.2.4 on an absolute path: `.` and `..` segments go, and `..` never climbs above
/// the root.
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
        ];
        for (reference, want) in cases {
            assert_eq!(resolve(base, reference).unwrap(), want, "{reference:?}");
        }
        let base = "http://127.0.0.1:5000/v2/a/blobs/sha256:x";
        assert_eq!(resolve(base, "/o?x=1").unwrap(), "http://127.0.0.1:5000/o?x=1");
        assert_eq!(resolve(base, "y").unwrap(), "http://127.0.0.1:5000/v2/a/blobs/y");
        assert_eq!(resolve("https://r:1", "x").unwrap(), "https://r:1/x");
    }

    #[test]
    fn only_http_locations_are_followed() {
        for bad in ["ftp://x/y", "file:///etc/passwd", "javascript:alert(1)", "http:x", "https://"]
        {
            assert!(resolve("https://r/v2/", bad).is_err(), "{bad}");
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

    #[test]
    fn signed_urls_are_not_shown_for_other_hosts() {
        assert_eq!(display_url("https://cdn/x?sig=abc", false), "https://cdn/x");
        assert_eq!(display_url("https://reg/v2/?n=1", true), "https://reg/v2/?n=1");
        assert_eq!(url_authority("https://a.b:5/x?y"), Some("a.b:5"));
    }
}
