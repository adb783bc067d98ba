//! Random identifiers and opaque tokens, from caller-supplied randomness.

use std::fmt::Write as _;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use zeroize::Zeroizing;

/// An opaque bearer token: `prefix` followed by the base64url (no padding) of 32 random bytes
/// (43 characters, 256 bits).
pub fn opaque(prefix: &str, random: &[u8; 32]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(prefix.len() + 43));
    s.push_str(prefix);
    B64.encode_string(random, &mut s);
    s
}

/// Lower-case hex SHA-256 of `s`: how tokens and secrets are stored.
pub fn sha256_hex(s: &str) -> String {
    hex(digest(&SHA256, s.as_bytes()).as_ref())
}

/// A 128-bit random identifier: 22 base64url characters.
pub fn new_id(random: &[u8; 16]) -> String {
    B64.encode(random)
}

/// A version 4 UUID in its text form (RFC 9562 §5.4), from 16 random bytes.
pub fn uuid_v4(random: &[u8; 16]) -> String {
    let mut b = *random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    let mut out = String::with_capacity(36);
    for (i, c) in h.chars().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_and_ids() {
        let t = opaque("idr_", &[0xff; 32]);
        assert_eq!(t.len(), 4 + 43);
        assert_eq!(*t, format!("idr_{}8", "_".repeat(42)));
        assert_eq!(new_id(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(new_id(&[7; 16]).len(), 22);
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn uuid_v4_bits() {
        assert_eq!(uuid_v4(&[0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4(&[0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = uuid_v4(&[0x12; 16]);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
