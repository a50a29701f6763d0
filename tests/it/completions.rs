//! The completion scripts, run in the shells they are for: bash with bash-completion (the words
//! put in `COMP_WORDS` as bash does at a TAB), zsh driving its own line editor through a pseudo
//! terminal, and fish's `complete -C`. A missing shell fails the test, naming the package.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Sources the script under test (`$1`) and bash-completion, splits `$2` into words as bash does
/// when TAB is pressed at its end, calls the function registered for `oci-dl`, prints COMPREPLY.
const BASH: &str = r#"
source /usr/share/bash-completion/bash_completion
source "$1"
line="$2"
read -ra COMP_WORDS <<< "$line"
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$line"; COMP_POINT=${#line}
fn=$(complete -p oci-dl | sed -E 's/.*-F ([^ ]+).*/\1/')
"$fn" oci-dl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// An interactive zsh in a pseudo terminal with the script's directory (`$1`) on `fpath`: `$2`
/// is typed, then TAB; every candidate the completion offers is appended to `$3`, one a line
/// (compadd wrapped as zsh-capture-completion does; a file, not the screen, so that zle's
/// redrawing cannot garble them). Markers are typed split (`REA''DY`) so that only the shell's
/// output, not its echo of the line, matches; the prompt (`<%P>` on screen) says zle is reading,
/// so nothing typed can reach a shell not yet listening.
const ZSH: &str = r#"
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='<%%P>'; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "_cap() { compadd() { local -a h; builtin compadd -O h \"\$@\"; print -rl -- \$h >> $3; builtin compadd \"\$@\" } }; compprefuncs=( _cap )"
zpty -w z "print -r -- REA''DY"
zpty -r z _ '*READY*<%P>*'
zpty -w -n z "$2"$'\t'
zpty -w -n z $'\C-u'
zpty -w z "print -r -- EN''D"
zpty -r z _ '*END*'
zpty -d z
[[ -f $3 ]] && cat $3
true
"#;

const FISH: &str = r#"source $argv[1]; complete -C "$argv[2]""#;

/// The candidates `shell` offers at the end of `line`, from the script `oci-dl completions` prints.
fn complete(shell: &str, line: &str) -> Vec<String> {
    let sb = Sandbox::new();
    let script = sb.run(&["completions", shell]).ok().stdout.clone();
    let dir = sb.path("fpath");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join(if shell == "zsh" { "_oci-dl" } else { "oci-dl" });
    std::fs::write(&file, script).unwrap();
    let (program, package) = match shell {
        "bash" => ("bash", "bash-completion"),
        other => (other, other),
    };
    let present = if shell == "bash" {
        Path::new("/usr/share/bash-completion/bash_completion").exists()
    } else {
        Command::new(program).arg("--version").output().is_ok()
    };
    assert!(present, "needs the {package} package (scripts/setup-test-deps installs it)");
    // A shell that waits for input it never gets (zsh reading its pseudo terminal) ends the
    // test with a failure, not a hang.
    let mut c = Command::new("timeout");
    c.args(["60", program]);
    // bash and zsh take `$0` after the script, fish puts the rest in `$argv`.
    match shell {
        "bash" => c.args(["-c", BASH, "bash"]).arg(&file),
        "zsh" => c.args(["-f", "-c", ZSH, "zsh"]).arg(&dir),
        _ => c.args(["--no-config", "-c", FISH]).arg(&file),
    };
    c.arg(line);
    if shell == "zsh" {
        c.arg(sb.path("candidates"));
    }
    let out = c.env("HOME", sb.path("home")).output().unwrap();
    assert_ne!(out.status.code(), Some(124), "{shell} did not finish within 60 s");
    assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
    let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        // fish prints `word<TAB>description`
        .map(|l| l.split('\t').next().unwrap_or("").trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort();
    words.dedup();
    words
}

fn check(shell: &str) {
    let flags = complete(shell, "oci-dl pull --pla");
    assert_eq!(flags, ["--plain-http", "--platform"], "{shell}: pull's own and global flags");
    let values = complete(shell, "oci-dl pull --overwrite ");
    assert_eq!(values, ["error", "force", "prompt", "skip"], "{shell}: a value, not file names");
    let top = complete(shell, "oci-dl ");
    assert!(
        top.iter().any(|w| w == "pull") && top.iter().any(|w| w == "cache"),
        "{shell}: {top:?}"
    );
    assert!(!top.iter().any(|w| w == "generate-assets"), "{shell}: a hidden command: {top:?}");
    let nested = complete(shell, "oci-dl cache p");
    assert_eq!(nested, ["prune"], "{shell}: a nested subcommand");
}

#[test]
fn bash_completes_after_the_subcommand() {
    check("bash");
}

#[test]
fn zsh_completes_after_the_subcommand() {
    check("zsh");
}

#[test]
fn fish_completes_after_the_subcommand() {
    check("fish");
}
