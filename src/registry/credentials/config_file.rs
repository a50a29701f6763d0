//! What oci-dl reads of a Docker `config.json` or a containers `auth.json`: `credHelpers`,
//! `credsStore` and `auths`. Read as leniently as the Docker CLI reads it: unknown fields are
//! ignored, and a field or entry of another type than these (a number, `null`, a list) counts
//! as absent rather than failing the file, so one odd entry another tool wrote does not cost the
//! user the registries the file does describe. Only a file that is not JSON is an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// The parts of a config file that say where credentials are. No `Debug`: it holds secrets.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct ConfigFile {
    /// A credential helper per registry key.
    #[serde(rename = "credHelpers")]
    pub cred_helpers: Lenient<BTreeMap<String, Lenient<String>>>,
    /// The helper for every registry without one of its own.
    #[serde(rename = "credsStore")]
    pub creds_store: Lenient<String>,
    /// Stored credentials per registry key.
    pub auths: Lenient<BTreeMap<String, Lenient<AuthEntry>>>,
}

/// One `auths` entry.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct AuthEntry {
    pub username: Lenient<String>,
    pub password: Lenient<String>,
    /// base64 of `user:password`.
    pub auth: Lenient<String>,
    /// An OAuth2 refresh token (`docker login` against a registry that issues one).
    pub identitytoken: Lenient<String>,
}

/// A `T`, or whatever else the file holds there (which is then ignored).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Lenient<T> {
    Is(T),
    Other(IgnoredAny),
}

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient::Other(IgnoredAny)
    }
}

impl<T> Lenient<T> {
    /// The value, when it had the expected type.
    pub fn get(&self) -> Option<&T> {
        match self {
            Lenient::Is(t) => Some(t),
            Lenient::Other(_) => None,
        }
    }
}

impl Lenient<String> {
    /// The string, when it is one and not empty (an empty one is as good as none).
    pub fn non_empty(&self) -> Option<&str> {
        self.get().map(String::as_str).filter(|s| !s.is_empty())
    }
}

/// Parse a config file: `None` when it is JSON but not an object (it describes nothing).
pub(super) fn parse(bytes: &[u8]) -> Result<Option<ConfigFile>, serde_json::Error> {
    Ok(match serde_json::from_slice(bytes)? {
        Lenient::Is(config) => Some(config),
        Lenient::Other(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// What survives the odd entries around it: the registries a file gives stored
    /// credentials for (a username or an `auth`), its helpers and its store.
    fn usable(json: &str) -> String {
        let Some(c) = parse(json.as_bytes()).unwrap() else { return "nothing".into() };
        let auths: Vec<&str> = c.auths.get().map_or(Vec::new(), |a| {
            let has = |e: &super::AuthEntry| e.username.get().or(e.auth.get()).is_some();
            a.iter().filter(|(_, e)| e.get().is_some_and(has)).map(|(k, _)| k.as_str()).collect()
        });
        let helpers: Vec<String> = c.cred_helpers.get().map_or(Vec::new(), |h| {
            h.iter().filter_map(|(k, v)| v.get().map(|v| format!("{k}={v}"))).collect()
        });
        let store = c.creds_store.non_empty().unwrap_or("-");
        format!("auths {} helpers {} store {store}", auths.join(","), helpers.join(","))
    }

    #[test]
    fn odd_entries_are_skipped_and_the_rest_is_read() {
        let empty = "auths  helpers  store -";
        let table = [
            (r#"{}"#, empty),
            (r#"[]"#, empty),
            (r#""text""#, "nothing"),
            (r#"{"auths": 5, "credHelpers": [], "credsStore": 1}"#, empty),
            (
                r#"{"auths": {"a.io": {"auth": "eDp5"}, "b.io": 7, "c.io": null,
                    "d.io": {"username": 1, "password": "p"}, "e.io": {"username": "u"}},
                   "credHelpers": {"a.io": "pass", "b.io": null}, "credsStore": "desktop",
                   "HttpHeaders": {"User-Agent": "x"}, "unknown": [1, 2]}"#,
                "auths a.io,e.io helpers a.io=pass store desktop",
            ),
        ];
        for (json, want) in table {
            assert_eq!(usable(json), want, "{json}");
        }
        assert!(parse(b"{not json").is_err());
    }
}
