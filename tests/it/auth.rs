//! Authentication: Basic against the real registry (htpasswd), the Bearer token dance and
//! cross-host redirects against the fake.

use std::io::Write;
use std::process::Stdio;

use base64::Engine as _;

use crate::support::fake::{self, Guard, Reply, TOKEN};
use crate::support::push::{Layer, Pusher};
use crate::support::registry;
use crate::support::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Run with `input` on stdin.
fn run_with_stdin(sb: &Sandbox, args: &[&str], input: &str) -> Run {
    let mut child = sb
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn basic_auth_registry_with_right_and_wrong_passwords() {
    let Some(reg) = registry::basic_auth() else {
        return;
    };
    Pusher::new(reg).artifact("test/private", "v1", &[Layer::titled("secret.txt", "classified")]);
    let r = format!("{}/test/private:v1", reg.host);
    let (user, pw) = reg.auth.clone().unwrap();

    let sb = Sandbox::new();
    let run = sb.run(&["pull", &r, "-o", "anon"]);
    run.fails(4, "requires credentials");
    assert!(!sb.work().join("anon").exists());

    run_with_stdin(
        &sb,
        &["pull", &r, "-o", "stdin", "-u", &user, "--password-stdin", "-vv"],
        &format!("{pw}\n"),
    )
    .ok();
    assert_eq!(std::fs::read(sb.work().join("stdin/secret.txt")).unwrap(), b"classified");

    let run = run_with_stdin(
        &sb,
        &["pull", &r, "-o", "wrong", "-u", &user, "--password-stdin", "-vv"],
        "not-it\n",
    );
    run.fails(4, "401");
    assert!(!run.stderr.contains("not-it"), "password never printed");

    let env = sb
        .cmd(&["pull", &r, "-o", "env"])
        .env("OCI_DL_USERNAME", &user)
        .env("OCI_DL_PASSWORD", &pw)
        .output()
        .unwrap();
    Run::from(env).ok();
    assert!(sb.work().join("env/secret.txt").exists());

    sb.docker_config(&format!(
        r#"{{"auths":{{"http://{}":{{"auth":"{}"}}}}}}"#,
        reg.host,
        b64(&format!("{user}:{pw}"))
    ));
    let run = sb.run(&["pull", &r, "-o", "cfg", "-v"]);
    run.ok();
    assert!(
        !run.stderr.contains(&pw) && !run.stderr.contains(&b64(&format!("{user}:{pw}"))),
        "{}",
        run.stderr
    );
    assert!(sb.work().join("cfg/secret.txt").exists());
}

#[test]
fn usage_errors_for_half_given_credentials() {
    let sb = Sandbox::new();
    sb.run(&["pull", "127.0.0.1:9/x:v1", "--password-stdin"]).fails(2, "needs -u/--username");
    sb.run(&["pull", "127.0.0.1:9/x:v1", "-u", "me"])
        .fails(2, "needs --password-stdin or OCI_DL_PASSWORD");
}

#[test]
fn anonymous_bearer_token_is_fetched_once_and_reused() {
    let fake = fake::artifact(
        vec![("a.txt", b"aaa".to_vec()), ("b.bin", noise(50_000, 4))],
        Guard::Bearer { token_auth: None },
        None,
    );
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", fake.host), "-o", "out"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/b.bin")).unwrap(), noise(50_000, 4));
    let tokens = fake.hits_to("/token");
    assert_eq!(tokens.len(), 1, "one token for the run");
    assert!(
        tokens[0].path.contains("scope=repository%3Ax%3Apull")
            && tokens[0].path.contains("service=fake"),
        "{}",
        tokens[0].path
    );
    assert_eq!(tokens[0].header("authorization"), None, "anonymous");
    let api = fake.hits_to("/v2/");
    // manifest 401, manifest 200, two blobs with the cached token
    assert_eq!(api.len(), 4, "{:?}", api.iter().map(|h| &h.path).collect::<Vec<_>>());
    assert!(api[1..].iter().all(|h| h.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
    fake.assert_no_unexpected();
}

#[test]
fn bearer_token_with_credentials_and_refusal() {
    let basic = format!("Basic {}", b64("alice:pa55"));
    let fake = fake::artifact(
        vec![("a.txt", b"aaa".to_vec())],
        Guard::Bearer { token_auth: Some(basic) },
        None,
    );
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", fake.host);
    let run = run_with_stdin(
        &sb,
        &["pull", &r, "-o", "ok", "-u", "alice", "--password-stdin", "-vv"],
        "pa55",
    );
    run.ok();
    assert!(
        !run.stderr.contains("pa55") && !run.stderr.contains(TOKEN),
        "no secret in -vv output:\n{}",
        run.stderr
    );
    let run =
        run_with_stdin(&sb, &["pull", &r, "-o", "bad", "-u", "alice", "--password-stdin"], "wrong");
    run.fails(4, "credentials refused");
    assert!(!sb.work().join("bad").exists());
}

/// A registry whose token endpoint trades `refresh` (a Docker config's `identitytoken`, sent
/// with the refresh-token grant) for `access`, and whose manifest needs `access`; and a sandbox
/// whose Docker config holds `refresh`.
fn refresh_token_registry(refresh: &str, access: &str) -> (fake::Fake, Sandbox) {
    let me: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
    let (me2, refresh2, access) = (me.clone(), refresh.to_owned(), access.to_owned());
    let fake = fake::Fake::start(move |hit| {
        let host = me2.get().cloned().unwrap_or_default();
        if hit.path.starts_with("/token") {
            let form = String::from_utf8_lossy(&hit.body).into_owned();
            if hit.method == "POST"
                && form.contains("grant_type=refresh_token")
                && form.contains(&format!("refresh_token={refresh2}"))
            {
                return fake::Reply::new(200, format!(r#"{{"access_token":"{access}"}}"#));
            }
            return fake::Reply::new(401, "no");
        }
        if hit.header("authorization") != Some(&format!("Bearer {access}")) {
            return fake::Reply::new(401, "").header(
                "www-authenticate",
                &format!(r#"Bearer realm="http://{host}/token",service="s""#),
            );
        }
        fake::Reply::new(200, r#"{"schemaVersion":2,"manifests":[]}"#)
            .header("content-type", "application/vnd.oci.image.index.v1+json")
    });
    me.set(fake.host.clone()).unwrap();
    let sb = Sandbox::new();
    sb.docker_config(&format!(
        r#"{{"auths":{{"{}":{{"identitytoken":"{refresh}"}}}}}}"#,
        fake.host
    ));
    (fake, sb)
}

/// `len` letters, for a token that long.
fn letters(len: usize, first: u8) -> String {
    (0..len).map(|i| (first + (i % 26) as u8) as char).collect()
}

#[test]
fn identity_token_uses_the_refresh_token_grant() {
    let (fake, sb) = refresh_token_registry("rt-xyz", "at-1");
    let run = sb.run(&["manifest", &format!("{}/x:v1", fake.host), "-vv"]);
    run.ok();
    assert!(!run.stderr.contains("rt-xyz") && !run.stderr.contains("at-1"), "{}", run.stderr);
    assert_eq!(fake.hits_to("/token").len(), 1);
}

/// Connections keep a 32 KiB write buffer (ureq's default 128 KiB is zero-filled on each of
/// `--jobs` connections): a refresh token and an access token of 20 KiB each still go out
/// whole, in the token form's body and in the `Authorization` header.
#[test]
fn twenty_kib_tokens_fit_the_request_buffer() {
    let (fake, sb) = refresh_token_registry(&letters(20 * 1024, b'a'), &letters(20 * 1024, b'A'));
    sb.run(&["manifest", &format!("{}/x:v1", fake.host)]).ok();
    assert_eq!(fake.hits_to("/token").len(), 1);
}

/// A token too long for any request (nginx refuses header lines over 8 KiB by default) fails
/// at once with what is wrong, not after six retries of a "protocol" error.
#[test]
fn a_token_over_the_request_buffer_fails_at_once_and_says_so() {
    let (fake, sb) = refresh_token_registry(&letters(40 * 1024, b'a'), &letters(40 * 1024, b'A'));
    let run = sb.run(&["manifest", &format!("{}/x:v1", fake.host)]);
    run.fails(6, "URL or one of its headers is over 32 KiB");
    assert!(!run.stderr.contains("attempts"), "{}", run.stderr);
    // The challenge; the request with the token never leaves (ureq refuses it before sending).
    assert_eq!(fake.hits_to("/v2/x/manifests/v1").len(), 1);
    assert_eq!(fake.hits_to("/token").len(), 1, "no retry");
}

#[test]
fn redirected_blobs_get_no_authorization_on_the_other_host() {
    let files = vec![noise(30_000, 8), b"small".to_vec()];
    let cdn = fake::cdn(files.clone());
    let fake = fake::artifact(
        vec![("one", files[0].clone()), ("two", files[1].clone())],
        Guard::Bearer { token_auth: None },
        Some(cdn.host.clone()),
    );
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/x:v1", fake.host), "-o", "out", "-v"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/one")).unwrap(), files[0]);
    assert_eq!(std::fs::read(sb.work().join("out/two")).unwrap(), files[1]);
    let cdn_hits = cdn.hits();
    assert_eq!(cdn_hits.len(), 2);
    assert!(
        cdn_hits.iter().all(|h| h.header("authorization").is_none()),
        "credentials leaked to the CDN"
    );
    assert!(!run.stderr.contains("sig=secret"), "signed URLs are not logged:\n{}", run.stderr);
    cdn.assert_no_unexpected();
    fake.assert_no_unexpected();
}

#[test]
fn a_relative_location_on_the_registry_is_followed_with_its_credentials() {
    // RFC 9110 10.2.2: a Location may be relative, resolved against the request's URL.
    let data = noise(20_000, 31);
    let fake = fake::artifact_with(
        vec![("one", data.clone())],
        Guard::Bearer { token_auth: None },
        |hit, d, b| match hit.path.contains("hop=1") {
            true => Reply::new(200, b.to_vec()),
            // `./` keeps `sha256:` from reading as a scheme (RFC 3986 4.2).
            false => Reply::new(307, "").header("location", &format!("./{d}?hop=1")),
        },
    );
    let sb = Sandbox::new();
    sb.run(&["pull", &format!("{}/x:v1", fake.host), "-o", "out"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/one")).unwrap(), data);
    let hops: Vec<_> =
        fake.hits_to("/v2/x/blobs/").into_iter().filter(|h| h.path.contains("hop=1")).collect();
    assert_eq!(hops.len(), 1, "{hops:?}");
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(hops[0].header("authorization"), Some(bearer.as_str()), "same origin");
    fake.assert_no_unexpected();
}

#[test]
fn a_relative_location_on_another_host_stays_there_without_credentials() {
    let data = noise(20_000, 32);
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).to_string();
    let (d2, served) = (data.clone(), digest.clone());
    let cdn = fake::Fake::start(move |hit| match hit.route() {
        r if r == format!("/edge/a/{served}") => {
            Reply::new(302, "").header("location", &format!("../../cdn/{served}?sig=secret"))
        }
        r if r == format!("/cdn/{served}") => Reply::new(200, d2.clone()),
        _ => Reply::unexpected(),
    });
    let cdn_host = cdn.host.clone();
    let fake =
        fake::artifact_with(vec![("one", data.clone())], Guard::Bearer { token_auth: None }, {
            move |_, d, _| {
                Reply::new(307, "").header("location", &format!("http://{cdn_host}/edge/a/{d}"))
            }
        });
    let sb = Sandbox::new();
    let run = sb.run(&["pull", &format!("{}/x:v1", fake.host), "-o", "out", "-v"]);
    run.ok();
    assert_eq!(std::fs::read(sb.work().join("out/one")).unwrap(), data);
    let routes: Vec<String> = cdn.hits().iter().map(|h| h.route().to_owned()).collect();
    assert_eq!(routes, [format!("/edge/a/{digest}"), format!("/cdn/{digest}")]);
    assert!(cdn.hits().iter().all(|h| h.header("authorization").is_none()), "credentials leaked");
    assert!(!run.stderr.contains("sig=secret"), "signed URLs are not logged:\n{}", run.stderr);
    cdn.assert_no_unexpected();
    fake.assert_no_unexpected();
}
