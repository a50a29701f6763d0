//! Which proxy each request goes through: decided for the request's own origin (scheme, host
//! and port), not the registry's. curl and Go's `http.ProxyFromEnvironment` (docker, podman,
//! skopeo, oras, crane) both decide per request URL: Go's `http.Transport.Proxy` is called with
//! each request, redirects included, and curl applies `NO_PROXY` to the host of every URL it
//! follows. So a registry reached directly under `NO_PROXY` still sends a redirect to a CDN
//! through the proxy, and a registry behind the proxy lets a CDN listed in `NO_PROXY` be reached
//! directly; a token realm on another host is decided for its own host too.
//!
//! ureq 3 keys its connection pool by scheme, authority *and* proxy, and takes a proxy per
//! request (`RequestBuilder::config().proxy(…)`), so a per-request decision keeps connection
//! reuse: the agent keeps the registry's proxy, and only a request whose origin decides
//! otherwise carries its own.

use std::sync::{Arc, Mutex};

use ureq::RequestBuilder;

use super::transport::proxy_for;
use super::urls::url_authority;
use crate::error::Error;
use crate::events::Observer;

/// Origins whose decision is kept; a registry that redirects every blob to another host
/// cannot grow the list beyond this (the rest are decided again on each request).
const KEPT: usize = 64;

/// The run's proxy decisions, one per origin (`scheme://host:port`), each made once (and
/// logged once) by [`proxy_for`] from the environment.
pub(super) struct Proxies {
    log: Arc<dyn Observer>,
    env: Env,
    decided: Mutex<Vec<(String, Option<ureq::Proxy>)>>,
}

/// Looks an environment variable up.
type Env = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Proxies {
    /// Decisions from the process environment.
    pub(super) fn new(log: Arc<dyn Observer>) -> Proxies {
        Proxies::with_env(log, Box::new(|k| std::env::var(k).ok()))
    }

    /// Decisions from `env` instead (tests: the process environment is shared by all).
    fn with_env(log: Arc<dyn Observer>, env: Env) -> Proxies {
        Proxies { log, env, decided: Mutex::new(Vec::new()) }
    }

    /// The proxy for `url`'s scheme and host (`None`: straight to the host). An unusable proxy
    /// URL in the environment is a usage error.
    pub(super) fn for_url(&self, url: &str) -> Result<Option<ureq::Proxy>, Error> {
        let scheme = if url.starts_with("http://") { "http" } else { "https" };
        let authority = url_authority(url).unwrap_or("");
        // Userinfo is no part of the host a proxy rule names.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let key = format!("{scheme}://{}", authority.to_ascii_lowercase());
        let mut decided = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, p)) = decided.iter().find(|(k, _)| *k == key) {
            return Ok(p.clone());
        }
        let proxy = proxy_for(scheme, authority, &*self.env, &*self.log)?;
        if decided.len() < KEPT {
            decided.push((key, proxy.clone()));
        }
        Ok(proxy)
    }
}

/// An agent and the run's proxy decisions: what a request to any host is sent with.
#[derive(Clone, Copy)]
pub(super) struct Net<'a> {
    pub agent: &'a ureq::Agent,
    pub proxies: &'a Proxies,
}

impl Net<'_> {
    /// `req`, a request for `url`, sent through `url`'s own proxy where the agent's (chosen for
    /// the registry) is not it.
    pub(super) fn route<B>(
        &self,
        req: RequestBuilder<B>,
        url: &str,
    ) -> Result<RequestBuilder<B>, Error> {
        let proxy = self.proxies.for_url(url)?;
        if proxy.as_ref() == self.agent.config().proxy() {
            return Ok(req);
        }
        Ok(req.config().proxy(proxy).build())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Proxies;
    use crate::events::Silent;

    #[test]
    fn each_origin_is_decided_for_its_own_scheme_and_host() {
        let env = |k: &str| {
            let v = match k {
                "HTTPS_PROXY" => "http://proxy.test:3128",
                "HTTP_PROXY" => "http://plain-proxy.test:3128",
                "NO_PROXY" => "registry.test,.direct.test",
                _ => return None,
            };
            Some(v.to_owned())
        };
        let p = Proxies::with_env(Arc::new(Silent), Box::new(env));
        let via = |url: &str| p.for_url(url).unwrap().map(|p| format!("{}:{}", p.host(), p.port()));
        let cases = [
            ("https://registry.test/v2/x/blobs/sha256:0", None),
            ("https://cdn.example/blob?sig=1", Some("proxy.test:3128")),
            ("http://cdn.example/blob", Some("plain-proxy.test:3128")),
            ("https://a.direct.test:8443/blob", None),
            ("https://user@registry.test/v2/", None),
            ("https://registry.test.evil/v2/", Some("proxy.test:3128")),
        ];
        for (url, want) in cases {
            assert_eq!(via(url).as_deref(), want, "{url}");
            assert_eq!(via(url).as_deref(), want, "{url}, asked again");
        }
    }
}
