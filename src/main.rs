mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            match cli::ci::Ci::detect().annotation("error", &cli::usage::one_line(&e)) {
                Some(line)
                    if e.kind()
                        != clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
                {
                    eprintln!("{line}");
                }
                _ => eprint!("{}", cli::usage::refused(&e)),
            }
            if let Some(doc) = cli::usage::refused_json(&e) {
                println!("{doc:#}");
            }
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(line) = cli::exit::interrupted(&err) {
                // The user's decision, not a failure: what was kept, and no error report.
                eprintln!("oci-dl: {line}");
                return cli::exit::for_error(&err);
            }
            let engine = err.downcast_ref::<oci_dl::Error>();
            let ci = cli::ci::Ci::detect();
            let text = cli::exit::message(&err);
            // Messages carry registry strings (titles, URLs, error bodies): never raw.
            match ci.annotation("error", &text) {
                Some(line) => eprintln!("{line}"),
                None => eprintln!("oci-dl: error: {}", cli::escape::escape(&text)),
            }
            // Several layers failed: each on its own line, as it was.
            for e in engine.map(oci_dl::Error::errors).filter(|e| e.len() > 1).unwrap_or(&[]) {
                let text = e.to_string_full();
                match ci.annotation("error", &text) {
                    Some(line) => eprintln!("{line}"),
                    None => eprintln!("  {}", cli::escape::escape(&text)),
                }
            }
            cli::exit::for_error(&err)
        }
    }
}
