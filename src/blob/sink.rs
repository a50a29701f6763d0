//! Where a transfer's bytes go: the `.part` (which can restart, checkpoint and switch to
//! ranges), stdout (which cannot rewind), or only the tap (a cached blob being verified).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::ranges::Probe;
use super::resume::{self, Record};
use super::tee::Tap;
use crate::digest::Digest;
use crate::error::Error;

/// Where the bytes go.
pub(super) trait Sink {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error>;
    /// Start over from byte 0; `false` when the sink cannot (a stream already sent).
    fn restart(&mut self) -> Result<bool, Error>;
    /// Save the resume record (no-op for streams).
    fn checkpoint(&mut self, _written: u64, _etag: Option<&str>) {}
    /// Whether to stop this stream and fetch the rest in ranges (see [`super::ranges`]).
    fn wants_ranges(&mut self, _written: u64) -> bool {
        false
    }
    fn switched(&self) -> bool {
        false
    }
}

/// The `.part` being written, with what its checkpoints and the switch to ranges need.
pub(super) struct FileSink<'a> {
    pub file: File,
    pub path: &'a Path,
    pub digest: &'a Digest,
    pub size: Option<u64>,
    pub xattrs: bool,
    /// Set while a switch to ranges may still happen.
    pub probe: Option<Probe>,
    pub switched: bool,
    pub tap: Option<&'a mut Tap>,
    /// A resumed ranged download's intervals on disk past the prefix: the rest comes in ranges
    /// around them at once.
    pub have: Vec<(u64, u64)>,
}

impl Sink for FileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.file.write_all(buf).map_err(|e| Error::io("write", self.path, e))?;
        if let Some(t) = self.tap.as_deref_mut() {
            t.send(buf);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<bool, Error> {
        if let Some(t) = self.tap.as_deref_mut()
            && t.sent > 0
        {
            t.cut();
        }
        self.file.set_len(0).map_err(|e| Error::io("truncate", self.path, e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", self.path, e))?;
        Ok(true)
    }

    fn switched(&self) -> bool {
        self.switched
    }

    fn wants_ranges(&mut self, written: u64) -> bool {
        let (Some(p), Some(size)) = (self.probe.as_ref(), self.size) else { return false };
        let Some(switch) = p.decide(written, size) else { return false };
        self.probe = None; // decide once
        self.switched = switch;
        switch
    }

    fn checkpoint(&mut self, written: u64, etag: Option<&str>) {
        if self.xattrs {
            resume::save(&self.file, &Record::stream(self.digest, self.size, written, etag));
        }
    }
}

/// Stdout: cannot rewind.
pub(super) struct StreamSink<'a> {
    pub out: &'a mut dyn Write,
}

impl Sink for StreamSink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.out.write_all(buf).map_err(|e| Error::io("write", Path::new("<stdout>"), e))
    }

    fn restart(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Where a cached blob's bytes go while it is verified: nowhere but the tap.
pub(super) struct VerifySink<'a> {
    pub tap: Option<&'a mut Tap>,
}

impl Sink for VerifySink<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        if let Some(t) = self.tap.as_deref_mut() {
            t.send(buf);
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Probe;

    const MIB: u64 = 1024 * 1024;

    /// The switch to ranges follows the stream's rate, read at an elapsed time given here, so
    /// that no test depends on how fast the machine happens to be: a fast stream stays on one
    /// connection, a slow one hands over what is left, and little left never switches.
    #[test]
    fn the_probe_switches_a_slow_stream_only() {
        let ms = Duration::from_millis;
        let p = Probe::start(0);
        let cases = [
            (ms(100), MIB / 2, 64 * MIB, None, "too early to tell"),
            (ms(300), 2 * MIB, 64 * MIB, Some(true), "clearly slow in the first quarter second"),
            (ms(300), 10 * MIB, 64 * MIB, None, "in between: watched for the whole second"),
            (ms(1000), 30 * MIB, 64 * MIB, Some(true), "slow over the first second"),
            (ms(1000), 59 * MIB, 64 * MIB, Some(false), "fast: stays on one connection"),
            (ms(300), 2 * MIB, 33 * MIB, Some(false), "slow, but too little left for ranges"),
        ];
        for (elapsed, written, size, want, why) in cases {
            assert_eq!(p.decide_after(elapsed, written, size), want, "{why}");
        }
        // A stream resumed at `from` is judged by what it fetched, not what the file held.
        let resumed = Probe::start(20 * MIB);
        assert_eq!(resumed.decide_after(ms(300), 22 * MIB, 64 * MIB), Some(true));
    }
}
