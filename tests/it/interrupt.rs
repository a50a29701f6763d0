//! Ctrl-C is the user's decision, not a failure: one line saying what was kept and how to go
//! on, exit 130, and no error report (tests/it/faults.rs checks the kept bytes resume).

use std::time::Duration;

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

fn parts(dir: &std::path::Path) -> usize {
    tree(dir).iter().filter(|f| f.ends_with(".part")).count()
}

/// Two of three throttled layers are downloading (`-j 2`) when SIGINT arrives.
fn interrupted(extra: &[&str]) -> (Sandbox, Run) {
    let layers: Vec<(&str, Vec<u8>)> = vec![
        ("a.bin", noise(3_000_000, 1)),
        ("b.bin", noise(3_000_000, 2)),
        ("c.bin", noise(3_000_000, 3)),
    ];
    let f = fake::artifact_with(layers, Guard::Open, |hit, _, b| {
        Reply::blob(hit, b).fault(Fault::Throttle(500_000))
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let mut args = vec!["pull", &r, "-o", "out", "-j", "2"];
    args.extend_from_slice(extra);
    let out = sb.work().join("out");
    let started = || {
        parts(&out) >= 2
            && tree(&out)
                .iter()
                .all(|p| !std::fs::metadata(out.join(p)).is_ok_and(|m| m.len() == 0))
    };
    let (_, run) = signal_when(&sb, &args, "-INT", Duration::ZERO, started);
    (sb, run)
}

#[test]
fn ctrl_c_says_what_was_kept_and_is_no_error_report() {
    let (sb, run) = interrupted(&[]);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(!run.stderr.contains("error"), "not an error report: {}", run.stderr);
    let kept = parts(&sb.work().join("out"));
    assert_eq!(kept, 2, "the two started downloads are kept");
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "oci-dl: interrupted; {kept} partial downloads kept — run the same command again to resume"
        )
    );
}

#[test]
fn ctrl_c_with_json_is_an_interrupted_document() {
    let (_, run) = interrupted(&["--json"]);
    assert_eq!(run.code, 130, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON document");
    assert_eq!(doc["error"]["kind"], "interrupted");
    assert_eq!(doc["error"]["exit_code"], 130);
}
