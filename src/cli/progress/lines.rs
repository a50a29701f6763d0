//! Plain lines where stderr is not a terminal (logs, CI): a start and a finish line per file,
//! a progress line per file at most every 10 s with its speed and time left. Under a CI
//! ([`Ci`]) the per-file lines go in a collapsible group and warnings become annotations.
//! And `-q`, which shows only diagnostics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::HumanBytes;
use oci_dl::Event;

use super::super::ci::Ci;
use super::{Out, Row, Table, View, resuming};

/// A progress line per file at most this often.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Lines {
    out: Out,
    /// `-v`: the debug line already tells of each retry.
    verbose: bool,
    ci: Ci,
    /// A CI group is open (the plan opened it; finish closes it).
    grouped: AtomicBool,
}

impl Lines {
    pub fn new(out: Out, verbose: bool, ci: Ci) -> Lines {
        Lines { out, verbose, ci, grouped: AtomicBool::new(false) }
    }
}

/// One transfer's times: when it started (for its average speed) and its last line.
pub struct Times {
    started: Instant,
    last_line: Instant,
}

impl View for Lines {
    type Slot = Times;
    const PERIOD: Option<Duration> = Some(Duration::from_secs(1));

    fn say(&self, line: &str) {
        self.out.text(line);
    }

    fn log(&self, line: &str) {
        self.out.text(line);
    }

    fn warn(&self, message: &str) {
        match self.ci.annotation("warning", message) {
            Some(line) => self.out.raw(&line),
            None => self.log(&format!("warning: {message}")),
        }
    }

    fn start(&self, _index: usize, _name: &str, _size: Option<u64>) -> Times {
        let now = Instant::now();
        Times { started: now, last_line: now }
    }

    fn show(&self, event: &Event<'_>, _live: Option<&Row<Times>>) {
        match event {
            Event::Planned { files, bytes } => {
                let title = format!("pulling {files} file(s), {}", HumanBytes(*bytes));
                if let Some(line) = self.ci.group_start(&title)
                    && !self.grouped.swap(true, Ordering::Relaxed)
                {
                    self.out.raw(&line);
                }
            }
            Event::Started { name, size, .. } => {
                let size = size.map(|s| format!(" ({})", HumanBytes(s))).unwrap_or_default();
                self.say(&format!("pulling {name}{size}"));
            }
            Event::Resumed { name, offset, .. } => self.say(&resuming(name, *offset)),
            Event::Retry { what, attempt, of, delay, error, .. } if !self.verbose => {
                let reason = crate::cli::hints::render(error);
                self.say(&format!("retrying {what} ({attempt}/{of}) in {delay:.1?}: {reason}"));
            }
            _ => {}
        }
    }

    fn tick(&self, table: &mut Table<Times>, now: Instant) {
        for t in table.values_mut() {
            if now.duration_since(t.slot.last_line) < LINE_EVERY {
                continue;
            }
            t.slot.last_line = now;
            let n = t.progress.get();
            // The average since the transfer started: steadier than the last 10 s in a log.
            let rate = n as f64 / now.duration_since(t.slot.started).as_secs_f64().max(0.001);
            let of = t
                .size
                .map(|s| format!(" of {} ({}%)", HumanBytes(s), n * 100 / s.max(1)))
                .unwrap_or_default();
            let left = match t.size {
                Some(s) if rate >= 1.0 => {
                    let secs = (s.saturating_sub(n) as f64 / rate).round() as u64;
                    format!(", {} left", indicatif::HumanDuration(Duration::from_secs(secs)))
                }
                _ => String::new(),
            };
            let speed = HumanBytes(rate as u64);
            self.say(&format!("… {} {}{of}, {speed}/s{left}", t.name, HumanBytes(n)));
        }
    }

    fn finish(&self, _table: &Table<Times>) {
        if self.grouped.swap(false, Ordering::Relaxed)
            && let Some(line) = self.ci.group_end()
        {
            self.out.raw(&line);
        }
    }
}

/// `-q`: errors (printed by main) and the diagnostics asked for with `-v` or `RUST_LOG`.
pub struct Quiet(pub Out);

impl View for Quiet {
    type Slot = ();
    const PERIOD: Option<Duration> = None;
    const QUIET: bool = true;

    fn say(&self, _line: &str) {}

    fn log(&self, line: &str) {
        self.0.text(line);
    }

    fn start(&self, _index: usize, _name: &str, _size: Option<u64>) {}

    fn show(&self, _event: &Event<'_>, _live: Option<&Row<()>>) {}

    fn tick(&self, _table: &mut Table<()>, _now: Instant) {}
}

#[cfg(test)]
mod tests {
    use super::super::Tracker;
    use super::super::tests::{Buf, started};
    use super::*;

    #[test]
    fn plain_lines_report_long_transfers_every_ten_seconds() {
        let buf = Buf::default();
        let v = Tracker::new(Lines::new(buf.out(), false, Ci::None), 0);
        let t0 = Instant::now();
        let p = started(&v, 0, "big.iso", 100 << 20);
        p.add_for_test(50 << 20);
        v.tick(t0 + Duration::from_secs(5));
        assert_eq!(buf.text(), "pulling big.iso (100.00 MiB)\n", "nothing before 10 s");
        v.tick(t0 + Duration::from_secs(11));
        v.tick(t0 + Duration::from_secs(12));
        assert_eq!(
            buf.text().matches("… big.iso 50.00 MiB of 100.00 MiB (50%)").count(),
            1,
            "{}",
            buf.text()
        );
        let line = buf.text().lines().last().unwrap().to_owned();
        // 50 MiB in about 11 s: about 4.5 MiB/s, and 50 MiB more takes about as long.
        assert!(
            line.contains(" MiB/s, ") && line.ends_with(" left"),
            "speed and time left: {line}"
        );
        p.add_for_test(25 << 20);
        v.tick(t0 + Duration::from_secs(22));
        assert!(
            buf.text()
                .lines()
                .last()
                .unwrap()
                .starts_with("… big.iso 75.00 MiB of 100.00 MiB (75%), "),
            "{}",
            buf.text()
        );
        assert!(!buf.text().contains('\x1b'), "no ANSI codes");
    }
}
