//! Checks over `src/` anyone can run: no new import cycle between engine modules, no new source
//! file over 400 lines. The allow-lists name today's offenders; the redesign of issue 14 shrinks
//! them, and a test fails when an entry is no longer needed so that the list only shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 400;

/// Files over [`MAX_LINES`] today, each with why.
const LONG_FILES: &[(&str, &str)] = &[
    ("src/manifest.rs", "the manifest and index grammar with its tests"),
    (
        "src/extract/tar.rs",
        "the tar applier with its link, whiteout and name rules, and their tables",
    ),
    ("src/reference.rs", "the reference grammar, two lines over, mostly tests"),
];

/// Import edges that are part of a cycle today (`from → to`), kept only so that a NEW cycle
/// fails; each goes away with the redesign.
// None today: every edge of the graph is one-way.
const CYCLE_EDGES: &[(&str, &str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The engine module a file belongs to (`src/registry/auth.rs` → `registry`); `None` for the
/// crate root and the front end, which may use anything.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let m = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(m, "lib" | "main" | "cli")).then(|| m.to_owned())
}

/// Top-level modules named by `crate::NAME` paths (in `use` lines and inline) and by
/// `use crate::{a, b::c}` groups, outside comments.
fn deps_of(text: &str) -> BTreeSet<String> {
    let code: String =
        text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| -> String {
        s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group, split at commas outside nested braces.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(m) = module_of(f.strip_prefix(src()).unwrap()) else { continue };
        let mut deps = deps_of(&std::fs::read_to_string(&f).unwrap());
        deps.remove(&m);
        g.entry(m).or_default().extend(deps);
    }
    g
}

/// A path `from` → … → `to`, if there is one.
fn path(g: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.to_owned()]];
    while let Some(p) = stack.pop() {
        let last = p.last().unwrap().clone();
        if last == to {
            return Some(p);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for n in g.get(&last).into_iter().flatten() {
            let mut q = p.clone();
            q.push(n.clone());
            stack.push(q);
        }
    }
    None
}

#[test]
fn the_import_graph_parser_sees_grouped_and_inline_paths() {
    let text = "use crate::{digest::Digest, error::{Error, ErrorKind}};\n\
                // crate::commented\nfn f() { crate::ranged::fetch(); }\nuse crate::events::Event;";
    let want: BTreeSet<String> =
        ["digest", "error", "ranged", "events"].iter().map(|s| s.to_string()).collect();
    assert_eq!(deps_of(text), want);
}

#[test]
fn no_new_import_cycle_between_engine_modules() {
    let g = graph();
    assert!(g.contains_key("blob") && g.contains_key("registry"), "read src/: {g:?}");
    let mut found = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            if let Some(back) = path(&g, to, from) {
                found.push((from.clone(), to.clone(), format!("{from} → {}", back.join(" → "))));
            }
        }
    }
    let new: Vec<&String> = found
        .iter()
        .filter(|(f, t, _)| !CYCLE_EDGES.iter().any(|(a, b, _)| a == f && b == t))
        .map(|(_, _, c)| c)
        .collect();
    assert!(
        new.is_empty(),
        "new import cycle(s) between engine modules:\n{}",
        new.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
    );
    let gone: Vec<String> = CYCLE_EDGES
        .iter()
        .filter(|(a, b, _)| !found.iter().any(|(f, t, _)| a == f && b == t))
        .map(|(a, b, _)| format!("{a} → {b}"))
        .collect();
    assert!(gone.is_empty(), "no longer in a cycle: remove from CYCLE_EDGES: {gone:?}");
}

#[test]
fn no_new_source_file_over_400_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = BTreeMap::new();
    for f in files {
        let n = std::fs::read_to_string(&f).unwrap().lines().count();
        if n > MAX_LINES {
            long.insert(f.strip_prefix(root).unwrap().display().to_string(), n);
        }
    }
    let new: Vec<String> = long
        .iter()
        .filter(|(f, _)| !LONG_FILES.iter().any(|(a, _)| a == f))
        .map(|(f, n)| format!("{f} ({n} lines)"))
        .collect();
    assert!(new.is_empty(), "over {MAX_LINES} lines and not in LONG_FILES: {new:?}");
    let fixed: Vec<&str> =
        LONG_FILES.iter().filter(|(a, _)| !long.contains_key(*a)).map(|(a, _)| *a).collect();
    assert!(fixed.is_empty(), "now within {MAX_LINES} lines: remove from LONG_FILES: {fixed:?}");
}

/// Every dependency in sight: no glob import outside test code, so a reader sees what a file
/// uses from its head (`use super::*` inside a `#[cfg(test)]` module, indented, and whole test
/// files are fine).
#[test]
fn no_glob_import_outside_tests() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for f in files.iter().filter(|f| f.file_name().is_some_and(|n| n != "tests.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if (line.starts_with("use ")
                || line.starts_with("pub use ")
                || line.starts_with("pub(crate) use "))
                && line.trim_end().ends_with("::*;")
            {
                found.push(format!("{}:{}: {line}", f.display(), i + 1));
            }
        }
    }
    assert!(found.is_empty(), "glob imports outside tests:\n{}", found.join("\n"));
}

/// Functions a reader can hold: none in `src/` over 80 lines (signature to closing brace), test
/// code apart (a table test may be long). A long one is split at its natural steps, not by
/// immediately-called closures.
#[test]
fn no_function_over_80_lines() {
    const MAX_FN_LINES: usize = 80;
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in files.iter().filter(|f| f.file_name().is_some_and(|n| n != "tests.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        // Test modules stand at the end of a file.
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i].trim_start();
            let t = t.strip_prefix("pub ").or_else(|| t.strip_prefix("pub(crate) ")).unwrap_or(t);
            let t = t.strip_prefix("pub(super) ").unwrap_or(t);
            let t = t.strip_prefix("const ").unwrap_or(t);
            if !t.starts_with("fn ") {
                i += 1;
                continue;
            }
            let (mut depth, mut opened, mut j) = (0i32, false, i);
            while j < lines.len() {
                // Braces in strings, chars and comments do not count.
                let code = lines[j].split("//").next().unwrap_or("");
                let mut in_str = false;
                let mut prev = ' ';
                for ch in code.chars() {
                    match ch {
                        '"' if prev != '\\' => in_str = !in_str,
                        '{' if !in_str && prev != '\'' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' if !in_str && prev != '\'' => depth -= 1,
                        _ => {}
                    }
                    prev = ch;
                }
                if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            if opened && j + 1 - i > MAX_FN_LINES {
                long.push(format!("{}:{} ({} lines)", f.display(), i + 1, j + 1 - i));
            }
            i = j + 1;
        }
    }
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

/// The registry behind a narrow door: nothing outside `src/registry/` names the HTTP client or
/// its `http` types (a response, a header map, a URI) or reads an HTTP body itself (a reply is
/// a status, headers and a reader).
#[test]
fn no_http_client_outside_the_registry() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let registry = src().join("registry");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&registry)) {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains("ureq") || line.contains("http::") || line.contains(".into_body()") {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "HTTP outside registry/:\n{}", found.join("\n"));
}

/// Timed waits in the engine, each with why it is no poll: it ends at a deadline that means
/// something, and whatever else may end it wakes it (a notify, a cancel hook).
const TIMED_WAITS: &[(&str, &str)] = &[
    ("src/cancel.rs", "Cancel::sleep: a backoff waits to its exact end; a cancel notifies it"),
    ("src/gate.rs", "Gate::enter: a 429 cool-down's exact end; a release or a cancel notifies"),
];

/// No sleep-and-check loops in the engine (`src/` but the front end, test code apart): no
/// `thread::sleep` or `park_timeout` at all, no timed wait outside [`TIMED_WAITS`], and no wait
/// of any kind given a sub-second literal (the sign of a poll). A waiter is woken by whoever
/// ends its wait: a release, a hook on the cancel token, a closed channel.
#[test]
fn no_polling_wait_in_the_engine() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let front = [src().join("cli"), src().join("main.rs")];
    let mut found = Vec::new();
    let mut used = BTreeSet::new();
    for f in files.iter().filter(|f| !front.iter().any(|x| f.starts_with(x))) {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let rel = f.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let rel = rel.to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            let at = format!("{rel}:{}: {}", i + 1, line.trim());
            let timed = ["wait_timeout(", "wait_timeout_while(", "recv_timeout(", "sleep("]
                .iter()
                .any(|p| line.contains(p));
            let sub_second = ["from_millis(", "from_micros(", "from_nanos(", "from_secs_f"]
                .iter()
                .any(|p| line.contains(p));
            if line.contains("thread::sleep(") || line.contains("park_timeout(") {
                found.push(format!("{at} (a sleep nothing can wake)"));
            } else if timed && sub_second {
                found.push(format!("{at} (a sub-second timeout: a poll)"));
            } else if line.contains("wait_timeout") || line.contains("recv_timeout(") {
                match TIMED_WAITS.iter().find(|(file, _)| *file == rel) {
                    Some((file, _)) => {
                        used.insert(*file);
                    }
                    None => found.push(format!("{at} (a timed wait not in TIMED_WAITS)")),
                }
            }
        }
    }
    assert!(found.is_empty(), "polling waits in the engine:\n{}", found.join("\n"));
    let stale: Vec<&str> =
        TIMED_WAITS.iter().map(|(f, _)| *f).filter(|f| !used.contains(f)).collect();
    assert!(stale.is_empty(), "TIMED_WAITS entries no longer needed: {stale:?}");
}
