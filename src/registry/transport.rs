//! How requests reach a registry: `--resolve` pins, proxies as the container tools read them,
//! TLS roots.

use std::path::PathBuf;

use ureq::http;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::ClientOptions;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};
use crate::retry::Cancel;

/// One `--resolve HOST:PORT:ADDR` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The host name, lowercased.
    pub host: String,
    /// The port it applies to.
    pub port: u16,
    /// Where to connect instead of asking DNS.
    pub addr: std::net::IpAddr,
}

impl std::str::FromStr for Pin {
    type Err = Error;

    fn from_str(s: &str) -> Result<Pin, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Usage,
                format!("invalid address pin {s:?}: expected HOST:PORT:ADDR"),
            )
        };
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Pin {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| bad())?,
            addr: addr.parse().map_err(|_| bad())?,
        })
    }
}

/// Answers pinned host:port pairs itself and asks the system for the rest.
#[derive(Debug)]
pub(super) struct PinnedResolver {
    pub(super) pins: Vec<Pin>,
    pub(super) system: ureq::unversioned::resolver::DefaultResolver,
}

impl ureq::unversioned::resolver::Resolver for PinnedResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
        let port =
            uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        if let Some(pin) =
            self.pins.iter().find(|p| p.port == port && p.host.eq_ignore_ascii_case(host))
        {
            let mut out = self.empty();
            out.push(std::net::SocketAddr::new(pin.addr, port));
            return Ok(out);
        }
        self.system.resolve(uri, config, timeout).map_err(|e| lookup_error(host, e))
    }
}

/// A host name DNS says does not exist: another try gets the same answer.
#[derive(Debug)]
pub(crate) struct NoSuchHost {
    host: String,
    answer: String,
}

impl std::fmt::Display for NoSuchHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the name {} did not resolve (DNS: {})", self.host, self.answer)
    }
}

impl std::error::Error for NoSuchHost {}

/// ureq hands on getaddrinfo's failure as std words it, "failed to lookup address information:"
/// and `gai_strerror`'s text, with no code. `EAI_AGAIN` ("Temporary failure in name resolution",
/// in glibc and musl alike) may pass and stays a retryable I/O error; `EAI_SYSTEM` arrives as the
/// OS error it is; every other answer (no such name, no address, non-recoverable) is final.
fn lookup_error(host: &str, e: ureq::Error) -> ureq::Error {
    const GAI: &str = "failed to lookup address information: ";
    let answer = match &e {
        ureq::Error::Io(io) => io.to_string().strip_prefix(GAI).map(str::to_owned),
        _ => None,
    };
    match answer {
        Some(a) if !a.starts_with("Temporary failure") => ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            NoSuchHost { host: host.to_owned(), answer: a },
        )),
        _ => e,
    }
}

/// The proxy for `scheme://host`, read as the container tools read it (Go's
/// `http.ProxyFromEnvironment`, used by docker, podman, skopeo, oras, crane): `HTTPS_PROXY` /
/// `https_proxy` for HTTPS, `HTTP_PROXY` / `http_proxy` for HTTP — the upper-case one ignored in
/// a CGI environment (`REQUEST_METHOD` set, where a request header can set it: httpoxy) — then
/// curl's `all_proxy`/`ALL_PROXY`; `NO_PROXY`/`no_proxy` lists hosts (and their subdomains) to
/// reach directly, `*` for all.
/// `env` looks a variable up (the process environment, or a test's).
pub(super) fn proxy_for(
    scheme: &str,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
    log: &dyn Observer,
) -> Result<Option<ureq::Proxy>, Error> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let cgi = env("REQUEST_METHOD").is_some();
    let url = match scheme {
        "https" => var("HTTPS_PROXY").or_else(|| var("https_proxy")),
        _ => if cgi { None } else { var("HTTP_PROXY") }.or_else(|| var("http_proxy")),
    }
    .or_else(|| var("all_proxy"))
    .or_else(|| var("ALL_PROXY"));
    let Some(url) = url else { return Ok(None) };
    let name = super::urls::host_of(host);
    if let Some(list) = var("NO_PROXY").or_else(|| var("no_proxy"))
        && no_proxy_matches(&list, name)
    {
        return Ok(None);
    }
    let url = if url.contains("://") { url } else { format!("http://{url}") };
    let proxy = ureq::Proxy::new(&url).map_err(|e| {
        Error::new(ErrorKind::Usage, "invalid proxy URL in the environment".to_string())
            .with_source(e)
    })?;
    log.log(
        Level::Debug,
        format!("using proxy {}:{} for {scheme}://{host}", proxy.host(), proxy.port()),
    );
    Ok(Some(proxy))
}

pub(super) fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    list.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).any(|e| {
        if e == "*" {
            return true;
        }
        let e = e.trim_start_matches("*.").trim_start_matches('.');
        let e = e.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(e);
        host == e || host.ends_with(&format!(".{e}"))
    })
}

/// Closes every connection of an agent when the run is cancelled, so that no blocked read
/// (headers, bodies, a TLS handshake) outlives a Ctrl-C or SIGTERM: a hook on the token, run
/// by whoever cancels, unregistered when the client drops. No thread waits for it.
pub(super) struct CancelWatch {
    _hook: crate::cancel::OnCancel,
}

impl CancelWatch {
    pub(super) fn start(agent: ureq::Agent, cancel: Cancel) -> CancelWatch {
        CancelWatch { _hook: cancel.on_cancel(move || agent.shutdown()) }
    }
}

/// The system's roots (so corporate CAs work as they do for curl), plus `--ca-file`; Mozilla's
/// bundled roots only where the system has none.
pub(super) fn tls_config(opts: &ClientOptions) -> Result<TlsConfig, Error> {
    let mut b = TlsConfig::builder().disable_verification(opts.insecure);
    let mut certs: Vec<Certificate<'static>> = system_roots();
    if let Some(path) = &opts.ca_file {
        let pem = std::fs::read(path).map_err(|e| Error::io("read CA file", path, e))?;
        let before = certs.len();
        certs.extend(pem_certificates(&pem));
        if certs.len() == before {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("CA file {} holds no PEM certificate", path.display()),
            ));
        }
    }
    if !certs.is_empty() {
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(b.build())
}

/// The system's PEM bundle, so that `--ca-file` adds to the usual roots instead of replacing them.
pub(super) fn system_roots() -> Vec<Certificate<'static>> {
    let candidates = [
        std::env::var_os("SSL_CERT_FILE").map(PathBuf::from),
        Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")),
        Some(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt")),
        Some(PathBuf::from("/etc/ssl/cert.pem")),
    ];
    for p in candidates.into_iter().flatten() {
        if let Ok(pem) = std::fs::read(&p) {
            let certs = pem_certificates(&pem);
            if !certs.is_empty() {
                return certs;
            }
        }
    }
    Vec::new()
}

/// The certificates of a PEM bundle; keys and unreadable blocks are passed over. Text goes
/// through the fast reader ([`crate::pem`]); a bundle that is not UTF-8, through rustls'.
fn pem_certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    if let Ok(text) = std::str::from_utf8(pem) {
        let der = crate::pem::blocks(text, "CERTIFICATE");
        return der.map(|d| Certificate::from_der(&d).to_owned()).collect();
    }
    let certificate = |item| match item {
        Ok(PemItem::Certificate(c)) => Some(c),
        _ => None,
    };
    ureq::tls::parse_pem(pem).filter_map(certificate).collect()
}

#[cfg(test)]
mod tests {
    /// The fast reader finds the same certificates as rustls' reader, in the same order, in
    /// the system bundle this machine has (every Debian and CI machine has one).
    #[test]
    fn the_system_bundle_reads_as_rustls_reads_it() {
        let path = "/etc/ssl/certs/ca-certificates.crt";
        let pem = std::fs::read(path).expect("the system CA bundle (ca-certificates)");
        let ours: Vec<Vec<u8>> =
            super::pem_certificates(&pem).iter().map(|c| c.der().to_vec()).collect();
        let theirs: Vec<Vec<u8>> = ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
                _ => None,
            })
            .collect();
        assert!(ours.len() > 50, "{} certificates", ours.len());
        assert!(ours == theirs, "{} against {}", ours.len(), theirs.len());
    }

    #[test]
    fn only_a_temporary_lookup_failure_stays_retryable() {
        let gai = |text: &str| {
            let io = std::io::Error::other(format!("failed to lookup address information: {text}"));
            super::lookup_error("r.invalid", ureq::Error::Io(io))
        };
        let no_such_host = |e: &ureq::Error| {
            matches!(e, ureq::Error::Io(io)
                if io.get_ref().is_some_and(|i| i.is::<super::NoSuchHost>()))
        };
        for permanent in [
            "Name or service not known",
            "Name does not resolve",
            "No address associated with hostname",
        ] {
            let e = gai(permanent);
            assert!(no_such_host(&e), "{permanent}");
            assert_eq!(
                e.to_string(),
                format!("io: the name r.invalid did not resolve (DNS: {permanent})")
            );
        }
        assert!(!no_such_host(&gai("Temporary failure in name resolution")));
        let refused = ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(!no_such_host(&super::lookup_error("r.invalid", refused)));
    }

    use super::*;

    #[test]
    fn resolve_pins_parse() {
        let p: Pin = "registry.test:5443:127.0.0.1".parse().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.addr.to_string().as_str()),
            ("registry.test", 5443, "127.0.0.1")
        );
        let p: Pin = "Reg.Test:443:[::1]".parse().unwrap();
        assert_eq!((p.host.as_str(), p.addr.to_string().as_str()), ("reg.test", "::1"));
        for bad in
            ["x", "x:1", ":1:127.0.0.1", "x:port:127.0.0.1", "x:1:not-an-ip", "x:70000:127.0.0.1"]
        {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_proxy_table() {
        let cases = [
            ("localhost,127.0.0.1", "127.0.0.1", true),
            ("example.com", "registry.example.com", true),
            (".example.com", "example.com", true),
            ("*.example.com", "a.example.com", true),
            ("example.com", "notexample.com", false),
            ("*", "anything", true),
            ("", "x", false),
            ("[::1]", "::1", true),
        ];
        for (list, host, want) in cases {
            assert_eq!(no_proxy_matches(list, host), want, "{list} {host}");
        }
    }
}
