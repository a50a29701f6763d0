//! PEM blocks (RFC 7468 §2-3) of public material, certificates: the base64 between
//! `-----BEGIN label-----` and `-----END label-----`, whitespace dropped, decoded with the
//! base64 crate's fast engine. Every run reads the system's CA bundle (about 140 roots); through
//! rustls-pki-types' constant-time decoder, made for private keys, that took 0.6-0.8 ms of a
//! 7 ms re-pull, and the `pem` crate's parser was slower still.

use base64::Engine as _;

/// The DER bytes of each `label` block of `text`, in order; a block whose body is not base64
/// (or that never ends) is passed over, as rustls' reader passes over what it cannot use.
pub(crate) fn blocks<'a>(text: &'a str, label: &str) -> impl Iterator<Item = Vec<u8>> + 'a {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut rest = text;
    let mut body = String::new();
    std::iter::from_fn(move || {
        loop {
            let start = rest.find(&begin)? + begin.len();
            let len = rest[start..].find(&end)?;
            let inner = &rest[start..start + len];
            rest = &rest[start + len + end.len()..];
            body.clear();
            body.extend(inner.chars().filter(|c| !c.is_ascii_whitespace()));
            if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&body) {
                return Some(der);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::blocks;

    #[test]
    fn certificates_among_other_blocks_and_text() {
        let text = "a bundle's comment\n-----BEGIN CERTIFICATE-----\nAAEC\r\nAw==\n-----END CERTIFICATE-----\n\
            -----BEGIN PRIVATE KEY-----\nBAU=\n-----END PRIVATE KEY-----\n\
            -----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n\
            -----BEGIN CERTIFICATE-----\nBgc=\n-----END CERTIFICATE-----\n\
            -----BEGIN CERTIFICATE-----\nCAk=\n";
        let got: Vec<Vec<u8>> = blocks(text, "CERTIFICATE").collect();
        assert_eq!(
            got,
            [vec![0, 1, 2, 3], vec![6, 7]],
            "the key, the broken and the unended skipped"
        );
        assert_eq!(blocks("", "CERTIFICATE").count(), 0);
    }
}
