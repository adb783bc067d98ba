//! Small primitives shared by the modules: HMAC-SHA256, a one-block HKDF-SHA256, lowercase hex.

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(tag.as_ref()) {
        *o = *b;
    }
    out
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: `PRK = HMAC(salt, ikm)`,
/// `OKM = T(1) = HMAC(PRK, info || 0x01)`. One block is all a 32-byte output needs, so this is
/// exactly RFC 5869 for `L = 32` and cannot fail.
pub(crate) fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let prk = Zeroizing::new(hmac_sha256(salt, &[ikm]));
    let mut parts: Vec<&[u8]> = info.to_vec();
    parts.push(&[0x01]);
    Zeroizing::new(hmac_sha256(prk.as_ref(), &parts))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            s.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// True when `s` is exactly `len` lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};

    struct Len32;
    impl KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }

    #[test]
    fn hkdf_matches_aws_lc() {
        let salt = b"some salt";
        let ikm = [7u8; 32];
        let info: [&[u8]; 3] = [b"a", b"bc", b"def"];
        let mut expected = [0u8; 32];
        Salt::new(HKDF_SHA256, salt).extract(&ikm).expand(&info, Len32).unwrap().fill(&mut expected).unwrap();
        assert_eq!(*hkdf_sha256_32(salt, &ikm, &info), expected);
    }

    #[test]
    fn rfc5869_case_1_first_block() {
        // RFC 5869 A.1: the first 32 bytes of the 42-byte OKM are T(1).
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf_sha256_32(&salt, &ikm, &[&info]);
        assert_eq!(hex(okm.as_ref()), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
    }

    #[test]
    fn hex_and_shape() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert!(is_lower_hex("00abff", 6));
        assert!(!is_lower_hex("00ABff", 6));
        assert!(!is_lower_hex("00abf", 6));
    }
}
