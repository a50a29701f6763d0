//! The public API, listed from the source and diffed against `tests/public-api.txt`, so that a
//! change to what a library user can name is a visible diff in review (cargo-semver-checks
//! needs rustdoc JSON, which needs nightly). The listing: every item `src/lib.rs` re-exports or
//! defines `pub`, with its attributes, public fields, variants and methods, and the traits it
//! implements; the items of its `pub mod`s. Refresh it after an intended change with
//! `OCI_DL_BLESS=1 cargo test --locked --test it public_api::`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file of module `path` (`["registry", "store"]`), if there is one.
fn module_file(path: &[&str]) -> Option<PathBuf> {
    let base = path.iter().fold(src(), |p, m| p.join(m));
    [base.with_extension("rs"), base.join("mod.rs")].into_iter().find(|p| p.is_file())
}

/// Rustfmt-formatted code: whole items start at column 0, their members at column 4. A blank
/// line ends nothing.
fn indent(line: &str) -> usize {
    if line.trim().is_empty() { usize::MAX } else { line.len() - line.trim_start().len() }
}

/// The signature starting at `lines[i]`, joined up to its `{` or `;`, spaces normalised.
fn signature(lines: &[&str], i: usize) -> String {
    let mut sig = String::new();
    for l in &lines[i..] {
        sig.push(' ');
        sig.push_str(l.trim());
        if l.trim_end().ends_with('{') || l.trim_end().ends_with(';') {
            break;
        }
    }
    let sig = sig.trim().trim_end_matches('{').trim_end_matches(';');
    sig.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The item's name in a line such as `pub struct Name<'a> {` (after `kw `).
fn name_after<'a>(line: &'a str, kw: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(kw)?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end])
}

const KINDS: &[&str] =
    &["pub struct ", "pub enum ", "pub trait ", "pub fn ", "pub const ", "pub type "];

/// Where `name` is defined, following `pub use` from module `path`.
fn define(path: &[&str], name: &str, depth: usize) -> Option<(PathBuf, usize)> {
    let file = module_file(path)?;
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if indent(l) == 0 && KINDS.iter().any(|k| name_after(l, k) == Some(name)) {
            return Some((file, i));
        }
    }
    assert!(depth < 5, "pub use chain too long for {name}");
    for l in lines.iter().filter(|l| l.starts_with("pub use ")) {
        let body = l.trim_start_matches("pub use ").trim_end_matches(';');
        for (module, item) in uses(body) {
            if item == name {
                let mut p: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
                if p.first() == Some(&"crate") {
                    p.remove(0);
                } else {
                    p = path.iter().copied().chain(p).collect();
                }
                return define(&p, name, depth + 1);
            }
        }
    }
    None
}

/// `a::b::{C, D}` → `[("a::b", "C"), ("a::b", "D")]`; `a::C` → `[("a", "C")]`.
fn uses(body: &str) -> Vec<(String, String)> {
    match body.split_once("::{") {
        Some((m, items)) => items
            .trim_end_matches('}')
            .split(',')
            .map(|i| (m.to_owned(), i.trim().to_owned()))
            .filter(|(_, i)| !i.is_empty())
            .collect(),
        None => {
            let (m, i) = body.rsplit_once("::").unwrap_or(("", body));
            vec![(m.to_owned(), i.to_owned())]
        }
    }
}

/// The item at `lines[i]`: attributes above it, its signature, its public members.
fn item(lines: &[&str], i: usize, out: &mut Vec<String>) {
    let sig = signature(lines, i);
    let mut at = i;
    while at > 0 && lines[at - 1].starts_with("#[") {
        at -= 1;
        out.push(format!("{sig} {}", lines[at].trim()));
    }
    out.push(sig.clone());
    if !lines[i].trim_end().ends_with('{') || sig.starts_with("pub fn ") {
        return;
    }
    let is_enum = sig.starts_with("pub enum ");
    for (j, l) in lines.iter().enumerate().skip(i + 1) {
        if indent(l) == 0 {
            break;
        }
        let t = l.trim();
        let member = indent(l) == 4
            && (t.starts_with("pub ")
                || t.starts_with("fn ")
                || (is_enum && t.starts_with(|c: char| c.is_ascii_uppercase())));
        if member && (t.starts_with("pub fn ") || t.starts_with("fn ")) {
            out.push(format!("{sig} :: {}", signature(lines, j)));
        } else if member {
            // A field, or a variant with the fields it carries.
            let mut m = t.trim_end_matches(['{', ',']).trim().to_owned();
            if is_enum && t.ends_with('{') {
                let fields: Vec<&str> = lines[j + 1..]
                    .iter()
                    .take_while(|f| indent(f) != 4)
                    .map(|f| f.trim())
                    .filter(|f| indent(f) != usize::MAX && !f.starts_with("//"))
                    .map(|f| f.trim_end_matches(','))
                    .collect();
                m = format!("{m} {{ {} }}", fields.join(", "));
            }
            out.push(format!("{sig} :: {m}"));
        }
    }
}

/// The type an `impl` is for: `impl<'a> Trait for Name<'a> where …` → `Name`.
fn impl_target(sig: &str) -> &str {
    let mut rest = sig.trim_start_matches("impl");
    if rest.starts_with('<') {
        let mut depth = 0;
        for (i, c) in rest.char_indices() {
            depth += match c {
                '<' => 1,
                '>' => -1,
                _ => 0,
            };
            if depth == 0 {
                rest = &rest[i + 1..];
                break;
            }
        }
    }
    let rest = rest.split(" where").next().unwrap();
    let rest = rest.rsplit(" for ").next().unwrap().trim();
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    &rest[..end]
}

/// `impl` blocks of `name` in `files` (where it is defined: a type of the same name elsewhere
/// may be private): the traits, and the public methods.
fn impls(name: &str, files: &[PathBuf], out: &mut Vec<String>) {
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if indent(l) != 0 || !l.starts_with("impl") {
                continue;
            }
            let sig = signature(&lines, i);
            if impl_target(&sig) != name {
                continue;
            }
            if sig.contains(" for ") {
                out.push(sig);
                continue;
            }
            for (j, m) in lines.iter().enumerate().skip(i + 1) {
                if indent(m) == 0 {
                    break;
                }
                if indent(m) == 4
                    && (m.trim().starts_with("pub fn ") || m.trim().starts_with("pub const "))
                {
                    out.push(format!("{sig} :: {}", signature(&lines, j)));
                }
            }
        }
    }
}

/// Every engine source file (not the front end).
fn engine_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![src()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("cli") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("main.rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The public API, one line per item or member, sorted.
fn listing() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let lib: Vec<&str> = lib.lines().collect();
    let mut out = Vec::new();
    let mut named = BTreeSet::new(); // (name, the file defining it)
    for (i, l) in lib.iter().enumerate() {
        if let Some(body) = l.strip_prefix("pub use ") {
            for (module, name) in uses(body.trim_end_matches(';')) {
                let path: Vec<&str> = module.split("::").collect();
                let (file, at) = define(&path, &name, 0)
                    .unwrap_or_else(|| panic!("cannot find {module}::{name}"));
                let text = std::fs::read_to_string(&file).unwrap();
                item(&text.lines().collect::<Vec<_>>(), at, &mut out);
                named.insert((name, file));
            }
        } else if let Some(m) = name_after(l, "pub mod ") {
            let file = module_file(&[m]).unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (j, l) in lines.iter().enumerate() {
                if let Some(name) =
                    KINDS.iter().find_map(|k| name_after(l, k)).filter(|_| indent(l) == 0)
                {
                    item(&lines, j, &mut out);
                    named.insert((name.to_owned(), file.clone()));
                }
            }
        } else if indent(l) == 0 && l.starts_with("pub fn ") {
            item(&lib, i, &mut out);
        }
    }
    for (name, file) in &named {
        impls(name, std::slice::from_ref(file), &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_public_api_is_the_checked_in_listing() {
    let want_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/public-api.txt");
    let now = listing().join("\n") + "\n";
    assert!(now.contains("pub fn pull(") && now.contains("pub struct PullRequest"), "{now}");
    if std::env::var_os("OCI_DL_BLESS").is_some() {
        std::fs::write(&want_path, &now).unwrap();
    }
    let want = std::fs::read_to_string(&want_path).unwrap_or_default();
    let (now_set, want_set): (BTreeSet<&str>, BTreeSet<&str>) =
        (now.lines().collect(), want.lines().collect());
    let added: Vec<&&str> = now_set.difference(&want_set).collect();
    let removed: Vec<&&str> = want_set.difference(&now_set).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the public API changed (a removal or a new required field breaks users):\n\
         added: {added:#?}\nremoved: {removed:#?}\nif intended, refresh tests/public-api.txt: \
         OCI_DL_BLESS=1 cargo test --locked --test it public_api::"
    );
}

#[test]
fn the_front_end_reaches_nothing_hidden_in_the_engine() {
    // src/cli is declared from main.rs, a crate of its own: only `pub` items of oci_dl are in
    // reach. What remains is #[doc(hidden)] items, public for tests alone.
    let hidden: Vec<String> = engine_files()
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            (1..lines.len())
                .filter(|&i| lines[i - 1].trim() == "#[doc(hidden)]")
                .filter_map(|i| {
                    KINDS.iter().find_map(|k| name_after(&lines[i], k)).map(str::to_owned)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let main = std::fs::read_to_string(src().join("main.rs")).unwrap();
    assert!(main.contains("mod cli;") && !main.contains("mod lib"), "cli is the binary's own");
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    assert!(!lib.contains("mod cli"), "the library does not declare the front end");
    let mut cli_files = Vec::new();
    let mut dirs = vec![src().join("cli")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { dirs.push(p) } else { cli_files.push(p) }
        }
    }
    for f in cli_files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        let code: String = text.split("#[cfg(test)]").next().unwrap().to_owned();
        for h in &hidden {
            assert!(!code.contains(&format!("{h}(")), "{} uses the hidden {h}", f.display());
        }
    }
}
