//! CI-native output, read as the CI reads it. GitHub Actions: workflow commands on the log's
//! lines, and the files `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` parsed by the rules in
//! "Workflow commands for GitHub Actions" (docs.github.com/en/actions/reference/workflows-and-
//! actions/workflow-commands: "Setting an output parameter", "Multiline strings", "Adding a job
//! summary"). GitLab CI: `section_start`/`section_end` lines (docs.gitlab.com/ci/jobs/job_logs/).

use std::collections::BTreeMap;

use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

/// `$GITHUB_OUTPUT` as the runner reads it: `name=value` lines, or `name<<DELIMITER`, the value's
/// lines, and a line that is exactly `DELIMITER`.
fn github_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        } else {
            panic!("not an output line: {line:?}");
        }
    }
    out
}

/// `::command key=value::data` → (command, data decoded as the runner decodes it).
fn workflow_command(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix("::")?;
    let (head, data) = rest.split_once("::")?;
    let command = head.split(' ').next()?.to_owned();
    let data = data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%");
    Some((command, data))
}

fn fixture(reg: &registry::Registry, repo: &str) -> String {
    let p = Pusher::new(reg);
    let (one, body) =
        p.artifact(repo, "one", &[Layer::titled("a.txt", "a"), Layer::titled("b/b.bin", "bb")]);
    // Two entries for one platform: resolving warns, which a CI shows as an annotation.
    p.index(repo, "v1", &[("linux/amd64", &one, body.len()), ("linux/amd64", &one, body.len())]);
    format!("{}/{repo}:v1", reg.host)
}

#[test]
fn github_actions_gets_groups_annotations_a_summary_and_outputs() {
    let Some(reg) = registry::open() else { return };
    let r = fixture(reg, "test/ci-gh");
    let sb = Sandbox::new();
    let (summary, outputs) = (sb.path("summary.md"), sb.path("output.txt"));
    std::fs::write(&outputs, "earlier=kept\n").unwrap(); // the runner's file is appended to
    let run = Run::from(
        sb.cmd(&["pull", &r, "--platform", "linux/amd64", "-o", "out"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .output()
            .unwrap(),
    );
    run.ok();
    let lines: Vec<&str> = run.stderr.lines().collect();
    let commands: Vec<(String, String)> =
        lines.iter().filter_map(|l| workflow_command(l)).collect();
    let names: Vec<&str> = commands.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["warning", "group", "endgroup"], "{}", run.stderr);
    assert!(commands[0].1.contains("linux/amd64"), "the ambiguity warning: {}", commands[0].1);
    let open = lines.iter().position(|l| l.starts_with("::group::")).unwrap();
    let close = lines.iter().position(|l| *l == "::endgroup::").unwrap();
    for (i, l) in
        lines.iter().enumerate().filter(|(_, l)| l.starts_with("pulling ") || l.starts_with('✓'))
    {
        assert!(open < i && i < close, "per-file line {l:?} inside the group: {}", run.stderr);
    }
    assert!(lines.last().unwrap().starts_with("pulled 2 file(s)"), "the summary after the group");

    let digest =
        String::from_utf8(sb.run(&["digest", &r, "--platform", "linux/amd64"]).ok().stdout.clone())
            .unwrap();
    let o = github_outputs(&std::fs::read_to_string(&outputs).unwrap());
    assert_eq!(o["earlier"], "kept");
    assert_eq!(o["digest"], digest.trim());
    assert_eq!(o["output"], "out");
    let files: Vec<String> = serde_json::from_str(&o["files"]).unwrap();
    assert_eq!(files, ["out/a.txt", "out/b/b.bin"]);

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| file | size | digest | status | signature |"), "{md}");
    for (file, bytes) in [("a.txt", "a"), ("b/b.bin", "bb")] {
        let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, bytes.as_bytes());
        let cell = file.replace('.', "\\.").replace('/', "\\/");
        let row = md.lines().find(|l| l.contains(&format!("`{d}`"))).expect(&md);
        assert!(
            row.starts_with(&format!("| out\\/{cell} |")) && row.contains("| downloaded | no |"),
            "{row}"
        );
    }
}

#[test]
fn github_actions_failures_are_error_annotations() {
    let Some(reg) = registry::open() else { return };
    let sb = Sandbox::new();
    let missing = format!("{}/test/ci-none:v1", reg.host);
    let run =
        Run::from(sb.cmd(&["pull", &missing]).env("GITHUB_ACTIONS", "true").output().unwrap());
    assert_eq!(run.code, 3);
    let errors: Vec<(String, String)> =
        run.stderr.lines().filter_map(workflow_command).filter(|(c, _)| c == "error").collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(errors[0].1.contains("404"), "{}", errors[0].1);
    let usage = Run::from(
        sb.cmd(&["pull", "x/y:1", "--progres"]).env("GITHUB_ACTIONS", "true").output().unwrap(),
    );
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.starts_with("::error title=oci-dl::unexpected argument"),
        "{}",
        usage.stderr
    );
}

#[test]
fn gitlab_ci_gets_a_collapsible_section_and_nothing_ci_without_either() {
    let Some(reg) = registry::open() else { return };
    let r = fixture(reg, "test/ci-gl");
    let sb = Sandbox::new();
    let args = ["pull", &r, "--platform", "linux/amd64", "-o", "out"];
    let run = Run::from(sb.cmd(&args).env("GITLAB_CI", "true").output().unwrap());
    run.ok();
    let start = run.stderr.find("section_start:").expect(&run.stderr);
    let end = run.stderr.find("section_end:").expect(&run.stderr);
    let first = run.stderr.find("pulling a.txt").unwrap();
    assert!(start < first && first < end, "{:?}", run.stderr);
    let header = &run.stderr[start..];
    let header = header.lines().next().unwrap();
    let fields: Vec<&str> = header.split(':').collect();
    assert!(fields[1].parse::<u64>().is_ok(), "a unix time: {header:?}");
    assert!(
        fields[2].starts_with("oci_dl_pull[collapsed=true]\r\x1b[0Kpulling 2 file(s)"),
        "{header:?}"
    );

    let plain = sb.run(&["pull", &r, "--platform", "linux/amd64", "-o", "plain"]);
    plain.ok();
    assert!(!plain.stderr.contains("::") && !plain.stderr.contains("section_"), "{}", plain.stderr);
    assert!(plain.stderr.contains("warning: "), "{}", plain.stderr);
}
