//! `oci-dl digest`: the digest a reference resolves to, as `crane digest` and `oras resolve`
//! print it, for pinning a tag (`REPO@sha256:…`) in scripts.

use clap::Args;
use oci_dl::Platform;

use super::{Global, parse_reference};

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]
    pub reference: String,
    /// The digest of this platform's manifest in an index (OS/ARCH[/VARIANT][:OS_VERSION]),
    /// instead of the index's own.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

pub fn run(args: &DigestArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
    let opts = global.client_options()?;
    let view = global.view();
    let digest = oci_dl::resolve_digest(&reference, platform.as_ref(), &opts, view.clone());
    view.finish();
    println!("{}", digest?);
    Ok(())
}
