use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// The names in `dir`, sorted.
fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn put_bytes(cache: &Cache, at: &Path, data: &[u8]) -> Digest {
    let src = at.join("src");
    std::fs::write(&src, data).unwrap();
    let dg = Digest::of(Algorithm::Sha256, data);
    cache.put(&dg, &File::open(&src).unwrap(), &src).unwrap();
    dg
}

#[test]
fn sizes() {
    assert_eq!(parse_size("2048").unwrap(), 2048);
    assert_eq!(parse_size("10G").unwrap(), 10 << 30);
    assert_eq!(parse_size("1.5MiB").unwrap(), 3 << 19);
    assert_eq!(parse_size("0").unwrap(), 0);
    assert!(parse_size("ten").is_err());
    assert!(parse_size("5Q").is_err());
}

#[test]
fn put_get_and_prune_oldest_first() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let mut digests = Vec::new();
    for (i, age) in [(0u8, 300u64), (1, 100), (2, 200)] {
        let dg = put_bytes(&cache, d.path(), &vec![i; 1000]);
        let f = std::fs::File::options().append(true).open(cache.path(&dg)).unwrap();
        f.set_modified(SystemTime::now() - std::time::Duration::from_secs(age)).unwrap();
        digests.push(dg);
    }
    let src = Node::of_file(&File::open(d.path().join("src")).unwrap()).unwrap();
    let entry = Node::of_file(&File::open(cache.path(&digests[2])).unwrap()).unwrap();
    assert!(!src.same(&entry) && entry.nlink == 1, "an entry is a file of its own");
    assert!(cache.get(&digests[1]).is_some());
    std::fs::write(cache.root().join("blobs/sha256/not-a-digest"), b"keep").unwrap();
    let p = cache.prune(2000).unwrap();
    assert_eq!((p.removed, p.freed, p.kept), (1, 1000, 2000));
    assert!(
        std::fs::metadata(cache.path(&digests[0])).is_err(),
        "the least recently used went first"
    );
    assert!(cache.get(&digests[2]).is_some());
    assert_eq!(cache.prune(0).unwrap().removed, 2);
    let left: Vec<_> = std::fs::read_dir(cache.root().join("blobs/sha256")).unwrap().collect();
    assert_eq!(left.len(), 1, "only a name that is not a digest is left");
}

#[test]
fn prune_never_walks_through_a_symlink() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let dg = put_bytes(&cache, d.path(), b"entry");
    let victims = d.path().join("victims");
    std::fs::create_dir(&victims).unwrap();
    std::fs::write(victims.join(dg.hex()), b"the user's file").unwrap();
    std::fs::rename(cache.root().join("blobs/sha256"), d.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&victims, cache.root().join("blobs/sha256")).unwrap();
    let e = cache.prune(0).unwrap_err();
    assert!(e.to_string().contains("symlink"), "{e}");
    cache.remove(&dg);
    assert!(cache.get(&dg).is_none(), "never an entry through a symlink");
    assert_eq!(std::fs::read(victims.join(dg.hex())).unwrap(), b"the user's file");
    // The stamps of an algorithm no entry uses are opened before anything goes, too.
    std::fs::remove_file(cache.root().join("blobs/sha256")).unwrap();
    std::fs::rename(d.path().join("moved"), cache.root().join("blobs/sha256")).unwrap();
    let sha512 = Digest::of(Algorithm::Sha512, b"x");
    std::fs::write(victims.join(sha512.hex()), b"the user's file").unwrap();
    std::fs::create_dir_all(cache.root().join("stamps")).unwrap();
    std::os::unix::fs::symlink(&victims, cache.root().join("stamps/sha512")).unwrap();
    assert!(cache.prune(0).unwrap_err().to_string().contains("symlink"));
    assert!(cache.path(&dg).exists(), "nothing deleted");
    assert_eq!(std::fs::read(victims.join(sha512.hex())).unwrap(), b"the user's file");
}

#[test]
fn an_entry_is_verified_only_while_its_stamp_holds() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let dg = put_bytes(&cache, d.path(), &[7u8; 4096]);
    let e = cache.get(&dg).unwrap();
    assert!(!e.verified, "not stamped when added: the download hashed its buffers");
    cache.stamp(&dg, &e.file, Before::settled(&e.file)).unwrap();
    assert!(!cache.get(&dg).unwrap().verified, "written just now: not settled yet");
    std::thread::sleep(SETTLED);
    let stamp_now = |cache: &Cache| {
        let e = cache.get(&dg).unwrap();
        cache.stamp(&dg, &e.file, Before::settled(&e.file)).unwrap();
    };
    stamp_now(&cache);
    assert!(cache.get(&dg).unwrap().verified, "stamped after a settled hash");
    assert!(cache.get(&dg).unwrap().verified, "a use leaves the stamp true");
    let write = |b: &[u8]| {
        let mut f = std::fs::OpenOptions::new().write(true).open(cache.path(&dg)).unwrap();
        f.write_all(b).unwrap();
    };
    write(b"x");
    let e = cache.get(&dg).unwrap();
    assert!(!e.verified, "written since its stamp");
    std::thread::sleep(SETTLED);
    let before = Before::settled(&e.file);
    write(b"y"); // while it is hashed
    cache.stamp(&dg, &e.file, before).unwrap();
    assert!(!cache.get(&dg).unwrap().verified, "written during the hash: not stamped");
    std::thread::sleep(SETTLED);
    stamp_now(&cache);
    assert!(cache.get(&dg).unwrap().verified);
    // Ownership: an entry (or a directory above it) others may write is never trusted.
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    for p in [cache.root().to_path_buf(), cache.root().join("blobs"), cache.path(&dg)] {
        let was = std::fs::metadata(&p).unwrap().permissions().mode();
        mode(&p, was | 0o002).unwrap();
        assert!(!cache.get(&dg).unwrap().verified, "{} writable by others", p.display());
        mode(&p, was).unwrap();
    }
    // chmod moved the entry's ctime: stamp it again.
    std::thread::sleep(SETTLED);
    stamp_now(&cache);
    assert!(cache.get(&dg).unwrap().verified);
    let stamp = cache.root().join("stamps/sha256").join(dg.hex());
    let good = std::fs::read_to_string(&stamp).unwrap();
    let other = Digest::of(Algorithm::Sha256, b"other");
    std::fs::write(&stamp, good.replace(dg.hex(), other.hex())).unwrap();
    assert!(!cache.get(&dg).unwrap().verified, "a stamp of another digest");
    std::fs::write(&stamp, b"v2 1 2 3 4 5\n").unwrap();
    assert!(!cache.get(&dg).unwrap().verified, "a stamp of another file");
    cache.remove(&dg);
    assert!(cache.get(&dg).is_none());
    assert!(!stamp.exists(), "its stamp went too");
}

/// What a signature check kept for `--offline`: a small blob by digest (an entry of that size
/// already there left as it is), and a referrers list remembered under a record no tag can be.
#[test]
fn small_blobs_and_referrers_lists_are_kept_for_offline() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let bundle = b"{\"bundle\":1}";
    let dg = Digest::of(Algorithm::Sha256, bundle);
    cache.put_bytes(&dg, bundle).unwrap();
    assert_eq!(std::fs::read(cache.path(&dg)).unwrap(), bundle);
    let ino = Node::of_file(&File::open(cache.path(&dg)).unwrap()).unwrap().ino;
    cache.put_bytes(&dg, bundle).unwrap();
    let again = Node::of_file(&File::open(cache.path(&dg)).unwrap()).unwrap().ino;
    assert_eq!(ino, again, "an entry already there is not replaced");
    let subject = Digest::of(Algorithm::Sha256, b"subject");
    let list = Digest::of(Algorithm::Sha256, b"list");
    cache.remember_referrers("r.example", "app", &subject, &list).unwrap();
    assert_eq!(cache.remembered_referrers("r.example", "app", &subject), Some(list.clone()));
    assert_eq!(cache.remembered_referrers("r.example", "other", &subject), None);
    assert_eq!(cache.remembered_tag("r.example", "app", &subject.to_string()), None);
}

/// `put_bytes` never writes through what is at the entry's name: a symlink to a file elsewhere
/// is replaced by a file of its own (the target untouched), and a hard link of that size is left
/// as it is, never written into (the offline check that hashes it refuses it if it is wrong).
#[test]
fn put_bytes_never_writes_through_a_planted_link() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let bundle = b"{\"bundle\":2}";
    let dg = Digest::of(Algorithm::Sha256, bundle);
    let victim = d.path().join("victim");
    std::fs::write(&victim, b"victim's own").unwrap();
    std::fs::create_dir_all(cache.path(&dg).parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, cache.path(&dg)).unwrap();
    cache.put_bytes(&dg, bundle).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"victim's own");
    assert!(std::fs::symlink_metadata(cache.path(&dg)).unwrap().is_file());
    assert_eq!(std::fs::read(cache.path(&dg)).unwrap(), bundle);
    let same_size = vec![b'x'; bundle.len()];
    std::fs::write(&victim, &same_size).unwrap();
    std::fs::remove_file(cache.path(&dg)).unwrap();
    std::fs::hard_link(&victim, cache.path(&dg)).unwrap();
    cache.put_bytes(&dg, bundle).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), same_size, "never written into");
}

#[test]
fn prune_sweeps_the_temporary_files_killed_runs_left_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    put_bytes(&cache, d.path(), b"an entry");
    let blobs = cache.root().join("blobs/sha256");
    let day_ago = SystemTime::now() - std::time::Duration::from_secs(25 * 3600);
    let old = |name: &str| {
        let f = File::create(blobs.join(name)).unwrap();
        f.set_modified(day_ago).unwrap();
    };
    old(".tmp-abc-1-2-3");
    std::fs::write(blobs.join(".tmp-live-1-2-4"), b"a run writing now").unwrap();
    old(".not-ours-either");
    // A leftover name that is a symlink to the user's file: the link may go, never its target.
    let precious = d.path().join("precious");
    std::fs::write(&precious, b"mine").unwrap();
    std::os::unix::fs::symlink(&precious, blobs.join(".tmp-link-1-2-5")).unwrap();
    cache.prune(u64::MAX).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    left.sort();
    assert_eq!(left, [".not-ours-either", ".tmp-link-1-2-5", ".tmp-live-1-2-4"]);
    assert_eq!(std::fs::read(&precious).unwrap(), b"mine");
}

/// Stamps are swept as entries are: a killed run's temporary stamp, and the stamp of an entry
/// someone deleted; a live entry's stamp, a file that is no stamp's name and the target of a
/// symlink named like a stamp stay.
#[test]
fn prune_sweeps_stamps_left_without_their_entry() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let kept = put_bytes(&cache, d.path(), b"kept");
    let gone = put_bytes(&cache, d.path(), b"gone");
    std::thread::sleep(SETTLED);
    for dg in [&kept, &gone] {
        let e = cache.get(dg).unwrap();
        cache.stamp(dg, &e.file, Before::settled(&e.file)).unwrap();
    }
    assert!(cache.get(&kept).unwrap().verified && cache.get(&gone).unwrap().verified);
    std::fs::remove_file(cache.path(&gone)).unwrap();
    let stamps = cache.root().join("stamps/sha256");
    let old = File::create(stamps.join(".tmp-abc-1-2-3")).unwrap();
    old.set_modified(SystemTime::now() - std::time::Duration::from_secs(25 * 3600)).unwrap();
    std::fs::write(stamps.join("notes.txt"), b"not a stamp").unwrap();
    let precious = d.path().join("precious");
    std::fs::write(&precious, b"mine").unwrap();
    let orphan_link = Digest::of(Algorithm::Sha256, b"never cached");
    std::os::unix::fs::symlink(&precious, stamps.join(orphan_link.hex())).unwrap();
    cache.prune(u64::MAX).unwrap();
    let left = sorted_names(&stamps);
    let mut want = vec![kept.hex().to_owned(), orphan_link.hex().to_owned(), "notes.txt".into()];
    want.sort();
    assert_eq!(left, want, "the orphan stamp and the leftover went");
    assert_eq!(std::fs::read(&precious).unwrap(), b"mine");
    assert!(cache.get(&kept).unwrap().verified);
    // The whole directory of entries deleted by hand: its stamps are all orphans.
    std::fs::remove_dir_all(cache.root().join("blobs/sha256")).unwrap();
    cache.prune(u64::MAX).unwrap();
    let left: Vec<_> =
        std::fs::read_dir(&stamps).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "the symlink and notes.txt stay: {left:?}");
    assert!(!stamps.join(kept.hex()).exists());
}

/// sha512 entries get the same sweep: the stamp of a gone entry goes, a live one's stays, and
/// a name of sha256's length in `stamps/sha512` (no sha512 stamp's name) is left.
#[test]
fn prune_sweeps_sha512_stamps_by_sha512_names() {
    let d = tempfile::tempdir().unwrap();
    let cache = Cache::new(d.path().join("c"));
    let mut dgs = Vec::new();
    for data in [&b"kept"[..], b"gone"] {
        let src = d.path().join("src");
        std::fs::write(&src, data).unwrap();
        let dg = Digest::of(Algorithm::Sha512, data);
        cache.put(&dg, &File::open(&src).unwrap(), &src).unwrap();
        dgs.push(dg);
    }
    std::thread::sleep(SETTLED);
    for dg in &dgs {
        let e = cache.get(dg).unwrap();
        cache.stamp(dg, &e.file, Before::settled(&e.file)).unwrap();
        assert!(cache.get(dg).unwrap().verified);
    }
    std::fs::remove_file(cache.path(&dgs[1])).unwrap();
    let stamps = cache.root().join("stamps/sha512");
    let short = Digest::of(Algorithm::Sha256, b"short").hex().to_owned();
    std::fs::write(stamps.join(&short), b"not a sha512 stamp").unwrap();
    cache.prune(u64::MAX).unwrap();
    let left = sorted_names(&stamps);
    let mut want = vec![dgs[0].hex().to_owned(), short];
    want.sort();
    assert_eq!(left, want);
    assert!(cache.get(&dgs[0]).unwrap().verified);
}
