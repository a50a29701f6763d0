//! The job a package manager (soar) gives oci-dl: pull the layers of a package whose titles
//! match a glob into a directory, with progress, and list the files it got.
//!
//! ```text
//! package_manager REF OUTDIR GLOB
//! ```
//!
//! One line per transfer start and finish goes to stderr (`start 2 curl 301000`, `resume 2 curl
//! at 100000`, `finish 2 curl resumed`); each verified file's path goes to stdout. Interrupted
//! runs resume their `.part` files. Builds without the `cli` feature.

use std::process::ExitCode;
use std::sync::Arc;

use oci_dl::{ClientOptions, Event, Filter, Overwrite, PullRequest, Reference};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, dir, glob] = args.as_slice() else {
        eprintln!("usage: package_manager REF OUTDIR GLOB");
        return ExitCode::from(2);
    };
    match run(reference, dir, glob) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A package manager matches the kind to decide (retry on Network, re-auth on Auth…).
            eprintln!("error ({:?}): {}", e.kind(), e.to_string_full());
            ExitCode::FAILURE
        }
    }
}

fn run(reference: &str, dir: &str, glob: &str) -> oci_dl::Result<()> {
    let reference: Reference = reference.parse()?;
    let mut filter = Filter::default();
    filter.globs.push(glob.to_owned());
    let request =
        PullRequest::new(reference, dir).filter(filter).jobs(4).overwrite(Overwrite::Skip);
    let progress = |event: &Event<'_>| match event {
        Event::Started { index, name, size, .. } => {
            eprintln!("start {index} {name} {}", size.unwrap_or(0));
        }
        Event::Resumed { index, name, offset } => eprintln!("resume {index} {name} at {offset}"),
        Event::Finished { index, name, status, .. } => {
            eprintln!("finish {index} {name} {}", format!("{status:?}").to_lowercase());
        }
        Event::Failed { index, name, error } => eprintln!("failed {index} {name}: {error}"),
        _ => {}
    };
    let report = oci_dl::pull(&request, &ClientOptions::default(), Arc::new(progress))?;
    for file in &report.files {
        println!("{}", file.path.display());
    }
    Ok(())
}
