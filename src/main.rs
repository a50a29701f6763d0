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
            // One line, like every other error; --help has the rest.
            let text = e.render().to_string();
            let head: Vec<&str> = text
                .lines()
                .take_while(|l| {
                    !l.starts_with("Usage:")
                        && !l.trim().starts_with("tip:")
                        && !l.starts_with("For more")
                })
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let line = head.join(" ");
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            eprintln!("oci-dl: error: {} (see --help)", cli::escape::escape(line));
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let engine = err.downcast_ref::<oci_dl::Error>();
            let text = match engine {
                Some(e) if e.errors().len() > 1 => e.to_string(),
                Some(e) => cli::hints::render(e),
                None => format!("{err:#}"),
            };
            // Messages carry registry strings (titles, URLs, error bodies): never raw.
            eprintln!("oci-dl: error: {}", cli::escape::escape(&text));
            // Several layers failed: each on its own line, as it was.
            for e in engine.map(oci_dl::Error::errors).filter(|e| e.len() > 1).unwrap_or(&[]) {
                eprintln!("  {}", cli::escape::escape(&cli::hints::render(e)));
            }
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
