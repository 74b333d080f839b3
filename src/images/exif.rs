//! The two EXIF facts the pipeline uses: the orientation and the focal length.

use super::FocalPrior;

/// What the EXIF block says, with defaults for everything missing or malformed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ExifFacts {
    /// EXIF orientation 1..=8 (1 when absent or out of range).
    pub orientation: u8,
    pub focal: FocalPrior,
}

impl Default for ExifFacts {
    fn default() -> Self {
        ExifFacts {
            orientation: 1,
            focal: FocalPrior::default(),
        }
    }
}

/// EXIF tag numbers.
const TAG_ORIENTATION: u16 = 0x0112;
const TAG_FOCAL_LENGTH: u16 = 0x920a;
const TAG_FOCAL_35MM: u16 = 0xa405;

/// Parses a raw EXIF block (a TIFF structure, as the `image` decoders hand it over; a leading
/// `Exif\0\0` is tolerated) and picks out the orientation and the focal length.
///
/// Broken EXIF never fails the image: whatever cannot be read keeps its default.
pub(crate) fn parse_exif(raw: &[u8]) -> ExifFacts {
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_raw(raw.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(exif) = parsed else {
        return ExifFacts::default();
    };
    let mut facts = ExifFacts::default();
    // Match on tag numbers in the primary image (IFD0 and its Exif sub-IFD), so that a tag put in
    // IFD0 instead of the Exif sub-IFD by a sloppy writer is still found.
    for field in exif.fields().filter(|f| f.ifd_num == exif::In::PRIMARY) {
        match field.tag.number() {
            TAG_ORIENTATION => {
                if let Some(v) = field.value.get_uint(0).filter(|v| (1..=8).contains(v)) {
                    facts.orientation = v as u8;
                }
            }
            TAG_FOCAL_35MM => {
                facts.focal.focal_35mm = field
                    .value
                    .get_uint(0)
                    .map(|v| v as f32)
                    .filter(|&v| v > 0.0 && v <= FocalPrior::MAX_PLAUSIBLE_MM);
            }
            TAG_FOCAL_LENGTH => {
                let mm = match &field.value {
                    exif::Value::Rational(v) => v.first().map(|r| r.to_f64()),
                    exif::Value::SRational(v) => v.first().map(|r| r.to_f64()),
                    other => other.get_uint(0).map(f64::from),
                };
                facts.focal.focal_mm = mm
                    .map(|v| v as f32)
                    .filter(|&v| v.is_finite() && v > 0.0 && v <= FocalPrior::MAX_PLAUSIBLE_MM);
            }
            _ => {}
        }
    }
    facts
}
