//! HTTP answers turned into errors: the status and the registry's `errors[]` body, quotas,
//! network failures and deadlines.

use std::io::Read;
use std::time::{Duration, Instant};

use ureq::http::{self, Response};

use super::MAX_ERROR_BODY;
use super::transport::NoSuchHost;
use crate::error::{Error, ErrorKind, Hint};

/// Read at most [`MAX_ERROR_BODY`] bytes of an error body, keeping what came by `until`: the
/// body only adds detail to a status already known, so it gets no retry and no more time.
pub(super) fn read_error_body(resp: Response<ureq::Body>, until: Instant) -> Vec<u8> {
    let mut reader = resp.into_body().into_reader().take(MAX_ERROR_BODY);
    let mut body = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body
}

/// Build an error from a non-2xx answer: the status, and the registry's `errors[]` when the body
/// has them (see [`read_error_body`]).
pub(crate) fn status_error(resp: Response<ureq::Body>, what: &str, until: Instant) -> Error {
    let status = resp.status();
    let quota = rate_limit(resp.headers());
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
    let body = read_error_body(resp, until);
    let detail = describe_error_body(&body);
    let kind = match status.as_u16() {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited { retry_after: None },
        408 | 500..=599 => ErrorKind::Network,
        _ => ErrorKind::Other,
    };
    let reason = status.canonical_reason().unwrap_or("");
    let msg = match detail {
        Some(d) => format!("{what}: {} {d}", status.as_u16()),
        None => format!("{what}: {} {reason}", status.as_u16()).trim_end().to_owned(),
    };
    let retry_after = retry_after.or_else(|| {
        (status.as_u16() == 429)
            .then(|| crate::retry::parse_body_hint(&String::from_utf8_lossy(&body)))
            .flatten()
    });
    let transient = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504);
    let err = match (status.as_u16(), &quota) {
        (429, Some(q)) => {
            let (before, after) = q.around_hint();
            Error::hinted(kind, &format!("{msg} ({before}"), Hint::LogIn, &format!("{after})"))
        }
        _ => Error::new(kind, msg),
    };
    err.transient(transient).with_retry_after(retry_after)
}

/// Docker Hub's pull quota, from `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(super) limit: u64,
    pub(super) remaining: u64,
    pub(super) window_secs: Option<u64>,
}

impl Quota {
    /// The quota, worded for a log line: `pull quota: 4 of 100 per 6 h window left; …`.
    pub(super) fn describe(&self) -> String {
        let (before, after) = self.around_hint();
        format!("{before}{}{after}", Hint::LogIn.advice())
    }

    /// The words around [`Hint::LogIn`] in [`Quota::describe`].
    fn around_hint(&self) -> (String, &'static str) {
        let window = match self.window_secs {
            Some(w) if w % 3600 == 0 => format!(" per {} h window", w / 3600),
            Some(w) => format!(" per {w} s window"),
            None => String::new(),
        };
        let before =
            format!("pull quota: {} of {}{window} left; logging in (", self.remaining, self.limit);
        (before, ") raises the limit")
    }

    pub(super) fn low(&self) -> bool {
        self.remaining <= (self.limit / 10).max(1)
    }
}

pub(crate) fn rate_limit(headers: &http::HeaderMap) -> Option<Quota> {
    let num = |name: &str| -> Option<(u64, Option<u64>)> {
        let v = headers.get(name)?.to_str().ok()?;
        let mut parts = v.split(';');
        let n = parts.next()?.trim().parse().ok()?;
        let w = parts.find_map(|p| p.trim().strip_prefix("w=")?.parse().ok());
        Some((n, w))
    };
    let (limit, w1) = num("ratelimit-limit")?;
    let (remaining, w2) = num("ratelimit-remaining")?;
    Some(Quota { limit, remaining, window_secs: w1.or(w2) })
}

/// `CODE: message` for each entry of an OCI error body, or the start of a plain-text body.
pub(super) fn describe_error_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && !b.errors.is_empty()
    {
        let parts: Vec<String> = b
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message).trim_matches([' ', ':']).to_owned())
            .collect();
        return Some(parts.join("; "));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('<') {
        return None; // an HTML error page says nothing a status line doesn't
    }
    let line: String = text.lines().next().unwrap_or("").chars().take(200).collect();
    Some(line)
}

/// A small answer that was still arriving at the deadline. Not retried: a registry that drips
/// would drip again.
pub(super) fn deadline_error(what: &str, deadline: Duration) -> Error {
    let what = format!("{what}: no complete answer within the {deadline:?} deadline (");
    Error::hinted(ErrorKind::Network, &what, Hint::Deadline, ")")
}

pub(super) fn is_deadline(e: &ureq::Error) -> bool {
    use ureq::Timeout;
    matches!(e, ureq::Error::Timeout(Timeout::Global | Timeout::RecvResponse | Timeout::RecvBody))
}

/// A failed body read: the deadline, or a (retryable) network error.
pub(crate) fn body_error(what: &str, e: std::io::Error, deadline: Duration) -> Error {
    if e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()).is_some_and(is_deadline) {
        return deadline_error(what, deadline);
    }
    Error::new(ErrorKind::Network, what).with_source(e).transient(true)
}

/// A transport failure. Resets, timeouts, refused connections and a temporary DNS failure
/// (`EAI_AGAIN`) are worth retrying; a name that does not exist and TLS failures are not (another
/// try gives the same answer), nor is a missed deadline.
pub(crate) fn network(what: &str, e: ureq::Error, deadline: Duration) -> Error {
    if is_deadline(&e) {
        return deadline_error(what, deadline);
    }
    if let ureq::Error::Io(io) = &e
        && let Some(no_such_host) = io.get_ref().and_then(|i| i.downcast_ref::<NoSuchHost>())
    {
        return Error::new(ErrorKind::Network, format!("{what}: {no_such_host}"));
    }
    if let ureq::Error::Protocol(ureq_proto::Error::OutputOverflow) = e {
        // Deterministic: the same request overflows again. ureq writes the request line by
        // line, so one line is too long: a token, or a URL (a redirect's `Location`).
        return Error::new(
            ErrorKind::Network,
            format!(
                "{what}: the request's URL or one of its headers is over {} KiB",
                super::endpoint::WRITE_BUFFER / 1024
            ),
        );
    }
    // rustls reports a failed handshake as InvalidData (or as its own error): not worth a retry.
    let tls = match &e {
        ureq::Error::Rustls(r) => Some(Some(r)),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            Some(io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()))
        }
        _ => None,
    };
    let transient = tls.is_none()
        && matches!(
            e,
            ureq::Error::Io(_)
                | ureq::Error::Timeout(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)
                | ureq::Error::BodyStalled
        );
    let hint = match tls {
        _ if !what.contains("https://") => None,
        Some(Some(rustls::Error::InvalidCertificate(_))) => {
            Some(("untrusted certificate: ", Some(Hint::CaFile)))
        }
        // Garbage instead of a handshake: most often a server that speaks only HTTP.
        Some(Some(rustls::Error::InvalidMessage(_)) | None) => {
            Some(("TLS handshake failed: ", Some(Hint::PlainHttp)))
        }
        Some(Some(_)) => Some(("TLS handshake failed", None)),
        None => None,
    };
    let err = match hint {
        Some((why, Some(h))) => {
            Error::hinted(ErrorKind::Network, &format!("{what} ({why}"), h, ")")
        }
        Some((why, None)) => Error::new(ErrorKind::Network, format!("{what} ({why})")),
        None => Error::new(ErrorKind::Network, what),
    };
    err.with_source(e).transient(transient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("ratelimit-limit", "100;w=21600".parse().unwrap());
        h.insert("ratelimit-remaining", "3;w=21600".parse().unwrap());
        let q = rate_limit(&h).unwrap();
        assert!(q.low());
        assert!(
            q.describe().starts_with("pull quota: 3 of 100 per 6 h window left;"),
            "{}",
            q.describe()
        );
        assert!(rate_limit(&http::HeaderMap::new()).is_none());
    }

    #[test]
    fn error_bodies_are_decoded() {
        let b =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(describe_error_body(b).unwrap(), "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(describe_error_body(b"<html><body>502</body></html>"), None);
        assert_eq!(describe_error_body(b"  "), None);
        assert_eq!(describe_error_body(b"denied\nmore").unwrap(), "denied");
    }
}
