//! The token dance: on a 401, parse the challenge, get a token for the scope (anonymously or
//! with credentials), cache it for the run. Tokens and passwords never reach a log or an error.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::challenge::{self, Challenge};
use super::credentials::Credentials;
use super::proxies::Net;
use crate::error::{Error, ErrorKind, Hint};
use crate::events::{Level, Observer};

/// Cache key for an `Authorization` that serves every scope (Basic auth).
const ANY_SCOPE: &str = "*";
/// Token responses are small; anything bigger is not a token endpoint.
const MAX_TOKEN_BODY: u64 = 1024 * 1024;

pub(super) struct Auth {
    credentials: Option<Credentials>,
    /// The whole token exchange must be done within this.
    deadline: Duration,
    cache: Mutex<HashMap<String, String>>,
}

/// What decides whether a remembered challenge is answered ahead.
#[derive(Clone, Copy)]
pub(super) struct Ahead<'a> {
    pub scope: &'a str,
    /// The registry's own host (`host[:port]`).
    pub host: &'a str,
    pub secure: bool,
    /// The remembered file is the running user's alone.
    pub trusted: bool,
}

impl Auth {
    pub(super) fn new(credentials: Option<Credentials>, deadline: Duration) -> Auth {
        Auth { credentials, deadline, cache: Mutex::new(HashMap::new()) }
    }

    /// The cached `Authorization` value for `scope`, if a challenge was answered before.
    pub(super) fn header_for(&self, scope: &str) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(scope).or_else(|| cache.get(ANY_SCOPE)).cloned()
    }

    /// Answer the challenges of a 401 for `scope`, caching the result. Bearer is preferred, and
    /// returned when answered. `secure`: the registry is reached over HTTPS, so credentials must
    /// not travel in clear text.
    pub(super) fn authenticate(
        &self,
        net: Net<'_>,
        headers: &[String],
        scope: &str,
        secure: bool,
        log: &dyn Observer,
    ) -> Result<Option<Challenge>, Error> {
        let challenges: Vec<Challenge> = headers.iter().flat_map(|h| challenge::parse(h)).collect();
        let debug = |m: String| log.log(Level::Debug, m);
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer").cloned() {
            let value = self.bearer(net, &c, scope, secure, &debug)?;
            self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(scope.to_owned(), value);
            return Ok(Some(c));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let Some(value) = self.credentials.as_ref().and_then(Credentials::basic_header) else {
                let what = "the registry requires credentials (Basic auth): ";
                return Err(Error::hinted(ErrorKind::Auth, what, Hint::Credentials, ""));
            };
            debug("answering a Basic challenge with the configured credentials".into());
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ANY_SCOPE.to_owned(), value);
            return Ok(None);
        }
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(Error::new(
            ErrorKind::Auth,
            format!("unsupported authentication challenge ({})", schemes.join(", ")),
        ))
    }

    /// Get a token for `scope` from a remembered Bearer challenge `c`, before the registry asks.
    /// `Ok(false)`: skipped, since the realm would not get these credentials now (a registry
    /// not yet known to be plain HTTP counts as HTTPS); a fresh challenge will decide. The file
    /// comes from the cache directory, not from the registry, and whoever can write there must
    /// not choose where we ask: a realm on another host than the registry's is asked ahead only
    /// without credentials, and only when the file is `trusted` (the running user's alone).
    pub(super) fn answer_ahead(
        &self,
        net: Net<'_>,
        c: &Challenge,
        ahead: Ahead<'_>,
        log: &dyn Observer,
    ) -> Result<bool, Error> {
        let Ahead { scope, host, secure, trusted } = ahead;
        let realm = c.param("realm").unwrap_or("");
        if !realm_allowed(realm, secure, self.credentials.is_some()) {
            return Ok(false);
        }
        let own = super::urls::url_authority(realm).is_some_and(|a| a.eq_ignore_ascii_case(host));
        if !own && (self.credentials.is_some() || !trusted) {
            return Ok(false);
        }
        let debug = |m: String| log.log(Level::Debug, m);
        debug(format!("asking the remembered token realm {realm} first"));
        let value = self.bearer(net, c, scope, secure, &debug)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(scope.to_owned(), value);
        Ok(true)
    }

    fn bearer(
        &self,
        net: Net<'_>,
        c: &Challenge,
        scope: &str,
        secure: bool,
        debug: &dyn Fn(String),
    ) -> Result<String, Error> {
        let realm = c
            .param("realm")
            .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
            .ok_or_else(|| {
                Error::new(ErrorKind::Auth, "Bearer challenge without a usable realm")
            })?;
        if !realm_allowed(realm, secure, self.credentials.is_some()) {
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "refusing to send credentials to the plain-HTTP token realm {realm} of an HTTPS registry"
                ),
            ));
        }
        let ask = Ask {
            agent: net.agent,
            // The realm's own proxy: it is often on another host than the registry.
            proxy: net.proxies.for_url(realm)?,
            realm,
            scope: c.param("scope").unwrap_or(scope),
            service: c.param("service"),
            deadline: self.deadline,
        };
        let started = Instant::now();
        let what = format!("token request to {realm}");
        let network = |e| super::status::network(&what, e, self.deadline);
        let resp = match &self.credentials {
            Some(Credentials::IdentityToken { token, .. }) => ask.refresh(token, debug),
            creds => ask.distribution(creds.as_ref(), debug),
        };
        let mut resp = resp.map_err(network)?;
        // Some token servers only speak the OAuth2 form: retry a refused GET as a password grant.
        if let (404 | 405, Some(Credentials::Basic { username, password })) =
            (resp.status().as_u16(), &self.credentials)
        {
            let refused = resp.status().as_u16();
            resp = ask.password(username, password, refused, debug).map_err(network)?;
        }
        let status = resp.status().as_u16();
        debug(format!("token endpoint -> {status} in {} ms", started.elapsed().as_millis()));
        if !(200..300).contains(&status) {
            return Err(token_error(super::status::status_error(
                resp,
                &what,
                started + self.deadline,
            )));
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_TOKEN_BODY)
            .read_to_end(&mut body)
            .map_err(|e| super::status::body_error(&what, e, self.deadline))?;
        parse_token(&body).ok_or_else(|| {
            Error::new(ErrorKind::Auth, format!("token endpoint {realm} answered without a token"))
        })
    }
}

/// One token request's particulars: where, for what, and how long it may take. One method per
/// grant, as oras-go's `fetchDistributionToken` and `fetchOAuth2Token`.
struct Ask<'a> {
    agent: &'a ureq::Agent,
    proxy: Option<ureq::Proxy>,
    realm: &'a str,
    scope: &'a str,
    service: Option<&'a str>,
    deadline: Duration,
}

type Answer = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

impl Ask<'_> {
    /// POST an OAuth2 form (its `client_id`, `scope` and `service` added) to the realm.
    fn post<'s>(&'s self, mut form: Vec<(&'s str, &'s str)>) -> Answer {
        form.extend([("client_id", "oci-dl"), ("scope", self.scope)]);
        if let Some(s) = self.service {
            form.push(("service", s));
        }
        let req = self.agent.post(self.realm).config().timeout_global(Some(self.deadline));
        let req = req.proxy(self.proxy.clone());
        req.build().send_form(form)
    }

    /// The OAuth2 refresh-token grant, for an identity token (`docker login` to Azure, …).
    fn refresh(&self, token: &str, debug: &dyn Fn(String)) -> Answer {
        debug(format!("POST {} (refresh-token grant, scope {})", self.realm, self.scope));
        self.post(vec![("grant_type", "refresh_token"), ("refresh_token", token)])
    }

    /// Distribution's token GET, anonymous or with Basic credentials.
    fn distribution(&self, creds: Option<&Credentials>, debug: &dyn Fn(String)) -> Answer {
        let sep = if self.realm.contains('?') { '&' } else { '?' };
        let mut url = format!("{}{sep}scope={}", self.realm, encode(self.scope));
        if let Some(s) = self.service {
            url.push_str(&format!("&service={}", encode(s)));
        }
        let req = self.agent.get(&url).config().timeout_global(Some(self.deadline));
        let mut req = req.proxy(self.proxy.clone()).build();
        let basic = creds.and_then(|c| c.basic_header());
        if let Some(b) = &basic {
            req = req.header("authorization", b);
        }
        let how = if basic.is_some() { "with credentials" } else { "anonymous" };
        debug(format!("GET {url} ({how})"));
        req.call()
    }

    /// The OAuth2 password grant, for a token server that refused the GET (`refused`).
    fn password(&self, user: &str, pass: &str, refused: u16, debug: &dyn Fn(String)) -> Answer {
        let realm = self.realm;
        debug(format!(
            "GET answered {refused}; POST {realm} (password grant, scope {})",
            self.scope
        ));
        self.post(vec![("grant_type", "password"), ("username", user), ("password", pass)])
    }
}

/// A token endpoint's failure, as an auth failure where it is one; the error itself is kept
/// (cause, retry flag, `Retry-After`), so a 503 or a reset is still retried.
fn token_error(err: Error) -> Error {
    match err.kind() {
        ErrorKind::Auth => err.with_note("credentials refused"),
        ErrorKind::Other | ErrorKind::NotFound => err.with_kind(ErrorKind::Auth),
        _ => err,
    }
}

/// Credentials for an HTTPS registry may only go to an HTTPS realm (anonymous requests may go
/// anywhere: they carry nothing to steal).
fn realm_allowed(realm: &str, secure: bool, with_credentials: bool) -> bool {
    !(secure && with_credentials && realm.starts_with("http://"))
}

/// `token` (Docker) or `access_token` (OAuth2) from a token response, as a header value.
fn parse_token(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct T {
        token: Option<String>,
        access_token: Option<String>,
    }
    let t: T = serde_json::from_slice(body).ok()?;
    let tok = t.token.filter(|s| !s.is_empty()).or(t.access_token.filter(|s| !s.is_empty()))?;
    // A header value cannot hold control characters; refuse rather than send garbage.
    tok.bytes().all(|b| (0x21..0x7f).contains(&b)).then(|| format!("Bearer {tok}"))
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bodies() {
        assert_eq!(parse_token(br#"{"token":"abc"}"#).unwrap(), "Bearer abc");
        assert_eq!(
            parse_token(br#"{"access_token":"xyz","expires_in":300}"#).unwrap(),
            "Bearer xyz"
        );
        assert_eq!(parse_token(br#"{"token":"","access_token":"b"}"#).unwrap(), "Bearer b");
        assert!(parse_token(b"<html>").is_none());
        assert!(parse_token(br#"{"token":"a\nb"}"#).is_none());
        assert!(parse_token(br#"{}"#).is_none());
    }

    #[test]
    fn credentials_never_go_to_a_plain_http_realm_of_an_https_registry() {
        assert!(!realm_allowed("http://auth.example/token", true, true));
        assert!(realm_allowed("http://auth.example/token", true, false), "anonymous is fine");
        assert!(realm_allowed("https://auth.example/token", true, true));
        assert!(
            realm_allowed("http://127.0.0.1:5000/token", false, true),
            "a plain-HTTP registry already chose"
        );
    }

    #[test]
    fn token_endpoint_errors_keep_their_cause_and_retry_data() {
        let d = Duration::from_secs(3);
        let io = std::io::Error::other("reset");
        let e = token_error(
            Error::new(ErrorKind::NotFound, "token: 404")
                .with_source(io)
                .transient(true)
                .with_retry_after(Some(d)),
        );
        assert_eq!((e.kind(), e.is_transient(), e.retry_after()), (ErrorKind::Auth, true, Some(d)));
        assert_eq!(e.to_string_full(), "token: 404: reset");
        let e = token_error(Error::new(ErrorKind::Auth, "token: 401 Unauthorized"));
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::Auth, "token: 401 Unauthorized (credentials refused)".into())
        );
        let e = token_error(Error::new(ErrorKind::Network, "token: 503").transient(true));
        assert_eq!((e.kind(), e.is_transient()), (ErrorKind::Network, true));
    }

    #[test]
    fn a_remembered_realm_obeys_the_rules_of_a_fresh_one() {
        let creds = Credentials::Basic { username: "u".into(), password: "p".into() };
        let auth = Auth::new(Some(creds), Duration::from_secs(1));
        let c = challenge::parse(r#"Bearer realm="http://127.0.0.1:9/token""#).remove(0);
        // No request at all: port 9 would refuse, and the answer would be an error.
        let agent = ureq::Agent::new_with_defaults();
        let proxies =
            super::super::proxies::Proxies::new(std::sync::Arc::new(crate::events::Silent));
        let net = super::Net { agent: &agent, proxies: &proxies };
        let log = crate::events::Silent;
        let at =
            |host, secure, trusted| Ahead { scope: "repository:x:pull", host, secure, trusted };
        assert!(!auth.answer_ahead(net, &c, at("127.0.0.1:9", true, true), &log).unwrap());
        assert!(auth.answer_ahead(net, &c, at("127.0.0.1:9", false, false), &log).is_err());
        assert!(auth.header_for("repository:x:pull").is_none());
        // With credentials, a realm on another host waits for the registry's own challenge.
        let elsewhere = |trusted| at("registry.test:5000", false, trusted);
        assert!(!auth.answer_ahead(net, &c, elsewhere(true), &log).unwrap());
        // Without, only when the remembered file is the running user's alone.
        let anonymous = Auth::new(None, Duration::from_secs(1));
        assert!(!anonymous.answer_ahead(net, &c, elsewhere(false), &log).unwrap());
        assert!(anonymous.answer_ahead(net, &c, elsewhere(true), &log).is_err(), "asked");
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
        assert_eq!(encode("registry.docker.io"), "registry.docker.io");
    }
}
