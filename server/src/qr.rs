//! QR codes of pairing links, as SVG a page can show inline or as an image.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::error::ServerError;

/// An SVG document of a QR code encoding `text`, with the standard quiet zone. Medium error
/// correction: a phone screen or a print can be read with a little glare or blur.
pub fn svg(text: &str) -> Result<String, ServerError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        ServerError::Internal(format!("QR code of a {}-byte link: {e}", text.len()))
    })?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}
