//! The set-up commands README gives, as a stock Debian 12 runs them: Debian's pip refuses to
//! install outside a virtual environment (PEP 668, `externally-managed-environment`), and a fresh
//! machine has no package lists until `apt-get update`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Stubs stand in for Debian's `apt-get` and `/usr/bin/python3` without python3-venv: the stub
/// interpreter refuses `-m pip` as Debian's does, and has `ensurepip` only once apt-get installed
/// python3-venv. Each records what it was asked in one log.
#[test]
fn setup_script_installs_python_tools_into_a_venv_after_apt_get_update() {
    let t = tempfile::tempdir().unwrap();
    let (bin, log, venv) = (t.path().join("bin"), t.path().join("log"), t.path().join("venv"));
    std::fs::create_dir(&bin).unwrap();
    let log_s = log.display();
    script(&bin.join("apt-get"), &format!("echo \"apt-get $*\" >> {log_s}\n"));
    let venv_python = format!(
        "case \"$*\" in\n\
         \"-c import oras.client, sigstore\") [ -f \"$(dirname \"$0\")/oras\" ] ;;\n\
         \"-m pip install\"*) echo \"venv-python $*\" >> {log_s}; touch \"$(dirname \"$0\")/oras\" ;;\n\
         *) exit 9 ;;\n\
         esac\n"
    );
    std::fs::write(t.path().join("venv-python"), venv_python).unwrap();
    let system_python = format!(
        "case \"$*\" in\n\
         \"-c import ensurepip\") grep -q 'install.*python3-venv' {log_s} ;;\n\
         \"-m venv \"*) echo \"python3 -m venv $3\" >> {log_s}; mkdir -p \"$3/bin\";\n\
           cp {vp} \"$3/bin/python3\"; chmod +x \"$3/bin/python3\" ;;\n\
         \"-m pip\"*) echo 'error: externally-managed-environment' >&2; exit 1 ;;\n\
         *) exit 9 ;;\n\
         esac\n",
        vp = t.path().join("venv-python").display()
    );
    script(&bin.join("python3"), &system_python);

    let run = || {
        let out = Command::new(repo().join("scripts/setup-test-deps"))
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
            .env("OCI_DL_SETUP_PYTHON", bin.join("python3"))
            .env("OCI_DL_TEST_VENV", &venv)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "setup-test-deps failed: {stderr}");
        std::fs::read_to_string(&log).unwrap_or_default()
    };
    let first = run();
    let lines: Vec<&str> = first.lines().collect();
    let update = lines.iter().position(|l| *l == "apt-get update -qq");
    let install = lines.iter().position(|l| l.starts_with("apt-get install"));
    assert!(update.is_some() && update < install, "apt-get update comes first: {first}");
    assert!(lines[install.unwrap()].contains("python3-venv"), "{first}");
    let venv_line = format!("python3 -m venv {}", venv.display());
    let pip = "venv-python -m pip install -q --disable-pip-version-check oras sigstore==4.5.1";
    assert_eq!(lines[install.unwrap() + 1..], [venv_line.as_str(), pip], "{first}");

    // The venv has oras and sigstore now: a second run neither remakes it nor installs into it.
    let second = run();
    assert!(!second[first.len()..].contains("venv"), "{second}");
}

/// README's test command and `.ci/run` are the same steps: the script, then cargo test.
#[test]
fn readme_and_ci_use_the_setup_script() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.lines().any(|l| l.trim() == "scripts/setup-test-deps && cargo test --locked"),
        "README's test command"
    );
    assert!(!readme.contains("pip install"), "no pip outside the venv in README");
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "scripts/setup-test-deps"), "{ci}");
    assert!(ci.lines().any(|l| l.trim() == "cargo test --locked"), "{ci}");
}
