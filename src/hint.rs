//! What the user can do about an error, named in the engine's own terms: each front end words it
//! its own way (the CLI names its flags, see `src/cli/hints.rs`), so the engine never names a
//! command-line option.

/// A suggestion an [`Error`](crate::Error) carries. [`Hint::advice`] words it for a library
/// user; [`Error::render`](crate::Error::render) lets a front end put its own words in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hint {
    /// The registry asks for credentials: [`ClientOptions::credentials`](crate::ClientOptions).
    Credentials,
    /// Credentials raise an anonymous pull quota.
    LogIn,
    /// A small answer missed [`ClientOptions::deadline`](crate::ClientOptions).
    Deadline,
    /// The registry's certificate is not trusted: give its CA, or turn verification off.
    CaFile,
    /// Garbage instead of a TLS handshake: the registry may speak only plain HTTP.
    PlainHttp,
    /// An archive unpacks to more than [`ExtractOptions::max_unpacked`](crate::ExtractOptions).
    UnpackLimit,
    /// A file exists with other content: choose another [`Overwrite`](crate::Overwrite) policy.
    Overwrite,
    /// Pull one platform (or the host's), not several.
    OnePlatform,
    /// Several platforms need a directory each: not a stream, not a referrer pull.
    SeveralPlatforms,
    /// A streamed pull ([`pull_stream`](crate::pull_stream)) cannot hold bytes back until
    /// signatures verify: pull into a directory.
    StreamUnverified,
    /// A streamed pull writes one layer: narrow the selection with a filter.
    StreamOneLayer,
    /// A signature was made with none of the keys given.
    VerifyKeys,
    /// Names a verification key the way the front end took it (the CLI: `--verify-key`).
    VerifyKey,
    /// Names an extra mirror ([`Mirrors::load`](crate::Mirrors::load)) the way the front end
    /// took it (the CLI: `--mirror`).
    ExtraMirror,
}

impl Hint {
    /// The advice in a library user's terms: the words the message carries by default.
    pub fn advice(self) -> &'static str {
        match self {
            Hint::Credentials => "give ClientOptions::credentials, or log in with docker login",
            Hint::LogIn => "with credentials or docker login",
            Hint::Deadline => "see ClientOptions::deadline",
            Hint::CaFile => {
                "give the registry's CA as ClientOptions::ca_file, or as a last resort set \
                 ClientOptions::insecure, which turns verification off"
            }
            Hint::PlainHttp => {
                "if the registry only speaks HTTP, ClientOptions::plain_http reaches it, in \
                 cleartext"
            }
            Hint::UnpackLimit => "raise ExtractOptions::max_unpacked",
            Hint::Overwrite => "choose Overwrite::Force or Overwrite::Skip",
            Hint::OnePlatform => "pull it with Platforms::One or Platforms::Host",
            Hint::SeveralPlatforms => "not with a streamed pull or a referrer pull",
            Hint::StreamUnverified => {
                "a streamed pull writes bytes before they are verified: with verification keys, \
                 pull into a directory"
            }
            Hint::StreamOneLayer => "a streamed pull writes one layer",
            Hint::VerifyKeys => "the verification key(s) given",
            Hint::VerifyKey => "verification key",
            Hint::ExtraMirror => "extra mirror",
        }
    }
}
