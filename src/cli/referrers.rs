//! `oci-dl referrers`: what is attached to a manifest (SBOMs, signatures, attestations).

use anyhow::Context;
use clap::Args;

use super::{Global, escape::escape, parse_reference};

#[derive(Debug, Args)]
pub struct ReferrersArgs {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]
    pub reference: String,
    /// List the referrers of this platform's manifest instead of the index's.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print one JSON document: subject, source (api or tag) and the descriptors as listed.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ReferrersArgs, global: &Global) -> anyhow::Result<()> {
    let result = list(args, global);
    if args.json
        && let Err(e) = &result
    {
        println!("{:#}", serde_json::json!({ "error": super::exit::error_json(e) }));
    }
    result
}

fn list(args: &ReferrersArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let platform = super::one_platform(args.platform.as_deref(), "referrers")?;
    let opts = global.client_options()?;
    let view = global.view();
    let listed = oci_dl::list_referrers(&reference, platform.as_ref(), &opts, view.clone());
    view.finish();
    let listed = listed?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed).context("encode JSON")?);
        return Ok(());
    }
    // One line each: digest, size, artifact type, annotations; registry text escaped.
    for d in &listed.referrers {
        let annotations: Vec<String> =
            d.annotations.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect();
        println!(
            "{}\t{}\t{}\t{}",
            d.digest,
            d.size,
            escape(d.artifact_type.as_deref().unwrap_or("-")),
            annotations.join(",")
        );
    }
    Ok(())
}
