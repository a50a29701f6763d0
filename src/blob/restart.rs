//! Starting a download over from byte 0: once when bytes kept from an earlier run fail the
//! digest (the registry is not to blame for those), and from the next source each time the
//! client's fail-over drops a mirror whose bytes failed it (an [`Ended`] is what it judges).

use super::sink::{FileSink, Sink};
use super::stream::Failure;
use super::verify::State;
use super::{Ended, Outcome, Transfer, complete, ranges};
use crate::error::{Error, ErrorKind};
use crate::events::Level;
use crate::registry::Judged;

/// [`complete`] the `.part` from `offset`; when bytes `kept` from before this run make it fail
/// its digest, the registry is not to blame until a download from zero fails too: once more
/// from 0.
pub(super) fn attempt(
    t: Transfer<'_>,
    sink: &mut FileSink<'_>,
    state: &mut State,
    (mut offset, mut kept): (u64, bool),
) -> Result<Outcome, Ended> {
    loop {
        // A slow single stream may hand the rest to several connections; that needs the record.
        if sink.xattrs && t.session.client.concurrency() > 1 {
            sink.probe = Some(ranges::Probe::start(offset));
        }
        match complete(t, sink, state, offset) {
            Err(Ended::Failed(Failure { error: e, .. }))
                if e.kind() == ErrorKind::Integrity && kept =>
            {
                let why = format!(
                    "the partial file did not verify; restarting the download from 0 ({e})"
                );
                restart(t, sink, state, &why).map_err(Ended::Kept)?;
                (offset, kept) = (0, false);
            }
            done => return done,
        }
    }
}

/// Empty the `.part` and start over from byte 0, saying `why`.
pub(super) fn restart(
    t: Transfer<'_>,
    sink: &mut FileSink<'_>,
    state: &mut State,
    why: &str,
) -> Result<(), Error> {
    t.who.obs.log(Level::Info, format!("{}: {why}", t.who.name));
    sink.restart()?;
    *state = State::new(t.spec.digest.algorithm());
    t.who.progress.set(0);
    sink.checkpoint(0, None);
    Ok(())
}

impl Judged for Ended {
    fn errors(&self) -> &[Error] {
        match self {
            Ended::Failed(f) => std::slice::from_ref(&f.error),
            // The ranged fetch's own ending: nothing to judge the bytes by.
            Ended::Kept(_) => &[],
        }
    }
}
