//! C40 (DataMatrix basic set, as used by ICAO and ISO 22376 seals), restricted to `A-Z`, `0-9`
//! and the filler `<`.
//!
//! Values: space and `<` = 3, `0`-`9` = 4..=13, `A`-`Z` = 14..=39. Three characters become
//! `v = 1600*c1 + 40*c2 + c3 + 1` as two big-endian bytes; a trailing pair is written with
//! `c3 = 0` (Shift 1 as padding); a single trailing character is written `0xFE, ASCII + 1`.
//!
//! Decoding is strict so that `encode(decode(b)) == b`: a padding value 0 may only be the third
//! value of the last pair, shift values 0..=2 are refused elsewhere, `0xFE` may only start the
//! last pair, and the value 3 decodes as `<` (encoding maps a space to `<` as well).

use crate::error::VdsError;

const PAD_SINGLE: u8 = 0xFE;
const MAX_TRIPLE: u32 = 40 * 40 * 40; // v + 1 <= 64000

fn err(reason: &'static str) -> VdsError {
    VdsError::BadC40 { reason }
}

/// The C40 value of a character, or `None` outside the supported set.
fn value_of(c: char) -> Option<u32> {
    match c {
        ' ' | '<' => Some(3),
        '0'..='9' => Some(u32::from(c) - u32::from('0') + 4),
        'A'..='Z' => Some(u32::from(c) - u32::from('A') + 14),
        _ => None,
    }
}

/// The character of a C40 value 3..=39 (3 decodes as `<`).
fn char_of(v: u32) -> Option<char> {
    match v {
        3 => Some('<'),
        4..=13 => char::from_u32(u32::from('0') + v - 4),
        14..=39 => char::from_u32(u32::from('A') + v - 14),
        _ => None,
    }
}

fn push_u16(out: &mut Vec<u8>, v: u32) {
    let [_, _, hi, lo] = v.to_be_bytes();
    out.push(hi);
    out.push(lo);
}

/// Encodes `text` (characters `A-Z`, `0-9`, `<` or space) as C40 bytes.
pub fn encode(text: &str) -> Result<Vec<u8>, VdsError> {
    let values: Vec<u32> = text
        .chars()
        .map(|c| value_of(c).ok_or_else(|| err("character outside A-Z 0-9 <")))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(values.len().div_ceil(3) * 2);
    let mut chunks = values.chunks_exact(3);
    for triple in chunks.by_ref() {
        if let [c1, c2, c3] = *triple {
            push_u16(&mut out, 1600 * c1 + 40 * c2 + c3 + 1);
        }
    }
    match *chunks.remainder() {
        [] => {}
        [c1] => {
            out.push(PAD_SINGLE);
            // value 3 is written as '<'; other values map back to their own character
            let ch = char_of(c1).ok_or_else(|| err("character outside A-Z 0-9 <"))?;
            let ascii = u8::try_from(u32::from(ch)).map_err(|_| err("character outside A-Z 0-9 <"))?;
            out.push(ascii + 1);
        }
        [c1, c2] => push_u16(&mut out, 1600 * c1 + 40 * c2 + 1),
        _ => return Err(err("internal chunking")),
    }
    Ok(out)
}

/// Decodes canonical C40 bytes into text of `A-Z`, `0-9` and `<`.
pub fn decode(bytes: &[u8]) -> Result<String, VdsError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(err("odd number of bytes"));
    }
    let pair_count = bytes.len() / 2;
    let mut out = String::with_capacity(pair_count * 3);
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let &[hi, lo] = pair else { return Err(err("odd number of bytes")) };
        let is_last = i + 1 == pair_count;
        if hi == PAD_SINGLE {
            if !is_last {
                return Err(err("0xFE single-character form before the end"));
            }
            let ch = char::from(lo.wrapping_sub(1));
            if lo == 0 || value_of(ch).is_none() || ch == ' ' {
                return Err(err("0xFE followed by a character outside A-Z 0-9 <"));
            }
            out.push(ch);
            continue;
        }
        let v = u32::from(u16::from_be_bytes([hi, lo]));
        if v == 0 || v > MAX_TRIPLE {
            return Err(err("pair value out of range"));
        }
        let v = v - 1;
        let (c1, c2, c3) = (v / 1600, (v / 40) % 40, v % 40);
        for c in [c1, c2] {
            out.push(char_of(c).ok_or_else(|| err("shift or padding value inside a triple"))?);
        }
        match c3 {
            0 if is_last => {}
            0 => return Err(err("padding before the end")),
            _ => out.push(char_of(c3).ok_or_else(|| err("shift value inside a triple"))?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    // Known values: reference/formats.md §1.2 and §3.4 (tsenger/vdstools, Apache-2.0, and seals
    // seen in public code); see tests/data/README.md.
    #[test]
    fn known_vectors() {
        for (text, want) in [
            ("VDS", "DD89"),
            ("EU", "75D1"),
            ("A", "FE42"),
            ("FRA", "7BA7"),
            ("UTTS02", "D9CAC8A7"),
            ("5B", "3A99"),
            ("DETS00027", "6D32C8A519FC"),
            ("FR050001", "7B9D38E519C9"),
            ("UTO", "D9C5"),
            ("D<<", "6ABC"),
        ] {
            let enc = encode(text).unwrap();
            assert_eq!(hex(&enc), want, "encode {text}");
            assert_eq!(decode(&enc).unwrap(), text, "decode {want}");
        }
        assert_eq!(encode("").unwrap(), Vec::<u8>::new());
        assert_eq!(decode(&[]).unwrap(), "");
    }

    #[test]
    fn space_encodes_as_filler() {
        assert_eq!(encode("D  ").unwrap(), encode("D<<").unwrap());
        assert_eq!(encode(" ").unwrap(), vec![0xFE, b'<' + 1]);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["a", "é", "-", "VD\n"] {
            assert!(matches!(encode(bad), Err(VdsError::BadC40 { .. })), "{bad:?}");
        }
        for bad in [
            &[0xDD][..],               // odd
            &[0x00, 0x00],             // value 0
            &[0xFA, 0x01],             // 64001 > 64000
            &[0xFE, 0x42, 0xDD, 0x89], // single form before the end
            &[0xFE, 0x21],             // single space: '<' is canonical
            &[0xFE, 0x00],             // ASCII -1
            &[0xFE, 0x62],             // 'a'
            &[0x3A, 0x99, 0xDD, 0x89], // padded pair before the end
            &[0x00, 0x01],             // c1 = c2 = c3 = 0
            &[0x3A, 0x9A],             // c3 = 1 (shift 2)
            &[0x00, 0x64],             // c1 = 0 (shift)
        ] {
            assert!(matches!(decode(bad), Err(VdsError::BadC40 { .. })), "{bad:02X?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip_text(s in "[A-Z0-9<]{0,30}") {
            let enc = encode(&s).unwrap();
            prop_assert_eq!(decode(&enc).unwrap(), s);
        }

        #[test]
        fn accepted_bytes_are_canonical(b in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(text) = decode(&b) {
                prop_assert_eq!(encode(&text).unwrap(), b);
            }
        }
    }
}
