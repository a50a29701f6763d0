//! Where credentials come from, first hit wins:
//! 1. explicit ones (`-u` with `--password-stdin`, or `OCI_DL_USERNAME`/`OCI_DL_PASSWORD`; the
//!    front end reads those);
//! 2. for ghcr.io, `GITHUB_TOKEN` or `GH_TOKEN`;
//! 3. config files: `--registry-config`, else `REGISTRY_AUTH_FILE`, else podman's
//!    `$XDG_RUNTIME_DIR/containers/auth.json`, else the Docker config — each read for
//!    `credHelpers.<host>`, `credsStore` and `auths` as the Docker CLI does;
//! 4. anonymous.
//!
//! Secrets never reach `Debug`, `Display`, logs or errors.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Error, ErrorKind};
use config_file::Lenient;

mod config_file;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal access token).
    Basic {
        /// Sent as is.
        username: String,
        /// Never printed.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in the Docker config).
    IdentityToken {
        /// May be empty.
        username: String,
        /// Never printed.
        token: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::IdentityToken { username, .. } => {
                write!(f, "IdentityToken({username}, <redacted>)")
            }
        }
    }
}

impl Credentials {
    /// The `Authorization: Basic …` value, for Basic challenges and token requests.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => {
                Some(format!("Basic {}", B64.encode(format!("{username}:{password}"))))
            }
            Credentials::IdentityToken { .. } => None,
        }
    }
}

/// Found credentials and where they came from (for `-v`; never the secret).
#[derive(Debug, Clone)]
pub struct Found {
    pub credentials: Credentials,
    pub source: String,
}

/// The places to look, in order. Built from the environment by [`CredentialSources::from_env`]; the
/// default looks nowhere.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    /// `GH_TOKEN` / `GITHUB_TOKEN`, and the user name to send with it (`GITHUB_ACTOR`).
    pub github_token: Option<(String, String)>,
    /// Which variable the token came from, for `-vv`.
    pub github_token_var: &'static str,
    /// Config files in lookup order.
    pub files: Vec<PathBuf>,
}

impl CredentialSources {
    /// `--registry-config` (if given), else `REGISTRY_AUTH_FILE`, else podman's auth file, then
    /// the Docker config.
    pub fn from_env(registry_config: Option<&Path>) -> CredentialSources {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // gh's order: GH_TOKEN wins over GITHUB_TOKEN.
        let (github_token_var, token) = match var("GH_TOKEN") {
            Some(t) => ("GH_TOKEN", Some(t)),
            None => ("GITHUB_TOKEN", var("GITHUB_TOKEN")),
        };
        let github_token =
            token.map(|t| (var("GITHUB_ACTOR").unwrap_or_else(|| "oci-dl".to_owned()), t));
        let mut files = Vec::new();
        if let Some(p) = registry_config {
            files.push(p.to_path_buf());
        } else if let Some(p) = var("REGISTRY_AUTH_FILE") {
            files.push(PathBuf::from(p));
        } else if let Some(dir) = var("XDG_RUNTIME_DIR") {
            files.push(Path::new(&dir).join("containers/auth.json"));
        }
        if let Some(dir) = var("DOCKER_CONFIG") {
            files.push(Path::new(&dir).join("config.json"));
        } else if let Some(home) = var("HOME") {
            files.push(Path::new(&home).join(".docker/config.json"));
        }
        CredentialSources { github_token, github_token_var, files }
    }

    /// Credentials for `registry` (as written in the reference, e.g. `ghcr.io`, `docker.io`,
    /// `localhost:5000`), or `None` for anonymous access.
    pub fn find(&self, registry: &str) -> Result<Option<Found>, Error> {
        let host_only = super::urls::host_of(registry);
        if host_only.eq_ignore_ascii_case("ghcr.io")
            && let Some((user, token)) = &self.github_token
        {
            return Ok(Some(Found {
                credentials: Credentials::Basic { username: user.clone(), password: token.clone() },
                source: self.github_token_var.into(),
            }));
        }
        for file in &self.files {
            if let Some(found) = from_config(file, registry)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// Look `registry` up in one config file (Docker's `config.json` or containers' `auth.json`):
/// `credHelpers.<host>`, else `credsStore`, else `auths.<host>`. A missing file means nothing;
/// an unreadable or malformed one is an error naming the file, since silently going anonymous
/// would turn a typo into a confusing "denied".
pub fn from_config(path: &Path, registry: &str) -> Result<Option<Found>, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let bad = |why: String| {
        Error::new(ErrorKind::Auth, format!("invalid registry config {}: {why}", path.display()))
    };
    let parsed = config_file::parse(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let Some(config) = parsed else { return Ok(None) };
    let server = server_url(registry);
    let source = |how: &str| format!("{how} in {}", path.display());

    let helpers = config.cred_helpers.get();
    if let Some(helper) = helpers.and_then(|h| entry_for(h, registry)).and_then(Lenient::get) {
        return Ok(run_helper(helper, &server, path)?.map(|c| Found {
            credentials: c,
            source: source(&format!("credential helper {helper}")),
        }));
    }
    if let Some(store) = config.creds_store.non_empty()
        && let Some(c) = run_helper(store, &server, path)?
    {
        return Ok(Some(Found {
            credentials: c,
            source: source(&format!("credential store {store}")),
        }));
    }
    let auths = config.auths.get();
    let Some(entry) = auths.and_then(|a| entry_for(a, registry)).and_then(Lenient::get) else {
        return Ok(None);
    };
    let mut username = entry.username.non_empty().map(str::to_owned);
    let mut password = entry.password.non_empty().map(str::to_owned);
    if let Some(auth) = entry.auth.non_empty() {
        let not_b64 = || bad(format!("auths.{registry:?}.auth is not base64 of user:password"));
        let decoded = B64
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(not_b64)?;
        let (u, p) = decoded.split_once(':').ok_or_else(not_b64)?;
        username = Some(u.to_owned());
        password = Some(p.to_owned());
    }
    let credentials = if let Some(token) = entry.identitytoken.non_empty() {
        Credentials::IdentityToken {
            username: username.unwrap_or_default(),
            token: token.to_owned(),
        }
    } else {
        match (username, password) {
            (Some(username), Some(password)) => Credentials::Basic { username, password },
            _ => return Ok(None),
        }
    };
    Ok(Some(Found { credentials, source: source("auths") }))
}

/// The first entry of `map` (in key order) whose key names `registry`.
fn entry_for<'a, T>(map: &'a BTreeMap<String, T>, registry: &str) -> Option<&'a T> {
    map.iter().find(|(k, _)| host_matches(k, registry)).map(|(_, v)| v)
}

/// What a credential helper is asked for: Docker Hub's historical URL, else the host.
fn server_url(registry: &str) -> String {
    if canonical_host(registry) == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.to_owned()
    }
}

/// Run `docker-credential-NAME get` with the server URL on stdin, as the Docker CLI does.
/// "Not found" answers mean no credentials; a missing or failing helper is an error naming it.
fn run_helper(name: &str, server: &str, config: &Path) -> Result<Option<Credentials>, Error> {
    let program = format!("docker-credential-{name}");
    let fail = |why: String| {
        Error::new(
            ErrorKind::Auth,
            format!("credential helper {program} (from {}) {why}", config.display()),
        )
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail("is not installed (not found on PATH)".into()),
            _ => fail(format!("could not be started: {e}")),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| fail(format!("failed: {e}")))?;
    // What a helper prints may be its secret, whatever its exit status: it is read for the
    // protocol's "not found" answer only, and never repeated.
    if !out.status.success() {
        let not_found = [&out.stdout, &out.stderr].iter().any(|b| {
            String::from_utf8_lossy(b).to_ascii_lowercase().contains("credentials not found")
        });
        if not_found {
            return Ok(None);
        }
        return Err(fail(format!(
            "failed ({}); its output is not shown, as it may hold a secret",
            out.status
        )));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail("answered something that is not its JSON".into()))?;
    if a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if a.username == "<token>" {
        Credentials::IdentityToken { username: String::new(), token: a.secret }
    } else {
        Credentials::Basic { username: a.username, password: a.secret }
    }))
}

fn canonical_host(s: &str) -> String {
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s).to_ascii_lowercase();
    match s.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        _ => s,
    }
}

/// Config keys may carry a scheme and a path (`https://index.docker.io/v1/`); compare hosts only.
fn host_matches(key: &str, registry: &str) -> bool {
    canonical_host(key) == canonical_host(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, json: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, json).unwrap();
        p
    }

    fn creds(found: Option<Found>) -> Option<Credentials> {
        found.map(|f| f.credentials)
    }

    #[test]
    fn lookup_table() {
        let d = tempfile::tempdir().unwrap();
        let auth = B64.encode("alice:s3cret");
        let p = write(
            d.path(),
            "config.json",
            &format!(
                r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{auth}"}},
                "http://localhost:5000/v2/":{{"username":"bob","password":"pw"}},
                "quay.io":{{"auth":"{auth}","identitytoken":"refresh-me"}},
                "empty.io":{{}}
            }}}}"#
            ),
        );
        let basic = |u: &str, pw: &str| {
            Some(Credentials::Basic { username: u.into(), password: pw.into() })
        };
        assert_eq!(creds(from_config(&p, "docker.io").unwrap()), basic("alice", "s3cret"));
        assert_eq!(
            creds(from_config(&p, "registry-1.docker.io").unwrap()),
            basic("alice", "s3cret")
        );
        assert_eq!(creds(from_config(&p, "localhost:5000").unwrap()), basic("bob", "pw"));
        assert_eq!(
            creds(from_config(&p, "quay.io").unwrap()),
            Some(Credentials::IdentityToken {
                username: "alice".into(),
                token: "refresh-me".into()
            })
        );
        assert_eq!(creds(from_config(&p, "empty.io").unwrap()), None);
        assert_eq!(creds(from_config(&p, "ghcr.io").unwrap()), None);
        assert_eq!(creds(from_config(&d.path().join("nope.json"), "ghcr.io").unwrap()), None);
    }

    #[test]
    fn sources_are_tried_in_order_first_hit_wins() {
        let d = tempfile::tempdir().unwrap();
        let first =
            write(d.path(), "a.json", r#"{"auths":{"one.io":{"username":"a","password":"1"}}}"#);
        let second = write(
            d.path(),
            "b.json",
            r#"{"auths":{"one.io":{"username":"b","password":"2"},"two.io":{"username":"b","password":"2"}}}"#,
        );
        let s = CredentialSources {
            github_token: Some(("actor".into(), "ghp_x".into())),
            github_token_var: "GITHUB_TOKEN",
            files: vec![first, second],
        };
        let user = |r: &str| match s.find(r).unwrap().map(|f| f.credentials) {
            Some(Credentials::Basic { username, .. }) => Some(username),
            _ => None,
        };
        assert_eq!(user("one.io").as_deref(), Some("a"));
        assert_eq!(
            user("two.io").as_deref(),
            Some("b"),
            "a file without the host passes to the next"
        );
        assert_eq!(user("ghcr.io").as_deref(), Some("actor"));
        assert_eq!(user("ghcr.io:443").as_deref(), Some("actor"));
        assert_eq!(user("three.io"), None);
        // A config entry is for its host:port exactly (as 970a18f had it): `one.io`'s is not
        // `one.io:5000`'s; GITHUB_TOKEN is ghcr.io's on any port, and no IPv6 literal's.
        assert_eq!(user("one.io:5000"), None);
        assert_eq!(user("ONE.IO").as_deref(), Some("a"));
        assert_eq!(user("ghcr.io.evil"), None);
        assert_eq!(user("[::1]:443"), None);
    }

    #[test]
    fn malformed_config_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "config.json", "{not json");
        let e = from_config(&p, "ghcr.io").unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        let p = write(d.path(), "c2.json", r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#);
        let e = from_config(&p, "ghcr.io").unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::Basic { username: "u".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = Credentials::IdentityToken { username: "u".into(), token: "tok123".into() };
        assert!(!format!("{c:?}").contains("tok123"));
    }
}
