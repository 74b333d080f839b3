//! Niantic's SPZ: a 16-byte header and the splat attributes, quantized to (mostly) one byte
//! each, stored attribute by attribute; versions 2–3 gzip the whole, version 4 keeps the header
//! uncompressed and gives each attribute its own ZSTD stream ([`super::spz4`]).
//!
//! Layout of versions 2–3 after decompression (all little endian), `n` = number of points:
//!
//! | field | bytes | encoding |
//! |---|---|---|
//! | header | 16 | magic `0x5053474e` ("NGSP"), version u32, n u32, SH degree u8, fractional bits u8, flags u8 (`0x1` antialiased, `0x2` extensions follow), reserved u8 |
//! | extensions | varies | only with flag `0x2`; vendor records, see [`read_spz`] |
//! | positions | 9n | per axis a 24-bit signed fixed-point number, `value · 2^fractional_bits` |
//! | alphas | n | `sigmoid(opacity) · 255` |
//! | colours | 3n | `f_dc · (0.15 · 255) + 127.5` (0.15, not `SH_C0`, leaves headroom outside 0..1) |
//! | scales | 3n | `(log_scale + 10) · 16` |
//! | rotations | 3n (v2) or 4n (v3, v4) | v2: `x y z` of the unit quaternion with `w ≥ 0`, `q · 127.5 + 127.5`; v3: "smallest three", a u32 of the largest component's index (2 bits) and the other three as sign bit + 9-bit magnitude of `|q| / √½` |
//! | SH rest | 3n(K-1) | coefficient-major, RGB interleaved; `x · 128 + 128`, rounded to buckets of 8 (degree 1, 5 bits) or 16 (degree 2+, 4 bits) |
//!
//! Coordinates: SPZ stores right-up-back (RUB, OpenGL/three.js); the 3DGS PLY and
//! [`GaussianScene`] are right-down-front (RDF). As the reference library does for PLY ⇄ SPZ
//! (`CoordinateSystem::RDF` ⇄ `RUB`), y and z flip sign: positions `(x, -y, -z)`, quaternions
//! `(w, x, -y, -z)`, and every SH coefficient whose basis function changes sign under
//! `y → -y, z → -z` (the `FLIP_SH` table below). The flip is its own inverse, so reading applies the same signs.
//!
//! Not every tool agrees. PlayCanvas's `splat-transform` (3.x, the converter behind SuperSplat)
//! writes and reads SPZ with the reference's `CoordinateSystem::UNSPECIFIED`: the PLY's RDF
//! coordinates go into the file unflipped. A scene it converts from PLY therefore opens here with
//! y and z negated (turned 180° about x, upside down), and an SPZ written here opens there the
//! same way. Splatpod keeps the reference's convention (so files from Niantic's tools and other
//! RUB readers are right side up); `tests/interop_splat_transform.rs` pins the difference.
//!
//! Versions 2, 3 and 4 are read; version 3 is written by default ([`SpzOptions`]), as the most
//! widely readable. Version 1 (float16 positions, never released) is reported as unsupported.

use std::f32::consts::FRAC_1_SQRT_2;
use std::io::{Read, Write};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use super::error::FormatError;
use super::scene::{logit, sh_coeffs_per_channel, sigmoid, GaussianScene};
use super::spz4;

/// The SPZ magic number, "NGSP" in little endian.
pub const SPZ_MAGIC: u32 = 0x5053_474e;

/// Most points an SPZ file may declare before the reader refuses it. Five times the reference
/// loader's limit (10 M); it bounds the memory a hostile header can make the reader use.
pub const MAX_SPZ_POINTS: u32 = 50_000_000;

const HEADER_LEN: usize = 16;
const COLOR_SCALE: f32 = 0.15;
const FLAG_ANTIALIASED: u8 = 0x1;
const FLAG_EXTENSIONS: u8 = 0x2;
/// Most bytes of extension records (or of trailing data) accepted besides the attributes.
const MAX_EXTENSION_BYTES: usize = 1 << 20;
/// Fractional bits the writer uses unless positions are too large for them (~0.24 mm at 1 m/unit).
const DEFAULT_FRACTIONAL_BITS: u8 = 12;
/// Largest magnitude of a 24-bit signed fixed-point value.
const FIXED24_MAX: f64 = 8_388_607.0;
/// SH quantization buckets of the reference writer: 5 bits for degree 1, 4 bits above.
const SH1_BUCKET: i32 = 8;
const SH_REST_BUCKET: i32 = 16;
/// Adobe's SH quantization extension (optional `min`/`max` range of the SH bytes).
const EXT_SH_QUANTIZATION: u32 = 0xADBE_0001;
/// Adobe's safe-orbit camera extension (three floats; ignored here).
const EXT_SAFE_ORBIT: u32 = 0xADBE_0002;

/// RDF ⇄ RUB sign of each position axis.
const FLIP_P: [f32; 3] = [1.0, -1.0, -1.0];
/// RDF ⇄ RUB sign of the quaternion's `x, y, z` (a reflection of y and z is a 180° turn about x,
/// so `q' = (w, x, -y, -z)`; `w` never changes).
const FLIP_Q: [f32; 3] = [1.0, -1.0, -1.0];
/// RDF ⇄ RUB sign of SH coefficients 1..=15 (the `f_rest` coefficients): the parity under
/// `y → -y, z → -z` of each real SH basis function of the 3DGS renderer.
const FLIP_SH: [f32; 15] = [
    -1.0, // y
    -1.0, // z
    1.0,  // x
    -1.0, // xy
    1.0,  // yz
    1.0,  // 2z² - x² - y²
    -1.0, // xz
    1.0,  // x² - y²
    -1.0, // y(3x² - y²)
    1.0,  // xyz
    -1.0, // y(4z² - x² - y²)
    -1.0, // z(2z² - 3x² - 3y²)
    1.0,  // x(4z² - x² - y²)
    -1.0, // z(x² - y²)
    1.0,  // x(x² - 3y²)
];

/// What an SPZ header said, besides the splats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpzInfo {
    /// Format version (2, 3 or 4).
    pub version: u32,
    /// Number of splats.
    pub num_points: u32,
    /// SH degree (0..=3).
    pub sh_degree: u32,
    /// Fractional bits of the 24-bit fixed-point positions.
    pub fractional_bits: u8,
    /// Whether the splats were trained with mip-splatting antialiasing (flag `0x1`).
    pub antialiased: bool,
}

/// How [`write_spz`] encodes a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpzOptions {
    /// 3 (default; gzip, "smallest three" rotations, ~0.1° error), 4 (the same attributes in
    /// per-attribute ZSTD streams, as the reference library and `splat-transform` now write) or
    /// 2 (8-bit `x y z` rotations, for old readers).
    pub version: u32,
    /// Sets the antialiased flag (`0x1`) in the header.
    pub antialiased: bool,
}

impl Default for SpzOptions {
    fn default() -> Self {
        Self {
            version: 3,
            antialiased: false,
        }
    }
}

fn bytes_per_point(version: u32, sh_degree: u32) -> usize {
    let rotation = if version >= 3 { 4 } else { 3 };
    9 + 1 + 3 + 3 + rotation + 3 * (sh_coeffs_per_channel(sh_degree) - 1)
}

fn gzip_err(e: std::io::Error) -> FormatError {
    FormatError::Gzip(e.to_string())
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn f32_at(b: &[u8], at: usize) -> Option<f32> {
    u32_at(b, at).map(f32::from_bits)
}

/// Reads an SPZ file (gzip-compressed version 2 or 3, or the ZSTD container of version 4) into
/// a scene in PLY (RDF) coordinates.
///
/// Checks the gzip stream (including its CRC) or the version-4 table of contents and ZSTD
/// frames, the magic, version and SH degree, and that the data holds every point the header
/// declares; memory is never reserved for more
/// points than the data actually holds. With the extensions flag, Adobe's SH-quantization range
/// record is honoured (framed `[type][length][payload]` records or the older unframed ones) and
/// other records are skipped. The antialiased flag is reported by [`read_spz_with_info`].
pub fn read_spz(bytes: &[u8]) -> Result<GaussianScene, FormatError> {
    read_spz_with_info(bytes).map(|(scene, _)| scene)
}

/// [`read_spz`], also returning the header's fields.
pub fn read_spz_with_info(bytes: &[u8]) -> Result<(GaussianScene, SpzInfo), FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    if bytes.starts_with(b"NGSP") {
        return read_zstd_container(bytes);
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(FormatError::SpzNotGzip);
    }
    let mut dec = GzDecoder::new(bytes);
    let mut head = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match dec.read(&mut head[got..]) {
            Ok(0) => return Err(FormatError::SpzShortHeader(got, HEADER_LEN)),
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(gzip_err(e)),
        }
    }
    let (info, flags) = parse_header(&head)?;
    if info.version == 4 {
        return Err(FormatError::SpzVersion(
            4,
            " (version 4 is an uncompressed NGSP header with ZSTD streams, never gzip)",
        ));
    }
    let too_many = || FormatError::SpzTooManyPoints(info.num_points, MAX_SPZ_POINTS);
    let per_point = bytes_per_point(info.version, info.sh_degree);
    let body_len = (info.num_points as usize)
        .checked_mul(per_point)
        .ok_or_else(too_many)?;
    let has_ext = flags & FLAG_EXTENSIONS != 0;
    // The stream must end within this many bytes, so that it is read to its end (where the
    // gzip CRC and length are verified) without a bomb filling memory.
    let limit = body_len
        .checked_add(MAX_EXTENSION_BYTES)
        .ok_or_else(too_many)?;

    // Grows with the data actually decompressed, so a lying header costs nothing.
    let mut data = Vec::new();
    (&mut dec)
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .map_err(gzip_err)?;
    if data.len() > limit {
        return Err(FormatError::SpzTrailing {
            declared: info.num_points,
            limit: MAX_EXTENSION_BYTES,
        });
    }
    if data.len() < body_len {
        return Err(FormatError::SpzTruncated {
            declared: info.num_points,
            per_point,
            available: data.len() / per_point,
        });
    }
    // The attributes end the stream; with extensions, the records sit between header and them.
    let (ext, body) = if has_ext {
        data.split_at(data.len() - body_len)
    } else {
        (&[][..], &data[..body_len])
    };
    let sh_range = if has_ext {
        parse_extensions(ext)?
    } else {
        None
    };
    Ok((decode(body, &info, sh_range), info))
}

/// Version 4: the uncompressed 32-byte header, then one ZSTD stream per attribute.
fn read_zstd_container(bytes: &[u8]) -> Result<(GaussianScene, SpzInfo), FormatError> {
    let head: &[u8; spz4::HEADER_LEN] = bytes
        .get(..spz4::HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(FormatError::SpzShortHeader(bytes.len(), spz4::HEADER_LEN))?;
    let mut legacy = [0u8; HEADER_LEN];
    legacy.copy_from_slice(&head[..HEADER_LEN]);
    // Byte 15 is the stream count in version 4, "reserved" before.
    legacy[15] = 0;
    let (info, flags) = parse_header(&legacy)?;
    if info.version != 4 {
        return Err(FormatError::SpzVersion(
            info.version,
            " (an uncompressed NGSP header is version 4; versions 2 and 3 are gzip streams)",
        ));
    }
    let sizes = attribute_sizes(&info).ok_or(FormatError::SpzTooManyPoints(
        info.num_points,
        MAX_SPZ_POINTS,
    ))?;
    let has_ext = flags & FLAG_EXTENSIONS != 0;
    let (ext, body) = spz4::unpack(bytes, &sizes, has_ext)?;
    let sh_range = if has_ext {
        parse_extensions(ext)?
    } else {
        None
    };
    Ok((decode(&body, &info, sh_range), info))
}

/// Checks the 16 header bytes that every version shares; returns them and the flags byte.
fn parse_header(head: &[u8; HEADER_LEN]) -> Result<(SpzInfo, u8), FormatError> {
    let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let num_points = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    let (sh_degree, fractional_bits, flags) = (head[12], head[13], head[14]);
    if magic != SPZ_MAGIC {
        return Err(FormatError::SpzMagic(magic));
    }
    match version {
        2..=4 => {}
        1 => {
            return Err(FormatError::SpzVersion(
                1,
                "; version 1 used float16 positions",
            ))
        }
        _ => return Err(FormatError::SpzVersion(version, "")),
    }
    if sh_degree > 3 {
        return Err(FormatError::SpzShDegree(sh_degree));
    }
    if num_points > MAX_SPZ_POINTS {
        return Err(FormatError::SpzTooManyPoints(num_points, MAX_SPZ_POINTS));
    }
    let info = SpzInfo {
        version,
        num_points,
        sh_degree: u32::from(sh_degree),
        fractional_bits,
        antialiased: flags & FLAG_ANTIALIASED != 0,
    };
    Ok((info, flags))
}

/// Bytes of each attribute block (positions, alphas, colours, scales, rotations, and SH when
/// the degree is above 0) for `info`'s points; `None` if they overflow `usize`.
fn attribute_sizes(info: &SpzInfo) -> Option<Vec<usize>> {
    let n = info.num_points as usize;
    let rotation = if info.version >= 3 { 4 } else { 3 };
    let sh = 3 * (sh_coeffs_per_channel(info.sh_degree) - 1);
    let mut sizes = Vec::with_capacity(6);
    for per_point in [9, 1, 3, 3, rotation, sh] {
        if per_point > 0 {
            sizes.push(n.checked_mul(per_point)?);
        }
    }
    Some(sizes)
}

/// Finds the SH quantization range in an extension block; `None` means the default `[-1, 1]`.
fn parse_extensions(ext: &[u8]) -> Result<Option<(f32, f32)>, FormatError> {
    let range = parse_framed_extensions(ext)
        .or_else(|| parse_unframed_extensions(ext))
        .ok_or_else(|| {
            FormatError::SpzExtensions(format!(
                "{} bytes of extension records that are neither length-delimited nor known records",
                ext.len()
            ))
        })?;
    match range {
        Some((lo, hi)) if !(lo.is_finite() && hi.is_finite()) => Err(FormatError::SpzExtensions(
            format!("non-finite SH quantization range [{lo}, {hi}]"),
        )),
        r => Ok(r),
    }
}

/// Records `[u32 type][u32 length][payload]` filling `ext` exactly.
fn parse_framed_extensions(ext: &[u8]) -> Option<Option<(f32, f32)>> {
    let mut at = 0usize;
    let mut range = None;
    while at < ext.len() {
        let ty = u32_at(ext, at)?;
        let len = u32_at(ext, at + 4)? as usize;
        let start = at + 8;
        let payload = ext.get(start..start.checked_add(len)?)?;
        if ty == EXT_SH_QUANTIZATION && payload.len() >= 10 {
            range = Some((f32_at(payload, 2)?, f32_at(payload, 6)?));
        }
        at = start + len;
    }
    Some(range)
}

/// Older unframed records: SH quantization `{u8 sh1Bits, u8 shRestBits[, f32 min, f32 max]}`,
/// safe-orbit camera `{f32 × 3}`.
fn parse_unframed_extensions(ext: &[u8]) -> Option<Option<(f32, f32)>> {
    let known = |at: usize| matches!(u32_at(ext, at), Some(EXT_SH_QUANTIZATION | EXT_SAFE_ORBIT));
    let mut at = 0usize;
    let mut range = None;
    while at < ext.len() {
        match u32_at(ext, at)? {
            EXT_SH_QUANTIZATION => {
                let with_range = at + 4 + 10;
                if with_range == ext.len() || (with_range < ext.len() && known(with_range)) {
                    range = Some((f32_at(ext, at + 6)?, f32_at(ext, at + 10)?));
                    at = with_range;
                } else {
                    at += 4 + 2;
                }
            }
            EXT_SAFE_ORBIT => at += 4 + 12,
            _ => return None,
        }
    }
    (at == ext.len()).then_some(range)
}

/// Splits `len` bytes off the front of `rest` (the caller sized the body for every attribute).
fn take<'a>(rest: &mut &'a [u8], len: usize) -> &'a [u8] {
    let (head, tail) = rest.split_at(len.min(rest.len()));
    *rest = tail;
    head
}

fn decode(body: &[u8], info: &SpzInfo, sh_range: Option<(f32, f32)>) -> GaussianScene {
    let n = info.num_points as usize;
    let coeffs = sh_coeffs_per_channel(info.sh_degree);
    let rest_per_point = 3 * (coeffs - 1);
    let smallest_three = info.version >= 3;
    let mut rest = body;
    let positions = take(&mut rest, 9 * n);
    let alphas = take(&mut rest, n);
    let colors = take(&mut rest, 3 * n);
    let scales = take(&mut rest, 3 * n);
    let rotations = take(&mut rest, if smallest_three { 4 } else { 3 } * n);
    let sh = take(&mut rest, rest_per_point * n);

    let fixed_scale = 0.5f64.powi(i32::from(info.fractional_bits)) as f32;
    let unquantize_sh: Box<dyn Fn(u8) -> f32> = match sh_range {
        Some((lo, hi)) if !(lo == -1.0 && hi == 1.0) => {
            if hi > lo {
                Box::new(move |b| lo + f32::from(b) / 255.0 * (hi - lo))
            } else {
                Box::new(|_| 0.0)
            }
        }
        _ => Box::new(|b| (f32::from(b) - 128.0) / 128.0),
    };

    let mut scene = GaussianScene {
        sh_degree: info.sh_degree,
        positions: Vec::with_capacity(n),
        log_scales: Vec::with_capacity(n),
        rotations: Vec::with_capacity(n),
        opacity_logits: Vec::with_capacity(n),
        sh: Vec::with_capacity(n * 3 * coeffs),
    };
    for i in 0..n {
        let p = &positions[9 * i..9 * i + 9];
        let mut pos = [0f32; 3];
        for a in 0..3 {
            let b = &p[3 * a..3 * a + 3];
            // Sign-extend the 24-bit value through the top byte of an i32.
            let fixed = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
            pos[a] = FLIP_P[a] * fixed as f32 * fixed_scale;
        }
        scene.positions.push(pos);

        scene
            .opacity_logits
            .push(logit(f32::from(alphas[i]) / 255.0));

        let s = &scales[3 * i..3 * i + 3];
        scene
            .log_scales
            .push([0, 1, 2].map(|a| f32::from(s[a]) / 16.0 - 10.0));

        let xyzw = if smallest_three {
            let r = &rotations[4 * i..4 * i + 4];
            unpack_smallest_three([r[0], r[1], r[2], r[3]])
        } else {
            let r = &rotations[3 * i..3 * i + 3];
            unpack_first_three([r[0], r[1], r[2]])
        };
        scene.rotations.push([
            xyzw[3],
            FLIP_Q[0] * xyzw[0],
            FLIP_Q[1] * xyzw[1],
            FLIP_Q[2] * xyzw[2],
        ]);

        let c = &colors[3 * i..3 * i + 3];
        scene.sh.extend(
            c.iter()
                .map(|&b| (f32::from(b) / 255.0 - 0.5) / COLOR_SCALE),
        );
        let h = &sh[rest_per_point * i..rest_per_point * (i + 1)];
        for (j, rgb) in h.chunks_exact(3).enumerate() {
            let flip = FLIP_SH[j];
            scene
                .sh
                .extend(rgb.iter().map(|&b| flip * unquantize_sh(b)));
        }
    }
    scene
}

/// Version 2 rotation: `x y z` bytes of a unit quaternion with `w ≥ 0`; returns `x y z w`.
fn unpack_first_three(r: [u8; 3]) -> [f32; 4] {
    let [x, y, z] = r.map(|b| f32::from(b) / 127.5 - 1.0);
    let w = (1.0 - (x * x + y * y + z * z)).max(0.0).sqrt();
    [x, y, z, w]
}

/// Version 3 rotation: "smallest three" in a little-endian u32; returns `x y z w`.
fn unpack_smallest_three(r: [u8; 4]) -> [f32; 4] {
    let mut comp = u32::from_le_bytes(r);
    let largest = (comp >> 30) as usize;
    let mut q = [0f32; 4];
    let mut sum_sq = 0.0;
    for i in (0..4).rev() {
        if i == largest {
            continue;
        }
        let mag = comp & 0x1ff;
        let negative = (comp >> 9) & 1 == 1;
        comp >>= 10;
        let v = FRAC_1_SQRT_2 * mag as f32 / 511.0;
        q[i] = if negative { -v } else { v };
        sum_sq += v * v;
    }
    q[largest] = (1.0 - sum_sq).max(0.0).sqrt();
    q
}

/// Unit quaternion `x y z w` in SPZ (RUB) axes from the scene's `(w, x, y, z)` in RDF axes;
/// a zero or non-finite quaternion becomes the identity.
fn spz_quaternion(q: [f32; 4]) -> [f32; 4] {
    let norm = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return [0.0, 0.0, 0.0, 1.0];
    }
    let [w, x, y, z] = q.map(|v| v / norm);
    [FLIP_Q[0] * x, FLIP_Q[1] * y, FLIP_Q[2] * z, w]
}

fn pack_first_three(q: [f32; 4]) -> [u8; 3] {
    let sign = if q[3] < 0.0 { -1.0 } else { 1.0 };
    [0, 1, 2].map(|a| to_u8(sign * q[a] * 127.5 + 127.5))
}

fn pack_smallest_three(q: [f32; 4]) -> [u8; 4] {
    let mut largest = 0;
    for i in 1..4 {
        if q[i].abs() > q[largest].abs() {
            largest = i;
        }
    }
    // q and -q are the same rotation: make the dropped (largest) component positive.
    let negate = q[largest] < 0.0;
    let mut comp = largest as u32;
    for (i, &v) in q.iter().enumerate() {
        if i == largest {
            continue;
        }
        let negative = (v < 0.0) != negate;
        let mag = ((511.0 * v.abs() / FRAC_1_SQRT_2 + 0.5) as u32).min(511);
        comp = (comp << 10) | (u32::from(negative) << 9) | mag;
    }
    comp.to_le_bytes()
}

fn to_u8(x: f32) -> u8 {
    // `as` saturates (and maps NaN to 0), so this never panics.
    x.round().clamp(0.0, 255.0) as u8
}

/// The reference's fixed `[-1, 1]` SH quantization, rounded to multiples of `bucket`.
fn quantize_sh(x: f32, bucket: i32) -> u8 {
    let q = (x * 128.0).round().clamp(-1024.0, 1024.0) as i32 + 128;
    let q = (q + bucket / 2) / bucket * bucket;
    q.clamp(0, 255) as u8
}

/// The most fractional bits (at most 12) that keep every coordinate inside 24 bits.
fn fractional_bits_for(scene: &GaussianScene) -> Result<u8, FormatError> {
    let mut max_abs = 0f64;
    for (i, p) in scene.positions.iter().enumerate() {
        for &v in p {
            if !v.is_finite() {
                return Err(FormatError::SpzWrite(format!(
                    "splat {i} has a non-finite position {p:?}"
                )));
            }
            max_abs = max_abs.max(f64::from(v.abs()));
        }
    }
    (0..=DEFAULT_FRACTIONAL_BITS)
        .rev()
        .find(|&fb| (max_abs * f64::from(1u32 << fb)).round() <= FIXED24_MAX)
        .ok_or_else(|| {
            FormatError::SpzWrite(format!(
                "a position coordinate of magnitude {max_abs} exceeds the 24-bit fixed-point range (±{FIXED24_MAX})"
            ))
        })
}

/// Writes `scene` (PLY/RDF coordinates) as SPZ of `options.version` (gzip for 2–3, ZSTD streams
/// for 4).
///
/// Positions use 12 fractional bits, or fewer when a coordinate would not fit 24 bits; SH
/// coefficients use the reference's default 5/4-bit buckets.
pub fn write_spz<W: Write>(
    scene: &GaussianScene,
    options: &SpzOptions,
    mut out: W,
) -> Result<(), FormatError> {
    scene.validate()?;
    if !(2..=4).contains(&options.version) {
        return Err(FormatError::SpzWrite(format!(
            "version {} cannot be written (2, 3 or 4)",
            options.version
        )));
    }
    let n = scene.len();
    let num_points = u32::try_from(n)
        .ok()
        .filter(|&v| v <= MAX_SPZ_POINTS)
        .ok_or_else(|| {
            FormatError::SpzWrite(format!("{n} splats exceed the limit of {MAX_SPZ_POINTS}"))
        })?;
    let fractional_bits = fractional_bits_for(scene)?;
    let coeffs = sh_coeffs_per_channel(scene.sh_degree);
    let mut head = [0u8; HEADER_LEN];
    head[..4].copy_from_slice(&SPZ_MAGIC.to_le_bytes());
    head[4..8].copy_from_slice(&options.version.to_le_bytes());
    head[8..12].copy_from_slice(&num_points.to_le_bytes());
    let flags = if options.antialiased {
        FLAG_ANTIALIASED
    } else {
        0
    };
    head[12..].copy_from_slice(&[scene.sh_degree as u8, fractional_bits, flags, 0]);
    let mut raw = Vec::with_capacity(n * bytes_per_point(options.version, scene.sh_degree));

    let fixed_scale = f64::from(1u32 << fractional_bits);
    for p in &scene.positions {
        for a in 0..3 {
            let fixed = (f64::from(FLIP_P[a] * p[a]) * fixed_scale).round() as i32;
            raw.extend_from_slice(&fixed.to_le_bytes()[..3]);
        }
    }
    raw.extend(
        scene
            .opacity_logits
            .iter()
            .map(|&o| to_u8(sigmoid(o) * 255.0)),
    );
    for i in 0..n {
        let dc = &scene.sh_of(i)[..3];
        raw.extend(dc.iter().map(|&c| to_u8(c * (COLOR_SCALE * 255.0) + 127.5)));
    }
    for s in &scene.log_scales {
        raw.extend(s.iter().map(|&v| to_u8((v + 10.0) * 16.0)));
    }
    for &q in &scene.rotations {
        let q = spz_quaternion(q);
        if options.version >= 3 {
            raw.extend_from_slice(&pack_smallest_three(q));
        } else {
            raw.extend_from_slice(&pack_first_three(q));
        }
    }
    for i in 0..n {
        let sh = scene.sh_of(i);
        for k in 1..coeffs {
            let bucket = if k <= 3 { SH1_BUCKET } else { SH_REST_BUCKET };
            for c in 0..3 {
                raw.push(quantize_sh(FLIP_SH[k - 1] * sh[3 * k + c], bucket));
            }
        }
    }

    if options.version == 4 {
        let info = parse_header(&head)?.0;
        let sizes = attribute_sizes(&info).ok_or_else(|| {
            FormatError::SpzWrite(format!("{n} splats overflow the attribute sizes"))
        })?;
        out.write_all(&spz4::pack(&head, &raw, &sizes))?;
        out.flush()?;
        return Ok(());
    }
    let mut enc = GzEncoder::new(out, Compression::default());
    enc.write_all(&head)?;
    enc.write_all(&raw)?;
    enc.finish()?.flush()?;
    Ok(())
}

/// [`write_spz`] with the default options (version 3) into a new byte vector.
pub fn save_spz(scene: &GaussianScene) -> Result<Vec<u8>, FormatError> {
    save_spz_with(scene, &SpzOptions::default())
}

/// [`write_spz`] into a new byte vector.
pub fn save_spz_with(scene: &GaussianScene, options: &SpzOptions) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    write_spz(scene, options, &mut out)?;
    Ok(out)
}
