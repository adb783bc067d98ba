//! The small, canonical subset of MessagePack that payloads use: one flat map whose keys are
//! strings and whose values are unsigned integers, strings or byte strings.
//!
//! Canonical means the shortest form: positive fixint / uint8 / uint16 / uint32 / uint64 for
//! integers (never a signed-int form), fixstr / str8 / str16 / str32 for strings, bin8 / bin16 /
//! bin32 for byte strings, fixmap / map16 / map32 for the map. The reader reports anything else
//! and never recurses, so nested containers cannot exhaust the stack.

use crate::error::VdsError;

/// One item as read: scalars with their content, containers with their length only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    Uint(u64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array,
    Map(usize),
    /// nil, booleans, negative integers, floats, extensions, the unused byte 0xC1
    Other,
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn non_canonical(what: &'static str) -> VdsError {
    VdsError::NonCanonicalEncoding { what }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], VdsError> {
        let end = self.pos.checked_add(n).ok_or(VdsError::Truncated { what: "payload" })?;
        let s = self.buf.get(self.pos..end).ok_or(VdsError::Truncated { what: "payload" })?;
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, VdsError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize, min: u64, what: &'static str) -> Result<usize, VdsError> {
        let v = self.be(n)?;
        if v < min {
            return Err(non_canonical(what));
        }
        usize::try_from(v).map_err(|_| VdsError::Truncated { what: "payload" })
    }

    /// Reads the next item; string and binary contents are borrowed.
    pub(crate) fn next(&mut self) -> Result<Item<'a>, VdsError> {
        let &[tag] = self.take(1)? else { return Err(VdsError::Truncated { what: "payload" }) };
        Ok(match tag {
            0x00..=0x7F => Item::Uint(u64::from(tag)),
            0x80..=0x8F => Item::Map(usize::from(tag & 0x0F)),
            0x90..=0x9F | 0xDC | 0xDD => Item::Array,
            0xA0..=0xBF => Item::Str(self.take(usize::from(tag & 0x1F))?),
            0xC4 => {
                let n = self.len(1, 0, "bin")?;
                Item::Bin(self.take(n)?)
            }
            0xC5 => {
                let n = self.len(2, 0x100, "bin")?;
                Item::Bin(self.take(n)?)
            }
            0xC6 => {
                let n = self.len(4, 0x1_0000, "bin")?;
                Item::Bin(self.take(n)?)
            }
            0xCC => Item::Uint(self.len_uint(1, 0x80)?),
            0xCD => Item::Uint(self.len_uint(2, 0x100)?),
            0xCE => Item::Uint(self.len_uint(4, 0x1_0000)?),
            0xCF => Item::Uint(self.len_uint(8, 0x1_0000_0000)?),
            0xD0..=0xD3 => {
                let n = 1usize << (tag - 0xD0);
                let raw = self.be(n)?;
                let sign_bit = 1u64 << (n * 8 - 1);
                if raw & sign_bit == 0 {
                    return Err(non_canonical("unsigned integer in signed form"));
                }
                Item::Other
            }
            0xD9 => {
                let n = self.len(1, 0x20, "str")?;
                Item::Str(self.take(n)?)
            }
            0xDA => {
                let n = self.len(2, 0x100, "str")?;
                Item::Str(self.take(n)?)
            }
            0xDB => {
                let n = self.len(4, 0x1_0000, "str")?;
                Item::Str(self.take(n)?)
            }
            0xDE => Item::Map(self.len(2, 0x10, "map")?),
            0xDF => Item::Map(self.len(4, 0x1_0000, "map")?),
            _ => Item::Other,
        })
    }

    fn len_uint(&mut self, n: usize, min: u64) -> Result<u64, VdsError> {
        let v = self.be(n)?;
        if v < min {
            return Err(non_canonical("integer"));
        }
        Ok(v)
    }
}

/// Appends a map header for `n` entries.
pub(crate) fn write_map(out: &mut Vec<u8>, n: usize) {
    match u8::try_from(n) {
        Ok(small @ 0..=15) => out.push(0x80 | small),
        _ => match u16::try_from(n) {
            Ok(m) => {
                out.push(0xDE);
                out.extend_from_slice(&m.to_be_bytes());
            }
            Err(_) => {
                out.push(0xDF);
                out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
            }
        },
    }
}

/// Appends an unsigned integer in its shortest form.
pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    if let Ok(b @ 0..=0x7F) = u8::try_from(v) {
        out.push(b);
    } else if let Ok(b) = u8::try_from(v) {
        out.extend_from_slice(&[0xCC, b]);
    } else if let Ok(w) = u16::try_from(v) {
        out.push(0xCD);
        out.extend_from_slice(&w.to_be_bytes());
    } else if let Ok(w) = u32::try_from(v) {
        out.push(0xCE);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xCF);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn write_sized(out: &mut Vec<u8>, data: &[u8], fix: Option<u8>, tags: [u8; 3]) {
    let n = data.len();
    match (fix, u8::try_from(n)) {
        (Some(fix), Ok(small @ 0..=31)) => out.push(fix | small),
        (_, Ok(b)) => out.extend_from_slice(&[tags[0], b]),
        _ => match u16::try_from(n) {
            Ok(w) => {
                out.push(tags[1]);
                out.extend_from_slice(&w.to_be_bytes());
            }
            Err(_) => {
                out.push(tags[2]);
                out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
            }
        },
    }
    out.extend_from_slice(data);
}

/// Appends a string in its shortest form.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    write_sized(out, s.as_bytes(), Some(0xA0), [0xD9, 0xDA, 0xDB]);
}

/// Appends a byte string in its shortest form.
pub(crate) fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    write_sized(out, b, None, [0xC4, 0xC5, 0xC6]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_one(b: &[u8]) -> Result<Item<'_>, VdsError> {
        Reader::new(b).next()
    }

    #[test]
    fn shortest_forms() {
        let mut out = Vec::new();
        for (v, want) in [
            (0u64, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0xCC, 0x80]),
            (256, &[0xCD, 0x01, 0x00]),
            (65536, &[0xCE, 0, 1, 0, 0]),
            (1 << 32, &[0xCF, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            out.clear();
            write_uint(&mut out, v);
            assert_eq!(out, want);
            assert_eq!(read_one(&out).unwrap(), Item::Uint(v));
        }
        out.clear();
        write_str(&mut out, &"x".repeat(31));
        assert_eq!(out[0], 0xBF);
        out.clear();
        write_str(&mut out, &"x".repeat(32));
        assert_eq!(&out[..2], &[0xD9, 32]);
        out.clear();
        write_bin(&mut out, &[7; 256]);
        assert_eq!(&out[..3], &[0xC5, 1, 0]);
    }

    #[test]
    fn refuses_long_forms() {
        for b in [
            &[0xCC, 0x05][..],
            &[0xCD, 0x00, 0xFF],
            &[0xCE, 0x00, 0x00, 0xFF, 0xFF],
            &[0xCF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0xD0, 0x05],
            &[0xD9, 0x01, b'a'],
            &[0xDA, 0x00, 0x01, b'a'],
            &[0xC5, 0x00, 0x01, 0x00],
            &[0xDE, 0x00, 0x01],
        ] {
            assert!(matches!(read_one(b), Err(VdsError::NonCanonicalEncoding { .. })), "{b:02X?}");
        }
        assert_eq!(read_one(&[0xD0, 0xFB]).unwrap(), Item::Other);
        assert_eq!(read_one(&[0xC0]).unwrap(), Item::Other);
        assert!(matches!(read_one(&[0xDB, 0xFF, 0xFF, 0xFF, 0xFF]), Err(VdsError::Truncated { .. })));
    }

    proptest! {
        #[test]
        fn uint_round_trip(v in any::<u64>()) {
            let mut out = Vec::new();
            write_uint(&mut out, v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.next().unwrap(), Item::Uint(v));
            prop_assert_eq!(r.position(), out.len());
        }

        #[test]
        fn bin_round_trip(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut out = Vec::new();
            write_bin(&mut out, &b);
            prop_assert_eq!(read_one(&out).unwrap(), Item::Bin(&b));
        }
    }
}
