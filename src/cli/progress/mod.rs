//! The progress view. At a terminal: indicatif bars ([`bars`]), one per active transfer plus a
//! total, redrawn at most 15 times a second from the engine's atomic counters (no lock or
//! callback per read). Elsewhere: plain lines ([`lines`]), JSON lines for wrappers ([`json`]),
//! or nothing with `-q`. Everything goes to stderr.
//!
//! [`Tracker`] is the one [`Observer`]: it keeps the table of live transfers (by the index
//! events carry, never by name), filters diagnostics by verbosity, runs the ticker and says the
//! lines every text view shows; a [`View`] only decides how things look.

mod bars;
mod json;
mod lines;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{HumanBytes, ProgressDrawTarget};
use oci_dl::{Event, FileStatus, Level, Observer, Progress};

use super::escape::escape;

/// `--progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// Bars at a terminal, plain lines elsewhere.
    Auto,
    /// Bars even when stderr is not a terminal.
    Always,
    /// Plain lines.
    Never,
    /// One JSON event per line on stderr.
    Json,
}

/// What a subcommand holds: the engine's observer, and the calls around a run.
pub trait Console: Observer {
    /// A line for the user (not data), shown in bars and lines modes.
    fn say(&self, line: &str);
    /// Stop the ticker and clear the bars, before the summary is printed.
    fn finish(&self);
    /// Time since the view was opened.
    fn elapsed(&self) -> Duration;
    /// Transfers stopped by SIGINT/SIGTERM after their first byte: each left its `.part` for
    /// the next run to resume.
    fn partials_kept(&self) -> usize;
}

/// The view for `--progress` and `-q`; the only place that chooses one.
pub fn open(arg: ProgressArg, quiet: bool, verbosity: u8) -> Arc<dyn Console> {
    let stderr = || Out::new(Box::new(std::io::stderr()));
    let bars = || {
        // A terminal that does not say its size is taken as the classic 80 columns.
        let cols = console::Term::stderr().size_checked().map_or(80, |(_, cols)| cols);
        Tracker::spawn(bars::Bars::new(ProgressDrawTarget::stderr_with_hz(15), cols), verbosity)
    };
    match (quiet, arg) {
        (true, _) => Tracker::spawn(lines::Quiet(stderr()), verbosity),
        (false, ProgressArg::Always) => bars(),
        (false, ProgressArg::Auto) if std::io::stderr().is_terminal() => bars(),
        (false, ProgressArg::Auto | ProgressArg::Never) => {
            let ci = super::ci::Ci::detect();
            Tracker::spawn(lines::Lines::new(stderr(), verbosity > 0, ci), verbosity)
        }
        (false, ProgressArg::Json) => Tracker::spawn(json::Json(stderr()), verbosity),
    }
}

/// How the views differ: what they keep per transfer, how often they poll, and how they show
/// lines and events. Called with the transfer table locked, so one event is shown at a time.
pub trait View: Send + Sync + 'static {
    /// What the view keeps per live transfer (a bar, the time of the last line).
    type Slot: Send;
    /// How often [`View::tick`] polls the counters; `None`: never.
    const PERIOD: Option<Duration>;
    /// `-q`: warnings and notes are not shown either.
    const QUIET: bool = false;

    /// A line for people: the finish lines, the summary.
    fn say(&self, line: &str);
    /// A diagnostic that passed the verbosity filter; every view shows these, as text.
    fn log(&self, line: &str);
    /// `name` for a line that has `others` columns besides it (bars cut it to the terminal).
    fn fit_name(&self, name: &str, _others: usize) -> String {
        name.to_owned()
    }
    /// A warning that passed the filter (a CI's lines make it an annotation).
    fn warn(&self, message: &str) {
        self.log(&format!("warning: {message}"));
    }
    /// A transfer starts: its slot.
    fn start(&self, index: usize, name: &str, size: Option<u64>) -> Self::Slot;
    /// A transfer left the table (finished or failed).
    fn close(&self, _slot: Self::Slot) {}
    /// Any event, after the table is updated. `live` is the transfer the event names, if it is
    /// still live (so never for `Finished` or `Failed`).
    fn show(&self, event: &Event<'_>, live: Option<&Row<Self::Slot>>);
    /// Poll the counters of the live transfers as at `now`.
    fn tick(&self, table: &mut Table<Self::Slot>, now: Instant);
    /// The run is over: clear what is drawn.
    fn finish(&self, _table: &Table<Self::Slot>) {}
    /// Run `prompt` with the display out of its way.
    fn suspend(&self, prompt: &mut dyn FnMut() -> bool) -> bool {
        prompt()
    }
}

/// One live transfer's row: what the view shows of it, and the view's own slot (a bar, times).
pub struct Row<S> {
    pub name: String,
    pub size: Option<u64>,
    pub progress: Progress,
    pub slot: S,
}

/// The live transfers by the index their events carry.
pub type Table<S> = BTreeMap<usize, Row<S>>;

/// The [`Observer`] the binary uses, drawing through `V`.
pub struct Tracker<V: View> {
    view: V,
    verbosity: u8,
    table: Mutex<Table<V::Slot>>,
    prompt: Mutex<()>,
    stop: AtomicBool,
    ticker: Mutex<Option<JoinHandle<()>>>,
    started: Instant,
    partials_kept: AtomicUsize,
}

impl<V: View> Tracker<V> {
    /// A tracker with no ticker thread; tests call [`Tracker::tick`].
    pub fn new(view: V, verbosity: u8) -> Tracker<V> {
        Tracker {
            view,
            verbosity,
            table: Mutex::default(),
            prompt: Mutex::new(()),
            stop: AtomicBool::new(false),
            ticker: Mutex::new(None),
            started: Instant::now(),
            partials_kept: AtomicUsize::new(0),
        }
    }

    /// A tracker whose ticker thread polls every [`View::PERIOD`] until [`Console::finish`].
    fn spawn(view: V, verbosity: u8) -> Arc<Tracker<V>> {
        let tracker = Arc::new(Tracker::new(view, verbosity));
        if let Some(period) = V::PERIOD {
            // Weak: a tracker dropped without finish() ends its ticker too.
            let weak = Arc::downgrade(&tracker);
            let handle = std::thread::spawn(move || {
                let mut next = Instant::now() + period;
                loop {
                    // park_timeout, not sleep: finish() unparks us, so a run never waits a period.
                    std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                    let Some(t) = weak.upgrade().filter(|t| !t.stop.load(Ordering::Relaxed)) else {
                        return;
                    };
                    if Instant::now() >= next {
                        t.tick(Instant::now());
                        next += period;
                    }
                }
            });
            *lock(&tracker.ticker) = Some(handle);
        }
        tracker
    }

    /// Poll the counters and redraw as at `now` (the ticker thread does this on its own).
    pub fn tick(&self, now: Instant) {
        self.view.tick(&mut self.table(), now);
    }

    fn table(&self) -> MutexGuard<'_, Table<V::Slot>> {
        lock(&self.table)
    }

    fn debug(&self, line: impl FnOnce() -> String) {
        if self.verbosity >= 1 {
            self.view.log(&format!("debug: {}", line()));
        }
    }

    /// The text every view shows for an event (diagnostics) or every text view (finish lines).
    fn text(&self, event: &Event<'_>) {
        match event {
            Event::Log { level, message } => {
                let show = match level {
                    Level::Warn | Level::Info => !V::QUIET,
                    Level::Debug => self.verbosity >= 1,
                    Level::Trace => self.verbosity >= 2,
                };
                let tag = match level {
                    Level::Warn => "warning: ",
                    Level::Debug | Level::Trace => "debug: ",
                    Level::Info => "",
                };
                if show && *level == Level::Warn {
                    self.view.warn(message);
                } else if show {
                    self.view.log(&format!("{tag}{message}"));
                }
            }
            Event::Resolved { digest, media_type, platform } => self.debug(|| {
                let plat = platform.map(|p| format!(" for {p}")).unwrap_or_default();
                format!("resolved {digest} ({media_type}){plat}")
            }),
            Event::Retry { what, attempt, of, delay, error, .. } => self.debug(|| {
                let reason = crate::cli::hints::render(error);
                format!("retry {attempt}/{of} of {what} in {delay:.1?}: {reason}")
            }),
            Event::Finished { name, digest, size, status, .. } => {
                let what = match status {
                    FileStatus::Downloaded | FileStatus::Resumed => "✓",
                    FileStatus::UpToDate => "= up to date",
                    FileStatus::Skipped => "- skipped (exists with other content)",
                    FileStatus::Planned => "·",
                    FileStatus::Extracted => "✓ extracted",
                    FileStatus::Cached => "✓ from cache",
                    _ => "✓",
                };
                let (head, rest) =
                    (format!("{what} "), format!("  {}  {}", HumanBytes(*size), digest.short()));
                let others =
                    console::measure_text_width(&head) + console::measure_text_width(&rest);
                self.view.say(&format!("{head}{}{rest}", self.view.fit_name(name, others)));
            }
            Event::Failed { name, error, .. } if self.verbosity >= 1 => {
                self.view.log(&format!("✗ {name}: {}", crate::cli::hints::render(error)));
            }
            _ => {}
        }
    }
}

/// The transfer an event names.
fn index_of(event: &Event<'_>) -> Option<usize> {
    match event {
        Event::Started { index, .. }
        | Event::Finished { index, .. }
        | Event::Resumed { index, .. }
        | Event::Failed { index, .. } => Some(*index),
        Event::Retry { index, .. } => *index,
        _ => None,
    }
}

impl<V: View> Observer for Tracker<V> {
    fn event(&self, event: &Event<'_>) {
        let mut table = self.table();
        match event {
            Event::Started { index, name, size, progress } => {
                let slot = self.view.start(*index, name, *size);
                let progress = (*progress).clone();
                table.insert(*index, Row { name: name.to_string(), size: *size, progress, slot });
            }
            Event::Finished { index, .. } | Event::Failed { index, .. } => {
                if let Event::Failed { error, .. } = event
                    && error.kind() == oci_dl::ErrorKind::Interrupted
                    && table.get(index).is_some_and(|t| t.progress.get() > 0)
                {
                    self.partials_kept.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(t) = table.remove(index) {
                    self.view.close(t.slot);
                }
            }
            _ => {}
        }
        self.text(event);
        self.view.show(event, index_of(event).and_then(|i| table.get(&i)));
    }

    fn confirm_overwrite(&self, path: &Path) -> bool {
        let _one_at_a_time = lock(&self.prompt);
        self.view.suspend(&mut || {
            let shown = path.display().to_string();
            eprint!("{} exists with other content. Overwrite? [y/N] ", escape(&shown));
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        })
    }
}

impl<V: View> Console for Tracker<V> {
    fn say(&self, line: &str) {
        self.view.say(line);
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = lock(&self.ticker).take() {
            t.thread().unpark();
            let _ = t.join();
        }
        self.view.finish(&self.table());
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn partials_kept(&self) -> usize {
        self.partials_kept.load(Ordering::Relaxed)
    }
}

/// A panicked worker leaves the view usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The line a resume gets where no bar shows it.
fn resuming(name: &str, offset: u64) -> String {
    format!("resuming {name} from {}", HumanBytes(offset))
}

/// Where plain and JSON lines go (stderr, but for tests).
pub struct Out(Mutex<Box<dyn Write + Send>>);

impl Out {
    pub fn new(w: Box<dyn Write + Send>) -> Out {
        Out(Mutex::new(w))
    }

    /// A line of text; registry strings in it are escaped, as in every text line and bar message.
    pub fn text(&self, line: &str) {
        self.raw(&escape(line));
    }

    /// A line as it is (serde's JSON). A closed stderr is not worth failing a download for.
    pub fn raw(&self, line: &str) {
        let _ = writeln!(lock(&self.0), "{line}");
    }
}

#[cfg(test)]
mod tests;
