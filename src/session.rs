//! What one run shares, made once from the options: the registry client (connections, auth,
//! the retry policy, the cancel flag and the `--jobs` gate every request passes) and the blob
//! cache. The steps of a run — the pull, each layer, each blob — take the session; the steps
//! that only talk to the registry (resolve, referrers, signatures) take its client.

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
        let client = Client::new(reference, opts, obs)?.with_concurrency(jobs);
        Ok(Session { client, cache: opts.cache.clone().map(Cache::new), pool: Pool::new(jobs) })
    }

    /// The run's cancel flag.
    pub fn cancel(&self) -> &Cancel {
        self.client.cancel()
    }
}
