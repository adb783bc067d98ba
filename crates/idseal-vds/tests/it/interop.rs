//! An independent implementation checks our seals: Python (`cryptography` for ECDSA, `msgpack`
//! for the payload, Base45 and C40 written in the script from RFC 9285 and docs/vds.md).
//!
//! Needs Python 3 with the packages of `tests/interop/requirements.txt`; the test fails, never
//! skips, when they are missing. `IDSEAL_INTEROP_PYTHON` overrides the interpreter.

use std::path::Path;
use std::process::Command;

use idseal_types::UnixTime;
use idseal_vds::{DecodedVds, Transport, TrustLevel, Vds, encode_signed};

use crate::{TINY_WEBP, cert_ref, identity, public_key, sealed, signer, to_hex};

const INSTALL_HINT: &str = "pip install -r crates/idseal-vds/tests/interop/requirements.txt";

fn expected(d: &DecodedVds) -> String {
    let h = d.header();
    let p = d.identity().unwrap();
    let json_str = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_ascii() && !c.is_control() => out.push(c),
                c => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    };
    format!(
        "{{\"ca\": {}, \"cert\": {}, \"manifest\": {}, \"issued_at\": {}, \"gn\": {}, \"fn\": {}, \"dob\": {}, \
         \"nat\": {}, \"doc\": {}, \"tid\": {}, \"exp\": {}, \"photo\": {}, \"face\": {}, \"tl\": {}}}",
        json_str(h.certificate_reference.ca_id()),
        json_str(h.certificate_reference.cert_id()),
        h.manifest_id.value(),
        h.issued_at,
        json_str(&p.given_name),
        json_str(&p.family_name),
        json_str(&p.date_of_birth),
        json_str(&p.nationality),
        json_str(&p.document_number),
        json_str(&to_hex(&p.token_id)),
        p.expires_at,
        json_str(&to_hex(&p.photo)),
        json_str(&to_hex(&p.face)),
        p.trust_level.as_u64(),
    )
}

fn run_python(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_vds.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python).arg(&script).arg(dir).output().unwrap_or_else(|e| {
        panic!("cannot run `{python}` ({e}): the interop test needs Python 3 with the packages of `{INSTALL_HINT}`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {python} {} ---\n{stdout}{stderr}", script.display());
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("Python packages for the interop test are missing; run `{INSTALL_HINT}`\n{stderr}"),
        _ => panic!("the independent verifier disagreed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status),
    }
}

#[test]
fn independent_verifier_accepts_our_seals_and_refuses_tampered_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("public_key.hex"), to_hex(&public_key())).unwrap();

    let mut seals = vec![sealed()];
    let mut other = identity();
    other.given_name = String::new();
    other.family_name = "O'BRIEN-ÅSTRÖM 李".into();
    other.nationality = "D<<".into();
    other.document_number = "C01X00T47".into();
    other.trust_level = TrustLevel::NfcBiometric;
    let mut photo = TINY_WEBP.to_vec();
    photo.resize(1500, 0x42);
    photo[4..8].copy_from_slice(&(1500u32 - 8).to_le_bytes());
    other.photo = photo;
    other.expires_at = UnixTime::from_secs(4_000_000_000);
    seals
        .push(encode_signed(&Vds::identity(cert_ref(), UnixTime::from_secs(3_999_999_999), other), &signer()).unwrap());

    let mut cases = Vec::new();
    for (i, d) in seals.iter().enumerate() {
        for t in Transport::ALL {
            let name = format!("seal{i}-{t:?}.txt");
            std::fs::write(dir.path().join(&name), d.to_text(t)).unwrap();
            cases.push(format!("{{\"file\": \"{name}\", \"expect\": \"valid\", \"fields\": {}}}", expected(d)));
        }
        // tampered: one letter of the family name changed; still well-formed, signature wrong
        let mut b = d.binary();
        let hl = d.header_bytes().len();
        let at = hl + d.payload_bytes().windows(2).position(|w| w == b"fn").unwrap() + 3;
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        let name = format!("seal{i}-tampered-payload.txt");
        std::fs::write(dir.path().join(&name), idseal_vds::transport::to_text(&b, Transport::Base45)).unwrap();
        cases.push(format!("{{\"file\": \"{name}\", \"expect\": \"invalid\"}}"));
        // tampered header: issue time minus one second
        let mut b = d.binary();
        b[16] ^= 1;
        let name = format!("seal{i}-tampered-header.txt");
        std::fs::write(dir.path().join(&name), idseal_vds::transport::to_text(&b, Transport::Base45)).unwrap();
        cases.push(format!("{{\"file\": \"{name}\", \"expect\": \"invalid\"}}"));
    }
    std::fs::write(dir.path().join("cases.json"), format!("[\n{}\n]\n", cases.join(",\n"))).unwrap();
    run_python(dir.path());
}
