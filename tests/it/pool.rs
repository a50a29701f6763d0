//! The one work pool where layers meet ranges: a layer that goes ranged runs its ranges as a
//! group of the same pool, on its own thread plus the spare workers, so when every worker holds
//! a ranged layer (no spare worker at all) each layer still finishes instead of waiting for a
//! worker that never comes. (`--jobs 1` never goes ranged: one connection gains nothing; the
//! pool's unit tests nest groups on one worker.)

use crate::support::fake::{self, Fault, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

#[test]
fn ranged_layers_on_every_worker_finish() {
    let files: Vec<Vec<u8>> = (0..3).map(|i| noise(40 * MIB, i)).collect();
    let layers =
        vec![("a.bin", files[0].clone()), ("b.bin", files[1].clone()), ("c.bin", files[2].clone())];
    // The first stream of each is slow, so each switches to ranges, which come at full speed.
    let f = fake::artifact_with(layers, Guard::Open, |hit, _, bytes| {
        let r = Reply::blob(hit, bytes);
        if hit.header("range").is_none() { r.fault(Fault::Throttle(4 * MIB as u64)) } else { r }
    });
    let sb = Sandbox::new();
    let r = format!("{}/x:v1", f.host);
    let run = sb.run(&["pull", &r, "-o", "out", "-j", "2", "--no-cache", "-v"]);
    run.ok();
    let switched = run.stderr.matches("fetching the rest in ranges").count();
    assert_eq!(switched, 3, "every layer went ranged: {}", run.stderr);
    for (name, bytes) in ["a.bin", "b.bin", "c.bin"].iter().zip(&files) {
        assert!(std::fs::read(sb.work().join("out").join(name)).unwrap() == *bytes, "{name}");
    }
}
