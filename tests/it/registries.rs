//! Credential sources and registry quirks: helpers, podman and Docker configs, GITHUB_TOKEN,
//! the OAuth2 password grant, proxies, Docker Hub quotas and attestations, tag pagination.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::support::fake::{self, Fake, Guard, Reply};
use crate::support::registry;
use crate::support::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A fake registry that wants Bearer tokens, whose token endpoint wants alice:pa55.
fn guarded() -> Fake {
    fake::artifact(
        vec![("f.txt", b"secret file".to_vec())],
        Guard::Bearer { token_auth: Some(format!("Basic {}", b64("alice:pa55"))) },
        None,
    )
}

/// Put an executable `docker-credential-NAME` script in `sb`'s bin dir.
fn helper(sb: &Sandbox, name: &str, script: &str) {
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let p = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_with_bin(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let path =
        format!("{}:{}", sb.path("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut c = sb.cmd(args);
    c.env("PATH", path);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().unwrap())
}

#[test]
fn credential_helpers_found_missing_and_failing() {
    let f = guarded();
    let r = format!("{}/x:v1", f.host);
    let sb = Sandbox::new();
    // The helper gets the server URL on stdin, as the Docker CLI sends it.
    helper(
        &sb,
        "good",
        &format!(
            r#"read url; [ "$url" = "{}" ] || exit 3; echo '{{"ServerURL":"'$url'","Username":"alice","Secret":"pa55"}}'"#,
            f.host
        ),
    );
    helper(&sb, "broken", "echo 'keychain locked' >&2; exit 1");
    helper(&sb, "empty", "echo 'credentials not found in native keychain'; exit 1");

    sb.docker_config(&format!(r#"{{"credHelpers":{{"{}":"good"}}}}"#, f.host));
    let run = run_with_bin(&sb, &["pull", &r, "-o", "a", "-v"], &[]);
    run.ok();
    assert!(run.stderr.contains("from credential helper good in"), "{}", run.stderr);
    assert!(!run.stderr.contains("pa55"));

    sb.docker_config(&format!(r#"{{"credHelpers":{{"{}":"nothere"}}}}"#, f.host));
    run_with_bin(&sb, &["pull", &r, "-o", "b"], &[]).fails(4, "docker-credential-nothere");
    sb.docker_config(&format!(r#"{{"credHelpers":{{"{}":"broken"}}}}"#, f.host));
    // What a failing helper prints may be its secret: the error names it and its status only.
    let run = run_with_bin(&sb, &["pull", &r, "-o", "c"], &[]);
    run.fails(4, "docker-credential-broken");
    assert!(run.stderr.contains("exit status: 1") && !run.stderr.contains("keychain locked"));

    // A credsStore that has nothing for this host falls through to the file's auths.
    sb.docker_config(&format!(
        r#"{{"credsStore":"empty","auths":{{"{}":{{"auth":"{}"}}}}}}"#,
        f.host,
        b64("alice:pa55")
    ));
    run_with_bin(&sb, &["pull", &r, "-o", "d"], &[]).ok();
    assert!(!sb.work().join("b").exists() && !sb.work().join("c").exists());
}

#[test]
fn podman_registry_auth_file_and_flag_come_before_docker() {
    let f = guarded();
    let r = format!("{}/x:v1", f.host);
    let sb = Sandbox::new();
    let good = format!(r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#, f.host, b64("alice:pa55"));
    let bad = format!(r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#, f.host, b64("alice:wrong"));
    sb.docker_config(&bad);
    let xdg = sb.path("xdg");
    std::fs::create_dir_all(xdg.join("containers")).unwrap();
    std::fs::write(xdg.join("containers/auth.json"), &good).unwrap();
    let xdg_s = xdg.to_str().unwrap();
    run_with_bin(&sb, &["pull", &r, "-o", "podman"], &[("XDG_RUNTIME_DIR", xdg_s)]).ok();

    std::fs::write(sb.path("rf.json"), &bad).unwrap();
    let rf = sb.path("rf.json");
    run_with_bin(
        &sb,
        &["pull", &r, "-o", "raf"],
        &[("XDG_RUNTIME_DIR", xdg_s), ("REGISTRY_AUTH_FILE", rf.to_str().unwrap())],
    )
    .fails(4, "credentials refused");
    std::fs::write(sb.path("flag.json"), &good).unwrap();
    let flag = sb.path("flag.json");
    run_with_bin(
        &sb,
        &["pull", &r, "-o", "flag", "--registry-config", flag.to_str().unwrap()],
        &[("REGISTRY_AUTH_FILE", rf.to_str().unwrap())],
    )
    .ok();
    run_with_bin(&sb, &["pull", &r, "-o", "docker"], &[]).fails(4, "credentials refused");
}

#[test]
fn github_token_is_used_for_ghcr() {
    let f = fake::artifact(
        vec![("f.txt", b"x".to_vec())],
        Guard::Bearer { token_auth: Some(format!("Basic {}", b64("octocat:ghs_abc"))) },
        None,
    );
    let port = f.host.rsplit(':').next().unwrap();
    let sb = Sandbox::new();
    let r = format!("ghcr.io:{port}/x:v1");
    let pin = format!("ghcr.io:{port}:127.0.0.1");
    let args = ["pull", r.as_str(), "-o", "out", "--plain-http", "--resolve", pin.as_str(), "-vv"];
    let run = run_with_bin(&sb, &args, &[("GITHUB_TOKEN", "ghs_abc"), ("GITHUB_ACTOR", "octocat")]);
    run.ok();
    assert!(!run.stderr.contains("ghs_abc"), "{}", run.stderr);
    run_with_bin(&sb, &args, &[("GH_TOKEN", "nope")]).fails(4, "credentials refused");
    // gh's order: GH_TOKEN first.
    let both = [("GH_TOKEN", "ghs_abc"), ("GITHUB_TOKEN", "nope"), ("GITHUB_ACTOR", "octocat")];
    let run = run_with_bin(&sb, &args, &both);
    run.ok();
    assert!(run.stderr.contains("GH_TOKEN"), "-vv names the source: {}", run.stderr);
    let swapped = [("GH_TOKEN", "nope"), ("GITHUB_TOKEN", "ghs_abc"), ("GITHUB_ACTOR", "octocat")];
    run_with_bin(&sb, &args, &swapped).fails(4, "credentials refused");
}

#[test]
fn token_servers_that_want_the_oauth2_password_grant() {
    let me: Arc<std::sync::OnceLock<String>> = Default::default();
    let me2 = me.clone();
    let f = Fake::start(move |hit| {
        let host = me2.get().cloned().unwrap_or_default();
        if hit.path.starts_with("/token") {
            let form = String::from_utf8_lossy(&hit.body).into_owned();
            return match hit.method.as_str() {
                "GET" => Reply::new(405, "method not allowed"),
                "POST"
                    if form.contains("grant_type=password")
                        && form.contains("username=alice")
                        && form.contains("password=pa55") =>
                {
                    Reply::new(200, r#"{"access_token":"oauth-tok"}"#)
                }
                _ => Reply::new(401, "no"),
            };
        }
        if hit.header("authorization") != Some("Bearer oauth-tok") {
            return Reply::new(401, "").header(
                "www-authenticate",
                &format!(
                    r#"Bearer realm="http://{host}/token",service="s",scope="repository:x:pull""#
                ),
            );
        }
        Reply::new(200, r#"{"schemaVersion":2,"manifests":[]}"#)
            .header("content-type", "application/vnd.oci.image.index.v1+json")
    });
    me.set(f.host.clone()).unwrap();
    let sb = Sandbox::new();
    let out = Run::from(
        sb.cmd(&["manifest", &format!("{}/x:v1", f.host)])
            .env("OCI_DL_USERNAME", "alice")
            .env("OCI_DL_PASSWORD", "pa55")
            .output()
            .unwrap(),
    );
    out.ok();
    let posts: Vec<_> = f.hits_to("/token").into_iter().filter(|h| h.method == "POST").collect();
    assert_eq!(posts.len(), 1);
}

/// A loopback HTTP proxy that records request lines and tunnels everything to 127.0.0.1.
struct Proxy {
    host: String,
    lines: Arc<Mutex<Vec<String>>>,
}

fn proxy() -> Proxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let rec = lines.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let rec = rec.clone();
            std::thread::spawn(move || tunnel(conn, &rec));
        }
    });
    Proxy { host, lines }
}

fn tunnel(client: TcpStream, rec: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let first = head[0].trim_end().to_owned();
    rec.lock().unwrap().push(first.clone());
    let target = first.split_whitespace().nth(1).unwrap_or("");
    let authority = target.trim_start_matches("http://").split('/').next().unwrap_or("");
    let port = authority.rsplit(':').next().unwrap_or("80");
    let Ok(mut upstream) = TcpStream::connect(format!("127.0.0.1:{port}")) else { return };
    let mut client_w = client.try_clone().unwrap();
    if first.starts_with("CONNECT") {
        client_w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
    } else {
        upstream.write_all(head.concat().as_bytes()).unwrap();
    }
    let buffered = reader.buffer().to_vec();
    upstream.write_all(&buffered).unwrap();
    let mut up_r = upstream.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut client_w);
    });
    let mut rest = reader.into_inner();
    let _ = std::io::copy(&mut rest, &mut upstream);
    let _ = upstream.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

#[test]
fn proxies_are_used_as_the_container_tools_use_them() {
    let Some(reg) = registry::open() else { return };
    let Some(tls) = registry::tls() else { return };
    let p = proxy();
    let sb = Sandbox::new();
    let proxy_url = format!("http://{}", p.host);
    let r = format!("{}/test/proxied:nope", reg.host);
    Run::from(sb.cmd(&["manifest", &r]).env("http_proxy", &proxy_url).output().unwrap())
        .fails(3, "MANIFEST_UNKNOWN");
    let seen = p.lines.lock().unwrap().clone();
    // ureq tunnels plain HTTP through CONNECT too; either way the proxy carried the request.
    let via = |l: &String| {
        l == &format!("GET http://{}/v2/test/proxied/manifests/nope HTTP/1.1", reg.host)
            || l == &format!("CONNECT {} HTTP/1.1", reg.host)
    };
    assert!(seen.iter().any(via), "{seen:?}");

    p.lines.lock().unwrap().clear();
    let no = Run::from(
        sb.cmd(&["manifest", &r])
            .env("http_proxy", &proxy_url)
            .env("NO_PROXY", "localhost,127.0.0.1")
            .output()
            .unwrap(),
    );
    no.fails(3, "MANIFEST_UNKNOWN");
    assert!(p.lines.lock().unwrap().is_empty(), "NO_PROXY bypasses the proxy");
    // Upper-case HTTP_PROXY counts, as for docker, podman, skopeo, oras and crane (Go's
    // ProxyFromEnvironment)...
    let upper =
        Run::from(sb.cmd(&["manifest", &r]).env("HTTP_PROXY", &proxy_url).output().unwrap());
    upper.fails(3, "MANIFEST_UNKNOWN");
    assert!(p.lines.lock().unwrap().iter().any(via), "HTTP_PROXY is used");
    // ...but not in a CGI environment, where a request's Proxy header would set it (httpoxy).
    p.lines.lock().unwrap().clear();
    let cgi = Run::from(
        sb.cmd(&["manifest", &r])
            .env("HTTP_PROXY", &proxy_url)
            .env("REQUEST_METHOD", "GET")
            .output()
            .unwrap(),
    );
    cgi.fails(3, "MANIFEST_UNKNOWN");
    assert!(p.lines.lock().unwrap().is_empty(), "HTTP_PROXY is ignored under CGI");
    let lower = Run::from(
        sb.cmd(&["manifest", &r])
            .env("http_proxy", &proxy_url)
            .env("REQUEST_METHOD", "GET")
            .output()
            .unwrap(),
    );
    lower.fails(3, "MANIFEST_UNKNOWN");
    assert!(p.lines.lock().unwrap().iter().any(via), "http_proxy still counts under CGI");

    let port = tls.host.rsplit(':').next().unwrap();
    let tr = format!("registry.test:{port}/x/y:nope");
    let ca = tls.ca.as_ref().unwrap().to_str().unwrap();
    Run::from(
        sb.cmd(&["manifest", &tr, "--ca-file", ca])
            .env("HTTPS_PROXY", &proxy_url)
            .output()
            .unwrap(),
    )
    .fails(3, "MANIFEST_UNKNOWN");
    let seen = p.lines.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l == &format!("CONNECT registry.test:{port} HTTP/1.1")),
        "{seen:?}"
    );
}

#[test]
fn docker_hub_quotas_are_explained() {
    let f = Fake::start(|hit| {
        if hit.path.contains("/manifests/") {
            Reply::new(429, r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#)
                .header("ratelimit-limit", "100;w=21600")
                .header("ratelimit-remaining", "0;w=21600")
                .header("retry-after", "0")
        } else {
            Reply::unexpected()
        }
    });
    let sb = Sandbox::new();
    sb.run(&["manifest", &format!("{}/x:v1", f.host), "--retries", "1"])
        .fails(7, "pull quota: 0 of 100 per 6 h window left; logging in");

    let low = Fake::start(|_| {
        Reply::new(200, r#"{"schemaVersion":2,"manifests":[]}"#)
            .header("content-type", "application/vnd.oci.image.index.v1+json")
            .header("ratelimit-limit", "100;w=21600")
            .header("ratelimit-remaining", "4;w=21600")
    });
    let run = sb.run(&["manifest", &format!("{}/x:v1", low.host), "-v"]);
    run.ok();
    assert!(run.stderr.contains("warning: pull quota: 4 of 100"), "{}", run.stderr);
    assert!(
        run.stderr.contains("ratelimit-limit 100 ratelimit-remaining 4"),
        "-v shows the headers: {}",
        run.stderr
    );
}

#[test]
fn attestation_manifests_are_never_picked() {
    let img = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let d = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &img).to_string();
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": img.len(), "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": img.len(), "platform": {"os": "linux", "architecture": "s390x"}},
    ]}))
    .unwrap();
    let f = Fake::start(move |hit| match hit.path.as_str() {
        "/v2/library/x/manifests/v1" => Reply::new(200, index.clone())
            .header("content-type", "application/vnd.oci.image.index.v1+json"),
        _ => Reply::new(200, img.clone())
            .header("content-type", "application/vnd.oci.image.manifest.v1+json"),
    });
    let sb = Sandbox::new();
    let r = format!("{}/library/x:v1", f.host);
    sb.run(&["manifest", &r, "--platform", "unknown/unknown"]).fails(3, "platforms: linux/s390x");
    sb.run(&["manifest", &r, "--platform", "linux/s390x"]).ok();
}

#[test]
fn tags_follow_link_pagination() {
    let f = Fake::start(|hit| match hit.path.as_str() {
        "/v2/x/tags/list?n=1000" => Reply::new(200, r#"{"name":"x","tags":["v1","v2"]}"#)
            .header("link", r#"</v2/x/tags/list?last=v2&n=1000>; rel="next""#),
        "/v2/x/tags/list?last=v2&n=1000" => Reply::new(200, r#"{"name":"x","tags":["v3"]}"#),
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let run = sb.run(&["tags", &format!("{}/x", f.host)]);
    run.ok();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "v1\nv2\nv3\n");
    let json = sb.run(&["tags", &format!("{}/x", f.host), "--json"]);
    assert_eq!(serde_json::from_slice::<Vec<String>>(&json.stdout).unwrap(), ["v1", "v2", "v3"]);
    f.assert_no_unexpected();

    let Some(reg) = registry::open() else { return };
    let p = crate::support::push::Pusher::new(reg);
    for t in ["a", "b", "c"] {
        p.artifact("test/tagged", t, &[crate::support::push::Layer::titled("f", t)]);
    }
    let run = sb.run(&["tags", &format!("{}/test/tagged", reg.host)]);
    let mut got: Vec<String> =
        String::from_utf8_lossy(&run.ok().stdout).lines().map(str::to_owned).collect();
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
}
