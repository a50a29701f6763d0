//! Completions and man pages, generated from the clap definition. The repository keeps the output
//! in `completions/` and `man/`; a test regenerates them and fails when they differ.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::{Generator, Shell};

use super::Cli;

/// Write `completions/` and `man/` under `dir`.
pub fn generate(dir: &Path) -> anyhow::Result<()> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("create {}", completions.display()))?;
    std::fs::create_dir_all(&man).with_context(|| format!("create {}", man.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
        write(&completions.join(shell.file_name("oci-dl")), &completion_script(shell))?;
    }
    // Built, the subcommands carry the global options they accept and `oci-dl pull` as their
    // usage name; a page per subcommand lists all of them under --help's headings.
    let mut cmd = Cli::command();
    cmd.build();
    write_man(&man.join("oci-dl.1"), cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("oci-dl-{}", sub.get_name());
        write_man(&man.join(format!("{name}.1")), sub.clone().display_name(name))?;
    }
    Ok(())
}

/// The completion script for `shell`, as `oci-dl completions SHELL` prints it.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = visible_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "oci-dl", &mut out);
    if shell == Shell::Bash {
        // clap_complete 4.6 names the states after `oci-dl` two ways: it enters
        // `oci__dl__subcmd__pull` but matches `oci__subcmd__dl__subcmd__pull`, so nothing after
        // a subcommand completed. One spelling for both (the completion tests run the script).
        let text = String::from_utf8_lossy(&out).replace("oci__subcmd__dl__", "oci__dl__");
        out = text.into_bytes();
    }
    out
}

/// The command line without its hidden subcommands, which the generators would offer anyway.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new(full.get_name().to_owned())
        .args(full.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(v) = full.get_version() {
        cmd = cmd.version(v.to_owned());
    }
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

fn write_man(path: &Path, cmd: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    // The subcommands have no -V: the page's footer names the program's version instead.
    let source = format!("oci-dl {}", env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(cmd).source(source).render(&mut out)?;
    write(path, &out)
}

/// Like every file oci-dl writes: through a `.part` created without following links.
fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(oci_dl::write_file(path, bytes, std::sync::Arc::new(oci_dl::Silent))?)
}
