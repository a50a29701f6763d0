//! Where one reference is read from: its mirrors in order, then the registry (see
//! [`crate::mirrors`]), each an [`Endpoint`] of its own with the repository it keeps the
//! reference's under. Tag lists and referrers lists ask the registry only
//! (containers-registries.conf(5): mirrors serve pulls, not other lookups).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::endpoint::{Endpoint, MirrorOf};
use super::route::{Lane, Route};
use super::{Client, ClientOptions};
use crate::error::Error;
use crate::events::Observer;
use crate::mirrors::MirrorSource;
use crate::reference::Reference;
use crate::retry::Gate;

/// How long a mirror may take to accept a connection before it is dropped for the run (Spegel's
/// own containerd template uses 200 ms; a node-local or LAN cache answers well within this).
pub const MIRROR_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A source's name for the reference's repository, when its `location` rewrites it: the one
/// home of the logical → physical repository mapping.
#[derive(Default)]
pub(super) struct RepoMap(Option<(String, String)>);

impl RepoMap {
    /// The map from `logical`'s repository to `physical`'s (none when they agree).
    pub(super) fn new(logical: &Reference, physical: &Reference) -> RepoMap {
        let (from, to) = (logical.repository(), physical.repository());
        RepoMap((from != to).then(|| (from.to_owned(), to.to_owned())))
    }

    /// `repo` as this source names it.
    pub(super) fn apply<'a>(&'a self, repo: &'a str) -> &'a str {
        match &self.0 {
            Some((logical, physical)) if logical == repo => physical,
            _ => repo,
        }
    }
}

/// A mirror: its endpoint, and where it keeps the reference's repository.
pub(super) struct Mirror {
    pub endpoint: Endpoint,
    pub repo: RepoMap,
}

impl Mirror {
    /// The mirror `s` of `logical`'s registry. It gets only the credentials stored for its own
    /// host, no cache of remembered challenges, and little time to connect.
    fn new(
        logical: &Reference,
        s: &MirrorSource,
        opts: &ClientOptions,
        log: &Arc<dyn Observer>,
    ) -> Result<(Mirror, Lane), Error> {
        let opts = ClientOptions {
            credentials: None,
            insecure: opts.insecure || s.insecure,
            insecure_registry: s.insecure,
            cache: None,
            mirrors: Default::default(),
            // A mirror is a nearby cache: one that does not answer at once is no help.
            connect_timeout: Some(
                opts.connect_timeout
                    .map_or(MIRROR_CONNECT_TIMEOUT, |t| t.min(MIRROR_CONNECT_TIMEOUT)),
            ),
            ..opts.clone()
        };
        let dead = Arc::new(AtomicBool::new(false));
        let of = MirrorOf { ns: logical.registry().to_owned(), dead: dead.clone() };
        let endpoint = Endpoint::new(&s.reference, &opts, log.clone(), Some(of))?;
        let lane = Lane { host: endpoint.host.clone(), dead, digest_only: s.digest_only };
        Ok((Mirror { endpoint, repo: RepoMap::new(logical, &s.reference) }, lane))
    }
}

impl Client {
    /// A client for `reference`: its registry (at its `location`), and the mirrors
    /// `opts.mirrors` lets serve this pull.
    pub fn new(
        reference: &Reference,
        opts: &ClientOptions,
        log: Arc<dyn Observer>,
    ) -> Result<Client, Error> {
        if opts.store.is_some() {
            // A directory on this machine: no mirrors, no network, no manifests cached apart.
            let registry = Endpoint::new(reference, opts, log.clone(), None)?;
            let name = reference.registry();
            return Ok(Client::over(
                (registry, name),
                Default::default(),
                RepoMap::default(),
                opts,
            ));
        }
        let list = opts.mirrors.sources_for(reference, reference.digest().is_some())?;
        let (origin, mirrors) = list.split_last().expect("the registry is always a source");
        let direct = ClientOptions {
            insecure: opts.insecure || origin.insecure,
            insecure_registry: origin.insecure,
            ..opts.clone()
        };
        let registry = Endpoint::new(&origin.reference, &direct, log.clone(), None)?;
        let mirrors = mirrors
            .iter()
            .map(|s| Mirror::new(reference, s, opts, &log))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut client = Client::over(
            (registry, origin.reference.registry()),
            mirrors.into_iter().unzip(),
            RepoMap::new(reference, &origin.reference),
            opts,
        );
        client.manifests = opts.cache.as_ref().map(crate::cache::Cache::new);
        Ok(client)
    }

    fn over(
        (registry, name): (Endpoint, &str),
        (mirrors, lanes): (Vec<Mirror>, Vec<Lane>),
        origin: RepoMap,
        opts: &ClientOptions,
    ) -> Client {
        let log = registry.log.clone();
        Client {
            route: Route::new(lanes, &registry.host, log.clone()),
            registry_name: name.to_owned(),
            registry,
            mirrors,
            origin,
            log,
            retry: opts.retry.clone(),
            cancel: opts.cancel.clone(),
            gate: Gate::new(1),
            manifests: None,
        }
    }
}
