//! The floor under a mirror's blob bodies: a mirror that drips bytes (never idle long enough
//! for the per-read timeout) is dropped for the run once a window passes under the floor, and
//! the transfer goes on from the next source.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::events::{Level, Observer};

/// The least a mirror's blob body must deliver: [`MIRROR_MIN_RATE`] bytes a second, judged over
/// each `window` (twice `--timeout`). A mirror that drips a byte now and then never trips the
/// per-read timeout, and would hold the pull forever; under the floor it is dropped for the run
/// and the transfer resumes from the next source (the digest check still covers every byte).
pub(super) struct Floor {
    pub dead: Arc<AtomicBool>,
    pub host: String,
    pub window: Duration,
    pub log: Arc<dyn Observer>,
}

/// Bytes a second a mirror must keep up on a blob (a slow registry is far faster).
pub const MIRROR_MIN_RATE: u64 = 16 * 1024;

/// A body reader that fails once a window passes with fewer bytes than the floor asks.
pub(super) struct FloorReader<R> {
    inner: R,
    floor: Floor,
    since: Instant,
    got: u64,
}

impl<R: Read> Read for FloorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.got += n as u64;
        let now = Instant::now();
        let spent = now.duration_since(self.since);
        if spent >= self.floor.window {
            let least = MIRROR_MIN_RATE * self.floor.window.as_secs().max(1);
            if self.got < least {
                let f = &self.floor;
                if !f.dead.swap(true, Ordering::Relaxed) {
                    f.log.log(
                        Level::Warn,
                        format!(
                            "mirror {}: sent {} bytes in {:.0?}, under the {} a second a mirror must keep; using the next source",
                            f.host, self.got, spent, MIRROR_MIN_RATE
                        ),
                    );
                }
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("mirror {} is too slow", f.host),
                ));
            }
            (self.since, self.got) = (now, 0);
        }
        Ok(n)
    }
}

impl<R> FloorReader<R> {
    pub(super) fn new(inner: R, floor: Floor) -> FloorReader<R> {
        FloorReader { inner, floor, since: Instant::now(), got: 0 }
    }
}
