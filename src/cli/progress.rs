//! The progress view. At a terminal: indicatif bars, one per active layer plus a total, redrawn at
//! most 15 times a second from the engine's atomic counters (no lock or callback per read).
//! Elsewhere: plain lines (a start and a finish line per file, a progress line at most every
//! 10 s), JSON lines for wrappers, or nothing with `-q`. Everything goes to stderr.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_dl::{Event, FileStatus, Level, Observer, Progress};
use serde_json::json;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Json,
    Quiet,
}

impl Mode {
    pub fn choose(arg: ProgressArg, quiet: bool) -> Mode {
        match (quiet, arg) {
            (true, _) => Mode::Quiet,
            (false, ProgressArg::Always) => Mode::Bars,
            (false, ProgressArg::Never) => Mode::Lines,
            (false, ProgressArg::Json) => Mode::Json,
            (false, ProgressArg::Auto) if std::io::stderr().is_terminal() => Mode::Bars,
            (false, ProgressArg::Auto) => Mode::Lines,
        }
    }
}

/// Lines mode prints a progress line per file at most this often.
const LINE_EVERY: Duration = Duration::from_secs(10);

struct Live {
    name: String,
    size: Option<u64>,
    progress: Progress,
    bar: Option<ProgressBar>,
    last_report: Instant,
}

#[derive(Default)]
struct State {
    live: BTreeMap<usize, Live>,
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
    /// Where plain and JSON lines go (stderr, but for tests).
    out: Mutex<Box<dyn Write + Send>>,
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
        let view = View::with_target(mode, verbosity, target);
        let period = match mode {
            Mode::Bars => Some(Duration::from_millis(66)),
            Mode::Lines | Mode::Json => Some(Duration::from_secs(1)),
            Mode::Quiet => None,
        };
        if let Some(period) = period {
            let (shared, stop) = (view.shared.clone(), view.stop.clone());
            *view.ticker.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::thread::spawn(move || {
                    // park_timeout, not sleep: finish() unparks us, so a run never waits a period.
                    let mut next = Instant::now() + period;
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                        if Instant::now() >= next {
                            shared.tick(Instant::now());
                            next += period;
                        }
                    }
                }));
        }
        Arc::new(view)
    }

    /// A view drawing to `target` with no ticker thread; tests call [`View::tick`].
    pub fn with_target(mode: Mode, verbosity: u8, target: ProgressDrawTarget) -> View {
        View::with_output(mode, verbosity, target, Box::new(std::io::stderr()))
    }

    /// Like [`View::with_target`], with plain and JSON lines going to `out` instead of stderr.
    pub fn with_output(
        mode: Mode,
        verbosity: u8,
        target: ProgressDrawTarget,
        out: Box<dyn Write + Send>,
    ) -> View {
        let shared = Arc::new(Shared {
            mode,
            verbosity,
            mp: MultiProgress::with_draw_target(target),
            state: Mutex::new(State::default()),
            prompt: Mutex::new(()),
            out: Mutex::new(out),
        });
        View { shared, stop: Arc::default(), ticker: Mutex::new(None), started: Instant::now() }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Poll the counters and redraw as at `now` (the ticker thread does this on its own).
    #[cfg(test)]
    pub fn tick(&self, now: Instant) {
        self.shared.tick(now);
    }

    /// Stop the ticker and clear the bars, before the summary is printed.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.thread().unpark();
            let _ = t.join();
        }
        let st = self.shared.state();
        for l in st.live.values() {
            if let Some(b) = &l.bar {
                b.finish_and_clear();
            }
        }
        if let Some(t) = &st.total {
            t.finish_and_clear();
        }
    }

    /// A line for the user (not data), shown in bars and lines modes.
    pub fn say(&self, line: &str) {
        self.shared.say(line);
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every text line and bar message passes through [`escape`]; JSON lines are serde's.
    fn say(&self, line: &str) {
        match self.mode {
            Mode::Bars => {
                let _ = self.mp.println(escape(line));
            }
            Mode::Lines => self.line(line),
            Mode::Json | Mode::Quiet => {}
        }
    }

    /// Diagnostics go to stderr in every mode when asked for.
    fn log(&self, line: &str) {
        if self.mode == Mode::Bars { self.say(line) } else { self.line(line) }
    }

    fn json(&self, v: serde_json::Value) {
        if self.mode == Mode::Json {
            self.write_line(&v.to_string());
        }
    }

    /// One line of text to the plain output.
    fn line(&self, line: &str) {
        self.write_line(&escape(line));
    }

    /// A closed stderr is not worth failing a download for.
    fn write_line(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}");
    }

    fn tick(&self, now: Instant) {
        let mut st = self.state();
        let mut live_bytes = 0;
        for (index, l) in st.live.iter_mut() {
            let n = l.progress.get();
            live_bytes += n;
            match self.mode {
                Mode::Bars => {
                    if let Some(b) = &l.bar {
                        b.set_position(n);
                    }
                }
                Mode::Lines if now.duration_since(l.last_report) >= LINE_EVERY => {
                    l.last_report = now;
                    let of = l
                        .size
                        .map(|s| format!(" of {} ({}%)", HumanBytes(s), n * 100 / s.max(1)))
                        .unwrap_or_default();
                    self.line(&format!("… {} {}{of}", l.name, HumanBytes(n)));
                }
                Mode::Json => {
                    let v = json!({"event": "progress", "index": index, "name": l.name, "bytes": n, "size": l.size});
                    self.write_line(&v.to_string());
                }
                _ => {}
            }
        }
        if let Some(t) = &st.total {
            t.set_position(st.done_bytes + live_bytes);
            t.set_message(format!("{}/{} files", st.done, st.files));
        }
    }

    fn close(&self, index: usize) -> Option<Live> {
        let l = self.state().live.remove(&index)?;
        if let Some(b) = &l.bar {
            b.finish_and_clear();
            self.mp.remove(b);
        }
        Some(l)
    }
}

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

fn status_word(s: FileStatus) -> &'static str {
    match s {
        FileStatus::Downloaded => "downloaded",
        FileStatus::Resumed => "resumed",
        FileStatus::UpToDate => "up-to-date",
        FileStatus::Skipped => "skipped",
        FileStatus::Planned => "planned",
        FileStatus::Extracted => "extracted",
        FileStatus::Cached => "cached",
    }
}

impl Observer for View {
    fn event(&self, event: &Event<'_>) {
        let sh = &self.shared;
        match event {
            Event::Log { level, message } => {
                let show = match level {
                    Level::Warn | Level::Info => sh.mode != Mode::Quiet,
                    Level::Debug => sh.verbosity >= 1,
                    Level::Trace => sh.verbosity >= 2,
                };
                if show {
                    let tag = match level {
                        Level::Warn => "warning: ",
                        Level::Debug | Level::Trace => "debug: ",
                        Level::Info => "",
                    };
                    sh.log(&format!("{tag}{message}"));
                }
            }
            Event::Resolved { digest, media_type, platform } => {
                if sh.verbosity >= 1 {
                    let plat = platform.map(|p| format!(" for {p}")).unwrap_or_default();
                    sh.log(&format!("debug: resolved {digest} ({media_type}){plat}"));
                }
                sh.json(json!({"event": "resolved", "digest": digest.to_string(), "media_type": media_type,
                    "platform": platform.map(|p| p.to_string())}));
            }
            Event::Planned { files, bytes } => {
                let mut st = sh.state();
                st.files = *files;
                if sh.mode == Mode::Bars && *files > 1 {
                    let t = sh.mp.add(ProgressBar::new(*bytes));
                    t.set_style(style(TOTAL_TEMPLATE, "## "));
                    t.set_message(format!("0/{files} files"));
                    st.total = Some(t);
                }
                drop(st);
                sh.json(json!({"event": "plan", "files": files, "bytes": bytes}));
            }
            Event::Started { index, name, size, progress } => {
                let bar = (sh.mode == Mode::Bars).then(|| {
                    let bar = match size {
                        Some(s) => ProgressBar::new(*s).with_style(style(LAYER_TEMPLATE, "=> ")),
                        None => ProgressBar::no_length().with_style(style(UNSIZED_TEMPLATE, "=> ")),
                    };
                    let bar = match &sh.state().total {
                        Some(t) => sh.mp.insert_before(t, bar),
                        None => sh.mp.add(bar),
                    };
                    bar.set_message(escape(name).into_owned());
                    bar
                });
                let live = Live {
                    name: name.to_string(),
                    size: *size,
                    progress: (*progress).clone(),
                    bar,
                    last_report: Instant::now(),
                };
                sh.state().live.insert(*index, live);
                if sh.mode == Mode::Lines {
                    let size = size.map(|s| format!(" ({})", HumanBytes(s))).unwrap_or_default();
                    sh.line(&format!("pulling {name}{size}"));
                }
                sh.json(json!({"event": "start", "index": index, "name": name, "size": size}));
            }
            Event::Resumed { index, name, offset } => {
                if let Some(b) = sh.state().live.get(index).and_then(|l| l.bar.clone()) {
                    b.set_message(
                        escape(&format!("{name} (resumed at {})", HumanBytes(*offset)))
                            .into_owned(),
                    );
                    b.set_position(*offset);
                    b.reset_eta();
                } else {
                    sh.say(&format!("resuming {name} from {}", HumanBytes(*offset)));
                }
                sh.json(json!({"event": "resume", "index": index, "name": name, "offset": offset}));
            }
            Event::Retry { index, what, attempt, of, delay, error } => {
                let reason = error.to_string_full();
                if sh.verbosity >= 1 {
                    sh.log(&format!(
                        "debug: retry {attempt}/{of} of {what} in {delay:.1?}: {reason}"
                    ));
                }
                // By index, never by name: `tool` must not take the retries of `tool.sig`.
                let live = index
                    .and_then(|i| sh.state().live.get(&i).map(|l| (l.bar.clone(), l.name.clone())));
                let name = live.as_ref().map(|(_, n)| n.clone());
                match (live, sh.mode) {
                    (Some((Some(b), name)), _) => b.set_message(
                        escape(&format!("{name} (retry {attempt}/{of})")).into_owned(),
                    ),
                    (_, Mode::Lines) if sh.verbosity == 0 => sh.line(&format!(
                        "retrying {what} ({attempt}/{of}) in {delay:.1?}: {reason}"
                    )),
                    _ => {}
                }
                sh.json(json!({"event": "retry", "index": index, "name": name, "what": what,
                    "attempt": attempt, "of": of, "delay_ms": delay.as_millis() as u64,
                    "error": reason}));
            }
            Event::Finished { index, name, path, digest, size, status } => {
                sh.close(*index);
                let mut st = sh.state();
                st.done += 1;
                match status {
                    FileStatus::Downloaded | FileStatus::Resumed | FileStatus::Cached => {
                        st.done_bytes += size
                    }
                    _ => {
                        if let Some(t) = &st.total {
                            t.set_length(t.length().unwrap_or(0).saturating_sub(*size));
                        }
                    }
                }
                drop(st);
                let what = match status {
                    FileStatus::Downloaded | FileStatus::Resumed => "✓",
                    FileStatus::UpToDate => "= up to date",
                    FileStatus::Skipped => "- skipped (exists with other content)",
                    FileStatus::Planned => "·",
                    FileStatus::Extracted => "✓ extracted",
                    FileStatus::Cached => "✓ from cache",
                };
                sh.say(&format!("{what} {name}  {}  {}", HumanBytes(*size), digest.short()));
                sh.json(json!({"event": "finish", "index": index, "name": name, "path": path, "digest": digest.to_string(),
                    "size": size, "status": status_word(*status)}));
            }
            Event::Failed { index, name, error } => {
                sh.close(*index);
                if sh.verbosity >= 1 {
                    sh.log(&format!("✗ {name}: {}", error.to_string_full()));
                }
                sh.json(json!({"event": "error", "index": index, "name": name, "error": error.to_string_full()}));
            }
        }
    }

    fn confirm_overwrite(&self, path: &Path) -> bool {
        let _one_at_a_time = self.shared.prompt.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.mp.suspend(|| {
            let shown = path.display().to_string();
            eprint!("{} exists with other content. Overwrite? [y/N] ", escape(&shown));
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;
    use oci_dl::{Algorithm, Digest};

    fn started(v: &View, index: usize, name: &str, size: u64) -> Progress {
        let p = Progress::default();
        v.event(&Event::Started { index, name, size: Some(size), progress: &p });
        p
    }

    #[test]
    fn parallel_layers_get_bars_that_collapse_and_a_total() {
        let term = InMemoryTerm::new(12, 120);
        let v =
            View::with_target(Mode::Bars, 0, ProgressDrawTarget::term_like(Box::new(term.clone())));
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

    /// A shared buffer standing in for stderr.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn plain_lines_report_long_transfers_every_ten_seconds() {
        let buf = Buf::default();
        let v =
            View::with_output(Mode::Lines, 0, ProgressDrawTarget::hidden(), Box::new(buf.clone()));
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

    #[test]
    fn json_mode_reports_progress_each_tick() {
        let buf = Buf::default();
        let v =
            View::with_output(Mode::Json, 0, ProgressDrawTarget::hidden(), Box::new(buf.clone()));
        let p = started(&v, 3, "a.bin", 1000);
        p.add_for_test(400);
        v.tick(Instant::now());
        let lines: Vec<serde_json::Value> =
            buf.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["event"], "start");
        assert_eq!(
            (lines[1]["event"].as_str(), lines[1]["bytes"].as_u64(), lines[1]["index"].as_u64()),
            (Some("progress"), Some(400), Some(3))
        );
    }

    const EVIL: &str = "\x1b]0;pwned\x07\r✓ trusted.bin\n\u{202e}";
    const SHOWN: &str = r"\x1b]0;pwned\x07\x0d✓ trusted.bin\x0a\u{202e}";

    fn finish_evil(v: &View) {
        let d = Digest::of(Algorithm::Sha256, b"a");
        let p = started(v, 0, EVIL, 10);
        v.event(&Event::Resumed { index: 0, name: EVIL, offset: 1 });
        let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, format!("GET {EVIL}"));
        let delay = Duration::from_millis(1);
        v.event(&Event::Retry {
            index: Some(0),
            what: EVIL,
            attempt: 1,
            of: 5,
            delay,
            error: &err,
        });
        v.log(Level::Warn, format!("about {EVIL}"));
        p.add_for_test(10);
        v.tick(Instant::now() + Duration::from_secs(11));
        v.event(&Event::Finished {
            index: 0,
            name: EVIL,
            path: Path::new(EVIL),
            digest: &d,
            size: 10,
            status: FileStatus::Downloaded,
        });
        v.say(&format!("summary {EVIL}"));
    }

    #[test]
    fn registry_strings_are_escaped_in_lines_and_bars_and_stay_json_in_json() {
        let buf = Buf::default();
        let v =
            View::with_output(Mode::Lines, 2, ProgressDrawTarget::hidden(), Box::new(buf.clone()));
        finish_evil(&v);
        let text = buf.text();
        assert!(!text.contains(['\x1b', '\x07', '\r', '\u{202e}']), "{text:?}");
        for want in ["pulling ", "resuming ", "warning: about ", "… ", "✓ ", "summary "] {
            assert!(text.contains(&format!("{want}{SHOWN}")), "{want}: {text}");
        }
        assert_eq!(text.lines().count(), 7, "one line per event, none forged: {text}");

        let term = InMemoryTerm::new(12, 200);
        let v =
            View::with_target(Mode::Bars, 0, ProgressDrawTarget::term_like(Box::new(term.clone())));
        let p = started(&v, 0, EVIL, 10);
        p.add_for_test(5);
        v.tick(Instant::now());
        assert!(term.contents().contains(&SHOWN[..20]), "the bar: {}", term.contents());
        finish_evil(&v);
        assert!(term.contents().contains(&format!("summary {SHOWN}")), "{}", term.contents());

        let buf = Buf::default();
        let v =
            View::with_output(Mode::Json, 0, ProgressDrawTarget::hidden(), Box::new(buf.clone()));
        finish_evil(&v);
        assert!(!buf.text().contains(['\x1b', '\x07', '\r']), "{}", buf.text());
        // Diagnostics are text lines in every mode; the events are JSON.
        for line in buf.text().lines().filter(|l| l.starts_with('{')) {
            let j: serde_json::Value = serde_json::from_str(line).expect(line);
            if let Some(name) = j["name"].as_str() {
                assert_eq!(name, EVIL, "JSON carries the real name");
            }
        }
    }

    #[test]
    fn resumes_and_retries_show_on_the_bar() {
        let term = InMemoryTerm::new(8, 120);
        let v =
            View::with_target(Mode::Bars, 0, ProgressDrawTarget::term_like(Box::new(term.clone())));
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
    fn a_retry_goes_to_its_own_transfer_not_to_one_whose_name_is_a_prefix() {
        let term = InMemoryTerm::new(8, 120);
        let v =
            View::with_target(Mode::Bars, 0, ProgressDrawTarget::term_like(Box::new(term.clone())));
        started(&v, 0, "tool", 1000);
        started(&v, 1, "tool.sig", 1000);
        let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, "reset");
        let delay = Duration::from_millis(5);
        let what = "tool.sig (sha256:abc)";
        v.event(&Event::Retry { index: Some(1), what, attempt: 1, of: 5, delay, error: &err });
        v.tick(Instant::now());
        let screen = term.contents();
        assert!(screen.contains("tool.sig (retry 1/5)"), "{screen}");
        assert!(!screen.contains("tool (retry"), "tool took tool.sig's retry: {screen}");

        let buf = Buf::default();
        let v =
            View::with_output(Mode::Json, 0, ProgressDrawTarget::hidden(), Box::new(buf.clone()));
        started(&v, 0, "tool", 1000);
        started(&v, 1, "tool.sig", 1000);
        v.event(&Event::Retry { index: Some(1), what, attempt: 1, of: 5, delay, error: &err });
        v.event(&Event::Retry {
            index: None,
            what: "manifest x:v1",
            attempt: 1,
            of: 5,
            delay,
            error: &err,
        });
        let retries: Vec<serde_json::Value> = buf
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|j: &serde_json::Value| j["event"] == "retry")
            .collect();
        assert_eq!(
            (retries[0]["index"].as_u64(), retries[0]["name"].as_str()),
            (Some(1), Some("tool.sig"))
        );
        assert!(retries[1]["index"].is_null() && retries[1]["name"].is_null(), "{}", retries[1]);
    }
}
