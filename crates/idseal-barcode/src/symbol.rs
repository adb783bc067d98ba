//! The module grid of a QR or Aztec symbol, built by rxing's encoders.

use rxing::Exceptions;
use rxing::aztec::encoder::aztec_encoder;
use rxing::qrcode::common::{ErrorCorrectionLevel, Mode};
use rxing::qrcode::encoder::qrcode_encoder;

use crate::{BarcodeError, EcLevel, RenderOptions, Symbology};

/// A square grid of modules, without quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    symbology: Symbology,
    side: u32,
    /// Row-major, `side * side` entries, `true` = dark.
    dark: Vec<bool>,
    version: u32,
    alphanumeric: bool,
}

impl Symbol {
    /// The symbology.
    #[must_use]
    pub fn symbology(&self) -> Symbology {
        self.symbology
    }

    /// Modules on a side, without quiet zone (QR: 21 to 177; Aztec: 15 to 151).
    #[must_use]
    pub fn side(&self) -> u32 {
        self.side
    }

    /// QR version (1-40) or Aztec layer count (1-4 compact, 1-32 full).
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether a QR code was written in the alphanumeric mode (always `false` for Aztec, whose
    /// encoder switches modes on its own).
    #[must_use]
    pub fn is_qr_alphanumeric(&self) -> bool {
        self.alphanumeric
    }

    /// Whether the module at column `x`, row `y` is dark; `false` outside the grid.
    #[must_use]
    pub fn is_dark(&self, x: u32, y: u32) -> bool {
        if x >= self.side || y >= self.side {
            return false;
        }
        let index = usize::try_from(u64::from(y) * u64::from(self.side) + u64::from(x));
        index.ok().and_then(|i| self.dark.get(i)).copied().unwrap_or(false)
    }

    /// Dark runs of row `y` as `(start column, length)`.
    pub(crate) fn dark_runs(&self, y: u32) -> Vec<(u32, u32)> {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < self.side {
            if self.is_dark(x, y) {
                let start = x;
                while x < self.side && self.is_dark(x, y) {
                    x += 1;
                }
                runs.push((start, x - start));
            } else {
                x += 1;
            }
        }
        runs
    }
}

/// Checks `text` and encodes it as the module grid of one symbol.
///
/// # Errors
///
/// [`BarcodeError::EmptyText`], [`BarcodeError::UnsupportedCharacters`],
/// [`BarcodeError::TooLongForSymbol`], [`BarcodeError::InvalidOptions`].
pub fn encode(text: &str, opts: &RenderOptions) -> Result<Symbol, BarcodeError> {
    opts.validate()?;
    check_text(text)?;
    let too_long = || BarcodeError::TooLongForSymbol { symbology: opts.symbology, len: text.len() };
    match opts.symbology {
        Symbology::Qr => encode_qr(text, opts.error_correction, too_long),
        Symbology::Aztec => encode_aztec(text, opts.aztec_ec_percent, too_long),
    }
}

fn check_text(text: &str) -> Result<(), BarcodeError> {
    if text.is_empty() {
        return Err(BarcodeError::EmptyText);
    }
    match text.char_indices().find(|&(_, c)| !(' '..='~').contains(&c)) {
        Some((index, found)) => Err(BarcodeError::UnsupportedCharacters { index, found }),
        None => Ok(()),
    }
}

/// QR capacity errors of rxing are `WriterException`s ("data too big ...").
fn is_capacity_error(e: &Exceptions) -> bool {
    let message = e.to_string().to_ascii_lowercase();
    message.contains("too big") || message.contains("too large") || message.contains("to large")
}

fn encode_qr(text: &str, level: EcLevel, too_long: impl Fn() -> BarcodeError) -> Result<Symbol, BarcodeError> {
    let ec = match level {
        EcLevel::L => ErrorCorrectionLevel::L,
        EcLevel::M => ErrorCorrectionLevel::M,
        EcLevel::Q => ErrorCorrectionLevel::Q,
        EcLevel::H => ErrorCorrectionLevel::H,
    };
    // No hints: rxing then picks one segment in the most compact mode the whole text allows
    // (alphanumeric for Base45 text, byte with ISO 8859-1 and no ECI for other ASCII).
    let code = qrcode_encoder::encode(text, ec)
        .map_err(|e| if is_capacity_error(&e) { too_long() } else { BarcodeError::Encoder(e.to_string()) })?;
    let version = code
        .getVersion()
        .map(|v| v.getVersionNumber())
        .ok_or_else(|| BarcodeError::Encoder("QR encoder returned no version".into()))?;
    let matrix =
        code.getMatrix().as_ref().ok_or_else(|| BarcodeError::Encoder("QR encoder returned no matrix".into()))?;
    let side = matrix.getWidth();
    if matrix.getHeight() != side {
        return Err(BarcodeError::Encoder("QR matrix is not square".into()));
    }
    let dark = matrix.getArray().iter().flat_map(|row| row.iter().map(|&m| m == 1)).collect();
    Ok(Symbol {
        symbology: Symbology::Qr,
        side,
        dark,
        version,
        alphanumeric: code.getMode() == &Some(Mode::ALPHANUMERIC),
    })
}

fn encode_aztec(text: &str, ec_percent: u32, too_long: impl Fn() -> BarcodeError) -> Result<Symbol, BarcodeError> {
    // Layers 0 = the smallest symbol that fits. No charset: ISO 8859-1, no ECI (ASCII only).
    let code = aztec_encoder::encode(text, ec_percent, 0)
        .map_err(|e| if is_capacity_error(&e) { too_long() } else { BarcodeError::Encoder(e.to_string()) })?;
    let matrix = code.getMatrix();
    let side = matrix.getWidth();
    if matrix.getHeight() != side {
        return Err(BarcodeError::Encoder("Aztec matrix is not square".into()));
    }
    let dark = (0..side).flat_map(|y| (0..side).map(move |x| matrix.get(x, y))).collect();
    Ok(Symbol { symbology: Symbology::Aztec, side, dark, version: code.getLayers(), alphanumeric: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(symbology: Symbology) -> RenderOptions {
        RenderOptions::print().with_symbology(symbology)
    }

    /// `len` characters of the Base45 alphabet, spaces included.
    fn base45_text(len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        (0..len).map(|i| char::from(ALPHABET[(i * 7 + i / 45) % ALPHABET.len()])).collect()
    }

    #[test]
    fn base45_text_uses_the_alphanumeric_mode() {
        // ISO/IEC 18004 Table 7, level M: alphanumeric capacity is 656 characters at version 16
        // and 734 at version 17; byte capacity is 666 at version 20 and 711 at version 21.
        let text = base45_text(700);
        let symbol = encode(&text, &opts(Symbology::Qr)).unwrap();
        assert!(symbol.is_qr_alphanumeric());
        assert_eq!(symbol.version(), 17);
        assert_eq!(symbol.side(), 17 + 4 * 17);

        // The same length outside the alphanumeric set (lowercase) needs byte mode.
        let lower = text.to_ascii_lowercase();
        let symbol = encode(&lower, &opts(Symbology::Qr)).unwrap();
        assert!(!symbol.is_qr_alphanumeric());
        assert_eq!(symbol.version(), 21);
    }

    #[test]
    fn capacity_limits_follow_the_ec_level() {
        let mut o = opts(Symbology::Qr);
        o.error_correction = EcLevel::M;
        assert_eq!(encode(&base45_text(3391), &o).unwrap().version(), 40);
        assert!(matches!(
            encode(&base45_text(3392), &o),
            Err(BarcodeError::TooLongForSymbol { symbology: Symbology::Qr, len: 3392 })
        ));
        o.error_correction = EcLevel::L;
        assert_eq!(encode(&base45_text(4296), &o).unwrap().version(), 40);
        o.error_correction = EcLevel::H;
        assert!(encode(&base45_text(1853), &o).is_err());
    }

    #[test]
    fn refuses_bad_text() {
        let o = opts(Symbology::Qr);
        assert_eq!(encode("", &o), Err(BarcodeError::EmptyText));
        assert_eq!(encode("VDS\u{e9}", &o), Err(BarcodeError::UnsupportedCharacters { index: 3, found: '\u{e9}' }));
        assert_eq!(
            encode("AB\nC", &opts(Symbology::Aztec)),
            Err(BarcodeError::UnsupportedCharacters { index: 2, found: '\n' })
        );
    }

    #[test]
    fn refuses_bad_options() {
        for change in [
            |o: &mut RenderOptions| o.module_px = 0,
            |o: &mut RenderOptions| o.module_px = 17,
            |o: &mut RenderOptions| o.quiet_zone_modules = 17,
            |o: &mut RenderOptions| o.dpi = 0,
            |o: &mut RenderOptions| o.aztec_ec_percent = 4,
            |o: &mut RenderOptions| o.aztec_ec_percent = 91,
        ] {
            let mut o = RenderOptions::print();
            change(&mut o);
            assert!(matches!(encode("A", &o), Err(BarcodeError::InvalidOptions(_))));
        }
    }

    #[test]
    fn aztec_sizes() {
        let small = encode("VDSEUA", &opts(Symbology::Aztec)).unwrap();
        assert_eq!(small.side(), 15); // compact, one layer
        let big = encode(&base45_text(700), &opts(Symbology::Aztec)).unwrap();
        assert!(big.side() > 15 && big.side() <= 151);
        assert_eq!(big.dark_runs(big.side()), Vec::new());
        assert!(!big.is_dark(big.side(), 0));
    }
}
