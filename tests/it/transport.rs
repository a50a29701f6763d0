//! TLS to a real registry with a test-made CA, and `--resolve` pinning a name to loopback.

use std::sync::{Arc, Mutex};

use crate::support::fake::{self, Guard};
use crate::support::registry;
use crate::support::*;

#[test]
fn tls_registry_needs_its_ca_or_insecure() {
    let Some(reg) = registry::tls() else { return };
    let port = reg.host.rsplit(':').next().unwrap();
    let pin = format!("registry.test:{port}:127.0.0.1");
    let r = format!("registry.test:{port}/x/y:nope");
    let ca = reg.ca.as_ref().unwrap().to_str().unwrap();
    let sb = Sandbox::new();
    // Only a completed TLS session can carry the registry's own 404 back.
    sb.run(&["manifest", &r, "--resolve", &pin, "--ca-file", ca]).fails(3, "404 MANIFEST_UNKNOWN");
    let run = sb.run(&["manifest", &r, "--resolve", &pin]);
    run.fails(6, "https://registry.test");
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
    sb.run(&["manifest", &r, "--resolve", &pin, "--insecure"]).fails(3, "404 MANIFEST_UNKNOWN");
    // The system roots come from SSL_CERT_FILE when it is set, as for curl and OpenSSL.
    let run =
        sb.cmd(&["manifest", &r, "--resolve", &pin]).env("SSL_CERT_FILE", ca).output().unwrap();
    Run::from(run).fails(3, "404 MANIFEST_UNKNOWN");
    sb.run(&["manifest", &r, "--resolve", "nonsense"]).fails(2, "invalid --resolve");
    std::fs::write(sb.path("empty.pem"), "").unwrap();
    let empty = sb.path("empty.pem");
    sb.run(&["manifest", &r, "--resolve", &pin, "--ca-file", empty.to_str().unwrap()])
        .fails(2, "holds no PEM certificate");
}

#[test]
fn plain_http_reaches_a_non_loopback_name() {
    let Some(reg) = registry::open() else { return };
    let port = reg.host.rsplit(':').next().unwrap();
    let pin = format!("plain.test:{port}:127.0.0.1");
    let r = format!("plain.test:{port}/x/y:nope");
    let sb = Sandbox::new();
    sb.run(&["manifest", &r, "--resolve", &pin, "--plain-http"]).fails(3, "404 MANIFEST_UNKNOWN");
    // Without --plain-http the name is not loopback, so HTTPS is tried and fails.
    sb.run(&["manifest", &r, "--resolve", &pin, "--timeout", "5"]).fails(6, "https://plain.test");
}

/// A TCP relay on loopback to `target` that records how each connection it carries opens:
/// `true` for a TLS handshake (a record of type 22), `false` for anything else (plain HTTP).
fn relay(target: String) -> (String, Arc<Mutex<Vec<bool>>>) {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let opened = Arc::new(Mutex::new(Vec::new()));
    let seen = opened.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (target, seen) = (target.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if client.peek(&mut first).unwrap_or(0) == 1 {
                    seen.lock().unwrap().push(first[0] == 0x16);
                }
                let Ok(upstream) = TcpStream::connect(&target) else { return };
                let (mut c_r, mut u_w) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_r, &mut u_w);
                    let _ = u_w.shutdown(std::net::Shutdown::Write);
                });
                let (mut u_r, mut c_w) = (upstream, client);
                let _ = std::io::copy(&mut u_r, &mut c_w);
                let _ = c_w.shutdown(std::net::Shutdown::Write);
                let _ = t.join();
            });
        }
    });
    (host, opened)
}

/// A TLS registry on loopback is reached over TLS without `--plain-http`, as docker reaches the
/// registries it treats as insecure: TLS first (issue 16).
#[test]
fn a_tls_registry_on_loopback_is_reached_over_tls() {
    let Some(reg) = registry::tls() else { return };
    let ca = reg.ca.as_ref().unwrap().to_str().unwrap();
    let (host, opened) = relay(reg.host.clone());
    let sb = Sandbox::new();
    // Only a completed TLS session can carry the registry's own 404 back.
    let run = sb.run(&["manifest", &format!("{host}/x/y:nope"), "--ca-file", ca]);
    run.fails(3, &format!("GET https://{host}/v2/x/y/manifests/nope: 404 MANIFEST_UNKNOWN"));
    assert_eq!(*opened.lock().unwrap(), [true], "one TLS connection, no plain HTTP");
}

/// An untrusted certificate on loopback is a certificate error, never a reason to try plain HTTP.
#[test]
fn an_untrusted_certificate_on_loopback_is_no_reason_to_downgrade() {
    let Some(reg) = registry::tls() else { return };
    let (host, opened) = relay(reg.host.clone());
    let sb = Sandbox::new();
    let run = sb.run(&["manifest", &format!("{host}/x/y:nope"), "-vv"]);
    run.fails(6, "untrusted certificate: pass the registry's CA with --ca-file");
    assert!(!run.stderr.contains("GET http://"), "{}", run.stderr);
    let opened = opened.lock().unwrap().clone();
    assert!(
        !opened.is_empty() && opened.iter().all(|tls| *tls),
        "plain HTTP after all: {opened:?}"
    );
}

/// `--plain-http` forces HTTP, even to a TLS registry on loopback, which says so.
#[test]
fn plain_http_to_a_tls_registry_fails_clearly() {
    let Some(reg) = registry::tls() else { return };
    let ca = reg.ca.as_ref().unwrap().to_str().unwrap();
    let sb = Sandbox::new();
    let r = format!("{}/x/y:nope", reg.host);
    sb.run(&["manifest", &r, "--plain-http", "--ca-file", ca])
        .fails(1, "400 Client sent an HTTP request to an HTTPS server");
}

/// A plain-HTTP registry on loopback still works, for the price of one refused TLS handshake
/// per run (the answer is kept, not asked again per request); `--plain-http` skips even that.
#[test]
fn a_plain_loopback_registry_costs_one_refused_handshake_per_run() {
    let layers = vec![("a", noise(3000, 1)), ("b", noise(5000, 2)), ("c", noise(7000, 3))];
    let f = fake::artifact(layers, Guard::Open, None);
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "o", "-j", "3", "--no-cache", "-vv"]);
    run.ok();
    assert_eq!(f.tls_hellos(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("does not speak TLS"), "{}", run.stderr);
    assert_eq!(f.hits_to("/v2/x/blobs/").len(), 3);
    sb.run(&["pull", &r, "-o", "p", "--no-cache", "--plain-http"]).ok();
    assert_eq!(f.tls_hellos(), 1, "--plain-http tries no TLS");
    assert_eq!(std::fs::read(sb.work().join("p/b")).unwrap(), noise(5000, 2));
}

/// A name that does not exist fails at once (RFC 6761: `.invalid` never resolves, and the resolver
/// says so without asking the network), with a line saying so, and is not retried.
#[test]
fn a_name_that_does_not_resolve_fails_at_once() {
    let sb = Sandbox::new();
    let t = std::time::Instant::now();
    let run = sb.run(&["pull", "registry.oci-dl-test.invalid/org/tool:v1", "-o", "out"]);
    let took = t.elapsed();
    run.fails(6, "the name registry.oci-dl-test.invalid did not resolve");
    assert!(!run.stderr.contains("retrying"), "not retried: {}", run.stderr);
    assert!(took < std::time::Duration::from_secs(3), "at once, not after backoff: {took:?}");
}
