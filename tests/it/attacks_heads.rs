//! Heads at the edges of a connection's buffers (`registry::endpoint`): a response head over
//! ureq's 64 KiB limit, when the read buffer shrinks with `--jobs`, must still read as too long
//! (not as a closed connection, retried); a request line must fit the 32 KiB write buffer, and
//! one that does not (a token, a redirect's URL) fails at once, saying what may be too long.

use std::time::Instant;

use crate::support::fake::{self, Guard, Reply};
use crate::support::*;

/// A head over ureq's 64 KiB limit fails at once, saying so, whatever `--jobs` is: at `-j 64`
/// the read buffer once was exactly 64 KiB, and a longer head filled it and read as a closed
/// connection ("Peer disconnected"), retried six times over 12 s.
#[test]
fn a_response_head_over_64_kib_fails_at_once_at_any_jobs() {
    for jobs in ["4", "64"] {
        let f = fake::artifact_with(vec![("a.bin", b"abc".to_vec())], Guard::Open, |hit, _, b| {
            Reply::blob(hit, b).header("x-pad", &"p".repeat(70 * 1024))
        });
        let sb = Sandbox::new();
        let canaries = Canaries::plant(&sb.work());
        let started = Instant::now();
        let r = format!("{}/x:v1", f.host);
        let run = sb.run(&["pull", &r, "-o", "out", "-j", jobs, "--no-cache"]);
        run.fails(6, "response header is too big");
        assert!(!run.stderr.contains("attempts"), "-j {jobs}: {}", run.stderr);
        assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "-j {jobs}: no retry");
        assert!(started.elapsed().as_secs() < 5, "-j {jobs}: {:?}", started.elapsed());
        assert!(!sb.work().join("out/a.bin").exists());
        canaries.assert_unchanged();
    }
}

/// A mirror whose every answer has a head over 64 KiB, at `-j 64`: asked once, then the
/// registry serves the pull at once, the warning naming what was wrong.
#[test]
fn a_mirror_with_a_head_over_64_kib_is_passed_over_at_once_at_sixty_four_jobs() {
    let f = fake::artifact(vec![("a.bin", b"abc".to_vec())], Guard::Open, None);
    let m = fake::Fake::start(|_| Reply::new(404, "").header("x-pad", &"p".repeat(70 * 1024)));
    let sb = Sandbox::new();
    let started = Instant::now();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "64", "--no-cache", "--mirror", &m.host]);
    run.ok();
    assert!(run.stderr.contains("response header is too big"), "{}", run.stderr);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    assert_eq!(m.hits().len(), 1, "asked once, never retried");
    assert_eq!(std::fs::read(sb.work().join("out/a.bin")).unwrap(), b"abc");
}

/// A redirect to a URL over 32 KiB (the connection's write buffer; ureq writes the request
/// line by line and needs each line to fit) fails at once, and the error says that the URL may
/// be what is too long — not only "headers" — without printing the URL's query.
#[test]
fn a_redirect_to_a_url_over_32_kib_fails_at_once_naming_the_url() {
    let cdn = fake::cdn(vec![b"abc".to_vec()]);
    cdn.expect_unused();
    let host = cdn.host.clone();
    let f = fake::artifact_with(vec![("a.bin", b"abc".to_vec())], Guard::Open, move |_, d, _| {
        let sig = "s".repeat(40 * 1024);
        Reply::new(307, "").header("location", &format!("http://{host}/cdn/{d}?sig={sig}"))
    });
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/x:v1", f.host), "-o", "out", "--no-cache"]);
    run.fails(6, "URL");
    assert!(!run.stderr.contains("attempts") && !run.stderr.contains("sss"), "{}", run.stderr);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 1, "no retry");
    assert!(!sb.work().join("out/a.bin").exists());
}

/// An HTTPS registry (Python's `http.server` under `ssl`, the certificate from the tests' CA)
/// whose token endpoint hands out a token of `len` bytes and whose manifest needs it.
const TOKEN_SERVER: &str = r#"
import http.server, json, ssl, sys
cert, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
TOKEN = "".join(chr(97 + i % 26) for i in range(n))
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
    "layers": []}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            return self.answer(200, json.dumps({"token": TOKEN}).encode())
        if self.path == "/v2/x/manifests/v1" and self.headers.get("authorization") == "Bearer " + TOKEN:
            return self.answer(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json")
        realm = 'Bearer realm="https://127.0.0.1:%d/token",service="s"' % port
        self.answer(401, b"{}", extra=[("www-authenticate", realm)])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// The token server, killed on drop.
struct TokenServer(std::process::Child);

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A 30 KiB token over HTTPS: the `Authorization` line (31 KiB with its name) fits the 32 KiB
/// write buffer, goes through rustls whole, and the registry takes it.
#[test]
fn a_thirty_kib_token_goes_out_whole_over_https() {
    use std::io::BufRead;
    let sb = Sandbox::new();
    let (ca, cert, key) = crate::support::registry::make_certs(sb.dir.path());
    let child = std::process::Command::new("python3")
        .args(["-c", TOKEN_SERVER])
        .args([&cert, &key])
        .arg((30 * 1024).to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the HTTPS token server");
    let mut server = TokenServer(child);
    let mut port = String::new();
    let stdout = server.0.stdout.as_mut().unwrap();
    std::io::BufReader::new(stdout).read_line(&mut port).unwrap();
    let r = format!("127.0.0.1:{}/x:v1", port.trim());
    let run = sb.run(&["manifest", &r, "--ca-file", ca.to_str().unwrap()]);
    run.ok();
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(printed.contains("vnd.oci.empty.v1+json"), "the manifest: {printed}");
    assert!(!run.stderr.contains("abcdefghij"), "the token is never printed: {}", run.stderr);
}
