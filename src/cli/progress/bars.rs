//! Bars at a terminal: one per live transfer, and a total when there is more than one file.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_dl::{Event, FileStatus};

use super::{Row, Table, View, escape, lock, resuming};

/// Columns a bar line keeps after its name, and the rest of its template, by terminal width:
/// every part fixed-width, so that the name gets exactly what is left.
const WIDE: (usize, &str) =
    (74, " [{bar:24}] {bytes:>11}/{total_bytes:<11} {binary_bytes_per_sec:>13} ETA {eta:>4}");
const MEDIUM: (usize, &str) = (44, " [{bar:10}] {bytes:>11} {binary_bytes_per_sec:>13} {eta:>4}");
const NARROW: (usize, &str) = (10, " {percent:>3}% {eta:>4}");
const UNSIZED: (usize, &str) = (26, " {bytes:>11} {binary_bytes_per_sec:>13}");

/// The width a name gets on a bar at `cols` columns, and the bar's template (`{msg}` is the name,
/// fitted beforehand). The last column stays empty: some terminals wrap when it is written.
fn layout(cols: usize, sized: bool) -> (usize, String) {
    let room = cols.saturating_sub(1);
    let (rest, tail) = match (sized, room) {
        (false, _) => (UNSIZED.0 + 2, format!("{{spinner}} {{msg}}{}", UNSIZED.1)),
        (true, r) if r >= 100 => (WIDE.0, format!("{{msg}}{}", WIDE.1)),
        (true, r) if r >= 60 => (MEDIUM.0, format!("{{msg}}{}", MEDIUM.1)),
        (true, _) => (NARROW.0, format!("{{msg}}{}", NARROW.1)),
    };
    (room.saturating_sub(rest).clamp(4, 48), tail)
}

/// `name` in at most `width` columns: cut in the middle, keeping its start and its extension
/// (`.tar.gz` too).
pub fn fit(name: &str, width: usize) -> String {
    if console::measure_text_width(name) <= width {
        return name.to_owned();
    }
    // The last suffix, or the last two (`.tar.gz`) when they are short.
    let dots: Vec<usize> = name.match_indices('.').map(|(i, _)| i).filter(|&i| i > 0).collect();
    let short = |e: &&str| {
        let w = console::measure_text_width(e);
        w <= 10 && w < width / 2
    };
    let ext = dots
        .iter()
        .rev()
        .take(2)
        .map(|&i| &name[i..])
        .filter(short)
        .max_by_key(|e| e.len())
        .unwrap_or("");
    let room = width.saturating_sub(1 + console::measure_text_width(ext));
    let mut head = String::new();
    for c in name.chars() {
        let mut next = head.clone();
        next.push(c);
        if console::measure_text_width(&next) > room {
            break;
        }
        head = next;
    }
    format!("{head}…{ext}")
}

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
    /// The terminal's columns, when the run started.
    cols: usize,
}

impl Bars {
    /// Bars drawn to `target`, a terminal `cols` wide: no line they draw is wider.
    pub fn new(target: ProgressDrawTarget, cols: u16) -> Bars {
        let cols = usize::from(cols);
        Bars { mp: MultiProgress::with_draw_target(target), totals: Mutex::default(), cols }
    }

    /// A bar's message: the name fitted to the room the layout leaves, then `suffix`, padded so
    /// that the bars line up.
    fn label(&self, name: &str, suffix: &str, sized: bool) -> String {
        let (width, _) = layout(self.cols, sized);
        let name = fit(&escape(name), width.saturating_sub(console::measure_text_width(suffix)));
        let text = format!("{name}{}", escape(suffix));
        console::pad_str(&text, width, console::Alignment::Left, Some("…")).into_owned()
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

    fn fit_name(&self, name: &str, others: usize) -> String {
        fit(&escape(name), self.cols.saturating_sub(1 + others).max(4))
    }

    fn start(&self, _index: usize, name: &str, size: Option<u64>) -> ProgressBar {
        let (_, template) = layout(self.cols, size.is_some());
        let bar = match size {
            Some(s) => ProgressBar::new(s).with_style(style(&template, "=> ")),
            None => ProgressBar::no_length().with_style(style(&template, "=> ")),
        };
        let bar = match &lock(&self.totals).bar {
            Some(t) => self.mp.insert_before(t, bar),
            None => self.mp.add(bar),
        };
        bar.set_message(self.label(name, "", size.is_some()));
        bar
    }

    fn close(&self, bar: ProgressBar) {
        bar.finish_and_clear();
        self.mp.remove(&bar);
    }

    fn show(&self, event: &Event<'_>, live: Option<&Row<ProgressBar>>) {
        match event {
            Event::Planned { files, bytes } => {
                let mut totals = lock(&self.totals);
                totals.files = *files;
                if *files > 1 {
                    let t = self.mp.add(ProgressBar::new(*bytes));
                    t.set_style(style(&layout(self.cols, true).1, "## "));
                    t.set_message(self.label(&format!("0/{files} files"), "", true));
                    totals.bar = Some(t);
                }
            }
            Event::Resumed { name, offset, .. } => match live {
                Some(t) => {
                    let suffix = format!(" (resumed at {})", HumanBytes(*offset));
                    t.slot.set_message(self.label(name, &suffix, t.size.is_some()));
                    t.slot.set_position(*offset);
                    t.slot.reset_eta();
                }
                None => self.say(&resuming(name, *offset)),
            },
            Event::Retry { attempt, of, .. } => {
                if let Some(t) = live {
                    let suffix = format!(" (retry {attempt}/{of})");
                    t.slot.set_message(self.label(&t.name, &suffix, t.size.is_some()));
                }
            }
            Event::Finished { size, status, .. } => {
                let mut totals = lock(&self.totals);
                totals.done += 1;
                match status {
                    FileStatus::Downloaded | FileStatus::Resumed | FileStatus::Cached => {
                        totals.done_bytes = totals.done_bytes.saturating_add(*size)
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
            live_bytes = n.saturating_add(live_bytes);
            t.slot.set_position(n);
        }
        let totals = lock(&self.totals);
        if let Some(t) = &totals.bar {
            t.set_position(totals.done_bytes.saturating_add(live_bytes));
            t.set_message(self.label(&format!("{}/{} files", totals.done, totals.files), "", true));
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

    use oci_dl::{Algorithm, Digest, Observer, Progress};

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
    fn a_name_cut_to_fit_keeps_its_start_and_extension() {
        let cases = [
            ("short.bin", 20, "short.bin"),
            ("release-linux-x86_64.tar.gz", 16, "release-….tar.gz"),
            ("tool_1.2.0_linux_amd64.zip", 14, "tool_1.2.….zip"),
            ("noextensionatallreallylong", 10, "noextensi…"),
            ("日本語のファイル名です.txt", 12, "日本語….txt"),
        ];
        for (name, width, want) in cases {
            let got = fit(name, width);
            assert!(console::measure_text_width(&got) <= width, "{got:?} wider than {width}");
            assert_eq!(got, want, "{name} in {width}");
        }
    }

    /// Every line drawn fits the terminal, at 40 columns too: bars, the total, a resumed and a
    /// retried bar, an unsized one and the finish line (the in-memory screen is wider, so that a
    /// line too long shows as one, not wrapped).
    #[test]
    fn no_line_is_wider_than_the_terminal() {
        for cols in [40u16, 80, 120] {
            let term = indicatif::InMemoryTerm::new(16, 300);
            let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
            let v = super::super::Tracker::new(Bars::new(target, cols), 0);
            let long = "a-release-archive-with-a-very-long-name_linux_amd64.tar.gz";
            v.event(&Event::Planned { files: 3, bytes: 3 << 30 });
            let a = started(&v, 0, long, 1 << 30);
            started(&v, 1, &format!("second-{long}"), 1 << 30);
            let p = Progress::default();
            v.event(&Event::Started { index: 2, name: long, size: None, progress: &p });
            v.event(&Event::Resumed { index: 0, name: long, offset: 1 << 20 });
            let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, "reset");
            let delay = Duration::from_millis(500);
            v.event(&Event::Retry {
                index: Some(1),
                what: long,
                attempt: 2,
                of: 5,
                delay,
                error: &err,
            });
            a.add_for_test(300 << 20);
            v.tick(Instant::now());
            let d = Digest::of(Algorithm::Sha256, b"a");
            let path = Path::new(long);
            v.event(&Event::Finished {
                index: 2,
                name: long,
                path,
                digest: &d,
                size: 5,
                status: FileStatus::Downloaded,
            });
            v.tick(Instant::now());
            let screen = term.contents();
            for line in screen.lines() {
                let w = console::measure_text_width(line.trim_end());
                assert!(w < usize::from(cols), "{w} columns at {cols}: {line:?}\n{screen}");
            }
            assert!(screen.contains("….tar.gz"), "cut in the middle: {screen}");
            assert!(
                screen.contains("(retry 2/5)") && screen.contains("(resumed at 1.00 MiB)"),
                "{screen}"
            );
            assert!(screen.contains("✓ a-r") && screen.contains(&d.short()), "{screen}");
        }
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
