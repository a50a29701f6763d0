//! The real CNCF distribution registry (`docker-registry`), started on a free loopback port with a
//! temp storage dir, once per test binary and per configuration.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

/// User and password of the Basic-auth registry. The htpasswd line below is their bcrypt hash
/// (cost 5, made with Python's bcrypt), since the registry only reads bcrypt.
pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pw";
const HTPASSWD: &str = "tester:$2a$05$2CGIPHZlQW84AO.Hl4ZuXOrEh0IO/ytXI7xyho9wQYv9CSr48eB1q\n";

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub host: String,
    /// For the TLS registry: the test CA's PEM file; the server's certificate names
    /// `registry.test` and `127.0.0.1`.
    pub ca: Option<PathBuf>,
    /// Basic credentials the registry demands, if any.
    pub auth: Option<(String, String)>,
    /// Its access log (one line a request), for the registry that keeps one.
    pub access_log: Option<PathBuf>,
    _dir: tempfile::TempDir,
    _child: Child,
}

/// The open registry, or `None` (after a skip message) when the binary is missing outside CI.
pub fn open() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::Open)).as_ref()
}

/// A registry that demands Basic auth (htpasswd).
pub fn basic_auth() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::BasicAuth)).as_ref()
}

/// A registry serving HTTPS with a certificate from a CA made by the test (needs `openssl`).
pub fn tls() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::Tls)).as_ref()
}

/// A registry that keeps an access log, so that a test can count the requests it served.
/// A plain registry with an access log of its own, for tests that count requests.
pub fn logged() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::Logged)).as_ref()
}

pub fn upstream() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::Upstream)).as_ref()
}

/// The CNCF registry as a pull-through cache (`proxy.remoteurl`) of [`upstream`], over plain
/// HTTP on loopback, with an access log of its own.
pub fn proxy() -> Option<&'static Registry> {
    static R: OnceLock<Option<Registry>> = OnceLock::new();
    R.get_or_init(|| start(Kind::Proxy(upstream()?.host.clone()))).as_ref()
}

/// An open registry of the test's own (never shared), which [`Registry::stop`] can end: for a
/// test that proves a run makes no request by having nothing left to answer it.
pub fn own() -> Registry {
    start(Kind::Open).expect("docker-registry (the package)")
}

impl Registry {
    /// End this registry (the shell watchdog's child, then the watchdog) and wait until its port
    /// refuses connections.
    pub fn stop(mut self) {
        let sh = self._child.id();
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
            .expect("the registry's watchdog lists its children");
        // The registry, and perhaps the watchdog's `sleep`, which may be gone already.
        for pid in children.split_whitespace() {
            let _ = Command::new("kill").arg(pid).stderr(Stdio::null()).status();
        }
        self._child.wait().expect("the watchdog ends once the registry is gone");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&self.host).is_ok() {
            assert!(Instant::now() < deadline, "{} still answers after stop", self.host);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many requests in the access log so far are `GET`s of a path containing `part`.
    pub fn gets(&self, part: &str) -> usize {
        let log = std::fs::read_to_string(self.access_log.as_ref().expect("an access log"))
            .unwrap_or_default();
        log.lines().filter(|l| l.contains("\"GET ") && l.contains(part)).count()
    }

    /// Whether the blob `hex` (sha256) is in the registry's own storage: a proxy stores what it
    /// fetched in the background, after it answered.
    pub fn stores(&self, hex: &str) -> bool {
        let path = format!("storage/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
        self._dir.path().join(path).is_file()
    }
}

#[derive(PartialEq, Clone)]
enum Kind {
    Open,
    BasicAuth,
    Tls,
    Upstream,
    Logged,
    Proxy(String),
}

/// A CA and a server certificate for `registry.test` / 127.0.0.1, made with the openssl CLI.
pub fn make_certs(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=oci-dl test CA"],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &["-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=registry.test"],
    ]
    .concat());
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:registry.test,IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

/// Whether the registry binary is here: a test that needs it fails, naming the package, when it
/// is not (never a silent pass).
pub fn available() -> bool {
    crate::support::require(std::path::Path::new(BINARY).exists(), "docker-registry (the package)");
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Start a registry of `kind`. The port is found free, then given to the registry: another
/// process may take it in between, so a registry that dies before it answers is started again
/// on another port (a few times), rather than the test failing on the race.
fn start(kind: Kind) -> Option<Registry> {
    if !available() {
        return None;
    }
    for _ in 0..5 {
        if let Some(r) = start_on(&kind, free_port()) {
            return Some(r);
        }
    }
    panic!("docker-registry did not come up on any of five ports");
}

fn start_on(kind: &Kind, port: u16) -> Option<Registry> {
    let dir = tempfile::tempdir().unwrap();
    let storage: PathBuf = dir.path().join("storage");
    let logged = matches!(kind, Kind::Upstream | Kind::Logged | Kind::Proxy(_));
    let mut config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {}\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        !logged,
        storage.display()
    );
    if let Kind::Proxy(upstream) = kind {
        config.push_str(&format!("proxy:\n  remoteurl: http://{upstream}\n"));
    }
    let mut ca = None;
    if *kind == Kind::Tls {
        let (ca_pem, cert, key) = make_certs(dir.path());
        config.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ));
        ca = Some(ca_pem);
    }
    if *kind == Kind::BasicAuth {
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, HTPASSWD).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            htpasswd.display()
        ));
    }
    let cfg = dir.path().join("config.yml");
    std::fs::write(&cfg, config).unwrap();
    // A shell watchdog ends the registry when this test process goes away, since a static is
    // never dropped.
    let child = Command::new("sh")
        .args([
            "-c",
            r#""$0" serve "$1" & r=$!; while kill -0 "$2" 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.3; done; kill $r 2>/dev/null"#,
            BINARY,
        ])
        .arg(&cfg)
        .arg(std::process::id().to_string())
        // The access log goes to stdout.
        .stdout(match logged {
            true => Stdio::from(std::fs::File::create(dir.path().join("access.log")).unwrap()),
            false => Stdio::null(),
        })
        .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
        .spawn()
        .expect("start docker-registry");
    let mut child = child;
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = if *kind == Kind::Tls {
            std::net::TcpStream::connect(&host).is_ok()
        } else {
            ureq::get(&format!("http://{host}/v2/"))
                .config()
                .http_status_as_error(false)
                .build()
                .call()
                .is_ok_and(|r| matches!(r.status().as_u16(), 200 | 401))
        };
        if up {
            break;
        }
        if child.try_wait().is_ok_and(|done| done.is_some()) {
            return None; // the port was taken meanwhile: another one
        }
        assert!(Instant::now() < deadline, "docker-registry did not come up on {host}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let auth = (*kind == Kind::BasicAuth).then(|| (USER.to_owned(), PASSWORD.to_owned()));
    let access_log = logged.then(|| dir.path().join("access.log"));
    Some(Registry { host, ca, auth, access_log, _dir: dir, _child: child })
}
