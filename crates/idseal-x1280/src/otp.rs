//! The autoPassword: a 6-digit code bound to the enrollment (`tokenId`) and the login session
//! (`sessionId`), derived from a 256-bit server master secret.
//!
//! ```text
//! info = u16be(len(tokenId)) || tokenId || u16be(len(sessionId)) || sessionId   (UTF-8 bytes)
//! K    = HKDF-SHA256(salt = "idseal/x1280/otp/v1", ikm = secret, info), 32 bytes
//! M    = HMAC-SHA256(K, "autoPassword")
//! o    = M[31] & 0x0f
//! v    = (M[o] & 0x7f) << 24 | M[o+1] << 16 | M[o+2] << 8 | M[o+3]     (RFC 4226 §5.3)
//! otp  = v mod 1_000_000, as 6 decimal digits with leading zeros
//! ```
//!
//! The length prefixes make the encoding of the two identifiers unambiguous, so no pair of
//! different (tokenId, sessionId) shares an `info`; identifiers longer than 65 535 bytes are
//! refused ([`X1280Error::BadRequest`]; the server checks their shapes before this anyway).

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use zeroize::Zeroizing;

use crate::error::X1280Error;
use crate::prim::{hkdf_sha256_32, hmac_sha256};

/// The HKDF salt of the autoPassword derivation.
pub const OTP_SALT: &[u8] = b"idseal/x1280/otp/v1";
/// The HMAC message that turns the derived key into the truncation input.
pub const OTP_LABEL: &[u8] = b"autoPassword";
/// The number of digits of an autoPassword.
pub const OTP_DIGITS: usize = 6;

/// The 256-bit server master secret of the autoPassword derivation. Zeroized on drop; `Debug`
/// prints `<redacted>`.
pub struct OtpSecret(Zeroizing<[u8; 32]>);

impl OtpSecret {
    /// The secret from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for OtpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpSecret(<redacted>)")
    }
}

/// An autoPassword: exactly 6 ASCII digits. Zeroized on drop; `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct AutoPassword(Zeroizing<String>);

impl AutoPassword {
    /// Wraps `s` when it is exactly 6 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, X1280Error> {
        if is_otp_shape(s) {
            Ok(Self(Zeroizing::new(s.to_owned())))
        } else {
            Err(X1280Error::BadRequest("otp must be 6 digits".into()))
        }
    }

    /// The 6 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented code. `false` when `presented` is not 6 ASCII
    /// digits (that shape check is not secret and may return early).
    pub fn ct_eq(&self, presented: &str) -> bool {
        is_otp_shape(presented) && verify_slices_are_equal(self.0.as_bytes(), presented.as_bytes()).is_ok()
    }

    /// The code with all but the first `visible` digits replaced by `*` (`4829**` for
    /// `visible = 4`), for the WebSocket `otp_ready` event when the server masks it.
    pub fn masked(&self, visible: usize) -> String {
        self.0.chars().enumerate().map(|(i, c)| if i < visible { c } else { '*' }).collect()
    }
}

impl fmt::Debug for AutoPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AutoPassword(<redacted>)")
    }
}

fn is_otp_shape(s: &str) -> bool {
    s.len() == OTP_DIGITS && s.bytes().all(|c| c.is_ascii_digit())
}

/// `u16be(len) || bytes`; refused over 65 535 bytes.
fn length_prefixed(s: &str) -> Result<Vec<u8>, X1280Error> {
    let len = u16::try_from(s.len()).map_err(|_| X1280Error::BadRequest("identifier too long".into()))?;
    Ok([len.to_be_bytes().as_slice(), s.as_bytes()].concat())
}

/// Derives the autoPassword of `session_id` for the enrollment `token_id` (see the module docs).
///
/// Fails only when an identifier is longer than 65 535 bytes.
pub fn auto_password(secret: &OtpSecret, token_id: &str, session_id: &str) -> Result<AutoPassword, X1280Error> {
    let t = length_prefixed(token_id)?;
    let s = length_prefixed(session_id)?;
    let k = hkdf_sha256_32(OTP_SALT, secret.0.as_ref(), &[&t, &s]);
    let m = Zeroizing::new(hmac_sha256(k.as_ref(), &[OTP_LABEL]));
    Ok(truncate(&m))
}

/// RFC 4226 §5.3 dynamic truncation of a 32-byte MAC, reduced to 6 digits.
fn truncate(m: &[u8; 32]) -> AutoPassword {
    let offset = usize::from(m[31] & 0x0f);
    let byte = |i: usize| u32::from(m.get(offset + i).copied().unwrap_or(0));
    let v = ((byte(0) & 0x7f) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
    AutoPassword(Zeroizing::new(format!("{:06}", v % 1_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> OtpSecret {
        OtpSecret::from_bytes([b; 32])
    }

    #[test]
    fn fixed_vectors() {
        // Computed independently by tests/interop/otp_vectors.py.
        let cases = [
            ([0x00; 32], "tok", "sess_00000000000000000000000000000000", "063139"),
            ([0x01; 32], "6f1c8c4e-2b7a-4d1e-9a43-0c2f6b8d9e10", "sess_0123456789abcdef0123456789abcdef", "683891"),
            ([0xff; 32], "", "", "768292"),
        ];
        for (s, tid, sid, want) in cases {
            let otp = auto_password(&OtpSecret::from_bytes(s), tid, sid).unwrap();
            assert_eq!(otp.as_str(), want, "{tid} {sid}");
        }
    }

    #[test]
    fn rfc4226_truncation_example() {
        // RFC 4226 §5.4 example MAC (20 bytes) padded: offset taken from the last byte, so build
        // a 32-byte MAC whose last byte and window reproduce the RFC's 0x50ef7f19.
        let mut m = [0u8; 32];
        m[31] = 0x0a;
        m[10..14].copy_from_slice(&[0x50, 0xef, 0x7f, 0x19]);
        assert_eq!(truncate(&m).as_str(), format!("{:06}", 0x50ef_7f19_u32 % 1_000_000));
        // The top bit is masked off.
        m[10] = 0xd0;
        assert_eq!(truncate(&m).as_str(), format!("{:06}", 0x50ef_7f19_u32 % 1_000_000));
    }

    #[test]
    fn ct_eq_and_shape() {
        let otp = AutoPassword::parse("048291").unwrap();
        assert!(otp.ct_eq("048291"));
        assert!(!otp.ct_eq("048292"));
        assert!(!otp.ct_eq("48291"));
        assert!(!otp.ct_eq("0482910"));
        assert!(!otp.ct_eq("04829a"));
        assert!(!otp.ct_eq("٠٤٨٢٩١")); // Arabic-Indic digits are not ASCII digits
        assert!(AutoPassword::parse("12345").is_err());
        assert!(AutoPassword::parse("12345x").is_err());
    }

    #[test]
    fn masking() {
        let otp = AutoPassword::parse("482917").unwrap();
        assert_eq!(otp.masked(4), "4829**");
        assert_eq!(otp.masked(0), "******");
        assert_eq!(otp.masked(6), "482917");
        assert_eq!(otp.masked(9), "482917");
    }

    #[test]
    fn debug_is_redacted() {
        let otp = auto_password(&secret(3), "t", "s").unwrap();
        assert!(!format!("{otp:?}").contains(otp.as_str()));
        assert_eq!(format!("{:?}", secret(3)), "OtpSecret(<redacted>)");
    }

    #[test]
    fn bound_to_each_input() {
        let base = auto_password(&secret(1), "tok-a", "sess-a").unwrap();
        assert_ne!(base, auto_password(&secret(2), "tok-a", "sess-a").unwrap());
        assert_ne!(base, auto_password(&secret(1), "tok-b", "sess-a").unwrap());
        assert_ne!(base, auto_password(&secret(1), "tok-a", "sess-b").unwrap());
    }

    #[test]
    fn too_long_identifier_is_refused() {
        let long = "a".repeat(65_536);
        assert!(matches!(auto_password(&secret(1), &long, "s"), Err(X1280Error::BadRequest(_))));
        assert!(matches!(auto_password(&secret(1), "t", &long), Err(X1280Error::BadRequest(_))));
        assert!(auto_password(&secret(1), &long[1..], "s").is_ok());
        assert_eq!(length_prefixed("ab").unwrap(), b"\x00\x02ab");
    }
}
