use proptest::prelude::*;

use super::*;

fn read_one(input: &[u8]) -> Result<Tlv<'_>, DerError> {
    let mut r = Reader::new(input);
    let tlv = r.read()?;
    r.finish("trailing bytes")?;
    Ok(tlv)
}

fn reason(input: &[u8]) -> &'static str {
    read_one(input).unwrap_err().reason
}

#[test]
fn lengths_are_written_minimally() {
    assert_eq!(tlv(4, &[]), vec![4, 0]);
    assert_eq!(tlv(4, &[0; 127]).get(..2), Some(&[4u8, 127][..]));
    assert_eq!(tlv(4, &[0; 128]).get(..3), Some(&[4u8, 0x81, 128][..]));
    assert_eq!(tlv(4, &[0; 200]).get(..3), Some(&[4u8, 0x81, 200][..]));
    assert_eq!(tlv(4, &[0; 256]).get(..4), Some(&[4u8, 0x82, 1, 0][..]));
    assert_eq!(tlv(4, &[0; 300]).get(..4), Some(&[4u8, 0x82, 1, 44][..]));
    assert_eq!(tlv(4, &[0; 65_536]).get(..5), Some(&[4u8, 0x83, 1, 0, 0][..]));
    for n in [0, 1, 127, 128, 255, 256, 65_535, 65_536] {
        let content = vec![0xA5; n];
        let der = tlv(0x04, &content);
        let t = read_one(&der).unwrap();
        assert_eq!((t.tag, t.content, t.encoding), (0x04, content.as_slice(), der.as_slice()), "{n}");
    }
}

#[test]
fn bad_lengths_are_refused() {
    assert_eq!(reason(&[0x30, 0x80, 0x00, 0x00]), "indefinite DER length");
    assert_eq!(reason(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), "non-minimal DER length");
    assert_eq!(reason(&[0x04, 0x82, 0x00, 0x80]), "non-minimal DER length");
    assert_eq!(reason(&[0x04, 0x82, 0x00, 0xFF]), "non-minimal DER length");
    assert_eq!(reason(&[0x04, 0x85, 0, 0, 0, 0, 1, 0]), "unsupported DER length form");
    assert_eq!(reason(&[0x04, 0x85, 1, 0, 0, 0, 0]), "unsupported DER length form");
    assert_eq!(reason(&[0x04, 0xFF]), "unsupported DER length form");
    assert_eq!(reason(&[0x04, 0x05, 1, 2]), "truncated DER content");
    assert_eq!(reason(&[0x04, 0x82, 0x01, 0x00, 1, 2]), "truncated DER content");
    assert_eq!(reason(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), "truncated DER content");
    assert_eq!(reason(&[0x04, 0x82, 0x01]), "truncated DER length");
    assert_eq!(reason(&[0x04]), "truncated DER length");
    assert_eq!(reason(&[]), "truncated DER");
    assert_eq!(reason(&[0x04, 0x01, 0xAA, 0x00]), "trailing bytes");
}

#[test]
fn high_tag_numbers_are_refused() {
    assert_eq!(reason(&[0x1F, 0x22, 0x00]), "multi-byte DER tags are not used");
    assert_eq!(reason(&[0xBF, 0x81, 0x00, 0x00]), "multi-byte DER tags are not used");
    assert_eq!(read_one(&[0x9E, 0x00]).unwrap().tag, 0x9E);
}

#[test]
fn expect_sequence_set_and_finish() {
    let der = seq(&[&tlv(tag::OCTET_STRING, b"ab"), &set(&[&uint(&[5])])]);
    let mut outer = Reader::new(&der);
    assert_eq!(outer.peek_tag(), Some(tag::SEQUENCE));
    let mut r = outer.sequence("seq").unwrap();
    outer.finish("after").unwrap();
    assert!(outer.is_empty());
    assert_eq!(r.clone().expect(tag::INTEGER, "wanted an INTEGER").unwrap_err().reason, "wanted an INTEGER");
    assert_eq!(r.octet_string("octets").unwrap(), b"ab");
    assert_eq!(r.remaining(), set(&[&uint(&[5])]).as_slice());
    let mut s = r.set("set").unwrap();
    assert_eq!(s.unsigned("n").unwrap(), [5]);
    s.finish("after n").unwrap();
    r.finish("after set").unwrap();
    assert_eq!(Reader::new(&der).set("a SET").unwrap_err().reason, "a SET");
    let mut with_tail = der.clone();
    with_tail.push(0);
    let mut outer = Reader::new(&with_tail);
    outer.sequence("seq").unwrap();
    assert_eq!(outer.finish("bytes after").unwrap_err().reason, "bytes after");
}

#[test]
fn integers() {
    assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
    assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
    assert_eq!(uint(&[]), vec![2, 1, 0]);
    assert_eq!(uint(&[0, 0]), vec![2, 1, 0]);
    let int = |content: &[u8]| tlv(tag::INTEGER, content);
    assert_eq!(Reader::new(&int(&[0])).unsigned("n").unwrap(), b"");
    assert_eq!(Reader::new(&int(&[0, 0x80])).unsigned("n").unwrap(), [0x80]);
    assert_eq!(Reader::new(&int(&[0x7F])).unsigned("n").unwrap(), [0x7F]);
    assert_eq!(Reader::new(&int(&[0x80])).integer("n").unwrap(), [0x80]);
    assert_eq!(Reader::new(&int(&[0xFF, 0x7F])).integer("n").unwrap(), [0xFF, 0x7F]);
    assert_eq!(Reader::new(&int(&[0x80])).unsigned("n").unwrap_err().reason, "negative DER INTEGER");
    assert_eq!(Reader::new(&int(&[])).integer("n").unwrap_err().reason, "empty DER INTEGER");
    assert_eq!(Reader::new(&int(&[0, 0x7F])).integer("n").unwrap_err().reason, "non-minimal DER INTEGER");
    assert_eq!(Reader::new(&int(&[0, 0])).unsigned("n").unwrap_err().reason, "non-minimal DER INTEGER");
    assert_eq!(Reader::new(&int(&[0xFF, 0x80])).integer("n").unwrap_err().reason, "non-minimal DER INTEGER");
    assert_eq!(Reader::new(&tlv(tag::OCTET_STRING, &[1])).integer("n").unwrap_err().reason, "n");
}

#[test]
fn oids() {
    let ec = oid_content(&[1, 2, 840, 10045, 2, 1]).unwrap();
    assert_eq!(ec, vec![0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
    assert_eq!(oid_to_string(&ec).unwrap(), "1.2.840.10045.2.1");
    assert_eq!(oid(&[2, 5, 4, 3]).unwrap(), vec![0x06, 0x03, 0x55, 0x04, 0x03]);
    let big = oid_content(&[2, 25, u128::MAX]).unwrap();
    assert_eq!(oid_to_string(&big).unwrap(), format!("2.25.{}", u128::MAX));
    assert_eq!(oid_to_string(&oid_content(&[2, 999, 3]).unwrap()).unwrap(), "2.999.3");
    assert_eq!(oid_to_string(&[0x00]).unwrap(), "0.0");
    for bad_arcs in [&[][..], &[1], &[3, 1], &[0, 40], &[1, 40], &[2, u128::MAX]] {
        assert!(oid_content(bad_arcs).is_err(), "{bad_arcs:?}");
    }
    // Non-minimal sub-identifier, incomplete last sub-identifier, empty, too large.
    for bad_content in [&[0x2A, 0x80, 0x01][..], &[0x80, 0x01], &[0x2A, 0x86], &[], &[0xFF; 20]] {
        assert!(oid_to_string(bad_content).is_err(), "{bad_content:?}");
    }
    let mut r = Reader::new(&[0x06, 0x02, 0x2A, 0x86]);
    assert_eq!(r.oid("oid").unwrap_err().reason, "bad OID");
    assert_eq!(Reader::new(&[0x06, 0x01, 0x2A]).oid("oid").unwrap(), [0x2A]);
    assert_eq!(Reader::new(&[0x06, 0x00]).oid("oid").unwrap_err().reason, "bad OID");
}

#[test]
fn bit_and_octet_strings() {
    assert_eq!(Reader::new(&[0x03, 0x03, 0x00, 0xAB, 0xCD]).bit_string("b").unwrap(), [0xAB, 0xCD]);
    assert_eq!(Reader::new(&[0x03, 0x01, 0x00]).bit_string("b").unwrap(), b"");
    assert_eq!(
        Reader::new(&[0x03, 0x02, 0x07, 0x80]).bit_string("b").unwrap_err().reason,
        "BIT STRING has unused bits"
    );
    assert_eq!(Reader::new(&[0x03, 0x00]).bit_string("b").unwrap_err().reason, "empty BIT STRING");
    assert_eq!(Reader::new(&[0x04, 0x01, 0x00]).bit_string("b").unwrap_err().reason, "b");
    assert_eq!(Reader::new(&[0x04, 0x01, 0x07]).octet_string("o").unwrap(), [7]);
}

#[test]
fn times() {
    let time = |t: u8, text: &str| Reader::new(&tlv(t, text.as_bytes())).time();
    assert_eq!(time(tag::UTC_TIME, "700101000000Z").unwrap(), Time { tag: tag::UTC_TIME, unix_secs: 0 });
    assert_eq!(time(tag::UTC_TIME, "240229000000Z").unwrap().unix_secs, 1_709_164_800);
    assert_eq!(time(tag::UTC_TIME, "491231235959Z").unwrap().unix_secs, 2_524_607_999);
    assert_eq!(time(tag::UTC_TIME, "500101000000Z").unwrap().unix_secs, -631_152_000);
    assert_eq!(time(tag::GENERALIZED_TIME, "20300101000000Z").unwrap().unix_secs, 1_893_456_000);
    for bad in [
        "230229000000Z",
        "241301000000Z",
        "240431000000Z",
        "240101240000Z",
        "240101006000Z",
        "240101000060Z",
        "2401010000Z",
        "240101000000",
        "240101000000+0000",
        "24010100000aZ",
        "24010100000.Z",
        "20240101000000Z",
    ] {
        assert!(time(tag::UTC_TIME, bad).is_err(), "{bad}");
    }
    assert!(time(tag::GENERALIZED_TIME, "19000229000000Z").is_err());
    assert!(time(tag::GENERALIZED_TIME, "20000229000000Z").is_ok());
    assert!(time(tag::GENERALIZED_TIME, "20240101000000.5Z").is_err());
    assert!(time(tag::OCTET_STRING, "700101000000Z").is_err());
    assert!(Reader::new(&[0x17, 0x01, 0xFF]).time().is_err());

    assert_eq!(x509_time(0).unwrap(), tlv(tag::UTC_TIME, b"700101000000Z"));
    assert_eq!(x509_time(2_524_607_999).unwrap(), tlv(tag::UTC_TIME, b"491231235959Z"));
    assert_eq!(x509_time(2_524_608_000).unwrap(), tlv(tag::GENERALIZED_TIME, b"20500101000000Z"));
    assert_eq!(x509_time(-631_152_001).unwrap_err().reason, "time out of range");
    assert_eq!(x509_time(253_402_300_800).unwrap_err().reason, "time out of range");
    assert_eq!(generalized_time(0).unwrap(), tlv(tag::GENERALIZED_TIME, b"19700101000000Z"));
    assert_eq!(generalized_time(1_709_164_800).unwrap(), tlv(tag::GENERALIZED_TIME, b"20240229000000Z"));
    assert_eq!(generalized_time(253_402_300_799).unwrap(), tlv(tag::GENERALIZED_TIME, b"99991231235959Z"));
    assert!(generalized_time(253_402_300_800).is_err());
    assert!(generalized_time(i64::MIN).is_err());
    assert!(generalized_time(i64::MAX).is_err());
}

#[test]
fn ecdsa_signatures() {
    let mut raw = [0u8; 64];
    raw[0] = 0x80;
    raw[63] = 0x01;
    let der = ecdsa_signature(&raw).unwrap();
    let mut r = Reader::new(&der);
    let mut sig = r.sequence("sig").unwrap();
    r.finish("after").unwrap();
    let r_int = sig.integer("r").unwrap();
    assert_eq!(r_int.len(), 33);
    assert_eq!(r_int.first(), Some(&0));
    assert_eq!(sig.unsigned("s").unwrap(), [1]);
    sig.finish("after s").unwrap();
    assert!(ecdsa_signature(&[]).is_err());
    assert!(ecdsa_signature(&[1, 2, 3]).is_err());
    assert_eq!(ecdsa_signature(&[0, 0]).unwrap(), vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
}

#[test]
fn errors_display_their_reason() {
    assert_eq!(DerError::new("non-minimal DER length").to_string(), "non-minimal DER length");
}

fn low_tag() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("low tag number", |t| t & 0x1F != 0x1F)
}

proptest! {
    #[test]
    fn tlv_round_trips(t in low_tag(), content in proptest::collection::vec(any::<u8>(), 0..600)) {
        let der = tlv(t, &content);
        let read = read_one(&der).unwrap();
        prop_assert_eq!(read.tag, t);
        prop_assert_eq!(read.content, content.as_slice());
        prop_assert_eq!(read.encoding, der.as_slice());
    }

    #[test]
    fn nested_round_trips(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..6)) {
        let encoded: Vec<Vec<u8>> = parts.iter().map(|p| tlv(tag::OCTET_STRING, p)).collect();
        let der = seq(&encoded.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let mut outer = Reader::new(&der);
        let mut r = outer.sequence("seq").unwrap();
        outer.finish("after").unwrap();
        for p in &parts {
            prop_assert_eq!(r.octet_string("item").unwrap(), p.as_slice());
        }
        prop_assert!(r.is_empty());
    }

    #[test]
    fn unsigned_round_trips(magnitude in proptest::collection::vec(any::<u8>(), 0..40)) {
        let der = uint(&magnitude);
        let minimal: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
        let mut r = Reader::new(&der);
        prop_assert_eq!(r.clone().integer("n").is_ok(), true);
        prop_assert_eq!(r.unsigned("n").unwrap(), minimal.as_slice());
        prop_assert!(r.is_empty());
    }

    #[test]
    fn oid_round_trips(
        first in 0u128..3,
        second in any::<u128>(),
        rest in proptest::collection::vec(any::<u128>(), 0..8),
    ) {
        let second = if first < 2 { second % 40 } else { second % (u128::MAX - 80) };
        let mut arcs = vec![first, second];
        arcs.extend(rest);
        let der = oid(&arcs).unwrap();
        let mut r = Reader::new(&der);
        let content = r.oid("oid").unwrap();
        let dotted = arcs.iter().map(u128::to_string).collect::<Vec<_>>().join(".");
        prop_assert_eq!(oid_to_string(content).unwrap(), dotted);
    }

    #[test]
    fn times_round_trip(secs in -631_152_000i64..253_402_300_800) {
        let der = x509_time(secs).unwrap();
        let t = Reader::new(&der).time().unwrap();
        prop_assert_eq!(t.unix_secs, secs);
        prop_assert_eq!(t.tag == tag::UTC_TIME, secs < 2_524_608_000);
        let g = generalized_time(secs).unwrap();
        prop_assert_eq!(Reader::new(&g).time().unwrap(), Time { tag: tag::GENERALIZED_TIME, unix_secs: secs });
    }

    #[test]
    fn ecdsa_round_trips(raw in proptest::collection::vec(any::<u8>(), 64)) {
        let der = ecdsa_signature(&raw).unwrap();
        let mut r = Reader::new(&der);
        let mut sig = r.sequence("sig").unwrap();
        let strip = |h: &[u8]| h.iter().copied().skip_while(|b| *b == 0).collect::<Vec<u8>>();
        let (r_want, s_want) = (strip(&raw[..32]), strip(&raw[32..]));
        prop_assert_eq!(sig.unsigned("r").unwrap(), r_want.as_slice());
        prop_assert_eq!(sig.unsigned("s").unwrap(), s_want.as_slice());
        prop_assert!(sig.is_empty() && r.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut r = Reader::new(&bytes);
        while let Ok(t) = r.read() {
            let _ = oid_to_string(t.content);
            let _ = Reader::new(t.content).time();
        }
    }
}
