//! TLS to a real registry with a test-made CA, and `--resolve` pinning a name to loopback.

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
