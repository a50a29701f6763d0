//! minisign, as release files in OCI artifacts carry it: a layer `NAME` signed by a sibling
//! layer `NAME.minisig` (or `NAME.sig`), or listed in a signed checksum file (`SHA256SUMS`,
//! `CHECKSUM`, `checksums.txt`…, itself signed by its `.minisig`/`.sig` sibling).

use std::collections::HashMap;
use std::io::Read;

use minisign_verify::{PublicKey, Signature};

use super::refused;
use crate::digest::Algorithm;
use crate::error::{Error, ErrorKind, Hint};
use crate::events::{Level, Observer};
use crate::manifest::Descriptor;

/// The suffixes of a signature layer, in the order they are looked for.
const SUFFIXES: [&str; 2] = [".minisig", ".sig"];

/// Fetches a layer's bytes into memory (bounded), given its descriptor and name.
pub(crate) type Fetch<'a> = dyn Fn(&Descriptor, &str) -> Result<Vec<u8>, Error> + 'a;

/// A checksum list's (name, hex) entries, or why it does not count.
type Entries = Result<Vec<(String, String)>, Error>;

/// How a selected file is covered.
pub(crate) enum Cover {
    /// Nothing more to check: a signed checksum list names its digest.
    Checked,
    /// Its bytes must verify with `sig` (from the layer `via`) under `keys[key]`.
    Bytes { sig: Box<Signature>, key: usize, via: String },
    /// A signature layer, itself `sig`: it lands only once it verified under `keys[key]` over
    /// the bytes of the selected file `of` (an index into the selection) that it signs. Naming a
    /// trusted key proves nothing: any signature the publisher ever made names it.
    SignatureOf { of: usize, sig: Box<Signature>, key: usize },
}

/// The layer a signature layer signs: `NAME` for `NAME.minisig` / `NAME.sig`.
fn target_of(name: &str) -> Option<&str> {
    SUFFIXES.iter().find_map(|s| name.strip_suffix(s)).filter(|t| !t.is_empty())
}

/// Whether `name` is a checksum list by the names release tools give them.
fn is_checksum_list(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    matches!(
        base.as_str(),
        "checksum" | "checksums" | "sha256sum" | "sha256sums" | "sha256sums.txt" | "checksum.txt"
    ) || base.ends_with("checksums.txt")
}

/// Whether a layer named `name` is a signature or a checksum list: data about other files,
/// never content to unpack, whatever its media type, annotations or bytes claim.
pub(crate) fn describes_other_files(name: &str) -> bool {
    target_of(name).is_some() || is_checksum_list(name)
}

/// Decode a minisign signature file, strictly: exactly the four lines minisign writes (the
/// untrusted comment, the signature, the trusted comment, the global signature), each of
/// printable text, and nothing after the last but its line end. `Signature::decode` reads the
/// first four lines and ignores the rest, so a tar could carry a genuine signature's lines in
/// its first header and member and pass for one; such a file is refused here.
pub(crate) fn decode(bytes: &[u8], name: &str) -> Result<Signature, Error> {
    let bad = |why: String| {
        refused(format!("{name} is not a valid minisign signature (truncated or corrupt: {why})"))
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not text".into()))?;
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    if lines.len() != 4 {
        return Err(bad(format!("{} lines where minisign writes 4", lines.len())));
    }
    // minisign's own trusted comment separates its fields with tabs.
    if lines.iter().any(|l| l.chars().any(|c| c.is_control() && c != '\t')) {
        return Err(bad("control characters in a line".into()));
    }
    if !lines[0].starts_with("untrusted comment: ") || !lines[2].starts_with("trusted comment: ") {
        return Err(bad("its comment lines are not where minisign puts them".into()));
    }
    Signature::decode(&lines.join("\n")).map_err(|e| bad(e.to_string()))
}

/// The index of the key `sig` was made with, or why none fits.
fn key_for(keys: &[&PublicKey], sig: &Signature, name: &str) -> Result<usize, Error> {
    let mut legacy = false;
    for (i, k) in keys.iter().enumerate() {
        match k.verify_stream(sig) {
            Ok(_) => return Ok(i),
            Err(minisign_verify::Error::UnsupportedLegacyMode) => legacy = true,
            Err(_) => {}
        }
    }
    if legacy {
        return Err(refused(format!(
            "{name} is a legacy (not prehashed) minisign signature; re-sign with minisign 0.8 or later"
        )));
    }
    let what = format!("{name} was made with another key than ");
    Err(Error::hinted(ErrorKind::Signature, &what, Hint::VerifyKeys, ""))
}

/// Verify `reader`'s bytes, streamed, against `sig` under `key`. `name` is the signed file's.
pub(crate) fn verify_reader(
    key: &PublicKey,
    sig: &Signature,
    reader: &mut dyn Read,
    name: &str,
    via: &str,
) -> Result<(), Error> {
    let mut v = key
        .verify_stream(sig)
        .map_err(|e| refused(format!("{name}: {via} cannot be used ({e})")))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(refused(format!("{name}: reading it to verify failed ({e})"))),
        };
        v.update(&buf[..n]);
    }
    v.finalize().map_err(|_| {
        refused(format!("{name}: the minisign signature {via} does not match its bytes"))
    })?;
    // Trusted now. minisign's default trusted comment names the file it signed: a genuine
    // signature of another of the publisher's files, served with that file's bytes under this
    // name, is not a signature of this one.
    let base = name.rsplit('/').next().unwrap_or(name);
    match signed_file(sig.trusted_comment()) {
        Some(signed) if signed != base => Err(refused(format!(
            "{name}: {via} is the publisher's signature of {signed:?}, not of this file"
        ))),
        _ => Ok(()),
    }
}

/// The file a trusted comment says was signed: minisign writes `timestamp:T\tfile:NAME` (and
/// `\thashed`) unless the signer gave a comment of their own.
fn signed_file(comment: &str) -> Option<&str> {
    comment.split('\t').find_map(|part| part.strip_prefix("file:"))
}

/// Entries of a checksum list: `HEX  NAME` / `HEX *NAME` (sha256sum) or `SHA256 (NAME) = HEX`
/// (BSD), as (name, lowercase hex).
fn checksums(text: &str) -> Vec<(String, String)> {
    let hex = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("SHA256 (")
            && let Some((name, h)) = rest.rsplit_once(") = ")
            && hex(h)
        {
            out.push((name.to_owned(), h.to_ascii_lowercase()));
        } else if let Some((h, name)) = line.split_once(' ')
            && hex(h)
        {
            let name = name.strip_prefix(' ').or_else(|| name.strip_prefix('*')).unwrap_or(name);
            let name = name.strip_prefix("./").unwrap_or(name);
            out.push((name.to_owned(), h.to_ascii_lowercase()));
        }
    }
    out
}

/// Decide how each selected file is covered, fetching (with `fetch`) the signature layers and
/// signed checksum lists among `layers` (every titled layer of the manifest, selected or not).
/// Whatever can be checked without the files' bytes is checked here; an uncovered file is an
/// error naming it.
pub(crate) fn plan(
    keys: &[&PublicKey],
    layers: &[(String, Descriptor)],
    selected: &[(String, Descriptor)],
    fetch: &Fetch<'_>,
    obs: &dyn Observer,
) -> Result<Vec<Cover>, Error> {
    let by_name: HashMap<&str, &Descriptor> = layers.iter().map(|(n, d)| (n.as_str(), d)).collect();
    let p = Planner { keys, by_name, fetch, obs };
    let lists: Vec<(String, Entries)> = layers
        .iter()
        .filter(|(n, _)| is_checksum_list(n))
        .filter_map(|(name, d)| p.signed_list(name, d).map(|entries| (name.clone(), entries)))
        .collect();
    selected.iter().map(|(name, d)| p.cover(name, d, selected, &lists)).collect()
}

/// What [`plan`] works with.
struct Planner<'a> {
    keys: &'a [&'a PublicKey],
    by_name: HashMap<&'a str, &'a Descriptor>,
    fetch: &'a Fetch<'a>,
    obs: &'a dyn Observer,
}

impl Planner<'_> {
    /// The signature layer of `name`, if the manifest has one: its name and descriptor.
    fn signature_of(&self, name: &str) -> Option<(&str, &Descriptor)> {
        SUFFIXES.iter().find_map(|s| {
            self.by_name.get_key_value(format!("{name}{s}").as_str()).map(|(k, d)| (*k, *d))
        })
    }

    /// A checksum list with a signature layer, verified in memory: its entries, or why it does
    /// not count (`None`: it has no signature layer at all).
    fn signed_list(&self, name: &str, d: &Descriptor) -> Option<Entries> {
        let (via, sd) = self.signature_of(name)?;
        let checked = || -> Entries {
            let sig = decode(&(self.fetch)(sd, via)?, via)?;
            let key = key_for(self.keys, &sig, via)?;
            let body = (self.fetch)(d, name)?;
            verify_reader(self.keys[key], &sig, &mut &body[..], name, via)?;
            let comment = format!("{:?}", sig.trusted_comment());
            let said = format!("{name}: good minisign signature {via}, trusted comment {comment}");
            self.obs.log(Level::Debug, said);
            Ok(checksums(&String::from_utf8_lossy(&body)))
        };
        Some(checked())
    }

    /// How the selected file `name` is covered.
    fn cover(
        &self,
        name: &str,
        d: &Descriptor,
        selected: &[(String, Descriptor)],
        lists: &[(String, Entries)],
    ) -> Result<Cover, Error> {
        if let Some(t) = target_of(name).filter(|t| self.by_name.contains_key(t)) {
            // Written only as what it claims to be: a signature, by a given key, of a file this
            // pull verifies with it. Anything else named like one is not signed data.
            let Some(of) = selected.iter().position(|(n, _)| n == t) else {
                return Err(refused(format!(
                    "{name} is a signature of {t}, which this pull does not verify; select {t} too"
                )));
            };
            let sig = decode(&(self.fetch)(d, name)?, name)?;
            let key = key_for(self.keys, &sig, name)?;
            self.obs.log(Level::Debug, format!("{name}: to be verified over {t}"));
            return Ok(Cover::SignatureOf { of, sig: Box::new(sig), key });
        }
        if let Some((_, Ok(_))) = lists.iter().find(|(n, _)| n == name) {
            return Ok(Cover::Checked);
        }
        if let Some((via, sd)) = self.signature_of(name) {
            let sig = decode(&(self.fetch)(sd, via)?, via)?;
            let key = key_for(self.keys, &sig, via).map_err(|e| e.context(name))?;
            // Its trusted comment is only trusted once the bytes verified: not shown before.
            self.obs.log(Level::Debug, format!("{name}: to be verified against {via}"));
            return Ok(Cover::Bytes { sig: Box::new(sig), key, via: via.to_owned() });
        }
        self.listed(name, d, lists).map(|()| Cover::Checked)
    }

    /// `name` is listed, with `d`'s digest, in a signed checksum list; else why not.
    fn listed(&self, name: &str, d: &Descriptor, lists: &[(String, Entries)]) -> Result<(), Error> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let mut why = Vec::new();
        for (list, entries) in lists {
            let entries = match entries {
                Ok(e) => e,
                Err(e) => {
                    why.push(e.to_string());
                    continue;
                }
            };
            let hit = entries
                .iter()
                .find(|(n, _)| n == name)
                .or_else(|| entries.iter().find(|(n, _)| n == base));
            let Some((_, hex)) = hit else { continue };
            if d.digest.algorithm() != Algorithm::Sha256 || d.digest.hex() != hex {
                return Err(refused(format!(
                    "{name}: the signed {list} lists sha256:{hex}, but the manifest has {}",
                    d.digest
                )));
            }
            self.obs.log(Level::Debug, format!("{name}: listed in the signed {list}"));
            return Ok(());
        }
        let mut msg = format!(
            "{name} is not signed: no {name}.minisig or {name}.sig layer, and no signed checksum list names it"
        );
        if !why.is_empty() {
            msg.push_str(&format!(" ({})", why.join("; ")));
        }
        Err(refused(msg))
    }
}

#[cfg(test)]
mod tests;
