//! Reading a PNG back to the text, with rxing's QR and Aztec readers.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rxing::{BarcodeFormat, DecodeHints, helpers};

use crate::BarcodeError;
use crate::png_io::read_luma;

/// Reads the QR or Aztec code in a PNG image and returns its text exactly as encoded (no
/// trimming).
///
/// Meant for round-trip tests and tooling, not for camera images: it reads the first QR or Aztec
/// code rxing finds, with `TRY_HARDER`. Any PNG colour type and bit depth is accepted;
/// transparency is composed over white.
///
/// # Errors
///
/// [`BarcodeError::MalformedImage`] if the bytes are not a readable PNG,
/// [`BarcodeError::ImageTooLarge`] above [`crate::MAX_DECODE_PIXELS`],
/// [`BarcodeError::NoCodeFound`] if no code can be read (none there, or too damaged).
pub fn decode_png(png: &[u8]) -> Result<String, BarcodeError> {
    let luma = read_luma(png)?;
    if luma.width == 0 || luma.height == 0 {
        return Err(BarcodeError::MalformedImage("empty image".into()));
    }
    let mut hints = DecodeHints {
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE, BarcodeFormat::AZTEC])),
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    // rxing is a port of Java code full of indexing; an input that trips one of its bounds
    // checks must not take the caller down, so a panic inside the reader is reported as "no
    // code found" (the default hook still prints it to stderr).
    let result = catch_unwind(AssertUnwindSafe(|| {
        helpers::detect_in_luma_with_hints(luma.pixels, luma.width, luma.height, None, &mut hints)
    }));
    match result {
        Ok(Ok(found)) => Ok(found.getText().to_owned()),
        Ok(Err(_)) | Err(_) => Err(BarcodeError::NoCodeFound),
    }
}
