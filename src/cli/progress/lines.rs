//! Plain lines where stderr is not a terminal (logs, CI): a start and a finish line per file,
//! a progress line per file at most every 10 s. And `-q`, which shows only diagnostics.

use std::time::{Duration, Instant};

use indicatif::HumanBytes;
use oci_dl::Event;

use super::{Out, Table, Transfer, View, resuming};

/// A progress line per file at most this often.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Lines {
    out: Out,
    /// `-v`: the debug line already tells of each retry.
    verbose: bool,
}

impl Lines {
    pub fn new(out: Out, verbose: bool) -> Lines {
        Lines { out, verbose }
    }
}

impl View for Lines {
    /// When the transfer's last progress line was written.
    type Slot = Instant;
    const PERIOD: Option<Duration> = Some(Duration::from_secs(1));

    fn say(&self, line: &str) {
        self.out.text(line);
    }

    fn log(&self, line: &str) {
        self.out.text(line);
    }

    fn start(&self, _index: usize, _name: &str, _size: Option<u64>) -> Instant {
        Instant::now()
    }

    fn show(&self, event: &Event<'_>, _live: Option<&Transfer<Instant>>) {
        match event {
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

    fn tick(&self, table: &mut Table<Instant>, now: Instant) {
        for t in table.values_mut() {
            if now.duration_since(t.slot) < LINE_EVERY {
                continue;
            }
            t.slot = now;
            let n = t.progress.get();
            let of = t
                .size
                .map(|s| format!(" of {} ({}%)", HumanBytes(s), n * 100 / s.max(1)))
                .unwrap_or_default();
            self.say(&format!("… {} {}{of}", t.name, HumanBytes(n)));
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

    fn show(&self, _event: &Event<'_>, _live: Option<&Transfer<()>>) {}

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
        let v = Tracker::new(Lines::new(buf.out(), false), 0);
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
        p.add_for_test(25 << 20);
        v.tick(t0 + Duration::from_secs(22));
        assert!(
            buf.text().ends_with("… big.iso 75.00 MiB of 100.00 MiB (75%)\n"),
            "{}",
            buf.text()
        );
        assert!(!buf.text().contains('\x1b'), "no ANSI codes");
    }
}
