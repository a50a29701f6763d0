//! `registries.conf` v1 (`[registries.search]`, `.insecure`, `.block`), as containers/image
//! converts it: its `insecure` and `block` lists become tables; `search` means nothing here.

use super::{RawV1, Registry, location};

/// A v1 file's `insecure` and `block` lists as tables (`search` means nothing here).
pub(super) fn parse(v1: &RawV1) -> Result<Vec<Registry>, String> {
    let mut tables: Vec<Registry> = Vec::new();
    let mut add = |l: &str, insecure: bool, blocked: bool| -> Result<(), String> {
        let l = location(l)?;
        match tables.iter_mut().find(|r| r.prefix == l) {
            Some(r) => (r.insecure, r.blocked) = (r.insecure || insecure, r.blocked || blocked),
            None => tables.push(Registry {
                prefix: l.clone(),
                location: l,
                insecure,
                blocked,
                mirror_by_digest_only: false,
                mirrors: vec![],
            }),
        }
        Ok(())
    };
    v1.block.registries.iter().try_for_each(|l| add(l, false, true))?;
    v1.insecure.registries.iter().try_for_each(|l| add(l, true, false))?;
    Ok(tables)
}
