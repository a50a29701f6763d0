//! The engine's [`Hint`]s in the command line's words: the flags that act on them.

use oci_dl::Hint;

/// `hint` as the CLI words it, for [`oci_dl::Error::render`].
pub fn advice(hint: Hint) -> &'static str {
    match hint {
        Hint::Credentials => {
            "use -u/--password-stdin, OCI_DL_USERNAME/OCI_DL_PASSWORD or docker login"
        }
        Hint::LogIn => "-u/--password-stdin or docker login",
        Hint::Deadline => "see --deadline",
        Hint::CaFile => {
            "pass the registry's CA with --ca-file FILE, or as a last resort --insecure, which \
             turns verification off"
        }
        Hint::PlainHttp => {
            "if the registry only speaks HTTP, --plain-http reaches it, in cleartext"
        }
        Hint::UnpackLimit => "raise the limit with --max-unpacked-size",
        Hint::Overwrite => "use --overwrite force or skip",
        Hint::OnePlatform => "pull it with one --platform or none",
        Hint::SeveralPlatforms => "not with -o - or --referrer",
        Hint::StreamUnverified => {
            "-o - streams bytes before they are verified: with --verify-key, use -o DIR"
        }
        Hint::StreamOneLayer => "-o - writes one layer",
        Hint::VerifyKeys => "the one(s) given with --verify-key",
        Hint::VerifyKey => "--verify-key",
        Hint::ExtraMirror => "--mirror",
        // A hint newer than this front end: the engine's own words.
        other => other.advice(),
    }
}

/// An engine error on one line, as the CLI shows it: causes chained, hints in flag names.
pub fn render(e: &oci_dl::Error) -> String {
    e.render(advice)
}
