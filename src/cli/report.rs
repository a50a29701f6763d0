//! What `pull` prints once the engine is done: the JSON document (or, on a failure, the JSON
//! error document), the dry run's list, the summary line, and the CI step outputs.

use std::io::Write;

use indicatif::HumanBytes;
use oci_dl::{FileStatus, Output, Platform, PullReport, PullRequest};
use serde_json::json;

use super::parse_reference;
use super::pull::PullArgs;

/// What a finished pull prints: the JSON document, the dry run's list, or the summary line;
/// and under GitHub Actions its step outputs and job summary.
pub(super) fn tell(
    args: &PullArgs,
    req: &PullRequest,
    report: &PullReport,
    view: &dyn super::progress::Console,
    secs: f64,
) -> anyhow::Result<()> {
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document(req, report, secs))?;
        writeln!(out)?;
    }
    if !args.dry_run && super::ci::Ci::detect() == super::ci::Ci::GitHub {
        super::ci::github_report(req, report)?;
    }
    if args.json {
        return Ok(());
    }
    if args.dry_run {
        for f in &report.files {
            let path = f.path.display().to_string();
            let path = super::escape::escape(&path);
            match &f.platform {
                Some(p) => println!("{}\t{}\t{path}\t{}", f.digest, f.size, plain(p)),
                None => println!("{}\t{}\t{path}", f.digest, f.size),
            }
        }
        let bytes = total(report.files.iter().map(|f| f.size));
        let (n, bytes) = (report.files.len(), HumanBytes(bytes));
        view.say(&match &req.output {
            Output::Dir(d) => format!("would pull {n} file(s), {bytes} into {}", d.display()),
            Output::Stdout => format!("would stream {n} file(s), {bytes} to stdout"),
        });
        return Ok(());
    }
    view.say(&summary(report, secs, req));
    Ok(())
}

/// Layer sizes added up. They come from the manifest, so a sum may pass `u64::MAX` (16 400
/// layers of 2^50 bytes): it stops there instead of wrapping to a small number.
pub(super) fn total(sizes: impl Iterator<Item = u64>) -> u64 {
    sizes.fold(0, u64::saturating_add)
}

fn summary(report: &PullReport, secs: f64, req: &PullRequest) -> String {
    let count = |s| report.files.iter().filter(|f| f.status == s).count();
    let fetched = |f: &&oci_dl::FileReport| {
        matches!(
            f.status,
            FileStatus::Downloaded
                | FileStatus::Resumed
                | FileStatus::Cached
                | FileStatus::Extracted
        )
    };
    let bytes = total(report.files.iter().filter(fetched).map(|f| f.size));
    let mut line = format!("pulled {} file(s)", report.files.iter().filter(fetched).count());
    if count(FileStatus::Extracted) > 0 {
        line.push_str(&format!(" ({} unpacked)", count(FileStatus::Extracted)));
    }
    if count(FileStatus::Cached) > 0 {
        line.push_str(&format!(" ({} from the cache)", count(FileStatus::Cached)));
    }
    if count(FileStatus::Resumed) > 0 {
        line.push_str(&format!(" ({} resumed)", count(FileStatus::Resumed)));
    }
    if count(FileStatus::UpToDate) > 0 {
        line.push_str(&format!(", {} already up to date", count(FileStatus::UpToDate)));
    }
    if count(FileStatus::Skipped) > 0 {
        line.push_str(&format!(", {} skipped", count(FileStatus::Skipped)));
    }
    let dest = match &req.output {
        Output::Stdout => "stdout".to_owned(),
        Output::Dir(d) => d.display().to_string(),
    };
    line.push_str(&format!(
        ", {} in {secs:.1}s ({}/s) into {dest}",
        HumanBytes(bytes),
        HumanBytes((bytes as f64 / secs.max(0.001)) as u64),
    ));
    line
}

/// The `--json` document.
fn document(req: &PullRequest, report: &PullReport, secs: f64) -> serde_json::Value {
    let m = &report.manifest;
    let count = |s| report.files.iter().filter(|f| f.status == s).count();
    json!({
        "reference": req.reference.to_string(),
        "registry": req.reference.registry(),
        "repository": req.reference.repository(),
        "digest": m.descriptor.digest.to_string(),
        "media_type": m.descriptor.media_type,
        "platform": m.platform.as_ref().map(|p| p.to_string()),
        "platforms": platforms_of(report),
        "output": req.output.dir(),
        "files": report.files,
        "totals": {
            "files": report.files.len(),
            "bytes": total(report.files.iter().map(|f| f.size)),
            "downloaded": count(FileStatus::Downloaded),
            "resumed": count(FileStatus::Resumed),
            "up_to_date": count(FileStatus::UpToDate),
            "skipped": count(FileStatus::Skipped),
            "planned": count(FileStatus::Planned),
            "extracted": count(FileStatus::Extracted),
            "cached": count(FileStatus::Cached),
        },
        "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
    })
}

/// A platform on one line of `--dry-run` (its Display escapes control characters, tabs too).
fn plain(p: &Platform) -> String {
    super::escape::escape(&p.to_string()).into_owned()
}

/// In a pull of several platforms, the platforms that files came from, in order; else null.
fn platforms_of(report: &PullReport) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for p in report.files.iter().filter_map(|f| f.platform.as_ref()) {
        if !out.contains(&p.to_string()) {
            out.push(p.to_string());
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The `--json` document of a failed pull: the error that decides the exit code (as the error
/// line says it), and every failure on its own (each layer's when several failed).
pub(super) fn failure_document(args: &PullArgs, e: &anyhow::Error, secs: f64) -> serde_json::Value {
    let one = |e: &oci_dl::Error| {
        json!({
            "layer": e.layer(),
            "kind": e.kind(),
            "exit_code": super::exit::code(e.kind()),
            "message": super::hints::render(e),
        })
    };
    let engine = e.chain().find_map(|e| e.downcast_ref::<oci_dl::Error>());
    let reference =
        parse_reference(&args.reference).map_or(args.reference.clone(), |r| r.to_string());
    json!({
        "reference": reference,
        "output": args.output.dir(),
        "error": super::exit::error_json(e),
        "errors": match engine {
            Some(e) => e.errors().iter().map(one).collect(),
            None => vec![super::exit::error_json(e)],
        },
        "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
    })
}
