//! The pipeline switching between hashing apart and hashing on the writer at every chunk, as
//! other streams start and end: each byte is hashed once and in order, and a failure right
//! after a switch (the sink, the body, a cancel, the switch to ranges) leaves a state that a
//! retry resumes from.

use std::io::Read;
use std::sync::Arc;

use super::{CHUNK, PIPELINE_DEPTH, run};
use crate::blob::resume::BUF;
use crate::blob::sink::Sink;
use crate::blob::verify::State;
use crate::blob::{BlobSpec, Requester, Transfer};
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, ErrorKind};
use crate::events::{Progress, Silent};
use crate::pool::{Pool, Streaming};
use crate::reference::Reference;
use crate::registry::ClientOptions;
use crate::session::Session;

/// A body served in odd-sized reads, failing once it has served `cut` bytes, if set.
struct Body<'a> {
    data: &'a [u8],
    cut: Option<usize>,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cut == Some(0) {
            return Err(std::io::ErrorKind::ConnectionReset.into());
        }
        let n = buf.len().min(self.data.len()).min(100_003).min(self.cut.unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.cut = self.cut.map(|c| c - n);
        Ok(n)
    }
}

/// What ends a run right after a switch.
#[derive(Clone, Copy, PartialEq, Debug)]
enum End {
    Sink,
    Body,
    Cancel,
    Ranges,
}

/// A sink that makes another stream start or end at each chunk boundary, so that the writer
/// switches at every chunk; it tells the two forms apart by their writes (a whole chunk apart,
/// cache-sized pieces on the writer), and ends the run at `end` if set.
struct Switching<'a> {
    pool: &'a Pool,
    session: &'a Session,
    other: Option<Streaming<'a>>,
    got: Vec<u8>,
    /// Whether each write was more than a cache-sized piece (hashed apart).
    apart: Vec<bool>,
    end: Option<(u64, End)>,
}

impl Switching<'_> {
    fn switches(&self) -> usize {
        self.apart.windows(2).filter(|w| w[0] != w[1]).count()
    }
}

impl Sink for Switching<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<(), Error> {
        let before = self.got.len() as u64;
        if let Some((at, End::Sink)) = self.end
            && before + buf.len() as u64 > at
        {
            return Err(Error::new(ErrorKind::Other, "disk full"));
        }
        self.apart.push(buf.len() > BUF);
        self.got.extend_from_slice(buf);
        let after = self.got.len() as u64;
        if after / CHUNK as u64 != before / CHUNK as u64 {
            self.other = match self.other.take() {
                Some(_) => None,
                None => Some(self.pool.stream()),
            };
        }
        if let Some((at, End::Cancel)) = self.end
            && after >= at
        {
            self.session.cancel().cancel();
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<bool, Error> {
        Ok(false)
    }

    fn wants_ranges(&mut self, written: u64) -> bool {
        self.end.is_some_and(|(at, e)| e == End::Ranges && written >= at)
    }
}

fn session() -> Session {
    let reference: Reference = "127.0.0.1:9/x:v1".parse().unwrap();
    let mut s = Session::open(&reference, &ClientOptions::default(), Arc::new(Silent), 4).unwrap();
    s.pool = Pool::with_cores(4, 2); // one stream alone leaves a core spare; two do not
    s
}

/// Run the pipeline over `data[state.written..]` into a fresh sink.
fn drive<'a>(
    s: &'a Session,
    data: &[u8],
    digest: &Digest,
    state: &mut State,
    end: Option<(u64, End)>,
    cut: Option<usize>,
) -> (Result<(), Error>, Switching<'a>) {
    let mut sink =
        Switching { pool: &s.pool, session: s, other: None, got: Vec::new(), apart: vec![], end };
    let spec = BlobSpec { repository: "x", digest, size: Some(data.len() as u64) };
    let progress = Progress::default();
    let who = Requester { index: 0, name: "t", progress: &progress, obs: &Silent };
    let mut body = Body { data: &data[state.written as usize..], cut };
    let streaming = s.pool.stream();
    let r = run(&mut body, Transfer { session: s, spec, who }, &mut sink, state, &streaming);
    (r, sink)
}

#[test]
fn a_stream_switching_at_every_chunk_hashes_each_byte_once_in_order() {
    let data: Vec<u8> = (0..24 * CHUNK + 12_345).map(|i| (i * 7 + i / 4093) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &data);
    let s = session();
    let mut state = State::new(Algorithm::Sha256);
    let (r, sink) = drive(&s, &data, &digest, &mut state, None, None);
    r.unwrap();
    assert!(sink.got == data, "the sink got every byte in order");
    assert!(sink.switches() >= 20, "{} switches", sink.switches());
    assert_eq!(state.written, data.len() as u64);
    assert_eq!(state.hasher.clone().finish(), digest);
}

/// Ended right after a switch either way (to the writer at 5 MiB, apart again at 6 MiB: one
/// piece and a byte later), each cause leaves exactly the bytes written hashed, and a retry
/// from there completes the digest. A cancel lets the chunks already received be written.
#[test]
fn a_failure_right_after_a_switch_leaves_a_state_a_retry_resumes() {
    let data: Vec<u8> = (0..16 * CHUNK).map(|i| (i * 13 + i / 65_521) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &data);
    for at in [5 * CHUNK + BUF + 1, 6 * CHUNK + BUF + 1] {
        for end in [End::Sink, End::Body, End::Cancel, End::Ranges] {
            let s = session();
            let mut state = State::new(Algorithm::Sha256);
            let (stop, cut) = match end {
                End::Body => (None, Some(at)),
                _ => (Some((at as u64, end)), None),
            };
            let (r, first) = drive(&s, &data, &digest, &mut state, stop, cut);
            let why = format!("{end:?} at {at}");
            match (end, r) {
                (End::Ranges, r) => r.unwrap(),
                (End::Cancel, Err(e)) => assert_eq!(e.kind(), ErrorKind::Interrupted, "{why}"),
                (End::Body, Err(e)) => assert!(e.is_transient(), "{why}: {e}"),
                (End::Sink, Err(e)) => assert!(e.to_string().contains("disk full"), "{why}"),
                (_, Ok(())) => panic!("{why}: the run went on"),
            }
            let w = state.written as usize;
            let most = at + (PIPELINE_DEPTH + 1) * CHUNK;
            assert!(w > 4 * CHUNK && w <= most && w < data.len(), "{why}: {w} written");
            assert!(first.got == data[..w], "{why}: the sink holds what was counted");
            let hashed = state.hasher.clone().finish();
            assert_eq!(hashed, Digest::of(Algorithm::Sha256, &data[..w]), "{why}");
            drop(first); // the other stream it may hold ends
            let s = if end == End::Cancel { session() } else { s };
            let (r, rest) = drive(&s, &data, &digest, &mut state, None, None);
            r.unwrap();
            assert!(rest.got == data[w..], "{why}: the retry wrote the rest");
            assert_eq!(state.hasher.clone().finish(), digest, "{why}");
        }
    }
}
