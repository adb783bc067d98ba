//! The strict reader.

use crate::{DerError, tag};

const fn bad(reason: &'static str) -> DerError {
    DerError::new(reason)
}

/// One element: its tag, its content and its whole encoding (tag, length and content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The one-byte tag.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole encoding: tag, length and content.
    pub encoding: &'a [u8],
}

/// An X.509 time (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    /// [`tag::UTC_TIME`] or [`tag::GENERALIZED_TIME`].
    pub tag: u8,
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_secs: i64,
}

/// A strict DER reader over a byte slice: each read consumes one element.
///
/// Methods taking `what` return `DerError { reason: what }` when the next element has another
/// tag than the one expected; malformed encodings give the reader's own reasons.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub const fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Whether all input was read.
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The input not read yet.
    pub const fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The tag of the next element, if any (not checked until it is read).
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one element of any tag.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
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
            if n == 0 {
                return Err(bad("indefinite DER length"));
            }
            if n > 4 {
                return Err(bad("unsupported DER length form"));
            }
            let (bytes, after) = after.split_at_checked(n).ok_or(bad("truncated DER length"))?;
            if bytes.first() == Some(&0) {
                return Err(bad("non-minimal DER length"));
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(bad("non-minimal DER length"));
            }
            (len, after)
        };
        let (content, rest) = after.split_at_checked(len).ok_or(bad("truncated DER content"))?;
        let encoding = input.get(..input.len() - rest.len()).ok_or(bad("truncated DER"))?;
        self.rest = rest;
        Ok(Tlv { tag: t, content, encoding })
    }

    /// Reads an element that must have tag `tag`; returns its content.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], DerError> {
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(bad(what));
        }
        Ok(tlv.content)
    }

    /// Reads a SEQUENCE; returns a reader over its content.
    pub fn sequence(&mut self, what: &'static str) -> Result<Self, DerError> {
        self.expect(tag::SEQUENCE, what).map(Reader::new)
    }

    /// Reads a SET; returns a reader over its content (the order of its elements is not checked).
    pub fn set(&mut self, what: &'static str) -> Result<Self, DerError> {
        self.expect(tag::SET, what).map(Reader::new)
    }

    /// Reads an INTEGER in minimal two's complement; returns its content octets (negative
    /// values allowed).
    pub fn integer(&mut self, what: &'static str) -> Result<&'a [u8], DerError> {
        let content = self.expect(tag::INTEGER, what)?;
        match content {
            [] => Err(bad("empty DER INTEGER")),
            [0x00, next, ..] if next & 0x80 == 0 => Err(bad("non-minimal DER INTEGER")),
            [0xFF, next, ..] if next & 0x80 != 0 => Err(bad("non-minimal DER INTEGER")),
            _ => Ok(content),
        }
    }

    /// Reads a non-negative INTEGER in minimal form; returns its minimal big-endian magnitude
    /// (no leading zero byte; empty for zero).
    pub fn unsigned(&mut self, what: &'static str) -> Result<&'a [u8], DerError> {
        let content = self.integer(what)?;
        match content {
            [0x00, magnitude @ ..] => Ok(magnitude),
            [first, ..] if first & 0x80 != 0 => Err(bad("negative DER INTEGER")),
            _ => Ok(content),
        }
    }

    /// Reads an OBJECT IDENTIFIER; returns its content octets, checked to be well formed
    /// (not empty, minimal sub-identifiers, the last one complete).
    pub fn oid(&mut self, what: &'static str) -> Result<&'a [u8], DerError> {
        let content = self.expect(tag::OID, what)?;
        check_oid(content)?;
        Ok(content)
    }

    /// Reads a BIT STRING that must have zero unused bits; returns the bytes after the
    /// unused-bits octet.
    pub fn bit_string(&mut self, what: &'static str) -> Result<&'a [u8], DerError> {
        match self.expect(tag::BIT_STRING, what)?.split_first() {
            Some((0, bits)) => Ok(bits),
            Some(_) => Err(bad("BIT STRING has unused bits")),
            None => Err(bad("empty BIT STRING")),
        }
    }

    /// Reads an OCTET STRING; returns its content.
    pub fn octet_string(&mut self, what: &'static str) -> Result<&'a [u8], DerError> {
        self.expect(tag::OCTET_STRING, what)
    }

    /// Reads an X.509 time: UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime
    /// `YYYYMMDDHHMMSSZ`, whole seconds, UTC, a real date. Which form RFC 5280 wants for a given
    /// year is the caller's rule.
    pub fn time(&mut self) -> Result<Time, DerError> {
        let tlv = self.read()?;
        let unix_secs = crate::time::parse(tlv.tag, tlv.content)?;
        Ok(Time { tag: tlv.tag, unix_secs })
    }

    /// Fails with `what` unless all input was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DerError> {
        if self.rest.is_empty() { Ok(()) } else { Err(bad(what)) }
    }
}

fn check_oid(content: &[u8]) -> Result<(), DerError> {
    let mut start = true;
    for &b in content {
        if start && b == 0x80 {
            return Err(bad("non-minimal OID sub-identifier"));
        }
        start = b & 0x80 == 0;
    }
    if content.is_empty() || !start {
        return Err(bad("bad OID"));
    }
    Ok(())
}

/// The dotted form of OBJECT IDENTIFIER content octets, e.g. `1.2.840.10045.2.1`. Arcs up to
/// 128 bits.
pub fn oid_to_string(content: &[u8]) -> Result<String, DerError> {
    check_oid(content)?;
    let mut arcs: Vec<u128> = Vec::new();
    let mut v: u128 = 0;
    for &b in content {
        v = v.checked_mul(128).ok_or(bad("OID arc too large"))? | u128::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match v {
                    0..40 => (0, v),
                    40..80 => (1, v - 40),
                    _ => (2, v - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    Ok(arcs.iter().map(u128::to_string).collect::<Vec<_>>().join("."))
}
