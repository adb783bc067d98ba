//! A strict reader of the one key format a device may enroll with: a PEM `PUBLIC KEY` block
//! holding a DER SubjectPublicKeyInfo for `id-ecPublicKey` on `prime256v1` with an uncompressed
//! point.
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE {
//!   algorithm  SEQUENCE { OID 1.2.840.10045.2.1 (id-ecPublicKey), OID 1.2.840.10045.3.1.7 (prime256v1) },
//!   subjectPublicKey BIT STRING { 0 unused bits, 0x04 || X (32 bytes) || Y (32 bytes) } }
//! ```
//!
//! DER only (read with `idseal-der`): definite, minimal lengths; no trailing bytes at any level;
//! exactly these OIDs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_der::{DerError, Reader, seq, tag, tlv};

use crate::error::X1280Error;

/// The largest PEM text accepted.
pub(crate) const MAX_PEM_LEN: usize = 4096;
/// DER of OID 1.2.840.10045.2.1 (id-ecPublicKey), content bytes.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of OID 1.2.840.10045.3.1.7 (prime256v1), content bytes.
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const END: &str = "-----END PUBLIC KEY-----";

fn bad(reason: &str) -> X1280Error {
    X1280Error::BadPublicKey(reason.to_owned())
}

fn der_err(e: DerError) -> X1280Error {
    bad(e.reason)
}

/// Checks the SPKI structure and returns the 65-byte uncompressed point (not yet checked to be
/// on the curve).
pub(crate) fn parse_spki(der: &[u8]) -> Result<[u8; 65], X1280Error> {
    let mut outer = Reader::new(der);
    let mut spki = outer.sequence("expected SubjectPublicKeyInfo SEQUENCE").map_err(der_err)?;
    outer.finish("trailing bytes in DER").map_err(der_err)?;
    let mut alg = spki.sequence("expected AlgorithmIdentifier SEQUENCE").map_err(der_err)?;
    let bits = spki.expect(tag::BIT_STRING, "expected subjectPublicKey BIT STRING").map_err(der_err)?;
    spki.finish("trailing bytes in DER").map_err(der_err)?;

    if alg.expect(tag::OID, "expected algorithm OID").map_err(der_err)? != OID_EC_PUBLIC_KEY {
        return Err(bad("not an EC public key (id-ecPublicKey)"));
    }
    let curve =
        alg.expect(tag::OID, "expected named curve OID").map_err(|_| bad("EC parameters are not a named curve"))?;
    if curve != OID_P256 {
        return Err(bad("curve is not P-256 (prime256v1)"));
    }
    alg.finish("trailing bytes in DER").map_err(der_err)?;

    let (unused, point) = bits.split_first().ok_or_else(|| bad("empty BIT STRING"))?;
    if *unused != 0 {
        return Err(bad("BIT STRING has unused bits"));
    }
    match point.first() {
        Some(0x04) => {}
        Some(0x02 | 0x03) => return Err(bad("compressed points are not accepted")),
        _ => return Err(bad("not an uncompressed EC point")),
    }
    point.try_into().map_err(|_| bad("uncompressed P-256 point must be 65 bytes"))
}

/// The canonical SPKI DER of an uncompressed P-256 point.
pub(crate) fn spki_der(point: &[u8; 65]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(66);
    bits.push(0);
    bits.extend_from_slice(point);
    let alg = seq(&[&tlv(tag::OID, OID_EC_PUBLIC_KEY), &tlv(tag::OID, OID_P256)]);
    seq(&[&alg, &tlv(tag::BIT_STRING, &bits)])
}

/// Decodes exactly one PEM `PUBLIC KEY` block (white space around it allowed, LF or CRLF line
/// ends, standard base64 with canonical padding, no headers) into DER.
pub(crate) fn pem_decode(pem: &str) -> Result<Vec<u8>, X1280Error> {
    if pem.len() > MAX_PEM_LEN {
        return Err(bad("PEM longer than 4 KiB"));
    }
    if pem.matches("-----BEGIN").count() > 1 || pem.matches("-----END").count() > 1 {
        return Err(bad("more than one PEM block"));
    }
    let text = pem.trim_matches(|c: char| c.is_ascii_whitespace());
    let body =
        text.strip_prefix(BEGIN).and_then(|t| t.strip_suffix(END)).ok_or_else(|| bad("not a PEM PUBLIC KEY block"))?;
    let mut b64 = String::with_capacity(body.len());
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')) {
            return Err(bad("PEM body is not base64"));
        }
        b64.push_str(line);
    }
    let der = STANDARD.decode(b64.as_bytes()).map_err(|_| bad("PEM body is not base64"))?;
    if der.is_empty() {
        return Err(bad("empty PEM body"));
    }
    Ok(der)
}

/// PEM armour for SPKI DER, 64 base64 characters a line, LF line ends.
pub(crate) fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + 64);
    out.push_str(BEGIN);
    out.push('\n');
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> [u8; 65] {
        let mut p = [0x11; 65];
        p[0] = 0x04;
        p
    }

    #[test]
    fn canonical_spki_round_trips() {
        let der = spki_der(&point());
        assert_eq!(der.len(), 91);
        assert_eq!(parse_spki(&der).unwrap(), point());
        let pem = pem_encode(&der);
        assert_eq!(pem_decode(&pem).unwrap(), der);
        assert_eq!(pem_decode(&pem.replace('\n', "\r\n")).unwrap(), der);
        assert_eq!(pem_decode(&format!("\n  {pem}\n\n")).unwrap(), der);
    }

    #[test]
    fn der_rejections() {
        let der = spki_der(&point());
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(parse_spki(&trailing).is_err());
        assert!(parse_spki(&der[..90]).is_err());
        assert!(parse_spki(&[]).is_err());
        // Non-minimal long-form length for the outer SEQUENCE.
        let mut long = vec![0x30, 0x81, 0x59];
        long.extend_from_slice(&der[2..]);
        assert!(parse_spki(&long).is_err());
        // Indefinite length.
        let mut indef = vec![0x30, 0x80];
        indef.extend_from_slice(&der[2..]);
        indef.extend_from_slice(&[0, 0]);
        assert!(parse_spki(&indef).is_err());
        // Unused bits in the BIT STRING.
        let mut unused = der.clone();
        unused[25] = 0x01;
        assert!(parse_spki(&unused).is_err());
        // Other curve OID (secp256k1 1.3.132.0.10 has a different length, so flip one byte).
        let mut curve = der.clone();
        curve[22] = 0x08;
        assert!(matches!(parse_spki(&curve), Err(X1280Error::BadPublicKey(m)) if m.contains("P-256")));
        // Hybrid point form 0x06.
        let mut hybrid = der;
        hybrid[26] = 0x06;
        assert!(parse_spki(&hybrid).is_err());
    }

    #[test]
    fn pem_rejections() {
        let pem = pem_encode(&spki_der(&point()));
        assert!(pem_decode(&pem.replace("PUBLIC KEY", "EC PUBLIC KEY")).is_err());
        assert!(pem_decode(&format!("{pem}{pem}")).is_err());
        assert!(pem_decode(&format!("junk\n{pem}")).is_err());
        assert!(pem_decode(&format!("{pem}junk")).is_err());
        assert!(pem_decode(&pem.replacen("MF", "M F", 1)).is_err());
        assert!(pem_decode(&pem.replacen('\n', "\nProc-Type: 4,ENCRYPTED\n", 1)).is_err());
        assert!(pem_decode(&format!("{BEGIN}\n{END}\n")).is_err());
        let big = format!("{}{pem}", " ".repeat(MAX_PEM_LEN));
        assert!(pem_decode(&big).is_err());
    }
}
