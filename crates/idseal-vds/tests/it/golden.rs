//! Golden files: one deterministic seal under tests/data.
//!
//! ECDSA signatures are randomised, so the test compares the signed bytes (header and payload)
//! exactly and verifies the stored signature. `IDSEAL_BLESS=1` rewrites the files.

use std::fmt::Write as _;
use std::path::PathBuf;

use idseal_vds::manifest::Visibility;
use idseal_vds::{DecodedVds, Transport, decode, verify};

use crate::{public_key, sealed, to_hex, vds};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn bless() -> bool {
    std::env::var_os("IDSEAL_BLESS").is_some_and(|v| v == "1")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap_or_else(|e| {
        panic!("{name}: {e}; regenerate with IDSEAL_BLESS=1 cargo test -p idseal-vds --test it golden")
    })
}

/// A human-readable dump of a seal (what `idseal vds inspect` will show), as a snapshot.
fn inspect(d: &DecodedVds) -> String {
    let h = d.header();
    let p = d.identity().unwrap();
    let manifest = d.manifest().unwrap();
    let mut s = String::new();
    writeln!(s, "header        {}", to_hex(d.header_bytes())).unwrap();
    writeln!(s, "certificate   {} / {}", h.certificate_reference.ca_id(), h.certificate_reference.cert_id()).unwrap();
    writeln!(s, "manifest      {} ({})", h.manifest_id, manifest.name).unwrap();
    writeln!(s, "issued_at     {}", h.issued_at).unwrap();
    writeln!(s, "payload_len   {}", d.payload_bytes().len()).unwrap();
    for f in &manifest.fields {
        let shown = match f.key.as_str() {
            "gn" => p.given_name.clone(),
            "fn" => p.family_name.clone(),
            "dob" => p.date_of_birth.clone(),
            "nat" => p.nationality.clone(),
            "doc" => p.document_number.clone(),
            "tid" => p.token_id_string(),
            "exp" => p.expires_at.to_string(),
            "photo" => format!("WEBP, {} bytes", p.photo.len()),
            "face" => format!("{} bytes", p.face.len()),
            "tl" => p.trust_level.as_u64().to_string(),
            other => panic!("unexpected field {other}"),
        };
        let shown = if f.visibility == Visibility::Never { format!("<never shown: {}>", p.face.len()) } else { shown };
        writeln!(s, "{:<13} {shown}", f.key).unwrap();
    }
    s
}

#[test]
fn golden_identity_seal() {
    let (header, payload) = vds().to_be_signed().unwrap();
    if bless() {
        let d = sealed();
        std::fs::write(data("golden-identity.vds.txt"), d.to_text(Transport::Base45) + "\n").unwrap();
        std::fs::write(data("golden-identity.hex"), to_hex(&d.binary()) + "\n").unwrap();
        std::fs::write(data("golden-identity.inspect.txt"), inspect(&d)).unwrap();
    }
    let text = read("golden-identity.vds.txt");
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let d = decode(text).unwrap();
    assert_eq!(d.header_bytes(), header, "header bytes differ from the golden file");
    assert_eq!(d.payload_bytes(), payload, "payload bytes differ from the golden file");
    assert_eq!(d.vds(), &vds());
    verify(&d, &public_key()).unwrap();
    assert_eq!(d.to_text(Transport::Base45), text, "re-encoding reproduces the text exactly");
    assert_eq!(read("golden-identity.hex").trim_end(), to_hex(&d.binary()));
    assert_eq!(read("golden-identity.inspect.txt"), inspect(&d));
    // and the binary form in every transport reads back to the same seal
    for t in Transport::ALL {
        assert_eq!(decode(&d.to_text(t)).unwrap().binary(), d.binary());
    }
}
