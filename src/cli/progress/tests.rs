//! Helpers for the views' tests, and the test every view must pass: registry strings escaped.

use indicatif::InMemoryTerm;
use oci_dl::{Algorithm, Digest};

use super::bars::Bars;
use super::json::Json;
use super::lines::Lines;
use super::*;

pub fn started<V: View>(v: &Tracker<V>, index: usize, name: &str, size: u64) -> Progress {
    let p = Progress::default();
    v.event(&Event::Started { index, name, size: Some(size), progress: &p });
    p
}

/// Two transfers, one named like a prefix of the other, and a retry of the longer one.
pub fn retry_tool_sig<V: View>(v: &Tracker<V>) {
    started(v, 0, "tool", 1000);
    started(v, 1, "tool.sig", 1000);
    let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, "reset");
    let (what, delay) = ("tool.sig (sha256:abc)", Duration::from_millis(5));
    v.event(&Event::Retry { index: Some(1), what, attempt: 1, of: 5, delay, error: &err });
}

/// Bars drawn on an in-memory terminal of `rows`.
pub fn bars(rows: u16, cols: u16) -> (Tracker<Bars>, InMemoryTerm) {
    let term = InMemoryTerm::new(rows, cols);
    let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
    (Tracker::new(Bars::new(target, cols), 0), term)
}

/// A shared buffer standing in for stderr.
#[derive(Clone, Default)]
pub struct Buf(Arc<Mutex<Vec<u8>>>);

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
    pub fn out(&self) -> Out {
        Out::new(Box::new(self.clone()))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const EVIL: &str = "\x1b]0;pwned\x07\r✓ trusted.bin\n\u{202e}";
const SHOWN: &str = r"\x1b]0;pwned\x07\x0d✓ trusted.bin\x0a\u{202e}";

fn finish_evil<V: View>(v: &Tracker<V>) {
    let d = Digest::of(Algorithm::Sha256, b"a");
    let p = started(v, 0, EVIL, 10);
    v.event(&Event::Resumed { index: 0, name: EVIL, offset: 1 });
    let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, format!("GET {EVIL}"));
    let delay = Duration::from_millis(1);
    v.event(&Event::Retry { index: Some(0), what: EVIL, attempt: 1, of: 5, delay, error: &err });
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
    let v = Tracker::new(Lines::new(buf.out(), true, crate::cli::ci::Ci::None), 2);
    finish_evil(&v);
    let text = buf.text();
    assert!(!text.contains(['\x1b', '\x07', '\r', '\u{202e}']), "{text:?}");
    for want in ["pulling ", "resuming ", "warning: about ", "… ", "✓ ", "summary "] {
        assert!(text.contains(&format!("{want}{SHOWN}")), "{want}: {text}");
    }
    assert_eq!(text.lines().count(), 7, "one line per event, none forged: {text}");

    let (v, term) = bars(12, 200);
    let p = started(&v, 0, EVIL, 10);
    p.add_for_test(5);
    v.tick(Instant::now());
    assert!(term.contents().contains(&SHOWN[..20]), "the bar: {}", term.contents());
    finish_evil(&v);
    assert!(term.contents().contains(&format!("summary {SHOWN}")), "{}", term.contents());

    let buf = Buf::default();
    let v = Tracker::new(Json(buf.out()), 0);
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
