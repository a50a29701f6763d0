//! The run's one cancel token. Waiting never polls it: [`Cancel::cancel`] wakes every sleeper
//! on the token's condition variable and runs the hooks registered with [`Cancel::on_cancel`]
//! (the gate's wake-up, each HTTP agent's `shutdown`, the pool's stop), so a blocked read, a
//! backoff or a queue wait ends at once instead of at the next tick of a timer.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};

/// A cancellation token the caller holds (clones share it): [`Cancel::cancel`] stops a run at
/// its next read or wait with [`ErrorKind::Interrupted`], keeping partial downloads for resuming.
///
/// The library installs no signal handler. `cancel` takes a lock and runs hooks, so it must
/// not be called from a signal handler itself: a handler stores an atomic, and a thread (the
/// CLI uses signal-hook's iterator) calls `cancel`.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Token>);

#[derive(Default)]
struct Token {
    set: AtomicBool,
    /// Sleepers wait on `cv` under this lock; `cancel` takes it after raising `set`, so a
    /// sleeper either sees the flag or is already waiting when the notification comes.
    hooks: Mutex<Hooks>,
    cv: Condvar,
}

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Hooks {
    next: u64,
    live: Vec<(u64, Hook)>,
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hooks' count shows a leak: a long-lived caller's token must not gather them.
        let hooks = self.lock().live.len();
        f.debug_struct("Cancel").field("set", &self.is_set()).field("hooks", &hooks).finish()
    }
}

impl Cancel {
    /// Ask every run holding this token to stop: wakes whoever waits on it and runs the
    /// registered hooks once, on this thread.
    pub fn cancel(&self) {
        if self.0.set.swap(true, Ordering::SeqCst) {
            return;
        }
        let hooks = std::mem::take(&mut self.lock().live);
        self.0.cv.notify_all();
        for (_, hook) in hooks {
            hook();
        }
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// Run `hook` when the token is cancelled (at once, if it already is) until the returned
    /// guard drops. A hook runs on the cancelling thread: it must be quick and must not wait
    /// for the thread that registered it.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) -> OnCancel {
        let mut hooks = self.lock();
        if self.is_set() {
            drop(hooks);
            hook();
            return OnCancel { token: None, id: 0 };
        }
        let id = hooks.next;
        hooks.next += 1;
        hooks.live.push((id, Box::new(hook)));
        OnCancel { token: Some(self.0.clone()), id }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.is_set() { Err(interrupted()) } else { Ok(()) }
    }

    /// Sleep `d`, waking at once (with an error) when cancelled.
    pub(crate) fn sleep(&self, d: Duration) -> Result<(), Error> {
        let end = Instant::now() + d;
        let mut hooks = self.lock();
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            // A timed wait to the exact end of the sleep, woken early only by `cancel`.
            hooks = self.0.cv.wait_timeout(hooks, end - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Hooks> {
        self.0.hooks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The error every cancelled wait returns.
pub(crate) fn interrupted() -> Error {
    Error::new(ErrorKind::Interrupted, "interrupted")
}

/// A registered [`Cancel::on_cancel`] hook; dropping it unregisters the hook.
#[must_use = "the hook is unregistered when this guard drops"]
pub struct OnCancel {
    token: Option<Arc<Token>>,
    id: u64,
}

impl fmt::Debug for OnCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnCancel").field("id", &self.id).finish()
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            let mut hooks = token.hooks.lock().unwrap_or_else(|p| p.into_inner());
            hooks.live.retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cancel, Duration, Instant};
    use crate::error::ErrorKind;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn cancel_wakes_a_sleeper_at_once() {
        let cancel = Cancel::default();
        let other = cancel.clone();
        let started = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            other.cancel();
        });
        let r = cancel.sleep(Duration::from_secs(60));
        waker.join().unwrap();
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Interrupted);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn hooks_run_once_and_a_dropped_guard_unregisters() {
        let cancel = Cancel::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let (a, b) = (ran.clone(), ran.clone());
        let kept = cancel.on_cancel(move || {
            a.fetch_add(1, Ordering::SeqCst);
        });
        drop(cancel.on_cancel(move || {
            b.fetch_add(100, Ordering::SeqCst);
        }));
        cancel.cancel();
        cancel.cancel();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        let c = ran.clone();
        let _late = cancel.on_cancel(move || {
            c.fetch_add(10, Ordering::SeqCst);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 11, "a hook on a cancelled token runs at once");
        drop(kept);
    }

    #[test]
    fn a_sleep_without_cancel_lasts_its_time() {
        let started = Instant::now();
        Cancel::default().sleep(Duration::from_millis(40)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(40));
    }
}
