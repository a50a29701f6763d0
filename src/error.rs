//! The engine's one error type. Each error carries an [`ErrorKind`] that the front end maps to an
//! exit code, a one-line message, and optionally the underlying cause.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

pub use crate::hint::Hint;

/// What went wrong, coarse enough to pick an exit code from. Serialized as its
/// [`name`](ErrorKind::name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    RateLimited {
        /// The wait it asked for (`Retry-After`, or a hint in its body), if it did: the same as
        /// [`Error::retry_after`].
        retry_after: Option<Duration>,
    },
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
    /// The kind as JSON and logs spell it: `not-found`, `rate-limited`….
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Auth => "auth",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Network => "network",
            ErrorKind::RateLimited { .. } => "rate-limited",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Other => "other",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Signature => "signature",
        }
    }

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
            ErrorKind::RateLimited { .. } => 4,
            ErrorKind::Network => 3,
            ErrorKind::Conflict => 2,
            ErrorKind::Other => 1,
        }
    }
}

impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
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
    /// Rare, so boxed: an `Error` stays small enough to return by value everywhere.
    about: Option<Box<About>>,
}

#[derive(Debug, Default)]
struct About {
    /// The layer (file) it is about, when a pull failed in one.
    layer: Option<String>,
    /// For [`Error::many`]: each failure as it was, not flattened into the message.
    errors: Vec<Error>,
    /// What the user can do, and where the message words it (replaced by a front end's words).
    hint: Option<(Hint, Range<usize>)>,
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message and no cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retry_after = match kind {
            ErrorKind::RateLimited { retry_after } => retry_after,
            _ => None,
        };
        Error {
            kind,
            message: message.into(),
            source: None,
            transient: false,
            retry_after,
            about: None,
        }
    }

    /// An error whose message is `before`, the hint's [`Hint::advice`], then `after`; a front
    /// end words the advice its own way with [`Error::render`].
    pub(crate) fn hinted(kind: ErrorKind, before: &str, hint: Hint, after: &str) -> Self {
        let advice = hint.advice();
        let mut e = Error::new(kind, format!("{before}{advice}{after}"));
        let at = before.len()..before.len() + advice.len();
        e.about.get_or_insert_default().hint = Some((hint, at));
        e
    }

    /// What the user can do about this error, if the engine knows.
    pub fn hint(&self) -> Option<Hint> {
        Some(self.about.as_ref()?.hint.as_ref()?.0)
    }

    /// The same error, about the layer `name`.
    pub fn in_layer(mut self, name: &str) -> Self {
        self.about.get_or_insert_default().layer = Some(name.to_owned());
        self
    }

    /// The layer this error is about, if any.
    pub fn layer(&self) -> Option<&str> {
        self.about.as_ref()?.layer.as_deref()
    }

    /// The same error with ` (note)` after its message, keeping kind, cause and retry data.
    pub fn with_note(mut self, note: impl std::fmt::Display) -> Self {
        self.message = format!("{} ({note})", self.message);
        self
    }

    /// The same error with another kind, keeping message, cause and retry data.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The failures this error stands for: each layer's when several failed ([`Error::many`]),
    /// else just this one.
    pub fn errors(&self) -> &[Error] {
        match &self.about {
            Some(a) if !a.errors.is_empty() => &a.errors,
            _ => std::slice::from_ref(self),
        }
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
        let old = self.message.len();
        self.message = format!("{prefix}: {}", self.message);
        let shift = self.message.len() - old;
        if let Some((_, at)) = self.about.as_mut().and_then(|a| a.hint.as_mut()) {
            *at = at.start + shift..at.end + shift;
        }
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

    /// Several errors, one per failed layer: the kind of the most specific one, each error kept
    /// whole in [`Error::errors`].
    pub fn many(errors: Vec<Error>) -> Self {
        let title = format!("{} layers failed", errors.len());
        Error::many_titled(errors, title)
    }

    /// [`Error::many`] with another headline than "N layers failed".
    pub fn many_titled(mut errors: Vec<Error>, title: String) -> Self {
        if errors.len() == 1 {
            return errors.remove(0);
        }
        let kind = errors
            .iter()
            .map(Error::kind)
            .max_by_key(|k| k.specificity())
            .unwrap_or(ErrorKind::Other);
        let mut e = Error::new(kind, title);
        e.about = Some(Box::new(About { layer: None, errors, hint: None }));
        e
    }

    /// The failures [`Error::errors`] lists, owned: several, or this one alone.
    pub fn into_errors(self) -> Vec<Error> {
        if self.about.as_ref().is_some_and(|a| !a.errors.is_empty()) {
            return self.about.expect("checked above").errors;
        }
        vec![self]
    }

    /// The kind, for exit codes and retry decisions; a rate limit carries the wait asked for.
    pub fn kind(&self) -> ErrorKind {
        match self.kind {
            ErrorKind::RateLimited { .. } => {
                ErrorKind::RateLimited { retry_after: self.retry_after }
            }
            kind => kind,
        }
    }

    /// The message and its causes on one line, as `message: cause: cause` (for several
    /// failures, `N layers failed: first; second`).
    pub fn to_string_full(&self) -> String {
        self.render(Hint::advice)
    }

    /// [`Error::to_string_full`] with each [`Hint`] worded by `advice`: how a front end names
    /// its own options (the CLI says `--overwrite force or skip` where the engine says
    /// `Overwrite::Force`).
    pub fn render(&self, advice: fn(Hint) -> &'static str) -> String {
        if let Some(a) = self.about.as_ref().filter(|a| !a.errors.is_empty()) {
            let lines: Vec<String> = a.errors.iter().map(|e| e.render(advice)).collect();
            return format!("{}: {}", self.message, lines.join("; "));
        }
        let mut out = self.message_with(advice);
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(e) = cur {
            let text = match e.downcast_ref::<Error>() {
                Some(inner) => inner.message_with(advice),
                None => e.to_string(),
            };
            if !text.is_empty() && !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cur = e.source();
        }
        out
    }
}

impl Error {
    /// This error's own message (no causes), its hint worded by `advice`.
    fn message_with(&self, advice: fn(Hint) -> &'static str) -> String {
        match self.about.as_ref().and_then(|a| a.hint.as_ref()) {
            Some((hint, at)) => {
                format!("{}{}{}", &self.message[..at.start], advice(*hint), &self.message[at.end..])
            }
            None => self.message.clone(),
        }
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
    fn many_takes_the_most_specific_kind_and_keeps_every_error_whole() {
        let io = std::io::Error::other("connection reset");
        let e = Error::many(vec![
            Error::new(ErrorKind::Network, "a: read failed")
                .with_source(io)
                .transient(true)
                .in_layer("a"),
            Error::new(ErrorKind::Integrity, "b: digest mismatch").in_layer("b"),
            Error::new(ErrorKind::NotFound, "c: blob unknown").in_layer("c"),
        ]);
        assert_eq!(e.kind(), ErrorKind::Integrity);
        let s = e.to_string_full();
        assert!(
            s.contains("a: read failed: connection reset")
                && s.contains("b: digest")
                && s.contains("c: blob"),
            "{s}"
        );
        let each: Vec<(ErrorKind, Option<&str>)> =
            e.errors().iter().map(|x| (x.kind(), x.layer())).collect();
        assert_eq!(
            each,
            [
                (ErrorKind::Network, Some("a")),
                (ErrorKind::Integrity, Some("b")),
                (ErrorKind::NotFound, Some("c"))
            ]
        );
        let first = &e.errors()[0];
        assert!(first.is_transient() && std::error::Error::source(first).is_some(), "kept whole");
        let one = Error::new(ErrorKind::Auth, "x");
        assert_eq!(one.errors().len(), 1, "a single error stands for itself");
    }

    #[test]
    fn a_hint_is_worded_by_the_front_end_wherever_context_put_it() {
        let e = Error::hinted(ErrorKind::Conflict, "f exists; ", Hint::Overwrite, " (or rename)")
            .context("pull")
            .with_note("layer 2");
        assert_eq!(e.hint(), Some(Hint::Overwrite));
        let neutral = format!("pull: f exists; {} (or rename) (layer 2)", Hint::Overwrite.advice());
        assert_eq!(e.to_string_full(), neutral);
        assert_eq!(e.to_string(), neutral);
        assert_eq!(e.render(|_| "FLAGS"), "pull: f exists; FLAGS (or rename) (layer 2)");
        let wrapped = Error::new(ErrorKind::Conflict, "outer").with_source(e);
        assert_eq!(
            wrapped.render(|_| "FLAGS"),
            "outer: pull: f exists; FLAGS (or rename) (layer 2)"
        );
    }

    #[test]
    fn a_rate_limit_is_matched_with_the_wait_asked_for_and_named_as_before() {
        let wait = Some(Duration::from_secs(7));
        let e =
            Error::new(ErrorKind::RateLimited { retry_after: None }, "429").with_retry_after(wait);
        assert!(matches!(e.kind(), ErrorKind::RateLimited { retry_after } if retry_after == wait));
        let many = Error::many(vec![e, Error::new(ErrorKind::Network, "reset")]);
        assert_eq!(many.kind(), ErrorKind::RateLimited { retry_after: wait }, "kept by many");
        let json = serde_json::to_string(&ErrorKind::RateLimited { retry_after: wait }).unwrap();
        assert_eq!(json, r#""rate-limited""#);
        assert_eq!(serde_json::to_string(&ErrorKind::NotFound).unwrap(), r#""not-found""#);
    }

    #[test]
    fn full_message_chains_causes_once() {
        let io = std::io::Error::other("disk full");
        let e = Error::io("write", Path::new("/x/y.part"), io);
        assert_eq!(e.to_string_full(), "write /x/y.part: disk full");
    }
}
