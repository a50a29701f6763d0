//! Where credentials come from: explicit ones (flags or environment, read by the front end), else
//! the Docker config file. Secrets never reach `Debug` or `Display`.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Error, ErrorKind};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal access token).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken` in the Docker config).
    IdentityToken { username: String, token: String },
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

/// The Docker config path: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Look `registry` up in the Docker config at `path`. A missing file means no credentials; an
/// unreadable or malformed one is an error naming the file, since silently going anonymous would
/// turn a typo into a confusing "denied".
pub fn from_docker_config(path: &Path, registry: &str) -> Result<Option<Credentials>, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let bad = |why: String| {
        Error::new(ErrorKind::Auth, format!("invalid Docker config {}: {why}", path.display()))
    };
    let config: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let Some(entry) = auths.iter().find(|(k, _)| host_matches(k, registry)).map(|(_, v)| v) else {
        return Ok(None);
    };
    let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    let mut username = field("username").map(str::to_owned);
    let mut password = field("password").map(str::to_owned);
    if let Some(auth) = field("auth") {
        let decoded =
            B64.decode(auth.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(
                || bad(format!("auths.{registry:?}.auth is not base64 of user:password")),
            )?;
        let (u, p) = decoded.split_once(':').ok_or_else(|| {
            bad(format!("auths.{registry:?}.auth is not base64 of user:password"))
        })?;
        username = Some(u.to_owned());
        password = Some(p.to_owned());
    }
    if let Some(token) = field("identitytoken") {
        return Ok(Some(Credentials::IdentityToken {
            username: username.unwrap_or_default(),
            token: token.to_owned(),
        }));
    }
    Ok(match (username, password) {
        (Some(username), Some(password)) => Some(Credentials::Basic { username, password }),
        _ => None,
    })
}

/// Config keys may carry a scheme and a path (`https://index.docker.io/v1/`); compare hosts only.
fn host_matches(key: &str, registry: &str) -> bool {
    let host = |s: &str| -> String {
        let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
        let s = s.split('/').next().unwrap_or(s).to_ascii_lowercase();
        match s.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
            _ => s,
        }
    };
    host(key) == host(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(json: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, json).unwrap();
        (dir, p)
    }

    #[test]
    fn lookup_table() {
        let auth = B64.encode("alice:s3cret");
        let (_d, p) = write(&format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{auth}"}},
                "http://localhost:5000/v2/":{{"username":"bob","password":"pw"}},
                "quay.io":{{"auth":"{auth}","identitytoken":"refresh-me"}},
                "empty.io":{{}}
            }}}}"#
        ));
        let basic = |u: &str, pw: &str| {
            Some(Credentials::Basic { username: u.into(), password: pw.into() })
        };
        assert_eq!(from_docker_config(&p, "docker.io").unwrap(), basic("alice", "s3cret"));
        assert_eq!(
            from_docker_config(&p, "registry-1.docker.io").unwrap(),
            basic("alice", "s3cret")
        );
        assert_eq!(from_docker_config(&p, "localhost:5000").unwrap(), basic("bob", "pw"));
        assert_eq!(
            from_docker_config(&p, "quay.io").unwrap(),
            Some(Credentials::IdentityToken {
                username: "alice".into(),
                token: "refresh-me".into()
            })
        );
        assert_eq!(from_docker_config(&p, "empty.io").unwrap(), None);
        assert_eq!(from_docker_config(&p, "ghcr.io").unwrap(), None);
        assert_eq!(from_docker_config(&p.with_file_name("nope.json"), "ghcr.io").unwrap(), None);
    }

    #[test]
    fn malformed_config_is_an_error_naming_the_file() {
        let (_d, p) = write("{not json");
        let e = from_docker_config(&p, "ghcr.io").unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        let (_d, p) = write(r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#);
        let e = from_docker_config(&p, "ghcr.io").unwrap_err();
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
