//! `oci-dl tags`: a repository's tags, one per line or as a JSON array.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use super::{Global, escape::escape, parse_reference};

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// [REGISTRY/]REPOSITORY
    pub repository: String,
    /// Print a JSON array instead.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TagsArgs, global: &Global) -> anyhow::Result<()> {
    let result = list(args, global);
    if args.json
        && let Err(e) = &result
    {
        println!("{:#}", serde_json::json!({ "error": super::exit::error_json(e) }));
    }
    result
}

fn list(args: &TagsArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.repository)?;
    let opts = global.client_options()?;
    let view = global.view();
    if args.json {
        let tags = oci_dl::list_tags(&reference, &opts, view.clone());
        view.finish();
        println!("{}", serde_json::to_string(&tags?)?);
        return Ok(());
    }
    // Printed as the pages arrive: a long listing never sits in memory.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let listed = oci_dl::each_tag(&reference, &opts, view.clone(), &mut |t| {
        writeln!(out, "{}", escape(t))
            .map_err(|e| oci_dl::Error::io("write", std::path::Path::new("<stdout>"), e))
    });
    view.finish();
    out.flush().context("write to stdout")?;
    listed?;
    Ok(())
}
