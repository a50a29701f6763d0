//! `oci-dl manifest`: the manifest bytes as served, or the resolved descriptor.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{Global, parse_reference};

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]
    pub reference: String,
    /// Resolve an index to this platform's manifest (OS/ARCH[/VARIANT][:OS_VERSION]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print the resolved descriptor as JSON instead of the body: the index entry as sent, or the
    /// manifest's mediaType, digest and size.
    #[arg(long)]
    pub descriptor: bool,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ManifestArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let platform = super::one_platform(args.platform.as_deref(), "manifest")?;
    let opts = global.client_options()?;
    let view = global.view();
    let resolved = oci_dl::fetch_manifest(&reference, platform.as_ref(), &opts, view.clone())?;
    let bytes = if args.descriptor {
        // Through an index: its entry, every field as sent. Else the manifest's own.
        let d = resolved.entry.as_ref().unwrap_or(&resolved.descriptor);
        let mut v = serde_json::to_vec_pretty(d)?;
        v.push(b'\n');
        v
    } else {
        resolved.bytes
    };
    match &args.output {
        Some(path) if path.as_os_str() != "-" => Ok(oci_dl::write_file(path, &bytes, view)?),
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes).and_then(|()| out.flush()).context("write to stdout")
        }
    }
}
