//! `soar-dl-peer REFERENCE API OUT JOBS`: pull every layer of REFERENCE from API (e.g.
//! `http://127.0.0.1:5000/v2`) into OUT with JOBS parallel downloads, as soar-dl does it.

use soar_dl::oci::OciDownload;
use soar_dl::types::OverwriteMode;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [reference, api, out, jobs] = a.as_slice() else {
        eprintln!("usage: soar-dl-peer REFERENCE API OUT JOBS");
        std::process::exit(2);
    };
    let r = OciDownload::new(reference.as_str())
        .api(api.as_str())
        .output(out.as_str())
        .overwrite(OverwriteMode::Force)
        .parallel(jobs.parse().unwrap_or(1))
        .execute();
    if let Err(e) = r {
        eprintln!("soar-dl: {e}");
        std::process::exit(1);
    }
}
