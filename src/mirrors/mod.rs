//! Mirrors and remapped locations, read from `registries.conf` v2 as the containers tools read it:
//! containers-registries.conf(5), containers-registries.conf.d(5), and containers/image
//! `pkg/sysregistriesv2/system_registries_v2.go` (`postProcessRegistries`, `refMatchingPrefix`,
//! `FindRegistry`, `PullSourcesFromReference`). A reference picks the `[[registry]]` with the
//! longest matching `prefix`; its pull is tried from each usable mirror in order, then from the
//! registry's `location`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Hint};
use crate::reference::Reference;

/// The mirror configuration of a run: `[[registry]]` tables and `--mirror` hosts.
#[derive(Debug, Clone, Default)]
pub struct Mirrors {
    /// Sorted by prefix, one per prefix (as containers/image keeps them).
    registries: Vec<Registry>,
    /// `--mirror` locations, tried first for every pull.
    extra: Vec<String>,
    /// Where the tables came from, for errors.
    origin: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Registry {
    prefix: String,
    /// Empty only for a `*.example.com` prefix: no rewrite.
    location: String,
    insecure: bool,
    blocked: bool,
    mirror_by_digest_only: bool,
    mirrors: Vec<Mirror>,
}

#[derive(Debug, Clone, PartialEq)]
struct Mirror {
    location: String,
    insecure: bool,
    pull: PullFrom,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PullFrom {
    All,
    DigestOnly,
    TagOnly,
}

/// One place a reference's manifests and blobs may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSource {
    /// The reference as this source names it (its location rewritten in).
    pub reference: Reference,
    /// `insecure = true`: TLS certificates are not verified.
    pub insecure: bool,
    /// A mirror (tried before the registry), not the registry itself.
    pub mirror: bool,
    /// A mirror that may serve content by digest only (`mirror-by-digest-only`,
    /// `pull-from-mirror = "digest-only"`): never asked a tag, whatever the pull's reference
    /// (a signature's `sha256-<hex>.sig`, the referrers fallback tag), since a tag's answer is
    /// the mirror's to choose.
    pub digest_only: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct RawFile {
    registry: Vec<RawRegistry>,
    /// The v1 format (`[registries.search]` …).
    registries: Option<RawV1>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct RawRegistry {
    prefix: String,
    location: String,
    insecure: bool,
    blocked: bool,
    mirror_by_digest_only: bool,
    pull_from_mirror: String,
    mirror: Vec<RawMirror>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct RawMirror {
    location: String,
    insecure: bool,
    pull_from_mirror: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawV1 {
    insecure: RawV1List,
    block: RawV1List,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawV1List {
    registries: Vec<String>,
}

impl Mirrors {
    /// The configuration the containers tools would use: `file` alone when given, else
    /// `$XDG_CONFIG_HOME/containers/registries.conf` (default `~/.config/…`) if it exists, else
    /// `/etc/containers/registries.conf` (may be missing); each followed by the `.conf` files of
    /// its `registries.conf.d` drop-in directories in name order. `extra` are `--mirror` hosts.
    pub fn load(file: Option<&Path>, extra: Vec<String>) -> Result<Mirrors, Error> {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        let user = config_home.map(|c| c.join("containers"));
        let system = PathBuf::from("/etc/containers");
        let (main, dirs) = match (file, &user) {
            (Some(f), _) => (Some(f.to_owned()), vec![]),
            (None, Some(u)) if u.join("registries.conf").is_file() => {
                (Some(u.join("registries.conf")), vec![u.join("registries.conf.d")])
            }
            (None, _) => {
                let mut dirs = vec![system.join("registries.conf.d")];
                dirs.extend(user.map(|u| u.join("registries.conf.d")));
                let main = system.join("registries.conf");
                (main.is_file().then_some(main), dirs)
            }
        };
        for e in &extra {
            location(e).map_err(|why| {
                Error::hinted(ErrorKind::Usage, "", Hint::ExtraMirror, &format!(": {why}"))
            })?;
        }
        let mut m = Mirrors { extra, ..Mirrors::default() };
        let mut files: Vec<PathBuf> = main.into_iter().collect();
        for d in dirs {
            let Ok(list) = std::fs::read_dir(&d) else { continue };
            let mut confs: Vec<PathBuf> = list
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf") && !p.is_dir())
                .collect();
            confs.sort();
            files.extend(confs);
        }
        for (i, path) in files.iter().enumerate() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::io("read", path, e).with_kind(ErrorKind::Usage))?;
            let name = path.display().to_string();
            let tables = parse(&text, i > 0).map_err(|why| usage(format!("{name}: {why}")))?;
            m.merge(tables, &name);
        }
        Ok(m)
    }

    /// Tables from one file's text (`name` for errors), replacing earlier ones of the same
    /// prefix, as drop-in files do.
    pub fn merge_text(&mut self, text: &str, name: &str) -> Result<(), Error> {
        let tables = parse(text, false).map_err(|why| usage(format!("{name}: {why}")))?;
        self.merge(tables, name);
        Ok(())
    }

    fn merge(&mut self, tables: Vec<Registry>, name: &str) {
        for t in tables {
            self.registries.retain(|r| r.prefix != t.prefix);
            self.registries.push(t);
        }
        self.registries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        if !self.origin.is_empty() {
            self.origin.push_str(", ");
        }
        self.origin.push_str(name);
    }

    /// Where `reference` is read from, in order: the usable mirrors, then the registry itself
    /// (last, always). `by_digest` decides which mirrors a pull may use: `mirror-by-digest-only`
    /// and `pull-from-mirror` as containers-registries.conf(5) says. A `blocked` match is an
    /// error.
    pub fn sources_for(
        &self,
        reference: &Reference,
        by_digest: bool,
    ) -> Result<Vec<MirrorSource>, Error> {
        let name = reference.to_string();
        let mut out = Vec::new();
        for location in &self.extra {
            let rewritten = format!("{location}{}", &name[reference.registry().len()..]);
            out.push(source(&rewritten, false, true, None)?);
        }
        let Some(reg) = self.find(&name) else {
            out.push(MirrorSource {
                reference: reference.clone(),
                insecure: false,
                mirror: false,
                digest_only: false,
            });
            return Ok(out);
        };
        if reg.blocked {
            return Err(usage(format!(
                "{name} is blocked by [[registry]] prefix {:?} in {}",
                reg.prefix, self.origin
            )));
        }
        let from = match_len(&name, &reg.prefix).unwrap_or(0);
        let rewrite = |location: &str| match location {
            "" => name.clone(),
            l => format!("{l}{}", &name[from..]),
        };
        for m in &reg.mirrors {
            let usable = match (reg.mirror_by_digest_only, m.pull) {
                (true, _) => by_digest,
                (false, PullFrom::All) => true,
                (false, PullFrom::DigestOnly) => by_digest,
                (false, PullFrom::TagOnly) => !by_digest,
            };
            if usable {
                let mut mirror =
                    source(&rewrite(&m.location), m.insecure, true, Some(&self.origin))?;
                mirror.digest_only =
                    reg.mirror_by_digest_only || matches!(m.pull, PullFrom::DigestOnly);
                out.push(mirror);
            }
        }
        out.push(source(&rewrite(&reg.location), reg.insecure, false, Some(&self.origin))?);
        Ok(out)
    }

    /// The table with the longest matching prefix; the first of equal ones.
    fn find(&self, name: &str) -> Option<&Registry> {
        let mut best: Option<&Registry> = None;
        for r in &self.registries {
            if match_len(name, &r.prefix).is_some()
                && best.is_none_or(|b| r.prefix.len() > b.prefix.len())
            {
                best = Some(r);
            }
        }
        best
    }
}

fn usage(msg: String) -> Error {
    Error::new(ErrorKind::Usage, msg)
}

/// `origin` names the file a table came from; `None` for an extra mirror.
fn source(
    name: &str,
    insecure: bool,
    mirror: bool,
    origin: Option<&str>,
) -> Result<MirrorSource, Error> {
    let first = name.split('/').next().unwrap_or("");
    let reference = Reference::parse_with_default(name, first).map_err(|e| {
        let after = format!(": rewriting to {name:?}: {e}");
        match origin {
            Some(o) => usage(format!("{o}{after}")),
            None => Error::hinted(ErrorKind::Usage, "", Hint::ExtraMirror, &after),
        }
    })?;
    Ok(MirrorSource { reference, insecure, mirror, digest_only: false })
}

/// How much of `name` (`host[:port]/repo[:tag][@digest]`) `prefix` matches: all of the prefix,
/// ending where the name does or at `:`, `/` or `@`; `*.example.com` matches any subdomains
/// of the first component (containers/image `refMatchingPrefix`, `refMatchingSubdomainPrefix`).
fn match_len(name: &str, prefix: &str) -> Option<usize> {
    let boundary =
        |at: usize| at == name.len() || matches!(name.as_bytes()[at], b':' | b'/' | b'@');
    if let Some(domain) = prefix.strip_prefix('*') {
        // Any occurrence that ends the host, not only the first: `*.evil.test` must match
        // `a.evil.test.evil.test` (the first `.evil.test` there ends nothing).
        return name
            .match_indices(domain)
            .map(|(i, _)| i)
            .take_while(|&i| !name[..i].contains('/'))
            .map(|i| i + domain.len())
            .find(|&end| boundary(end));
    }
    (name.starts_with(prefix) && boundary(prefix.len())).then_some(prefix.len())
}

/// `location` as containers/image's `parseLocation` takes it: trailing `/` cut, no scheme.
fn location(s: &str) -> Result<String, String> {
    let t = s.trim_end_matches('/');
    if t.starts_with("http://") || t.starts_with("https://") {
        return Err(format!("invalid location {s:?}: URI schemes are not supported"));
    }
    let first = t.split('/').next().unwrap_or("");
    let host = first.contains(['.', ':']) || first == "localhost";
    if !t.is_empty() && !t.starts_with("*.") && !host {
        return Err(format!("invalid location {s:?}: it must start with a registry host"));
    }
    Ok(t.to_owned())
}

fn pull_from(s: &str, mirror: &str) -> Result<PullFrom, String> {
    match s {
        "" | "all" => Ok(PullFrom::All),
        "digest-only" => Ok(PullFrom::DigestOnly),
        "tag-only" => Ok(PullFrom::TagOnly),
        v => Err(format!("unsupported pull-from-mirror value {v:?} for mirror {mirror:?}")),
    }
}

/// One file's tables, checked as `postProcessRegistries` checks them. A v1 file is converted
/// (its `insecure` and `block` lists; `search` means nothing here), except as a drop-in.
fn parse(text: &str, drop_in: bool) -> Result<Vec<Registry>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| text[..s.start].matches('\n').count() + 1);
        format!("line {line}: {}", e.message().lines().next().unwrap_or("invalid TOML"))
    })?;
    if let Some(v1) = raw.registries {
        if drop_in {
            return Err("a drop-in file must be in the v2 format, this one is v1".into());
        }
        if !raw.registry.is_empty() {
            return Err("mixes the v1 [registries] and v2 [[registry]] formats".into());
        }
        return v1::parse(&v1);
    }
    let mut tables: Vec<Registry> = Vec::new();
    for r in raw.registry {
        let table = parse_v2_table(r)?;
        let key = if table.location.is_empty() { &table.prefix } else { &table.location };
        let same =
            |t: &Registry| if t.location.is_empty() { &t.prefix } else { &t.location } == key;
        if let Some(t) = tables.iter().find(|t| same(t))
            && (t.insecure, t.blocked) != (table.insecure, table.blocked)
        {
            return Err(format!("registry {key:?} is defined twice, insecure or blocked differ"));
        }
        // The first table of a prefix wins; later ones are ignored, as containers/image does.
        if tables.iter().all(|t| t.prefix != table.prefix) {
            tables.push(table);
        }
    }
    Ok(tables)
}

/// One v2 `[[registry]]` table, checked as `postProcessRegistries` checks it.
fn parse_v2_table(r: RawRegistry) -> Result<Registry, String> {
    let loc = location(&r.location)?;
    let prefix = match location(&r.prefix)? {
        p if p.is_empty() && loc.is_empty() => {
            return Err("a [[registry]] sets neither location nor prefix".into());
        }
        p if p.is_empty() => loc.clone(),
        p if loc.is_empty() && !p.starts_with("*.") => {
            return Err(format!("prefix {p:?} has no location and is not like *.example.com"));
        }
        p => p,
    };
    if prefix.starts_with("*.") && prefix.contains(['/', '@', ':']) {
        return Err(format!("wildcard prefix {prefix:?} must be like *.example.com"));
    }
    if !r.pull_from_mirror.is_empty() {
        return Err(format!("pull-from-mirror is set for the non-mirror registry {prefix:?}"));
    }
    let mut mirrors = Vec::new();
    for m in r.mirror {
        let l = location(&m.location)?;
        if l.is_empty() {
            return Err(format!("a mirror of {prefix:?} has no location"));
        }
        if r.mirror_by_digest_only && !m.pull_from_mirror.is_empty() {
            return Err(format!(
                "{prefix:?} sets mirror-by-digest-only and its mirror {l:?} pull-from-mirror"
            ));
        }
        mirrors.push(Mirror {
            pull: pull_from(&m.pull_from_mirror, &l)?,
            location: l,
            insecure: m.insecure,
        });
    }
    Ok(Registry {
        prefix,
        location: loc,
        insecure: r.insecure,
        blocked: r.blocked,
        mirror_by_digest_only: r.mirror_by_digest_only,
        mirrors,
    })
}

#[cfg(test)]
mod tests;
mod v1;
