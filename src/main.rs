mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let text = match err.downcast_ref::<oci_dl::Error>() {
                Some(e) => e.to_string_full(),
                None => format!("{err:#}"),
            };
            eprintln!("oci-dl: error: {text}");
            if err
                .downcast_ref::<oci_dl::Error>()
                .is_some_and(|e| e.kind() == oci_dl::ErrorKind::Interrupted)
            {
                eprintln!(
                    "oci-dl: partial downloads were kept; run the same command again to resume"
                );
            }
            cli::exit::for_error(&err)
        }
    }
}
