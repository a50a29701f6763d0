//! Where two features meet. Each feature is tested alone elsewhere; here each test plays the
//! attacker or the careless user at a seam, names the pair in its name (`a_x_b_…`), and checks
//! the canaries around the output directory and around the cache.

use std::path::{Path, PathBuf};

use crate::extract::{E, gz, tar};
use crate::support::push::{Layer, Pusher};
use crate::support::registry::{self, Registry};
use crate::support::*;
use crate::trust::{minisign_key, minisign_sign};

/// A sandbox with canaries planted around its cache (`home/.cache/oci-dl`) and a minisign key.
pub(crate) struct Seam {
    pub sb: Sandbox,
    pub reg: &'static Registry,
    pub secret: PathBuf,
    pub public: String,
    cache_canaries: Canaries,
}

impl Seam {
    pub fn new() -> Option<Seam> {
        let reg = registry::open()?;
        let sb = Sandbox::new();
        let cache_parent = sb.path("home/.cache");
        std::fs::create_dir_all(&cache_parent).unwrap();
        let cache_canaries = Canaries::plant_beside(&cache_parent, "oci-dl");
        let (secret, public) = minisign_key(&sb.path("keys"), "m");
        let public = public.to_str().unwrap().to_owned();
        Some(Seam { sb, reg, secret, public, cache_canaries })
    }

    pub fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        minisign_sign(&self.secret, bytes, "release v1")
    }

    /// Push `layers` oras-style to `repo:v1`, then pull it into `case/out` (canaries planted in
    /// `case/`) with `args`.
    pub fn pull(&self, repo: &str, layers: &[Layer], case: &str, args: &[&str]) -> Pulled {
        Pusher::new(self.reg).oras_push(repo, "v1", layers);
        let root = self.sb.work().join(case);
        std::fs::create_dir_all(&root).unwrap();
        let canaries = Canaries::plant(&root);
        let out = root.join("out");
        let reference = format!("{}/{repo}:v1", self.reg.host);
        let mut all = vec!["pull", reference.as_str(), "-o", out.to_str().unwrap()];
        all.extend_from_slice(args);
        Pulled { run: self.sb.run(&all), out, canaries }
    }

    /// Neither the canaries around the cache nor anything outside the sandbox's work and cache
    /// changed, and no file of a hostile archive landed anywhere in the sandbox.
    #[track_caller]
    pub fn assert_clean(&self) {
        self.cache_canaries.assert_unchanged();
        let hits = find(self.sb.dir.path(), "PWNED.sh");
        assert!(hits.is_empty(), "a hostile archive's file landed: {hits:?}");
    }
}

pub(crate) struct Pulled {
    pub run: Run,
    pub out: PathBuf,
    pub canaries: Canaries,
}

/// Every path below `dir` whose file name is `name` (links not followed).
pub(crate) fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return hits };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name() == name {
            hits.push(p.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            hits.extend(find(&p, name));
        }
    }
    hits
}

/// A tar that also reads as a minisign signature file to a lenient reader (minisign-verify's
/// `Signature::decode` takes the first four lines and ignores the rest): its first header, which
/// holds no newline, is the "untrusted comment", and its one member `PWNED.sh` carries lines 2–4
/// of `genuine`, a real signature by the trusted key. The attacker needs no key: any signature
/// the publisher ever made will do.
pub(crate) fn sig_polyglot(genuine: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(genuine).unwrap();
    let rest: String = text.lines().skip(1).map(|l| format!("\n{l}")).collect();
    let member = format!("{rest}\n");
    let bytes = tar(&[E::File("PWNED.sh", member.as_bytes(), 0o755)]);
    assert!(!bytes[..512].contains(&b'\n'), "the header is the first line");
    bytes
}

/// `--verify-key` × `-x`: a layer named as a signature is data about another file, never content.
/// A tar that passes for `app.txt.sig` or for the genuine `app.txt.minisig`, and a genuine
/// signature of other bytes replayed as `app.txt.sig`, each fail the pull with exit 8 and
/// nothing written; nothing is unpacked.
#[test]
fn verify_key_x_extract_signature_layers_are_strict_and_never_unpacked() {
    let Some(s) = Seam::new() else { return };
    let app = b"the app\n".to_vec();
    let genuine = s.sign(&app);
    let replayed = s.sign(b"an older release\n");
    let key = s.public.as_str();
    let cases: Vec<(&str, Vec<Layer>, &str)> = vec![
        (
            "forged-sig",
            vec![
                Layer::oras("app.txt", app.clone()),
                Layer::oras("app.txt.minisig", genuine.clone()),
                Layer::oras("app.txt.sig", sig_polyglot(&genuine)),
            ],
            "app.txt.sig is not a valid minisign signature",
        ),
        (
            "polyglot-minisig",
            vec![
                Layer::oras("app.txt", app.clone()),
                Layer::oras("app.txt.minisig", sig_polyglot(&genuine)),
            ],
            "app.txt.minisig is not a valid minisign signature",
        ),
        (
            "replayed-sig",
            vec![
                Layer::oras("app.txt", app.clone()),
                Layer::oras("app.txt.minisig", genuine.clone()),
                Layer::oras("app.txt.sig", replayed.clone()),
            ],
            "app.txt: the minisign signature app.txt.sig does not match its bytes",
        ),
    ];
    for (case, layers, needle) in cases {
        let repo = format!("seams/sig-x-{case}");
        let p = s.pull(&repo, &layers, case, &["--verify-key", key, "-x"]);
        p.run.fails(8, needle);
        assert!(tree(&p.out).is_empty(), "{case}: {:?}", tree(&p.out));
        p.canaries.assert_unchanged();
        s.assert_clean();
    }
    // The genuine set lands whole: the file, and both signatures byte for byte as signed.
    let layers = vec![
        Layer::oras("app.txt", app.clone()),
        Layer::oras("app.txt.minisig", genuine.clone()),
        Layer::oras("app.txt.sig", genuine.clone()),
    ];
    let p = s.pull("seams/sig-x-good", &layers, "good", &["--verify-key", key, "-x"]);
    p.run.ok();
    assert_eq!(tree(&p.out), ["app.txt", "app.txt.minisig", "app.txt.sig"]);
    assert_eq!(std::fs::read(p.out.join("app.txt.sig")).unwrap(), genuine);
    p.canaries.assert_unchanged();
    s.assert_clean();
}

/// `-x` × signature layers without a key: a signature or checksum list is kept as the file it
/// is, whatever its media type or bytes claim, and not unpacked.
#[test]
fn extract_x_signature_and_checksum_layers_are_kept_as_files() {
    let Some(s) = Seam::new() else { return };
    let app = b"the app\n".to_vec();
    let polyglot = sig_polyglot(&s.sign(&app));
    let sums = gz(&tar(&[E::File("PWNED.sh", b"echo pwned\n", 0o755)]));
    let mut sums_layer = Layer::oras("SHA256SUMS", sums.clone());
    sums_layer.media_type = "application/vnd.oci.image.layer.v1.tar+gzip".into();
    let layers =
        vec![Layer::oras("app.txt", app), Layer::oras("app.txt.sig", polyglot.clone()), sums_layer];
    let p = s.pull("seams/x-sig-nokey", &layers, "nokey", &["-x"]);
    p.run.ok();
    assert_eq!(tree(&p.out), ["SHA256SUMS", "app.txt", "app.txt.sig"]);
    assert_eq!(std::fs::read(p.out.join("app.txt.sig")).unwrap(), polyglot);
    assert_eq!(std::fs::read(p.out.join("SHA256SUMS")).unwrap(), sums);
    p.canaries.assert_unchanged();
    s.assert_clean();
}

/// A release archive per platform, as goreleaser lays them out (`archives` in
/// goreleaser's `internal/pipe/archive`: the binary at the top, LICENSE and README beside it).
fn release_tgz(binary: &str, bytes: &[u8]) -> Vec<u8> {
    gz(&tar(&[
        E::File(binary, bytes, 0o755),
        E::File("LICENSE", b"MIT License\n", 0o644),
        E::Dir("docs/"),
        E::File("docs/README.md", b"# tool\n", 0o644),
    ]))
}

/// `-x` × `--overwrite` × parallel layers: two archives that each hold `tool` with other bytes
/// are both refused — whatever `--overwrite` says, however many jobs — and nothing of either
/// lands, every time; a third archive that agrees with them still lands.
#[test]
fn extract_x_overwrite_x_parallel_archives_racing_for_one_path_are_refused() {
    let Some(s) = Seam::new() else { return };
    let layers = vec![
        Layer::oras("tool-linux-amd64.tar.gz", release_tgz("tool", &noise(200_000, 1))),
        Layer::oras("tool-darwin-arm64.tar.gz", release_tgz("tool", &noise(100, 2))),
    ];
    for overwrite in ["force", "error", "skip"] {
        for jobs in ["1", "4"] {
            let case = format!("{overwrite}-{jobs}");
            let args = ["-x", "--overwrite", overwrite, "-j", jobs];
            let p = s.pull("seams/x-race", &layers, &case, &args);
            p.run.fails(1, "2 layers failed");
            for (me, other) in [("linux-amd64", "darwin-arm64"), ("darwin-arm64", "linux-amd64")] {
                let said = format!(
                    "tool-{me}.tar.gz: unpacks \"tool\", as tool-{other}.tar.gz does, with other content; neither archive was unpacked"
                );
                assert!(p.run.stderr.contains(&said), "{}", p.run.stderr);
            }
            assert_eq!(tree(&p.out), Vec::<String>::new(), "{case}: nothing of either");
            p.canaries.assert_unchanged();
        }
    }
    // Archives that share directories and identical files, but no path with other content, all
    // land (a LICENSE in each platform's archive is the common case).
    let layers = vec![
        Layer::oras("tool-linux-amd64.tar.gz", release_tgz("tool-linux", b"linux\n")),
        Layer::oras("tool-darwin-arm64.tar.gz", release_tgz("tool-darwin", b"darwin\n")),
    ];
    let p = s.pull("seams/x-agree", &layers, "agree", &["-x", "-j", "4"]);
    p.run.ok();
    assert_eq!(tree(&p.out), ["LICENSE", "docs/", "docs/README.md", "tool-darwin", "tool-linux"]);
    p.canaries.assert_unchanged();
    s.assert_clean();
}

/// resume × ranges: a ranged download stopped with Ctrl-C records every range it finished and
/// how far each unfinished one got, not only its hashed prefix; the rerun fetches only the
/// holes (under 1.1 × the missing bytes, counted at the server) and verifies the whole blob.
#[test]
fn resume_x_ranges_a_stopped_ranged_download_fetches_only_what_is_missing() {
    use crate::support::fake::{self, Fault, Guard, Reply};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const MIB: usize = 1024 * 1024;
    let data = noise(64 * MIB, 17);
    let slow = Arc::new(AtomicBool::new(true));
    let s2 = slow.clone();
    // The first run, by construction: a slow stream that hands over to ranges; the first two
    // ranges asked for stall after 1 MiB (so the hashed prefix stops at one of them), the rest
    // come whole on the other two connections, the last range too.
    let stalled = std::sync::atomic::AtomicUsize::new(0);
    let f = fake::artifact_with(vec![("big.bin", data.clone())], Guard::Open, move |hit, _, b| {
        let r = Reply::blob(hit, b);
        if !s2.load(Ordering::SeqCst) {
            r
        } else if hit.header("range").is_none() {
            r.fault(Fault::Throttle(4 * MIB as u64))
        } else if stalled.fetch_add(1, Ordering::SeqCst) < 2 {
            r.fault(Fault::StallAfter(MIB, std::time::Duration::from_secs(60)))
        } else {
            r
        }
    });
    let sb = Sandbox::new();
    let reference = format!("{}/x:v1", f.host);
    let args = ["pull", &reference, "-o", "out", "-j", "4", "--no-cache"];
    let mut child = sb.cmd(&args).spawn().unwrap();
    let part = sb.work().join("out/big.bin.part");
    let record = || -> Option<serde_json::Value> {
        let raw = xattr::get(&part, "user.oci-dl.resume").ok()??;
        serde_json::from_slice(&raw).ok()
    };
    // Stopped once a range past the prefix is whole on disk: the last one, asked for last.
    let tail = &data[data.len() - MIB..];
    let has_tail = || {
        use std::os::unix::fs::FileExt as _;
        let mut buf = vec![0; MIB];
        let file = std::fs::File::open(&part).ok();
        file.is_some_and(|f| f.read_exact_at(&mut buf, (data.len() - MIB) as u64).is_ok())
            && buf == tail
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !has_tail() {
        assert!(child.try_wait().unwrap().is_none(), "ended before its ranges stalled");
        assert!(std::time::Instant::now() < deadline, "no range past the prefix finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let r = record().expect("the record survives Ctrl-C");
    let prefix = r["written"].as_u64().unwrap();
    let have: Vec<(u64, u64)> = serde_json::from_value(r["have"].clone()).unwrap_or_default();
    assert!(!have.is_empty(), "ranges past the prefix are recorded: {r}");
    let recorded = prefix + have.iter().map(|(a, b)| b - a).sum::<u64>();
    assert!(recorded > prefix, "{r}");
    slow.store(false, Ordering::SeqCst);
    let before = f.bytes_served();
    let run = sb.run(&[&args[..], &["-v"]].concat());
    run.ok();
    assert!(run.stderr.contains("around the ranges it has"), "{}", run.stderr);
    let served = f.bytes_served() - before;
    let missing = data.len() as u64 - recorded;
    assert!(
        served as f64 <= 1.1 * missing as f64,
        "the rerun fetched {served} bytes for {missing} missing (prefix {prefix}, {have:?})"
    );
    assert_eq!(std::fs::read(sb.work().join("out/big.bin")).unwrap(), data);
    assert!(!part.exists());
}

/// Every entry of the sandbox's cache hashes to its name (nothing a bad source sent got in).
pub(crate) fn assert_cache_verified(sb: &Sandbox) {
    let dir = sb.path("home/.cache/oci-dl/blobs/sha256");
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        let hex = oci_dl::Digest::of(oci_dl::Algorithm::Sha256, &bytes).hex().to_owned();
        assert_eq!(e.file_name().to_string_lossy(), hex, "a cache entry that is not its digest");
    }
}

/// `-o -` × `--verify-key`: a stream reaches its reader before its end is verified, so no
/// signature can vouch for it: refused before any byte, nothing on stdout, nothing cached.
#[test]
fn stdout_x_verify_key_is_refused_before_any_byte() {
    let Some(s) = Seam::new() else { return };
    let app = b"the app\n".to_vec();
    let layers = vec![Layer::oras("app", app.clone()), Layer::oras("app.minisig", s.sign(&app))];
    Pusher::new(s.reg).oras_push("seams/stdout", "v1", &layers);
    let reference = format!("{}/seams/stdout:v1", s.reg.host);
    let run = s.sb.run(&["pull", &reference, "-o", "-", "-g", "app", "--verify-key", &s.public]);
    run.fails(2, "-o - streams bytes before they are verified");
    assert!(run.stdout.is_empty());
    assert!(!s.sb.path("home/.cache/oci-dl/blobs").exists(), "nothing was fetched");
    s.assert_clean();
}

/// cache × mirrors: a mirror that serves corrupt bytes is dropped and the registry serves the
/// blob; only verified bytes enter the cache, and a second pull from the cache alone gets them.
#[test]
fn cache_x_mirrors_a_corrupt_mirror_never_reaches_the_cache() {
    use crate::support::fake::{self, Guard, Reply};
    let files = vec![("a.bin", noise(70_000, 21)), ("b.bin", noise(90_000, 22))];
    let bad = fake::artifact_with(files.clone(), Guard::Open, |_, _, bytes| {
        let mut b = bytes.to_vec();
        b[1000] ^= 0x55;
        Reply::new(200, b)
    });
    let origin = fake::artifact(files.clone(), Guard::Open, None);
    let sb = Sandbox::new();
    let cache_parent = sb.path("home/.cache");
    std::fs::create_dir_all(&cache_parent).unwrap();
    let canaries = Canaries::plant_beside(&cache_parent, "oci-dl");
    let reference = format!("{}/x:v1", origin.host);
    sb.run(&["pull", &reference, "-o", "one", "--mirror", &bad.host]).ok();
    assert_cache_verified(&sb);
    let hits = origin.hits_to("/v2/x/blobs/").len();
    sb.run(&["pull", &reference, "-o", "two", "--mirror", &bad.host]).ok();
    assert_eq!(
        origin.hits_to("/v2/x/blobs/").len(),
        hits,
        "the second pull is served by the cache"
    );
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(sb.work().join("two").join(name)).unwrap(), bytes);
    }
    assert_cache_verified(&sb);
    canaries.assert_unchanged();
    bad.allow_unexpected(
        "the mirror is asked for the manifest, which it serves as the origin does",
    );
}

/// `--verify-key` × the publisher's other files: a genuine signature of `old-tool` (minisign's
/// default trusted comment names the file it signed), served with old-tool's bytes as `tool`,
/// verifies cryptographically but is refused — exit 8, nothing written. The genuine pair lands.
#[test]
fn verify_key_x_substitution_a_signature_of_another_file_is_refused() {
    let Some(s) = Seam::new() else { return };
    let dir = s.secret.parent().unwrap();
    let sign_default = |name: &str, bytes: &[u8]| -> Vec<u8> {
        let f = dir.join(name);
        std::fs::write(&f, bytes).unwrap();
        let out = std::process::Command::new("minisign")
            .args(["-S", "-s", s.secret.to_str().unwrap(), "-m", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read(dir.join(format!("{name}.minisig"))).unwrap()
    };
    let old = b"the old tool, with a known hole\n".to_vec();
    let old_sig = sign_default("old-tool", &old);
    let layers = vec![Layer::oras("tool", old.clone()), Layer::oras("tool.minisig", old_sig)];
    let p = s.pull("seams/substitute", &layers, "swapped", &["--verify-key", &s.public]);
    p.run.fails(
        8,
        "tool: tool.minisig is the publisher's signature of \"old-tool\", not of this file",
    );
    assert!(tree(&p.out).is_empty(), "{:?}", tree(&p.out));
    p.canaries.assert_unchanged();
    let new = b"the tool\n".to_vec();
    let layers = vec![
        Layer::oras("tool", new.clone()),
        Layer::oras("tool.minisig", sign_default("tool", &new)),
    ];
    let p = s.pull("seams/substitute-good", &layers, "genuine", &["--verify-key", &s.public]);
    p.run.ok();
    assert_eq!(std::fs::read(p.out.join("tool")).unwrap(), new);
    s.assert_clean();
}
