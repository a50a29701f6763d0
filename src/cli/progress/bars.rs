//! Bars at a terminal: one per live transfer, and a total when there is more than one file.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_dl::{Event, FileStatus};

use super::{Table, Transfer, View, escape, lock, resuming};

const LAYER_TEMPLATE: &str =
    "{msg:32!} [{bar:24}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta}";
const TOTAL_TEMPLATE: &str =
    "{msg:32!} [{bar:24}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta}";
const UNSIZED_TEMPLATE: &str = "{spinner} {msg:32!} {bytes:>10} {binary_bytes_per_sec:>12}";

fn style(template: &str, chars: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars(chars)
}

/// The files of the plan and how far they got, for the total bar.
#[derive(Default)]
struct Totals {
    bar: Option<ProgressBar>,
    files: usize,
    done: usize,
    done_bytes: u64,
}

pub struct Bars {
    mp: MultiProgress,
    totals: Mutex<Totals>,
}

impl Bars {
    pub fn new(target: ProgressDrawTarget) -> Bars {
        Bars { mp: MultiProgress::with_draw_target(target), totals: Mutex::default() }
    }
}

impl View for Bars {
    type Slot = ProgressBar;
    const PERIOD: Option<Duration> = Some(Duration::from_millis(66));

    fn say(&self, line: &str) {
        let _ = self.mp.println(escape(line));
    }

    fn log(&self, line: &str) {
        self.say(line);
    }

    fn start(&self, _index: usize, name: &str, size: Option<u64>) -> ProgressBar {
        let bar = match size {
            Some(s) => ProgressBar::new(s).with_style(style(LAYER_TEMPLATE, "=> ")),
            None => ProgressBar::no_length().with_style(style(UNSIZED_TEMPLATE, "=> ")),
        };
        let bar = match &lock(&self.totals).bar {
            Some(t) => self.mp.insert_before(t, bar),
            None => self.mp.add(bar),
        };
        bar.set_message(escape(name).into_owned());
        bar
    }

    fn close(&self, bar: ProgressBar) {
        bar.finish_and_clear();
        self.mp.remove(&bar);
    }

    fn show(&self, event: &Event<'_>, live: Option<&Transfer<ProgressBar>>) {
        match event {
            Event::Planned { files, bytes } => {
                let mut totals = lock(&self.totals);
                totals.files = *files;
                if *files > 1 {
                    let t = self.mp.add(ProgressBar::new(*bytes));
                    t.set_style(style(TOTAL_TEMPLATE, "## "));
                    t.set_message(format!("0/{files} files"));
                    totals.bar = Some(t);
                }
            }
            Event::Resumed { name, offset, .. } => match live {
                Some(t) => {
                    let message = format!("{name} (resumed at {})", HumanBytes(*offset));
                    t.slot.set_message(escape(&message).into_owned());
                    t.slot.set_position(*offset);
                    t.slot.reset_eta();
                }
                None => self.say(&resuming(name, *offset)),
            },
            Event::Retry { attempt, of, .. } => {
                if let Some(t) = live {
                    let message = format!("{} (retry {attempt}/{of})", t.name);
                    t.slot.set_message(escape(&message).into_owned());
                }
            }
            Event::Finished { size, status, .. } => {
                let mut totals = lock(&self.totals);
                totals.done += 1;
                match status {
                    FileStatus::Downloaded | FileStatus::Resumed | FileStatus::Cached => {
                        totals.done_bytes += size
                    }
                    _ => {
                        if let Some(t) = &totals.bar {
                            t.set_length(t.length().unwrap_or(0).saturating_sub(*size));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn tick(&self, table: &mut Table<ProgressBar>, _now: Instant) {
        let mut live_bytes = 0;
        for t in table.values() {
            let n = t.progress.get();
            live_bytes += n;
            t.slot.set_position(n);
        }
        let totals = lock(&self.totals);
        if let Some(t) = &totals.bar {
            t.set_position(totals.done_bytes + live_bytes);
            t.set_message(format!("{}/{} files", totals.done, totals.files));
        }
    }

    fn finish(&self, table: &Table<ProgressBar>) {
        for t in table.values() {
            t.slot.finish_and_clear();
        }
        if let Some(t) = &lock(&self.totals).bar {
            t.finish_and_clear();
        }
    }

    fn suspend(&self, prompt: &mut dyn FnMut() -> bool) -> bool {
        self.mp.suspend(prompt)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use oci_dl::{Algorithm, Digest, Observer};

    use super::super::tests::{bars, retry_tool_sig, started};
    use super::*;

    #[test]
    fn parallel_layers_get_bars_that_collapse_and_a_total() {
        let (v, term) = bars(12, 120);
        v.event(&Event::Planned { files: 2, bytes: 3000 });
        let a = started(&v, 0, "alpha.bin", 1000);
        let b = started(&v, 1, "beta.bin", 2000);
        a.add_for_test(500);
        b.add_for_test(1000);
        v.tick(Instant::now());
        let screen = term.contents();
        assert!(screen.contains("alpha.bin") && screen.contains("beta.bin"), "{screen}");
        assert!(screen.contains("0/2 files"), "{screen}");
        assert!(
            screen.contains("1500 B/3000 B") || screen.contains("1.46 KiB/2.93 KiB"),
            "total counts both: {screen}"
        );

        let d = Digest::of(Algorithm::Sha256, b"a");
        v.event(&Event::Finished {
            index: 0,
            name: "alpha.bin",
            path: Path::new("alpha.bin"),
            digest: &d,
            size: 1000,
            status: FileStatus::Downloaded,
        });
        v.tick(Instant::now());
        let screen = term.contents();
        assert!(screen.contains(&format!("✓ alpha.bin  1000 B  {}", d.short())), "{screen}");
        assert_eq!(
            screen.matches("alpha.bin").count(),
            1,
            "the bar collapsed into one line: {screen}"
        );
        assert!(screen.contains("1/2 files"), "{screen}");
    }

    #[test]
    fn resumes_and_retries_show_on_the_bar() {
        let (v, term) = bars(8, 120);
        let p = started(&v, 0, "big.iso", 10 << 20);
        v.event(&Event::Resumed { index: 0, name: "big.iso", offset: 4 << 20 });
        p.add_for_test(4 << 20);
        v.tick(Instant::now());
        assert!(term.contents().contains("big.iso (resumed at 4.00 MiB)"), "{}", term.contents());
        let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, "reset");
        v.event(&Event::Retry {
            index: Some(0),
            what: "big.iso (sha256:abc)",
            attempt: 2,
            of: 5,
            delay: Duration::from_millis(500),
            error: &err,
        });
        v.tick(Instant::now());
        assert!(term.contents().contains("big.iso (retry 2/5)"), "{}", term.contents());
    }

    #[test]
    fn a_retry_goes_to_its_own_bar_not_to_one_whose_name_is_a_prefix() {
        let (v, term) = bars(8, 120);
        retry_tool_sig(&v);
        v.tick(Instant::now());
        let screen = term.contents();
        assert!(screen.contains("tool.sig (retry 1/5)"), "{screen}");
        assert!(!screen.contains("tool (retry"), "tool took tool.sig's retry: {screen}");
    }
}
