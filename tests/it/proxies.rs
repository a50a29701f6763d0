//! Each request goes through the proxy its own host is given, as curl and Go's
//! `http.ProxyFromEnvironment` decide per request URL: a redirect to a CDN is not sent the way the
//! registry's host was. The proxy is the strict fake: it answers `CONNECT` only for the host it
//! expects and passes what comes through the tunnel on to the real server behind it; every name
//! here resolves only through `--resolve` or the proxy, and everything stays on loopback.

use crate::support::fake::{self, Fake, Guard, Hit, Reply};
use crate::support::*;

/// The port of a fake (`127.0.0.1:PORT`).
fn port(f: &Fake) -> &str {
    f.host.rsplit(':').next().unwrap()
}

/// A proxy that tunnels `CONNECT name` to `behind` and refuses (as unexpected) a `CONNECT` to
/// any other name: ureq sends even plain HTTP through `CONNECT`.
fn proxy_for(name: String, behind: &Fake) -> Fake {
    fake::passthrough(behind.host.clone(), move |hit: &Hit| match hit.method.as_str() {
        "CONNECT" if hit.path == name => Some(Reply::new(200, "")),
        "CONNECT" => Some(Reply::unexpected()),
        _ => None,
    })
}

fn connects(proxy: &Fake) -> Vec<String> {
    proxy.hits().into_iter().filter(|h| h.method == "CONNECT").map(|h| h.path).collect()
}

/// Pull `{reg_name}/x:v1` with `pinned` resolved to loopback, the proxy named in `vars[0]`
/// (`HTTP_PROXY` or `http_proxy`) and `no_proxy` in `vars[1]`; the pull must land `data`.
fn pull_through(proxy: &Fake, vars: [&str; 2], no_proxy: &str, names: [&str; 2], data: &[u8]) {
    let [reg_name, pinned] = names;
    let sb = Sandbox::new();
    let pin = format!("{pinned}:127.0.0.1");
    let r = format!("{reg_name}/x:v1");
    let args = ["pull", &r, "-o", "out", "--plain-http", "--resolve", &pin, "--no-cache"];
    let run = sb
        .cmd(&args)
        .env(vars[0], format!("http://{}", proxy.host))
        .env(vars[1], no_proxy)
        .output()
        .unwrap();
    Run::from(run).ok();
    assert_eq!(std::fs::read(sb.work().join("out/tool.bin")).unwrap(), data);
}

/// A registry whose blob redirects to a CDN, both named by unresolvable `*.test` names: a
/// request reaches either only through the proxy or a `--resolve` pin.
struct Redirected {
    data: Vec<u8>,
    cdn: Fake,
    cdn_name: String,
    reg: Fake,
    reg_name: String,
}

fn redirected(seed: u64) -> Redirected {
    let data = noise(300_000, seed);
    let cdn = fake::cdn(vec![data.clone()]);
    let cdn_name = format!("cdn.test:{}", port(&cdn));
    let to = cdn_name.clone();
    let reg = fake::artifact_with(vec![("tool.bin", data.clone())], Guard::Open, move |_, d, _| {
        Reply::new(307, "").header("location", &format!("http://{to}/cdn/{d}?sig=secret"))
    });
    let reg_name = format!("registry.test:{}", port(&reg));
    Redirected { data, cdn, cdn_name, reg, reg_name }
}

/// A registry behind the proxy redirects its blob to a CDN that `NO_PROXY` lists: the CDN is
/// reached directly (before, the redirect went to the proxy, which was asked for the CDN).
#[test]
fn a_cdn_in_no_proxy_is_reached_directly_while_the_registry_goes_through_the_proxy() {
    // The registry's name resolves only through the proxy: a request that skips it fails.
    let Redirected { data, cdn, cdn_name, reg, reg_name } = redirected(71);
    let proxy = proxy_for(reg_name.clone(), &reg);
    pull_through(&proxy, ["HTTP_PROXY", "NO_PROXY"], "cdn.test", [&reg_name, &cdn_name], &data);
    let seen = connects(&proxy);
    assert!(!seen.is_empty() && seen.iter().all(|c| *c == reg_name), "{seen:?}");
    assert_eq!(cdn.hits_to("/cdn/").len(), 1, "the CDN was asked directly");
}

/// A registry `NO_PROXY` lists redirects its blob to a CDN that is not: the CDN goes through the
/// proxy (before, it was asked directly, and its name did not resolve).
#[test]
fn a_cdn_outside_no_proxy_goes_through_the_proxy_while_the_registry_is_reached_directly() {
    // The CDN's name resolves only through the proxy.
    let Redirected { data, cdn, cdn_name, reg, reg_name } = redirected(72);
    let proxy = proxy_for(cdn_name.clone(), &cdn);
    pull_through(
        &proxy,
        ["http_proxy", "no_proxy"],
        "registry.test",
        [&reg_name, &reg_name],
        &data,
    );
    assert_eq!(connects(&proxy), [cdn_name], "only the CDN went through the proxy");
    let tunnelled = proxy.hits_to("/cdn/");
    assert_eq!(tunnelled.len(), 1);
    assert_eq!(tunnelled[0].header("authorization"), None, "no credentials leave the registry");
    assert!(reg.hits_to("/v2/x/blobs/").len() == 1, "the registry was asked directly");
}

/// A registry `NO_PROXY` lists sends its token realm to another host that is not: the token is
/// asked for through the proxy (before, it was asked directly, and the realm's name did not
/// resolve), and the registry is still asked directly.
#[test]
fn a_token_realm_on_another_host_goes_through_its_own_proxy() {
    let data = noise(20_000, 73);
    let backend =
        fake::artifact_with(vec![("tool.bin", data.clone())], Guard::Open, |hit, _, b| {
            Reply::blob(hit, b)
        });
    let token = Fake::start(|hit| match hit.route() {
        "/token" => Reply::new(200, r#"{"token":"t-1"}"#),
        _ => Reply::unexpected(),
    });
    // Unresolvable but through the proxy.
    let realm = format!("auth.test:{}", port(&token));
    let challenge = format!(r#"Bearer realm="http://{realm}/token",service="reg""#);
    let reg = fake::passthrough(backend.host.clone(), move |hit| {
        let ok = hit.header("authorization") == Some("Bearer t-1");
        (!ok).then(|| Reply::new(401, "").header("www-authenticate", &challenge))
    });
    let reg_name = format!("registry.test:{}", port(&reg));
    let proxy = proxy_for(realm.clone(), &token);
    pull_through(
        &proxy,
        ["HTTP_PROXY", "NO_PROXY"],
        "registry.test",
        [&reg_name, &reg_name],
        &data,
    );
    assert_eq!(connects(&proxy), [realm], "only the realm went through the proxy");
    assert_eq!(token.hits_to("/token").len(), 1);
    assert!(!reg.hits_to("/v2/x/blobs/").is_empty(), "the registry was asked directly");
}
