//! `oci-dl blob`: one blob by digest, to a file or stdout.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{Global, OverwriteArg, parse_reference};

#[derive(Debug, Args)]
pub struct BlobArgs {
    /// [REGISTRY/]REPOSITORY@DIGEST
    pub reference: String,
    /// Write to FILE, into an existing DIR under the digest's hex (as `pull -o`), or `-` for
    /// stdout [default: the digest's hex in the current directory].
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// When the file exists with other content [default: prompt at a terminal, else error].
    #[arg(long, value_enum, value_name = "POLICY")]
    pub overwrite: Option<OverwriteArg>,
}

pub fn run(args: &BlobArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let Some(digest) = reference.digest() else {
        return Err(super::usage(format!(
            "{} names no blob: use REPOSITORY@sha256:…",
            args.reference
        ))
        .into());
    };
    let opts = global.client_options()?;
    let view = global.view();
    let output = match &args.output {
        // A directory the user names gets the file, as `pull -o DIR` would; writing through a
        // link inside it is refused by the writer as for any file.
        Some(dir) if dir.is_dir() => dir.join(digest.hex()),
        Some(file) => file.clone(),
        None => PathBuf::from(digest.hex()),
    };
    if output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        let result = oci_dl::stream_blob(&reference, &mut out, &opts, view.clone());
        view.finish();
        out.flush().context("write to stdout")?;
        result?;
        return Ok(());
    }
    let result = oci_dl::fetch_blob(
        &reference,
        &output,
        OverwriteArg::resolve(args.overwrite),
        &opts,
        view.clone(),
    );
    view.finish();
    result?;
    Ok(())
}
