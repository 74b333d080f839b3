//! Format sniffing from the leading bytes, and the cheap header walks that read a JPEG's or PNG's
//! declared size (and check a JPEG's structure) before the real decoder allocates anything.

use super::ImageError;

/// What the leading bytes say the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Jpeg,
    Png,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Identifies JPEG and PNG by their signatures; everything else becomes the matching error:
/// [`ImageError::Unsupported`] for image formats we recognise but do not decode,
/// [`ImageError::NotAnImage`] for the rest. `name_hint` (a file name) is consulted only when the
/// content matches no signature.
pub(crate) fn sniff(bytes: &[u8], name_hint: Option<&str>) -> Result<Sniffed, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.starts_with(&PNG_SIGNATURE) {
        return Ok(Sniffed::Png);
    }
    if bytes.len() < PNG_SIGNATURE.len() && PNG_SIGNATURE.starts_with(bytes) && bytes.len() >= 4 {
        return Err(ImageError::Corrupt(format!(
            "PNG truncated inside its 8-byte signature ({} bytes)",
            bytes.len()
        )));
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Ok(Sniffed::Jpeg);
    }
    if bytes == [0xff, 0xd8] {
        return Err(ImageError::Corrupt(
            "JPEG truncated right after its start-of-image marker".into(),
        ));
    }
    if let Some(name) = other_image_format(bytes) {
        return Err(ImageError::Unsupported(name.into()));
    }
    if let Some(what) = other_document(bytes) {
        return Err(ImageError::NotAnImage(what.into()));
    }
    // Nothing in the content: a file name may still say it is an image format without a
    // signature we check (or a truncated one).
    if let Some(ext) = name_hint.and_then(extension) {
        match ext.as_str() {
            "jpg" | "jpeg" | "jpe" | "jfif" | "png" => {
                return Err(ImageError::NotAnImage(format!(
                    "the file is named `.{ext}` but its content has no {} signature ({})",
                    if ext == "png" { "PNG" } else { "JPEG" },
                    describe_bytes(bytes)
                )))
            }
            "heic" | "heif" | "avif" | "webp" | "gif" | "bmp" | "tif" | "tiff" | "tga" | "dng"
            | "cr2" | "cr3" | "nef" | "arw" | "orf" | "rw2" | "raf" | "jxl" | "jp2" | "psd" => {
                return Err(ImageError::Unsupported(format!(
                    "{} (by file name; the content is not recognised either)",
                    ext.to_ascii_uppercase()
                )))
            }
            _ => {}
        }
    }
    Err(ImageError::NotAnImage(describe_bytes(bytes)))
}

/// The lower-cased extension of a file name, if any.
fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// Image formats recognised by signature but not decoded here.
fn other_image_format(b: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, sig: &[u8]| b.get(offset..offset + sig.len()) == Some(sig);
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Some("GIF");
    }
    // BMP: "BM", a 4-byte file size, then 4 reserved bytes that are zero.
    if at(0, b"BM") && b.len() >= 14 && b[6..10] == [0, 0, 0, 0] {
        return Some("BMP");
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some("WebP");
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") {
        return Some("TIFF (or a TIFF-based camera raw file)");
    }
    if at(4, b"ftyp") {
        let brand = b.get(8..12)?;
        return match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Some("HEIC/HEIF")
            }
            b"avif" | b"avis" => Some("AVIF"),
            b"crx " => Some("Canon CR3 raw"),
            _ => None,
        };
    }
    if at(0, &[0xff, 0x0a]) || at(0, b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("JPEG XL");
    }
    if at(0, b"\0\0\0\x0cjP  \r\n\x87\n") || at(0, &[0xff, 0x4f, 0xff, 0x51]) {
        return Some("JPEG 2000");
    }
    if at(0, b"8BPS") {
        return Some("Photoshop PSD");
    }
    if at(0, b"qoif") {
        return Some("QOI");
    }
    if at(0, b"\x76\x2f\x31\x01") {
        return Some("OpenEXR");
    }
    if at(0, b"#?RADIANCE") || at(0, b"#?RGBE") {
        return Some("Radiance HDR");
    }
    if at(0, b"DDS ") {
        return Some("DDS");
    }
    if at(0, b"farbfeld") {
        return Some("farbfeld");
    }
    // PNM: "P1".."P7" followed by whitespace (a bare "P1" prefix is too common in text).
    if b.len() >= 3 && b[0] == b'P' && (b'1'..=b'7').contains(&b[1]) && b[2].is_ascii_whitespace() {
        return Some("PNM (PBM/PGM/PPM/PAM)");
    }
    None
}

/// Well-known non-image containers, to say what the data is instead.
fn other_document(b: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, sig: &[u8]| b.get(offset..offset + sig.len()) == Some(sig);
    if at(0, b"%PDF") {
        return Some("the data is a PDF document");
    }
    if at(4, b"ftyp") || at(4, b"moov") || at(4, b"mdat") {
        return Some("the data is an MP4/QuickTime (ISO media) file, not a still image");
    }
    if at(0, b"PK\x03\x04") {
        return Some("the data is a ZIP archive");
    }
    if at(0, &[0x1f, 0x8b]) {
        return Some("the data is gzip-compressed");
    }
    if at(0, b"RIFF") {
        return Some("the data is a RIFF file (e.g. WAV or AVI), not a supported image");
    }
    None
}

/// A short description of unrecognised data: text, or the first bytes in hex.
fn describe_bytes(b: &[u8]) -> String {
    let head = &b[..b.len().min(512)];
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        // A multi-byte character cut at the 512-byte mark still counts as text.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let texty = text.is_some_and(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| !c.is_control() || c.is_ascii_whitespace())
    });
    if texty {
        return "the data looks like text".into();
    }
    let hex: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    format!("unrecognised data (first bytes: {})", hex.join(" "))
}

/// Walks a JPEG's marker segments without decoding anything.
///
/// `on_size` is called as soon as the frame header (SOF) gives the declared size, so that the
/// caller's zero-size and pixel-budget checks run before the rest of the file is even looked at.
/// Then the walk checks the structure: every segment lies inside the data, the frame is one the
/// decoder supports (baseline, extended sequential or progressive Huffman), and the compressed
/// data is followed by an end-of-image marker. The last check is what catches truncated files:
/// the decoder itself pads a JPEG that ends early with grey and reports success. Like libjpeg,
/// the walk tolerates stray bytes between segments. Returns the declared (width, height).
pub(crate) fn walk_jpeg(
    b: &[u8],
    mut on_size: impl FnMut(u32, u32) -> Result<(), ImageError>,
) -> Result<(u32, u32), ImageError> {
    let truncated = |what: &str| ImageError::Corrupt(format!("JPEG truncated {what}"));
    let mut header: Option<(u32, u32)> = None;
    let mut seen_scan = false;
    let mut pos = 2; // after SOI
    loop {
        // Markers are 0xFF followed by a code; any number of 0xFF fill bytes may precede it.
        // Stray bytes before a marker are skipped, as libjpeg does (with a warning).
        match b
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xff))
        {
            Some(skip) => pos += skip,
            None => {
                return Err(truncated(if seen_scan {
                    "after its compressed data (no end-of-image marker)"
                } else {
                    "before its compressed image data"
                }))
            }
        }
        while b.get(pos) == Some(&0xff) {
            pos += 1;
        }
        let Some(&code) = b.get(pos) else {
            return Err(truncated("inside a marker"));
        };
        pos += 1;
        match code {
            0xd9 => {
                // EOI
                return match header {
                    Some(h) if seen_scan => Ok(h),
                    Some(_) => Err(ImageError::Corrupt(
                        "JPEG ends (end-of-image marker) before any compressed image data".into(),
                    )),
                    None => Err(ImageError::Corrupt(
                        "JPEG ends (end-of-image marker) without a frame header".into(),
                    )),
                };
            }
            // Standalone markers: TEM and restart markers.
            0x01 | 0xd0..=0xd7 => continue,
            0xd8 => {
                return Err(ImageError::Corrupt(
                    "JPEG holds a second start-of-image marker inside its headers".into(),
                ))
            }
            0x00 => {
                return Err(ImageError::Corrupt(format!(
                    "invalid JPEG marker 0xff00 at byte {}",
                    pos - 2
                )))
            }
            _ => {}
        }
        let len = match b.get(pos..pos + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(truncated("inside a segment length")),
        };
        if len < 2 {
            return Err(ImageError::Corrupt(format!(
                "JPEG segment {code:#04x} at byte {} has an invalid length {len}",
                pos - 2
            )));
        }
        let Some(seg) = b.get(pos + 2..pos + len) else {
            return Err(truncated(&format!(
                "inside segment {:#06x}",
                0xff00 | u16::from(code)
            )));
        };
        pos += len;
        match code {
            0xc0..=0xcf if !matches!(code, 0xc4 | 0xc8 | 0xcc) => {
                // SOFn: precision, height, width, components.
                if header.is_some() {
                    return Err(ImageError::Corrupt("JPEG holds two frame headers".into()));
                }
                if seg.len() < 6 {
                    return Err(ImageError::Corrupt("JPEG frame header is too short".into()));
                }
                let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
                let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
                on_size(width, height)?;
                let kind = match code {
                    0xc0..=0xc2 => None,
                    0xc3 => Some("lossless JPEG"),
                    0xc5..=0xc7 => Some("hierarchical JPEG"),
                    _ => Some("arithmetic-coded JPEG"),
                };
                if let Some(kind) = kind {
                    return Err(ImageError::Unsupported(kind.into()));
                }
                header = Some((width, height));
            }
            0xda => {
                // SOS: the entropy-coded data follows the header, up to the next marker that is
                // neither a stuffed 0xff00 nor a restart marker.
                if header.is_none() {
                    return Err(ImageError::Corrupt(
                        "JPEG scan data starts before the frame header".into(),
                    ));
                }
                seen_scan = true;
                loop {
                    let Some(off) = b.get(pos..).and_then(|r| r.iter().position(|&x| x == 0xff))
                    else {
                        return Err(truncated(
                            "inside its compressed image data (no end-of-image marker)",
                        ));
                    };
                    pos += off;
                    match b.get(pos + 1) {
                        None => {
                            return Err(truncated(
                                "inside its compressed image data (no end-of-image marker)",
                            ))
                        }
                        Some(0x00 | 0xd0..=0xd7 | 0xff) => pos += 1,
                        Some(_) => break,
                    }
                }
            }
            _ => {}
        }
    }
}

/// Reads the declared size of a PNG from its IHDR chunk, which the PNG specification requires
/// to come first, right after the signature.
pub(crate) fn png_size(b: &[u8]) -> Result<(u32, u32), ImageError> {
    let Some(ihdr) = b.get(8..24) else {
        return Err(ImageError::Corrupt(format!(
            "PNG truncated inside its header ({} bytes)",
            b.len()
        )));
    };
    if &ihdr[4..8] != b"IHDR" || ihdr[0..4] != [0, 0, 0, 13] {
        return Err(ImageError::Corrupt(
            "PNG does not start with a 13-byte IHDR chunk".into(),
        ));
    }
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    Ok((width, height))
}
