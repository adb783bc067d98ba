//! The device public-key matrix: what `DevicePublicKey::from_pem` accepts and refuses.

use aws_lc_rs::encoding::{AsBigEndian as _, AsDer as _, EcPublicKeyCompressedBin, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_x1280::{DeviceKey, DevicePublicKey, X1280Error};

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

fn refused(pem_text: &str) -> String {
    match DevicePublicKey::from_pem(pem_text) {
        Err(X1280Error::BadPublicKey(reason)) => reason,
        other => panic!("expected BadPublicKey, got {other:?}"),
    }
}

#[test]
fn good_keys() {
    let key = DeviceKey::generate().unwrap();
    let text = key.public_key().to_pem();
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(text.ends_with("-----END PUBLIC KEY-----\n"));
    let parsed = DevicePublicKey::from_pem(&text).unwrap();
    assert_eq!(&parsed, key.public_key());
    assert_eq!(DevicePublicKey::from_pem(&text.replace('\n', "\r\n")).unwrap(), parsed);
    assert_eq!(DevicePublicKey::from_pem(text.trim_end()).unwrap(), parsed);
    // One long base64 line is fine too.
    let one_line =
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----", STANDARD.encode(parsed.spki_der()));
    assert_eq!(DevicePublicKey::from_pem(&one_line).unwrap(), parsed);
    // aws-lc's own SPKI encoding of the same key is byte-identical to ours.
    let pair =
        EcdsaKeyPair::from_pkcs8(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &key.pkcs8().unwrap()).unwrap();
    let theirs: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
    assert_eq!(theirs.as_ref(), parsed.spki_der());
    assert_eq!(DevicePublicKey::from_spki_der(theirs.as_ref()).unwrap(), parsed);
    // The thumbprint is the SHA-256 of the SPKI.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parsed.spki_der());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(parsed.thumbprint(), hex);
}

#[test]
fn other_algorithms_are_refused() {
    let p384 = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
    let der: PublicKeyX509Der<'static> = p384.public_key().as_der().unwrap();
    assert!(refused(&pem(der.as_ref())).contains("P-256"));

    let rsa = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
    let der: PublicKeyX509Der<'static> = rsa.public_key().as_der().unwrap();
    assert!(refused(&pem(der.as_ref())).contains("EC"));

    let ed = Ed25519KeyPair::generate().unwrap();
    let der: PublicKeyX509Der<'static> = ed.public_key().as_der().unwrap();
    refused(&pem(der.as_ref()));
}

#[test]
fn compressed_point_is_refused() {
    let key = EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let compressed: EcPublicKeyCompressedBin<'static> = key.public_key().as_be_bytes().unwrap();
    let point = compressed.as_ref();
    assert_eq!(point.len(), 33);
    let mut der = vec![0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    der.extend_from_slice(&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00]);
    der.extend_from_slice(point);
    assert!(refused(&pem(&der)).contains("compressed"));
}

#[test]
fn malformed_inputs_are_refused() {
    let good = DeviceKey::generate().unwrap().public_key().clone();
    let text = good.to_pem();
    let der = good.spki_der().to_vec();

    // Garbage and empty.
    refused("");
    refused("hello world");
    refused("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n");
    refused("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n");
    // Truncated: DER cut short, and armour cut short.
    refused(&pem(&der[..der.len() - 1]));
    refused(&pem(&der[..40]));
    refused(&text[..text.len() - 10]);
    refused(&text[..50]);
    // Two blocks.
    assert!(refused(&format!("{text}{text}")).contains("more than one"));
    // Trailing bytes after the SPKI, inside the PEM.
    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0x05, 0x00]);
    assert!(refused(&pem(&trailing)).contains("trailing"));
    // Text outside the armour, and PEM headers.
    refused(&format!("{text}extra"));
    refused(&format!("comment\n{text}"));
    refused(&text.replacen('\n', "\nComment: device\n", 1));
    // Wrong label.
    refused(&text.replace("PUBLIC KEY", "EC PUBLIC KEY"));
    refused(&text.replace("PUBLIC KEY", "CERTIFICATE"));
    // Over 4 KiB.
    refused(&format!("{text}{}", "\n".repeat(4096)));
    // A point that is not on the curve.
    let mut off = der.clone();
    let last = off.len() - 1;
    off[last] ^= 0x01;
    assert!(refused(&pem(&off)).contains("not on P-256"));
    // The point at infinity encoding and an all-zero point.
    let mut zero = der[..26].to_vec();
    zero.extend_from_slice(&[0u8; 65]);
    refused(&pem(&zero));
    // SPKI DER directly.
    assert!(matches!(DevicePublicKey::from_spki_der(&trailing), Err(X1280Error::BadPublicKey(_))));
    assert!(matches!(DevicePublicKey::from_spki_der(&[]), Err(X1280Error::BadPublicKey(_))));
}
