//! PNG output (1-bit greyscale) and input (any PNG, to 8-bit luma).

use std::io::Cursor;

use png::{BitDepth, ColorType, PixelDimensions, Transformations, Unit};

use crate::{BarcodeError, MAX_DECODE_PIXELS, RenderOptions, Symbol};

/// Draws `symbol` with its quiet zone, `module_px` pixels a module; dark = 0, light = 1.
pub(crate) fn to_png(symbol: &Symbol, opts: &RenderOptions) -> Result<Vec<u8>, BarcodeError> {
    let quiet = opts.quiet_zone_modules;
    let px = opts.module_px;
    let side_px = (symbol.side() + 2 * quiet) * px;
    let row_bytes = usize::try_from(side_px.div_ceil(8)).map_err(encoder_error)?;

    let mut image = Vec::with_capacity(row_bytes * usize::try_from(side_px).unwrap_or(0));
    let mut row = vec![0u8; row_bytes];
    for y_px in 0..side_px {
        row.fill(0xFF);
        let y = (y_px / px).checked_sub(quiet);
        if let Some(y) = y {
            for x_px in 0..side_px {
                let dark = (x_px / px).checked_sub(quiet).is_some_and(|x| symbol.is_dark(x, y));
                if dark {
                    let byte = usize::try_from(x_px / 8).map_err(encoder_error)?;
                    if let Some(b) = row.get_mut(byte) {
                        *b &= !(0x80u8 >> (x_px % 8));
                    }
                }
            }
        }
        image.extend_from_slice(&row);
    }

    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(ColorType::Grayscale);
    encoder.set_depth(BitDepth::One);
    // Pixels per metre, rounded: 600 dpi = 23622 px/m.
    let ppm = (u64::from(opts.dpi) * 10_000 + 127) / 254;
    let ppm = u32::try_from(ppm).map_err(encoder_error)?;
    encoder.set_pixel_dims(Some(PixelDimensions { xppu: ppm, yppu: ppm, unit: Unit::Meter }));
    let mut writer = encoder.write_header().map_err(encoder_error)?;
    writer.write_image_data(&image).map_err(encoder_error)?;
    writer.finish().map_err(encoder_error)?;
    Ok(out)
}

fn encoder_error(e: impl std::fmt::Display) -> BarcodeError {
    BarcodeError::Encoder(e.to_string())
}

fn malformed(e: impl std::fmt::Display) -> BarcodeError {
    BarcodeError::MalformedImage(e.to_string())
}

/// An 8-bit luma image, row-major.
pub(crate) struct Luma {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) pixels: Vec<u8>,
}

/// Reads the first frame of a PNG as 8-bit luma; transparency is composed over white.
pub(crate) fn read_luma(bytes: &[u8]) -> Result<Luma, BarcodeError> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(Transformations::normalize_to_color8());
    let header = decoder.read_header_info().map_err(malformed)?;
    let (width, height) = (header.width, header.height);
    if u64::from(width) * u64::from(height) > MAX_DECODE_PIXELS {
        return Err(BarcodeError::ImageTooLarge { width, height });
    }
    let mut reader = decoder.read_info().map_err(malformed)?;
    let size =
        reader.output_buffer_size().ok_or_else(|| BarcodeError::MalformedImage("image size overflows".into()))?;
    let mut buffer = vec![0u8; size];
    let frame = reader.next_frame(&mut buffer).map_err(malformed)?;
    let (color, depth) = (frame.color_type, frame.bit_depth);
    if depth != BitDepth::Eight {
        return Err(BarcodeError::MalformedImage(format!("unexpected bit depth {depth:?}")));
    }
    let channels = match color {
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        ColorType::Rgba => 4,
        ColorType::Indexed => {
            return Err(BarcodeError::MalformedImage("palette was not expanded".into()));
        }
    };
    let w = usize::try_from(width).map_err(malformed)?;
    let h = usize::try_from(height).map_err(malformed)?;
    let mut pixels = Vec::with_capacity(w * h);
    for row in buffer.chunks(frame.line_size).take(h) {
        pixels.extend(row.chunks_exact(channels).take(w).map(|p| luma_of(p, color)));
    }
    if pixels.len() != w * h {
        return Err(BarcodeError::MalformedImage("truncated image data".into()));
    }
    Ok(Luma { width, height, pixels })
}

/// Luma (ITU-R BT.601 weights) of one 8-bit pixel, alpha composed over white.
fn luma_of(p: &[u8], color: ColorType) -> u8 {
    let get = |i: usize| u32::from(p.get(i).copied().unwrap_or(0));
    let (l, a) = match color {
        ColorType::Grayscale => (get(0), 255),
        ColorType::GrayscaleAlpha => (get(0), get(1)),
        ColorType::Rgb => ((299 * get(0) + 587 * get(1) + 114 * get(2)) / 1000, 255),
        ColorType::Rgba | ColorType::Indexed => ((299 * get(0) + 587 * get(1) + 114 * get(2)) / 1000, get(3)),
    };
    let composed = (l * a + 255 * (255 - a)) / 255;
    u8::try_from(composed.min(255)).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    #[test]
    fn png_pixels_match_the_modules() {
        let mut opts = RenderOptions::screen();
        opts.module_px = 3;
        opts.quiet_zone_modules = 4;
        let symbol = encode("VDSEUA", &opts).unwrap();
        let luma = read_luma(&to_png(&symbol, &opts).unwrap()).unwrap();
        assert_eq!(luma.width, (21 + 8) * 3);
        assert_eq!(luma.height, luma.width);
        for y in 0..luma.height {
            for x in 0..luma.width {
                let module = |v: u32| (v / 3).checked_sub(4);
                let dark = module(x).zip(module(y)).is_some_and(|(mx, my)| symbol.is_dark(mx, my));
                let pixel = luma.pixels[(y * luma.width + x) as usize];
                assert_eq!(pixel, if dark { 0 } else { 255 }, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn png_carries_the_resolution() {
        let opts = RenderOptions::print();
        let symbol = encode("A", &opts).unwrap();
        let png = to_png(&symbol, &opts).unwrap();
        let reader = png::Decoder::new(Cursor::new(png.as_slice())).read_info().unwrap();
        let dims = reader.info().pixel_dims.unwrap();
        assert_eq!((dims.xppu, dims.yppu, dims.unit), (23622, 23622, Unit::Meter));
    }

    #[test]
    fn colour_and_alpha_pixels_become_luma() {
        assert_eq!(luma_of(&[255, 255, 255], ColorType::Rgb), 255);
        assert_eq!(luma_of(&[0, 0, 0], ColorType::Rgb), 0);
        assert_eq!(luma_of(&[0, 0, 0, 0], ColorType::Rgba), 255);
        assert_eq!(luma_of(&[0, 0], ColorType::GrayscaleAlpha), 255);
        assert_eq!(luma_of(&[0, 255], ColorType::GrayscaleAlpha), 0);
    }
}
