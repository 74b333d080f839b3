//! The 3D Gaussian Splatting PLY layout (the reference implementation's `point_cloud.ply`).
//!
//! One `vertex` element, every property `float`:
//! `x y z nx ny nz f_dc_0 f_dc_1 f_dc_2 f_rest_0..f_rest_{N-1} opacity scale_0 scale_1 scale_2
//! rot_0 rot_1 rot_2 rot_3`, N = 0, 9, 24 or 45 for SH degree 0..=3. `f_rest` is channel-major
//! (all red coefficients 1..K-1, then green, then blue); [`GaussianScene::sh`] is
//! coefficient-major RGB triples, so both directions transpose. `opacity` is the logit,
//! `scale_*` the log scales and `rot_*` the quaternion `(w, x, y, z)`, as the scene stores them.
//!
//! The reader accepts what real tools write: any property order, unknown extra properties of any
//! scalar type, `double` for the known ones, missing normals, comments and `obj_info`, other
//! elements before or after `vertex`, and `ascii`, `binary_little_endian` or `binary_big_endian`.
//! The writer writes exactly the standard binary little-endian layout, normals zero.

use std::collections::HashMap;
use std::io::Write;

use super::error::FormatError;
use super::scene::{sh_coeffs_per_channel, GaussianScene};

/// Scalar property types of PLY, with their aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "char" | "int8" => Self::I8,
            "uchar" | "uint8" => Self::U8,
            "short" | "int16" => Self::I16,
            "ushort" | "uint16" => Self::U16,
            "int" | "int32" => Self::I32,
            "uint" | "uint32" => Self::U32,
            "float" | "float32" => Self::F32,
            "double" | "float64" => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::I8 => "char",
            Self::U8 => "uchar",
            Self::I16 => "short",
            Self::U16 => "ushort",
            Self::I32 => "int",
            Self::U32 => "uint",
            Self::F32 => "float",
            Self::F64 => "double",
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F64)
    }

    /// Decodes one value from exactly `self.size()` bytes (callers slice in bounds).
    fn decode(self, b: &[u8], big_endian: bool) -> f64 {
        fn arr<const N: usize>(b: &[u8], big_endian: bool) -> [u8; N] {
            let mut a = [0u8; N];
            for (dst, src) in a.iter_mut().zip(b) {
                *dst = *src;
            }
            if big_endian {
                a.reverse();
            }
            a
        }
        match self {
            Self::I8 => f64::from(i8::from_le_bytes(arr(b, big_endian))),
            Self::U8 => f64::from(u8::from_le_bytes(arr(b, big_endian))),
            Self::I16 => f64::from(i16::from_le_bytes(arr(b, big_endian))),
            Self::U16 => f64::from(u16::from_le_bytes(arr(b, big_endian))),
            Self::I32 => f64::from(i32::from_le_bytes(arr(b, big_endian))),
            Self::U32 => f64::from(u32::from_le_bytes(arr(b, big_endian))),
            Self::F32 => f64::from(f32::from_le_bytes(arr(b, big_endian))),
            Self::F64 => f64::from_le_bytes(arr(b, big_endian)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PropKind {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

#[derive(Debug, Clone)]
struct Property {
    name: String,
    kind: PropKind,
}

#[derive(Debug, Clone)]
struct Element {
    name: String,
    count: u64,
    props: Vec<Property>,
}

impl Element {
    /// Bytes per entry when every property is a scalar, `None` with a list property.
    fn fixed_stride(&self) -> Option<usize> {
        self.props.iter().try_fold(0usize, |acc, p| match p.kind {
            PropKind::Scalar(t) => acc.checked_add(t.size()),
            PropKind::List { .. } => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Ascii,
    Binary { big_endian: bool },
}

#[derive(Debug)]
struct Header {
    encoding: Encoding,
    elements: Vec<Element>,
    /// Offset of the first byte after the `end_header` line.
    data_start: usize,
}

fn header_err(line: usize, msg: impl Into<String>) -> FormatError {
    FormatError::PlyHeader {
        line,
        msg: msg.into(),
    }
}

/// Whether `bytes` starts with the PLY magic line (`ply` then LF or CRLF).
pub(crate) fn has_ply_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ply\n") || bytes.starts_with(b"ply\r\n")
}

fn parse_header(bytes: &[u8]) -> Result<Header, FormatError> {
    if !has_ply_magic(bytes) {
        return Err(FormatError::NotPly);
    }
    let mut encoding = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut pos = 0usize;
    let mut line_no = 0usize;
    loop {
        line_no += 1;
        let rest = &bytes[pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(header_err(
                line_no,
                "the header ends without an `end_header` line",
            ));
        };
        let raw = &rest[..nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        let line = std::str::from_utf8(raw)
            .map_err(|_| header_err(line_no, "the header line is not valid text"))?;
        let mut tokens = line.split_ascii_whitespace();
        let Some(keyword) = tokens.next() else {
            continue; // Blank line: tolerated.
        };
        match keyword {
            "ply" if line_no == 1 => {}
            "comment" | "obj_info" => {}
            "format" => {
                let (Some(kind), Some(version)) = (tokens.next(), tokens.next()) else {
                    return Err(header_err(
                        line_no,
                        format!("malformed format line `{line}`"),
                    ));
                };
                if version.parse::<f64>().ok() != Some(1.0) {
                    return Err(FormatError::PlyUnsupportedFormat(format!(
                        "{kind} {version}"
                    )));
                }
                encoding = Some(match kind {
                    "ascii" => Encoding::Ascii,
                    "binary_little_endian" => Encoding::Binary { big_endian: false },
                    "binary_big_endian" => Encoding::Binary { big_endian: true },
                    _ => return Err(FormatError::PlyUnsupportedFormat(kind.to_string())),
                });
            }
            "element" => {
                let (Some(name), Some(count)) = (tokens.next(), tokens.next()) else {
                    return Err(header_err(
                        line_no,
                        format!("malformed element line `{line}`"),
                    ));
                };
                let count = count.parse::<u64>().map_err(|_| {
                    header_err(
                        line_no,
                        format!("element `{name}` has an invalid count `{count}`"),
                    )
                })?;
                elements.push(Element {
                    name: name.to_string(),
                    count,
                    props: Vec::new(),
                });
            }
            "property" => {
                let Some(element) = elements.last_mut() else {
                    return Err(header_err(line_no, "property line before any element line"));
                };
                let words: Vec<&str> = tokens.collect();
                let scalar = |s: &str| {
                    Scalar::parse(s)
                        .ok_or_else(|| header_err(line_no, format!("unknown property type `{s}`")))
                };
                let (kind, name) = match words.as_slice() {
                    ["list", count, item, name] => {
                        let count = scalar(count)?;
                        if count.is_float() {
                            return Err(header_err(
                                line_no,
                                format!("list `{name}` has a floating-point count type"),
                            ));
                        }
                        (
                            PropKind::List {
                                count,
                                item: scalar(item)?,
                            },
                            *name,
                        )
                    }
                    [ty, name] if *ty != "list" => (PropKind::Scalar(scalar(ty)?), *name),
                    _ => {
                        return Err(header_err(
                            line_no,
                            format!("malformed property line `{line}`"),
                        ))
                    }
                };
                element.props.push(Property {
                    name: name.to_string(),
                    kind,
                });
            }
            "end_header" => {
                let encoding = encoding
                    .ok_or_else(|| header_err(line_no, "the header has no `format` line"))?;
                return Ok(Header {
                    encoding,
                    elements,
                    data_start: pos,
                });
            }
            _ => {
                return Err(header_err(
                    line_no,
                    format!("unexpected header line `{line}`"),
                ))
            }
        }
    }
}

/// Slots of the values we extract from every vertex, in this order.
const POS: usize = 0; // x y z
const DC: usize = 3; // f_dc_0..2
const OPACITY: usize = 6;
const SCALE: usize = 7; // scale_0..2
const ROT: usize = 10; // rot_0..3
const REST: usize = 14; // f_rest_0..N-1
const FIXED_NAMES: [&str; REST] = [
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
    "rot_0", "rot_1", "rot_2", "rot_3",
];

/// Where each needed value sits in a vertex record.
struct VertexLayout {
    /// For every slot: (property index, byte offset in a binary record, type).
    slots: Vec<(usize, usize, Scalar)>,
    /// Bytes per binary record.
    stride: usize,
    sh_degree: u32,
}

impl VertexLayout {
    fn new(vertex: &Element) -> Result<Self, FormatError> {
        // name -> (property index, byte offset, type)
        let mut by_name = HashMap::with_capacity(vertex.props.len());
        let mut stride = 0usize;
        for (i, p) in vertex.props.iter().enumerate() {
            let PropKind::Scalar(t) = p.kind else {
                return Err(FormatError::PlyListProperty(p.name.clone()));
            };
            if by_name.insert(p.name.as_str(), (i, stride, t)).is_some() {
                return Err(FormatError::PlyDuplicateProperty(p.name.clone()));
            }
            stride += t.size();
        }
        let find = |name: &str| -> Result<(usize, usize, Scalar), FormatError> {
            let &(idx, offset, ty) = by_name
                .get(name)
                .ok_or_else(|| FormatError::PlyMissingProperty(name.to_string()))?;
            if !ty.is_float() {
                return Err(FormatError::PlyPropertyType {
                    name: name.to_string(),
                    ty: ty.name(),
                });
            }
            Ok((idx, offset, ty))
        };
        let mut slots = FIXED_NAMES
            .iter()
            .map(|n| find(n))
            .collect::<Result<Vec<_>, _>>()?;

        let n_rest = vertex
            .props
            .iter()
            .filter(|p| {
                p.name
                    .strip_prefix("f_rest_")
                    .is_some_and(|s| s.parse::<usize>().is_ok())
            })
            .count();
        let sh_degree = match n_rest {
            0 => 0,
            9 => 1,
            24 => 2,
            45 => 3,
            n => return Err(FormatError::PlyShCount(n)),
        };
        for j in 0..n_rest {
            slots.push(find(&format!("f_rest_{j}"))?);
        }
        Ok(Self {
            slots,
            stride,
            sh_degree,
        })
    }
}

/// Builds the scene from per-vertex slot values (`vals.len() == REST + n_rest`).
struct SceneBuilder {
    scene: GaussianScene,
    coeffs: usize,
}

impl SceneBuilder {
    fn new(sh_degree: u32, capacity: usize) -> Self {
        let coeffs = sh_coeffs_per_channel(sh_degree);
        let scene = GaussianScene {
            sh_degree,
            positions: Vec::with_capacity(capacity),
            log_scales: Vec::with_capacity(capacity),
            rotations: Vec::with_capacity(capacity),
            opacity_logits: Vec::with_capacity(capacity),
            sh: Vec::with_capacity(capacity * 3 * coeffs),
        };
        Self { scene, coeffs }
    }

    fn push(&mut self, v: &[f32]) {
        let s = &mut self.scene;
        s.positions.push([v[POS], v[POS + 1], v[POS + 2]]);
        s.log_scales.push([v[SCALE], v[SCALE + 1], v[SCALE + 2]]);
        s.rotations
            .push([v[ROT], v[ROT + 1], v[ROT + 2], v[ROT + 3]]);
        s.opacity_logits.push(v[OPACITY]);
        s.sh.extend_from_slice(&v[DC..DC + 3]);
        // f_rest is channel-major: channel c, coefficient k (1-based) at REST + c*(K-1) + k-1.
        let per_channel = self.coeffs - 1;
        for k in 0..per_channel {
            for c in 0..3 {
                s.sh.push(v[REST + c * per_channel + k]);
            }
        }
    }
}

/// Index of the `vertex` element and where each needed value sits in its records.
fn vertex_layout(header: &Header) -> Result<(usize, VertexLayout), FormatError> {
    let vi = header
        .elements
        .iter()
        .position(|e| e.name == "vertex")
        .ok_or(FormatError::PlyNoVertexElement)?;
    Ok((vi, VertexLayout::new(&header.elements[vi])?))
}

/// Reads a 3DGS PLY (binary little/big endian or ASCII) into a scene.
///
/// Errors (never panics) on anything malformed: a missing magic line, a bad header, a missing
/// or non-float required property, a list property in `vertex`, an unsupported number of
/// `f_rest_*` properties, or data shorter than the header declares (checked before allocating).
pub fn read_ply(bytes: &[u8]) -> Result<GaussianScene, FormatError> {
    let header = parse_header(bytes)?;
    let (vi, layout) = vertex_layout(&header)?;
    let vertex = &header.elements[vi];
    let data = &bytes[header.data_start..];
    match header.encoding {
        Encoding::Binary { big_endian } => {
            let mut offset = 0usize;
            for e in &header.elements[..vi] {
                offset = skip_binary_element(data, offset, e, big_endian)?;
            }
            read_binary_vertices(&data[offset..], vertex.count, &layout, big_endian)
        }
        Encoding::Ascii => {
            let mut tokens = Tokens::new(data);
            for e in &header.elements[..vi] {
                skip_ascii_element(&mut tokens, e)?;
            }
            read_ascii_vertices(&mut tokens, vertex, &layout)
        }
    }
}

/// Returns the offset just past element `e`, which starts at `offset` in `data`.
fn skip_binary_element(
    data: &[u8],
    offset: usize,
    e: &Element,
    big_endian: bool,
) -> Result<usize, FormatError> {
    let short = || {
        FormatError::PlyData(format!(
            "element `{}` ({} entries) runs past the end of the data",
            e.name, e.count
        ))
    };
    if let Some(stride) = e.fixed_stride() {
        let size = u64::try_from(stride)
            .ok()
            .and_then(|s| s.checked_mul(e.count))
            .ok_or_else(short)?;
        let end = (offset as u64).checked_add(size).ok_or_else(short)?;
        if end > data.len() as u64 {
            return Err(short());
        }
        return usize::try_from(end).map_err(|_| short());
    }
    // With a list property every entry holds at least one count byte, so this loop ends by the
    // bounds check long before a hostile count could matter.
    let mut at = offset;
    for _ in 0..e.count {
        for p in &e.props {
            match p.kind {
                PropKind::Scalar(t) => {
                    at = at.checked_add(t.size()).ok_or_else(short)?;
                }
                PropKind::List { count, item } => {
                    let end = at.checked_add(count.size()).ok_or_else(short)?;
                    let raw = data.get(at..end).ok_or_else(short)?;
                    let n = count.decode(raw, big_endian);
                    if n < 0.0 {
                        return Err(FormatError::PlyData(format!(
                            "list `{}` of element `{}` has a negative length",
                            p.name, e.name
                        )));
                    }
                    let len = (n as usize).checked_mul(item.size()).ok_or_else(short)?;
                    at = end.checked_add(len).ok_or_else(short)?;
                }
            }
            if at > data.len() {
                return Err(short());
            }
        }
    }
    Ok(at)
}

fn read_binary_vertices(
    data: &[u8],
    count: u64,
    layout: &VertexLayout,
    big_endian: bool,
) -> Result<GaussianScene, FormatError> {
    let stride = layout.stride;
    let available = (data.len() / stride.max(1)) as u64;
    if count > available {
        return Err(FormatError::PlyTruncated {
            declared: count,
            stride,
            available,
        });
    }
    // count <= data.len() / stride, so it fits in usize and the allocation is bounded by the input.
    let n = count as usize;
    let mut builder = SceneBuilder::new(layout.sh_degree, n);
    let mut vals = vec![0f32; layout.slots.len()];
    for record in data.chunks_exact(stride).take(n) {
        for (v, &(_, off, ty)) in vals.iter_mut().zip(&layout.slots) {
            let raw = record.get(off..off + ty.size()).unwrap_or_default();
            *v = ty.decode(raw, big_endian) as f32;
        }
        builder.push(&vals);
    }
    Ok(builder.scene)
}

/// Whitespace-separated tokens of an ASCII PLY body.
struct Tokens<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = &self.data[self.pos..];
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let len = rest[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len() - start);
        self.pos += start + len;
        Some(&rest[start..start + len])
    }
}

fn parse_number(tok: &[u8]) -> Option<f64> {
    std::str::from_utf8(tok).ok()?.parse::<f64>().ok()
}

fn skip_ascii_element(tokens: &mut Tokens, e: &Element) -> Result<(), FormatError> {
    let short = || {
        FormatError::PlyData(format!(
            "element `{}` ({} entries) runs past the end of the data",
            e.name, e.count
        ))
    };
    if e.props.is_empty() {
        return Ok(());
    }
    // Every entry consumes at least one token, so a hostile count stops at the end of the data.
    for _ in 0..e.count {
        for p in &e.props {
            let tok = tokens.next().ok_or_else(short)?;
            if let PropKind::List { .. } = p.kind {
                let n = std::str::from_utf8(tok)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        FormatError::PlyData(format!(
                            "bad list length `{}` in element `{}`",
                            String::from_utf8_lossy(tok),
                            e.name
                        ))
                    })?;
                for _ in 0..n {
                    tokens.next().ok_or_else(short)?;
                }
            }
        }
    }
    Ok(())
}

fn read_ascii_vertices(
    tokens: &mut Tokens,
    vertex: &Element,
    layout: &VertexLayout,
) -> Result<GaussianScene, FormatError> {
    let props = vertex.props.len() as u64;
    // Each value takes at least one character and one separator.
    let most = (tokens.remaining() as u64).div_ceil(2) / props.max(1);
    if vertex.count > most {
        return Err(FormatError::PlyData(format!(
            "PLY header declares {} vertices but the ASCII data can hold at most {most}",
            vertex.count
        )));
    }
    let n = vertex.count as usize;
    // Slot for each property index, if any.
    let mut slot_of = vec![None; vertex.props.len()];
    for (s, &(idx, _, _)) in layout.slots.iter().enumerate() {
        slot_of[idx] = Some(s);
    }
    let mut builder = SceneBuilder::new(layout.sh_degree, n);
    let mut vals = vec![0f32; layout.slots.len()];
    for i in 0..n {
        for (p, slot) in vertex.props.iter().zip(&slot_of) {
            let tok = tokens.next().ok_or_else(|| {
                FormatError::PlyData(format!(
                    "the ASCII data ends after {i} of {} vertices",
                    vertex.count
                ))
            })?;
            if let Some(s) = *slot {
                vals[s] = parse_number(tok).ok_or_else(|| {
                    FormatError::PlyData(format!(
                        "bad number `{}` for property `{}` of vertex {i}",
                        String::from_utf8_lossy(tok),
                        p.name
                    ))
                })? as f32;
            }
        }
        builder.push(&vals);
    }
    Ok(builder.scene)
}

/// Writes `scene` as a standard 3DGS PLY (binary little endian, all `float`, normals zero).
pub fn write_ply<W: Write>(scene: &GaussianScene, mut out: W) -> Result<(), FormatError> {
    scene.validate()?;
    let coeffs = sh_coeffs_per_channel(scene.sh_degree);
    let per_channel = coeffs - 1;
    let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
    header.push_str(&format!("element vertex {}\n", scene.len()));
    for name in [
        "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
    ] {
        header.push_str(&format!("property float {name}\n"));
    }
    for j in 0..3 * per_channel {
        header.push_str(&format!("property float f_rest_{j}\n"));
    }
    for name in [
        "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
    ] {
        header.push_str(&format!("property float {name}\n"));
    }
    header.push_str("end_header\n");
    out.write_all(header.as_bytes())?;

    let floats = 17 + 3 * per_channel;
    const CHUNK: usize = 4096;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK.min(scene.len()) * floats * 4);
    for i in 0..scene.len() {
        let mut put = |v: f32| buf.extend_from_slice(&v.to_le_bytes());
        scene.positions[i].into_iter().for_each(&mut put);
        [0.0; 3].into_iter().for_each(&mut put);
        let sh = scene.sh_of(i);
        sh[..3].iter().copied().for_each(&mut put);
        for c in 0..3 {
            for k in 1..coeffs {
                put(sh[3 * k + c]);
            }
        }
        put(scene.opacity_logits[i]);
        scene.log_scales[i].into_iter().for_each(&mut put);
        scene.rotations[i].into_iter().for_each(&mut put);
        if (i + 1) % CHUNK == 0 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(())
}

/// [`write_ply`] into a new byte vector.
pub fn save_ply(scene: &GaussianScene) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    write_ply(scene, &mut out)?;
    Ok(out)
}

/// What [`read_ply_prefix`] found in a partly received binary PLY.
pub(crate) enum PlyPrefix {
    /// Not enough bytes yet to know (header or leading elements incomplete).
    Waiting,
    /// ASCII body: only the whole file can be parsed.
    NotStreamable,
    /// Vertices `from..from + scene.len()`, of `declared` in total.
    Vertices { scene: GaussianScene, declared: u64 },
}

/// Parses the complete vertex records from index `from` on in the first bytes of a binary PLY,
/// so a viewer can show a scene while it downloads. Errors only on what can never become valid.
pub(crate) fn read_ply_prefix(bytes: &[u8], from: u64) -> Result<PlyPrefix, FormatError> {
    const MAX_HEADER: usize = 1 << 20;
    let header_done = bytes.windows(11).any(|w| w == b"end_header\n")
        || bytes.windows(12).any(|w| w == b"end_header\r\n");
    if !header_done {
        if bytes.len() > MAX_HEADER {
            return Err(header_err(0, "no `end_header` line in the first 1 MiB"));
        }
        // Still reject what is clearly not a PLY.
        if bytes.len() >= 4 && !has_ply_magic(bytes) {
            return Err(FormatError::NotPly);
        }
        return Ok(PlyPrefix::Waiting);
    }
    let header = parse_header(bytes)?;
    let (vi, layout) = vertex_layout(&header)?;
    let vertex = &header.elements[vi];
    let Encoding::Binary { big_endian } = header.encoding else {
        return Ok(PlyPrefix::NotStreamable);
    };
    let data = &bytes[header.data_start..];
    let mut offset = 0usize;
    for e in &header.elements[..vi] {
        match skip_binary_element(data, offset, e, big_endian) {
            Ok(end) => offset = end,
            Err(_) => return Ok(PlyPrefix::Waiting),
        }
    }
    let stride = layout.stride.max(1);
    let available = ((data.len() - offset) / stride) as u64;
    let upto = available.min(vertex.count);
    if upto <= from {
        return Ok(PlyPrefix::Vertices {
            scene: GaussianScene::empty(layout.sh_degree),
            declared: vertex.count,
        });
    }
    // from < upto <= data.len() / stride, so these offsets fit in usize.
    let start = offset + from as usize * stride;
    let end = offset + upto as usize * stride;
    let scene = read_binary_vertices(&data[start..end], upto - from, &layout, big_endian)?;
    Ok(PlyPrefix::Vertices {
        scene,
        declared: vertex.count,
    })
}
