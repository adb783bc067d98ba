//! The text form of a seal: the unsigned prefix `VDSEUA` (IAC `VDS`, CIN `EU`, DCI `A`), then the
//! binary in one transport encoding.
//!
//! Detection: the first bytes of every seal are `0xDE 0x03`. Each transport is tried on the
//! shortest leading piece of the text that yields two bytes (Base45: 3 characters `03S`; hex:
//! 4 characters `DE03`; Base64: 4 characters `3gP…`). These leading pieces are disjoint, so at
//! most one transport matches; that transport then decodes the whole text strictly and its
//! errors are reported (for example [`VdsError::BadBase45`] for `GGW`). When none matches, the
//! first transport (in the order Base45, hex, Base64, Base64url) that decodes the whole text
//! hands its bytes on, so the binary decoder can report the marker or version found; when none
//! decodes, the result is [`VdsError::UnknownTransport`]. Text is never trimmed.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::base45;
use crate::error::VdsError;
use crate::header::{MARKER, VERSION};

/// The unsigned text prefix: IAC `VDS`, CIN `EU`, DCI `A`.
pub const PREFIX: &str = "VDSEUA";

/// A transport encoding of the binary seal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// RFC 9285 Base45 (the default: fits the QR alphanumeric mode).
    Base45,
    /// Hexadecimal; written uppercase, read in either case.
    Hex,
    /// RFC 4648 §4 Base64 with padding, strict.
    Base64,
    /// RFC 4648 §5 URL-safe Base64 without padding, strict.
    Base64Url,
}

impl Transport {
    /// Every transport, in detection order.
    pub const ALL: [Self; 4] = [Self::Base45, Self::Hex, Self::Base64, Self::Base64Url];

    /// Encodes `binary` (without the prefix).
    pub fn encode(self, binary: &[u8]) -> String {
        match self {
            Self::Base45 => base45::encode(binary),
            Self::Hex => binary.iter().map(|b| format!("{b:02X}")).collect(),
            Self::Base64 => STANDARD.encode(binary),
            Self::Base64Url => URL_SAFE_NO_PAD.encode(binary),
        }
    }

    /// Decodes `text` (without the prefix) strictly.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, VdsError> {
        match self {
            Self::Base45 => base45::decode(text),
            Self::Hex => decode_hex(text),
            Self::Base64 => STANDARD.decode(text).map_err(|_| VdsError::BadBase64),
            Self::Base64Url => URL_SAFE_NO_PAD.decode(text).map_err(|_| VdsError::BadBase64),
        }
    }

    /// Whether the text starts like a seal (`0xDE 0x03`) in this transport.
    fn starts_like_seal(self, text: &str) -> bool {
        let head = match self {
            Self::Base45 => 3,
            Self::Hex | Self::Base64 | Self::Base64Url => 4,
        };
        let decoded = text.get(..head).and_then(|h| self.decode(h).ok());
        matches!(decoded.as_deref(), Some([m, v, ..]) if *m == MARKER && *v == VERSION)
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, VdsError> {
    fn nibble(c: u8) -> Result<u8, VdsError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(VdsError::BadHex),
        }
    }
    let raw = text.as_bytes();
    if !raw.len().is_multiple_of(2) {
        return Err(VdsError::BadHex);
    }
    raw.chunks_exact(2)
        .map(|p| match *p {
            [hi, lo] => Ok(nibble(hi)? << 4 | nibble(lo)?),
            _ => Err(VdsError::BadHex),
        })
        .collect()
}

/// The full text of a seal: prefix + transport encoding of `binary`.
pub fn to_text(binary: &[u8], transport: Transport) -> String {
    format!("{PREFIX}{}", transport.encode(binary))
}

/// Strips the prefix, detects the transport and decodes the binary.
pub fn from_text(text: &str) -> Result<(Vec<u8>, Transport), VdsError> {
    let body = text.strip_prefix(PREFIX).ok_or(VdsError::BadPrefix)?;
    if let Some(t) = Transport::ALL.into_iter().find(|t| t.starts_like_seal(body)) {
        return match t.decode(body) {
            Ok(binary) => Ok((binary, t)),
            // both Base64 alphabets share the leading characters of a seal
            Err(e) if t == Transport::Base64 => {
                Transport::Base64Url.decode(body).map(|b| (b, Transport::Base64Url)).map_err(|_| e)
            }
            Err(e) => Err(e),
        };
    }
    Transport::ALL.into_iter().find_map(|t| t.decode(body).ok().map(|b| (b, t))).ok_or(VdsError::UnknownTransport)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEAL_START: [u8; 6] = [0xDE, 0x03, 0xDD, 0x89, 0x7B, 0x9D];

    #[test]
    fn each_transport_round_trips_and_is_detected() {
        let mut bin = SEAL_START.to_vec();
        bin.extend(0u8..=255);
        for t in Transport::ALL {
            let text = to_text(&bin, t);
            let (back, found) = from_text(&text).unwrap();
            assert_eq!((back, found), (bin.clone(), t), "{t:?}");
            for other in Transport::ALL {
                let base64 = [Transport::Base64, Transport::Base64Url];
                if other != t && !(base64.contains(&t) && base64.contains(&other)) {
                    assert!(!other.starts_like_seal(&text[PREFIX.len()..]), "{t:?} looks like {other:?}");
                }
            }
        }
        assert_eq!(Transport::Base45.encode(&SEAL_START[..2]), "03S");
        assert_eq!(Transport::Hex.encode(&SEAL_START[..2]), "DE03");
        assert_eq!(from_text(&format!("{PREFIX}de03ddff")).unwrap().1, Transport::Hex);
    }

    #[test]
    fn errors() {
        assert_eq!(from_text("VDSEUB03S"), Err(VdsError::BadPrefix));
        assert_eq!(from_text(" VDSEUA03S"), Err(VdsError::BadPrefix));
        assert!(matches!(from_text("VDSEUA03SGGW"), Err(VdsError::BadBase45 { .. })));
        assert!(matches!(from_text("VDSEUA03S0"), Err(VdsError::BadBase45 { .. })));
        assert!(matches!(from_text("VDSEUA03S00\n"), Err(VdsError::BadBase45 { .. })));
        assert_eq!(from_text("VDSEUADE03X0"), Err(VdsError::BadHex));
        assert_eq!(from_text("VDSEUA3gPd!"), Err(VdsError::BadBase64));
        assert_eq!(from_text("VDSEUA~~"), Err(VdsError::UnknownTransport));
        // wrong marker: decodes as Base45, the binary decoder reports it
        assert_eq!(from_text("VDSEUA000").unwrap(), (vec![0, 0], Transport::Base45));
    }
}
