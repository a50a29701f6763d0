//! Retries with exponential backoff and jitter, `Retry-After`, cancellation, and a gate that
//! lowers the run's concurrency for a while after a 429.

use std::time::{Duration, SystemTime};

pub use crate::cancel::Cancel;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, Level, Observer};
pub use crate::gate::Gate;

/// How hard to try.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff; each retry doubles it.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How long concurrency stays lowered after a 429.
    pub throttle_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            throttle_for: Duration::from_secs(30),
        }
    }
}

/// Run `attempt` until it succeeds, fails for good, or the retries are used up. `attempt` gets
/// the attempt number (0 first) and must resume from where the last one stopped.
pub(crate) fn run<T>(
    policy: &RetryPolicy,
    cancel: &Cancel,
    gate: &Gate,
    obs: &dyn Observer,
    (index, what): (Option<usize>, &str),
    mut attempt: impl FnMut(u32) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut n = 0;
    loop {
        cancel.check()?;
        let result = {
            let _slot = gate.enter(cancel)?;
            attempt(n)
        };
        let err = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        // A cancel closes the connections, so the attempt failed because of it: say so.
        cancel.check()?;
        if !err.is_transient() || err.kind() == ErrorKind::Interrupted {
            return Err(err);
        }
        if n >= policy.retries {
            return Err(if n == 0 {
                err
            } else {
                err.context(format!("gave up after {} attempts", n + 1))
            });
        }
        if matches!(err.kind(), ErrorKind::RateLimited { .. }) {
            let limit = gate.throttle(policy.throttle_for);
            obs.log(
                Level::Debug,
                format!(
                    "rate-limited: at most {limit} transfer(s) at once for {:?}",
                    policy.throttle_for
                ),
            );
        }
        let delay = match err.retry_after() {
            Some(d) => d.min(policy.max_retry_after),
            None => backoff(policy, n),
        };
        obs.event(&Event::Retry {
            index,
            what,
            attempt: n + 1,
            of: policy.retries,
            delay,
            error: &err,
        });
        cancel.sleep(delay)?;
        n += 1;
    }
}

/// `base * 2^n`, capped, with full jitter over its upper half so that parallel workers spread out.
fn backoff(policy: &RetryPolicy, n: u32) -> Duration {
    let exp = policy.base.saturating_mul(1u32 << n.min(16)).min(policy.cap);
    let jitter = 0.5 + 0.5 * random_unit();
    exp.mul_f64(jitter)
}

fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The ghcr.io hint in a 429 body: `toomanyrequests: retry-after: 10.3ms, allowed: 2000/minute`.
pub fn parse_body_hint(body: &str) -> Option<Duration> {
    let lower = body.to_ascii_lowercase();
    let rest = &lower[lower.find("retry-after:")? + "retry-after:".len()..];
    let rest = rest.trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let n: f64 = rest[..end].parse().ok()?;
    let unit = rest[end..].trim_start();
    let secs = if unit.starts_with("ms") {
        n / 1000.0
    } else if unit.starts_with("µs") || unit.starts_with("us") {
        n / 1e6
    } else if unit.starts_with('m') && !unit.starts_with("ms") {
        n * 60.0
    } else if unit.starts_with('h') {
        n * 3600.0
    } else {
        n
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("Sun, 32 Nov 1994 08:49:47 GMT", now), None);
        // The obsolete forms a recipient must still accept (RFC 9110 §5.6.7).
        let ten = Some(Duration::from_secs(10));
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now), ten, "RFC 850");
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:47 1994", now), ten, "asctime");
    }

    #[test]
    fn ghcr_body_hints() {
        let h = |s| parse_body_hint(s);
        assert_eq!(
            h("toomanyrequests: retry-after: 10.3ms, allowed: 2000/minute"),
            Some(Duration::from_secs_f64(0.0103))
        );
        assert_eq!(h("retry-after: 2s"), Some(Duration::from_secs(2)));
        assert_eq!(h("Retry-After: 1m"), Some(Duration::from_secs(60)));
        assert_eq!(h("retry-after: 3"), Some(Duration::from_secs(3)));
        assert_eq!(h("toomanyrequests"), None);
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let p = RetryPolicy::default();
        for n in 0..8 {
            let full = p.base.saturating_mul(1 << n).min(p.cap);
            let d = backoff(&p, n);
            assert!(d >= full / 2 && d <= full, "{n}: {d:?} vs {full:?}");
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            ..Default::default()
        }
    }

    #[test]
    fn transient_errors_are_retried_and_permanent_ones_are_not() {
        let calls = AtomicUsize::new(0);
        let gate = Gate::new(1);
        let r = run(&fast(), &Cancel::default(), &gate, &crate::events::Silent, (None, "x"), |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 { Err(Error::new(ErrorKind::Network, "reset").transient(true)) } else { Ok(n) }
        });
        assert_eq!((r.unwrap(), calls.load(Ordering::SeqCst)), (2, 3));

        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> =
            run(&fast(), &Cancel::default(), &gate, &crate::events::Silent, (None, "x"), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::new(ErrorKind::NotFound, "404"))
            });
        assert_eq!((r.unwrap_err().kind(), calls.load(Ordering::SeqCst)), (ErrorKind::NotFound, 1));

        let r: Result<(), _> =
            run(&fast(), &Cancel::default(), &gate, &crate::events::Silent, (None, "x"), |_| {
                Err(Error::new(ErrorKind::Network, "503 Service Unavailable").transient(true))
            });
        let e = r.unwrap_err();
        assert_eq!(e.to_string(), "gave up after 4 attempts: 503 Service Unavailable");
    }

    #[test]
    fn cancel_stops_a_backoff_sleep() {
        let cancel = Cancel::default();
        cancel.cancel();
        let slow = RetryPolicy { base: Duration::from_secs(60), ..fast() };
        let started = Instant::now();
        let r: Result<(), _> =
            run(&slow, &cancel, &Gate::new(1), &crate::events::Silent, (None, "x"), |_| Ok(()));
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Interrupted);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn an_attempt_that_fails_after_a_cancel_is_interrupted_not_retried() {
        let cancel = Cancel::default();
        let calls = AtomicUsize::new(0);
        let r: Result<(), _> =
            run(&fast(), &cancel, &Gate::new(1), &crate::events::Silent, (None, "x"), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                cancel.cancel(); // as the signal does mid-read
                Err(Error::new(ErrorKind::Network, "connection closed").transient(true))
            });
        assert_eq!(
            (r.unwrap_err().kind(), calls.load(Ordering::SeqCst)),
            (ErrorKind::Interrupted, 1)
        );
    }
}
