use super::*;
use crate::digest::Digest;
use crate::events::Silent;

// `minisign -G -W`, then `minisign -S -m hello.txt -t 'release v1'` over "hello\n".
const PUB: &str = "RWQ0R2UuoJ+OU3O8+pxCZUXuunaSfLlFGURTcsjpsqw9B4e9jzUp7V6n";
const SIG: &str = "untrusted comment: signature from minisign secret key\n\
RUQ0R2UuoJ+OU4hYSk/UEBejd8DSNIip5vUF+K8ZqCwyd4526mZQ46SZ88xL1g7Rb9R7VM2hpSpKJWWfCSrjdUYJC7CJKbuYqAA=\n\
trusted comment: release v1\n\
iR8V04eSiismUN5K2x4CK4eaM8guyXw95O4A3tbmuDvPLSeYjgcL5zWRoCCe/aAUd8gRktfTsR8QmYgk+bE6DQ==\n";
// Another key, from the minisign-verify crate's own test.
const OTHER: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

fn key(b64: &str) -> PublicKey {
    PublicKey::from_base64(b64).unwrap()
}

fn desc(bytes: &[u8]) -> Descriptor {
    serde_json::from_value(serde_json::json!({
        "mediaType": "application/octet-stream",
        "digest": Digest::of(Algorithm::Sha256, bytes).to_string(),
        "size": bytes.len(),
    }))
    .unwrap()
}

#[test]
fn streaming_verify_accepts_the_signed_bytes_only() {
    let k = key(PUB);
    let sig = decode(SIG.as_bytes(), "hello.txt.minisig").unwrap();
    assert_eq!(sig.trusted_comment(), "release v1");
    verify_reader(&k, &sig, &mut &b"hello\n"[..], "hello.txt", "hello.txt.minisig").unwrap();
    let e = verify_reader(&k, &sig, &mut &b"hellO\n"[..], "hello.txt", "hello.txt.minisig")
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Signature);
    assert!(e.to_string().contains("does not match its bytes"), "{e}");
}

#[test]
fn truncated_and_foreign_signatures_are_refused() {
    let half = &SIG.as_bytes()[..SIG.len() / 2];
    let e = decode(half, "a.minisig").err().unwrap();
    assert!(e.to_string().contains("a.minisig is not a valid minisign signature"), "{e}");
    let sig = decode(SIG.as_bytes(), "a.minisig").unwrap();
    let other = key(OTHER);
    let e = key_for(&[&other], &sig, "a.minisig").unwrap_err();
    assert!(e.to_string().contains("another key"), "{e}");
    let mine = key(PUB);
    assert_eq!(key_for(&[&other, &mine], &sig, "a.minisig").unwrap(), 1);
}

#[test]
fn only_the_four_lines_minisign_writes_decode() {
    assert!(decode(SIG.as_bytes(), "s").is_ok());
    assert!(decode(SIG.trim_end().as_bytes(), "s").is_ok(), "no final newline");
    assert!(decode(SIG.replace('\n', "\r\n").as_bytes(), "s").is_ok(), "CRLF");
    let tabs = SIG.replace("trusted comment: release v1", "trusted comment: timestamp:1\tfile:x");
    assert!(decode(tabs.as_bytes(), "s").is_ok(), "minisign's default comment has tabs");
    let bad = [
        format!("{SIG}\0\0\0"),
        format!("{SIG}more\n"),
        format!("{SIG}\n"),
        SIG.replacen("untrusted comment:", "comment:", 1),
        SIG.replacen("untrusted comment: signature", "untrusted comment: a\0b", 1),
    ];
    for text in bad {
        let e = decode(text.as_bytes(), "s.sig").err().unwrap();
        assert!(e.to_string().starts_with("s.sig is not a valid minisign signature"), "{e}");
    }
    assert!(describes_other_files("app.txt.sig") && describes_other_files("SHA256SUMS"));
    assert!(!describes_other_files(".sig") && !describes_other_files("app.tar.gz"));
}

#[test]
fn the_default_trusted_comment_names_the_signed_file() {
    assert_eq!(signed_file("timestamp:1700000000\tfile:app.tar.gz\thashed"), Some("app.tar.gz"));
    assert_eq!(signed_file("timestamp:1700000000\tfile:app.tar.gz"), Some("app.tar.gz"));
    assert_eq!(signed_file("release v1"), None);
}

#[test]
fn checksum_lines_in_both_styles() {
    let h = "ab".repeat(32);
    let text =
        format!("{h}  app.tar.gz\n{h} *./bin/x\nSHA256 (y z) = {}\njunk line\n", h.to_uppercase());
    let got = checksums(&text);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["app.tar.gz", "bin/x", "y z"]);
    assert!(got.iter().all(|(_, x)| *x == h));
    assert!(is_checksum_list("SHA256SUMS") && is_checksum_list("tool_1.0_checksums.txt"));
    assert!(!is_checksum_list("app.tar.gz"));
}

#[test]
fn plan_needs_a_signature_for_every_selected_file() {
    let k = key(PUB);
    let hello = desc(b"hello\n");
    let sigd = desc(SIG.as_bytes());
    let fetch = |d: &Descriptor, _: &str| -> Result<Vec<u8>, Error> {
        Ok(if d.digest == sigd.digest { SIG.as_bytes().to_vec() } else { b"hello\n".to_vec() })
    };
    let layers = vec![
        ("hello.txt".to_owned(), hello.clone()),
        ("hello.txt.minisig".to_owned(), sigd.clone()),
        ("other.bin".to_owned(), desc(b"other")),
    ];
    let sel = vec![layers[0].clone(), layers[1].clone()];
    let covers = plan(&[&k], &layers, &sel, &fetch, &Silent).unwrap();
    assert!(matches!(covers[0], Cover::Bytes { key: 0, .. }));
    assert!(matches!(covers[1], Cover::SignatureOf { of: 0, key: 0, .. }));
    let e = plan(&[&k], &layers, &layers[2..], &fetch, &Silent).err().unwrap();
    assert!(e.to_string().starts_with("other.bin is not signed"), "{e}");
}
