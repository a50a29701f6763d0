//! Error kind → exit code: the one table; and how a failed run is told, on stderr and in the
//! `--json` error object.

use std::process::ExitCode;

use oci_dl::ErrorKind;
use serde_json::json;

use super::ci::Ci;
use super::escape::escape;

/// Every exit code and what it means: the one table, which `--help` prints and README's "Exit
/// codes" section must match (a test holds them together).
pub const TABLE: &[(u8, &str)] = &[
    (0, "success"),
    (1, "other failure (local I/O, a file that differs, an unsafe title, a bad response)"),
    (2, "usage error or invalid reference"),
    (3, "not found: repository, tag, blob, platform, or no layer selected"),
    (4, "authentication or authorization refused"),
    (5, "integrity: digest or size mismatch"),
    (6, "network failure"),
    (7, "rate-limited (HTTP 429 after the retries)"),
    (8, "signature: missing, not verifying with --verify-key, or covering something else"),
    (130, "interrupted by SIGINT/SIGTERM; partial downloads are kept for the next run"),
];

/// [`TABLE`] as `--help` shows it.
pub fn help_table() -> String {
    let rows: Vec<String> = TABLE.iter().map(|(c, m)| format!("  {c:<3} {m}")).collect();
    format!("Exit codes:\n{}", rows.join("\n"))
}

pub fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Auth => 4,
        ErrorKind::Integrity => 5,
        ErrorKind::Network => 6,
        ErrorKind::RateLimited { .. } => 7,
        ErrorKind::Signature => 8,
        ErrorKind::Conflict | ErrorKind::Other => 1,
        ErrorKind::Interrupted => 130,
        // A kind newer than this table: a failure, but not one it can name.
        _ => 1,
    }
}

/// The exit code for an error from `run`: the engine's kind when there is one, else 1.
pub fn for_error(err: &anyhow::Error) -> ExitCode {
    ExitCode::from(engine(err).map_or(1, |e| code(e.kind())))
}

/// Print a failed run's error (a CI's annotation under one) and give its exit code. Messages
/// carry registry strings (titles, URLs, error bodies): never printed raw.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(line) = interrupted(err) {
        // The user's decision, not a failure: what was kept, and no error report.
        eprintln!("oci-dl: {line}");
        return for_error(err);
    }
    let ci = Ci::detect();
    let say = |text: &str, plain: &str| match ci.annotation("error", text) {
        Some(line) => eprintln!("{line}"),
        None => eprintln!("{plain}{}", escape(text)),
    };
    say(&message(err), "oci-dl: error: ");
    // Several layers failed: each on its own line, as it was.
    let engine = err.downcast_ref::<oci_dl::Error>();
    for e in engine.map(oci_dl::Error::errors).filter(|e| e.len() > 1).unwrap_or(&[]) {
        say(&super::hints::render(e), "  ");
    }
    for_error(err)
}

/// A run stopped by SIGINT/SIGTERM. Not a failure to report: the user asked for it, so the
/// line says what was kept and how to go on (exit 130).
#[derive(Debug)]
pub struct Interrupted {
    /// Downloads left as `.part` files for the next run; `None` where nothing is kept (stdout).
    pub kept: Option<usize>,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kept {
            None => write!(f, "interrupted"),
            Some(0) => write!(f, "interrupted; no partial downloads to keep"),
            Some(1) => write!(f, "interrupted; 1 partial download kept — {RESUME}"),
            Some(n) => write!(f, "interrupted; {n} partial downloads kept — {RESUME}"),
        }
    }
}

impl std::error::Error for Interrupted {}

const RESUME: &str = "run the same command again to resume";

/// The interruption behind `err`, if it is one: what the run kept, when the subcommand counted it.
pub fn interrupted(err: &anyhow::Error) -> Option<String> {
    let stopped = engine(err).is_some_and(|e| e.kind() == ErrorKind::Interrupted);
    stopped.then(|| match err.downcast_ref::<Interrupted>() {
        Some(i) => i.to_string(),
        None => Interrupted { kept: None }.to_string(),
    })
}

/// The engine's error behind `err`, if it came from the engine.
fn engine(err: &anyhow::Error) -> Option<&oci_dl::Error> {
    err.chain().find_map(|e| e.downcast_ref::<oci_dl::Error>())
}

/// The error line's text (unescaped): the engine's message with its causes, or for several
/// failed layers the summary (each layer is listed after it).
pub fn message(err: &anyhow::Error) -> String {
    if let Some(line) = interrupted(err) {
        return line;
    }
    match err.downcast_ref::<oci_dl::Error>() {
        Some(e) if e.errors().len() > 1 => e.to_string(),
        Some(e) => super::hints::render(e),
        None => format!("{err:#}"),
    }
}

/// The `error` object of a `--json` document: what the error line says, its kind and exit code.
/// JSON keeps the real strings (escaped as JSON, not for a terminal).
pub fn error_json(err: &anyhow::Error) -> serde_json::Value {
    let kind = engine(err).map_or(ErrorKind::Other, oci_dl::Error::kind);
    json!({ "exit_code": code(kind), "kind": kind, "message": message(err) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            (ErrorKind::Usage, 2),
            (ErrorKind::NotFound, 3),
            (ErrorKind::Auth, 4),
            (ErrorKind::Integrity, 5),
            (ErrorKind::Network, 6),
            (ErrorKind::RateLimited { retry_after: None }, 7),
            (ErrorKind::Signature, 8),
            (ErrorKind::Conflict, 1),
            (ErrorKind::Other, 1),
            (ErrorKind::Interrupted, 130),
        ];
        for (k, c) in cases {
            assert_eq!(code(k), c, "{k:?}");
        }
    }

    #[test]
    fn an_interruption_says_what_was_kept_not_an_error() {
        let stopped = || oci_dl::Error::new(ErrorKind::Interrupted, "3 layers failed");
        for (kept, line) in [
            (None, "interrupted"),
            (Some(0), "interrupted; no partial downloads to keep"),
            (
                Some(1),
                "interrupted; 1 partial download kept — run the same command again to resume",
            ),
            (
                Some(2),
                "interrupted; 2 partial downloads kept — run the same command again to resume",
            ),
        ] {
            let e = anyhow::Error::new(stopped()).context(Interrupted { kept });
            assert_eq!(interrupted(&e).as_deref(), Some(line));
            assert_eq!(error_json(&e)["message"], line);
            assert_eq!(for_error(&e), ExitCode::from(130));
        }
        assert_eq!(interrupted(&anyhow::Error::new(stopped())).as_deref(), Some("interrupted"));
        assert_eq!(interrupted(&anyhow::anyhow!("plain")), None);
    }

    #[test]
    fn wrapped_engine_errors_keep_their_code() {
        let e =
            anyhow::Error::new(oci_dl::Error::new(ErrorKind::Integrity, "x")).context("pulling");
        assert_eq!(for_error(&e), ExitCode::from(5));
        assert_eq!(for_error(&anyhow::anyhow!("plain")), ExitCode::from(1));
    }
}
