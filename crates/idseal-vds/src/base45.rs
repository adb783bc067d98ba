//! Base45 (RFC 9285): two bytes become three characters `c + 45*d + 45²*e` (written c, d, e), a
//! last single byte becomes two characters. The alphabet includes a space, so text is never
//! trimmed. Decoding refuses lengths `≡ 1 (mod 3)`, triplets above 0xFFFF (such as `GGW`), final
//! pairs above 0xFF and characters outside the alphabet; so it is the exact inverse of encoding.

use crate::error::VdsError;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn err(reason: &'static str) -> VdsError {
    VdsError::BadBase45 { reason }
}

fn symbol(v: u32) -> char {
    ALPHABET.get(usize::try_from(v).unwrap_or(usize::MAX)).map_or('?', |&b| char::from(b))
}

/// Marks a byte outside the alphabet in [`VALUES`].
const NOT_BASE45: u8 = 0xFF;

/// The value of each byte (`NOT_BASE45` outside the alphabet): one lookup per character, where a
/// search of the alphabet made Base45 the largest cost of decoding a seal.
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)] // const evaluation: bounds checked at compile time, i < 45
const VALUES: [u8; 256] = {
    let mut table = [NOT_BASE45; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn value(c: u8) -> Result<u32, VdsError> {
    match VALUES.get(usize::from(c)) {
        Some(&v) if v != NOT_BASE45 => Ok(u32::from(v)),
        _ => Err(err("character outside the Base45 alphabet")),
    }
}

/// Encodes bytes as Base45 text.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    for chunk in bytes.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = u32::from(a) * 256 + u32::from(b);
                out.push(symbol(n % 45));
                out.push(symbol(n / 45 % 45));
                out.push(symbol(n / 2025));
            }
            [a] => {
                let n = u32::from(a);
                out.push(symbol(n % 45));
                out.push(symbol(n / 45));
            }
            _ => {}
        }
    }
    out
}

/// Decodes Base45 text into bytes.
pub fn decode(text: &str) -> Result<Vec<u8>, VdsError> {
    let raw = text.as_bytes();
    if raw.len() % 3 == 1 {
        return Err(err("length is 1 modulo 3"));
    }
    let mut out = Vec::with_capacity(raw.len() / 3 * 2 + 1);
    for chunk in raw.chunks(3) {
        match *chunk {
            [c, d, e] => {
                let n = value(c)? + value(d)? * 45 + value(e)? * 2025;
                let v = u16::try_from(n).map_err(|_| err("triplet above 0xFFFF"))?;
                out.extend_from_slice(&v.to_be_bytes());
            }
            [c, d] => {
                let n = value(c)? + value(d)? * 45;
                out.push(u8::try_from(n).map_err(|_| err("final pair above 0xFF"))?);
            }
            _ => return Err(err("length is 1 modulo 3")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 9285 §4.3 and §4.4 examples, plus values from reference/formats.md §3.3.
    #[test]
    fn rfc9285_vectors() {
        for (bytes, text) in [
            (&b"AB"[..], "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
            (b"COVID-19", "-M8*+A%R81A6"),
            (&[0x00], "00"),
            (&[0xFF, 0xFF], "FGW"),
            (b"$", " 0"),
            (&[], ""),
        ] {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text).unwrap(), bytes, "{text:?}");
        }
    }

    #[test]
    fn value_table_is_the_alphabet() {
        for c in 0..=255u8 {
            let expected = ALPHABET.iter().position(|&a| a == c).map(|p| u32::try_from(p).unwrap());
            assert_eq!(value(c).ok(), expected, "{c:#04x}");
        }
    }

    #[test]
    fn rejects_invalid_text() {
        for bad in ["GGW", "ZZZ", ":::", "A", "BB8A", "a00", "00\n", "BB8 ", "0é"] {
            assert!(matches!(decode(bad), Err(VdsError::BadBase45 { .. })), "{bad:?}");
        }
        // a final pair above 0xFF
        assert!(matches!(decode(":6"), Err(VdsError::BadBase45 { .. })));
        // spaces are part of the alphabet and never trimmed
        assert_eq!(decode(" 0").unwrap(), b"$");
    }

    proptest! {
        #[test]
        fn round_trip(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(decode(&encode(&b)).unwrap(), b);
        }

        #[test]
        fn accepted_text_is_canonical(s in "[0-9A-Z $%*+./:-]{0,12}") {
            if let Ok(b) = decode(&s) {
                prop_assert_eq!(encode(&b), s);
            }
        }
    }
}
