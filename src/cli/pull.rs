//! `oci-dl pull`: args → [`oci_dl::PullRequest`] → [`oci_dl::pull`] → summary or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use oci_dl::{Filter, Output, Platforms, PullRequest};

use super::{Global, OverwriteArg, parse_reference};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
    ///
    /// With --oci-layout: DIR:TAG or DIR@DIGEST.
    pub reference: String,
    /// Read REF as an OCI image layout on this machine, not a registry.
    ///
    /// DIR:TAG or DIR@DIGEST: the air-gapped install, every blob verified as from a registry.
    #[arg(long, help_heading = "Selection", hide_short_help = true)]
    pub oci_layout: bool,
    /// Platform to pick from an index [default: this machine's].
    ///
    /// OS/ARCH[/VARIANT][:OS_VERSION], as crane and oras write it. Repeat it, or say `all`, to
    /// pull several, each into DIR/OS-ARCH[-VARIANT][-OS_VERSION].
    #[arg(long, value_name = "PLATFORM", help_heading = "Selection")]
    pub platform: Vec<String>,
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
    /// The directory is created if missing; `-` streams the one selected layer to stdout; with
    /// --format oci-archive, the tar file.
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
    /// What to write: files, an OCI image layout, or a tar of one.
    ///
    /// files: each layer as a file (or unpacked); oci-layout: an OCI image layout directory
    /// (-o DIR) of every manifest and blob pulled; oci-archive: that layout as one tar
    /// (-o FILE.tar).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "files",
        help_heading = "Output"
    )]
    pub format: super::layout::FormatArg,
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
    #[command(flatten)]
    pub keyless: super::keyless::KeylessArgs,
    /// Also pull the newest referrer of artifact TYPE.
    ///
    /// Its files go into the output directory: an SBOM such as application/spdx+json, an
    /// attestation.
    #[arg(long, value_name = "TYPE", help_heading = "Referrers")]
    pub referrer: Option<String>,
    /// With --referrer: pull only the referrer's files, not the subject's.
    #[arg(long, requires = "referrer", help_heading = "Referrers", hide_short_help = true)]
    pub no_subject: bool,
    /// With --format oci-layout|oci-archive: also store what is attached.
    ///
    /// Signatures, SBOMs and attestations (referrers, cosign's tags), for checks made later
    /// without the registry.
    #[arg(long, help_heading = "Referrers", hide_short_help = true)]
    pub include_referrers: bool,
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

/// The engine's request for these arguments, built through the public API as any library user
/// builds it.
fn request(
    args: &PullArgs,
    reference: oci_dl::Reference,
    platforms: Platforms,
) -> Result<PullRequest, oci_dl::Error> {
    let mut filter = Filter::default();
    filter.globs = args.globs.clone();
    filter.regexes = args.regexes.clone();
    filter.include = groups(&args.include);
    filter.exclude = groups(&args.exclude);
    filter.media_types = args.media_types.clone();
    filter.case_sensitive = args.case_sensitive;
    let mut extract = oci_dl::ExtractOptions::default();
    extract.extract = args.extract;
    extract.to = args.extract_to.clone();
    extract.keep_archive = args.keep_archive;
    extract.oras_unpack = !args.no_unpack;
    extract.max_unpacked = args.max_unpacked_size;
    let mut req = PullRequest::new(reference, std::path::PathBuf::new())
        .platforms(platforms)
        .filter(filter)
        .flatten(args.flatten)
        .overwrite(OverwriteArg::resolve(args.overwrite))
        .jobs(usize::from(args.jobs))
        .dry_run(args.dry_run)
        .extract(extract);
    req.output = args.output.clone();
    if let Some(t) = &args.referrer {
        req = req.referrer(oci_dl::ReferrerPull::new(t.clone(), !args.no_subject));
    }
    for k in &args.verify_keys {
        req = req.verify_key(super::verify_key(k)?);
    }
    if let Some(signer) = args.keyless.signer()? {
        req = req.keyless(signer);
    }
    Ok(req)
}

/// `DIR:TAG` or `DIR@DIGEST` of `--oci-layout`: the layout as a store, and the reference the
/// engine pulls from it.
pub(super) fn layout_reference(s: &str) -> anyhow::Result<(oci_dl::Store, oci_dl::Reference)> {
    // An `@` names a digest only when a digest (or something meant as one) follows it: a
    // directory's own name may hold an `@` (`releases@2026/layout:v1`).
    let digest_after = |d: &str| {
        d.parse::<oci_dl::Digest>().is_ok() || d.starts_with("sha256:") || d.starts_with("sha512:")
    };
    let (dir, reference) = match s.rsplit_once('@').filter(|(_, d)| digest_after(d)) {
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
    let started = std::time::Instant::now();
    let result = pull(args, global);
    // Every failure, not only a layer's: scripts read `error` instead of parsing stderr.
    if args.json
        && let Err(e) = &result
    {
        let mut out = std::io::stdout().lock();
        let secs = started.elapsed().as_secs_f64();
        serde_json::to_writer_pretty(&mut out, &super::report::failure_document(args, e, secs))?;
        writeln!(out)?;
    }
    result
}

fn pull(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    if args.format != super::layout::FormatArg::Files || args.include_referrers {
        return super::layout::run(args, global);
    }
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
    let req = request(args, reference, platforms)?;
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
    super::report::tell(args, &req, &report, &*view, secs)
}
