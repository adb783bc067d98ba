//! Fuzz target of the VDS decoder (docs/vds.md, "Fuzzing").
//!
//! Every input is fed to the decoder in three ways:
//! 1. as text (lossy UTF-8) to [`idseal_vds::decode`], prefix and transport detection included;
//! 2. as raw binary to [`idseal_vds::decode_binary`];
//! 3. as raw binary written in each transport ([`Transport::encode`], with the `VDSEUA` prefix)
//!    and read back through the text path, and as a transport body to each
//!    [`Transport::decode`].
//!
//! Nothing may panic. Whenever a seal is accepted, the canonical property must hold:
//! re-encoding the decoded header and payload gives back exactly the bytes that were read
//! (`encode(decode(b)) == b`), the text form is re-created from the binary, and
//! [`idseal_vds::verify`] returns (with the golden test key and with junk keys) without
//! panicking. The character codecs are checked for the same property on the way.

#![no_main]

use std::sync::OnceLock;

use idseal_vds::transport::{PREFIX, to_text};
use idseal_vds::{DecodedVds, LocalSigner, Transport, base45, c40, decode, decode_binary, verify};
use libfuzzer_sys::fuzz_target;

/// The golden seal's test key (crates/idseal-vds/tests/it/main.rs); test material only.
const TEST_PKCS8_HEX: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104204f80d678c15fc76a0fe6225d8385157286674e8d3457ac251ab079bf68ac93a6a1440342000485465803f24b6b68a7aaa8bcf3e778f6dc9334485032e9cf6f81ce01673f55a82cdcc9723f87cd58f8604708b6e00d5bac9b99078ead38199c06a1974e03ba8c";

fn public_key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pkcs8: Vec<u8> = (0..TEST_PKCS8_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&TEST_PKCS8_HEX[i..i + 2], 16).unwrap())
            .collect();
        let reference = idseal_vds::CertificateReference::new("FR05", "0001").unwrap();
        LocalSigner::from_pkcs8(&pkcs8, reference).unwrap().public_key()
    })
}

/// The checks on every accepted seal. `input` is the binary it was read from.
fn check_accepted(d: &DecodedVds, input: &[u8], junk_key: &[u8]) {
    // the exact bytes were kept
    assert_eq!(d.binary(), input, "binary() differs from the input");
    // canonical: re-encoding the decoded content reproduces header and payload byte for byte
    let (header, payload) = d.vds().to_be_signed().expect("an accepted seal re-encodes");
    assert_eq!(header, d.header_bytes(), "header re-encodes differently");
    assert_eq!(payload, d.payload_bytes(), "payload re-encodes differently");
    assert!(d.manifest().is_ok());
    // the binary decodes again to the same seal
    let again = decode_binary(input).expect("binary decodes twice");
    assert_eq!(again.vds(), d.vds());
    assert_eq!(again.signature(), d.signature());
    // every transport round-trips the accepted binary
    for t in Transport::ALL {
        let text = d.to_text(t);
        let back = decode(&text).expect("to_text output decodes");
        assert_eq!(back.binary(), input, "{t:?} text round trip");
    }
    let _ = d.fingerprint();
    let _ = d.signature_message();
    // verification never panics, whatever the key
    let _ = verify(d, public_key());
    let _ = verify(d, junk_key);
    let mut point = [0u8; 65];
    point[0] = 0x04;
    for (p, j) in point.iter_mut().skip(1).zip(junk_key) {
        *p = *j;
    }
    let _ = verify(d, &point);
}

fuzz_target!(|data: &[u8]| {
    let junk_key = data.get(..65).unwrap_or(data);

    // 1. text, lossy UTF-8
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = decode(&text) {
        let t = d.transport().expect("text decode records its transport");
        let body = &text[PREFIX.len()..];
        let binary = t.decode(body).expect("the detected transport decodes the body");
        check_accepted(&d, &binary, junk_key);
        // the text form is canonical too (hex is read in either case, written uppercase)
        let written = d.to_text(t);
        if t == Transport::Hex {
            assert!(written.eq_ignore_ascii_case(&text), "hex text round trip");
        } else {
            assert_eq!(written, text, "{t:?} text round trip");
        }
    }

    // 2. raw binary
    if let Ok(d) = decode_binary(data) {
        check_accepted(&d, data, junk_key);
    }

    // 3. raw binary through the transport encoders and decoders
    for t in Transport::ALL {
        let text = to_text(data, t);
        let result = decode(&text);
        if let Ok(d) = &result {
            check_accepted(d, data, junk_key);
        }
        // accepted as binary <=> accepted through any transport
        assert_eq!(result.is_ok(), decode_binary(data).is_ok(), "{t:?} changes acceptance");
        if let Ok(body) = t.decode(&String::from_utf8_lossy(data)) {
            // strict decoders: the body is the one encoding of its bytes (hex: up to case)
            let again = t.encode(&body);
            let same = if t == Transport::Hex {
                again.eq_ignore_ascii_case(&String::from_utf8_lossy(data))
            } else {
                again == String::from_utf8_lossy(data)
            };
            assert!(same, "{t:?} decode is not canonical");
        }
    }

    // the character codecs: every accepted input has one encoding
    if let Ok(s) = c40::decode(data) {
        assert_eq!(c40::encode(&s).expect("decoded C40 re-encodes"), data, "C40 not canonical");
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(b) = base45::decode(s)
    {
        assert_eq!(base45::encode(&b), s, "Base45 not canonical");
    }
});
