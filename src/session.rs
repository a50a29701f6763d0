//! What one run shares, made once from the options: the registry client (connections, auth,
//! the retry policy, the cancel token and the `--jobs` gate every request passes), the work
//! pool and the blob cache. The steps of a run — the pull, each layer, each blob — take the
//! session; the steps that only talk to the registry (resolve, referrers, signatures) take its
//! client.
//!
//! # Concurrency: every thread a run starts, who wakes whom, what bounds memory
//!
//! One pool, one cancel token, one gate; nothing sleeps to look again.
//!
//! - **The caller's thread** resolves the manifest, then is the first worker of the pool
//!   ([`crate::pool::Pool`]): it takes layers (a layout's blobs, held signed files) from the
//!   group's queue like any helper.
//! - **Pool helpers**, at most `--jobs - 1`, each holding a permit while it lives: recruited by a
//!   group while it has jobs left and a permit is spare. A big blob on a slow link goes ranged
//!   (`blob::ranges`): its ranges are a group of the same pool, run by the layer's own thread plus
//!   the permits spare then or given back later, so nesting never waits for a worker; the first
//!   failed range stops the group. Whoever finds the next range on disk hashes it in order.
//! - **A stream's pipeline** (`blob::pipeline`): a blob of 4 MiB or more is received on one extra
//!   thread and written on the worker. While the run's streams are fewer than the cores, a
//!   second extra thread hashes what was written; once every core has a stream, the worker
//!   hashes each 256 KiB piece right after writing it (a third thread would only add switches
//!   and a second trip to memory). Checked before each chunk, so a stream takes the hashing
//!   thread when others end and gives it back (joined, the hash caught up) when others start.
//!   Buffers: 20 MiB (`PIPELINE_BUDGET`) shared by all `--jobs` streams, `DEPTH + 1` chunks
//!   each; a smaller blob is read, written and hashed on the worker through one 256 KiB buffer.
//!   Each connection reads into a buffer of 256 KiB, less above 16 connections (about 4 MiB for
//!   all, at least 68 KiB each: more than the longest response head).
//! - **An unpacker per layer extracted while it downloads** (`pull::layer`, scoped to that
//!   layer) and **one applier per root filesystem** (`pull::rootfs`, applying layers in order;
//!   woken by each download's end through a condvar): both read a tap (`blob::tee`), a bounded
//!   channel of 8 chunks, so a slow unpacker slows its download instead of filling memory.
//! - **A lock waiter**, only while another process holds an OCI layout's `flock`
//!   (`layout::lock`): cross-process, so a blocking `flock` on a thread of its own; a cancel hook
//!   ends the wait and the thread takes and drops the lock when the other run lets go.
//!
//! Who wakes whom: a released gate slot, a 429 cool-down's exact end (a timed wait) and a cancel
//! wake a gate waiter ([`crate::gate::Gate`]); [`Cancel::cancel`] wakes backoff sleeps, runs the
//! hooks that shut each HTTP agent's connections (so blocked reads fail at once) and end a lock
//! wait; a failed job stops its group (jobs not started never start; range reads see the stop);
//! a closed channel ends a pipeline stage or a tap reader. The front end adds a progress ticker
//! (`cli::progress`, unparked by `finish`) and signal-hook's iterator thread, which raises the
//! token (a signal handler itself only stores an atomic). What is kept as it is, and why: the
//! process-wide mutex in `extract::commit` (layers unpacked in parallel merge into shared
//! directories one at a time), the TLS-first state per host in `registry::origin` (lock-free
//! state, nothing waits on it), the `flock`s (between processes).
//!
//! [`Cancel::cancel`]: crate::Cancel::cancel

use std::sync::Arc;

use crate::cache::Cache;
use crate::error::Error;
use crate::events::Observer;
use crate::pool::Pool;
use crate::reference::Reference;
use crate::registry::{Client, ClientOptions};
use crate::retry::Cancel;

/// One run against one registry.
pub(crate) struct Session {
    /// The conversation with the registry.
    pub client: Client,
    /// Verified blobs from earlier runs, when a cache is in use.
    pub cache: Option<Cache>,
    /// The `--jobs` workers every layer and every range runs on.
    pub pool: Pool,
}

impl Session {
    /// A session for `reference`'s registry with up to `jobs` transfers in flight.
    pub fn open(
        reference: &Reference,
        opts: &ClientOptions,
        obs: Arc<dyn Observer>,
        jobs: usize,
    ) -> Result<Session, Error> {
        let opts = ClientOptions { connections: jobs, ..opts.clone() };
        let client = Client::new(reference, &opts, obs)?.with_concurrency(jobs);
        Ok(Session { client, cache: opts.cache.clone().map(Cache::new), pool: Pool::new(jobs) })
    }

    /// The run's cancel token.
    pub fn cancel(&self) -> &Cancel {
        self.client.cancel()
    }
}
