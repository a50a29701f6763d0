//! An attacker's review of the registry split (issue 23 item 1): the request path now follows
//! relative redirects and resolves `Link` pages (RFC 3986). Whoever controls a registry or a
//! redirect target tries to get our token sent elsewhere, a signed URL printed, a redirect loop
//! kept going or a page read twice. The fail-over is hostile_failover.rs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::hostile_net::{bounded, scripted};
use crate::support::fake::{self, Fake, Guard, Reply, TOKEN};
use crate::support::*;

/// Where a redirect leads, as far as our token is concerned.
enum Led {
    /// Another host: followed, without the token.
    Elsewhere,
    /// The registry's own scheme and authority: followed, with the token.
    Home,
    /// The registry's address under another name: followed, without the token.
    Renamed,
    /// Not followed at all.
    Refused,
}

/// Whatever a registry's redirect names, our bearer token goes only to the registry's own
/// scheme and authority: not to another port, not through a `//host` network path, not to a
/// host behind the registry's authority written as userinfo, not to the registry's own address
/// under another name. A relative or dot-segmented Location on the registry keeps it.
#[test]
fn redirects_carry_the_token_to_the_registrys_own_origin_only() {
    let data = noise(20_000, 41);
    let digest = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &data).to_string();
    let other = {
        let (route, bytes) = (format!("/cdn/{digest}"), data.clone());
        Fake::start(move |hit| match hit.route() == route {
            true => Reply::new(200, bytes.clone()),
            false => Reply::unexpected(),
        })
    };
    let location = Arc::new(Mutex::new(String::new()));
    let registry =
        fake::artifact_with(vec![("one", data.clone())], Guard::Bearer { token_auth: None }, {
            let location = location.clone();
            move |hit, d, b| match hit.path.contains("hop=1") {
                true => Reply::new(200, b.to_vec()),
                false => Reply::new(307, "")
                    .header("location", &location.lock().unwrap().replace("{d}", d)),
            }
        });
    let (reg, oth) = (registry.host.clone(), other.host.clone());
    let port = reg.rsplit_once(':').unwrap().1;
    let bearer = format!("Bearer {TOKEN}");
    let cases = [
        (format!("http://{oth}/cdn/{{d}}?sig=secret"), Led::Elsewhere),
        (format!("//{oth}/cdn/{{d}}?sig=secret"), Led::Elsewhere),
        // RFC 9110 4.2.4: userinfo obscures the authority (and ureq would send it as Basic).
        (format!("http://{reg}@{oth}/cdn/{{d}}?sig=secret"), Led::Refused),
        (format!("//{reg}@{oth}/cdn/{{d}}?sig=secret"), Led::Refused),
        (format!("http://localhost:{port}/v2/x/blobs/{{d}}?hop=1"), Led::Renamed),
        (format!("HTTP://{reg}/v2/x/blobs/{{d}}?hop=1"), Led::Home),
        (format!("http://{reg}/v2/x/../x/blobs/./{{d}}?hop=1"), Led::Home),
        ("../../x/blobs/{d}?hop=1".to_owned(), Led::Home),
        ("/v2/x/blobs/{d}?hop=1#/../../evil".to_owned(), Led::Home),
    ];
    for (to, led) in &cases {
        *location.lock().unwrap() = to.clone();
        let (seen_here, seen_there) = (registry.hits().len(), other.hits().len());
        let sb = Sandbox::new();
        let run = sb.run(&["pull", &format!("{reg}/x:v1"), "-o", "out", "-vv"]);
        assert!(
            !run.stderr.contains(TOKEN) && !run.stderr.contains("secret"),
            "{to}:\n{}",
            run.stderr
        );
        let there = other.hits()[seen_there..].to_vec();
        let here: Vec<_> = registry.hits()[seen_here..]
            .iter()
            .filter(|h| h.path.contains("hop=1"))
            .cloned()
            .collect();
        let hop = match led {
            Led::Elsewhere => there.clone(),
            _ => here.clone(),
        };
        match led {
            Led::Refused => {
                run.fails(6, "unsupported redirect Location");
                assert!(there.is_empty() && here.is_empty(), "{to}: nobody asked");
                continue;
            }
            Led::Renamed => {
                // The registry's address under another name is another origin: no token, so
                // its 401 is the answer.
                run.fails(4, "401");
                let out = sb.work().join("out");
                assert!(!out.exists() || tree(&out).is_empty(), "{to}: {:?}", tree(&out));
            }
            Led::Elsewhere | Led::Home => {
                run.ok();
                assert_eq!(std::fs::read(sb.work().join("out/one")).unwrap(), data, "{to}");
            }
        }
        assert_eq!(hop.len(), 1, "{to}: one request where it leads: {hop:?}");
        let token = matches!(led, Led::Home).then_some(bearer.as_str());
        assert_eq!(hop[0].header("authorization"), token, "{to}");
    }
    registry.assert_no_unexpected();
    other.assert_no_unexpected();
}

/// A redirect loop ends after ten hops with one line (exit 6) and no retry: a registry that sends
/// the blob to itself under a fresh query each time, and one that plays ping-pong with a CDN
/// (whose requests never carry the token).
#[test]
fn redirect_loops_end_after_ten_hops() {
    let data = noise(5_000, 46);
    let cdn_host: Arc<std::sync::OnceLock<String>> = Arc::default();
    let registry = fake::artifact_with(vec![("one", data)], Guard::Bearer { token_auth: None }, {
        let cdn_host = cdn_host.clone();
        move |hit, d, _| {
            let n: u32 = hit.path.rsplit("n=").next().and_then(|n| n.parse().ok()).unwrap_or(0);
            match cdn_host.get() {
                Some(cdn) => Reply::new(302, "")
                    .header("location", &format!("http://{cdn}/ping/{d}?n={}", n + 1)),
                _ => Reply::new(307, "").header("location", &format!("./{d}?n={}", n + 1)),
            }
        }
    });
    let reg = registry.host.clone();
    let cdn = Fake::start(move |hit| {
        let n: u32 = hit.path.rsplit("n=").next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let d = hit.route().trim_start_matches("/ping/");
        Reply::new(302, "").header("location", &format!("http://{reg}/v2/x/blobs/{d}?n={}", n + 1))
    });
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", registry.host);
    let (run, took) =
        bounded(&mut sb.cmd(&["pull", &reference, "-o", "self"]), Duration::from_secs(30));
    run.fails(6, "redirect without a usable Location (or more than 10)");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let blobs = registry.hits_to("/v2/x/blobs/");
    assert_eq!(blobs.len(), 11, "the first request and ten hops, once: {blobs:?}");

    cdn_host.set(cdn.host.clone()).unwrap();
    let registry_before = registry.hits_to("/v2/x/blobs/").len();
    let (run, _) =
        bounded(&mut sb.cmd(&["pull", &reference, "-o", "pong"]), Duration::from_secs(30));
    run.fails(6, "more than 10");
    let total = registry.hits_to("/v2/x/blobs/").len() - registry_before + cdn.hits().len();
    assert_eq!(total, 11, "the first request and ten hops");
    assert!(cdn.hits().iter().all(|h| h.header("authorization").is_none()), "the token stays home");
    assert!(!run.stderr.contains(TOKEN));
}

/// A Location oci-dl will not follow is one line (exit 6) that names it without its query,
/// which is often a CDN's signature; a network path without a host is refused the same way.
#[test]
fn a_refused_location_is_named_without_its_signature() {
    let data = noise(5_000, 42);
    let location = Arc::new(Mutex::new(String::new()));
    let registry = fake::artifact_with(vec![("one", data)], Guard::Open, {
        let location = location.clone();
        move |_, _, _| Reply::new(302, "").header("location", &location.lock().unwrap())
    });
    let sb = Sandbox::new();
    let root = sb.work().join("refused");
    std::fs::create_dir_all(&root).unwrap();
    let canaries = Canaries::plant(&root);
    for (to, shown) in [
        (
            "ftp://cdn.example/one?sig=secret",
            r#"unsupported redirect Location "ftp://cdn.example/one""#,
        ),
        ("///cdn.example/one?sig=secret", r#"unsupported redirect Location "///cdn.example/one""#),
        (
            "https:/cdn.example/one?sig=secret",
            r#"unsupported redirect Location "https:/cdn.example/one""#,
        ),
        ("http://cdn.example/o ne?sig=secret", "GET http://cdn.example/o ne: "),
    ] {
        *location.lock().unwrap() = to.to_owned();
        let out = root.join("out");
        let run =
            sb.run(&["pull", &format!("{}/x:v1", registry.host), "-o", out.to_str().unwrap()]);
        // Refused by oci-dl (named as a Location) or by the HTTP library (named as a GET).
        run.fails(6, shown);
        assert!(!run.stderr.contains("secret"), "{to}:\n{}", run.stderr);
        assert!(tree(&out).iter().all(|p| p.is_empty()), "{to}: {:?}", tree(&out));
    }
    canaries.assert_unchanged();
}

/// A manifest or tag list the registry redirects to a CDN's signed URL, where something is
/// wrong with it (over the size cap, not a tag list): the error names the URL without its
/// signature, at any verbosity.
#[test]
fn errors_about_a_redirected_body_never_show_its_signature() {
    let cdn = Fake::start(|hit| match hit.route() {
        "/m" => Reply::new(200, "{}").header("content-length", "5000000"),
        "/t" => Reply::new(200, "<html>not a tag list</html>"),
        _ => Reply::unexpected(),
    });
    let to = cdn.host.clone();
    let registry = scripted(move |hit, _| match hit.route() {
        "/v2/x/manifests/v1" => {
            Reply::new(307, "").header("location", &format!("http://{to}/m?sig=secret"))
        }
        "/v2/x/tags/list" => {
            Reply::new(307, "").header("location", &format!("http://{to}/t?sig=secret"))
        }
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let run = sb.run(&["manifest", &format!("{}/x:v1", registry.host), "-vv"]);
    run.fails(1, &format!("GET http://{}/m: manifest is 5000000 bytes", cdn.host));
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);
    let run = sb.run(&["tags", &format!("{}/x", registry.host), "-vv"]);
    run.fails(1, &format!("GET http://{}/t: not a tag list", cdn.host));
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);
    registry.assert_no_unexpected();
    cdn.assert_no_unexpected();
}

/// A tag list's `Link` may not lead off the registry (another port, a network path, the
/// registry's authority as userinfo, a scheme change), and the page already read cannot come
/// back under another spelling (an absolute URL with dot segments, a relative climb). The host
/// it names is never asked.
#[test]
fn tag_links_stay_on_the_registry_and_no_page_comes_back_respelled() {
    let other = Fake::start(|_| Reply::unexpected());
    other.expect_unused();
    let oth = other.host.clone();
    let page = br#"{"name":"x","tags":["a"]}"#.to_vec();
    let registry = scripted(move |hit, host| {
        let link = match hit.path.as_str() {
            "/v2/port/tags/list?n=1000" => format!("http://{oth}/v2/port/tags/list?last=a"),
            "/v2/net/tags/list?n=1000" => format!("//{oth}/v2/net/tags/list?last=a"),
            "/v2/user/tags/list?n=1000" => format!("http://{host}@{oth}/v2/user/tags/list?last=a"),
            "/v2/tls/tags/list?n=1000" => format!("https://{host}/v2/tls/tags/list?last=a"),
            "/v2/dots/tags/list?n=1000" => format!("http://{host}/v2/x/../dots/tags/./list?n=1000"),
            "/v2/climb/tags/list?n=1000" => "../../../v2/climb/tags/list?n=1000".to_owned(),
            _ => return Reply::unexpected(),
        };
        Reply::new(200, page.clone()).header("link", &format!("<{link}>; rel=\"next\""))
    });
    let sb = Sandbox::new();
    for (repo, why) in [
        ("port", "points to another host"),
        ("net", "points to another host"),
        ("user", "points to another host"),
        ("tls", "points to another host"),
        ("dots", "points back to a page already read"),
        ("climb", "points back to a page already read"),
    ] {
        let (run, _) = bounded(
            &mut sb.cmd(&["tags", &format!("{}/{repo}", registry.host)]),
            Duration::from_secs(30),
        );
        run.fails(1, why);
        assert_eq!(String::from_utf8_lossy(&run.stdout), "a\n", "{repo}: the first page, once");
        assert_eq!(registry.hits_to(&format!("/v2/{repo}/")).len(), 1, "{repo}: one page read");
    }
    registry.assert_no_unexpected();
}

/// mirrors × referrers × tags: with a mirror that may serve tags in front, the referrers API and
/// the tag list are still asked of the registry only (a list is the registry's to give); the
/// mirror is asked manifests and blobs, nothing else.
#[test]
fn lists_are_asked_of_the_registry_only_whatever_mirror_is_in_front() {
    let reg = registry::open();
    require(reg.is_some(), "docker-registry (the package)");
    let reg = reg.unwrap();
    let p = crate::support::push::Pusher::new(reg);
    let repo = "hostile/lists";
    let (subject, body) = p.oras_push(repo, "v1", &[crate::support::push::Layer::oras("a", "a\n")]);
    let sbom = crate::support::push::Layer::oras("sbom.spdx.json", "{}");
    let spdx = "application/spdx+json";
    let listed = crate::referrers::push_referrer(
        &p,
        repo,
        (&subject, body.len()),
        spdx,
        &sbom,
        "2026-01-01T00:00:00Z",
    );
    p.index_of(repo, &format!("sha256-{}", subject.hex()), &[listed], None);
    let mirror = Fake::start(|hit| match hit.route() {
        r if r.contains("/manifests/") || r.contains("/blobs/") => {
            Reply::new(404, r#"{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}"#)
        }
        _ => Reply::unexpected(),
    });
    let sb = Sandbox::new();
    let reference = format!("{}/{repo}:v1", reg.host);
    let with_mirror = |args: &[&str]| sb.run(&[args, &["--mirror", &mirror.host]].concat());
    let run = with_mirror(&["referrers", &reference, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&run.ok().stdout).unwrap();
    assert_eq!(doc["subject"], subject.to_string());
    with_mirror(&["pull", &reference, "-o", "out", "--referrer", spdx, "--no-subject"]).ok();
    assert_eq!(std::fs::read(sb.work().join("out/sbom.spdx.json")).unwrap(), b"{}");
    with_mirror(&["tags", &format!("{}/{repo}", reg.host)]).ok();
    let lists: Vec<String> = mirror
        .hits()
        .iter()
        .map(|h| h.path.clone())
        .filter(|p| p.contains("/referrers/") || p.contains("/tags/list"))
        .collect();
    assert!(lists.is_empty(), "lists asked of a mirror: {lists:?}");
    mirror.assert_no_unexpected();
}
