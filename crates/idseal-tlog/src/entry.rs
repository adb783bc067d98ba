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
pub const MAX_JSON_DEPTH: usize = idseal_types::jcs::MAX_DEPTH;

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

/// The RFC 8785 (JCS) canonical form of a JSON value ([`idseal_types::jcs`]); numbers are
/// limited to what JCS represents exactly.
pub fn canonical_json(value: &Value) -> Result<String, TlogError> {
    idseal_types::jcs::canonical_json(value).map_err(|e| TlogError::Entry(e.0))
}

#[cfg(test)]
mod tests {}
