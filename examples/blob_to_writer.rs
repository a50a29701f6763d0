//! Stream one blob, named by digest, to a writer (here stdout), verified as it streams.
//!
//! ```text
//! blob_to_writer REPOSITORY@sha256:HEX > file
//! ```
//!
//! The bytes reach the writer as they arrive; a digest mismatch is reported after the stream,
//! as an [`oci_dl::ErrorKind::Integrity`] error (exit 5 here), so write to a temporary file and
//! rename it only on success.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use oci_dl::{ClientOptions, ErrorKind, Reference, Silent};

fn main() -> ExitCode {
    let Some(reference) = std::env::args().nth(1) else {
        eprintln!("usage: blob_to_writer REPOSITORY@sha256:HEX");
        return ExitCode::from(2);
    };
    let result = reference.parse::<Reference>().and_then(|r| {
        let mut out = std::io::stdout().lock();
        let size = oci_dl::stream_blob(&r, &mut out, &ClientOptions::default(), Arc::new(Silent))?;
        out.flush()
            .map_err(|e| oci_dl::Error::new(ErrorKind::Other, "write stdout").with_source(e))?;
        Ok(size)
    });
    match result {
        Ok(size) => {
            eprintln!("{size} bytes, verified");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.to_string_full());
            ExitCode::from(if e.kind() == ErrorKind::Integrity { 5 } else { 1 })
        }
    }
}
