//! What a request gives back: a status, headers and a reader. The HTTP body behind it is read
//! here and nowhere outside `registry/`.

use std::io::Read;
use std::time::Duration;

use ureq::http::Response;

use super::DEFAULT_DEADLINE;
use super::floor::{Floor, FloorReader};
use super::status::body_error;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// A response whose status was 2xx: its status and headers, and its body as a reader (or read
/// whole, capped). Nothing of the HTTP library shows.
pub struct Reply {
    response: Response<ureq::Body>,
    /// Where it came from after redirects, for messages: on another host without its query,
    /// which may be a signature (send.rs).
    pub(super) url: String,
    deadline: Duration,
    /// A mirror's blob body must keep up a minimum rate (see [`Floor`]).
    pub(super) floor: Option<Floor>,
}

impl Reply {
    pub(super) fn new(response: Response<ureq::Body>, url: String, deadline: Duration) -> Reply {
        Reply { response, url, deadline, floor: None }
    }

    /// An answer made on this machine (a layout or the cache standing in for a registry).
    pub(super) fn local(response: Response<ureq::Body>) -> Reply {
        Reply { response, url: "local".into(), deadline: DEFAULT_DEADLINE, floor: None }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// The body as a reader of any length (a blob's), held to the mirror floor when a mirror
    /// sends it.
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        let body = self.response.into_body().into_with_config().limit(u64::MAX).reader();
        match self.floor {
            Some(floor) => Box::new(FloorReader::new(body, floor)),
            None => Box::new(body),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Read at most `cap` bytes of the body; a failure is a (retryable) network error.
    pub fn read_body(self, cap: u64, what: &str) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        self.response.into_body().into_reader().take(cap).read_to_end(&mut body).map_err(|e| {
            body_error(&format!("GET {}: reading {what}", self.url), e, self.deadline)
        })?;
        Ok(body)
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// Check that a 206 answer to a range request for `digest` from byte `from` starts there; a
    /// server that sends another range is a (retryable) network error.
    pub fn starts_at(&self, from: u64, digest: &Digest) -> Result<(), Error> {
        let start = self.header("content-range").and_then(content_range_start);
        if start == Some(from) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Network,
            format!("blob {digest}: asked for bytes from {from}, got range {start:?}"),
        )
        .transient(true))
    }
}

/// `Content-Range: bytes START-END/TOTAL` → START (the one parser of it).
fn content_range_start(v: &str) -> Option<u64> {
    v.trim().strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_starts() {
        assert_eq!(content_range_start("bytes 5-9/10"), Some(5));
        assert_eq!(content_range_start(" bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */10"), None);
        assert_eq!(content_range_start("items 5-9/10"), None);
        assert_eq!(content_range_start("bytes -5/10"), None);
    }
}
