//! The request path. [`Endpoint::get`] sends one GET (a HEAD for [`Body::Head`]) and follows its
//! answers: auth is a layer
//! around the send (cached `Authorization` → send → 401 → challenge → token → resend once, as
//! oras-go's `auth.Client.Do`), redirects are followed without our credentials once they leave
//! the registry's host (whose signed URLs stay out of logs and errors), and a 2xx notes the
//! registry's quota headers.

use std::time::Instant;

use ureq::http::{self, Response};

use super::auth::Ahead;
use super::endpoint::Endpoint;
use super::reply::Reply;
use super::status::{network, rate_limit, read_error_body, status_error};
use super::urls::{display_url, resolve, url_authority};
use crate::error::{Error, ErrorKind};
use crate::events::Level;

const MAX_REDIRECTS: usize = 10;

/// What a request fetches, which decides how long it may take as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// A manifest or tag list: the whole answer within the deadline.
    Small,
    /// A blob: any length, as long as it keeps moving (only its headers have a deadline).
    Blob,
    /// None: a HEAD, for its headers (a manifest's `Docker-Content-Digest`), within the deadline.
    Head,
}

/// One answer as it came, with the instant its error body must be read by.
struct Sent {
    resp: Response<ureq::Body>,
    until: Instant,
}

impl Endpoint {
    /// HEAD `path`, as [`Endpoint::get`]: what a manifest's digest is, without the body (Docker
    /// Hub counts a GET of a manifest against the pull quota, not a HEAD).
    pub(super) fn head(
        &self,
        path: &str,
        repo: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Error> {
        self.get(path, repo, headers, Body::Head)
    }

    /// GET `path` (a HEAD for [`Body::Head`]) with auth and redirects, and turn non-2xx answers
    /// into errors; a local store answers in the registry's place.
    pub(super) fn get(
        &self,
        path: &str,
        repo: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Reply, Error> {
        if let Some(store) = &self.store {
            return store.answer(path, headers, body == Body::Head);
        }
        let scope = format!("repository:{repo}:pull");
        let mut url = format!("{}{}", self.origin.base(), path);
        if let Some(ns) = self.mirror.as_ref().map(|m| &m.ns) {
            // containerd's convention: a mirror (Spegel, Dragonfly, a node-local cache) learns
            // which registry it stands in for; Spegel answers tags only with it.
            let sep = if path.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}ns={}", super::auth::encode(ns));
        }
        let mut retried_auth = false;
        let mut hops = 0;
        self.answer_ahead(&scope);
        loop {
            let same_host = self.is_registry(&url);
            let Some(Sent { resp, until }) = self.send(&url, headers, body, same_host, &scope)?
            else {
                url = self.origin.rebase(&url); // a loopback registry without TLS
                continue;
            };
            match resp.status().as_u16() {
                200..=299 => {
                    self.note_quota(resp.headers());
                    // Its URL is for messages: a signed one on another host loses its query.
                    let shown = display_url(&url, same_host).to_owned();
                    return Ok(Reply::new(resp, shown, self.deadline));
                }
                401 if same_host && !retried_auth => {
                    retried_auth = true;
                    self.answer_challenge(resp, (body, &url), &scope, until)?;
                }
                301 | 302 | 303 | 307 | 308 => {
                    hops += 1;
                    url = redirect_target((body, &url), &resp, hops, same_host)?;
                }
                _ => return Err(status_error(resp, &describe(body, &url, same_host), until)),
            }
        }
    }

    /// Whether `url` is on the registry itself (its scheme and authority), the only place our
    /// `Authorization` goes.
    fn is_registry(&self, url: &str) -> bool {
        url_authority(url).is_some_and(|a| a.eq_ignore_ascii_case(&self.host))
            && self.origin.holds(url)
    }

    /// One GET of `url`, with the cached `Authorization` for `scope` when it goes to the registry.
    /// `None`: the registry turned out not to speak TLS; ask again over plain HTTP.
    fn send(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Body,
        same_host: bool,
        scope: &str,
    ) -> Result<Option<Sent>, Error> {
        let mut req = match body {
            Body::Head => self.agent.head(url),
            Body::Small | Body::Blob => self.agent.get(url),
        };
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if same_host && let Some(value) = self.auth.header_for(scope) {
            req = req.header("authorization", value);
        }
        // Its own origin's proxy: a CDN's, or the registry's for plain HTTP after a fallback.
        req = self.net().route(req, url)?;
        if body != Body::Blob {
            req = req.config().timeout_global(Some(self.deadline)).build();
        }
        let started = Instant::now();
        let until = started + self.deadline;
        let resp = match req.call() {
            Ok(resp) => resp,
            Err(e) => return self.failed((body, url), same_host, e, started).map(|()| None),
        };
        if same_host {
            self.origin.answered();
        }
        self.debug(format!(
            "{} -> {} in {} ms",
            describe(body, url, same_host),
            resp.status().as_u16(),
            started.elapsed().as_millis()
        ));
        Ok(Some(Sent { resp, until }))
    }

    /// A request that got no answer: `Ok` when it was the registry not speaking TLS, which
    /// is then reached over plain HTTP, else the error.
    fn failed(
        &self,
        (body, url): (Body, &str),
        same_host: bool,
        e: ureq::Error,
        started: Instant,
    ) -> Result<(), Error> {
        if same_host && self.origin.falls_back(&e) {
            self.debug(format!(
                "{}: {e} after {} ms: the registry does not speak TLS; plain HTTP from now on",
                describe(body, url, true),
                started.elapsed().as_millis()
            ));
            return Ok(());
        }
        Err(network(&describe(body, url, same_host), e, self.deadline))
    }

    /// Answer a 401 from the registry: get a token (or Basic header) for `scope` from its
    /// challenge, so that the resend carries it.
    fn answer_challenge(
        &self,
        resp: Response<ureq::Body>,
        (body, url): (Body, &str),
        scope: &str,
        until: Instant,
    ) -> Result<(), Error> {
        let challenges: Vec<String> = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        if challenges.is_empty() {
            return Err(status_error(resp, &describe(body, url, true), until));
        }
        // Drain the small 401 body so its connection can be reused for the retry.
        read_error_body(resp, until);
        let secure = self.origin.secure();
        if let Some(c) =
            self.auth.authenticate(self.net(), &challenges, scope, secure, &*self.log)?
        {
            self.memory.learn(&c, &*self.log);
        }
        Ok(())
    }

    /// On a later run: a token for `scope` from the registry's remembered challenge, before it
    /// asks. A remembered challenge that fails is forgotten, and the normal flow follows.
    fn answer_ahead(&self, scope: &str) {
        if self.auth.header_for(scope).is_some() {
            return;
        }
        let Some((c, trusted)) = self.memory.challenge() else { return };
        let secure = self.origin.secure();
        let ahead = Ahead { scope, host: self.host.as_str(), secure, trusted };
        if let Err(e) = self.auth.answer_ahead(self.net(), &c, ahead, &*self.log) {
            self.debug(format!("the remembered challenge is stale ({e:#}): forgetting it"));
            self.memory.forget();
        }
    }

    /// Log the registry's quota headers; warn once per run when little is left.
    fn note_quota(&self, headers: &http::HeaderMap) {
        let Some(q) = rate_limit(headers) else { return };
        self.debug(format!("ratelimit-limit {} ratelimit-remaining {}", q.limit, q.remaining));
        if q.low() && !self.quota_warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.log.log(Level::Warn, q.describe());
        }
    }
}

/// Where the `hops`-th redirect from `url` leads.
fn redirect_target(
    (body, url): (Body, &str),
    resp: &Response<ureq::Body>,
    hops: usize,
    same_host: bool,
) -> Result<String, Error> {
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok());
    let Some(location) = location.filter(|_| hops <= MAX_REDIRECTS) else {
        return Err(Error::new(
            ErrorKind::Network,
            format!(
                "{}: {} redirect without a usable Location (or more than {MAX_REDIRECTS})",
                describe(body, url, same_host),
                resp.status().as_u16()
            ),
        ));
    };
    resolve(url, location).ok_or_else(|| {
        // Its query may be a CDN's signature: not shown.
        let shown = display_url(location, false);
        Error::new(ErrorKind::Network, format!("unsupported redirect Location {shown:?}"))
    })
}

/// `GET <url>` (or `HEAD <url>`) as logs and errors show it.
fn describe(body: Body, url: &str, same_host: bool) -> String {
    let method = if body == Body::Head { "HEAD" } else { "GET" };
    format!("{method} {}", display_url(url, same_host))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::ClientOptions;
    use super::Endpoint;
    use crate::events::Silent;

    /// A registry, whether `--plain-http` is given, and URLs with whether they are its own.
    type Case = (&'static str, bool, &'static [(&'static str, bool)]);

    fn endpoint(registry: &str, plain_http: bool) -> Endpoint {
        let reference: crate::reference::Reference = format!("{registry}/x:v1").parse().unwrap();
        let opts = ClientOptions { plain_http, ..Default::default() };
        Endpoint::new(&reference, &opts, Arc::new(Silent), None).unwrap()
    }

    /// Our `Authorization` goes where a redirect or a `Link` leads only when it is the registry's
    /// own scheme and authority, spelled as the reference spells them. Another spelling of the
    /// same origin (`:443`, upper case, another form of an IPv6 address) is withheld: safe.
    #[test]
    fn credentials_go_to_the_registrys_own_origin_only() {
        let cases: &[Case] = &[
            (
                "registry.example",
                false,
                &[
                    ("https://registry.example/v2/x/blobs/sha256:0", true),
                    ("https://registry.example?n=1", true),
                    ("http://registry.example/v2/", false), // a downgrade
                    ("https://registry.example:443/v2/", false),
                    ("https://REGISTRY.EXAMPLE/v2/", false),
                    ("https://registry.example.evil/v2/", false),
                    ("https://registry.example@evil/v2/", false),
                    ("https://user@registry.example/v2/", false),
                    ("https://registry.example:5000/v2/", false),
                    ("https://evil/registry.example", false),
                    ("https://evil?registry.example", false),
                    ("https://evil#registry.example", false),
                    ("https://registry.example\\@evil/", false),
                ],
            ),
            (
                "registry.example:443",
                false,
                &[
                    ("https://registry.example:443/v2/", true),
                    ("https://registry.example/v2/", false),
                    ("https://registry.example:4430/v2/", false),
                ],
            ),
            (
                "registry.example",
                true,
                &[
                    ("http://registry.example/v2/", true), // --plain-http
                    ("https://registry.example/v2/", false),
                    ("http://registry.example:80/v2/", false),
                ],
            ),
            (
                "[::1]:5000",
                false,
                &[
                    ("https://[::1]:5000/v2/", true),
                    ("https://[::1]:50001/v2/", false),
                    ("https://[::1]/v2/", false),
                    ("https://[0:0:0:0:0:0:0:1]:5000/v2/", false),
                    ("https://[::1]:5000@evil/v2/", false),
                ],
            ),
        ];
        for (registry, plain_http, urls) in cases {
            let e = endpoint(registry, *plain_http);
            for (url, ours) in *urls {
                assert_eq!(e.is_registry(url), *ours, "{registry} (plain {plain_http}): {url}");
            }
        }
    }
}
