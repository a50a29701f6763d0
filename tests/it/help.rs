//! What a newcomer reads: `-h` (a screenful), `--help` (everything, grouped), the man pages (the
//! same options under the same headings), and what a typo or a bare `oci-dl` answers.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::*;

const SUBCOMMANDS: [&str; 8] =
    ["pull", "manifest", "digest", "blob", "referrers", "tags", "cache", "completions"];

fn stdout(sb: &Sandbox, args: &[&str]) -> String {
    let run = sb.run(args);
    run.ok();
    String::from_utf8(run.stdout.clone()).unwrap()
}

/// `(HEADING, --long)` for every option in clap's help text.
fn help_options(help: &str) -> BTreeSet<(String, String)> {
    let mut heading = String::new();
    let mut out = BTreeSet::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            heading = line.trim_end_matches(':').to_uppercase();
        } else if let Some(long) = line.split_whitespace().find(|w| w.starts_with("--")) {
            // Only the option column, not a `--flag` named in a description.
            if line.starts_with("  -") || line.starts_with("      --") {
                out.insert((heading.clone(), long.trim_end_matches([',', '.']).to_owned()));
            }
        }
    }
    out
}

/// `(HEADING, --long)` for every option a man page lists (`.SH HEADING`, `.TP` then the flags).
fn man_options(page: &str) -> BTreeSet<(String, String)> {
    let mut heading = String::new();
    let mut out = BTreeSet::new();
    let mut after_tp = false;
    for line in page.lines() {
        if let Some(h) = line.strip_prefix(".SH ") {
            heading = h.trim().to_owned();
        } else if after_tp {
            let flags = line.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "");
            if let Some(long) = flags.split([',', ' ']).find(|w| w.starts_with("--")) {
                out.insert((heading.clone(), long.to_owned()));
            }
        }
        after_tp = line == ".TP";
    }
    out
}

#[test]
fn short_help_is_a_screenful_and_long_help_has_everything() {
    let sb = Sandbox::new();
    // At the classic 80 columns, where clap wraps the most.
    let run = Run::from(sb.cmd(&["pull", "-h"]).env("COLUMNS", "80").output().unwrap());
    let short = String::from_utf8(run.ok().stdout.clone()).unwrap();
    let long = stdout(&sb, &["pull", "--help"]);
    assert!(short.lines().count() <= 60, "pull -h is {} lines:\n{short}", short.lines().count());
    for common in ["--platform", "--glob", "--output", "--extract", "--json", "--username"] {
        assert!(short.contains(common), "-h shows {common}");
    }
    for advanced in ["--deadline", "--resolve", "--ca-file", "--no-cache", "--max-unpacked-size"] {
        assert!(!short.contains(advanced), "-h leaves {advanced} to --help");
        assert!(long.contains(advanced), "--help has {advanced}");
    }
    let (s, l) = (help_options(&short), help_options(&long));
    assert!(s.is_subset(&l), "-h shows a subset of --help, under the same headings");
    for heading in ["SELECTION", "OUTPUT", "NETWORK", "EXTRACTION", "DISPLAY", "AUTH", "CACHE"] {
        assert!(l.iter().any(|(h, _)| h == heading), "--help groups under {heading}: {l:?}");
    }
}

#[test]
fn each_man_page_lists_every_option_of_its_subcommand_under_the_help_headings() {
    let sb = Sandbox::new();
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(man.join(format!("oci-dl-{sub}.1"))).unwrap();
        let help = help_options(&stdout(&sb, &[sub, "--help"]));
        let listed = man_options(&page);
        let missing: Vec<_> = help.difference(&listed).collect();
        assert!(missing.is_empty(), "oci-dl-{sub}(1) lacks {missing:?}");
        let synopsis = page.lines().skip_while(|l| *l != ".SH SYNOPSIS").nth(1).unwrap();
        assert!(synopsis.starts_with(&format!("\\fBoci\\-dl {sub}\\fR")), "{synopsis}");
        assert!(!page.contains("\\-\\-version"), "oci-dl {sub} has no -V, nor does its page");
        sb.run(&[sub, "-V"]).fails(2, "unexpected argument '-V'");
    }
}

#[test]
fn a_typo_gets_a_suggestion_and_a_bare_call_the_usage() {
    let sb = Sandbox::new();
    sb.run(&["pull", "x/y:1", "--progres", "never"])
        .fails(2, "unexpected argument '--progres' found; a similar argument exists: '--progress'");
    sb.run(&["pul", "x/y:1"]).fails(2, "a similar subcommand exists: 'pull'");
    let bare = sb.run(&[]);
    assert_eq!(bare.code, 2, "a usage error");
    assert!(
        bare.stderr.starts_with("Usage: oci-dl [OPTIONS] <COMMAND>\n"),
        "the usage, not the description as an error: {}",
        bare.stderr
    );
    for sub in SUBCOMMANDS {
        assert!(bare.stderr.contains(&format!("\n  {sub} ")), "lists {sub}: {}", bare.stderr);
    }
    assert!(!bare.stderr.contains("generate-assets") && !bare.stderr.contains("--deadline"));
    assert!(bare.stderr.lines().count() < 20, "{}", bare.stderr);
    let cache = sb.run(&["cache"]);
    assert!(cache.code == 2 && cache.stderr.contains("\n  prune "), "{}", cache.stderr);
}

/// oras users reach for `--concurrency`: it is `-j`, and `-h` says so.
#[test]
fn concurrency_is_jobs() {
    let sb = Sandbox::new();
    assert!(stdout(&sb, &["pull", "-h"]).contains("[alias: --concurrency]"));
    sb.run(&["pull", "x/y:1", "--concurrency", "0"]).fails(2, "0 is not in 1..=64");
    sb.run(&["pull", "x/y:1", "--concurrency", "2", "-j", "3"])
        .fails(2, "cannot be used multiple times");
}
