//! Bad input: every refusal is a specific `VdsError`, never a panic.

use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use idseal_types::UnixTime;
use idseal_vds::{Scalar, Transport, VdsError, decode, decode_binary, encode_signed, verify};

use crate::{TINY_WEBP, public_key, sealed, signer, vds};

/// The P-256 group order.
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA,
    0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

fn check(b: &[u8]) -> Result<(), VdsError> {
    let d = decode_binary(b)?;
    verify(&d, &public_key())
}

/// A minimal MessagePack writer of our own for hand-made payloads.
enum V<'a> {
    U(u64),
    S(&'a str),
    B(&'a [u8]),
    Raw(&'a [u8]),
}

fn put_len(out: &mut Vec<u8>, n: usize, tags: [u8; 3]) {
    if n <= 0xFF {
        out.extend_from_slice(&[tags[0], n as u8]);
    } else if n <= 0xFFFF {
        out.push(tags[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    if s.len() < 32 {
        out.push(0xA0 | s.len() as u8);
    } else {
        put_len(out, s.len(), [0xD9, 0xDA, 0xDB]);
    }
    out.extend_from_slice(s.as_bytes());
}

fn map(entries: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut out = vec![0x80 | entries.len() as u8];
    for (k, v) in entries {
        put_str(&mut out, k);
        match v {
            V::U(x) if *x < 0x80 => out.push(*x as u8),
            V::U(x) if *x <= 0xFF => out.extend_from_slice(&[0xCC, *x as u8]),
            V::U(x) if *x <= 0xFFFF => {
                out.push(0xCD);
                out.extend_from_slice(&(*x as u16).to_be_bytes());
            }
            V::U(x) if *x <= 0xFFFF_FFFF => {
                out.push(0xCE);
                out.extend_from_slice(&(*x as u32).to_be_bytes());
            }
            V::U(x) => {
                out.push(0xCF);
                out.extend_from_slice(&x.to_be_bytes());
            }
            V::S(s) => put_str(&mut out, s),
            V::B(b) => {
                put_len(&mut out, b.len(), [0xC4, 0xC5, 0xC6]);
                out.extend_from_slice(b);
            }
            V::Raw(r) => out.extend_from_slice(r),
        }
    }
    out
}

/// The fixed identity as entries, with `key` replaced (or dropped when `value` is None).
fn entries_with<'a>(face: &'a [u8], key: &str, value: Option<V<'a>>) -> Vec<(&'static str, V<'a>)> {
    let id = crate::identity();
    let exp = u64::try_from(id.expires_at.as_secs()).unwrap();
    let mut e: Vec<(&'static str, V<'a>)> = vec![
        ("gn", V::S("Maëlys-Gaëlle")),
        ("fn", V::S("MARTIN")),
        ("dob", V::S("1990-02-28")),
        ("nat", V::S("FRA")),
        ("doc", V::S("X4RTBPFW4")),
        (
            "tid",
            V::B(&[0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0x4d, 0x2a, 0xa6, 0xd2, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf]),
        ),
        ("exp", V::U(exp)),
        ("photo", V::B(&TINY_WEBP)),
        ("face", V::B(face)),
        ("tl", V::U(2)),
    ];
    let pos = e.iter().position(|(k, _)| *k == key).unwrap();
    match value {
        Some(v) => e[pos].1 = v,
        None => {
            e.remove(pos);
        }
    }
    e
}

/// A binary with the fixed header (honest length) around `payload`, and a valid-looking signature.
fn with_payload(payload: &[u8]) -> Vec<u8> {
    let good = sealed();
    let header = good.header().encode(payload.len()).unwrap();
    [header, payload.to_vec(), good.signature().to_vec()].concat()
}

fn face() -> Vec<u8> {
    crate::identity().face.to_vec()
}

#[test]
fn hand_made_payload_matches_ours() {
    let f = face();
    let mine = map(&entries_with(&f, "tl", Some(V::U(2))));
    assert_eq!(mine, sealed().payload_bytes(), "the test writer agrees with the codec");
    assert_eq!(check(&with_payload(&mine)), Ok(()));
}

#[test]
fn truncated_at_every_length() {
    let b = sealed().binary();
    for n in 0..b.len() {
        match decode_binary(&b[..n]) {
            Err(VdsError::Truncated { .. }) => {}
            other => panic!("truncated to {n} of {}: {other:?}", b.len()),
        }
    }
}

#[test]
fn trailing_byte() {
    let mut b = sealed().binary();
    b.push(0);
    assert_eq!(check(&b), Err(VdsError::TrailingBytes { count: 1 }));
}

#[test]
fn header_errors() {
    let good = sealed().binary();
    let set = |i: usize, v: &[u8]| {
        let mut b = good.clone();
        b[i..i + v.len()].copy_from_slice(v);
        check(&b)
    };
    assert_eq!(set(0, &[0xDC]), Err(VdsError::BadMarker { found: 0xDC }));
    assert_eq!(set(1, &[0x02]), Err(VdsError::UnsupportedVersion { found: 0x02 }));
    assert!(matches!(set(2, &[0xFF, 0xFF]), Err(VdsError::BadC40 { .. })));
    assert_eq!(set(2, &[0xD9, 0xC5]), Err(VdsError::UnknownIac { found: "UTO".into() }));
    assert!(matches!(set(4, &[0x00, 0x00]), Err(VdsError::BadC40 { .. })));
    assert_eq!(set(10, &[0x0A, 0x00, 0x03]), Err(VdsError::UnknownManifest { id: 0x0A0003 }));
    // an identity payload under the service manifest's id: checked against that manifest
    assert_eq!(set(10, &[0x0A, 0x00, 0x02]), Err(VdsError::TooManyFields { count: 10 }));
    // the issue time moved past the expiry
    assert_eq!(set(13, &[0xFF, 0xFF, 0xFF, 0xFF]), Err(VdsError::ExpiryBeforeIssue));
}

#[test]
fn length_field_errors() {
    let good = sealed().binary();
    assert_eq!(good[17], 0x82, "the fixed seal uses the two-byte length form");
    let len = usize::from(u16::from_be_bytes([good[18], good[19]]));
    for delta in [1isize, -1] {
        let mut b = good.clone();
        let lie = len.checked_add_signed(delta).unwrap();
        b[18..20].copy_from_slice(&u16::try_from(lie).unwrap().to_be_bytes());
        assert_eq!(check(&b), Err(VdsError::LengthMismatch { declared: lie, actual: len }), "{delta}");
    }
    // the same length in a longer form
    let mut long = good[..17].to_vec();
    long.extend_from_slice(&[0x83, 0x00, good[18], good[19]]);
    long.extend_from_slice(&good[20..]);
    assert_eq!(check(&long), Err(VdsError::NonCanonicalLength));
    let mut short_long = good[..17].to_vec();
    short_long.extend_from_slice(&[0x81, 0x05]);
    short_long.extend_from_slice(&good[20..]);
    assert_eq!(check(&short_long), Err(VdsError::NonCanonicalLength));
    let mut indefinite = good[..17].to_vec();
    indefinite.push(0x80);
    indefinite.extend_from_slice(&good[20..]);
    assert_eq!(check(&indefinite), Err(VdsError::BadLengthForm { first: 0x80 }));
    let mut huge = good[..17].to_vec();
    huge.extend_from_slice(&[0x83, 0x10, 0x00, 0x00]);
    huge.extend_from_slice(&good[20..]);
    assert!(matches!(check(&huge), Err(VdsError::PayloadTooLarge { .. })));
}

#[test]
fn payload_errors() {
    let f = face();
    let mut dup = entries_with(&f, "fn", Some(V::S("X")));
    dup[1].0 = "gn";
    assert_eq!(check(&with_payload(&map(&dup))), Err(VdsError::DuplicateKey { key: "gn".into() }));
    let mut unknown = entries_with(&f, "tl", Some(V::U(2)));
    unknown[9].0 = "lvl";
    assert_eq!(check(&with_payload(&map(&unknown))), Err(VdsError::UnknownKey { key: "lvl".into() }));
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "tl", Some(V::S("2")))))),
        Err(VdsError::WrongType { key: "tl".into(), expected: "uint" })
    );
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "tl", None)))),
        Err(VdsError::MissingField { key: "tl".into() })
    );
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "gn", Some(V::S(&"A".repeat(40))))))),
        Err(VdsError::FieldTooLong { key: "gn".into(), len: 40, max: 39 })
    );
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "tl", Some(V::U(7)))))),
        Err(VdsError::BadTrustLevel { value: 7 })
    );
    // 0xCF for a small integer: a non-canonical encoding
    assert!(matches!(
        check(&with_payload(&map(&entries_with(&f, "tl", Some(V::Raw(&[0xCF, 0, 0, 0, 0, 0, 0, 0, 2])))))),
        Err(VdsError::NonCanonicalEncoding { .. })
    ));
    // expiry before the issue time
    assert_eq!(check(&with_payload(&map(&entries_with(&f, "exp", Some(V::U(5)))))), Err(VdsError::ExpiryBeforeIssue));
}

#[test]
fn depth_bombs() {
    let f = face();
    // 3 500 nested arrays fit the payload limit: refused as nesting, without recursion
    let bomb = [vec![0x91; 3500], vec![0x01]].concat();
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "gn", Some(V::Raw(&bomb)))))),
        Err(VdsError::NestingTooDeep { key: "gn".into() })
    );
    // 10 000 nested arrays with an honest length exceed the payload limit
    let big = [vec![0x91; 10_000], vec![0x01]].concat();
    let payload = map(&entries_with(&f, "gn", Some(V::Raw(&big))));
    let mut honest = sealed().header_bytes()[..17].to_vec();
    honest.extend_from_slice(&[0x82]);
    honest.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    honest.extend_from_slice(&payload);
    assert!(matches!(check(&honest), Err(VdsError::PayloadTooLarge { .. })));
    // ... and with a lying length they are refused as nesting
    let mut lying = sealed().header_bytes().to_vec();
    lying.extend_from_slice(&payload);
    lying.extend_from_slice(sealed().signature());
    assert_eq!(check(&lying), Err(VdsError::NestingTooDeep { key: "gn".into() }));
    // a nested map in place of a value
    let nested = [0x81, 0xA1, b'a', 0x81, 0xA1, b'b', 0x01];
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "doc", Some(V::Raw(&nested)))))),
        Err(VdsError::NestingTooDeep { key: "doc".into() })
    );
}

#[test]
fn photo_errors() {
    let f = face();
    let mut big = TINY_WEBP.to_vec();
    big.resize(2049, 0);
    big[4..8].copy_from_slice(&(2049u32 - 8).to_le_bytes());
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "photo", Some(V::B(&big)))))),
        Err(VdsError::PhotoTooLarge { len: 2049, max: 2048 })
    );
    let mut png = TINY_WEBP.to_vec();
    png[8..12].copy_from_slice(b"PNG ");
    assert_eq!(check(&with_payload(&map(&entries_with(&f, "photo", Some(V::B(&png)))))), Err(VdsError::NotWebp));
    let short_face = [0u8; 139];
    assert_eq!(
        check(&with_payload(&map(&entries_with(&f, "face", Some(V::B(&short_face)))))),
        Err(VdsError::WrongSize { key: "face".into(), len: 139, expected: 140 })
    );
}

fn n_minus(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(s[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

#[test]
fn signature_errors() {
    let good = sealed().binary();
    let sig_at = good.len() - 64;
    let with_sig = |r: Option<&[u8]>, s: Option<&[u8]>| {
        let mut b = good.clone();
        if let Some(r) = r {
            b[sig_at..sig_at + 32].copy_from_slice(r);
        }
        if let Some(s) = s {
            b[sig_at + 32..].copy_from_slice(s);
        }
        check(&b)
    };
    assert_eq!(
        with_sig(Some(&[0; 32]), None),
        Err(VdsError::BadSignatureEncoding { which: Scalar::R, reason: "zero" })
    );
    assert_eq!(
        with_sig(None, Some(&[0; 32])),
        Err(VdsError::BadSignatureEncoding { which: Scalar::S, reason: "zero" })
    );
    assert_eq!(
        with_sig(Some(&N), None),
        Err(VdsError::BadSignatureEncoding { which: Scalar::R, reason: "not below n" })
    );
    assert_eq!(
        with_sig(Some(&[0xFF; 32]), None),
        Err(VdsError::BadSignatureEncoding { which: Scalar::R, reason: "not below n" })
    );
    assert_eq!(
        with_sig(None, Some(&N)),
        Err(VdsError::BadSignatureEncoding { which: Scalar::S, reason: "not below n" })
    );
    // the high-S twin of a valid signature is valid ECDSA, but not canonical here
    let high = n_minus(&good[sig_at + 32..]);
    assert_eq!(with_sig(None, Some(&high)), Err(VdsError::HighS));
    // r out of range is refused as an encoding error even before verification
    let mut r_big = good.clone();
    r_big[sig_at..sig_at + 32].copy_from_slice(&N);
    assert!(matches!(decode_binary(&r_big), Err(VdsError::BadSignatureEncoding { .. })));
}

#[test]
fn wrong_key_and_bad_keys() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let other = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let d = sealed();
    assert_eq!(verify(&d, other.public_key().as_ref()), Err(VdsError::InvalidSignature));
    assert_eq!(verify(&d, &public_key()), Ok(()));
    let mut off_curve = public_key();
    off_curve[64] ^= 1;
    assert_eq!(verify(&d, &off_curve), Err(VdsError::BadPublicKey));
    assert_eq!(verify(&d, &public_key()[..33]), Err(VdsError::BadPublicKey));
    let mut compressed_tag = public_key();
    compressed_tag[0] = 0x02;
    assert_eq!(verify(&d, &compressed_tag), Err(VdsError::BadPublicKey));
    // the key parsed once gives the same answers
    use idseal_vds::seal::VerifyingKey;
    assert_eq!(VerifyingKey::from_uncompressed(&public_key()).unwrap().verify(&d), Ok(()));
    let other_key = VerifyingKey::from_uncompressed(other.public_key().as_ref()).unwrap();
    assert_eq!(other_key.verify(&d), Err(VdsError::InvalidSignature));
    for bad in [&off_curve[..], &public_key()[..33], &compressed_tag[..]] {
        assert_eq!(VerifyingKey::from_uncompressed(bad).unwrap_err(), VdsError::BadPublicKey);
    }
    assert_eq!(
        idseal_vds::LocalSigner::from_pkcs8(b"not a key", crate::cert_ref()).unwrap_err(),
        VdsError::BadSigningKey
    );
    // a signer whose certificate is not the one in the header
    let mut v = vds();
    v.header.certificate_reference = idseal_vds::CertificateReference::new("FR05", "0002").unwrap();
    assert!(matches!(encode_signed(&v, &signer()), Err(VdsError::BadCertificateReference { .. })));
    // expiry not after issue
    let mut late = crate::identity();
    late.expires_at = UnixTime::from_secs(crate::ISSUED);
    let v = idseal_vds::Vds::identity(crate::cert_ref(), UnixTime::from_secs(crate::ISSUED), late);
    assert_eq!(encode_signed(&v, &signer()).unwrap_err(), VdsError::ExpiryBeforeIssue);
}

#[test]
fn every_flipped_byte_is_refused() {
    let good = sealed().binary();
    let header_len = sealed().header_bytes().len();
    let sig_at = good.len() - 64;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut b = good.clone();
            b[i] ^= mask;
            let err = check(&b).expect_err(&format!("byte {i} ^ {mask:#04x} was accepted"));
            match i {
                0 => assert!(matches!(err, VdsError::BadMarker { .. })),
                1 => assert!(matches!(err, VdsError::UnsupportedVersion { .. })),
                _ if i >= sig_at => assert!(
                    matches!(err, VdsError::InvalidSignature | VdsError::HighS | VdsError::BadSignatureEncoding { .. }),
                    "byte {i}: {err:?}"
                ),
                _ if i < header_len => {}
                _ => {}
            }
            let name = format!("{err:?}");
            let variant = name.split([' ', '(', '{']).next().unwrap_or_default().to_owned();
            *seen.entry(variant).or_default() += 1;
        }
    }
    eprintln!("refusals by variant: {seen:?}");
    assert!(seen.contains_key("InvalidSignature"));
}

#[test]
fn text_errors() {
    let d = sealed();
    let text = d.to_text(Transport::Base45);
    assert!(text.starts_with("VDSEUA03S"));
    assert_eq!(decode(&text[1..]), Err(VdsError::BadPrefix));
    let ggw = format!("{}GGW{}", &text[..12], &text[15..]);
    assert!(matches!(decode(&ggw), Err(VdsError::BadBase45 { .. })));
    assert!(matches!(decode(&format!("{text} ")), Err(VdsError::BadBase45 { .. })));
    assert!(matches!(decode(&format!("{text}\n")), Err(VdsError::BadBase45 { .. })));
    assert_eq!(decode(&format!("{}!", d.to_text(Transport::Hex))), Err(VdsError::BadHex));
    assert_eq!(decode(&format!("{}!", d.to_text(Transport::Base64))), Err(VdsError::BadBase64));
    assert_eq!(decode("VDSEUA!!"), Err(VdsError::UnknownTransport));
    // a Base45 text whose binary has the wrong marker reaches the binary decoder
    let mut bad_marker = d.binary();
    bad_marker[0] = 0xDC;
    assert_eq!(
        decode(&format!("VDSEUA{}", Transport::Base45.encode(&bad_marker))),
        Err(VdsError::BadMarker { found: 0xDC })
    );
    // truncated text
    for n in 6..text.len() {
        assert!(decode(&text[..n]).is_err(), "{n}");
    }
}
