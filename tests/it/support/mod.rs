pub mod fake;
pub mod oras_layout;
pub mod push;
pub mod registry;
pub mod sigstore;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A sandbox for one run of the binary: its own HOME and DOCKER_CONFIG, a work dir.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.docker")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// `oci-dl ARGS` with the environment pinned, run in the work dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oci-dl"));
        c.args(args)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("DOCKER_CONFIG", self.path("home/.docker"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    pub fn docker_config(&self, json: &str) {
        std::fs::write(self.path("home/.docker/config.json"), json).unwrap();
    }
}

/// A spawned run whose stderr is read as it comes: a test waits for what the run says (a state
/// it reached) instead of sleeping and hoping it got there, which a loaded machine breaks.
pub struct Watched {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Watched {
    pub fn spawn(mut cmd: Command) -> Watched {
        use std::io::BufRead as _;
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = std::sync::Arc::<std::sync::Mutex<String>>::default();
        let (pipe, into) = (child.stderr.take().unwrap(), stderr.clone());
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                into.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Watched { child, stderr, reader }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait until the run has said `needle`; fails the test when it ends first, or after a
    /// minute (a bound for a hang, not a speed).
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !self.stderr.lock().unwrap().contains(needle) {
            let said = self.stderr.lock().unwrap().clone();
            assert!(self.child.try_wait().unwrap().is_none(), "ended before {needle:?}: {said}");
            assert!(std::time::Instant::now() < deadline, "never said {needle:?}: {said}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Wait for the run to end (stdout is not kept).
    pub fn finish(mut self) -> Run {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        Run { code: status.code().unwrap_or(-1), stdout: Vec::new(), stderr }
    }
}

/// Run another program with the sandbox's environment (for `script`, which makes a terminal).
pub trait WithProgram {
    fn output_with_program(&mut self, program: &str, args: &[&str]) -> Output {
        self.output_with_program_input(program, args, "")
    }
    fn output_with_program_input(&mut self, program: &str, args: &[&str], input: &str) -> Output;
}

impl WithProgram for Command {
    fn output_with_program_input(&mut self, program: &str, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut c = Command::new(program);
        c.args(args);
        if let Some(dir) = self.get_current_dir() {
            c.current_dir(dir);
        }
        c.env_clear();
        for (k, v) in self.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let mut child =
            c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}", self.stderr);
        self
    }

    /// Asserts the exit code and that the error is one line containing `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> &Run {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        let errors: Vec<&str> =
            self.stderr.lines().filter(|l| l.starts_with("oci-dl: error:")).collect();
        assert_eq!(errors.len(), 1, "one error line expected; stderr:\n{}", self.stderr);
        assert!(errors[0].contains(needle), "error {:?} lacks {needle:?}", errors[0]);
        self
    }
}

/// Files below `dir`, relative, sorted; directories end in `/`.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if p.is_dir() && !p.is_symlink() {
                out.push(format!("{rel}/"));
                walk(base, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Deterministic pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A filesystem mounted for one test (root only), unmounted on drop.
pub struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS DIR`; `None` (after a skip message) where this is not allowed, but in CI,
    /// which runs as root and must be able to.
    pub fn new(args: &[&str], dir: &Path) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(args)
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(Mount(dir.to_path_buf()));
        }
        if std::env::var_os("CI").is_some() {
            panic!("CI runs as root and must be able to run: mount {args:?}");
        }
        eprintln!("SKIP: cannot mount {args:?} here (not root?)");
        None
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Files and directories planted around an output directory — in its parent, a sibling, and a
/// victim outside — that a hostile artifact must leave byte-for-byte and mode-for-mode alone.
pub struct Canaries {
    root: PathBuf,
    /// The one entry of `root` left out of the snapshot: the output (or the cache) itself.
    skip: String,
    before: Vec<(String, Option<Vec<u8>>, u32)>,
}

impl Canaries {
    /// Plant canaries in `root` (the parent of the output directory); `root/out` is left for the
    /// output itself. Returns them with a snapshot of everything below `root` except `out/`.
    pub fn plant(root: &Path) -> Canaries {
        Canaries::plant_beside(root, "out")
    }

    /// Plant canaries in `root` beside its entry `skip` (an output directory or a cache), which
    /// is left for the run to change.
    pub fn plant_beside(root: &Path, skip: &str) -> Canaries {
        use std::os::unix::fs::PermissionsExt;
        let put = |rel: &str, bytes: &[u8], mode: u32| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        put("parent-canary.txt", b"the parent's own file\n", 0o644);
        put("sibling/keep.txt", b"a sibling directory's file\n", 0o600);
        put("victim/secret.txt", b"a victim outside\n", 0o640);
        std::fs::set_permissions(root.join("victim"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let mut c =
            Canaries { root: root.to_path_buf(), skip: skip.to_owned(), before: Vec::new() };
        c.before = c.snapshot();
        c
    }

    /// Where a test can point a link at something outside the output directory.
    pub fn victim(&self) -> PathBuf {
        self.root.join("victim/secret.txt")
    }

    fn snapshot(&self) -> Vec<(String, Option<Vec<u8>>, u32)> {
        use std::os::unix::fs::PermissionsExt;
        fn walk(
            base: &Path,
            dir: &Path,
            skip: &str,
            out: &mut Vec<(String, Option<Vec<u8>>, u32)>,
        ) {
            let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let p = e.path();
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                if rel == skip {
                    continue;
                }
                let m = std::fs::symlink_metadata(&p).unwrap();
                let mode = m.permissions().mode();
                if m.is_dir() {
                    out.push((format!("{rel}/"), None, mode));
                    walk(base, &p, skip, out);
                } else if m.file_type().is_symlink() {
                    let t = std::fs::read_link(&p).unwrap();
                    out.push((rel, Some(t.display().to_string().into_bytes()), mode));
                } else {
                    out.push((rel, Some(std::fs::read(&p).unwrap()), mode));
                }
            }
        }
        let mut out = Vec::new();
        let mode = std::fs::metadata(&self.root).unwrap().permissions().mode();
        out.push((".".into(), None, mode));
        walk(&self.root, &self.root, &self.skip, &mut out);
        out
    }

    /// Everything planted is as it was, and nothing new appeared beside `out/`.
    #[track_caller]
    pub fn assert_unchanged(&self) {
        let now = self.snapshot();
        let show = |v: &[(String, Option<Vec<u8>>, u32)]| -> Vec<String> {
            v.iter()
                .map(|(p, b, m)| format!("{p} {m:o} {:?}", b.as_ref().map(|b| b.len())))
                .collect()
        };
        assert_eq!(show(&now), show(&self.before), "the canaries around out/ changed");
        assert_eq!(now, self.before, "a canary's bytes changed");
    }
}

/// The interpreter that has the tests' Python tools (the oras-py SDK): the virtual environment
/// `scripts/setup-test-deps` makes, `OCI_DL_TEST_VENV` (default `target/venv`, from the repository).
pub fn test_python() -> PathBuf {
    let venv = std::env::var_os("OCI_DL_TEST_VENV").unwrap_or_else(|| "target/venv".into());
    Path::new(env!("CARGO_MANIFEST_DIR")).join(venv).join("bin/python3")
}

/// A test's prerequisite: when it is missing the test fails, naming it — it never passes by
/// skipping. `scripts/setup-test-deps` installs every one.
#[track_caller]
/// Start `args`, wait until `ready` holds (then `settle` more, to be well into a wait), send
/// `signal` (`-INT`, `-TERM`…); the run, with how long it took to end after the signal.
pub fn signal_when(
    sb: &Sandbox,
    args: &[&str],
    signal: &str,
    settle: std::time::Duration,
    ready: impl Fn() -> bool,
) -> (std::time::Duration, Run) {
    use std::time::{Duration, Instant};
    let child = sb.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "the run never got to where the signal is due");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    let asked = Instant::now();
    let kill = Command::new("kill").args([signal, &child.id().to_string()]).status();
    assert!(kill.unwrap().success());
    let run = Run::from(child.wait_with_output().unwrap());
    (asked.elapsed(), run)
}

pub fn require(present: bool, what: &str) {
    assert!(present, "missing test prerequisite: {what} (scripts/setup-test-deps installs it)");
}

/// A loopback host that never answers a connect: a listener whose accept queue is filled and
/// never drained, so the kernel drops further SYNs, as from a dead host. Keep the returned
/// values alive while it is used.
pub fn unanswering_host() -> (std::net::TcpListener, Vec<std::net::TcpStream>, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..512 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)) {
            Ok(c) => held.push(c),
            Err(_) => break,
        }
    }
    assert!(held.len() < 512, "the accept queue never filled; cannot simulate a dead host");
    (listener, held, addr.to_string())
}

/// Whether every established loopback connection with `host`'s port (`127.0.0.1:PORT`) at one
/// end has nothing queued either way (/proc/net/tcp): all that was sent has been read by the
/// program at the other end. `false` while there is no such connection.
pub fn all_read(host: &str) -> bool {
    let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
    let end = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp (Linux)");
    let mut any = false;
    for l in table.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 5 || f[3] != "01" || (f[1] != end && f[2] != end) {
            continue;
        }
        any = true;
        if f[4] != "00000000:00000000" {
            return false;
        }
    }
    any
}

/// Whether a connect to `host` (an [`unanswering_host`]) is pending: a socket in SYN_SENT
/// towards it in /proc/net/tcp. The held connections are established; only a client's new
/// connect waits there, so a test can signal a run once it is inside its connect.
pub fn connect_pending(host: &str) -> bool {
    let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
    let remote = format!("0100007F:{port:04X}"); // 127.0.0.1, as the kernel prints it
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp (Linux)");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(2) == Some(&remote.as_str()) && f.get(3) == Some(&"02")
    })
}
