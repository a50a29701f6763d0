//! `oci-dl pull`: args → [`oci_dl::PullRequest`] → [`oci_dl::pull`] → summary or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::HumanBytes;
use oci_dl::{FileStatus, Filter, Output, Platform, Platforms, PullReport, PullRequest};
use serde_json::json;

use super::{Global, OverwriteArg, parse_reference};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: [REGISTRY/]REPOSITORY[:TAG][@DIGEST] (with --oci-layout: DIR:TAG or DIR@DIGEST).
    pub reference: String,
    /// Read REF as an OCI image layout on this machine (DIR:TAG or DIR@DIGEST), not a registry:
    /// the air-gapped install, every blob verified as from a registry.
    #[arg(long, help_heading = "Selection")]
    pub oci_layout: bool,
    /// Platform to pick from an index, OS/ARCH[/VARIANT][:OS_VERSION] [default: this machine's].
    /// Repeat it, or say `all`, to pull several, each into DIR/OS-ARCH[-VARIANT][-OS_VERSION].
    #[arg(long, value_name = "PLATFORM", help_heading = "Selection")]
    pub platform: Vec<String>,
    /// Select layers whose name matches PATTERN; any of several may match.
    #[arg(short, long = "glob", value_name = "PATTERN", help_heading = "Selection")]
    pub globs: Vec<String>,
    /// Select layers whose name matches RE; all of several must match.
    #[arg(short, long = "regex", value_name = "RE", help_heading = "Selection")]
    pub regexes: Vec<String>,
    /// Names must contain one of these keywords; each use of the flag is a group that must match.
    #[arg(long, value_name = "KW[,KW…]", help_heading = "Selection")]
    pub include: Vec<String>,
    /// Names must contain none of these keywords.
    #[arg(long, value_name = "KW[,KW…]", help_heading = "Selection")]
    pub exclude: Vec<String>,
    /// Select layers by media type (globs allowed).
    #[arg(long = "media-type", value_name = "TYPE", help_heading = "Selection")]
    pub media_types: Vec<String>,
    /// Match names and keywords case-sensitively.
    #[arg(long, help_heading = "Selection")]
    pub case_sensitive: bool,
    /// Directory to write into (created if missing), or `-` to stream the one selected layer to stdout.
    #[arg(short, long, value_name = "DIR", default_value = ".", value_parser = parse_output,
        value_hint = clap::ValueHint::DirPath, help_heading = "Output")]
    pub output: Output,
    /// Save each layer under the last component of its title.
    #[arg(long, help_heading = "Output")]
    pub flatten: bool,
    /// When a file exists with other content [default: prompt at a terminal, else error].
    #[arg(long, value_enum, value_name = "POLICY", help_heading = "Output")]
    pub overwrite: Option<OverwriteArg>,
    /// Connections at once: layers, or ranges of a big blob on a slow link.
    #[arg(short, long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Network")]
    pub jobs: u16,
    /// Print one JSON document describing the pull on stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Resolve and filter, list what would be pulled, write nothing.
    #[arg(long, help_heading = "Output")]
    pub dry_run: bool,
    /// Unpack archive layers (tar, tar.gz/.zst/.xz/.bz2, zip, single .gz/.zst/.xz/.bz2, told by
    /// their bytes); an image becomes its root filesystem.
    #[arg(short = 'x', long, help_heading = "Extraction")]
    pub extract: bool,
    /// Unpack into DIR instead of the output directory.
    #[arg(long, value_name = "DIR", requires = "extract", help_heading = "Extraction")]
    pub extract_to: Option<PathBuf>,
    /// Keep downloaded archives next to what was unpacked from them.
    #[arg(long, help_heading = "Extraction")]
    pub keep_archive: bool,
    /// Keep layers that oras marked for unpacking (pushed directories) as archives.
    #[arg(long, help_heading = "Extraction")]
    pub no_unpack: bool,
    /// Refuse an archive that unpacks to more than SIZE (e.g. 10G) [default: 100 × the
    /// archive, at least 16 MiB, at most 64 GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Extraction")]
    pub max_unpacked_size: Option<u64>,
    /// Refuse unless signed with this public key: a minisign key (minisign.pub, or its base64
    /// line) or a cosign.pub (PEM, ECDSA P-256); a file, or env:VAR. Repeatable.
    #[arg(long = "verify-key", value_name = "KEY", help_heading = "Verification")]
    pub verify_keys: Vec<String>,
    #[command(flatten)]
    pub keyless: super::keyless::KeylessArgs,
    /// Also pull the files of the newest referrer of artifact TYPE (an SBOM such as
    /// application/spdx+json, an attestation) into the output directory.
    #[arg(long, value_name = "TYPE", help_heading = "Referrers")]
    pub referrer: Option<String>,
    /// With --referrer: pull only the referrer's files, not the subject's.
    #[arg(long, requires = "referrer", help_heading = "Referrers")]
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

/// `--platform` as given: none (the host's), one, several, or `all` (alone).
fn platforms(args: &[String]) -> anyhow::Result<Platforms> {
    Ok(match args {
        [] => Platforms::Host,
        [all] if all == "all" => Platforms::All,
        [one] => Platforms::One(one.parse()?),
        many if many.iter().any(|p| p == "all") => {
            return Err(super::usage("--platform all takes every platform: give it alone").into());
        }
        many => Platforms::Each(many.iter().map(|p| p.parse()).collect::<Result<_, _>>()?),
    })
}

fn groups(v: &[String]) -> Vec<Vec<String>> {
    v.iter()
        .map(|g| g.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
        .collect()
}

/// `DIR:TAG` or `DIR@DIGEST` of `--oci-layout`: the layout as a store, and the reference the
/// engine pulls from it.
fn layout_reference(s: &str) -> anyhow::Result<(oci_dl::Store, oci_dl::Reference)> {
    let (dir, reference) = match s.rsplit_once('@') {
        Some((dir, digest)) => (dir, format!("layout@{digest}")),
        None => match s.rsplit_once(':').filter(|(_, t)| !t.is_empty() && !t.contains('/')) {
            Some((dir, tag)) => (dir, format!("layout:{tag}")),
            None => {
                return Err(super::usage(format!(
                    "--oci-layout {s:?}: name a tag or digest in the layout, DIR:TAG or DIR@DIGEST"
                ))
                .into());
            }
        },
    };
    let store = oci_dl::Store::layout(std::path::Path::new(dir))?;
    let reference = oci_dl::Reference::parse_with_default(&reference, "oci-layout")
        .map_err(|e| super::usage(format!("--oci-layout {s:?}: {e}")))?;
    Ok((store, reference))
}

pub fn run(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    let mut layout = None;
    let reference = if args.oci_layout {
        let (store, reference) = layout_reference(&args.reference)?;
        layout = Some(store);
        reference
    } else {
        parse_reference(&args.reference)?
    };
    let platforms = platforms(&args.platform)?;
    let to_stdout = args.output == Output::Stdout;
    if platforms.is_several() && (to_stdout || args.referrer.is_some()) {
        let what = if to_stdout { "-o -" } else { "--referrer" };
        return Err(super::usage(format!(
            "several platforms go each into a directory of its own: not with {what}"
        ))
        .into());
    }
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
    let mut opts = global.client_options()?;
    if layout.is_some() {
        if global.offline {
            return Err(super::usage("--oci-layout reads a layout: not with --offline").into());
        }
        opts.store = layout;
    }
    let req = PullRequest {
        reference,
        platforms,
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
        keyless: args.keyless.signer()?,
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
    let report = match result {
        Ok(r) => r,
        // Layers failed: the report lists each failure (an error before any layer has none).
        Err(e) if args.json && e.errors().iter().any(|x| x.layer().is_some()) => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &failure_document(&req, &e, secs))?;
            writeln!(out)?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document(&req, &report, secs))?;
        writeln!(out)?;
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
        let bytes: u64 = report.files.iter().map(|f| f.size).sum();
        let (n, bytes) = (report.files.len(), HumanBytes(bytes));
        view.say(&match &req.output {
            Output::Dir(d) => format!("would pull {n} file(s), {bytes} into {}", d.display()),
            Output::Stdout => format!("would stream {n} file(s), {bytes} to stdout"),
        });
        return Ok(());
    }
    view.say(&summary(&report, secs, &req));
    Ok(())
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
    let bytes: u64 = report.files.iter().filter(fetched).map(|f| f.size).sum();
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
            "bytes": report.files.iter().map(|f| f.size).sum::<u64>(),
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

/// The `--json` document of a failed pull: the error that decides the exit code, and every
/// failure on its own (each layer's when several failed), as the engine kept them.
fn failure_document(req: &PullRequest, e: &oci_dl::Error, secs: f64) -> serde_json::Value {
    let one = |e: &oci_dl::Error| {
        json!({
            "layer": e.layer(),
            "kind": e.kind(),
            "exit_code": super::exit::code(e.kind()),
            "message": e.to_string_full(),
        })
    };
    json!({
        "reference": req.reference.to_string(),
        "output": req.output.dir(),
        "error": {
            "kind": e.kind(),
            "exit_code": super::exit::code(e.kind()),
            "message": e.to_string(),
        },
        "errors": e.errors().iter().map(one).collect::<Vec<_>>(),
        "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
    })
}
