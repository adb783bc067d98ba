//! The canonical, versioned encoding of an [`AuditEvent`] as a log entry (version 1).
//!
//! ```text
//! u8      version (1)
//! str16   kind            AuditEventKind::as_str
//! i64 BE  at              seconds since the Unix epoch
//! str16   actor           operator name, `system`, or a pseudonymous id (kept as given)
//! opt     subject         0x00, or 0x01 || HMAC-SHA256(key, "idseal-tlog/v1/subject" || 0x00 || subject)
//! opt     ip              0x00, or 0x01 || HMAC-SHA256(key, "idseal-tlog/v1/ip" || 0x00 || canonical IP text)
//! opt     user agent      0x00, or 0x01 || str16
//! u32 BE  details length, then the details as canonical JSON (RFC 8785 JCS)
//! ```
//!
//! `str16` is a big-endian uint16 length followed by UTF-8 bytes. A whole entry is at most
//! 65 535 bytes, the most a C2SP entry bundle can carry.
//!
//! **Why pseudonyms.** The log is meant to be published (tiles, proofs, right-of-access
//! exports), and nothing in it can ever be changed or removed without breaking every later
//! root. So no directly identifying value goes into a leaf: the subject and the client IP
//! appear only as HMACs under a pseudonymisation key held by the operator, outside the log.
//! Whoever holds the key can still find a person's entries (compute the HMAC of their id)
//! and prove them with inclusion proofs; everyone else sees opaque 32-byte values. An
//! erasure request is met by destroying the mapping, not the log: the operator deletes the
//! subject's row from its own pseudonym index (and, to erase everyone at once, the key
//! itself), after which the remaining HMACs can no longer be linked to the person, while
//! every proof and checkpoint stays valid. Details never carry secrets (the audit interface
//! records hashes only).

use std::fmt::Write as _;

use aws_lc_rs::hmac;
use idseal_types::AuditEvent;
use serde_json::Value;

use crate::TlogError;
use crate::tiles::MAX_ENTRY_LEN;

/// The encoding version this module writes.
pub const ENTRY_VERSION: u8 = 1;
/// The shortest pseudonymisation key accepted, in bytes.
pub const MIN_PSEUDONYM_KEY_LEN: usize = 32;
/// The deepest nesting of arrays and objects accepted in details.
pub const MAX_JSON_DEPTH: usize = 64;
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The HMAC key that turns subjects and IP addresses into pseudonyms. Its `Debug` never shows
/// the key.
pub struct PseudonymKey(hmac::Key);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    /// A key from at least 32 secret bytes.
    pub fn new(secret: &[u8]) -> Result<Self, TlogError> {
        if secret.len() < MIN_PSEUDONYM_KEY_LEN {
            return Err(TlogError::Entry("pseudonym key shorter than 32 bytes"));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// The pseudonym of `value` in the domain `label`.
    fn pseudonym(&self, label: &str, value: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(label.as_bytes());
        ctx.update(&[0]);
        ctx.update(value);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().zip(tag.as_ref()) {
            *o = *b;
        }
        out
    }

    /// The pseudonym a subject id gets in entries (to look a person's entries up).
    pub fn subject_pseudonym(&self, subject: &str) -> [u8; 32] {
        self.pseudonym("idseal-tlog/v1/subject", subject.as_bytes())
    }

    /// The pseudonym an IP address gets in entries (IPv4-mapped IPv6 counts as IPv4).
    pub fn ip_pseudonym(&self, ip: std::net::IpAddr) -> [u8; 32] {
        self.pseudonym("idseal-tlog/v1/ip", ip.to_canonical().to_string().as_bytes())
    }
}

fn put_str16(out: &mut Vec<u8>, s: &str, what: &'static str) -> Result<(), TlogError> {
    let len = u16::try_from(s.len()).map_err(|_| TlogError::Entry(what))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Encode `event` as a version-1 log entry, pseudonymising subject and IP under `key`.
pub fn encode(event: &AuditEvent, key: &PseudonymKey) -> Result<Vec<u8>, TlogError> {
    let mut out = vec![ENTRY_VERSION];
    put_str16(&mut out, event.kind.as_str(), "kind too long")?;
    out.extend_from_slice(&event.at.as_secs().to_be_bytes());
    put_str16(&mut out, &event.actor, "actor too long")?;
    match &event.subject {
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&key.subject_pseudonym(s));
        }
        None => out.push(0),
    }
    match event.ip {
        Some(ip) => {
            out.push(1);
            out.extend_from_slice(&key.ip_pseudonym(ip));
        }
        None => out.push(0),
    }
    match &event.user_agent {
        Some(ua) => {
            out.push(1);
            put_str16(&mut out, ua, "user agent too long")?;
        }
        None => out.push(0),
    }
    let details = canonical_json(&event.details)?;
    let len = u32::try_from(details.len()).map_err(|_| TlogError::Entry("details too long"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(details.as_bytes());
    if out.len() > MAX_ENTRY_LEN {
        return Err(TlogError::Entry("entry longer than 65535 bytes"));
    }
    Ok(out)
}

/// The RFC 8785 (JCS) canonical form of a JSON value: object members sorted by the UTF-16
/// code units of their names, no whitespace, minimal string escaping, and numbers in the
/// ECMAScript form. Numbers are limited to what JCS represents exactly and what serde_json
/// holds: integers of magnitude below 2^53, and finite non-integers in `[1e-6, 1e21)`;
/// anything else is refused rather than rounded.
pub fn canonical_json(value: &Value) -> Result<String, TlogError> {
    let mut out = String::new();
    write_value(value, &mut out, 0)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String, depth: usize) -> Result<(), TlogError> {
    if depth > MAX_JSON_DEPTH {
        return Err(TlogError::Entry("details nested too deeply"));
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut String) -> Result<(), TlogError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(TlogError::Entry("integer beyond 2^53 in details"));
        }
        let _ = write!(out, "{u}");
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(TlogError::Entry("integer beyond 2^53 in details"));
        }
        let _ = write!(out, "{i}");
        return Ok(());
    }
    let f = n.as_f64().ok_or(TlogError::Entry("number in details"))?;
    if !f.is_finite() {
        return Err(TlogError::Entry("non-finite number in details"));
    }
    if f == 0.0 {
        out.push('0');
        return Ok(());
    }
    let a = f.abs();
    if a.fract() == 0.0 && a <= MAX_SAFE_INTEGER as f64 {
        let _ = write!(out, "{f:.0}");
        return Ok(());
    }
    if !(1e-6..1e21).contains(&a) {
        return Err(TlogError::Entry("number needs exponent notation"));
    }
    // Rust prints the shortest digits that round-trip, without exponent: the ECMAScript
    // form in this range.
    let _ = write!(out, "{f}");
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jcs_sorts_by_utf16_and_escapes_minimally() {
        let v = json!({"b": 1, "a": [true, null, "x\"\\\n\u{1}é"], "\u{e000}": 0, "\u{1f600}": 0});
        // U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000.
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"a\":[true,null,\"x\\\"\\\\\\n\\u0001é\"],\"b\":1,\"\u{1f600}\":0,\"\u{e000}\":0}"
        );
    }

    #[test]
    fn jcs_numbers() {
        assert_eq!(canonical_json(&json!([1.5, -0.0, 2.0, -7, 0.000001])).unwrap(), "[1.5,0,2,-7,0.000001]");
        assert!(canonical_json(&json!(1e300)).is_err());
        assert!(canonical_json(&json!(u64::MAX)).is_err());
        assert!(canonical_json(&json!(1e-7)).is_err());
    }
}
