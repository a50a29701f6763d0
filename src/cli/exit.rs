//! Error kind → exit code: the one table.

use std::process::ExitCode;

use oci_dl::ErrorKind;

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
    let kind = err.chain().find_map(|e| e.downcast_ref::<oci_dl::Error>()).map(oci_dl::Error::kind);
    ExitCode::from(kind.map_or(1, code))
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
    fn wrapped_engine_errors_keep_their_code() {
        let e =
            anyhow::Error::new(oci_dl::Error::new(ErrorKind::Integrity, "x")).context("pulling");
        assert_eq!(for_error(&e), ExitCode::from(5));
        assert_eq!(for_error(&anyhow::anyhow!("plain")), ExitCode::from(1));
    }
}
