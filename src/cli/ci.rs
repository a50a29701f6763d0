//! CI-native output, chosen by the variables the runners set and nothing else:
//!
//! - GitHub Actions (`GITHUB_ACTIONS=true`): the per-file lines inside `::group::`/`::endgroup::`,
//!   warnings and errors as `::warning::`/`::error::` annotations, a Markdown table of what was
//!   pulled appended to `$GITHUB_STEP_SUMMARY`, and the step outputs `digest`, `files` and
//!   `output` appended to `$GITHUB_OUTPUT`. Formats: "Workflow commands for GitHub Actions"
//!   (docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands), data escaped
//!   as actions/toolkit's `escapeData` does (`packages/core/src/command.ts`).
//! - GitLab CI (`GITLAB_CI=true`): the per-file lines in a collapsible section
//!   (`section_start:`/`section_end:`, docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections).
//!
//! The runner reads workflow commands from stderr as from stdout; stdout stays data.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use indicatif::HumanBytes;
use oci_dl::{PullReport, PullRequest};

use super::escape::escape;

/// Which CI's conventions the output follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// Plain lines.
    None,
    /// GitHub Actions.
    GitHub,
    /// GitLab CI.
    GitLab,
}

/// The GitLab section the per-file lines go in (`[a-zA-Z0-9_.-]`, as GitLab requires).
const SECTION: &str = "oci_dl_pull";

impl Ci {
    /// From the environment: `GITHUB_ACTIONS=true` or `GITLAB_CI=true`, as the runners set them.
    pub fn detect() -> Ci {
        let set = |k: &str| std::env::var(k).is_ok_and(|v| v == "true");
        if set("GITHUB_ACTIONS") {
            Ci::GitHub
        } else if set("GITLAB_CI") {
            Ci::GitLab
        } else {
            Ci::None
        }
    }

    /// The line that opens a collapsible group titled `title` (already terminal-safe).
    pub fn group_start(self, title: &str) -> Option<String> {
        match self {
            Ci::None => None,
            Ci::GitHub => Some(format!("::group::{}", escape_data(title))),
            Ci::GitLab => Some(format!(
                "\x1b[0Ksection_start:{}:{SECTION}[collapsed=true]\r\x1b[0K{title}",
                unix_now()
            )),
        }
    }

    /// The line that closes the group [`Ci::group_start`] opened.
    pub fn group_end(self) -> Option<String> {
        match self {
            Ci::None => None,
            Ci::GitHub => Some("::endgroup::".to_owned()),
            Ci::GitLab => Some(format!("\x1b[0Ksection_end:{}:{SECTION}\r\x1b[0K", unix_now())),
        }
    }

    /// `message` as an annotation of `level` (`warning` or `error`) where the CI has them.
    pub fn annotation(self, level: &str, message: &str) -> Option<String> {
        (self == Ci::GitHub)
            .then(|| format!("::{level} title=oci-dl::{}", escape_data(&escape(message))))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A workflow command's data: `%`, CR and LF encoded, so that a message can neither end the
/// command early nor start another on a new line (actions/toolkit `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Text for a Markdown table cell: terminal-safe, every ASCII punctuation character
/// backslash-escaped (CommonMark allows it for all of them), so that a title can add no link,
/// image, HTML or column.
fn markdown(s: &str) -> String {
    let mut out = String::new();
    for c in escape(s).chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// After a pull under GitHub Actions: the job summary table and the step outputs, appended to
/// the files the runner names. Nothing when the variables are unset (a step run by hand).
pub fn github_report(req: &PullRequest, report: &PullReport) -> anyhow::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        append(Path::new(&path), &summary(req, report))?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        let files: Vec<String> =
            report.files.iter().map(|f| f.path.display().to_string()).collect();
        let mut text = output("digest", &report.manifest.descriptor.digest.to_string());
        text += &output("files", &serde_json::to_string(&files)?);
        if let Some(dir) = req.output.dir() {
            text += &output("output", &dir.display().to_string());
        }
        append(Path::new(&path), &text)?;
    }
    Ok(())
}

/// A layout pull's step outputs: `digest` (of the manifest its entry names), `output` (the
/// layout or archive) and `tag` when there is one, for a later step's `skopeo copy oci:…` or
/// `oci-dl pull --oci-layout …`.
pub fn github_layout_outputs(digest: &str, dest: &Path, tag: Option<&str>) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT") else { return Ok(()) };
    let mut text = output("digest", digest);
    text += &output("output", &dest.display().to_string());
    if let Some(t) = tag {
        text += &output("tag", t);
    }
    append(Path::new(&path), &text)
}

fn summary(req: &PullRequest, report: &PullReport) -> String {
    let signed = if req.verify.is_empty() { "no" } else { "verified" };
    let mut md = format!(
        "### oci-dl pull {}\n\n`{}`\n\n| file | size | digest | status | signature |\n|---|---:|---|---|---|\n",
        markdown(&req.reference.to_string()),
        report.manifest.descriptor.digest
    );
    for f in &report.files {
        let status = serde_json::to_value(f.status).ok();
        let status = status.as_ref().and_then(|v| v.as_str()).unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | `{}` | {status} | {signed} |",
            markdown(&f.path.display().to_string()),
            HumanBytes(f.size),
            f.digest
        );
    }
    md.push('\n');
    md
}

/// `name<<DELIMITER`, the value, `DELIMITER`: GitHub's form for any value, multi-line or not.
/// The delimiter is one the value does not hold.
fn output(name: &str, value: &str) -> String {
    let mut delimiter = format!("ghadelimiter_{}", std::process::id());
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("open {} (from GitHub Actions)", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_data_cannot_end_or_start_a_command() {
        assert_eq!(escape_data("100% done\r\n::error::x"), "100%25 done%0D%0A::error::x");
        assert_eq!(
            Ci::GitHub.annotation("warning", "two\nlines 5%").unwrap(),
            "::warning title=oci-dl::two\\x0alines 5%25"
        );
        assert_eq!(Ci::None.annotation("error", "x"), None);
        assert_eq!(Ci::GitLab.annotation("error", "x"), None);
    }

    #[test]
    fn markdown_cells_hold_text_only() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("![x](http://e/)"), "\\!\\[x\\]\\(http\\:\\/\\/e\\/\\)");
        assert_eq!(markdown("<img>"), "\\<img\\>");
    }

    #[test]
    fn outputs_use_a_delimiter_the_value_lacks() {
        let id = std::process::id();
        let v = format!("x\nghadelimiter_{id}\ny");
        let out = output("files", &v);
        assert!(out.starts_with(&format!("files<<ghadelimiter_{id}_\n")), "{out}");
        assert!(out.ends_with(&format!("\nghadelimiter_{id}_\n")), "{out}");
    }
}
