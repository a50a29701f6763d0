//! The order sources are asked in, and the fail-over, apart from the connections: each live
//! mirror, then the registry (see [`crate::mirrors`]). A mirror that fails to connect, answers an
//! error other than 404, or served bytes a caller's check refused is dropped for the rest of the
//! run, so a dead one costs one attempt, not one a blob. The caller's check runs here
//! ([`Route::fail_over`]): "these bytes were bad" drops every mirror that served some of them
//! and runs the check again from the next source, as go-containerregistry's fetcher and
//! regclient's `reghttp` keep host and mirror fall-back in one place.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::events::{Level, Observer};

/// What a set of sources served: the bytes a check judges, and the mirrors blamed when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A blob, by digest (the same bytes in every repository).
    Blob(Digest),
    /// A manifest of a (logical) repository, by tag or digest as it was asked for.
    Manifest { repo: String, reference: String },
}

impl Key {
    /// The manifest `reference` (a tag or a digest) of `repo`.
    pub(crate) fn manifest(repo: &str, reference: &str) -> Key {
        Key::Manifest { repo: repo.to_owned(), reference: reference.to_owned() }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Blob(d) => write!(f, "blob {d}"),
            Key::Manifest { repo, reference } => {
                let sep = if reference.contains(':') { '@' } else { ':' };
                write!(f, "manifest {repo}{sep}{reference}")
            }
        }
    }
}

/// A failure a fail-over can judge: the errors it stands for, one of which may say the bytes a
/// source served were bad.
pub(crate) trait Judged {
    fn errors(&self) -> &[Error];
}

impl Judged for Error {
    fn errors(&self) -> &[Error] {
        Error::errors(self)
    }
}

/// One mirror as the route sees it: whether it is still asked, and what it may be asked for.
pub(super) struct Lane {
    /// For messages (`mirror HOST: …`).
    pub host: String,
    /// Raised when the mirror is dropped for the run; shared with its endpoint, whose blob
    /// bodies raise it when they fall under the floor.
    pub dead: Arc<AtomicBool>,
    /// Asked for content by digest only, never a tag (see [`crate::mirrors::MirrorSource::digest_only`]).
    pub digest_only: bool,
}

/// Who served one key since its bytes were last judged.
#[derive(Default)]
struct Served {
    /// The source of the latest answer (`None`: the registry), for `-v`.
    last: Option<Option<usize>>,
    /// Every mirror that sent some of the bytes: a resume or a range may have come from another
    /// source than the first bytes, and each of them is to blame.
    mirrors: Vec<usize>,
}

/// The mirrors in order (the registry comes last, always), and who served what.
pub(super) struct Route {
    lanes: Vec<Lane>,
    registry_host: String,
    served: Mutex<HashMap<Key, Served>>,
    log: Arc<dyn Observer>,
}

impl Route {
    pub(super) fn new(lanes: Vec<Lane>, registry_host: &str, log: Arc<dyn Observer>) -> Route {
        let registry_host = registry_host.to_owned();
        Route { lanes, registry_host, served: Default::default(), log }
    }

    /// One attempt at `key`: `fetch(Some(i))` for each live mirror `i`, then `fetch(None)` for
    /// the registry. Decided per request: a tag (`by_digest` false) is never asked of a
    /// digest-only mirror. A 404 moves on and keeps the mirror; a cancel stops here and blames
    /// no one; any other failure drops the mirror.
    pub(super) fn each_source<T>(
        &self,
        key: &Key,
        by_digest: bool,
        mut fetch: impl FnMut(Option<usize>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.dead.load(Ordering::Relaxed) || (lane.digest_only && !by_digest) {
                continue;
            }
            match fetch(Some(i)) {
                Ok(t) => {
                    self.served_by(key, Some(i));
                    return Ok(t);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => return Err(e),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    let host = &lane.host;
                    self.log.log(Level::Debug, format!("{key}: not on mirror {host} ({e})"));
                }
                Err(e) => self.drop_mirror(i, &e.to_string_full()),
            }
        }
        let t = fetch(None)?;
        self.served_by(key, None);
        Ok(t)
    }

    /// Run `check` (which fetches through [`Route::each_source`] and judges what came) again for
    /// as long as it fails with an error of kind `bad` and a mirror that served some of `keys`
    /// can be blamed: those mirrors are dropped, and the next round asks the sources left. Each
    /// round drops at least one mirror for good, so this ends.
    pub(super) fn fail_over<T, E: Judged>(
        &self,
        keys: &[Key],
        bad: ErrorKind,
        mut check: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        loop {
            let e = match check() {
                Err(e) => e,
                done => return done,
            };
            let Some(why) = e.errors().iter().find(|x| x.kind() == bad) else { return Err(e) };
            // Every key's mirrors are blamed, so no short-circuit.
            if !keys.iter().fold(false, |any, key| self.distrust(key, why) | any) {
                return Err(e);
            }
        }
    }

    fn served_by(&self, key: &Key, source: Option<usize>) {
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        let entry = served.entry(key.clone()).or_default();
        if entry.last != Some(source) {
            let host = source.map_or(&self.registry_host, |i| &self.lanes[i].host);
            self.log.log(Level::Debug, format!("{key} from {host}"));
            entry.last = Some(source);
        }
        if let Some(i) = source.filter(|i| !entry.mirrors.contains(i)) {
            entry.mirrors.push(i);
        }
    }

    fn drop_mirror(&self, i: usize, why: &str) {
        let lane = &self.lanes[i];
        if !lane.dead.swap(true, Ordering::Relaxed) {
            let host = &lane.host;
            self.log.log(Level::Warn, format!("mirror {host}: {why}; using the next source"));
        }
    }

    /// `key`'s bytes were bad: drop every mirror that sent some of them. `true` when one did.
    fn distrust(&self, key: &Key, why: &Error) -> bool {
        let blamed = {
            let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
            served.get_mut(key).map(|s| std::mem::take(&mut s.mirrors)).unwrap_or_default()
        };
        for &i in &blamed {
            self.drop_mirror(i, &format!("{key}: {why}"));
        }
        !blamed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::events::Event;

    /// A route over `n` mirrors named m0, m1, … whose warnings are collected.
    fn route(n: usize) -> (Route, Arc<Mutex<Vec<String>>>) {
        let warned = Arc::new(Mutex::new(Vec::new()));
        let sink = warned.clone();
        let log = Arc::new(move |e: &Event<'_>| {
            if let Event::Log { level: Level::Warn, message } = e {
                sink.lock().unwrap().push(message.clone());
            }
        });
        let lanes = (0..n)
            .map(|i| Lane { host: format!("m{i}"), dead: Default::default(), digest_only: false })
            .collect();
        (Route::new(lanes, "registry", log), warned)
    }

    fn dead(r: &Route) -> Vec<bool> {
        r.lanes.iter().map(|l| l.dead.load(Ordering::Relaxed)).collect()
    }

    fn blob() -> Key {
        Key::Blob(Digest::of(crate::digest::Algorithm::Sha256, b"x"))
    }

    #[test]
    fn a_mirror_that_serves_bad_bytes_is_dropped_and_the_next_source_serves() {
        let (r, warned) = route(2);
        let asked = RefCell::new(Vec::new());
        // m0 serves bad bytes; m1 good ones.
        let got = r.fail_over(&[blob()], ErrorKind::Integrity, || {
            let bytes = r.each_source(&blob(), true, |s| {
                asked.borrow_mut().push(s);
                Ok(if s == Some(0) { "bad" } else { "good" })
            })?;
            match bytes {
                "good" => Ok(bytes),
                _ => Err(Error::new(ErrorKind::Integrity, "digest mismatch")),
            }
        });
        assert_eq!(got.unwrap(), "good");
        assert_eq!(*asked.borrow(), [Some(0), Some(1)]);
        assert_eq!(dead(&r), [true, false]);
        let warned = warned.lock().unwrap();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].starts_with("mirror m0: blob sha256:"), "{warned:?}");
        assert!(warned[0].contains("digest mismatch"), "{warned:?}");
    }

    #[test]
    fn bad_bytes_from_the_registry_fail_without_another_round() {
        let (r, _) = route(1);
        r.lanes[0].dead.store(true, Ordering::Relaxed);
        let rounds = Cell::new(0);
        let got: Result<(), Error> = r.fail_over(&[blob()], ErrorKind::Integrity, || {
            rounds.set(rounds.get() + 1);
            r.each_source(&blob(), true, |s| {
                assert_eq!(s, None, "a dropped mirror is not asked");
                Err(Error::new(ErrorKind::Integrity, "digest mismatch"))
            })
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Integrity);
        assert_eq!(rounds.get(), 1);
    }

    #[test]
    fn a_404_on_a_mirror_falls_through_without_dropping_it() {
        let (r, warned) = route(2);
        let asked = RefCell::new(Vec::new());
        let got = r.each_source(&blob(), true, |s| {
            asked.borrow_mut().push(s);
            match s {
                Some(_) => Err(Error::new(ErrorKind::NotFound, "404 BLOB_UNKNOWN")),
                None => Ok("from the registry"),
            }
        });
        assert_eq!(got.unwrap(), "from the registry");
        assert_eq!(*asked.borrow(), [Some(0), Some(1), None]);
        assert_eq!(dead(&r), [false, false]);
        assert!(warned.lock().unwrap().is_empty());
    }

    #[test]
    fn another_failure_drops_the_mirror_for_the_run() {
        let (r, warned) = route(1);
        let refused = |s: Option<usize>| match s {
            Some(_) => Err(Error::new(ErrorKind::Network, "connection refused")),
            None => Ok(()),
        };
        r.each_source(&blob(), true, refused).unwrap();
        assert_eq!(dead(&r), [true]);
        let got = r.each_source(&blob(), true, Ok).unwrap();
        assert_eq!(got, None, "a dropped mirror is not asked again");
        assert_eq!(warned.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_cancel_is_never_a_source_failure() {
        let (r, warned) = route(2);
        let asked = RefCell::new(Vec::new());
        let got: Result<(), Error> = r.each_source(&blob(), true, |s| {
            asked.borrow_mut().push(s);
            Err(Error::new(ErrorKind::Interrupted, "interrupted"))
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Interrupted);
        assert_eq!(*asked.borrow(), [Some(0)], "a cancel stops the walk");
        // Nor is a cancel during the check after a mirror served.
        let rounds = Cell::new(0);
        let got: Result<(), Error> = r.fail_over(&[blob()], ErrorKind::Integrity, || {
            rounds.set(rounds.get() + 1);
            r.each_source(&blob(), true, |_| Ok(()))?;
            Err(Error::new(ErrorKind::Interrupted, "interrupted"))
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Interrupted);
        assert_eq!(rounds.get(), 1);
        assert_eq!(dead(&r), [false, false]);
        assert!(warned.lock().unwrap().is_empty());
    }

    #[test]
    fn bad_bytes_then_a_404_then_a_cancel_blame_only_the_mirror_that_sent_the_bytes() {
        let (r, warned) = route(2);
        let (rounds, asked) = (Cell::new(0), RefCell::new(Vec::new()));
        // m0 sends bad bytes; in the next round m1 has none and the registry's answer is
        // cut short by a cancel.
        let got: Result<(), Error> = r.fail_over(&[blob()], ErrorKind::Integrity, || {
            rounds.set(rounds.get() + 1);
            r.each_source(&blob(), true, |s| {
                asked.borrow_mut().push(s);
                match s {
                    Some(0) => Ok(()),
                    Some(_) => Err(Error::new(ErrorKind::NotFound, "404 BLOB_UNKNOWN")),
                    None => Err(Error::new(ErrorKind::Interrupted, "interrupted")),
                }
            })?;
            Err(Error::new(ErrorKind::Integrity, "digest mismatch"))
        });
        assert_eq!(got.unwrap_err().kind(), ErrorKind::Interrupted);
        assert_eq!((rounds.get(), &*asked.borrow()), (2, &vec![Some(0), Some(1), None]));
        assert_eq!(dead(&r), [true, false], "the 404 and the cancel blame no one");
        let warned = warned.lock().unwrap();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].starts_with("mirror m0: "), "{warned:?}");
    }

    #[test]
    fn a_tag_is_never_asked_of_a_digest_only_mirror() {
        let (mut r, _) = route(2);
        r.lanes[0].digest_only = true;
        let key = Key::manifest("org/app", "v1");
        assert_eq!(r.each_source(&key, false, Ok).unwrap(), Some(1));
        assert_eq!(key.to_string(), "manifest org/app:v1");
        assert_eq!(Key::manifest("a", "sha256:00").to_string(), "manifest a@sha256:00");
    }

    #[test]
    fn every_mirror_that_sent_some_of_the_bytes_is_blamed() {
        let (r, _) = route(3);
        // A resume: the first bytes from m0, the rest from m1 after m0 failed.
        assert_eq!(r.each_source(&blob(), true, Ok).unwrap(), Some(0));
        r.lanes[0].dead.store(true, Ordering::Relaxed);
        assert_eq!(r.each_source(&blob(), true, Ok).unwrap(), Some(1));
        let why = Error::new(ErrorKind::Integrity, "digest mismatch");
        assert!(r.distrust(&blob(), &why));
        assert_eq!(dead(&r), [true, true, false]);
        assert!(!r.distrust(&blob(), &why), "nobody is blamed twice for the same bytes");
    }
}
