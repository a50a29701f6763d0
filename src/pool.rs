//! N workers over one shared queue. `workers == 1` is the same path with one worker, so there is
//! one download loop, not a sequential and a parallel copy that drift apart.

use std::sync::Mutex;

/// Run `work` over every job with at most `workers` threads taking jobs from one queue, so a
/// slow job never leaves a worker idle while others wait. Results come back in job order.
pub fn run<J: Send, R: Send>(
    jobs: Vec<J>,
    workers: usize,
    work: impl Fn(usize, J) -> R + Sync,
) -> Vec<R> {
    let n = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let workers = workers.clamp(1, n.max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, job)) = next else { break };
                    let r = work(i, job);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_keep_job_order_and_concurrency_is_bounded() {
        let live = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = run((0..12).collect(), 3, |i, j: u64| {
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
        let started = std::time::Instant::now();
        let done_at = Mutex::new(Vec::new());
        run((0..21).collect(), 2, |_, j: u32| {
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
        assert!(run(Vec::<u8>::new(), 4, |_, j| j).is_empty());
        assert_eq!(run(vec![7], 8, |_, j| j + 1), vec![8]);
    }
}
