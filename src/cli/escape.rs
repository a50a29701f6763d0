//! Registry strings on a terminal: control characters and bidi overrides are shown escaped, so
//! a title cannot move the cursor, retitle the terminal, forge a line or reverse the text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with C0 controls, DEL, C1 controls and bidi embeddings, overrides and isolates written
/// as `\x1b` or `\u{202e}`; everything else as is. Every line the front end prints for people
/// goes through this.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(dangerous) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            c if !dangerous(c) => out.push(c),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

fn dangerous(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("plain-name_1.2.tar.gz", "plain-name_1.2.tar.gz"),
            ("ünïcødé ✓ 名前", "ünïcødé ✓ 名前"),
            ("a\x1b]0;pwned\x07b", r"a\x1b]0;pwned\x07b"),
            ("\r✓ trusted.bin\n", r"\x0d✓ trusted.bin\x0a"),
            ("tab\there", r"tab\x09here"),
            ("nul\0", r"nul\x00"),
            ("del\x7f", r"del\x7f"),
            ("c1\u{9b}31m", r"c1\u{9b}31m"),
            ("\u{85}\u{80}", r"\u{85}\u{80}"),
            ("evil\u{202e}txt.exe", r"evil\u{202e}txt.exe"),
            ("\u{202a}\u{2066}\u{2069}", r"\u{202a}\u{2066}\u{2069}"),
            ("\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}", r"\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}"),
            ("\u{a0}\u{2065}\u{206a}\u{202f}", "\u{a0}\u{2065}\u{206a}\u{202f}"),
            (r"back\slash", r"back\slash"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
        assert!(matches!(escape("clean"), Cow::Borrowed(_)), "no copy when nothing to escape");
    }
}
