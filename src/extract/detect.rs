//! What an archive is, decided by its bytes: the compression by its magic, a tar by `ustar` in
//! the first decompressed block, a zip by `PK`. Media types and names only hint.

use std::io::{BufReader, Read};

use super::decode_error;
use crate::error::{Error, ErrorKind};

/// A compression around a stream, found by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar, maybe compressed: unpacked while it downloads.
    Tar(Compression),
    /// One compressed file, decompressed to its name without the suffix.
    Single(Compression),
    /// A zip: its directory is at the end, so it is unpacked from the verified file.
    Zip,
}

/// The media type `oras push` gives every file (oras-go `content/file/file.go`).
pub const ORAS_FILE_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
pub(super) const ZIP_MAGICS: [&[u8]; 3] = [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"];

/// Names by suffix, longest first where one ends another.
const SUFFIXES: [(&str, Format); 14] = [
    (".tar.gz", Format::Tar(Compression::Gzip)),
    (".tgz", Format::Tar(Compression::Gzip)),
    (".tar.zst", Format::Tar(Compression::Zstd)),
    (".tzst", Format::Tar(Compression::Zstd)),
    (".tar.xz", Format::Tar(Compression::Xz)),
    (".txz", Format::Tar(Compression::Xz)),
    (".tar.bz2", Format::Tar(Compression::Bzip2)),
    (".tbz2", Format::Tar(Compression::Bzip2)),
    (".tbz", Format::Tar(Compression::Bzip2)),
    (".tar", Format::Tar(Compression::None)),
    (".zip", Format::Zip),
    (".gz", Format::Single(Compression::Gzip)),
    (".zst", Format::Single(Compression::Zstd)),
    (".xz", Format::Single(Compression::Xz)),
];
/// Single-file suffixes (and `.bz2`, which does not fit the table above's tar rows).
const SINGLE_SUFFIXES: [&str; 4] = [".gz", ".zst", ".xz", ".bz2"];

impl Format {
    /// Guess from the media type, then the name's suffix.
    pub fn guess(media_type: &str, name: &str) -> Option<Format> {
        let mt = media_type.to_ascii_lowercase();
        let by_type = if mt.ends_with(".tar+gzip")
            || mt.ends_with("tar.gzip")
            || mt == "application/x-gtar"
        {
            Some(Format::Tar(Compression::Gzip))
        } else if mt.ends_with(".tar+zstd") {
            Some(Format::Tar(Compression::Zstd))
        } else if mt.ends_with("tar+xz") {
            Some(Format::Tar(Compression::Xz))
        } else if mt.ends_with("tar+bzip2") {
            Some(Format::Tar(Compression::Bzip2))
        } else if mt.ends_with(".tar") || mt == "application/x-tar" {
            Some(Format::Tar(Compression::None))
        } else if mt == "application/zip" || mt == "application/x-zip-compressed" {
            Some(Format::Zip)
        } else if mt == "application/gzip" || mt == "application/x-gzip" {
            Some(Format::Single(Compression::Gzip))
        } else if mt == "application/zstd" {
            Some(Format::Single(Compression::Zstd))
        } else if mt == "application/x-xz" {
            Some(Format::Single(Compression::Xz))
        } else if mt == "application/x-bzip2" {
            Some(Format::Single(Compression::Bzip2))
        } else {
            None
        };
        by_type.or_else(|| {
            let n = name.to_ascii_lowercase();
            SUFFIXES
                .iter()
                .find(|(s, _)| n.ends_with(s))
                .map(|(_, f)| *f)
                .or_else(|| n.ends_with(".bz2").then_some(Format::Single(Compression::Bzip2)))
        })
    }

    pub fn is_tar(self) -> bool {
        matches!(self, Format::Tar(_))
    }

    /// The suffix an archive of this format is kept under.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Tar(Compression::None) => "tar",
            Format::Tar(Compression::Zstd) => "tar.zst",
            Format::Tar(Compression::Xz) => "tar.xz",
            Format::Tar(Compression::Bzip2) => "tar.bz2",
            Format::Zip => "zip",
            _ => "tar.gz",
        }
    }
}

/// The name a single compressed file decompresses to: its own without the suffix.
pub fn decompressed_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    SINGLE_SUFFIXES
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(name.to_owned(), |s| name[..name.len() - s.len()].to_owned())
}

/// What a layer's media type and name say about its bytes. Only a hint: [`sniff`] decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hint {
    /// The media type or name says tar: an all-zero first block is an empty tar.
    pub tar: bool,
    /// The name ends in a compression suffix (`.gz`, `.zst`, `.xz`, `.bz2`): a compressed
    /// stream that is not a tar is one file, decompressed to the name without the suffix.
    pub single: bool,
}

impl Hint {
    /// A layer known to be a tar whatever its name: an oras directory, an image layer.
    pub const TAR: Hint = Hint { tar: true, single: false };

    /// The hint for a layer.
    pub fn of(media_type: &str, name: &str) -> Hint {
        // `oras push` gives every file the plain layer type: it says nothing about the bytes.
        let typed = if media_type == ORAS_FILE_TYPE { "" } else { media_type };
        let single = matches!(Format::guess("", name), Some(Format::Single(_)));
        Hint { tar: !single && Format::guess(typed, name).is_some_and(Format::is_tar), single }
    }
}

/// The most memory an xz stream may make the decoder take (`xz -9` needs 65 MiB).
pub(super) const XZ_MEMORY: u64 = 256 << 20;

/// A format found by [`sniff`], and the decompressed stream from its first byte.
pub(super) type Sniffed<'a> = (Format, Box<dyn Read + 'a>);

/// Decide what the bytes of `input` are by their magic: the compression by the stream's own
/// first bytes, a tar by "ustar" in the decompressed first block (the media type `oras push`
/// gives every file, `…layer.v1.tar`, says nothing). `None`: not an archive. The reader yields
/// the decompressed stream from its first byte.
pub(super) fn sniff<'a>(
    input: impl Read + 'a,
    hint: Hint,
    name: &str,
) -> Result<Option<Sniffed<'a>>, Error> {
    let mut input = input;
    let mut head = Vec::with_capacity(512);
    (&mut input).take(512).read_to_end(&mut head).map_err(|e| decode_error(name, e))?;
    if ZIP_MAGICS.iter().any(|m| head.starts_with(m)) {
        return Ok(Some((Format::Zip, Box::new(std::io::Cursor::new(head).chain(input)))));
    }
    let compression = if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if head.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Compression::Bzip2
    } else {
        Compression::None
    };
    let raw = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(input));
    let mut decoded: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| Error::new(ErrorKind::Other, "start zstd decoder").with_source(e))?,
        ),
        // A hostile stream may ask for a dictionary of gigabytes: bounded as xz's own presets.
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| Error::new(ErrorKind::Other, "start xz decoder").with_source(e))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(raw, stream))
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(raw)),
    };
    let mut block = Vec::with_capacity(512);
    (&mut decoded).take(512).read_to_end(&mut block).map_err(|e| decode_error(name, e))?;
    // POSIX and GNU tars have "ustar" at 257; an empty tar is all zeros.
    let tar = block.get(257..262) == Some(b"ustar")
        || (hint.tar && block.len() >= 512 && block.iter().all(|b| *b == 0));
    let format = match (compression, tar) {
        (c, true) => Format::Tar(c),
        (Compression::None, false) => return Ok(None),
        (c, false) if hint.single => Format::Single(c),
        _ => return Ok(None),
    };
    Ok(Some((format, Box::new(std::io::Cursor::new(block).chain(decoded)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_guessing_table() {
        use Compression::*;
        let oct = "application/octet-stream";
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar+gzip", "x", Some(Format::Tar(Gzip))),
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", "x", Some(Format::Tar(Gzip))),
            ("application/vnd.oci.image.layer.v1.tar+zstd", "x", Some(Format::Tar(Zstd))),
            ("application/vnd.oci.image.layer.v1.tar", "x", Some(Format::Tar(None))),
            ("application/zip", "x", Some(Format::Zip)),
            ("application/x-xz", "x", Some(Format::Single(Xz))),
            ("application/x-bzip2", "x", Some(Format::Single(Bzip2))),
            (oct, "a.tar.gz", Some(Format::Tar(Gzip))),
            (oct, "a.TGZ", Some(Format::Tar(Gzip))),
            (oct, "a.tar.zst", Some(Format::Tar(Zstd))),
            (oct, "a.tzst", Some(Format::Tar(Zstd))),
            (oct, "a.tar.xz", Some(Format::Tar(Xz))),
            (oct, "a.txz", Some(Format::Tar(Xz))),
            (oct, "a.tar.bz2", Some(Format::Tar(Bzip2))),
            (oct, "a.tbz2", Some(Format::Tar(Bzip2))),
            (oct, "a.tbz", Some(Format::Tar(Bzip2))),
            (oct, "a.tar", Some(Format::Tar(None))),
            (oct, "a.zip", Some(Format::Zip)),
            (oct, "a.gz", Some(Format::Single(Gzip))),
            (oct, "a.zst", Some(Format::Single(Zstd))),
            (oct, "a.xz", Some(Format::Single(Xz))),
            (oct, "a.bz2", Some(Format::Single(Bzip2))),
            (oct, "a.txt", Option::None),
        ];
        for (mt, name, want) in cases {
            assert_eq!(Format::guess(mt, name), want, "{mt} {name}");
        }
        assert_eq!(decompressed_name("notes.txt.XZ"), "notes.txt");
        assert_eq!(decompressed_name("a.bz2"), "a");
    }

    #[test]
    fn magic_bytes_decide() {
        let tar = {
            let mut b = ::tar::Builder::new(Vec::new());
            let mut h = ::tar::Header::new_gnu();
            h.set_size(2);
            h.set_cksum();
            b.append_data(&mut h, "a", &b"hi"[..]).unwrap();
            b.into_inner().unwrap()
        };
        let gz = |d: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, d).unwrap();
            e.finish().unwrap()
        };
        let zst = |d: &[u8]| zstd::encode_all(d, 1).unwrap();
        let xz = |d: &[u8]| {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            std::io::Write::write_all(&mut w, d).unwrap();
            w.finish().unwrap()
        };
        let bz = |d: &[u8]| {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            std::io::Write::write_all(&mut w, d).unwrap();
            w.finish().unwrap()
        };
        let none = Hint::default();
        let single = Hint { tar: false, single: true };
        let cases: Vec<(&str, Vec<u8>, Hint, Option<Format>)> = vec![
            ("tar, no hint", tar.clone(), none, Some(Format::Tar(Compression::None))),
            ("tar.gz, no hint", gz(&tar), none, Some(Format::Tar(Compression::Gzip))),
            ("tar.zst, no hint", zst(&tar), none, Some(Format::Tar(Compression::Zstd))),
            ("tar.xz, no hint", xz(&tar), none, Some(Format::Tar(Compression::Xz))),
            ("tar.bz2, no hint", bz(&tar), none, Some(Format::Tar(Compression::Bzip2))),
            ("tar.gz named .gz", gz(&tar), single, Some(Format::Tar(Compression::Gzip))),
            (
                "gzip of text named .gz",
                gz(b"text"),
                single,
                Some(Format::Single(Compression::Gzip)),
            ),
            (
                "zstd of text named .zst",
                zst(b"text"),
                single,
                Some(Format::Single(Compression::Zstd)),
            ),
            ("xz of text named .xz", xz(b"text"), single, Some(Format::Single(Compression::Xz))),
            (
                "bzip2 of text named .bz2",
                bz(b"text"),
                single,
                Some(Format::Single(Compression::Bzip2)),
            ),
            ("xz of text, no suffix", xz(b"text"), none, None),
            ("gzip of text, no suffix", gz(b"text"), none, None),
            ("text", b"just text".to_vec(), Hint { tar: true, single: true }, None),
            ("zeros named .tar", vec![0; 1024], Hint::TAR, Some(Format::Tar(Compression::None))),
            ("zeros, no hint", vec![0; 1024], none, None),
            ("zip", b"PK\x03\x04rest".to_vec(), none, Some(Format::Zip)),
        ];
        for (what, bytes, hint, want) in cases {
            let got = sniff(&bytes[..], hint, "x").unwrap().map(|(f, mut r)| {
                let mut out = Vec::new();
                r.read_to_end(&mut out).unwrap();
                assert!(!out.is_empty(), "{what}: the stream starts at its first byte");
                f
            });
            assert_eq!(got, want, "{what}");
        }
    }
}
