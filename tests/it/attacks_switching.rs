//! Streams that start and end while others run: each big stream switches, before each chunk,
//! between hashing on a thread of its own and hashing on its writer (`blob::pipeline`). A
//! corrupted byte just past a switch must still fail its layer, whatever `--jobs`, with the
//! extraction fed from the same bytes (`-x`) and the cache beside it.

use crate::extract::{E, tar};
use crate::support::fake::{self, Guard, Reply};
use crate::support::*;

const MIB: usize = 1024 * 1024;

/// Five tar layers of 5 to 29 MiB, so that streams end one after another while the others
/// still run and every survivor switches; the 21 MiB one has a byte flipped at 6 MiB + 1 (just
/// past the chunk where the streams of `-j 2` on this machine's cores change hands). It fails
/// with exit 5 at `-j 2` and `-j 4`, nothing of it is unpacked or cached, the others are
/// unpacked whole, and the canaries around the output and the cache are untouched.
#[test]
fn a_corrupt_byte_after_a_switch_fails_its_layer_at_any_jobs_and_nothing_of_it_lands() {
    let sizes = [5, 9, 13, 21, 29];
    let bodies: Vec<Vec<u8>> = sizes.iter().map(|&m| noise(m * MIB - 4096, m as u64)).collect();
    let names: Vec<String> = sizes.iter().map(|m| format!("f{m}.bin")).collect();
    let archives: Vec<Vec<u8>> =
        names.iter().zip(&bodies).map(|(n, b)| tar(&[E::File(n, b, 0o644)])).collect();
    let titles: Vec<String> = sizes.iter().map(|m| format!("l{m}.tar")).collect();
    let bad = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &archives[3]).to_string();
    let layers = titles.iter().map(String::as_str).zip(archives.iter().cloned()).collect();
    let bad2 = bad.clone();
    let f = fake::artifact_with(layers, Guard::Open, move |hit, digest, b| {
        if digest != bad2 {
            return Reply::blob(hit, b);
        }
        let mut b = b.to_vec();
        b[6 * MIB + 1] ^= 0x20;
        Reply::blob(hit, &b)
    });
    let r = format!("{}/x:v1", f.host);
    for jobs in ["2", "4"] {
        let sb = Sandbox::new();
        let canaries = Canaries::plant(&sb.work());
        let cache = sb.path("cache");
        let c = cache.to_str().unwrap();
        let run = sb.run(&["pull", &r, "-o", "out", "-x", "-j", jobs, "--cache", c]);
        run.fails(5, "l21.tar");
        let out = sb.work().join("out");
        for (i, (name, body)) in names.iter().zip(&bodies).enumerate() {
            let got = std::fs::read(out.join(name)).ok();
            match i {
                3 => assert!(got.is_none(), "-j {jobs}: the corrupt layer was unpacked"),
                _ => assert!(got.as_ref() == Some(body), "-j {jobs}: {name}"),
            }
        }
        let stray: Vec<String> = tree(&out).into_iter().filter(|p| !names.contains(p)).collect();
        assert!(stray.is_empty(), "-j {jobs}: left in out/: {stray:?}");
        let entries = cache.join("blobs/sha256");
        assert!(!entries.join(&bad["sha256:".len()..]).exists(), "-j {jobs}: cached");
        for e in std::fs::read_dir(&entries).unwrap() {
            let e = e.unwrap();
            let dg =
                oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &std::fs::read(e.path()).unwrap());
            assert_eq!(dg.hex(), e.file_name().to_str().unwrap(), "-j {jobs}: a cache entry");
        }
        canaries.assert_unchanged();
    }
}
