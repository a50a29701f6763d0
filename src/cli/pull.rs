//! `oci-dl pull`: args → [`oci_dl::PullRequest`] → [`oci_dl::pull`] → summary.

use std::path::PathBuf;

use clap::Args;
use indicatif::HumanBytes;
use oci_dl::{FileStatus, Filter, Platform, PullRequest};

use super::progress::{Mode, View};
use super::{Global, OverwriteArg, parse_reference};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
    pub reference: String,
    /// Directory to write into (created if missing).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Platform to pick from an index, OS/ARCH[/VARIANT] [default: this machine's].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Select layers whose name matches PATTERN; any of several may match.
    #[arg(short, long = "glob", value_name = "PATTERN")]
    pub globs: Vec<String>,
    /// Select layers whose name matches RE; all of several must match.
    #[arg(short, long = "regex", value_name = "RE")]
    pub regexes: Vec<String>,
    /// Names must contain one of these keywords; each use of the flag is a group that must match.
    #[arg(long, value_name = "KW[,KW…]")]
    pub include: Vec<String>,
    /// Names must contain none of these keywords.
    #[arg(long, value_name = "KW[,KW…]")]
    pub exclude: Vec<String>,
    /// Select layers by media type (globs allowed).
    #[arg(long = "media-type", value_name = "TYPE")]
    pub media_types: Vec<String>,
    /// Match names and keywords case-sensitively.
    #[arg(long)]
    pub case_sensitive: bool,
    /// Save each layer under the last component of its title.
    #[arg(long)]
    pub flatten: bool,
    /// When a file exists with other content [default: prompt at a terminal, else error].
    #[arg(long, value_enum, value_name = "POLICY")]
    pub overwrite: Option<OverwriteArg>,
    /// Layers downloaded at once.
    #[arg(short, long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

fn groups(v: &[String]) -> Vec<Vec<String>> {
    v.iter()
        .map(|g| g.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
        .collect()
}

pub fn run(args: &PullArgs, global: &Global) -> anyhow::Result<()> {
    let reference = parse_reference(&args.reference)?;
    let platform = args.platform.as_deref().map(str::parse::<Platform>).transpose()?;
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
    };
    let view = View::new(Mode::detect(global.quiet), global.verbose);
    let result = oci_dl::pull(&req, &opts, view.clone());
    view.finish();
    let report = result?;
    let secs = view.elapsed().as_secs_f64();
    let count = |s| report.files.iter().filter(|f| f.status == s).count();
    let bytes: u64 =
        report.files.iter().filter(|f| f.status == FileStatus::Downloaded).map(|f| f.size).sum();
    let mut line = format!("pulled {} file(s)", count(FileStatus::Downloaded));
    if count(FileStatus::UpToDate) > 0 {
        line.push_str(&format!(", {} already up to date", count(FileStatus::UpToDate)));
    }
    if count(FileStatus::Skipped) > 0 {
        line.push_str(&format!(", {} skipped", count(FileStatus::Skipped)));
    }
    line.push_str(&format!(
        ", {} in {secs:.1}s ({}/s) into {}",
        HumanBytes(bytes),
        HumanBytes((bytes as f64 / secs.max(0.001)) as u64),
        req.output.display()
    ));
    view.say(&line);
    Ok(())
}
