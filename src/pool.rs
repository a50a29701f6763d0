//! The run's one work pool: it runs the layers (or a layout's blobs) and, inside a layer, a big
//! blob's ranges. Go's `errgroup` with a limit is the model (as in go-containerregistry and
//! oras-go): a group of jobs runs on the calling thread plus as many helper threads as the pool
//! has spare permits; results come back in job order; in a group run with [`Pool::try_run`] the
//! first error stops the jobs not yet started and tells the running ones ([`Stop`]). A job that
//! panics stops its group the same way (in `run` too), and the panic reaches the caller.
//!
//! The pool holds `--jobs - 1` permits: the thread that calls `run` is always a worker of its
//! own group, and a helper holds a permit while it lives. A job that opens a group of its own (a
//! blob that goes ranged) therefore helps run it instead of waiting for it, and recruits only
//! permits that are spare at that moment — or later, each time one of its jobs finishes and a
//! permit was given back meanwhile. Nothing ever waits for a permit, so no nesting can
//! deadlock, and the threads working are at most `--jobs` (connections are counted apart, by
//! the gate every request passes). `workers == 1` is the same path with no helper, so there is
//! one download loop, not a sequential and a parallel copy that drift apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::Scope;

/// The run's worker permits, and how busy its cores are.
#[derive(Debug)]
pub(crate) struct Pool {
    spare: Mutex<usize>,
    /// Body streams being copied right now (see [`Pool::stream`]).
    streams: std::sync::atomic::AtomicUsize,
    cores: usize,
}

/// A body stream's place in [`Pool::stream`]'s count, given back on drop.
pub(crate) struct Streaming<'a> {
    pool: &'a Pool,
}

impl Streaming<'_> {
    /// Whether the cores are spare enough for this stream to hash on a thread of its own: the
    /// streams in flight, this one included, are fewer than the cores. Asked again as the
    /// stream goes, since other streams start and end.
    pub fn spare_core(&self) -> bool {
        self.pool.streams.load(Ordering::Relaxed) < self.pool.cores
    }
}

impl Drop for Streaming<'_> {
    fn drop(&mut self) {
        self.pool.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Tells a group's running jobs that another one failed, so they may stop early.
#[derive(Debug, Default)]
pub(crate) struct Stop(AtomicBool);

impl Stop {
    /// Whether a job of the group failed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One group's queue, results, and first error.
struct Group<J, R, E> {
    queue: Mutex<std::iter::Enumerate<std::vec::IntoIter<J>>>,
    /// Jobs no worker took yet.
    left: std::sync::atomic::AtomicUsize,
    /// Threads working on the group, the caller included.
    workers: std::sync::atomic::AtomicUsize,
    results: Mutex<Vec<Option<R>>>,
    error: Mutex<Option<E>>,
    stop: Stop,
}

impl Pool {
    /// A pool for `workers` threads at once: the caller and `workers - 1` helpers.
    pub fn new(workers: usize) -> Pool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pool { spare: Mutex::new(workers.max(1) - 1), streams: Default::default(), cores }
    }

    /// [`Pool::new`] on a machine of `cores` cores (tests drive [`Streaming::spare_core`]).
    #[cfg(test)]
    pub fn with_cores(workers: usize, cores: usize) -> Pool {
        Pool { cores, ..Pool::new(workers) }
    }

    /// Count a body stream in for as long as the guard lives (see [`Streaming::spare_core`]).
    /// Beyond one stream a core, a hashing thread per stream only adds switches and a second
    /// trip to memory on cores that are all busy anyway.
    pub fn stream(&self) -> Streaming<'_> {
        self.streams.fetch_add(1, Ordering::SeqCst);
        Streaming { pool: self }
    }

    /// Run `work` over every job; every job runs, whatever the others return. Results come
    /// back in job order.
    pub fn run<J: Send, R: Send>(
        &self,
        jobs: Vec<J>,
        work: impl Fn(usize, J) -> R + Sync,
    ) -> Vec<R> {
        let all =
            self.try_run(jobs, |i, j, _: &Stop| Ok::<R, std::convert::Infallible>(work(i, j)));
        match all {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Run `work` over every job until one fails: its error is returned, the jobs not yet
    /// started never start, and the running ones see [`Stop::is_set`].
    pub fn try_run<J: Send, R: Send, E: Send>(
        &self,
        jobs: Vec<J>,
        work: impl Fn(usize, J, &Stop) -> Result<R, E> + Sync,
    ) -> Result<Vec<R>, E> {
        let n = jobs.len();
        let group = Group {
            queue: Mutex::new(jobs.into_iter().enumerate()),
            left: std::sync::atomic::AtomicUsize::new(n),
            workers: std::sync::atomic::AtomicUsize::new(1),
            results: Mutex::new((0..n).map(|_| None).collect()),
            error: Mutex::new(None),
            stop: Stop::default(),
        };
        std::thread::scope(|s| {
            self.recruit(s, &group, &work);
            self.work_on(s, &group, &work);
        });
        if let Some(e) = lock(&group.error).take() {
            return Err(e);
        }
        let results = group.results.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok(results.into_iter().map(|r| r.expect("every job ran")).collect())
    }

    /// Take jobs of `group` until none is left or one failed, recruiting spare permits
    /// between them.
    fn work_on<'s, J: Send, R: Send, E: Send, W>(
        &'s self,
        s: &'s Scope<'s, '_>,
        group: &'s Group<J, R, E>,
        work: &'s W,
    ) where
        W: Fn(usize, J, &Stop) -> Result<R, E> + Sync,
    {
        let _panic = StopOnPanic(&group.stop);
        while !group.stop.is_set() {
            let Some((i, job)) = lock(&group.queue).next() else { return };
            group.left.fetch_sub(1, Ordering::SeqCst);
            match work(i, job, &group.stop) {
                Ok(r) => lock(&group.results)[i] = Some(r),
                Err(e) => {
                    lock(&group.error).get_or_insert(e);
                    group.stop.0.store(true, Ordering::SeqCst);
                    return;
                }
            }
            self.recruit(s, group, work);
        }
    }

    /// Start a helper for `group` on each spare permit while it has jobs no worker took yet.
    fn recruit<'s, J: Send, R: Send, E: Send, W>(
        &'s self,
        s: &'s Scope<'s, '_>,
        group: &'s Group<J, R, E>,
        work: &'s W,
    ) where
        W: Fn(usize, J, &Stop) -> Result<R, E> + Sync,
    {
        // Each worker takes the next job; helpers are for the jobs beyond them.
        while group.left.load(Ordering::SeqCst) > group.workers.load(Ordering::SeqCst)
            && !group.stop.is_set()
        {
            {
                let mut spare = lock(&self.spare);
                if *spare == 0 {
                    return;
                }
                *spare -= 1;
            }
            let permit = Permit(self);
            group.workers.fetch_add(1, Ordering::SeqCst);
            s.spawn(move || {
                let _permit = permit;
                self.work_on(s, group, work);
                group.workers.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// Stops the group when its worker unwinds from a panicking job, as an error does: the
/// panic then reaches the caller once the running jobs end, not after every job ran.
struct StopOnPanic<'a>(&'a Stop);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.0.store(true, Ordering::SeqCst);
        }
    }
}

/// A helper's permit, given back when it ends (a panic included).
struct Permit<'a>(&'a Pool);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *lock(&self.0.spare) += 1;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::{Pool, Stop};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// A stream hashes apart only while it and the others are fewer than the cores, asked
    /// again as streams start and end (the pipeline switches at its next chunk).
    #[test]
    fn a_core_is_spare_while_streams_are_fewer_than_cores() {
        let pool = Pool { cores: 2, ..Pool::new(4) };
        let first = pool.stream();
        assert!(first.spare_core(), "alone on two cores");
        let second = pool.stream();
        assert!(!first.spare_core() && !second.spare_core(), "one stream a core");
        drop(second);
        assert!(first.spare_core(), "the other ended: the core is spare again");
    }

    #[test]
    fn results_keep_job_order_and_concurrency_is_bounded() {
        let live = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = Pool::new(3).run((0..12).collect(), |i, j: u64| {
            let now = live.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10 * (j % 3)));
            live.fetch_sub(1, Ordering::SeqCst);
            (i, j * 2)
        });
        assert_eq!(out, (0..12).map(|j| (j as usize, j * 2)).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 2, "workers ran in parallel");
    }

    #[test]
    fn a_slow_job_does_not_block_the_queue() {
        // One 200 ms job and twenty quick ones on two workers: the quick ones all finish on the
        // other worker while the slow one runs, instead of waiting behind it in a static chunk.
        let started = Instant::now();
        let done_at = Mutex::new(Vec::new());
        Pool::new(2).run((0..21).collect(), |_, j: u32| {
            std::thread::sleep(Duration::from_millis(if j == 0 { 200 } else { 5 }));
            done_at.lock().unwrap().push((j, started.elapsed()));
        });
        let v = done_at.into_inner().unwrap();
        let slow = v.iter().find(|(j, _)| *j == 0).unwrap().1;
        let quick_max = v.iter().filter(|(j, _)| *j != 0).map(|x| x.1).max().unwrap();
        assert!(quick_max < slow, "quick jobs finished by {quick_max:?}, slow one at {slow:?}");
    }

    #[test]
    fn empty_and_single() {
        assert!(Pool::new(4).run(Vec::<u8>::new(), |_, j| j).is_empty());
        assert_eq!(Pool::new(8).run(vec![7], |_, j| j + 1), vec![8]);
    }

    /// Layers whose ranges form groups of their own, on one worker: each layer's thread runs
    /// its own ranges (nothing waits for a permit), so it finishes instead of deadlocking.
    #[test]
    fn nested_groups_run_on_one_worker_without_deadlock() {
        let pool = Pool::new(1);
        let threads = Mutex::new(std::collections::HashSet::new());
        let sums = pool.run((0..3).collect(), |_, layer: u64| {
            let parts = pool
                .try_run((0..4).collect(), |_, r: u64, _: &Stop| {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    Ok::<_, ()>(layer * 10 + r)
                })
                .unwrap();
            parts.iter().sum::<u64>()
        });
        assert_eq!(sums, vec![6, 46, 86]);
        assert_eq!(threads.into_inner().unwrap().len(), 1, "one worker, no helper");
    }

    /// With four workers and one layer, the layer's ranges get the three spare permits; with
    /// the layers busy, a group nested in them gets none and runs on its caller.
    #[test]
    fn nested_groups_take_only_spare_permits() {
        let pool = Pool::new(4);
        let live = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let run_ranges = |n: u64| {
            pool.try_run((0..n).collect(), |_, _: u64, _: &Stop| {
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                live.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
        };
        pool.run(vec![()], |_, ()| run_ranges(8).unwrap());
        assert_eq!(peak.swap(0, Ordering::SeqCst), 4, "one layer's ranges used every worker");
        pool.run(vec![(); 4], |_, ()| run_ranges(3).unwrap());
        assert!(peak.load(Ordering::SeqCst) <= 4, "never more than --jobs threads at work");
    }

    /// A panicking job (a bug) stops its group like an error: the panic reaches the caller
    /// once the running jobs end, not after every other job of the group ran.
    #[test]
    fn a_panic_stops_the_group_and_reaches_the_caller() {
        for panicking in [0, 1] {
            let pool = Pool::new(2);
            let started = AtomicUsize::new(0);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.run((0..200).collect(), |_, j: u32| {
                    started.fetch_add(1, Ordering::SeqCst);
                    if j == panicking {
                        panic!("job {j} has a bug");
                    }
                    std::thread::sleep(Duration::from_millis(10));
                })
            }));
            assert!(r.is_err(), "the panic reached the caller");
            let n = started.load(Ordering::SeqCst);
            assert!(n < 20, "{n} jobs started after job {panicking} panicked");
            assert_eq!(*pool.spare.lock().unwrap(), 1, "the helper's permit came back");
        }
    }

    #[test]
    fn the_first_error_stops_the_group() {
        let pool = Pool::new(2);
        let started = AtomicUsize::new(0);
        let r = pool.try_run((0..50).collect(), |_, j: u32, stop: &Stop| {
            started.fetch_add(1, Ordering::SeqCst);
            if j == 3 {
                return Err(format!("job {j} failed"));
            }
            // A running job sees the stop and ends early.
            let until = Instant::now() + Duration::from_millis(50);
            while !stop.is_set() && Instant::now() < until {
                std::thread::yield_now();
            }
            Ok(j)
        });
        assert_eq!(r.unwrap_err(), "job 3 failed");
        assert!(started.load(Ordering::SeqCst) < 10, "{} started", started.load(Ordering::SeqCst));
    }
}
