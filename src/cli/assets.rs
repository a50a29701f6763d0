//! Completions and man pages, generated from the clap definition. The repository keeps the output
//! in `completions/` and `man/`; a test regenerates them and fails when they differ.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::{Generator, Shell};

use super::Cli;

pub fn generate(dir: &Path) -> anyhow::Result<()> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("create {}", completions.display()))?;
    std::fs::create_dir_all(&man).with_context(|| format!("create {}", man.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
        let mut cmd = Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "oci-dl", &mut out);
        write(&completions.join(shell.file_name("oci-dl")), &out)?;
    }
    let cmd = Cli::command();
    write_man(&man.join("oci-dl.1"), cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("oci-dl-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        write_man(&man.join(format!("{name}.1")), page)?;
    }
    Ok(())
}

fn write_man(path: &Path, cmd: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    write(path, &out)
}

/// Like every file oci-dl writes: through a `.part` created without following links.
fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(oci_dl::write_file(path, bytes, std::sync::Arc::new(oci_dl::Silent))?)
}
