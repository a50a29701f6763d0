//! Which scheme reaches the registry: HTTPS, or plain HTTP with `--plain-http`. A loopback
//! registry, which docker treats as insecure by default, and one `registries.conf` marks
//! `insecure` are tried over TLS first and fall back
//! to plain HTTP only when its answer to the handshake is not TLS at all (a plain-HTTP server
//! answering `400`) — never after a certificate or any other error. The first answer decides,
//! for the whole client.

use std::sync::atomic::{AtomicU8, Ordering};

const UNDECIDED: u8 = 0;
const TLS: u8 = 1;
/// `--plain-http`.
const PLAIN: u8 = 2;
/// A loopback registry that does not speak TLS.
const FELL_BACK: u8 = 3;

pub(super) struct Origin {
    https: String,
    http: String,
    state: AtomicU8,
}

impl Origin {
    pub(super) fn new(host: &str, plain_http: bool, insecure: bool) -> Origin {
        let state = if plain_http {
            PLAIN
        } else if insecure || is_loopback(host) {
            UNDECIDED
        } else {
            TLS
        };
        Origin {
            https: format!("https://{host}"),
            http: format!("http://{host}"),
            state: AtomicU8::new(state),
        }
    }

    /// `scheme://host` of the registry, as requests go to it now.
    pub(super) fn base(&self) -> &str {
        if self.secure() { &self.https } else { &self.http }
    }

    /// Whether the registry is reached over TLS (so that credentials stay off plain HTTP).
    pub(super) fn secure(&self) -> bool {
        matches!(self.state.load(Ordering::SeqCst), UNDECIDED | TLS)
    }

    /// Whether `url` is on the registry: its base, or the HTTPS one a fallback left behind (a
    /// request that was under way when another found out).
    pub(super) fn holds(&self, url: &str) -> bool {
        url.starts_with(self.base())
            || (self.state.load(Ordering::SeqCst) == FELL_BACK && url.starts_with(&self.https))
    }

    /// The registry answered over TLS: no fallback from now on.
    pub(super) fn answered(&self) {
        let _ = self.state.compare_exchange(UNDECIDED, TLS, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether the failed request `e` to the registry means: a loopback registry not yet heard
    /// over TLS does not speak it. If so, the client uses plain HTTP (and the proxy for it)
    /// from now on.
    pub(super) fn falls_back(&self, e: &ureq::Error) -> bool {
        match self.state.load(Ordering::SeqCst) {
            _ if !speaks_no_tls(e) => return false,
            FELL_BACK => return true, // another request found out first
            UNDECIDED => {}
            _ => return false,
        }
        match self.state.compare_exchange(UNDECIDED, FELL_BACK, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(now) => now == FELL_BACK,
        }
    }

    /// `url` on the registry, moved to plain HTTP after a fallback.
    pub(super) fn rebase(&self, url: &str) -> String {
        match url.strip_prefix(&self.https) {
            Some(rest) if self.state.load(Ordering::SeqCst) == FELL_BACK => {
                format!("{}{rest}", self.http)
            }
            _ => url.to_owned(),
        }
    }
}

/// Whether `host` (with optional port) is a loopback name or address, which gets plain HTTP when
/// it does not speak TLS.
pub(super) fn is_loopback(host: &str) -> bool {
    let name = super::urls::host_of(host);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether the server's first bytes after our ClientHello were no TLS record at all, as when a
/// plain-HTTP server answers `HTTP/1.1 400` (rustls: "corrupt message of type
/// InvalidContentType").
fn speaks_no_tls(e: &ureq::Error) -> bool {
    let rustls = match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        }
        _ => None,
    };
    matches!(
        rustls,
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_tls() -> ureq::Error {
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:5000",
            "LOCALHOST:1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com", "[::2]:5000", "128.0.0.1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn only_loopback_or_insecure_registries_fall_back_and_only_when_the_answer_is_not_tls() {
        let o = Origin::new("127.0.0.1:5000", false, false);
        assert_eq!((o.base(), o.secure()), ("https://127.0.0.1:5000", true));
        let cert = ureq::Error::Rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(!o.falls_back(&cert), "a certificate error is no downgrade");
        assert!(!o.falls_back(&ureq::Error::ConnectionFailed));
        assert!(o.falls_back(&not_tls()));
        assert_eq!((o.base(), o.secure()), ("http://127.0.0.1:5000", false));
        assert!(o.holds("https://127.0.0.1:5000/v2/") && o.holds("http://127.0.0.1:5000/v2/"));
        assert_eq!(o.rebase("https://127.0.0.1:5000/v2/?n=1"), "http://127.0.0.1:5000/v2/?n=1");
        assert!(o.falls_back(&not_tls()), "a probe still under way follows");

        let o = Origin::new("[::1]:5000", false, false);
        o.answered();
        assert!(!o.falls_back(&not_tls()), "it spoke TLS before");
        assert_eq!(o.base(), "https://[::1]:5000");

        let o = Origin::new("registry.example", false, false);
        assert!(!o.falls_back(&not_tls()), "not loopback");
        assert!(o.secure());
        let o = Origin::new("registry.example", false, true);
        assert!(o.falls_back(&not_tls()), "registries.conf says insecure");
        assert_eq!(o.base(), "http://registry.example");
        let o = Origin::new("localhost:5000", true, false);
        assert_eq!(o.base(), "http://localhost:5000");
        assert!(!o.holds("https://localhost:5000/v2/"), "--plain-http: only HTTP is the registry");
        assert!(!o.falls_back(&not_tls()));
    }
}
