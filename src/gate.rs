//! The `--jobs` gate: how many transfers (connections) are in flight at once, halved for a
//! while after a 429. Every request of a run passes it (`retry::run` enters it per attempt).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::error::Error;

/// Limits transfers in flight; after a 429 the limit halves for a while. A waiter sleeps until
/// a slot is released, the run is cancelled, or the cool-down ends (a timed wait to its exact
/// end): nothing re-checks on a timer.
#[derive(Debug)]
pub struct Gate {
    base: usize,
    shared: Arc<GateShared>,
}

#[derive(Debug)]
struct GateShared {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Debug)]
struct GateState {
    active: usize,
    reduced: usize,
    until: Option<Instant>,
}

impl Gate {
    pub fn new(limit: usize) -> Gate {
        let base = limit.max(1);
        let state = Mutex::new(GateState { active: 0, reduced: base, until: None });
        Gate { base, shared: Arc::new(GateShared { state, cv: Condvar::new() }) }
    }

    fn limit(&self, st: &GateState) -> usize {
        match st.until {
            Some(t) if Instant::now() < t => st.reduced,
            _ => self.base,
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limit when no 429 has lowered it.
    pub fn capacity(&self) -> usize {
        self.base
    }

    /// Wait for a slot; the slot is freed when the returned guard drops. A cancel ends the
    /// wait with [`crate::error::ErrorKind::Interrupted`].
    pub fn enter(&self, cancel: &Cancel) -> Result<GateGuard<'_>, Error> {
        let mut st = self.lock();
        if st.active >= self.limit(&st) {
            drop(st);
            let shared = self.shared.clone();
            // Taking the gate's lock before notifying: the waiter checks the token under it.
            let _wake = cancel.on_cancel(move || {
                let _st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                shared.cv.notify_all();
            });
            st = self.lock();
            while st.active >= self.limit(&st) {
                cancel.check()?;
                let cv = &self.shared.cv;
                st = match st.until.map(|t| t.saturating_duration_since(Instant::now())) {
                    // Lowered by a 429: the limit rises again at `until`, with no release.
                    Some(left) if !left.is_zero() => {
                        cv.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0
                    }
                    _ => cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                };
            }
        }
        st.active += 1;
        Ok(GateGuard(self))
    }

    /// Halve the limit (at least 1) for `d`. Returns the new limit.
    pub fn throttle(&self, d: Duration) -> usize {
        let mut st = self.lock();
        let current = self.limit(&st);
        st.reduced = (current / 2).max(1);
        st.until = Some(Instant::now() + d);
        st.reduced
    }
}

/// A slot of the [`Gate`], given back on drop.
pub struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.active -= 1;
        self.0.shared.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::{Cancel, Duration, Gate, Instant};
    use crate::error::ErrorKind;

    #[test]
    fn a_429_halves_the_gate_for_a_while() {
        let g = Gate::new(4);
        assert_eq!(g.throttle(Duration::from_millis(200)), 2);
        assert_eq!(g.throttle(Duration::from_millis(200)), 1);
        assert_eq!(g.throttle(Duration::from_millis(200)), 1);
        let st = g.lock();
        assert_eq!(g.limit(&st), 1);
        drop(st);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(g.limit(&g.lock()), 4, "the limit comes back");
    }

    #[test]
    fn a_cancel_wakes_a_gate_wait() {
        let g = Gate::new(1);
        let cancel = Cancel::default();
        let _held = g.enter(&cancel).unwrap();
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                cancel.cancel();
            });
            let r = g.enter(&cancel).map(|_| ());
            assert_eq!(r.unwrap_err().kind(), ErrorKind::Interrupted);
        });
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn a_gate_wait_ends_with_a_release_or_the_cool_down() {
        let g = Gate::new(2);
        let cancel = Cancel::default();
        let first = g.enter(&cancel).unwrap();
        g.throttle(Duration::from_millis(150)); // limit 1: the next waits for the cool-down
        let started = Instant::now();
        let second = g.enter(&cancel).unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(140), "entered after {waited:?}");
        assert!(waited < Duration::from_secs(5), "woken at the cool-down's end: {waited:?}");
        drop(second);
        let _third = g.enter(&cancel).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                drop(first);
            });
            let started = Instant::now();
            let _fourth = g.enter(&cancel).unwrap();
            assert!(started.elapsed() < Duration::from_secs(5), "woken by the release");
        });
    }
}
