//! The container of SPZ version 4: an uncompressed 32-byte header, optional extension records,
//! a table of contents and one ZSTD stream per attribute.
//!
//! | bytes | field |
//! |---|---|
//! | 0..16 | as in versions 2–3 (magic, version 4, points, SH degree, fractional bits, flags), except byte 15: the number of streams (5, or 6 with SH) |
//! | 16..20 | u32 offset of the table of contents (32 unless extension records sit between) |
//! | 20..32 | reserved, zero |
//! | 32..toc | extension records `[u32 type][u32 length][payload]`, only with flag `0x2` |
//! | toc.. | per stream, u64 compressed size and u64 uncompressed size |
//! | then | the ZSTD frames one after another: positions, alphas, colours, scales, rotations, SH |
//!
//! Every stream decompresses to the bytes that versions 2–3 store for that attribute (rotations
//! in the version-3 "smallest three" form), so [`super::spz`] decodes both containers alike.

use std::io::Read;

use ruzstd::decoding::StreamingDecoder;
use ruzstd::encoding::{compress_to_vec, CompressionLevel};

use super::error::FormatError;

/// Bytes of the version-4 header.
pub(super) const HEADER_LEN: usize = 32;
const TOC_ENTRY_LEN: usize = 16;

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

fn container_err(msg: String) -> FormatError {
    FormatError::SpzContainer(msg)
}

/// Splits a version-4 file into its extension block and the attribute bytes, concatenated in
/// the order of versions 2–3. `sizes` are the uncompressed bytes of each stream the header's
/// point count and SH degree call for; every stream must decompress to exactly its size.
pub(super) fn unpack<'a>(
    bytes: &'a [u8],
    sizes: &[usize],
    extensions: bool,
) -> Result<(&'a [u8], Vec<u8>), FormatError> {
    let num_streams = usize::from(bytes[15]);
    if num_streams != sizes.len() {
        return Err(container_err(format!(
            "the header lists {num_streams} streams; its SH degree needs {}",
            sizes.len()
        )));
    }
    let toc = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
    let toc_end = toc.checked_add(num_streams * TOC_ENTRY_LEN);
    let Some(toc_end) = toc_end.filter(|&end| toc >= HEADER_LEN && end <= bytes.len()) else {
        return Err(container_err(format!(
            "table of contents at byte {toc} ({num_streams} entries) lies outside the {}-byte file",
            bytes.len()
        )));
    };
    let ext = if extensions {
        &bytes[HEADER_LEN..toc]
    } else {
        &[][..]
    };
    let mut body = Vec::new();
    let mut at = toc_end;
    for (i, &want) in sizes.iter().enumerate() {
        let entry = toc + i * TOC_ENTRY_LEN;
        let (packed, unpacked) = u64_at(bytes, entry)
            .zip(u64_at(bytes, entry + 8))
            .ok_or_else(|| container_err(format!("table of contents entry {i} is cut short")))?;
        if unpacked != want as u64 {
            return Err(container_err(format!(
                "stream {i} holds {unpacked} bytes uncompressed; the header's points need {want}"
            )));
        }
        let end = usize::try_from(packed)
            .ok()
            .and_then(|p| at.checked_add(p))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                container_err(format!(
                    "stream {i} ({packed} compressed bytes from byte {at}) runs past the end of the {}-byte file",
                    bytes.len()
                ))
            })?;
        let start = body.len();
        let zstd = |e: String| FormatError::Zstd(format!("stream {i}: {e}"));
        let mut dec = StreamingDecoder::new(&bytes[at..end]).map_err(|e| zstd(e.to_string()))?;
        (&mut dec)
            .take(unpacked + 1)
            .read_to_end(&mut body)
            .map_err(|e| zstd(e.to_string()))?;
        let got = body.len() - start;
        if got != want {
            return Err(zstd(format!(
                "decompresses to {got} bytes, its table entry says {want}"
            )));
        }
        at = end;
    }
    Ok((ext, body))
}

/// Writes a version-4 file: `head` is the 16-byte header of versions 2–3 (version 4), `body`
/// the attribute bytes in their order, cut into streams of `sizes` bytes.
pub(super) fn pack(head: &[u8; 16], body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let streams: Vec<Vec<u8>> = sizes
        .iter()
        .scan(0usize, |at, &len| {
            let part = &body[*at..*at + len];
            *at += len;
            Some(compress_to_vec(part, CompressionLevel::Fastest))
        })
        .collect();
    let toc = HEADER_LEN as u32;
    let mut out = Vec::with_capacity(
        HEADER_LEN + sizes.len() * TOC_ENTRY_LEN + streams.iter().map(Vec::len).sum::<usize>(),
    );
    out.extend_from_slice(&head[..15]);
    out.push(sizes.len() as u8);
    out.extend_from_slice(&toc.to_le_bytes());
    out.extend_from_slice(&[0; 12]);
    for (stream, &len) in streams.iter().zip(sizes) {
        out.extend_from_slice(&(stream.len() as u64).to_le_bytes());
        out.extend_from_slice(&(len as u64).to_le_bytes());
    }
    for stream in &streams {
        out.extend_from_slice(stream);
    }
    out
}
