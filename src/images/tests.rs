//! Tests of the photo decoder and the sharpness reference. Every input is made here: images are
//! encoded with the `image` crate, EXIF blocks and hostile headers are written byte by byte.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn png_bytes(img: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

fn png_rgb_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

fn jpeg_bytes(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encode JPEG");
    out
}

fn noise_rgb(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = SmallRng::seed_from_u64(seed);
    RgbImage::from_fn(w, h, |_, _| Rgb([rng.random(), rng.random(), rng.random()]))
}

fn no_downscale() -> DecodeOptions {
    DecodeOptions {
        max_side: None,
        ..DecodeOptions::default()
    }
}

fn decode(bytes: &[u8]) -> Result<DecodedImage, ImageError> {
    decode_image(bytes, None, &DecodeOptions::default())
}

/// A PNG chunk: length, type, data, CRC-32 over type and data.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// A PNG holding only a signature, an IHDR (8-bit RGB) declaring `w` × `h`, and IEND.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, colour type RGB, deflate, filter 0, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// A JPEG holding only SOI, a baseline frame header declaring `w` × `h` (3 components), EOI.
fn jpeg_header_only(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 17, 8];
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.push(3);
    for id in 1..=3u8 {
        out.extend_from_slice(&[id, 0x11, 0]);
    }
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

/// The EXIF fields a test block carries.
#[derive(Clone, Copy, Default)]
struct ExifSpec {
    big_endian: bool,
    orientation: Option<u16>,
    /// FocalLengthIn35mmFilm (SHORT).
    focal_35mm: Option<u16>,
    /// FocalLength (RATIONAL numerator, denominator).
    focal_mm: Option<(u32, u32)>,
    /// Put FocalLengthIn35mmFilm in IFD0 instead of the Exif sub-IFD.
    focal_35mm_in_ifd0: bool,
}

/// One 12-byte IFD entry before layout: tag, type, count, and either an inline value (≤ 4
/// bytes) or out-of-line data.
struct Entry {
    tag: u16,
    ty: u16,
    count: u32,
    data: Vec<u8>,
}

/// Writes a TIFF structure by hand: header, IFD0 (Orientation, maybe FocalLengthIn35mmFilm,
/// ExifIFDPointer), and an Exif sub-IFD (FocalLength, FocalLengthIn35mmFilm), each IFD followed
/// by its out-of-line values.
fn tiff_block(spec: ExifSpec) -> Vec<u8> {
    let be = spec.big_endian;
    let u16b = |v: u16| {
        if be {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    };
    let u32b = |v: u32| {
        if be {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    };
    let short = |tag: u16, v: u16| Entry {
        tag,
        ty: 3,
        count: 1,
        data: u16b(v),
    };

    let mut exif_entries = Vec::new();
    if let Some((num, den)) = spec.focal_mm {
        let mut data = u32b(num);
        data.extend(u32b(den));
        exif_entries.push(Entry {
            tag: 0x920a,
            ty: 5,
            count: 1,
            data,
        });
    }
    let mut ifd0 = Vec::new();
    if let Some(o) = spec.orientation {
        ifd0.push(short(0x0112, o));
    }
    if let Some(f) = spec.focal_35mm {
        if spec.focal_35mm_in_ifd0 {
            ifd0.push(short(0xa405, f));
        } else {
            exif_entries.push(short(0xa405, f));
        }
    }
    let has_exif_ifd = !exif_entries.is_empty();
    // The ExifIFDPointer's value is patched once IFD0's size is known.
    if has_exif_ifd {
        ifd0.push(Entry {
            tag: 0x8769,
            ty: 4,
            count: 1,
            data: u32b(0),
        });
    }
    ifd0.sort_by_key(|e| e.tag);

    // Serialises an IFD at `start`; returns its bytes (entries, next-IFD offset 0, then the
    // out-of-line data).
    let write_ifd = |entries: &[Entry], start: usize| -> Vec<u8> {
        let table = 2 + 12 * entries.len() + 4;
        let mut out = u16b(entries.len() as u16);
        let mut extra = Vec::new();
        for e in entries {
            out.extend(u16b(e.tag));
            out.extend(u16b(e.ty));
            out.extend(u32b(e.count));
            if e.data.len() <= 4 {
                let mut v = e.data.clone();
                v.resize(4, 0);
                out.extend(v);
            } else {
                out.extend(u32b((start + table + extra.len()) as u32));
                extra.extend_from_slice(&e.data);
            }
        }
        out.extend(u32b(0));
        out.extend(extra);
        out
    };

    let mut tiff = if be {
        b"MM\x00\x2a".to_vec()
    } else {
        b"II\x2a\x00".to_vec()
    };
    tiff.extend(u32b(8));
    let ifd0_len = write_ifd(&ifd0, 8).len();
    if has_exif_ifd {
        let exif_start = (8 + ifd0_len) as u32;
        for e in ifd0.iter_mut().filter(|e| e.tag == 0x8769) {
            e.data = u32b(exif_start);
        }
    }
    tiff.extend(write_ifd(&ifd0, 8));
    if has_exif_ifd {
        let start = tiff.len();
        tiff.extend(write_ifd(&exif_entries, start));
    }
    tiff
}

/// Inserts an APP1 `Exif\0\0` segment holding `tiff` right after the JPEG's SOI marker.
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
    let len = (2 + 6 + tiff.len()) as u16;
    let mut out = vec![0xff, 0xd8, 0xff, 0xe1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Plain decoding

#[test]
fn png_round_trip_is_exact() {
    let img = RgbaImage::from_fn(7, 5, |x, y| {
        Rgba([(x * 30) as u8, (y * 50) as u8, 200, 255 - x as u8])
    });
    let d = decode_image(&png_bytes(&img), Some("a.png"), &DecodeOptions::default()).unwrap();
    assert_eq!((d.width, d.height), (7, 5));
    assert_eq!((d.original_width, d.original_height), (7, 5));
    assert_eq!(d.orientation, 1);
    assert_eq!(d.focal, FocalPrior::default());
    assert_eq!(d.rgba8, img.into_raw());
    assert_eq!(d.gray.len(), 35);
}

#[test]
fn gray_is_rec601_luma() {
    let colours = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [0, 0, 0],
        [10, 100, 200],
    ];
    let img = RgbImage::from_fn(colours.len() as u32, 1, |x, _| Rgb(colours[x as usize]));
    let d = decode(&png_rgb_bytes(&img)).unwrap();
    for (i, c) in colours.iter().enumerate() {
        let want = (0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32) / 255.0;
        assert!(
            (d.gray[i] - want).abs() < 1e-6,
            "pixel {i}: {} vs {want}",
            d.gray[i]
        );
        assert_eq!(d.rgba8[i * 4 + 3], 255, "opaque alpha");
    }
    assert!((d.gray[0] - 0.299).abs() < 1e-6);
    assert!((d.gray[3] - 1.0).abs() < 1e-6);
}

#[test]
fn sixteen_bit_grayscale_png_decodes() {
    let img = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(4, 3, |x, y| {
        image::Luma([((x + 4 * y) * 5000) as u16])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    let d = decode(&out.into_inner()).unwrap();
    assert_eq!((d.width, d.height), (4, 3));
    for (i, &g) in d.gray.iter().enumerate() {
        let want = (i as f32 * 5000.0 / 65535.0 * 255.0).round() / 255.0;
        assert!((g - want).abs() < 1.5 / 255.0, "pixel {i}: {g} vs {want}");
    }
}

#[test]
fn jpeg_decodes_close_to_source() {
    let img = RgbImage::from_fn(40, 24, |x, y| Rgb([(x * 6) as u8, (y * 10) as u8, 128]));
    let d = decode_image(
        &jpeg_bytes(&img, 95),
        Some("IMG_0001.JPG"),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert_eq!((d.width, d.height), (40, 24));
    assert_eq!(d.rgba8.len(), 40 * 24 * 4);
    let mut worst = 0i32;
    for (p, q) in d.rgba8.chunks_exact(4).zip(img.pixels()) {
        for c in 0..3 {
            worst = worst.max((i32::from(p[c]) - i32::from(q[c])).abs());
        }
        assert_eq!(p[3], 255);
    }
    assert!(worst <= 12, "JPEG error {worst}");
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation and focal length

/// Colours of the 3 × 2 cells of the test pattern, `CELLS[row][col]`.
const CELLS: [[[u8; 3]; 3]; 2] = [
    [[255, 0, 0], [0, 255, 0], [0, 0, 255]],
    [[255, 255, 255], [0, 0, 0], [255, 255, 0]],
];
const CELL: u32 = 16;

/// The stored image: 3 × 2 cells of 16 × 16 pixels (48 × 32), one colour each.
fn cell_pattern() -> RgbImage {
    RgbImage::from_fn(3 * CELL, 2 * CELL, |x, y| {
        Rgb(CELLS[(y / CELL) as usize][(x / CELL) as usize])
    })
}

/// Where a display cell `(x, y)` comes from in the stored `w` × `h` cell grid, per the EXIF
/// specification's meaning of each orientation value (which stored row/column ends up at the
/// visual top/left), written independently of the decoder's implementation.
fn stored_cell(orientation: u8, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    match orientation {
        1 => (x, y),
        2 => (w - 1 - x, y),         // mirrored left-right
        3 => (w - 1 - x, h - 1 - y), // rotated 180°
        4 => (x, h - 1 - y),         // mirrored top-bottom
        5 => (y, x),                 // transposed: row 0 is the visual left side
        6 => (y, h - 1 - x),         // row 0 is the visual right side: rotate 90° clockwise
        7 => (w - 1 - y, h - 1 - x), // transverse
        8 => (w - 1 - y, x),         // row 0 is the visual left side, col 0 the bottom
        _ => unreachable!(),
    }
}

fn assert_cells(d: &DecodedImage, orientation: u8, tolerance: i32) {
    let (w, h) = (3, 2);
    let (dw, dh) = if orientation >= 5 { (h, w) } else { (w, h) };
    assert_eq!(
        (d.width, d.height),
        (dw * CELL, dh * CELL),
        "orientation {orientation}: size"
    );
    assert_eq!(d.orientation, orientation);
    for dy in 0..dh {
        for dx in 0..dw {
            let (sx, sy) = stored_cell(orientation, dx, dy, w, h);
            let want = CELLS[sy as usize][sx as usize];
            let (px, py) = (dx * CELL + CELL / 2, dy * CELL + CELL / 2);
            let i = ((py * d.width + px) * 4) as usize;
            let got = &d.rgba8[i..i + 3];
            for c in 0..3 {
                assert!(
                    (i32::from(got[c]) - i32::from(want[c])).abs() <= tolerance,
                    "orientation {orientation}: display cell ({dx},{dy}) is {got:?}, expected stored cell ({sx},{sy}) {want:?}"
                );
            }
        }
    }
}

#[test]
fn exif_orientation_all_eight_jpeg() {
    let jpeg = jpeg_bytes(&cell_pattern(), 100);
    for orientation in 1..=8u8 {
        let spec = ExifSpec {
            orientation: Some(u16::from(orientation)),
            focal_35mm: Some(26),
            focal_mm: Some((425, 100)),
            ..ExifSpec::default()
        };
        let bytes = with_exif(&jpeg, &tiff_block(spec));
        let d = decode_image(&bytes, Some("photo.jpg"), &no_downscale())
            .unwrap_or_else(|e| panic!("orientation {orientation}: {e}"));
        assert_cells(&d, orientation, 40);
        let (ow, oh) = if orientation >= 5 { (32, 48) } else { (48, 32) };
        assert_eq!((d.original_width, d.original_height), (ow, oh));
        assert_eq!(d.focal.focal_35mm, Some(26.0));
        assert_eq!(d.focal.focal_mm, Some(4.25));
    }
}

#[test]
fn exif_big_endian_and_focal_px() {
    let jpeg = jpeg_bytes(&cell_pattern(), 100);
    let spec = ExifSpec {
        big_endian: true,
        orientation: Some(8),
        focal_35mm: Some(28),
        focal_mm: Some((6, 1)),
        ..ExifSpec::default()
    };
    let d = decode_image(&with_exif(&jpeg, &tiff_block(spec)), None, &no_downscale()).unwrap();
    assert_cells(&d, 8, 40);
    assert_eq!(
        d.focal,
        FocalPrior {
            focal_35mm: Some(28.0),
            focal_mm: Some(6.0)
        }
    );
    // 32 × 48 output: diagonal sqrt(32² + 48²) = 57.6888...
    let want = 28.0 / 43.2666 * (32.0f64 * 32.0 + 48.0 * 48.0).sqrt();
    let got = d.focal_px().unwrap();
    assert!((f64::from(got) - want).abs() < 1e-3, "{got} vs {want}");
}

#[test]
fn exif_focal_35mm_in_ifd0_and_missing_fields() {
    let jpeg = jpeg_bytes(&cell_pattern(), 100);
    let spec = ExifSpec {
        focal_35mm: Some(50),
        focal_35mm_in_ifd0: true,
        ..ExifSpec::default()
    };
    let d = decode_image(&with_exif(&jpeg, &tiff_block(spec)), None, &no_downscale()).unwrap();
    assert_eq!(d.orientation, 1);
    assert_eq!(
        d.focal,
        FocalPrior {
            focal_35mm: Some(50.0),
            focal_mm: None
        }
    );

    // Zero means "unknown" in EXIF; a zero denominator is garbage.
    let spec = ExifSpec {
        focal_35mm: Some(0),
        focal_mm: Some((4, 0)),
        ..ExifSpec::default()
    };
    let d = decode_image(&with_exif(&jpeg, &tiff_block(spec)), None, &no_downscale()).unwrap();
    assert_eq!(d.focal, FocalPrior::default());
    assert_eq!(d.focal_px(), None);

    // An out-of-range orientation is ignored.
    let spec = ExifSpec {
        orientation: Some(9),
        ..ExifSpec::default()
    };
    let d = decode_image(&with_exif(&jpeg, &tiff_block(spec)), None, &no_downscale()).unwrap();
    assert_cells(&d, 1, 40);
}

#[test]
fn broken_exif_does_not_fail_the_image() {
    let jpeg = jpeg_bytes(&cell_pattern(), 100);
    for junk in [
        &b"II*\x00\xff\xff\xff\x7f"[..],
        b"MM\x00*",
        b"not a tiff at all",
        b"",
    ] {
        let d = decode_image(&with_exif(&jpeg, junk), None, &no_downscale()).unwrap();
        assert_cells(&d, 1, 40);
        assert_eq!(d.focal, FocalPrior::default());
    }
    // An IFD whose entry count runs far past the block.
    let mut tiff = tiff_block(ExifSpec {
        orientation: Some(6),
        ..ExifSpec::default()
    });
    tiff[8] = 0xff;
    tiff[9] = 0x7f;
    let d = decode_image(&with_exif(&jpeg, &tiff), None, &no_downscale()).unwrap();
    assert!((1..=8).contains(&d.orientation));
}

#[test]
fn png_exif_chunk_orientation() {
    let png = png_bytes(&image::DynamicImage::ImageRgb8(cell_pattern()).into_rgba8());
    let tiff = tiff_block(ExifSpec {
        orientation: Some(6),
        focal_35mm: Some(24),
        ..ExifSpec::default()
    });
    // Insert eXIf right after IHDR (8-byte signature + 25-byte IHDR chunk).
    let mut bytes = png[..33].to_vec();
    bytes.extend(png_chunk(b"eXIf", &tiff));
    bytes.extend_from_slice(&png[33..]);
    let d = decode_image(&bytes, None, &no_downscale()).unwrap();
    assert_cells(&d, 6, 0);
    assert_eq!(d.focal.focal_35mm, Some(24.0));
}

#[test]
fn focal_px_formula() {
    let f = FocalPrior {
        focal_35mm: Some(43.2666),
        focal_mm: None,
    };
    assert!((f.focal_px(300, 400).unwrap() - 500.0).abs() < 1e-3);
    assert_eq!(f.focal_px(400, 300), f.focal_px(300, 400));
    assert_eq!(f.focal_px(0, 10), None);
    assert_eq!(
        FocalPrior {
            focal_35mm: None,
            focal_mm: Some(4.0)
        }
        .focal_px(400, 300),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Downscaling

#[test]
fn downscale_keeps_aspect_and_hits_max_side() {
    let cases = [
        ((400, 100), 100, (100, 25)),
        ((333, 200), 100, (100, 60)),
        ((90, 300), 100, (30, 100)),
        ((1000, 1), 100, (100, 1)),
        ((50, 40), 100, (50, 40)),
        ((100, 100), 100, (100, 100)),
    ];
    for ((w, h), max_side, want) in cases {
        let img = RgbaImage::from_pixel(w, h, Rgba([30, 60, 90, 255]));
        let opts = DecodeOptions {
            max_side: Some(max_side),
            ..DecodeOptions::default()
        };
        let d = decode_image(&png_bytes(&img), None, &opts).unwrap();
        assert_eq!((d.width, d.height), want, "{w}x{h} -> max {max_side}");
        assert_eq!((d.original_width, d.original_height), (w, h));
        assert_eq!(d.rgba8.len(), (want.0 * want.1 * 4) as usize);
        assert_eq!(d.gray.len(), (want.0 * want.1) as usize);
        // A flat colour stays flat.
        assert!(
            d.rgba8.chunks_exact(4).all(|p| p == [30, 60, 90, 255]),
            "{w}x{h}"
        );
    }
    // None keeps the full size; the default is 1600.
    let img = RgbaImage::from_pixel(2000, 10, Rgba([1, 2, 3, 255]));
    let d = decode_image(&png_bytes(&img), None, &no_downscale()).unwrap();
    assert_eq!((d.width, d.height), (2000, 10));
    let d = decode(&png_bytes(&img)).unwrap();
    assert_eq!((d.width, d.height), (1600, 8));
}

#[test]
fn downscale_is_antialiased() {
    // One-pixel black/white columns, shrunk 4×: every output pixel averages both, ~0.5.
    let img = RgbaImage::from_fn(400, 40, |x, _| {
        let v = if x % 2 == 0 { 0 } else { 255 };
        Rgba([v, v, v, 255])
    });
    let opts = DecodeOptions {
        max_side: Some(100),
        ..DecodeOptions::default()
    };
    let d = decode_image(&png_bytes(&img), None, &opts).unwrap();
    assert_eq!((d.width, d.height), (100, 10));
    for (i, &g) in d.gray.iter().enumerate() {
        // The filter window is clipped and renormalised at the image border, which shifts the
        // edge columns slightly (0.46 for the first one); the interior averages exactly.
        let x = i % 100;
        let tolerance = if x == 0 || x == 99 { 0.05 } else { 0.01 };
        assert!((g - 0.5).abs() < tolerance, "aliased: {g} at column {x}");
    }
}

#[test]
fn downscale_then_orientation() {
    // Stored 200 × 100, orientation 6 (portrait), max side 100 -> 50 × 100 upright.
    let stored = RgbImage::from_fn(200, 100, |x, _| {
        if x < 100 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let tiff = tiff_block(ExifSpec {
        orientation: Some(6),
        focal_35mm: Some(26),
        ..ExifSpec::default()
    });
    let bytes = with_exif(&jpeg_bytes(&stored, 95), &tiff);
    let opts = DecodeOptions {
        max_side: Some(100),
        ..DecodeOptions::default()
    };
    let d = decode_image(&bytes, None, &opts).unwrap();
    assert_eq!((d.width, d.height), (50, 100));
    assert_eq!((d.original_width, d.original_height), (100, 200));
    // Rotated clockwise: the stored left (red) half is now on top.
    let px = |x: u32, y: u32| &d.rgba8[((y * 50 + x) * 4) as usize..][..3];
    assert!(
        px(25, 10)[0] > 200 && px(25, 10)[2] < 60,
        "top {:?}",
        px(25, 10)
    );
    assert!(
        px(25, 90)[2] > 200 && px(25, 90)[0] < 60,
        "bottom {:?}",
        px(25, 90)
    );
    // The focal length in pixels follows the decoded size.
    let want = 26.0 / 43.2666 * (50.0f32 * 50.0 + 100.0 * 100.0).sqrt();
    assert!((d.focal_px().unwrap() - want).abs() < 1e-3);
}

// ---------------------------------------------------------------------------------------------
// Hostile input

#[test]
fn empty_input() {
    assert_eq!(decode(&[]), Err(ImageError::Empty));
}

#[test]
fn random_bytes_text_and_pdf_are_not_images() {
    let mut rng = SmallRng::seed_from_u64(7);
    for len in [1usize, 3, 16, 4096] {
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        bytes[0] = 0x01; // keep clear of any signature's first byte
        let e = decode(&bytes).unwrap_err();
        assert!(
            matches!(e, ImageError::NotAnImage(_)),
            "{len} random bytes: {e:?}"
        );
    }
    let e = decode(b"Hello, this is a plain text file.\nNot a photo.\n").unwrap_err();
    assert!(
        matches!(&e, ImageError::NotAnImage(m) if m.contains("text")),
        "{e:?}"
    );
    let e = decode(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
        .unwrap_err();
    assert!(
        matches!(&e, ImageError::NotAnImage(m) if m.contains("PDF")),
        "{e:?}"
    );
    // A misnamed file is still judged by its content.
    let e = decode_image(
        b"just text",
        Some("IMG_0001.jpg"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, ImageError::NotAnImage(m) if m.contains(".jpg")),
        "{e:?}"
    );
    let e = e.to_string();
    assert!(e.starts_with("not an image"), "{e}");
}

#[test]
fn unsupported_formats() {
    // A complete 1 × 1 GIF89a.
    let gif: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let e = decode(gif).unwrap_err();
    assert_eq!(e, ImageError::Unsupported("GIF".into()));
    assert!(
        e.to_string().contains("unsupported image format: GIF"),
        "{e}"
    );

    // A 1 × 1 24-bit BMP: file header, BITMAPINFOHEADER, one padded row.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&58u32.to_le_bytes());
    bmp.extend_from_slice(&[0, 0, 0, 0]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&1i32.to_le_bytes());
    bmp.extend_from_slice(&1i32.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    bmp.extend_from_slice(&[0; 24]);
    bmp.extend_from_slice(&[0, 0, 255, 0]);
    assert_eq!(decode(&bmp), Err(ImageError::Unsupported("BMP".into())));

    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
    assert!(matches!(decode(heic), Err(ImageError::Unsupported(m)) if m.contains("HEIC")));
    let webp = b"RIFF\x24\x00\x00\x00WEBPVP8 ";
    assert!(matches!(decode(webp), Err(ImageError::Unsupported(m)) if m == "WebP"));
    let tiff = tiff_block(ExifSpec {
        orientation: Some(1),
        ..ExifSpec::default()
    });
    assert!(matches!(decode(&tiff), Err(ImageError::Unsupported(m)) if m.starts_with("TIFF")));
    // Unknown content, but the name says HEIC.
    let e = decode_image(
        &[1, 2, 3, 4],
        Some("dir/IMG_1.HEIC"),
        &DecodeOptions::default(),
    );
    assert!(matches!(e, Err(ImageError::Unsupported(m)) if m.starts_with("HEIC")));
}

#[test]
fn truncated_jpeg_is_corrupt() {
    let tiff = tiff_block(ExifSpec {
        orientation: Some(3),
        focal_35mm: Some(26),
        ..ExifSpec::default()
    });
    let jpeg = with_exif(&jpeg_bytes(&noise_rgb(64, 48, 1), 90), &tiff);
    decode(&jpeg).expect("the untruncated file decodes");
    for cut in [
        3,
        4,
        10,
        30,
        100,
        300,
        jpeg.len() / 2,
        jpeg.len() - 100,
        jpeg.len() - 2,
        jpeg.len() - 1,
    ] {
        let e = decode(&jpeg[..cut]).unwrap_err();
        assert!(
            matches!(e, ImageError::Corrupt(_)),
            "cut at {cut}/{}: {e:?}",
            jpeg.len()
        );
    }
    // Just the SOI marker.
    assert!(matches!(decode(&[0xff, 0xd8]), Err(ImageError::Corrupt(_))));
}

#[test]
fn jpeg_with_stray_bytes_or_trailing_data_decodes() {
    let tiff = tiff_block(ExifSpec {
        orientation: Some(1),
        ..ExifSpec::default()
    });
    let jpeg = with_exif(&jpeg_bytes(&cell_pattern(), 100), &tiff);
    // Data after the end-of-image marker (phones append gain maps, MPF images...).
    let mut trailing = jpeg.clone();
    trailing.extend_from_slice(b"\xff\xd8\xff\xe0 trailing second image, cut short");
    assert_cells(
        &decode_image(&trailing, None, &no_downscale()).unwrap(),
        1,
        40,
    );
    // Stray zero bytes between the APP1 segment and the next marker, which libjpeg skips.
    let app1_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let mut stray = jpeg[..app1_end].to_vec();
    stray.extend_from_slice(&[0, 0, 0]);
    stray.extend_from_slice(&jpeg[app1_end..]);
    assert_cells(&decode_image(&stray, None, &no_downscale()).unwrap(), 1, 40);
}

#[test]
fn truncated_png_is_corrupt() {
    let png = png_rgb_bytes(&noise_rgb(64, 48, 2));
    decode(&png).expect("the untruncated file decodes");
    for cut in [5, 8, 12, 20, 33, 40, 100, png.len() / 2, png.len() - 40] {
        let e = decode(&png[..cut]).unwrap_err();
        assert!(
            matches!(e, ImageError::Corrupt(_)),
            "cut at {cut}/{}: {e:?}",
            png.len()
        );
    }
}

#[test]
fn damaged_png_crc_is_corrupt() {
    let mut png = png_rgb_bytes(&noise_rgb(16, 16, 3));
    let n = png.len();
    png[n / 2] ^= 0x55; // inside IDAT: CRC mismatch or broken deflate stream
    let e = decode(&png).unwrap_err();
    assert!(matches!(e, ImageError::Corrupt(_)), "{e:?}");
}

#[test]
fn huge_declared_png_is_refused_before_decoding() {
    // 100000 × 100000 RGB = 30 GB of pixels, declared by a valid IHDR with no image data at all:
    // the refusal comes from the header alone.
    let bytes = png_header_only(100_000, 100_000);
    assert_eq!(
        decode(&bytes),
        Err(ImageError::TooLarge {
            width: 100_000,
            height: 100_000,
            max_pixels: 100_000_000
        })
    );
    let e = decode(&bytes).unwrap_err().to_string();
    assert!(
        e.contains("100000x100000") && e.contains("100000000"),
        "{e}"
    );
}

#[test]
fn huge_declared_jpeg_is_refused_before_decoding() {
    let bytes = jpeg_header_only(65_000, 65_000);
    assert_eq!(
        decode(&bytes),
        Err(ImageError::TooLarge {
            width: 65_000,
            height: 65_000,
            max_pixels: 100_000_000
        })
    );
}

#[test]
fn pixel_budget_is_configurable() {
    let opts = DecodeOptions {
        max_pixels: 1000,
        ..DecodeOptions::default()
    };
    let png = png_rgb_bytes(&noise_rgb(40, 30, 4));
    assert_eq!(
        decode_image(&png, None, &opts),
        Err(ImageError::TooLarge {
            width: 40,
            height: 30,
            max_pixels: 1000
        })
    );
    let jpeg = jpeg_bytes(&noise_rgb(40, 30, 4), 80);
    assert!(matches!(
        decode_image(&jpeg, None, &opts),
        Err(ImageError::TooLarge { .. })
    ));
    let opts = DecodeOptions {
        max_pixels: 1200,
        ..DecodeOptions::default()
    };
    assert!(decode_image(&png, None, &opts).is_ok());
}

#[test]
fn zero_size_images() {
    assert_eq!(decode(&png_header_only(0, 10)), Err(ImageError::ZeroSize));
    assert_eq!(decode(&png_header_only(10, 0)), Err(ImageError::ZeroSize));
    assert_eq!(decode(&jpeg_header_only(0, 10)), Err(ImageError::ZeroSize));
    assert_eq!(decode(&jpeg_header_only(10, 0)), Err(ImageError::ZeroSize));
}

#[test]
fn header_only_files_within_budget_are_corrupt() {
    assert!(matches!(
        decode(&png_header_only(10, 10)),
        Err(ImageError::Corrupt(_))
    ));
    assert!(matches!(
        decode(&jpeg_header_only(10, 10)),
        Err(ImageError::Corrupt(_))
    ));
}

#[test]
fn invalid_options() {
    let png = png_rgb_bytes(&noise_rgb(4, 4, 5));
    let opts = DecodeOptions {
        max_side: Some(0),
        ..DecodeOptions::default()
    };
    assert!(matches!(
        decode_image(&png, None, &opts),
        Err(ImageError::InvalidOptions(_))
    ));
}

/// Random byte flips and cuts of valid files: every outcome is an `Ok` with consistent buffers
/// or an error, never a panic.
#[test]
fn mutated_files_never_panic() {
    let tiff = tiff_block(ExifSpec {
        orientation: Some(6),
        focal_35mm: Some(26),
        focal_mm: Some((425, 100)),
        ..ExifSpec::default()
    });
    let jpeg = with_exif(&jpeg_bytes(&noise_rgb(24, 16, 6), 85), &tiff);
    let png = png_rgb_bytes(&noise_rgb(24, 16, 7));
    let mut rng = SmallRng::seed_from_u64(42);
    let opts = DecodeOptions {
        max_side: Some(16),
        ..DecodeOptions::default()
    };
    let (mut ok, mut err) = (0, 0);
    for source in [&jpeg, &png] {
        for _ in 0..300 {
            let mut bytes = source.clone();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            if rng.random_bool(0.3) {
                bytes.truncate(rng.random_range(0..bytes.len()));
            }
            match decode_image(&bytes, None, &opts) {
                Ok(d) => {
                    ok += 1;
                    assert_eq!(d.rgba8.len(), d.width as usize * d.height as usize * 4);
                    assert_eq!(d.gray.len(), d.width as usize * d.height as usize);
                    assert!(d.width.max(d.height) <= 16);
                    assert!((1..=8).contains(&d.orientation));
                }
                Err(_) => err += 1,
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

// ---------------------------------------------------------------------------------------------
// Sharpness

fn box_blur(g: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut s, mut n) = (0.0, 0.0);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    s += g[yy * w + xx];
                    n += 1.0;
                }
            }
            out[y * w + x] = s / n;
        }
    }
    out
}

#[test]
fn sharpness_checkerboard_vs_blurred() {
    let (w, h) = (64usize, 48usize);
    let board: Vec<f32> = (0..w * h)
        .map(|i| {
            if ((i % w) / 2 + (i / w) / 2) % 2 == 0 {
                0.0
            } else {
                1.0
            }
        })
        .collect();
    let blurred = box_blur(&box_blur(&board, w, h), w, h);
    let sharp = sharpness_cpu(&board, w as u32, h as u32);
    let soft = sharpness_cpu(&blurred, w as u32, h as u32);
    assert!(sharp > 1.0, "{sharp}");
    assert!(sharp > 10.0 * soft, "sharp {sharp}, blurred {soft}");
}

#[test]
fn sharpness_constant_is_zero() {
    assert_eq!(sharpness_cpu(&vec![0.37; 20 * 10], 20, 10), 0.0);
    assert_eq!(sharpness_cpu(&[0.5; 10], 2, 5), 0.0); // no interior pixel
    assert_eq!(sharpness_cpu(&[], 0, 0), 0.0);
}

#[test]
fn sharpness_known_answer() {
    // 4 × 4 image, a single 1 at (1, 1). Interior pixels (1,1), (2,1), (1,2), (2,2) have
    // Laplacians -4, 1, 1, 0: mean -0.5, deviations -3.5, 1.5, 1.5, 0.5, squares summing to 17,
    // variance 17 / 4 = 4.25.
    let mut g = vec![0.0f32; 16];
    g[4 + 1] = 1.0;
    assert_eq!(sharpness_cpu(&g, 4, 4), 4.25);
    // A linear ramp has a zero Laplacian everywhere.
    let ramp: Vec<f32> = (0..30)
        .map(|i| (i % 6) as f32 * 0.1 + (i / 6) as f32 * 0.05)
        .collect();
    assert!(sharpness_cpu(&ramp, 6, 5) < 1e-12);
}

#[test]
#[should_panic(expected = "sharpness_cpu")]
fn sharpness_rejects_wrong_length() {
    sharpness_cpu(&[0.0; 10], 4, 4);
}

#[test]
fn sharpness_of_decoded_images() {
    let sharp = decode(&png_rgb_bytes(&noise_rgb(64, 64, 8))).unwrap();
    let flat = decode(&png_rgb_bytes(&RgbImage::from_pixel(
        64,
        64,
        Rgb([90, 90, 90]),
    )))
    .unwrap();
    assert!(sharpness_cpu(&sharp.gray, sharp.width, sharp.height) > 0.01);
    assert_eq!(sharpness_cpu(&flat.gray, flat.width, flat.height), 0.0);
}
