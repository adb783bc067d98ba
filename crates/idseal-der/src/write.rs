//! The writers: DER lengths, SEQUENCE/SET, INTEGER, OBJECT IDENTIFIER, times, ECDSA signatures.

use crate::time::civil;
use crate::{DerError, tag};

const fn bad(reason: &'static str) -> DerError {
    DerError::new(reason)
}

/// `tag || length || content`, the length in minimal DER form. (Contents of 4 GiB or more get
/// lengths this crate's reader refuses.)
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    let mut out = Vec::with_capacity(content.len() + 2 + significant.len());
    out.push(tag);
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0x7F));
            out.extend_from_slice(significant);
        }
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// A SET of already-encoded parts, in the order given (DER wants them sorted; the caller's job
/// when there is more than one).
pub fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SET, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes (leading zeros allowed; empty is zero).
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let m = magnitude.get(skip..).unwrap_or_default();
    let mut content = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(m);
    tlv(tag::INTEGER, &content)
}

fn low7(v: u128) -> u8 {
    u8::try_from(v & 0x7F).unwrap_or(0)
}

/// The content octets of the OBJECT IDENTIFIER with `arcs`: at least two arcs, the first 0, 1
/// or 2, the second below 40 unless the first is 2; arcs up to 128 bits.
pub fn oid_content(arcs: &[u128]) -> Result<Vec<u8>, DerError> {
    let (first, second, rest) = match arcs {
        [first, second, rest @ ..] => (*first, *second, rest),
        _ => return Err(bad("an OID has at least two arcs")),
    };
    let head = match first {
        0 | 1 if second < 40 => first * 40 + second,
        2 => second.checked_add(80).ok_or(bad("OID arc too large"))?,
        _ => return Err(bad("bad first OID arcs")),
    };
    let mut out = Vec::new();
    for arc in std::iter::once(head).chain(rest.iter().copied()) {
        let mut groups = vec![low7(arc)];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(low7(v) | 0x80);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Ok(out)
}

/// The whole OBJECT IDENTIFIER element for `arcs` (see [`oid_content`]).
pub fn oid(arcs: &[u128]) -> Result<Vec<u8>, DerError> {
    Ok(tlv(tag::OID, &oid_content(arcs)?))
}

/// The DER `Ecdsa-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`) of a raw fixed-width
/// `r || s` signature: the two halves of `raw`, which must have a non-zero even length.
pub fn ecdsa_signature(raw: &[u8]) -> Result<Vec<u8>, DerError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(bad("raw ECDSA signature is not r || s"));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    Ok(seq(&[&uint(r), &uint(s)]))
}

fn time_text(secs: i64, four_digit_year: bool) -> Result<String, DerError> {
    let (y, mo, d, h, mi, s) = civil(secs)?;
    Ok(if four_digit_year {
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z")
    } else {
        format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100)
    })
}

/// A GeneralizedTime `YYYYMMDDHHMMSSZ` for Unix seconds `secs` (years 0–9999).
pub fn generalized_time(secs: i64) -> Result<Vec<u8>, DerError> {
    let (y, ..) = civil(secs)?;
    if !(0..=9999).contains(&y) {
        return Err(bad("time out of range"));
    }
    Ok(tlv(tag::GENERALIZED_TIME, time_text(secs, true)?.as_bytes()))
}

/// The X.509 time for Unix seconds `secs` as RFC 5280 §4.1.2.5 wants it: UTCTime through 2049,
/// GeneralizedTime from 2050 (years 1950–9999).
pub fn x509_time(secs: i64) -> Result<Vec<u8>, DerError> {
    let (y, ..) = civil(secs)?;
    if !(1950..=9999).contains(&y) {
        return Err(bad("time out of range"));
    }
    if y < 2050 {
        Ok(tlv(tag::UTC_TIME, time_text(secs, false)?.as_bytes()))
    } else {
        Ok(tlv(tag::GENERALIZED_TIME, time_text(secs, true)?.as_bytes()))
    }
}
