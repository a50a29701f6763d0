//! Zip members compressed with LZMA (method 14) or xz (method 95), decoded by liblzma, the
//! decoder tar.xz already uses, so that one LZMA implementation is built (zip's own would
//! bring lzma-rust2, 1.7 times slower on tar.xz). The zip reader hands these members over raw;
//! this reader decodes them, and checks the size and CRC-32 the central directory gives at
//! their end, as the zip reader does for the methods it decodes itself: an encrypted member is
//! refused (its raw bytes are not its content), and one that decodes past its size too.

use std::io::{self, Read};

use liblzma::read::XzDecoder;
use liblzma::stream::{Filters, Stream};
use zip::CompressionMethod;

use super::detect::XZ_MEMORY;
use crate::error::{Error, ErrorKind};

/// The largest LZMA dictionary a member may ask for: a hostile header must not make the
/// decoder allocate gigabytes (`xz -9` and 7-Zip's ultra use 64 MiB).
const MAX_DICT: u32 = 256 << 20;

/// Whether members of `method` are decoded here rather than by the zip reader.
pub(super) fn is_lzma(method: CompressionMethod) -> bool {
    method == CompressionMethod::LZMA || method == CompressionMethod::XZ
}

/// The decoded content of a member whose raw (compressed) bytes `raw` yields.
pub(super) fn decoder<'a>(
    method: CompressionMethod,
    mut raw: impl Read + 'a,
    size: u64,
    crc: u32,
    flags: u16,
    name: &str,
) -> Result<Checked<Box<dyn Read + 'a>>, Error> {
    let bad =
        |why: &str| Error::new(ErrorKind::Other, format!("{name}: corrupt zip archive: {why}"));
    // The zip reader checks this when it decodes; handing a member over raw skips the check.
    if flags & FLAG_ENCRYPTED != 0 {
        return Err(bad("an encrypted member (no password is given)"));
    }
    let stream = if method == CompressionMethod::XZ {
        // An .xz file: one stream or more, padding between (as tar.xz is read).
        Stream::new_stream_decoder(XZ_MEMORY, liblzma::stream::CONCATENATED)
    } else {
        // APPNOTE 5.8.8: version (2 bytes), properties size (2, little-endian: 5), then the
        // properties (lc/lp/pb, dictionary size) and the raw LZMA1 stream.
        let mut head = [0u8; 9];
        raw.read_exact(&mut head).map_err(|_| bad("LZMA header cut short"))?;
        if u16::from_le_bytes([head[2], head[3]]) != 5 {
            return Err(bad("LZMA properties of an unknown size"));
        }
        if u32::from_le_bytes([head[5], head[6], head[7], head[8]]) > MAX_DICT {
            return Err(bad("LZMA dictionary over 256 MiB"));
        }
        let mut filters = Filters::new();
        filters.lzma1_properties(&head[4..9]).map_err(|_| bad("bad LZMA properties"))?;
        Stream::new_raw_decoder(&filters)
    };
    let stream =
        stream.map_err(|e| Error::new(ErrorKind::Other, "start LZMA decoder").with_source(e))?;
    let decoded: Box<dyn Read + 'a> = Box::new(XzDecoder::new_stream(raw, stream));
    // xz streams end by themselves, and so does LZMA with its end marker (APPNOTE 4.4.4 bit 1,
    // as Python's zipfile and 7-Zip write it): anything decoded past the size is known to be
    // there. Without the marker the size is the end; nothing after it is the member's.
    let ends = method == CompressionMethod::XZ || flags & FLAG_LZMA_EOS != 0;
    Ok(Checked { inner: decoded, left: size, crc: flate2::Crc::new(), want: crc, ends })
}

/// General-purpose bit 0: the member is encrypted.
const FLAG_ENCRYPTED: u16 = 1;
/// General-purpose bit 1 of an LZMA member: its stream ends with an end-of-stream marker.
const FLAG_LZMA_EOS: u16 = 2;

/// A member's decoded bytes, no more than its size, checked against its size and CRC-32 once
/// they are all read.
pub(super) struct Checked<R> {
    inner: R,
    left: u64,
    crc: flate2::Crc,
    want: u32,
    /// Whether the stream must end at the size (checked once, then cleared).
    ends: bool,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // As the zip reader does for its own methods: a member larger than its size is
            // refused, not cut short to a prefix whose CRC-32 a hostile zipper could give.
            if std::mem::take(&mut self.ends) && self.inner.read(&mut [0u8; 1])? != 0 {
                return Err(bad("member larger than its declared size"));
            }
            // A stream without an end marker is done at its size: the decoder is not asked on.
            return match self.crc.sum() == self.want {
                true => Ok(0),
                false => Err(bad("CRC-32 mismatch")),
            };
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(bad("member shorter than its size"));
        }
        self.crc.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}
