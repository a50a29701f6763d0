//! Pull a package only if its minisign signatures verify with a publisher's key: files signed
//! by a sibling `NAME.sig` / `NAME.minisig` layer (as pkgforge publishes for soar) or by a
//! signed checksum list get their final names only after their bytes verified.
//!
//! ```text
//! verify_minisign REF OUTDIR minisign.pub
//! ```
//!
//! Prints each file's path on stdout; a missing or bad signature is an
//! [`oci_dl::ErrorKind::Signature`] error (exit 8 here) and leaves no file under its name.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use oci_dl::{ClientOptions, ErrorKind, PullRequest, Reference, Silent, VerifyKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, dir, key] = args.as_slice() else {
        eprintln!("usage: verify_minisign REF OUTDIR minisign.pub");
        return ExitCode::from(2);
    };
    match run(reference, dir, Path::new(key)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string_full());
            ExitCode::from(if e.kind() == ErrorKind::Signature { 8 } else { 1 })
        }
    }
}

fn run(reference: &str, dir: &str, key: &Path) -> oci_dl::Result<()> {
    let request = PullRequest::new(reference.parse::<Reference>()?, dir)
        .verify_key(VerifyKey::from_file(key)?);
    let report = oci_dl::pull(&request, &ClientOptions::default(), Arc::new(Silent))?;
    for file in &report.files {
        println!("{}", file.path.display());
    }
    Ok(())
}
