//! Paginated lists (tags, referrers): one page at a time, the next named by `Link:
//! <…>; rel="next"` (RFC 8288) on the registry itself; and a tag listing's bounds: no page
//! twice, caps on tags, bytes and pages.

use super::Client;
use super::endpoint::Endpoint;
use super::send::Body;
use crate::error::{Error, ErrorKind};
use crate::manifest::MAX_MANIFEST_BYTES;

/// A tag listing stops at this many tags...
pub const MAX_TAGS: u64 = 1_000_000;
/// ...or this many bytes of tag-list pages...
pub const MAX_TAG_BYTES: u64 = 256 * 1024 * 1024;
/// ...or this many pages.
pub(super) const MAX_TAG_PAGES: u64 = 10_000;

/// The bounds of a tag listing: no page twice (by URL or by `last=` cursor), and caps on tags,
/// bytes and pages, so a registry cannot keep a listing going forever.
pub(super) struct TagWalk<'a> {
    pub(super) repo: &'a str,
    pub(super) seen: std::collections::HashSet<String>,
    pub(super) cursors: std::collections::HashSet<String>,
    pub(super) tags: u64,
    pub(super) bytes: u64,
    pub(super) pages: u64,
    pub(super) max_tags: u64,
    pub(super) max_bytes: u64,
}

impl<'a> TagWalk<'a> {
    pub(super) fn new(repo: &'a str) -> TagWalk<'a> {
        TagWalk {
            repo,
            seen: Default::default(),
            cursors: Default::default(),
            tags: 0,
            bytes: 0,
            pages: 0,
            max_tags: MAX_TAGS,
            max_bytes: MAX_TAG_BYTES,
        }
    }

    pub(super) fn fail(&self, why: String) -> Error {
        Error::new(ErrorKind::Other, format!("tags of {}: {why}", self.repo))
    }

    /// Before requesting `path`.
    pub(super) fn visit(&mut self, path: &str) -> Result<(), Error> {
        let cursor = path
            .split_once('?')
            .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("last=")));
        let repeated = !self.seen.insert(path.to_owned())
            || cursor.is_some_and(|c| !self.cursors.insert(c.to_owned()));
        if repeated {
            return Err(self
                .fail(format!("the registry's Link points back to a page already read ({path})")));
        }
        self.pages += 1;
        if self.pages > MAX_TAG_PAGES {
            return Err(self.fail(format!("more than {MAX_TAG_PAGES} pages")));
        }
        Ok(())
    }

    /// After a page of `bytes` holding `tags` arrived, before any of it is handed on.
    pub(super) fn page(&mut self, bytes: usize, tags: usize) -> Result<(), Error> {
        self.tags += tags as u64;
        self.bytes += bytes as u64;
        if self.tags > self.max_tags {
            return Err(self.fail(format!("more than {} tags", self.max_tags)));
        }
        if self.bytes > self.max_bytes {
            return Err(self.fail(format!("more than {} bytes of tag lists", self.max_bytes)));
        }
        Ok(())
    }
}

/// One page of a list, and the `Link` to the next one.
pub(super) struct Page {
    pub body: Vec<u8>,
    /// Where it came from, for errors.
    pub url: String,
    /// The `rel="next"` target as the registry sent it.
    link: Option<String>,
    /// The registry's `scheme://host` and the path asked, which the link is resolved against.
    base: String,
    path: String,
    what: &'static str,
}

impl Page {
    /// The path of the next page on the registry, resolved against the request's URL. Asked
    /// for after the page is handed on, so that a bad link ends the list after what came. A
    /// next page elsewhere (another scheme, host or port; userinfo) is refused: the list is the
    /// registry's, and our credentials stay with it.
    pub(super) fn next(&self) -> Result<Option<String>, Error> {
        let Some(link) = &self.link else { return Ok(None) };
        let resolved = super::urls::resolve(&format!("{}{}", self.base, self.path), link);
        match resolved.as_deref().and_then(|r| r.strip_prefix(&self.base)) {
            Some(p) if p.starts_with('/') => Ok(Some(p.to_owned())),
            _ => {
                let shown = super::urls::display_url(link, false);
                let e = format!("{} points to another host: {shown}", self.what);
                Err(Error::new(ErrorKind::Other, e))
            }
        }
    }
}

impl Endpoint {
    /// GET the page of the list `what` (`tag list`, `referrers list`) at `path` on this host: its
    /// body (at most [`MAX_MANIFEST_BYTES`]) and the `Link` to the next page.
    pub(super) fn page(
        &self,
        path: &str,
        repo: &str,
        accept: &str,
        what: &'static str,
    ) -> Result<Page, Error> {
        let reply = self.get(path, repo, &[("accept", accept)], Body::Small)?;
        let link = reply.header("link").and_then(next_link);
        let url = reply.url.clone();
        let body = reply.read_body(MAX_MANIFEST_BYTES, what)?;
        let (base, path) = (self.origin.base().to_owned(), path.to_owned());
        Ok(Page { body, url, link, base, path, what })
    }
}

impl Client {
    /// Every tag of `repo` (asked of the registry alone), handed to `on_tag` page by page as
    /// they arrive, following `Link` pagination within the bounds of [`TagWalk`]. Returns the
    /// count.
    pub fn tags(
        &self,
        repo: &str,
        on_tag: &mut dyn FnMut(&str) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut path = format!("/v2/{repo}/tags/list?n=1000");
        let mut walk = TagWalk::new(repo);
        walk.visit(&path)?;
        loop {
            let page = self.retrying(None, &format!("tags of {repo}"), |_| {
                self.registry.page(&path, repo, "application/json", "tag list")
            })?;
            let tags: Tags = serde_json::from_slice(&page.body).map_err(|e| {
                Error::new(ErrorKind::Other, format!("GET {}: not a tag list ({e})", page.url))
            })?;
            let tags = tags.tags.unwrap_or_default();
            walk.page(page.body.len(), tags.len())?;
            for t in &tags {
                on_tag(t)?;
            }
            let Some(next) = page.next()? else { return Ok(walk.tags) };
            path = next;
            walk.visit(&path)?;
        }
    }
}

/// The target of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    // RFC 8288 3: `<URI>` then `;`-separated parameters, links separated by `,`. A URI may hold
    // `,` and `;` (a query), so the target is read up to its `>`, not split on them; `rel` is a
    // space-separated, case-insensitive list of relation types (`rel="next last"`).
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        let params = &after[..after.find('<').unwrap_or(after.len())];
        let next = params.split(';').filter_map(|p| p.split_once('=')).any(|(k, v)| {
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if next {
            return Some(target.trim().to_owned());
        }
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://a/p>; rel="prev", <https://a/n>; rel="next""#).as_deref(),
            Some("https://a/n")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        // A relation list, a case the RFC allows, and a query holding `,` and `;`.
        assert_eq!(next_link(r#"</a?x=1,2;3>; rel="next last""#).as_deref(), Some("/a?x=1,2;3"));
        assert_eq!(
            next_link(r#"</p>; rel=prev, </n>; title="a"; REL=Next"#).as_deref(),
            Some("/n")
        );
        assert_eq!(next_link(r#"</x>; rel="nextpage""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn a_next_page_stays_on_the_registry_s_scheme_and_authority() {
        let page = |link: &str| Page {
            body: Vec::new(),
            url: String::new(),
            link: Some(link.to_owned()),
            base: "https://r:5000".into(),
            path: "/v2/x/tags/list?n=2".into(),
            what: "tag list",
        };
        for (link, next) in [
            ("/v2/x/tags/list?n=2&last=b", "/v2/x/tags/list?n=2&last=b"),
            ("?n=2&last=b", "/v2/x/tags/list?n=2&last=b"),
            ("list?last=b", "/v2/x/tags/list?last=b"),
            ("../../../../v2/x/tags/list?last=b", "/v2/x/tags/list?last=b"),
            ("https://r:5000/v2/./x/tags/list?last=b", "/v2/x/tags/list?last=b"),
            ("//r:5000/v2/x/tags/list?last=b#f", "/v2/x/tags/list?last=b"),
            ("/v2/x/tags/list?last=b@evil", "/v2/x/tags/list?last=b@evil"),
        ] {
            assert_eq!(page(link).next().unwrap().as_deref(), Some(next), "{link}");
        }
        for link in [
            "http://r:5000/v2/x/tags/list?last=b", // a downgrade
            "https://r:50001/v2/x/tags/list?last=b",
            "https://r/v2/x/tags/list?last=b",
            "https://r:5000@evil/v2/x/tags/list",
            "https://user@r:5000/v2/x/tags/list",
            "//evil/v2/x/tags/list",
            "///v2/x/tags/list",
            "https://R:5000/v2/x/tags/list",
            "ftp://r:5000/v2/x/tags/list",
        ] {
            let e = page(link).next().unwrap_err().to_string();
            assert!(e.starts_with("tag list points to another host: "), "{link}: {e}");
        }
        assert_eq!(Page { link: None, ..page("") }.next().unwrap(), None);
    }

    #[test]
    fn tag_walks_refuse_loops_and_stop_at_their_caps() {
        let mut w = TagWalk::new("x");
        w.visit("/v2/x/tags/list?n=2").unwrap();
        w.visit("/v2/x/tags/list?n=2&last=b").unwrap();
        w.visit("/v2/x/tags/list?n=2&last=d").unwrap();
        let e = w.visit("/v2/x/tags/list?n=2").unwrap_err();
        assert!(e.to_string().contains("points back to a page already read"), "{e}");
        let e = w.visit("/v2/x/tags/list?last=b&n=3").unwrap_err();
        assert!(e.to_string().contains("already read"), "the same cursor elsewhere: {e}");

        let mut w = TagWalk { max_tags: 5, max_bytes: 100, ..TagWalk::new("x") };
        w.page(40, 5).unwrap();
        assert_eq!(w.page(10, 1).unwrap_err().to_string(), "tags of x: more than 5 tags");
        let mut w = TagWalk { max_tags: 5, max_bytes: 100, ..TagWalk::new("x") };
        w.page(100, 1).unwrap();
        let e = w.page(1, 0).unwrap_err();
        assert_eq!(e.to_string(), "tags of x: more than 100 bytes of tag lists");
    }
}
