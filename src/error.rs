//! The engine's one error type. Each error carries an [`ErrorKind`] that the front end maps to an
//! exit code, a one-line message, and optionally the underlying cause.

use std::fmt;
use std::path::Path;
use std::time::Duration;

/// What went wrong, coarse enough to pick an exit code from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input from the user: an invalid reference, conflicting options, an unsafe title.
    Usage,
    /// The repository, tag, blob or platform does not exist, or no layer was selected.
    NotFound,
    /// The registry refused our credentials or our access.
    Auth,
    /// Bytes did not match their digest or size.
    Integrity,
    /// The network failed: DNS, connect, TLS, reset, timeout, 5xx.
    Network,
    /// The registry kept answering 429.
    RateLimited,
    /// A local file already exists and differs, and the policy says not to touch it.
    Conflict,
    /// Anything else: local I/O, a malformed registry response.
    Other,
    /// Stopped by SIGINT/SIGTERM; partial downloads were kept for resuming.
    Interrupted,
    /// A publisher's signature was missing, did not verify, or covered something else.
    Signature,
}

impl ErrorKind {
    /// How specific this kind is when several layers fail at once: the most specific one decides
    /// the exit code, since "a digest did not match" tells the user more than "the network failed".
    pub fn specificity(self) -> u8 {
        match self {
            ErrorKind::Interrupted => 10,
            ErrorKind::Usage => 9,
            ErrorKind::Signature => 8,
            ErrorKind::Integrity => 7,
            ErrorKind::Auth => 6,
            ErrorKind::NotFound => 5,
            ErrorKind::RateLimited => 4,
            ErrorKind::Network => 3,
            ErrorKind::Conflict => 2,
            ErrorKind::Other => 1,
        }
    }
}

/// An engine error: a kind, a one-line message and an optional cause.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    transient: bool,
    retry_after: Option<Duration>,
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message and no cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), source: None, transient: false, retry_after: None }
    }

    /// Mark the error as worth retrying (a reset, a timeout, a 5xx or 429) or not.
    pub fn transient(mut self, yes: bool) -> Self {
        self.transient = yes;
        self
    }

    /// How long the server asked us to wait (`Retry-After`, or a hint in a 429 body).
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Whether another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The wait the server asked for, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same error with `prefix: ` in front of its message, keeping kind and retry data.
    pub fn context(mut self, prefix: impl std::fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// Attach the underlying cause; its message is printed after ours, so ours must not repeat it.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// An I/O error about `path`. `ENOSPC` and permission errors keep their own wording.
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Other, format!("{action} {}", path.display())).with_source(err)
    }

    /// Several errors, one per failed layer: the kind of the most specific one, every message kept.
    pub fn many(mut errors: Vec<Error>) -> Self {
        if errors.len() == 1 {
            return errors.remove(0);
        }
        let kind = errors
            .iter()
            .map(Error::kind)
            .max_by_key(|k| k.specificity())
            .unwrap_or(ErrorKind::Other);
        let lines: Vec<String> = errors.iter().map(|e| e.to_string_full()).collect();
        Error::new(kind, format!("{} layers failed: {}", errors.len(), lines.join("; ")))
    }

    /// The kind, for exit codes and retry decisions.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message and its causes on one line, as `message: cause: cause`.
    pub fn to_string_full(&self) -> String {
        let mut out = self.message.clone();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(e) = cur {
            let text = e.to_string();
            if !text.is_empty() && !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cur = e.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_takes_the_most_specific_kind_and_keeps_every_message() {
        let e = Error::many(vec![
            Error::new(ErrorKind::Network, "a: reset"),
            Error::new(ErrorKind::Integrity, "b: digest mismatch"),
            Error::new(ErrorKind::NotFound, "c: blob unknown"),
        ]);
        assert_eq!(e.kind(), ErrorKind::Integrity);
        let s = e.to_string();
        assert!(s.contains("a: reset") && s.contains("b: digest") && s.contains("c: blob"), "{s}");
    }

    #[test]
    fn full_message_chains_causes_once() {
        let io = std::io::Error::other("disk full");
        let e = Error::io("write", Path::new("/x/y.part"), io);
        assert_eq!(e.to_string_full(), "write /x/y.part: disk full");
    }
}
