//! `oci-dl pull`: args → [`oci_dl::PullRequest`] → [`oci_dl::pull`] → summary or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::HumanBytes;
use oci_dl::{FileStatus, Filter, Output, Platform, PullReport, PullRequest};
use serde_json::json;

use super::{Global, OverwriteArg, parse_reference};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
    pub reference: String,
    /// Platform to pick from an index [default: this machine's].
    ///
    /// OS/ARCH[/VARIANT][:OS_VERSION], as crane and oras write it.
    #[arg(long, value_name = "PLATFORM", help_heading = "Selection")]
    pub platform: Option<String>,
    /// Select names matching PATTERN; any of several.
    ///
    /// `*` also crosses `/`; case-insensitive unless --case-sensitive.
    #[arg(short, long = "glob", value_name = "PATTERN", help_heading = "Selection")]
    pub globs: Vec<String>,
    /// Select names matching RE; all of several.
    #[arg(short, long = "regex", value_name = "RE", help_heading = "Selection")]
    pub regexes: Vec<String>,
    /// Names must hold one of these; each use a group.
    ///
    /// Each use of the flag is a group, and every group must have a keyword in the name.
    #[arg(long, value_name = "KW[,KW…]", help_heading = "Selection")]
    pub include: Vec<String>,
    /// Names must contain none of these keywords.
    #[arg(long, value_name = "KW[,KW…]", help_heading = "Selection")]
    pub exclude: Vec<String>,
    /// Select layers by media type (globs allowed).
    #[arg(long = "media-type", value_name = "TYPE", help_heading = "Selection")]
    pub media_types: Vec<String>,
    /// Match names and keywords case-sensitively.
    #[arg(long, help_heading = "Selection", hide_short_help = true)]
    pub case_sensitive: bool,
    /// Directory to write into, or - for stdout.
    ///
    /// The directory is created if missing; `-` streams the one selected layer to stdout.
    #[arg(short, long, value_name = "DIR", default_value = ".", value_parser = parse_output,
        value_hint = clap::ValueHint::DirPath, help_heading = "Output")]
    pub output: Output,
    /// Save each layer under the last component of its title.
    #[arg(long, help_heading = "Output", hide_short_help = true)]
    pub flatten: bool,
    /// When a file exists with other content.
    ///
    /// [default: prompt at a terminal, else error]
    #[arg(long, value_enum, value_name = "POLICY", help_heading = "Output")]
    pub overwrite: Option<OverwriteArg>,
    /// Connections at once.
    ///
    /// Layers, or ranges of a big blob on a slow link, from one shared queue.
    #[arg(short, long, visible_alias = "concurrency", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Network")]
    pub jobs: u16,
    /// Print one JSON document about the pull on stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// List what would be pulled; write nothing.
    #[arg(long, help_heading = "Output")]
    pub dry_run: bool,
    /// Unpack archives, told by their bytes.
    ///
    /// tar, tar.gz/.zst/.xz/.bz2, zip, single .gz/.zst/.xz/.bz2; an image becomes its root
    /// filesystem.
    #[arg(short = 'x', long, help_heading = "Extraction")]
    pub extract: bool,
    /// Unpack into DIR instead of the output directory.
    #[arg(long, value_name = "DIR", requires = "extract", help_heading = "Extraction")]
    pub extract_to: Option<PathBuf>,
    /// Keep downloaded archives next to what was unpacked from them.
    #[arg(long, help_heading = "Extraction", hide_short_help = true)]
    pub keep_archive: bool,
    /// Keep layers that oras marked for unpacking (pushed directories) as archives.
    #[arg(long, help_heading = "Extraction", hide_short_help = true)]
    pub no_unpack: bool,
    /// Refuse an archive that unpacks to more than SIZE (e.g. 10G) [default: 100 × the
    /// archive, at least 16 MiB, at most 64 GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Extraction", hide_short_help = true)]
    pub max_unpacked_size: Option<u64>,
    /// Refuse unless signed with this public key.
    ///
    /// A minisign key (minisign.pub, or its base64 line) or a cosign.pub (PEM, ECDSA P-256); a
    /// file, or env:VAR. Repeatable.
    #[arg(long = "verify-key", value_name = "KEY", help_heading = "Verification")]
    pub verify_keys: Vec<String>,
    /// Also pull the newest referrer of artifact TYPE.
    ///
    /// Its files go into the output directory: an SBOM such as application/spdx+json, an
    /// attestation.
    #[arg(long, value_name = "TYPE", help_heading = "Referrers")]
    pub referrer: Option<String>,
    /// With --referrer: pull only the referrer's files, not the subject's.
    #[arg(long, requires = "referrer", help_heading = "Referrers", hide_short_help = true)]
    pub no_subject: bool,
}

/// `-` is stdout, anything else a directory: decided here, once, never by comparing paths later.
fn parse_output(s: &str) -> Result<Output, String> {
    match s {
        "-" => Ok(Output::Stdout),
        "" => Err("an empty output directory".into()),
        d => Ok(Output::Dir(PathBuf::from(d))),
    }
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    oci_dl::parse_size(s).map_err(|e| e.to_string())
}

fn groups(v: &[String]) -> Vec<Vec<String>> {
    v.iter()
        .map(|g| g.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
        .collect()
}

pub fn run(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let result = pull(args, global);
    // Every failure, not only a layer's: scripts read `error` instead of parsing stderr.
    if args.json
        && let Err(e) = &result
    {
        let mut out = std::io::stdout().lock();
        let secs = started.elapsed().as_secs_f64();
        serde_json::to_writer_pretty(&mut out, &failure_document(args, e, secs))?;
        writeln!(out)?;
    }
    result
}

fn pull(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
    let to_stdout = args.output == Output::Stdout;
    if to_stdout && args.json {
        return Err(super::usage("--json and -o - both want stdout; pick one").into());
    }
    if to_stdout && args.extract {
        return Err(
            super::usage("--extract writes files; use -o DIR, or pipe -o - into tar").into()
        );
    }
    if to_stdout && args.referrer.is_some() {
        return Err(super::usage("--referrer writes files; use -o DIR").into());
    }
    let opts = global.client_options()?;
    let req = PullRequest {
        reference,
        platform,
        output: args.output.clone(),
        filter: Filter {
            globs: args.globs.clone(),
            regexes: args.regexes.clone(),
            include: groups(&args.include),
            exclude: groups(&args.exclude),
            media_types: args.media_types.clone(),
            case_sensitive: args.case_sensitive,
        },
        flatten: args.flatten,
        overwrite: OverwriteArg::resolve(args.overwrite),
        jobs: usize::from(args.jobs),
        dry_run: args.dry_run,
        extract: oci_dl::ExtractOptions {
            extract: args.extract,
            to: args.extract_to.clone(),
            keep_archive: args.keep_archive,
            oras_unpack: !args.no_unpack,
            max_unpacked: args.max_unpacked_size,
        },
        referrer: args
            .referrer
            .clone()
            .map(|t| oci_dl::ReferrerPull { artifact_type: t, with_subject: !args.no_subject }),
        verify: args
            .verify_keys
            .iter()
            .map(|k| oci_dl::VerifyKey::load(k))
            .collect::<Result<_, _>>()?,
    };
    let view = global.view();
    let result = if to_stdout && !args.dry_run {
        let mut out = std::io::stdout().lock();
        let r = oci_dl::pull_stream(&req, &mut out, &opts, view.clone());
        out.flush().context("write to stdout")?;
        r
    } else {
        oci_dl::pull(&req, &opts, view.clone())
    };
    view.finish();
    let secs = view.elapsed().as_secs_f64();
    let report = result.map_err(|e| {
        let interrupted = e.kind() == oci_dl::ErrorKind::Interrupted;
        let kept = (!to_stdout).then(|| view.partials_kept());
        let e = anyhow::Error::new(e);
        if interrupted { e.context(super::exit::Interrupted { kept }) } else { e }
    })?;
    tell(args, &req, &report, &*view, secs)
}

/// What a finished pull prints: the JSON document, the dry run's list, or the summary line;
/// and under GitHub Actions its step outputs and job summary.
fn tell(
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
            println!("{}\t{}\t{}", f.digest, f.size, super::escape::escape(&path));
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
fn total(sizes: impl Iterator<Item = u64>) -> u64 {
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

/// The `--json` document of a failed pull: the error that decides the exit code (as the error
/// line says it), and every failure on its own (each layer's when several failed).
fn failure_document(args: &PullArgs, e: &anyhow::Error, secs: f64) -> serde_json::Value {
    let one = |e: &oci_dl::Error| {
        json!({
            "layer": e.layer(),
            "kind": e.kind(),
            "exit_code": super::exit::code(e.kind()),
            "message": e.to_string_full(),
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
