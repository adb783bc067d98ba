use super::*;
use crate::manifest::NAMESPACE;
use proptest::prelude::*;

/// A 1×1 lossless WEBP built by hand from the VP8L bitstream rules (see tests/data/README.md).
pub(crate) const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];

pub(crate) fn sample() -> Identity {
    Identity {
        given_name: "Maëlys-Gaëlle".into(),
        family_name: "MARTIN".into(),
        date_of_birth: "1990-02-28".into(),
        nationality: "FRA".into(),
        document_number: "X4RTBPFW4".into(),
        token_id: [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0x4d, 0x2a, 0xa6, 0xd2, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf],
        expires_at: UnixTime::from_secs(1_863_072_000),
        photo: TINY_WEBP.to_vec(),
        face: [0x5A; FACE_LEN],
        trust_level: TrustLevel::OperatorVerified,
    }
}

fn encode_with(fields: &[(String, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_map(&mut out, fields.len());
    for (k, v) in fields {
        msgpack::write_str(&mut out, k);
        match v {
            Value::Uint(x) => msgpack::write_uint(&mut out, *x),
            Value::Str(s) => msgpack::write_str(&mut out, s),
            Value::Bin(b) => msgpack::write_bin(&mut out, b),
        }
    }
    out
}

fn decode(b: &[u8]) -> Result<Identity, VdsError> {
    let (id, used) = Identity::decode(b)?;
    assert_eq!(used, b.len());
    Ok(id)
}

fn with(key: &str, value: Value) -> Vec<u8> {
    let mut f = sample().to_fields();
    for (k, v) in &mut f {
        if k == key {
            *v = value.clone();
        }
    }
    encode_with(&f)
}

#[test]
fn round_trip_and_layout() {
    let id = sample();
    let b = id.encode().unwrap();
    assert_eq!(b[0], 0x8A, "fixmap of 10");
    assert_eq!(&b[1..4], b"\xA2gn");
    assert_eq!(decode(&b).unwrap(), id);
    assert_eq!(id.token_id_string(), "2b7e1516-28ae-4d2a-a6d2-abf7158809cf");
}

#[test]
fn refuses_non_canonical_structure() {
    let f = sample().to_fields();
    // duplicate
    let mut dup = f.clone();
    dup[1] = f[0].clone();
    assert_eq!(decode(&encode_with(&dup)), Err(VdsError::DuplicateKey { key: "gn".into() }));
    // unknown
    let mut unk = f.clone();
    unk[9] = ("zz".into(), Value::Uint(1));
    assert_eq!(decode(&encode_with(&unk)), Err(VdsError::UnknownKey { key: "zz".into() }));
    // order
    let mut swapped = f.clone();
    swapped.swap(0, 1);
    assert_eq!(decode(&encode_with(&swapped)), Err(VdsError::KeyOrder { key: "gn".into() }));
    // missing
    let mut missing = f.clone();
    missing.remove(9);
    assert_eq!(decode(&encode_with(&missing)), Err(VdsError::MissingField { key: "tl".into() }));
    // more entries than the manifest has fields
    let mut eleven = f.clone();
    eleven.push(("tl".into(), Value::Uint(1)));
    assert_eq!(decode(&encode_with(&eleven)), Err(VdsError::TooManyFields { count: 11 }));
    let mut many = encode_with(&f);
    many[0] = 0x8F;
    assert_eq!(decode(&many), Err(VdsError::TooManyFields { count: 15 }));
    // not a map
    assert_eq!(decode(&[0x91, 0x01]), Err(VdsError::PayloadNotMap));
    // map16 for 10 entries
    let mut long_map = vec![0xDE, 0x00, 0x0A];
    long_map.extend_from_slice(&encode_with(&f)[1..]);
    assert!(matches!(decode(&long_map), Err(VdsError::NonCanonicalEncoding { .. })));
    // non-string key
    let mut int_key = encode_with(&f);
    int_key[1] = 0x05;
    assert!(matches!(decode(&int_key), Err(VdsError::WrongType { .. })));
    // empty input
    assert!(matches!(decode(&[]), Err(VdsError::Truncated { .. })));
}

#[test]
fn refuses_bad_values() {
    use VdsError as E;
    let cases: Vec<(Vec<u8>, E)> = vec![
        (with("gn", Value::Uint(1)), E::WrongType { key: "gn".into(), expected: "str" }),
        (with("tl", Value::Str("3".into())), E::WrongType { key: "tl".into(), expected: "uint" }),
        (with("face", Value::Str("x".into())), E::WrongType { key: "face".into(), expected: "bin" }),
        (with("gn", Value::Str("A".repeat(40))), E::FieldTooLong { key: "gn".into(), len: 40, max: 39 }),
        (
            with("fn", Value::Str(String::new())),
            E::BadFieldValue { key: "fn".into(), reason: "shorter than the manifest minimum" },
        ),
        (with("gn", Value::Str("A\u{7}".into())), E::BadFieldValue { key: "gn".into(), reason: "control character" }),
        (
            with("gn", Value::Str(" A".into())),
            E::BadFieldValue { key: "gn".into(), reason: "leading or trailing white space" },
        ),
        (
            with("dob", Value::Str("1990-02-29".into())),
            E::BadFieldValue { key: "dob".into(), reason: "not a calendar date" },
        ),
        (
            with("dob", Value::Str("1990/02/28".into())),
            E::BadFieldValue { key: "dob".into(), reason: "not YYYY-MM-DD" },
        ),
        (
            with("dob", Value::Str("0000-01-01".into())),
            E::BadFieldValue { key: "dob".into(), reason: "not a calendar date" },
        ),
        (with("dob", Value::Str("1990-2-28".into())), E::WrongSize { key: "dob".into(), len: 9, expected: 10 }),
        (
            with("nat", Value::Str("fra".into())),
            E::BadFieldValue { key: "nat".into(), reason: "not a 3-letter code A-Z (filler <)" },
        ),
        (
            with("nat", Value::Str("<<D".into())),
            E::BadFieldValue { key: "nat".into(), reason: "not a 3-letter code A-Z (filler <)" },
        ),
        (with("nat", Value::Str("FRAN".into())), E::WrongSize { key: "nat".into(), len: 4, expected: 3 }),
        (
            with("doc", Value::Str("AB-12".into())),
            E::BadFieldValue { key: "doc".into(), reason: "not A-Z 0-9 < (no leading or trailing <)" },
        ),
        (
            with("doc", Value::Str("AB12<".into())),
            E::BadFieldValue { key: "doc".into(), reason: "not A-Z 0-9 < (no leading or trailing <)" },
        ),
        (with("doc", Value::Str("A".repeat(21))), E::FieldTooLong { key: "doc".into(), len: 21, max: 20 }),
        (with("tid", Value::Bin(vec![1; 15])), E::WrongSize { key: "tid".into(), len: 15, expected: 16 }),
        (with("face", Value::Bin(vec![1; 141])), E::WrongSize { key: "face".into(), len: 141, expected: 140 }),
        (with("tl", Value::Uint(0)), E::BadTrustLevel { value: 0 }),
        (with("tl", Value::Uint(4)), E::BadTrustLevel { value: 4 }),
        (with("exp", Value::Uint(u64::MAX)), E::TimeOutOfRange { what: "expiry" }),
        (with("photo", Value::Bin(vec![0; 2049])), E::PhotoTooLarge { len: 2049, max: 2048 }),
        (with("photo", Value::Bin(vec![0; 100])), E::NotWebp),
    ];
    for (bytes, want) in cases {
        assert_eq!(decode(&bytes), Err(want));
    }
    let mut bad_size = TINY_WEBP.to_vec();
    bad_size[4] = 0x19;
    assert_eq!(decode(&with("photo", Value::Bin(bad_size))), Err(VdsError::NotWebp));
    let mut not_utf8 = with("gn", Value::Str("AB".into()));
    not_utf8[5] = 0xFF;
    assert_eq!(decode(&not_utf8), Err(VdsError::InvalidUtf8 { field: "gn".into() }));
    assert_eq!(decode(&with("nat", Value::Str("D<<".into()))).unwrap().nationality, "D<<");
}

#[test]
fn refuses_nesting_without_recursing() {
    let mut b = encode_with(&sample().to_fields()[..0]);
    b[0] = 0x8A;
    msgpack::write_str(&mut b, "gn");
    b.extend(std::iter::repeat_n(0x91, 10_000));
    b.push(0x01);
    assert_eq!(decode(&b), Err(VdsError::NestingTooDeep { key: "gn".into() }));
    let mut m = vec![0x8A];
    msgpack::write_str(&mut m, "gn");
    m.extend_from_slice(&[0x81, 0xA1, b'a', 0x01]);
    assert_eq!(decode(&m), Err(VdsError::NestingTooDeep { key: "gn".into() }));
    // a top-level bomb is simply not a map
    assert_eq!(decode(&vec![0x91; 10_000]), Err(VdsError::PayloadNotMap));
}

#[test]
fn extensions_when_the_manifest_keeps_them() {
    let xml = format!(
        r#"<Manifest xmlns="{NAMESPACE}" id="0A00FF" unknownFields="keep"><Payload>
        <Field key="a" type="uint" required="true" visibility="ALWAYS"/></Payload></Manifest>"#
    );
    let m = Manifest::parse(&xml).unwrap();
    let f: Fields =
        vec![("a".into(), Value::Uint(1)), ("x".into(), Value::Bin(vec![1])), ("y".into(), Value::Str("s".into()))];
    let b = encode_fields(&f, &m).unwrap();
    assert_eq!(decode_fields(&b, &m).unwrap(), (f.clone(), b.len()));
    let mut unordered = f.clone();
    unordered.swap(1, 2);
    assert_eq!(decode_fields(&encode_with(&unordered), &m), Err(VdsError::KeyOrder { key: "x".into() }));
    let after: Fields = vec![("x".into(), Value::Uint(1)), ("a".into(), Value::Uint(1))];
    assert_eq!(decode_fields(&encode_with(&after), &m), Err(VdsError::KeyOrder { key: "a".into() }));
    let mut nested = encode_with(&f[..1]);
    nested[0] = 0x82;
    msgpack::write_str(&mut nested, "z");
    nested.push(0x90);
    assert_eq!(decode_fields(&nested, &m), Err(VdsError::NestingTooDeep { key: "z".into() }));
    let mut nil = encode_with(&f[..1]);
    nil[0] = 0x82;
    msgpack::write_str(&mut nil, "z");
    nil.push(0xC0);
    assert!(matches!(decode_fields(&nil, &m), Err(VdsError::WrongType { .. })));
}

prop_compose! {
    pub(crate) fn identity()(
        gn in "[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ' -]{0,30}[A-Za-zÀ-ÿ]",
        family in "[A-Z]{1,39}",
        y in 1u32..=9999, m in 1u32..=12, d in 1u32..=28,
        nat in "[A-Z][A-Z<]{2}",
        doc in "[A-Z0-9]([A-Z0-9<]{0,18}[A-Z0-9])?",
        tid in any::<[u8; 16]>(),
        exp in 0i64..=i64::MAX,
        extra in proptest::collection::vec(any::<u8>(), 0..1500),
        face in proptest::collection::vec(any::<u8>(), FACE_LEN),
        tl in 1u64..=3,
    ) -> Identity {
        let mut photo = TINY_WEBP.to_vec();
        photo.extend_from_slice(&extra);
        let riff = u32::try_from(photo.len() - 8).unwrap().to_le_bytes();
        photo[4..8].copy_from_slice(&riff);
        Identity {
            given_name: gn,
            family_name: family,
            date_of_birth: format!("{y:04}-{m:02}-{d:02}"),
            nationality: nat,
            document_number: doc,
            token_id: tid,
            expires_at: UnixTime::from_secs(exp),
            photo,
            face: face.try_into().unwrap(),
            trust_level: TrustLevel::from_u64(tl).unwrap(),
        }
    }
}

proptest! {
    #[test]
    fn identity_round_trip(id in identity()) {
        let b = id.encode().unwrap();
        prop_assert_eq!(decode(&b).unwrap(), id);
    }

    #[test]
    fn accepted_payload_bytes_are_canonical(id in identity(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut b = id.encode().unwrap();
        let i = pos.index(b.len());
        b[i] = byte;
        if let Ok((decoded, used)) = Identity::decode(&b) {
            prop_assert_eq!(decoded.encode().unwrap(), &b[..used]);
        }
    }
}

#[test]
fn debug_never_shows_personal_data_or_biometrics() {
    let id = sample();
    let s = format!("{id:?}");
    assert!(s.contains("<redacted>") && s.contains("<never shown>"));
    assert!(!s.contains(&id.family_name) && !s.contains(&id.document_number) && !s.contains(&id.date_of_birth));
}
