//! A minimal strict DER writer and reader for the X.509 certificates of [`crate::certificate`].
//!
//! Written here rather than taken from rcgen/yasna/x509-cert: those represent OID arcs as
//! `u64` or `u32`, and our UsageList OID lives in the `2.25` UUID arc, whose second arc is a
//! 128-bit integer. OIDs here are handled as their encoded bytes.

use crate::error::VdsError;

/// Universal tags used by the certificates.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTF8_STRING: u8 = 0x0C;
    pub(crate) const PRINTABLE_STRING: u8 = 0x13;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
}

fn bad(reason: &'static str) -> VdsError {
    VdsError::BadCertificate { reason }
}

/// `tag || length || content`, with the length in minimal DER form.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len.to_be_bytes().last().copied().unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len().to_be_bytes().last().copied().unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let m = magnitude.get(skip..).unwrap_or_default();
    let mut content = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(m);
    tlv(tag::INTEGER, &content)
}

/// Encodes OID arcs (the first two arcs must be small; later arcs may be 128-bit).
pub(crate) fn oid_content(arcs: &[u128]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = arcs.iter();
    let first = rest.next().copied().unwrap_or(0);
    let second = rest.next().copied().unwrap_or(0);
    for arc in std::iter::once(first * 40 + second).chain(rest.copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(((v & 0x7F) as u8) | 0x80);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

/// The dotted form of an encoded OID.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u128> = Vec::new();
    let mut v: u128 = 0;
    for (i, &b) in content.iter().enumerate() {
        if v == 0 && b == 0x80 {
            return None; // non-minimal
        }
        v = v.checked_mul(128)? | u128::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                arcs.push(a);
                arcs.push(b);
            } else {
                arcs.push(v);
            }
            v = 0;
        } else if i + 1 == content.len() {
            return None;
        }
    }
    (!arcs.is_empty()).then(|| arcs.iter().map(u128::to_string).collect::<Vec<_>>().join("."))
}

/// A strict DER reader over a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Whether all input was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one element: `(tag, content, whole encoding)`.
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), VdsError> {
        let input = self.rest;
        let (&t, after) = input.split_first().ok_or(bad("truncated DER"))?;
        if t & 0x1F == 0x1F {
            return Err(bad("multi-byte DER tags are not used"));
        }
        let (&first, after) = after.split_first().ok_or(bad("truncated DER length"))?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return Err(bad("unsupported DER length form"));
            }
            let (lb, after) = after.split_at_checked(n).ok_or(bad("truncated DER length"))?;
            if lb.first() == Some(&0) {
                return Err(bad("non-minimal DER length"));
            }
            let len = lb.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(bad("non-minimal DER length"));
            }
            (len, after)
        };
        let (content, rest) = after.split_at_checked(len).ok_or(bad("truncated DER content"))?;
        let whole = input.get(..input.len() - rest.len()).unwrap_or_default();
        self.rest = rest;
        Ok((t, content, whole))
    }

    /// Reads an element that must have `tag`; returns its content.
    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], VdsError> {
        let (t, content, _) = self.any()?;
        if t != tag {
            return Err(bad(what));
        }
        Ok(content)
    }

    /// Reads a SEQUENCE and returns a reader over its content.
    pub(crate) fn sequence(&mut self, what: &'static str) -> Result<Reader<'a>, VdsError> {
        self.expect(tag::SEQUENCE, what).map(Reader::new)
    }

    /// Fails unless all input was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), VdsError> {
        if self.rest.is_empty() { Ok(()) } else { Err(bad(what)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_oids() {
        assert_eq!(tlv(4, &[]), vec![4, 0]);
        assert_eq!(tlv(4, &[0; 200]).get(..3), Some(&[4u8, 0x81, 200][..]));
        assert_eq!(tlv(4, &[0; 300]).get(..4), Some(&[4u8, 0x82, 1, 44][..]));
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(uint(&[]), vec![2, 1, 0]);
        let ec = oid_content(&[1, 2, 840, 10045, 2, 1]);
        assert_eq!(ec, vec![0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
        assert_eq!(oid_to_string(&ec).as_deref(), Some("1.2.840.10045.2.1"));
        let big = oid_content(&[2, 25, u128::MAX]);
        assert_eq!(oid_to_string(&big), Some(format!("2.25.{}", u128::MAX)));
        let mut r = Reader::new(&[0x30, 0x81, 0x05]);
        assert!(r.any().is_err(), "non-minimal length");
        let mut r = Reader::new(&[0x30, 0x03, 0x01]);
        assert!(r.any().is_err(), "truncated");
    }
}
