//! `oci-dl pull --format oci-layout|oci-archive`: args → [`oci_dl::LayoutRequest`] →
//! [`oci_dl::pull_layout`] → summary or JSON.

use std::io::Write;

use clap::ValueEnum;
use indicatif::HumanBytes;
use oci_dl::{FileStatus, LayoutReport, LayoutRequest, LayoutTarget, Output};
use serde_json::json;

use super::pull::PullArgs;
use super::{Global, parse_reference};

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Each layer as a file (or unpacked), the default.
    Files,
    /// An OCI image layout directory: oci-layout, index.json, blobs/.
    OciLayout,
    /// The same layout in one tar file.
    OciArchive,
}

/// The first flag of `args` that a layout pull cannot honour, as a one-line usage error.
fn refused(args: &PullArgs) -> Option<&'static str> {
    let filters = !args.globs.is_empty()
        || !args.regexes.is_empty()
        || !args.include.is_empty()
        || !args.exclude.is_empty()
        || !args.media_types.is_empty()
        || args.case_sensitive;
    let extract = args.extract
        || args.extract_to.is_some()
        || args.keep_archive
        || args.no_unpack
        || args.max_unpacked_size.is_some();
    let rows: [(bool, &'static str); 8] = [
        (
            args.format == FormatArg::Files,
            "--include-referrers needs --format oci-layout or oci-archive",
        ),
        (
            args.output == Output::Stdout,
            "a layout is written to a directory or file: give -o DIR or -o FILE.tar, not -",
        ),
        (
            filters,
            "a layout keeps every blob of what it holds: no filters (-g, -r, --include, --exclude, --media-type)",
        ),
        (extract, "a layout keeps blobs as they are: no -x/--extract (or its options)"),
        (args.flatten, "a layout names blobs by digest: no --flatten"),
        (
            args.referrer.is_some(),
            "use --include-referrers to add attached artifacts to a layout, not --referrer",
        ),
        (
            !args.verify_keys.is_empty(),
            "--verify-key is not checked while writing a layout: check it after, with pull --oci-layout DIR:TAG --verify-key KEY",
        ),
        (args.overwrite.is_some(), "a layout is added to, never overwritten: no --overwrite"),
    ];
    rows.into_iter().find(|(bad, _)| *bad).map(|(_, why)| why)
}

pub fn run(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    let (req, store) = request(args, global)?;
    let mut opts = global.client_options()?;
    opts.store = store.or(opts.store);
    let view = global.view();
    let result = oci_dl::pull_layout(&req, &opts, view.clone());
    view.finish();
    let secs = view.elapsed().as_secs_f64();
    let report = result?;
    if !args.dry_run && super::ci::Ci::detect() == super::ci::Ci::GitHub {
        let digest = report.manifest.descriptor.digest.to_string();
        super::ci::github_layout_outputs(&digest, target_path(&req), report.tag.as_deref())?;
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document(&req, &report, secs))?;
        writeln!(out)?;
        return Ok(());
    }
    if args.dry_run {
        for b in &report.blobs {
            println!("{}\t{}\t{}", b.digest, b.size, b.path.display());
        }
        let bytes = super::report::total(report.blobs.iter().map(|b| b.size));
        view.say(&format!(
            "would write {} blob(s) and {} manifest(s), {} into {}",
            report.blobs.len(),
            report.manifests,
            HumanBytes(bytes),
            target_path(&req).display()
        ));
        return Ok(());
    }
    view.say(&summary(&req, &report, secs));
    Ok(())
}

/// The request the arguments ask for, and the layout to read from (`--oci-layout`), if any;
/// a usage error for what a layout pull cannot do.
fn request(
    args: &PullArgs,
    global: &Global,
) -> anyhow::Result<(LayoutRequest, Option<oci_dl::Store>)> {
    if let Some(why) = refused(args) {
        return Err(super::usage(why).into());
    }
    if args.include_referrers && global.offline {
        // What is attached is known only to the registry; the cache cannot say what is not.
        return Err(
            super::usage("--include-referrers asks the registry: not with --offline").into()
        );
    }
    if args.oci_layout && global.offline {
        return Err(super::usage("--oci-layout reads a layout: not with --offline").into());
    }
    // The source may itself be a layout (`--oci-layout DIR:TAG`): a copy between layouts.
    let (reference, store) = match args.oci_layout {
        true => {
            let (store, reference) = super::pull::layout_reference(&args.reference)?;
            (reference, Some(store))
        }
        false => (parse_reference(&args.reference)?, None),
    };
    let platform = match args.platform.as_slice() {
        [] => None,
        [all] if all == "all" => None,
        [one] => Some(one.parse()?),
        _ => {
            return Err(super::usage(
                "a layout holds the whole index (no --platform) or one platform's manifest",
            )
            .into());
        }
    };
    let Output::Dir(path) = args.output.clone() else { unreachable!("refused above") };
    let target = match args.format {
        FormatArg::OciArchive => LayoutTarget::Archive(path),
        _ => LayoutTarget::Dir(path),
    };
    let req = LayoutRequest {
        reference,
        platform,
        target,
        jobs: usize::from(args.jobs),
        include_referrers: args.include_referrers,
        dry_run: args.dry_run,
    };
    Ok((req, store))
}

fn target_path(req: &LayoutRequest) -> &std::path::Path {
    match &req.target {
        LayoutTarget::Dir(p) | LayoutTarget::Archive(p) => p,
    }
}

fn summary(req: &LayoutRequest, report: &LayoutReport, secs: f64) -> String {
    let fetched: Vec<_> =
        report.blobs.iter().filter(|b| b.status != FileStatus::UpToDate).collect();
    let bytes: u64 = fetched.iter().map(|b| b.size).sum();
    let mut line = format!(
        "wrote {} of {} blob(s) and {} manifest(s)",
        fetched.len(),
        report.blobs.len(),
        report.manifests
    );
    let cached = fetched.iter().filter(|b| b.status == FileStatus::Cached).count();
    if cached > 0 {
        line.push_str(&format!(" ({cached} from the cache)"));
    }
    if report.attached > 0 {
        line.push_str(&format!(", {} attached artifact(s)", report.attached));
    }
    line.push_str(&format!(
        ", {} in {secs:.1}s into {}",
        HumanBytes(bytes),
        target_path(req).display()
    ));
    match &report.tag {
        Some(t) => line.push_str(&format!(" as {}", super::escape::escape(t))),
        None => line.push_str(&format!(" as {}", report.manifest.descriptor.digest)),
    }
    line
}

/// The `--json` document of a layout pull.
fn document(req: &LayoutRequest, report: &LayoutReport, secs: f64) -> serde_json::Value {
    let m = &report.manifest;
    json!({
        "reference": req.reference.to_string(),
        "digest": m.descriptor.digest.to_string(),
        "media_type": m.descriptor.media_type,
        "platform": m.platform.as_ref().map(|p| p.to_string()),
        "format": match req.target { LayoutTarget::Dir(_) => "oci-layout", LayoutTarget::Archive(_) => "oci-archive" },
        "output": target_path(req),
        "tag": report.tag,
        "manifests": report.manifests,
        "attached": report.attached,
        "blobs": report.blobs,
        "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
    })
}
