//! Tests that every `#[repr(C)]` host mirror has its WGSL struct's layout: size, and each
//! field's name, offset, size and scalar type, as naga lays out the composed kernel source.
//!
//! Fields whose names start with `_` are padding: they may be split differently on each side
//! (`_pad: [u32; 3]` against `_pad0.._pad2`); the named fields around them and the total size
//! still pin every byte, since `bytemuck::Pod` mirrors have no implicit padding.

use std::mem::{offset_of, size_of};

use super::compose_wgsl;
use crate::features::{
    DescribeParams, ExtremaParams, GpuFrame, MatchParams, OrientParams, PyramidParams,
    RefineParams, SharpnessParams,
};
use crate::render::{BlitParams, ProjectedSplat, RenderParams};
use crate::scan::ScanParams;
use crate::sort::SortParams;
use crate::train::adam::AdamParams;
use crate::train::densify::DensifyParams;
use crate::train::loss::LossParams;

/// The scalar at the bottom of a field: what the GPU reads its bits as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    F32,
    U32,
    I32,
}

/// Rust field types a mirror may hold.
trait Element {
    const SCALAR: Scalar;
}

impl Element for f32 {
    const SCALAR: Scalar = Scalar::F32;
}

impl Element for u32 {
    const SCALAR: Scalar = Scalar::U32;
}

impl Element for i32 {
    const SCALAR: Scalar = Scalar::I32;
}

impl<T: Element, const N: usize> Element for [T; N] {
    const SCALAR: Scalar = T::SCALAR;
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    offset: usize,
    size: usize,
    scalar: Option<Scalar>,
}

impl Field {
    fn is_padding(&self) -> bool {
        self.name.starts_with('_')
    }
}

/// A Rust field of type `F` in `T`; `_get` only fixes `F`.
fn rust_field<T, F: Element>(name: &str, offset: usize, _get: fn(&T) -> &F) -> Field {
    Field {
        name: name.to_string(),
        offset,
        size: size_of::<F>(),
        scalar: Some(F::SCALAR),
    }
}

/// A host mirror and the WGSL struct it mirrors.
struct Mirror {
    rust: &'static str,
    file: &'static str,
    source: &'static str,
    wgsl: &'static str,
    size: usize,
    fields: Vec<Field>,
}

/// `mirror!(Type, "file.wgsl", "WgslStruct", [every field of Type])`; the field list must name
/// every field (an exhaustive pattern checks it at compile time).
macro_rules! mirror {
    ($ty:ident, $file:literal, $wgsl:literal, [$($field:ident),+ $(,)?]) => {{
        let _exhaustive = |m: $ty| {
            let $ty { $($field: _),+ } = m;
        };
        Mirror {
            rust: stringify!($ty),
            file: $file,
            source: include_str!(concat!("../../shaders/", $file)),
            wgsl: $wgsl,
            size: size_of::<$ty>(),
            fields: vec![$(rust_field::<$ty, _>(
                stringify!($field),
                offset_of!($ty, $field),
                |m| &m.$field,
            )),+],
        }
    }};
}

/// Every mirror in the crate (uniform parameters and storage-buffer elements).
fn mirrors() -> Vec<Mirror> {
    vec![
        mirror!(
            ScanParams,
            "scan.wgsl",
            "ScanParams",
            [n, num_blocks, _pad0, _pad1]
        ),
        mirror!(
            SortParams,
            "sort.wgsl",
            "SortParams",
            [n, shift, mask, num_blocks, chunks_per_block, _pad]
        ),
        mirror!(
            PyramidParams,
            "pyramid.wgsl",
            "PyramidParams",
            [
                width,
                height,
                src_width,
                src_height,
                radius,
                weight_offset,
                _pad0,
                _pad1
            ]
        ),
        mirror!(
            ExtremaParams,
            "extrema.wgsl",
            "ExtremaParams",
            [width, height, border, threshold, octave, scale, capacity, _pad]
        ),
        mirror!(
            SharpnessParams,
            "sharpness.wgsl",
            "SharpnessParams",
            [width, height, _pad0, _pad1]
        ),
        mirror!(
            MatchParams,
            "match.wgsl",
            "MatchParams",
            [num_query, num_train, out_offset, _pad1]
        ),
        mirror!(
            RefineParams,
            "sift_refine.wgsl",
            "RefineParams",
            [
                width,
                height,
                border,
                scales,
                first,
                count,
                max_steps,
                _pad0,
                contrast_threshold,
                edge_threshold,
                sigma0,
                octave_factor
            ]
        ),
        mirror!(
            OrientParams,
            "sift_orient.wgsl",
            "OrientParams",
            [
                width,
                height,
                first,
                count,
                tau,
                bins_per_rad,
                rad_per_bin,
                _pad0
            ]
        ),
        mirror!(
            DescribeParams,
            "sift_describe.wgsl",
            "DescribeParams",
            [
                width,
                height,
                first,
                count,
                tau,
                bins_per_rad,
                sqrt2,
                mag_thr,
                epsilon,
                root_sift,
                _pad0,
                _pad1
            ]
        ),
        mirror!(
            GpuFrame,
            "sift_orient.wgsl",
            "Frame",
            [x, y, sigma, angle, layer, _pad0, _pad1, _pad2]
        ),
        mirror!(
            GpuFrame,
            "sift_describe.wgsl",
            "Frame",
            [x, y, sigma, angle, layer, _pad0, _pad1, _pad2]
        ),
        mirror!(
            RenderParams,
            "project.wgsl",
            "RenderParams",
            [
                view,
                cam_pos,
                focal,
                principal,
                image_size,
                tiles,
                num_splats,
                sh_degree,
                near,
                num_intersections,
                background,
                sh_floats,
                _pad0,
                _pad1,
                _pad2
            ]
        ),
        mirror!(
            ProjectedSplat,
            "rasterize.wgsl",
            "Projected",
            [xy, depth, opacity, conic, radius, color, rect]
        ),
        mirror!(
            BlitParams,
            "blit.wgsl",
            "BlitParams",
            [image_size, target_size, srgb_target, _pad]
        ),
        mirror!(
            AdamParams,
            "adam.wgsl",
            "AdamParams",
            [
                count, stride, split, _pad0, lr_a, lr_b, beta1, beta2, eps, bias1, bias2_sqrt,
                _pad1
            ]
        ),
        mirror!(
            DensifyParams,
            "densify.wgsl",
            "DensifyParams",
            [
                n,
                stride,
                mode,
                seed,
                half_size,
                grad_threshold,
                log_grow_scale,
                log_prune_scale,
                prune_big,
                prune_logit,
                reset_logit,
                log_split,
                visible_stride,
                visible_offset,
                _pad0
            ]
        ),
        mirror!(
            LossParams,
            "loss.wgsl",
            "LossParams",
            [
                width,
                height,
                tiles_x,
                num_tiles,
                inv_values,
                inv_windows,
                l1_weight,
                ssim_weight,
                c1,
                c2,
                margin,
                _pad0,
                taps
            ]
        ),
    ]
}

fn scalar_of(
    types: &naga::UniqueArena<naga::Type>,
    ty: naga::Handle<naga::Type>,
) -> Option<Scalar> {
    use naga::{ScalarKind, TypeInner};
    let scalar = match &types[ty].inner {
        TypeInner::Scalar(s) => *s,
        TypeInner::Vector { scalar, .. } | TypeInner::Matrix { scalar, .. } => *scalar,
        TypeInner::Array { base, .. } => return scalar_of(types, *base),
        _ => return None,
    };
    match (scalar.kind, scalar.width) {
        (ScalarKind::Float, 4) => Some(Scalar::F32),
        (ScalarKind::Uint, 4) => Some(Scalar::U32),
        (ScalarKind::Sint, 4) => Some(Scalar::I32),
        _ => None,
    }
}

/// The span and members of struct `name` in `source` (after `#import` expansion).
fn wgsl_struct(source: &str, name: &str) -> Result<(usize, Vec<Field>), String> {
    let composed = compose_wgsl(source);
    let module =
        naga::front::wgsl::parse_str(&composed).map_err(|e| e.emit_to_string(&composed))?;
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| format!("layout: {e}"))?;
    let (_, ty) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .ok_or_else(|| format!("no struct `{name}`"))?;
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        return Err(format!("`{name}` is not a struct"));
    };
    let fields = members
        .iter()
        .map(|m| Field {
            name: m.name.clone().unwrap_or_default(),
            offset: m.offset as usize,
            size: layouter[m.ty].size as usize,
            scalar: scalar_of(&module.types, m.ty),
        })
        .collect();
    Ok((*span as usize, fields))
}

/// Every way `mirror` differs from its WGSL struct (empty when they agree).
fn differences(mirror: &Mirror) -> Vec<String> {
    let at = format!("{} vs {}::{}", mirror.rust, mirror.file, mirror.wgsl);
    let (span, wgsl) = match wgsl_struct(mirror.source, mirror.wgsl) {
        Ok(s) => s,
        Err(e) => return vec![format!("{at}: {e}")],
    };
    let mut out = Vec::new();
    if mirror.size != span {
        out.push(format!("{at}: size {} but WGSL span {span}", mirror.size));
    }
    let named = |fields: &[Field]| -> Vec<Field> {
        let mut named: Vec<Field> = fields.iter().filter(|f| !f.is_padding()).cloned().collect();
        named.sort_by_key(|f| f.offset);
        named
    };
    let (rust, wgsl) = (named(&mirror.fields), named(&wgsl));
    if rust.len() != wgsl.len() {
        out.push(format!(
            "{at}: {} named fields but WGSL has {}",
            rust.len(),
            wgsl.len()
        ));
    }
    for (r, w) in rust.iter().zip(&wgsl) {
        if r != w {
            out.push(format!("{at}: Rust {r:?} but WGSL {w:?}"));
        }
    }
    out
}

#[test]
fn every_host_mirror_matches_its_wgsl_struct() {
    let problems: Vec<String> = mirrors().iter().flat_map(differences).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_wrong_mirror_is_reported() {
    // MatchParams with its two fields swapped and a padding word missing.
    #[repr(C)]
    #[allow(dead_code)]
    struct WrongMatch {
        num_train: u32,
        num_query: u32,
        out_offset: u32,
    }
    let wrong = mirror!(
        WrongMatch,
        "match.wgsl",
        "MatchParams",
        [num_train, num_query, out_offset]
    );
    let found = differences(&wrong);
    assert!(found.iter().any(|d| d.contains("size 12")), "{found:?}");
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[1].contains("\"num_query\""), "{found:?}");
}

#[test]
fn a_scalar_type_mismatch_is_reported() {
    #[repr(C)]
    #[allow(dead_code)]
    struct FloatScan {
        n: f32,
        num_blocks: u32,
        _pad0: u32,
        _pad1: u32,
    }
    let wrong = mirror!(
        FloatScan,
        "scan.wgsl",
        "ScanParams",
        [n, num_blocks, _pad0, _pad1]
    );
    let found = differences(&wrong);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("F32"), "{found:?}");
}

/// Names of the `#[repr(C)]` structs in the crate's sources, except this file's test fixtures.
fn repr_c_structs() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(file!()) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut lines = text.lines();
                while let Some(line) = lines.next() {
                    if line.trim() != "#[repr(C)]" {
                        continue;
                    }
                    let name = lines
                        .by_ref()
                        .find_map(|l| l.split_once("struct ").map(|(_, rest)| rest.to_string()));
                    if let Some(rest) = name {
                        let end = rest.find(|c: char| !c.is_alphanumeric() && c != '_');
                        out.push(rest[..end.unwrap_or(rest.len())].to_string());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    out
}

#[test]
fn every_repr_c_struct_is_in_the_mirror_table() {
    let listed: Vec<&str> = mirrors().iter().map(|m| m.rust).collect();
    let found = repr_c_structs();
    assert!(found.len() >= 13, "found only {found:?}");
    let missing: Vec<&String> = found
        .iter()
        .filter(|n| !listed.contains(&n.as_str()))
        .collect();
    assert!(missing.is_empty(), "mirrors not checked: {missing:?}");
}
