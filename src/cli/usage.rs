//! What a command line that clap refused gets: one `oci-dl: error:` line, like every other error,
//! carrying clap's suggestion when it has one; a bare `oci-dl` gets the usage and the subcommands.

use std::process::ExitCode;

use clap::error::ErrorKind;

use super::ci::Ci;
use super::escape::escape;

/// Print what a refused command line gets (a CI's annotation under one), and its `--json`
/// document when it asked for one; exit 2.
pub fn report(e: &clap::Error) -> ExitCode {
    match Ci::detect().annotation("error", &one_line(e)) {
        Some(line) if e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("{line}");
        }
        _ => eprint!("{}", refused(e)),
    }
    if let Some(doc) = refused_json(e) {
        println!("{doc:#}");
    }
    ExitCode::from(2)
}

/// The text to print on stderr for a command line clap refused.
fn refused(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return overview(e);
    }
    format!("oci-dl: error: {} (see --help)\n", escape(&one_line(e)))
}

/// The document for stdout when the refused command line asked for `--json`: scripts get an
/// `error` object for every failure, this one too.
fn refused_json(e: &clap::Error) -> Option<serde_json::Value> {
    std::env::args().any(|a| a == "--json").then(|| {
        let message = format!("{} (see --help)", one_line(e));
        serde_json::json!({ "error": { "exit_code": 2, "kind": "usage", "message": message } })
    })
}

/// clap's error on one line, with its suggestion when it has one.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut head = Vec::new();
    let mut tips = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more") {
            break;
        }
        match line.strip_prefix("tip: ") {
            // "a similar argument exists: '--progress'", "some similar subcommands exist: …";
            // not "to pass '-Q' as a value, use '-- -Q'", which would only confuse.
            Some(tip) if tip.contains("similar") => tips.push(tip),
            Some(_) => {}
            None if line.is_empty() => {}
            None => head.push(line),
        }
    }
    let line = head.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    let tips: String = tips.iter().map(|t| format!("; {t}")).collect();
    format!("{line}{tips}")
}

/// A bare `oci-dl` (or `oci-dl cache`): clap renders that command's whole help; keep its usage
/// line and its subcommands, not the description as if it were an error, nor every option.
fn overview(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut out = String::new();
    for line in text.lines().skip_while(|l| !l.starts_with("Usage:")) {
        if !line.is_empty()
            && !line.starts_with(' ')
            && !line.starts_with("Usage:")
            && line != "Commands:"
        {
            break; // "Options:", "Display:", the examples…
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("Add -h to a command for its common options, --help for all of them.\n");
    out
}
