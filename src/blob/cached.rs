//! A blob from the cache: copied (a reflink where the filesystem offers one) to a temporary name
//! beside its destination, verified there unless the cache vouches for the entry (see
//! `crate::cache`), then renamed into place. The copy is what is hashed and what lands, so a
//! write to the entry after the check cannot reach the output, and the output shares no inode
//! with the cache.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;

use super::part::feed_prefix;
use super::sink::VerifySink;
use super::verify::{self, State};
use super::{Dest, Outcome, Tap, Transfer, stream};
use crate::cache::{Before, Entry};
use crate::error::{Error, ErrorKind};
use crate::events::Level;
use crate::held::{self, Node};

/// Bring the cached `entry` to `dest`. Returns the placed file. An `Integrity` error means the
/// entry is damaged (and names it); nothing is left in the destination directory then.
pub(super) fn restore(
    entry: &Entry,
    t: Transfer<'_>,
    dest: Dest<'_>,
    tap: Option<&mut Tap>,
) -> Result<(Outcome, File), Error> {
    let Transfer { spec, who, .. } = t;
    who.progress.set(0);
    let tmp = held::temp_name(dest.name);
    let before = Before::settled(&entry.file);
    let copy = held::copy(&entry.file, &entry.path, dest.dir, &tmp)?;
    let checked = check(entry, t, &copy, tap);
    let outcome = match checked {
        Ok(o) => o,
        Err(e) => {
            let _ = dest.dir.remove_file(&tmp);
            return Err(e);
        }
    };
    if !entry.verified
        && let Some(cache) = t.session.cache.as_ref()
    {
        // An entry that can never be trusted as it is (an earlier version's hard link to an
        // output, another user's file) in a directory that can be: replace it by a file of our
        // own, made from the copy just verified; the next use hashes and stamps that one.
        let unfit = Node::of_file(&entry.file).map_or(true, |n| n.unfit().is_some());
        let done = if unfit && entry.dir.private() {
            cache.put(spec.digest, &copy, &dest.dir.show(&tmp))
        } else {
            cache.stamp(spec.digest, &entry.file, before)
        };
        if let Err(e) = done {
            who.obs.log(Level::Debug, format!("cache entry not renewed: {}", e.to_string_full()));
        }
    }
    if outcome.executable
        && let Ok(n) = Node::of_file(&copy)
    {
        let _ = copy.set_permissions(std::fs::Permissions::from_mode(held::executable(n.mode)));
    }
    dest.dir.rename(&tmp, dest.name).map_err(|e| {
        let _ = dest.dir.remove_file(&tmp);
        Error::io("rename into place", &dest.path(), e)
    })?;
    Ok((Outcome { from_cache: true, ..outcome }, copy))
}

/// Check the copy of `entry`: its size always, its digest unless the entry is vouched for;
/// feed its bytes to `tap` either way.
fn check(
    entry: &Entry,
    t: Transfer<'_>,
    copy: &File,
    tap: Option<&mut Tap>,
) -> Result<Outcome, Error> {
    let Transfer { spec, who, .. } = t;
    let damaged = |why: String| {
        Error::new(
            ErrorKind::Integrity,
            format!("cache entry {} is damaged: {why}", entry.path.display()),
        )
    };
    let size = copy.metadata().map_err(|e| Error::io("inspect", &entry.path, e))?.len();
    if let Some(want) = spec.size.filter(|w| *w != size) {
        return Err(damaged(format!("{size} bytes, the descriptor says {want}")));
    }
    if entry.verified {
        let outcome = verify::unchanged(spec, copy, &entry.path)?;
        if let Some(t) = tap {
            feed_prefix(copy, &entry.path, outcome.size, t)?;
        }
        who.progress.set(outcome.size);
        let what = format!("{}: cached {}", who.name, spec.digest.short());
        who.obs.log(Level::Debug, format!("{what} is unchanged since it verified"));
        return Ok(outcome);
    }
    let mut state = State::new(spec.digest.algorithm());
    let mut src = copy.try_clone().map_err(|e| Error::io("open", &entry.path, e))?;
    src.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", &entry.path, e))?;
    let mut sink = VerifySink { tap };
    stream::copy(&mut src, t, &mut sink, &mut state)?;
    verify::finished(spec, state).map_err(|super::stream::Failure { error: e, .. }| {
        if e.kind() == ErrorKind::Integrity { damaged(e.to_string()) } else { e }
    })
}
