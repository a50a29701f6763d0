//! The tap: a copy of a transfer's bytes, in order, for a thread that unpacks while the blob
//! downloads.

use std::io::Read;

/// A copy of a file transfer's bytes, in order, for a consumer that unpacks while the blob
/// downloads. The consumer must not trust what it got until the transfer verified, and only
/// if the tap stayed [`intact`](Tap::intact): a restart from zero breaks the stream.
pub struct Tap {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    pub(crate) sent: u64,
    intact: bool,
}

/// The consumer's end of a [`Tap`]; reads until the tap is dropped.
pub struct TapReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Tap {
    /// A tap and its reader, with `depth` chunks in flight.
    pub fn channel(depth: usize) -> (Tap, TapReader) {
        let (tx, rx) = std::sync::mpsc::sync_channel(depth);
        (Tap { tx: Some(tx), sent: 0, intact: true }, TapReader { rx, cur: Vec::new(), pos: 0 })
    }

    pub(crate) fn send(&mut self, buf: &[u8]) {
        if let Some(tx) = &self.tx {
            if tx.send(buf.to_vec()).is_err() {
                self.cut(); // the consumer gave up
            } else {
                self.sent += buf.len() as u64;
            }
        }
    }

    pub(crate) fn cut(&mut self) {
        self.intact = false;
        self.tx = None;
    }

    /// Whether the consumer saw exactly the first `size` bytes of the blob, in order.
    pub fn intact(&self, size: u64) -> bool {
        self.intact && self.sent == size
    }
}

impl Read for TapReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.cur = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
