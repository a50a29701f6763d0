//! `WWW-Authenticate` parsing (RFC 7235 §4.1). Pure, so that it can be table-tested.

use std::collections::BTreeMap;

/// One challenge: a scheme (lowercased) and its parameters (keys lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Parse every challenge in one header value. Malformed parts are skipped, never a panic:
/// the registry is untrusted input.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser { s: header.as_bytes(), i: 0 };
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let Some(token) = p.token() else { break };
        p.skip(|b| b == b' ' || b == b'\t');
        if p.peek() == Some(b'=') {
            // `key=value` belongs to the current challenge.
            p.i += 1;
            p.skip(|b| b == b' ' || b == b'\t');
            let value = p.value();
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), value);
            }
        } else {
            out.push(Challenge { scheme: token.to_ascii_lowercase(), params: BTreeMap::new() });
        }
        if p.i < p.s.len()
            && p.token_peek().is_none()
            && !matches!(p.peek(), Some(b' ' | b'\t' | b','))
        {
            p.i += 1; // skip a stray byte
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    fn token_peek(&self) -> Option<()> {
        self.peek().filter(|b| is_tchar(*b)).map(|_| ())
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        self.skip(is_tchar);
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn value(&mut self) -> String {
        if self.peek() != Some(b'"') {
            let start = self.i;
            self.skip(|b| b != b',' && b != b' ' && b != b'\t');
            return String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        }
        self.i += 1;
        let mut v = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        v.push(n);
                        self.i += 1;
                    }
                }
                _ => v.push(b),
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(h: &str) -> Challenge {
        let v = parse(h);
        assert_eq!(v.len(), 1, "{h}: {v:?}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn table() {
        let c = one(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/alpine:pull"));

        let c = one(r#"Basic realm="Registry Realm""#);
        assert_eq!((c.scheme.as_str(), c.param("realm")), ("basic", Some("Registry Realm")));

        let c =
            one(r#"bearer REALM=https://x/t , Service = "a\"b",scope="repository:a:pull,push""#);
        assert_eq!(c.param("realm"), Some("https://x/t"));
        assert_eq!(c.param("service"), Some("a\"b"));
        assert_eq!(c.param("scope"), Some("repository:a:pull,push"));

        let v = parse(r#"Basic realm="r", Bearer realm="https://t",service="s""#);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].scheme, "bearer");
        assert_eq!(v[1].param("service"), Some("s"));

        assert_eq!(one("Basic").params.len(), 0);
        assert!(parse("").is_empty());
        assert!(parse(",,, ").is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for h in ["=", "\"", "Bearer realm=\"unterminated", "Bearer ==,=\"", "\u{1F600} x=y", "a=b"]
        {
            let _ = parse(h);
        }
        assert_eq!(one("Bearer realm=\"unterminated").param("realm"), Some("unterminated"));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = super::parse(&s);
        }

        #[test]
        fn quoted_values_survive(realm in "[ -~&&[^\"\\\\]]{0,40}", service in "[a-z.]{1,20}") {
            let h = format!("Bearer realm=\"{realm}\",service=\"{service}\"");
            let c = super::parse(&h);
            prop_assert_eq!(c.len(), 1);
            prop_assert_eq!(c[0].param("realm"), Some(realm.as_str()));
            prop_assert_eq!(c[0].param("service"), Some(service.as_str()));
        }
    }
}
