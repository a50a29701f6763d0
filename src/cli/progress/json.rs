//! `--progress json`: one JSON object per event and per transfer each second, for wrappers.
//! Diagnostics stay text lines among them.

use std::time::{Duration, Instant};

use oci_dl::Event;
use serde_json::json;

use super::{Out, Row, Table, View};

pub struct Json(pub Out);

impl Json {
    fn write(&self, v: serde_json::Value) {
        self.0.raw(&v.to_string());
    }
}

impl View for Json {
    type Slot = ();
    const PERIOD: Option<Duration> = Some(Duration::from_secs(1));

    fn say(&self, _line: &str) {}

    fn log(&self, line: &str) {
        self.0.text(line);
    }

    fn start(&self, _index: usize, _name: &str, _size: Option<u64>) {}

    fn show(&self, event: &Event<'_>, live: Option<&Row<()>>) {
        self.write(match event {
            Event::Resolved { digest, media_type, platform } => {
                json!({"event": "resolved", "digest": digest.to_string(), "media_type": media_type,
                    "platform": platform.map(|p| p.to_string())})
            }
            Event::Planned { files, bytes } => json!({"event": "plan", "files": files, "bytes": bytes}),
            Event::Started { index, name, size, .. } => {
                json!({"event": "start", "index": index, "name": name, "size": size})
            }
            Event::Resumed { index, name, offset } => {
                json!({"event": "resume", "index": index, "name": name, "offset": offset})
            }
            // The name by index, never by `what`: `tool` must not take the retries of `tool.sig`.
            Event::Retry { index, what, attempt, of, delay, error } => {
                json!({"event": "retry", "index": index, "name": live.map(|t| &t.name), "what": what,
                    "attempt": attempt, "of": of, "delay_ms": delay.as_millis() as u64,
                    "error": crate::cli::hints::render(error)})
            }
            Event::Finished { index, name, path, digest, size, status } => {
                json!({"event": "finish", "index": index, "name": name, "path": path,
                    "digest": digest.to_string(), "size": size, "status": status})
            }
            Event::Failed { index, name, error } => {
                json!({"event": "error", "index": index, "name": name, "error": crate::cli::hints::render(error)})
            }
            // Logs go to stderr as text; events newer than this view are not shown.
            _ => return,
        });
    }

    fn tick(&self, table: &mut Table<()>, _now: Instant) {
        for (index, t) in table.iter() {
            let (name, bytes, size) = (&t.name, t.progress.get(), t.size);
            self.write(json!({"event": "progress", "index": index, "name": name, "bytes": bytes, "size": size}));
        }
    }
}

#[cfg(test)]
mod tests {
    use oci_dl::Observer;

    use super::super::Tracker;
    use super::super::tests::{Buf, retry_tool_sig, started};
    use super::*;

    fn lines(buf: &Buf) -> Vec<serde_json::Value> {
        buf.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn json_mode_reports_progress_each_tick() {
        let buf = Buf::default();
        let v = Tracker::new(Json(buf.out()), 0);
        let p = started(&v, 3, "a.bin", 1000);
        p.add_for_test(400);
        v.tick(Instant::now());
        let lines = lines(&buf);
        assert_eq!(lines[0]["event"], "start");
        assert_eq!(
            (lines[1]["event"].as_str(), lines[1]["bytes"].as_u64(), lines[1]["index"].as_u64()),
            (Some("progress"), Some(400), Some(3))
        );
    }

    #[test]
    fn a_retry_names_its_own_transfer_not_one_whose_name_is_a_prefix() {
        let buf = Buf::default();
        let v = Tracker::new(Json(buf.out()), 0);
        retry_tool_sig(&v);
        let err = oci_dl::Error::new(oci_dl::ErrorKind::Network, "reset");
        let (what, delay) = ("manifest x:v1", Duration::from_millis(5));
        v.event(&Event::Retry { index: None, what, attempt: 1, of: 5, delay, error: &err });
        let retries: Vec<_> = lines(&buf).into_iter().filter(|j| j["event"] == "retry").collect();
        assert_eq!(
            (retries[0]["index"].as_u64(), retries[0]["name"].as_str()),
            (Some(1), Some("tool.sig"))
        );
        assert!(retries[1]["index"].is_null() && retries[1]["name"].is_null(), "{}", retries[1]);
    }
}
