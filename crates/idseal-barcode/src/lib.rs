//! Barcode rendering for Visible Digital Seals.
//!
//! A VDS travels as text (`VDSEUA…`, Base45 by default, docs/vds.md). This crate draws that text
//! as a QR code (the default) or an Aztec code and writes it as SVG (a string) or PNG (bytes). For
//! round-trip tests it also reads a PNG back to the text. It is pure: bytes in, bytes out; files
//! are the caller's business.
//!
//! Text made only of the Base45 alphabet (`0-9A-Z $%*+-./:`) is written in the QR alphanumeric
//! mode (5.5 bits a character); any other printable ASCII text (Base64, lowercase hex) falls
//! back to byte mode (8 bits a character). The text is never trimmed or changed: a leading or
//! trailing space is part of the seal.
//!
//! ```
//! use idseal_barcode::{RenderOptions, decode_png, render_png, render_svg};
//!
//! let text = "VDSEUA03SDD8 ABC";
//! let svg = render_svg(text, &RenderOptions::print())?;
//! assert!(svg.starts_with("<svg"));
//! let png = render_png(text, &RenderOptions::screen())?;
//! assert_eq!(decode_png(&png)?, text);
//! # Ok::<(), idseal_barcode::BarcodeError>(())
//! ```

mod decode;
mod png_io;
mod svg;
mod symbol;

use std::fmt;

pub use decode::decode_png;
pub use symbol::{Symbol, encode};

/// Largest accepted [`RenderOptions::module_px`].
pub const MAX_MODULE_PX: u32 = 16;
/// Largest accepted [`RenderOptions::quiet_zone_modules`].
pub const MAX_QUIET_ZONE_MODULES: u32 = 16;
/// Largest image [`decode_png`] reads, in pixels (width × height): 4096 × 4096.
pub const MAX_DECODE_PIXELS: u64 = 1 << 24;

/// The two-dimensional symbology a seal is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Symbology {
    /// QR code (ISO/IEC 18004), model 2, versions 1-40. The default: every phone reads it.
    #[default]
    Qr,
    /// Aztec code (ISO/IEC 24778), compact or full range. Needs no quiet zone and is a little
    /// denser; used on transport tickets.
    Aztec,
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Qr => "QR",
            Self::Aztec => "Aztec",
        })
    }
}

/// QR error-correction level (ISO/IEC 18004 §7.5.1): the share of codewords that may be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EcLevel {
    /// About 7 %: the largest capacity (4296 alphanumeric characters at version 40).
    L,
    /// About 15 %: the default for seals (3391 alphanumeric characters at version 40).
    #[default]
    M,
    /// About 25 % (2420 alphanumeric characters at version 40).
    Q,
    /// About 30 % (1852 alphanumeric characters at version 40).
    H,
}

/// How a seal is drawn. Start from [`RenderOptions::print`] or [`RenderOptions::screen`] and
/// change fields as needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderOptions {
    /// QR (default) or Aztec.
    pub symbology: Symbology,
    /// Pixels per module in a PNG, 1 to [`MAX_MODULE_PX`]. The SVG is vector; this and
    /// [`dpi`](Self::dpi) only set its physical size.
    pub module_px: u32,
    /// Light modules around the symbol, 0 to [`MAX_QUIET_ZONE_MODULES`]. ISO/IEC 18004 asks for
    /// 4 around a QR code; Aztec needs none, but a margin helps cameras.
    pub quiet_zone_modules: u32,
    /// Resolution the PNG is meant for (written to its `pHYs` chunk) and from which the SVG's
    /// width and height in millimetres follow: one module is `module_px / dpi` inches.
    pub dpi: u32,
    /// QR error-correction level; ignored for Aztec.
    pub error_correction: EcLevel,
    /// Aztec minimum error-correction share in percent, 5 to 90 (ISO/IEC 24778 recommends 23 %
    /// plus 3 codewords, which the encoder adds); ignored for QR.
    pub aztec_ec_percent: u32,
}

impl RenderOptions {
    /// For paper: 12 pixels a module at 600 dpi, so a module is 0.508 mm (at least 0.5 mm,
    /// which office laser printers and phone cameras handle), QR at level M, 4-module quiet zone.
    #[must_use]
    pub const fn print() -> Self {
        Self {
            symbology: Symbology::Qr,
            module_px: 12,
            quiet_zone_modules: 4,
            dpi: 600,
            error_correction: EcLevel::M,
            aztec_ec_percent: 23,
        }
    }

    /// For displays: 6 pixels a module at 96 dpi (CSS pixels), QR at level M, 4-module quiet
    /// zone.
    #[must_use]
    pub const fn screen() -> Self {
        Self { module_px: 6, dpi: 96, ..Self::print() }
    }

    /// The same options with another symbology.
    #[must_use]
    pub const fn with_symbology(self, symbology: Symbology) -> Self {
        Self { symbology, ..self }
    }

    /// The size of one module in millimetres.
    #[must_use]
    pub fn module_mm(&self) -> f64 {
        f64::from(self.module_px) * 25.4 / f64::from(self.dpi.max(1))
    }

    fn validate(&self) -> Result<(), BarcodeError> {
        if !(1..=MAX_MODULE_PX).contains(&self.module_px) {
            return Err(BarcodeError::InvalidOptions("module_px must be 1 to 16"));
        }
        if self.quiet_zone_modules > MAX_QUIET_ZONE_MODULES {
            return Err(BarcodeError::InvalidOptions("quiet_zone_modules must be at most 16"));
        }
        if !(72..=4800).contains(&self.dpi) {
            return Err(BarcodeError::InvalidOptions("dpi must be 72 to 4800"));
        }
        if !(5..=90).contains(&self.aztec_ec_percent) {
            return Err(BarcodeError::InvalidOptions("aztec_ec_percent must be 5 to 90"));
        }
        Ok(())
    }
}

impl Default for RenderOptions {
    /// [`RenderOptions::print`].
    fn default() -> Self {
        Self::print()
    }
}

/// Everything that can go wrong while rendering or reading a barcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BarcodeError {
    /// The text is empty; a seal never is.
    #[error("the text to encode is empty")]
    EmptyText,
    /// A character outside printable ASCII (0x20-0x7E): seal texts are ASCII.
    #[error("character {found:?} at byte {index} cannot be encoded: only printable ASCII is accepted")]
    UnsupportedCharacters {
        /// Byte offset of the first such character.
        index: usize,
        /// The character.
        found: char,
    },
    /// The text does not fit in the largest symbol at the chosen error-correction level.
    #[error("{len} characters do not fit in one {symbology} symbol at the chosen error correction")]
    TooLongForSymbol {
        /// The symbology tried.
        symbology: Symbology,
        /// Length of the text in characters.
        len: usize,
    },
    /// A render option is out of range.
    #[error("invalid render options: {0}")]
    InvalidOptions(&'static str),
    /// The bytes are not a PNG image this crate can read.
    #[error("malformed image: {0}")]
    MalformedImage(String),
    /// The PNG is larger than [`MAX_DECODE_PIXELS`].
    #[error("image of {width}x{height} pixels is too large to decode")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// No readable QR or Aztec code is in the image.
    #[error("no readable QR or Aztec code found in the image")]
    NoCodeFound,
    /// The barcode or PNG encoder failed for another reason (a bug, not bad input).
    #[error("encoder failed: {0}")]
    Encoder(String),
}

/// Renders `text` as an SVG document.
///
/// The document has a white background `<rect>` and one black `<path>` of module rectangles,
/// `shape-rendering="crispEdges"`, a `viewBox` in modules (quiet zone included) and `width` and
/// `height` in millimetres (see [`RenderOptions::module_mm`]). It has no script, style sheet,
/// text or external reference.
///
/// # Errors
///
/// [`BarcodeError::EmptyText`], [`BarcodeError::UnsupportedCharacters`],
/// [`BarcodeError::TooLongForSymbol`], [`BarcodeError::InvalidOptions`].
pub fn render_svg(text: &str, opts: &RenderOptions) -> Result<String, BarcodeError> {
    let symbol = encode(text, opts)?;
    Ok(svg::to_svg(&symbol, opts))
}

/// Renders `text` as a PNG image: 1-bit greyscale, `module_px` pixels a module, quiet zone
/// included, with a `pHYs` chunk for [`RenderOptions::dpi`].
///
/// # Errors
///
/// As [`render_svg`]; [`BarcodeError::Encoder`] if the PNG encoder fails.
pub fn render_png(text: &str, opts: &RenderOptions) -> Result<Vec<u8>, BarcodeError> {
    let symbol = encode(text, opts)?;
    png_io::to_png(&symbol, opts)
}
