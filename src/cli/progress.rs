//! The progress view: indicatif bars at a terminal, plain lines elsewhere, nothing with `-q`.
//! Bars are fed by polling the engine's atomic counters ~15 times a second.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_dl::{Event, FileStatus, Level, Observer, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Quiet,
}

impl Mode {
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

#[derive(Default)]
struct State {
    live: BTreeMap<usize, (ProgressBar, Progress)>,
    total: Option<ProgressBar>,
    files: usize,
    done: usize,
    done_bytes: u64,
}

struct Shared {
    mode: Mode,
    verbosity: u8,
    mp: MultiProgress,
    state: Mutex<State>,
    prompt: Mutex<()>,
}

/// The [`Observer`] the binary uses.
pub struct View {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    started: Instant,
}

impl View {
    pub fn new(mode: Mode, verbosity: u8) -> Arc<View> {
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stderr_with_hz(15),
            _ => ProgressDrawTarget::hidden(),
        };
        let shared = Arc::new(Shared {
            mode,
            verbosity,
            mp: MultiProgress::with_draw_target(target),
            state: Mutex::new(State::default()),
            prompt: Mutex::new(()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = (mode == Mode::Bars).then(|| {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    shared.tick();
                    std::thread::sleep(Duration::from_millis(66));
                }
            })
        });
        Arc::new(View { shared, stop, ticker: Mutex::new(ticker), started: Instant::now() })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stop the ticker and clear the bars, before the summary is printed.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
        let st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        for (bar, _) in st.live.values() {
            bar.finish_and_clear();
        }
        if let Some(t) = &st.total {
            t.finish_and_clear();
        }
    }

    /// A line for the user (not data): above the bars, or on stderr.
    pub fn say(&self, line: &str) {
        self.shared.say(line);
    }
}

impl Shared {
    fn say(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bars => {
                let _ = self.mp.println(line);
            }
            Mode::Lines => eprintln!("{line}"),
        }
    }

    fn tick(&self) {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut live_bytes = 0;
        for (bar, p) in st.live.values() {
            let n = p.get();
            live_bytes += n;
            bar.set_position(n);
        }
        if let Some(t) = &st.total {
            t.set_position(st.done_bytes + live_bytes);
            t.set_message(format!("{}/{} files", st.done, st.files));
        }
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:30!} [{bar:25}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Observer for View {
    fn event(&self, event: &Event<'_>) {
        let sh = &self.shared;
        match event {
            Event::Log { level, message } => {
                let show = match level {
                    Level::Warn => sh.mode != Mode::Quiet,
                    Level::Info => sh.mode != Mode::Quiet,
                    Level::Debug => sh.verbosity >= 1,
                    Level::Trace => sh.verbosity >= 2,
                };
                if show {
                    let tag = match level {
                        Level::Warn => "warning: ",
                        Level::Debug | Level::Trace => "debug: ",
                        Level::Info => "",
                    };
                    // Debug lines go to stderr even with -q: the user asked for them.
                    if sh.mode == Mode::Quiet {
                        eprintln!("{tag}{message}")
                    } else {
                        sh.say(&format!("{tag}{message}"))
                    }
                }
            }
            Event::Resolved { digest, media_type, platform } => {
                if sh.verbosity >= 1 {
                    let plat = platform.map(|p| format!(" for {p}")).unwrap_or_default();
                    sh.say(&format!("debug: resolved {digest} ({media_type}){plat}"));
                }
            }
            Event::Retry { what, attempt, of, delay, error } => {
                if sh.verbosity >= 1 {
                    sh.say(&format!(
                        "debug: retry {attempt}/{of} of {what} in {delay:.1?}: {}",
                        error.to_string_full()
                    ));
                }
                if let Some((bar, _)) = sh
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .live
                    .values()
                    .find(|(b, _)| what.starts_with(b.message().as_str()))
                {
                    bar.set_message(format!("{what} (retry {attempt})"));
                }
            }
            Event::Resumed { name, offset, .. } => {
                sh.say(&format!("resuming {name} from {}", HumanBytes(*offset)));
            }
            Event::Planned { files, bytes } => {
                let mut st = sh.state.lock().unwrap_or_else(|p| p.into_inner());
                st.files = *files;
                if sh.mode == Mode::Bars && *files > 1 {
                    let t = sh.mp.add(ProgressBar::new(*bytes));
                    t.set_style(
                        ProgressStyle::with_template("{msg:30!} [{bar:25}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("## "),
                    );
                    t.set_message(format!("0/{files} files"));
                    st.total = Some(t);
                }
            }
            Event::Started { index, name, size, progress } => match sh.mode {
                Mode::Bars => {
                    let bar = ProgressBar::new(size.unwrap_or(0));
                    let bar = match &sh.state.lock().unwrap_or_else(|p| p.into_inner()).total {
                        Some(t) => sh.mp.insert_before(t, bar),
                        None => sh.mp.add(bar),
                    };
                    bar.set_style(bar_style());
                    bar.set_message(name.to_string());
                    sh.state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .live
                        .insert(*index, (bar, (*progress).clone()));
                }
                Mode::Lines => {
                    let size = size.map(|s| format!(" ({})", HumanBytes(s))).unwrap_or_default();
                    eprintln!("pulling {name}{size}");
                }
                Mode::Quiet => {}
            },
            Event::Finished { index, name, digest, size, status, .. } => {
                let mut st = sh.state.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((bar, _)) = st.live.remove(index) {
                    bar.finish_and_clear();
                    sh.mp.remove(&bar);
                }
                st.done += 1;
                st.done_bytes += size;
                drop(st);
                let what = match status {
                    FileStatus::Downloaded | FileStatus::Resumed => "✓",
                    FileStatus::UpToDate => "= up to date",
                    FileStatus::Skipped => "- skipped (exists with other content)",
                };
                sh.say(&format!("{what} {name}  {}  {}", HumanBytes(*size), digest.short()));
            }
            Event::Failed { index, name, error } => {
                let mut st = sh.state.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((bar, _)) = st.live.remove(index) {
                    bar.finish_and_clear();
                    sh.mp.remove(&bar);
                }
                drop(st);
                if sh.verbosity >= 1 {
                    sh.say(&format!("✗ {name}: {}", error.to_string_full()));
                }
            }
        }
    }

    fn confirm_overwrite(&self, path: &Path) -> bool {
        let _one_at_a_time = self.shared.prompt.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.mp.suspend(|| {
            eprint!("{} exists with other content. Overwrite? [y/N] ", path.display());
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        })
    }
}
